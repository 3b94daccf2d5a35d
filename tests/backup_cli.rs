//! The backup resource through the real binary on a temp root: plan, apply (twice),
//! check and show; secrets never in any output; malformed configs change nothing;
//! a real unencrypted borg repository makes `check` exit 2.
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

#[path = "support/backup_host.rs"]
mod backup_host;
use backup_host::{is_root, Host, PG_UID};

/// Values planted in the fake host; none may appear in any output.
const SECRETS: &[&str] = &[
    "restic-file-pw-1a",
    "s3-inline-secret-2b",
    "cipher-inline-pass-3c",
    "borg-inline-pw-4d",
    "unit-env-pw-5e",
    "argv-pw-6f",
    "url-pw-7g",
];

/// Whether the program can be started (pgbackrest has no `--version`, so only spawning counts).
fn has(tool: &str) -> bool {
    Command::new(tool).arg("version").output().is_ok()
}

const PG_CONF: &str = "# pgBackRest\n[global]\nrepo1-path=/srv/pgbr\nrepo1-cipher-pass=cipher-inline-pass-3c\nrepo2-type=s3\nrepo2-s3-bucket=bk\nrepo2-path=/pg\nrepo2-s3-key-secret=s3-inline-secret-2b\nrepo2-cipher-type=aes-256-cbc\n\n[main]\npg1-path=/var/lib/postgresql/15/main\n";

const PROFILE: &str = r#"[backup]
require_encryption = true
secret_mode = "0600"
[[backup.restic]]
env_file = "/etc/restic/odoo.env"
owner = "root"
units = ["restic-odoo.service"]
[[backup.restic]]
env_file = "/etc/restic/rest.env"
[[backup.borgmatic]]
config = "/etc/borgmatic/config.yaml"
allowed_modes = ["repokey-blake2", "keyfile-blake2", "repokey", "keyfile"]
[[backup.pgbackrest]]
config = "/etc/pgbackrest/pgbackrest.conf"
owner = "postgres"
cipher = "aes-256-cbc"
"#;

fn fake_host() -> Host {
    let h = Host::new();
    h.write(
        "/etc/restic/odoo.env",
        "RESTIC_REPOSITORY=/srv/restic\nRESTIC_PASSWORD_FILE=/etc/restic/odoo.pass\n",
        0o644,
    );
    h.write("/etc/restic/odoo.pass", "restic-file-pw-1a\n", 0o644);
    h.write(
        "/etc/restic/rest.env",
        "RESTIC_REPOSITORY=rest:https://bk:url-pw-7g@backup.example:8000/r\nRESTIC_PASSWORD_FILE=/etc/restic/odoo.pass\n",
        0o640,
    );
    h.write(
        "/etc/systemd/system/restic-odoo.service",
        "[Service]\nEnvironmentFile=/etc/restic/odoo.env\nEnvironment=RESTIC_PASSWORD=unit-env-pw-5e\nExecStart=/usr/bin/restic backup --password-command 'echo argv-pw-6f' /srv\n",
        0o644,
    );
    h.write(
        "/etc/borgmatic/config.yaml",
        "location:\n    repositories:\n        - /srv/borg\nstorage:\n    encryption_passphrase: \"borg-inline-pw-4d\"\n",
        0o644,
    );
    h.write("/etc/pgbackrest/pgbackrest.conf", PG_CONF, 0o644);
    h
}

#[test]
fn apply_fixes_permissions_and_cipher_then_changes_nothing() {
    let h = fake_host();
    let prof = h.profile(PROFILE);
    let plan = h.harden(&["plan", "--profile", &prof]);
    assert_eq!(plan.code, 2, "{}", plan.out);
    for want in [
        "chmod 0600 /etc/restic/odoo.env (now 0644)",
        "chmod 0600 /etc/restic/odoo.pass (now 0644)",
        "chmod 0600 /etc/restic/rest.env (now 0640)",
        "chmod 0600 /etc/borgmatic/config.yaml (now 0644)",
        "chown postgres /etc/pgbackrest/pgbackrest.conf",
        "set repo1-cipher-type=aes-256-cbc in /etc/pgbackrest/pgbackrest.conf (no stanza yet)",
        "+repo1-cipher-type=aes-256-cbc",
        "repo1-cipher-pass=<redacted>",
        "encryption_passphrase is written inline",
    ] {
        assert!(plan.out.contains(want), "plan lacks {want:?}:\n{}", plan.out);
    }
    // repo1 has its pass in the file; repo2 is remote and already encrypted: no pass finding
    assert!(!plan.out.contains("cipher-pass is not set"), "{}", plan.out);
    // a unit holding a secret inline is tightened too (its content is a finding, not an edit)
    assert!(plan.out.contains("chmod 0600 /etc/systemd/system/restic-odoo.service"), "{}", plan.out);

    let before_units = h.snapshot();
    let apply = h.harden(&["apply", "--yes", "--profile", &prof]);
    assert_eq!(apply.code, 0, "{}", apply.out);
    assert!(apply.out.contains("backup: applied"), "{}", apply.out);
    assert_eq!(h.mode("/etc/restic/odoo.env"), (0o600, 0));
    assert_eq!(h.mode("/etc/restic/odoo.pass"), (0o600, 0));
    assert_eq!(h.mode("/etc/borgmatic/config.yaml").0, 0o600);
    let (pg_mode, pg_uid) = h.mode("/etc/pgbackrest/pgbackrest.conf");
    assert_eq!(pg_mode, 0o600);
    if is_root() {
        assert_eq!(pg_uid, PG_UID);
    }
    // line-targeted: the original text plus one line
    let want = PG_CONF.replace("repo1-path=/srv/pgbr\n", "repo1-path=/srv/pgbr\nrepo1-cipher-type=aes-256-cbc\n");
    assert_eq!(h.read("/etc/pgbackrest/pgbackrest.conf"), want);
    let unit = "/etc/systemd/system/restic-odoo.service";
    let k = h.host(unit).display().to_string();
    assert_eq!(h.snapshot()[&k].0, before_units[&k].0, "the unit's content must not change");

    let snap = h.snapshot();
    let again = h.harden(&["apply", "--yes", "--profile", &prof]);
    assert_eq!(again.code, 0, "{}", again.out);
    assert!(again.out.contains("No changes."), "{}", again.out);
    assert_eq!(h.snapshot(), snap, "second apply changed files");
    let plan = h.harden(&["plan", "--profile", &prof]);
    assert_eq!(plan.code, 0, "{}", plan.out);
    // what needs a person is still reported
    let check = h.harden(&["check", "--profile", &prof]);
    assert_eq!(check.code, 2, "{}", check.out);
    assert!(check.out.contains("is written inline"), "{}", check.out);
}

#[test]
fn secrets_never_appear_in_any_output() {
    let h = fake_host();
    let prof = h.profile(PROFILE);
    let mut all = String::new();
    let mut run = |args: &[&str]| {
        let r = h.harden(args);
        all += &r.out;
        r
    };
    let p = run(&["plan", "-v", "--profile", &prof]);
    assert!(p.out.contains("<redacted>"), "the diff must show the redacted pass line:\n{}", p.out);
    run(&["plan", "-vv", "--format", "json", "--profile", &prof]);
    run(&["check", "-v", "--profile", &prof]);
    run(&["check", "-v", "--format", "json", "--profile", &prof]);
    let a = run(&["apply", "-v", "--yes", "--profile", &prof]);
    assert_eq!(a.code, 0, "{}", a.out);
    run(&["apply", "-vv", "--yes", "--format", "json", "--profile", &prof]);
    run(&["check", "-vv", "--profile", &prof]);
    let s = run(&["show", "-v"]);
    assert!(s.out.contains("[[backup.pgbackrest]]") && s.out.contains("/etc/restic/odoo.env"), "{}", s.out);
    run(&["show", "-vv", "--format", "json"]);
    assert!(all.len() > 2000, "outputs too short to mean anything:\n{all}");
    for s in SECRETS {
        assert!(!all.contains(s), "secret {s} shown:\n{all}");
    }
}

#[test]
fn malformed_configs_are_errors_with_file_and_line_and_change_nothing() {
    for (file, text, profile, want) in [
        (
            "/etc/borgmatic/config.yaml",
            "location:\n    repositories:\n        - /srv/borg\n    bad: [unclosed\n",
            "[backup]\n[[backup.borgmatic]]\nconfig = \"/etc/borgmatic/config.yaml\"\n",
            "/etc/borgmatic/config.yaml:",
        ),
        (
            "/etc/pgbackrest/pgbackrest.conf",
            "[global]\nrepo1-path=/srv/pgbr\nrepo1-cipher-type\n",
            "[backup]\n[[backup.pgbackrest]]\nconfig = \"/etc/pgbackrest/pgbackrest.conf\"\ncipher = \"aes-256-cbc\"\n",
            "/etc/pgbackrest/pgbackrest.conf:3",
        ),
        (
            "/etc/restic/odoo.env",
            "RESTIC_REPOSITORY=/srv/restic\nRESTIC_PASSWORD_FILE='/etc/restic/pw\n",
            "[backup]\n[[backup.restic]]\nenv_file = \"/etc/restic/odoo.env\"\n",
            "/etc/restic/odoo.env:2",
        ),
    ] {
        let h = Host::new();
        h.write(file, text, 0o644);
        let prof = h.profile(profile);
        let snap = h.snapshot();
        for cmd in ["plan", "check", "apply"] {
            let mut args = vec![cmd, "--profile", &prof];
            if cmd == "apply" {
                args.push("--yes");
            }
            let r = h.harden(&args);
            assert_eq!(r.code, 1, "{cmd} {file}: {}", r.out);
            assert!(r.out.contains(want), "{cmd}: error must name {want}: {}", r.out);
        }
        assert_eq!(h.snapshot(), snap, "{file}: a failed run changed files");
    }
}

fn borg_repo(h: &Host, mode: &str) -> bool {
    if !has("borg") {
        eprintln!("SKIP: borg is not installed; .ci/run installs borgbackup");
        return false;
    }
    fs::create_dir_all(h.host("/srv")).unwrap();
    let st = Command::new("borg")
        .args(["init", "-e", mode])
        .arg(h.host("/srv/borg"))
        .env("BORG_PASSPHRASE", "borg-inline-pw-4d")
        .env("BORG_BASE_DIR", h.host("/root"))
        .env("HOME", h.host("/root"))
        .output()
        .unwrap();
    assert!(st.status.success(), "borg init: {}", String::from_utf8_lossy(&st.stderr));
    true
}

#[test]
fn check_exits_2_on_an_unencrypted_borg_repository() {
    let profile = "[backup]\nrequire_encryption = true\n[[backup.borgmatic]]\nconfig = \"/etc/borgmatic/config.yaml\"\nallowed_modes = [\"repokey-blake2\"]\n";
    let yaml = "location:\n    repositories:\n        - /srv/borg\nstorage:\n    encryption_passcommand: cat /etc/borgmatic/pass\n";
    for (mode, want_code) in [("none", 2), ("repokey-blake2", 0), ("repokey", 2)] {
        let h = Host::new();
        h.write("/etc/borgmatic/config.yaml", yaml, 0o600);
        h.write("/etc/borgmatic/pass", "borg-inline-pw-4d\n", 0o600);
        if !borg_repo(&h, mode) {
            return;
        }
        let prof = h.profile(profile);
        let r = h.harden(&["check", "--profile", &prof]);
        assert_eq!(r.code, want_code, "{mode}: {}", r.out);
        match mode {
            "none" => assert!(r.out.contains("is not encrypted") && r.out.contains("borg init -e"), "{}", r.out),
            "repokey" => assert!(r.out.contains("uses mode repokey, not one of repokey-blake2"), "{}", r.out),
            _ => assert!(r.out.contains("in sync"), "{}", r.out),
        }
        // nothing to change: apply cannot pretend to fix a repository
        let a = h.harden(&["apply", "--yes", "--profile", &prof]);
        assert_eq!(a.code, 0, "{}", a.out);
        assert!(a.out.contains("No changes."), "{}", a.out);
    }
}

#[test]
fn apply_refuses_a_file_changed_since_the_plan() {
    use harden::backup::{apply, plan};
    let h = fake_host();
    let prof = harden::profile::load(Path::new(&h.profile(PROFILE))).unwrap();
    let sys = harden::system::System::real(h.root());
    let p = plan::plan(&sys, prof.backup.as_ref().unwrap()).unwrap();
    // the saved form of a plan (actions included) holds no secret either
    let saved = serde_json::to_string(&harden::engine::plan(&sys, &prof).unwrap()).unwrap();
    assert!(saved.contains("\"kind\":\"backup\"") && saved.contains("base_sha256"), "{saved}");
    for s in SECRETS {
        assert!(!saved.contains(s), "secret {s} in the serialized plan: {saved}");
    }
    let harden::plan::Actions::Backup(a) = &p.actions else { panic!("not a backup plan") };
    // someone tightens one file and edits the config in between
    fs::set_permissions(h.host("/etc/restic/odoo.pass"), fs::Permissions::from_mode(0o640)).unwrap();
    let snap = h.snapshot();
    let e = apply::apply(&sys, a, "t1").unwrap_err().to_string();
    assert!(e.contains("odoo.pass changed since the plan") && e.contains("plan again"), "{e}");
    assert_eq!(h.snapshot(), snap, "a stale plan must change nothing");
    fs::set_permissions(h.host("/etc/restic/odoo.pass"), fs::Permissions::from_mode(0o644)).unwrap();
    h.write("/etc/pgbackrest/pgbackrest.conf", &format!("{PG_CONF}# edited\n"), 0o644);
    let e = apply::apply(&sys, a, "t2").unwrap_err().to_string();
    assert!(e.contains("pgbackrest.conf changed since the plan"), "{e}");
}

const INITDB: &str = "/usr/lib/postgresql/15/bin/initdb";

/// Run a script as postgres in a private mount namespace with a fresh world-writable
/// null device over /dev/null: initdb needs one, and a shared test machine's may have
/// been left 0644. The host's /dev/null is not touched.
fn as_postgres(script: &str) -> std::process::Output {
    let dev = tempfile::tempdir().unwrap();
    let inner = "mount -t tmpfs tmpfs \"$0\" && mknod -m 666 \"$0/null\" c 1 3 && mount --bind \"$0/null\" /dev/null && exec runuser -u postgres -- sh -c \"$1\"";
    Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", inner])
        .arg(dev.path())
        .arg(script)
        .output()
        .unwrap()
}

/// A pgBackRest host in a temp dir whose config names host paths; a link `<dir>` -> `/`
/// inside the root makes those same paths resolve inside the root for harden.
fn pg_host() -> Option<(Host, String)> {
    if !has("pgbackrest") || !Path::new(INITDB).exists() || !is_root() {
        eprintln!("SKIP: pgbackrest, PostgreSQL 15 initdb or root (to run as postgres) missing; .ci/run installs them");
        return None;
    }
    let h = Host::new();
    let d = h.root().display().to_string();
    let link = h.host(&d);
    fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink("/", &link).unwrap();
    let uid = harden::backup::fsroot::Root::new("/").uid_of("postgres").expect("postgres user");
    // the root's passwd must agree with the host's postgres uid, which runs pgbackrest
    h.write(
        "/etc/passwd",
        &format!("root:x:0:0::/root:/bin/sh\npostgres:x:{uid}:{uid}::/var/lib/postgresql:/bin/sh\n"),
        0o644,
    );
    h.write("/etc/group", &format!("root:x:0:\npostgres:x:{uid}:\n"), 0o644);
    let conf = format!(
        "[global]\nlog-path={d}/log\nlock-path={d}/lock\nspool-path={d}/spool\nlog-level-console=warn\nrepo1-path={d}/repo\n\n[demo]\npg1-path={d}/pgdata\npg1-port=54329\npg1-socket-path={d}\n"
    );
    h.write("/etc/pgbackrest/pgbackrest.conf", &conf, 0o640);
    fs::create_dir_all(h.host("/etc/pgbackrest/conf.d")).unwrap();
    let st = Command::new("chown").args(["-R", "postgres:postgres", &d]).status().unwrap();
    assert!(st.success());
    let out = as_postgres(&format!("{INITDB} -D {d}/pgdata >/dev/null"));
    assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
    Some((h, d))
}

fn stanza_create(d: &str) -> std::process::Output {
    as_postgres(&format!(
        "pgbackrest --config={d}/etc/pgbackrest/pgbackrest.conf --config-include-path={d}/etc/pgbackrest/conf.d --stanza=demo --no-online stanza-create"
    ))
}

const PG_PROFILE: &str = "[backup]\nrequire_encryption = true\nsecret_mode = \"0640\"\n[[backup.pgbackrest]]\nconfig = \"/etc/pgbackrest/pgbackrest.conf\"\nowner = \"postgres\"\ncipher = \"aes-256-cbc\"\n";

#[test]
fn pgbackrest_cipher_set_before_stanza_create_gives_an_encrypted_repo() {
    let Some((h, d)) = pg_host() else { return };
    let prof = h.profile(PG_PROFILE);
    let plan = h.harden(&["check", "--profile", &prof]);
    assert_eq!(plan.code, 2, "{}", plan.out);
    // no pass yet: a finding, and the cipher line waits for the pass
    assert!(!plan.out.contains("(no stanza yet)"), "{}", plan.out);
    assert!(
        plan.out.contains("repo1-cipher-pass is not set") && plan.out.contains("harden never writes one"),
        "{}",
        plan.out
    );
    // the person adds the pass as the finding says; then harden writes the cipher line
    h.write("/etc/pgbackrest/conf.d/repo1-cipher.conf", "[global]\nrepo1-cipher-pass=test-only-pass-8h\n", 0o640);
    Command::new("chown")
        .args(["postgres:postgres", h.host("/etc/pgbackrest/conf.d/repo1-cipher.conf").to_str().unwrap()])
        .status()
        .unwrap();
    let plan = h.harden(&["plan", "--profile", &prof]);
    assert!(plan.out.contains("set repo1-cipher-type=aes-256-cbc"), "{}", plan.out);
    let a = h.harden(&["apply", "--yes", "--profile", &prof]);
    assert_eq!(a.code, 0, "{}", a.out);
    let out = stanza_create(&d);
    assert!(
        out.status.success(),
        "stanza-create: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let info = fs::read(h.host("/repo/backup/demo/backup.info")).unwrap();
    assert!(info.starts_with(b"Salted__"), "the stanza must be encrypted");
    let check = h.harden(&["check", "-v", "--profile", &prof]);
    assert_eq!(check.code, 0, "{}", check.out);
    assert!(!check.out.contains("test-only-pass-8h"), "{}", check.out);
}

#[test]
fn pgbackrest_plain_stanza_is_a_finding_and_the_config_is_left_alone() {
    let Some((h, d)) = pg_host() else { return };
    let out = stanza_create(&d);
    assert!(out.status.success(), "stanza-create: {}", String::from_utf8_lossy(&out.stderr));
    let prof = h.profile(PG_PROFILE);
    let before = h.read("/etc/pgbackrest/pgbackrest.conf");
    let check = h.harden(&["check", "--profile", &prof]);
    assert_eq!(check.code, 2, "{}", check.out);
    assert!(check.out.contains("stanza demo") && check.out.contains("is not encrypted"), "{}", check.out);
    assert!(check.out.contains("add a new repoN"), "the remedy gives the migration: {}", check.out);
    assert!(!check.out.contains("set repo1-cipher-type"), "{}", check.out);
    let a = h.harden(&["apply", "--yes", "--profile", &prof]);
    assert_eq!(a.code, 0, "{}", a.out);
    assert_eq!(h.read("/etc/pgbackrest/pgbackrest.conf"), before, "a plain stanza's config must not get a cipher");
}

#[test]
fn sets_sharing_a_file_combine_modes_and_report_conflicting_owners() {
    let h = Host::new();
    h.write("/etc/restic/a.env", "RESTIC_REPOSITORY=/srv/a\nRESTIC_PASSWORD_FILE=/etc/restic/shared.pass\n", 0o600);
    h.write("/etc/restic/b.env", "RESTIC_REPOSITORY=/srv/b\nRESTIC_PASSWORD_FILE=/etc/restic/shared.pass\n", 0o600);
    h.write("/etc/restic/shared.pass", "restic-file-pw-1a\n", 0o664);
    let prof = h.profile(
        "[backup]\n[[backup.restic]]\nenv_file = \"/etc/restic/a.env\"\n[[backup.restic]]\nenv_file = \"/etc/restic/b.env\"\nowner = \"postgres\"\n",
    );
    let plan = h.harden(&["plan", "--profile", &prof]);
    assert!(plan.out.contains("chmod 0600 /etc/restic/shared.pass (now 0664)"), "{}", plan.out);
    assert!(plan.out.contains("several backup sets want different owners"), "{}", plan.out);
    assert!(!plan.out.contains("/etc/restic/shared.pass (now root)"), "no owner may win silently: {}", plan.out);
    assert!(plan.out.contains("chown postgres /etc/restic/b.env"), "{}", plan.out);
    let a = h.harden(&["apply", "--yes", "--profile", &prof]);
    assert_eq!(a.code, 0, "{}", a.out);
    let again = h.harden(&["apply", "--yes", "--profile", &prof]);
    assert!(again.out.contains("No changes."), "{}", again.out);
    assert_eq!(h.harden(&["check", "--profile", &prof]).code, 2);
}

#[test]
fn show_prints_a_fragment_that_loads_as_a_profile() {
    let h = fake_host();
    h.write(
        "/etc/borgmatic.d/extra.yaml",
        "repositories:\n  - path: /srv/x\nencryption_passcommand: cat /etc/x\n",
        0o600,
    );
    let s = h.harden(&["show"]);
    assert_eq!(s.code, 0, "{}", s.out);
    for want in [
        "env_file = \"/etc/restic/odoo.env\"",
        "units = [\"restic-odoo.service\"]",
        "config = \"/etc/borgmatic/config.yaml\"",
        "config = \"/etc/borgmatic.d/extra.yaml\"",
        "config = \"/etc/pgbackrest/pgbackrest.conf\"",
        "require_encryption = false",
    ] {
        assert!(s.out.contains(want), "show lacks {want:?}:\n{}", s.out);
    }
    let prof = h.profile(&s.out);
    let plan = h.harden(&["plan", "--profile", &prof]);
    assert!(plan.code == 0 || plan.code == 2, "the shown fragment must load: {}", plan.out);
    assert!(plan.out.contains("== backup:"), "{}", plan.out);
    // an empty host shows no [backup] at all
    let empty = Host::new();
    assert!(!empty.harden(&["show"]).out.contains("backup"));
}

#[test]
fn a_config_missing_on_this_host_is_a_finding_not_an_error() {
    let h = Host::new();
    h.write("/etc/restic/a.env", "RESTIC_REPOSITORY=/srv/a\nRESTIC_PASSWORD_FILE=/etc/restic/a.pass\n", 0o644);
    h.write("/etc/restic/a.pass", "restic-file-pw-1a\n", 0o600);
    let prof = h.profile(
        "[backup]\n[[backup.borgmatic]]\nconfig = \"/etc/borgmatic/config.yaml\"\n[[backup.restic]]\nenv_file = \"/etc/restic/a.env\"\n",
    );
    let check = h.harden(&["check", "--profile", &prof]);
    assert_eq!(check.code, 2, "{}", check.out);
    assert!(
        check.out.contains("profile.toml:3:10: /etc/borgmatic/config.yaml does not exist on this host"),
        "{}",
        check.out
    );
    // the other set is still planned
    assert!(check.out.contains("chmod 0600 /etc/restic/a.env"), "{}", check.out);
}

/// Values a corpus file holds in secret-looking keys, found independently of harden's
/// redaction (INI `key=value` and YAML `key: value` lines).
fn corpus_secrets(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for l in text.lines() {
        let l = l.trim().trim_start_matches(['#', ' ']);
        let Some((k, v)) = l.split_once('=').or_else(|| l.split_once(": ")) else { continue };
        let k = k.trim().to_ascii_lowercase();
        let v = v.trim().trim_matches(['"', '\'']);
        let secretish =
            ["pass", "secret", "key"].iter().any(|w| k.contains(w)) && !k.ends_with("-type") && !k.ends_with("command");
        if secretish && v.len() >= 4 && !v.starts_with("${") && !v.starts_with('/') {
            out.push(v.to_string());
        }
    }
    out
}

#[test]
fn corpus_configs_plan_and_apply_without_showing_their_secrets() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/backup");
    if !dir.join("INDEX.md").exists() {
        eprintln!("SKIP: corpus {} missing", dir.display());
        return;
    }
    let mut names: Vec<String> =
        fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    let (mut planned, mut checked) = (0, 0);
    for name in names {
        let (target, profile) = if name.ends_with("pgbackrest.conf") {
            ("/etc/pgbackrest/pgbackrest.conf", "[backup]\nrequire_encryption = true\n[[backup.pgbackrest]]\nconfig = \"/etc/pgbackrest/pgbackrest.conf\"\nowner = \"postgres\"\ncipher = \"aes-256-cbc\"\n")
        } else if name.contains("borgmatic") {
            ("/etc/borgmatic/config.yaml", "[backup]\nrequire_encryption = true\n[[backup.borgmatic]]\nconfig = \"/etc/borgmatic/config.yaml\"\nallowed_modes = [\"repokey-blake2\"]\n")
        } else {
            continue;
        };
        let text = fs::read_to_string(dir.join(&name)).unwrap();
        let secrets = corpus_secrets(&text);
        checked += secrets.len();
        let h = Host::new();
        h.write(target, &text, 0o644);
        let prof = h.profile(profile);
        let mut all = String::new();
        for args in [vec!["plan", "-v"], vec!["check", "-v", "--format", "json"], vec!["apply", "-v", "--yes"]] {
            let mut a = args.clone();
            a.extend(["--profile", prof.as_str()]);
            let r = h.harden(&a);
            assert!(r.code == 0 || (r.code == 2 && args[0] != "apply"), "{name} {args:?}: {}", r.out);
            all += &r.out;
        }
        let again = h.harden(&["apply", "--yes", "--profile", &prof]);
        assert!(again.code == 0 && again.out.contains("No changes."), "{name}: second apply: {}", again.out);
        all += &h.harden(&["show", "-v"]).out;
        for s in &secrets {
            assert!(!all.contains(s.as_str()), "{name}: secret value {s:?} shown:\n{all}");
        }
        assert!(all.contains("== backup:"), "{name}: {all}");
        planned += 1;
    }
    assert!(planned >= 10, "only {planned} corpus configs planned");
    assert!(checked >= 5, "only {checked} secret values found in the corpus to look for");
}

#[test]
fn directories_that_let_others_replace_a_secret_lose_their_write_bits() {
    let h = Host::new();
    h.write("/etc/restic/a.env", "RESTIC_REPOSITORY=/srv/a\nRESTIC_PASSWORD_FILE=/etc/restic/keys/a.pass\n", 0o600);
    h.write("/etc/restic/keys/a.pass", "restic-file-pw-1a\n", 0o600);
    fs::set_permissions(h.host("/etc/restic"), fs::Permissions::from_mode(0o777)).unwrap();
    fs::set_permissions(h.host("/etc/restic/keys"), fs::Permissions::from_mode(0o1777)).unwrap();
    let prof = h.profile("[backup]\n[[backup.restic]]\nenv_file = \"/etc/restic/a.env\"\n");
    let plan = h.harden(&["plan", "--profile", &prof]);
    assert_eq!(plan.code, 2, "{}", plan.out);
    assert!(plan.out.contains("chmod 0775 /etc/restic (now 0777)"), "{}", plan.out);
    // a sticky directory cannot have its files replaced by others: left alone
    assert!(!plan.out.contains("/etc/restic/keys (now"), "{}", plan.out);
    assert!(!plan.out.contains("world-writable"), "the fixable finding became a change: {}", plan.out);
    let mut group_dir = false;
    if is_root() {
        // group-writable by a group the run-as user is not in
        std::os::unix::fs::chown(h.host("/etc/restic/keys"), None, Some(PG_UID)).unwrap();
        fs::set_permissions(h.host("/etc/restic/keys"), fs::Permissions::from_mode(0o775)).unwrap();
        group_dir = true;
    }
    assert_eq!(h.harden(&["apply", "--yes", "--profile", &prof]).code, 0);
    assert_eq!(h.mode("/etc/restic").0, 0o775);
    if group_dir {
        assert_eq!(h.mode("/etc/restic/keys").0, 0o755);
    }
    let again = h.harden(&["apply", "--yes", "--profile", &prof]);
    assert!(again.out.contains("No changes."), "{}", again.out);
    assert_eq!(h.harden(&["check", "--profile", &prof]).code, 0);
}

#[test]
fn a_config_behind_an_absolute_symlink_is_edited_inside_the_root() {
    let h = Host::new();
    // a pass is there (inline), so harden writes the cipher line
    h.write(
        "/etc/pgbackrest/pgbackrest.conf",
        "[global]\nrepo1-path=/srv/pgbr\nrepo1-cipher-pass=link-test-pass\n\n[main]\npg1-path=/d\n",
        0o600,
    );
    // absolute target: on the host it would name the host's own file
    std::os::unix::fs::symlink("/etc/pgbackrest/pgbackrest.conf", h.host("/etc/pgbackrest.conf")).unwrap();
    let prof = h.profile(
        "[backup]\nsecret_mode = \"0600\"\n[[backup.pgbackrest]]\nconfig = \"/etc/pgbackrest.conf\"\nowner = \"root\"\ncipher = \"aes-256-cbc\"\n",
    );
    let a = h.harden(&["apply", "--yes", "--profile", &prof]);
    assert_eq!(a.code, 0, "{}", a.out);
    assert!(a.out.contains("set repo1-cipher-type=aes-256-cbc"), "{}", a.out);
    assert!(fs::symlink_metadata(h.host("/etc/pgbackrest.conf")).unwrap().file_type().is_symlink(), "the link stays");
    assert_eq!(
        h.read("/etc/pgbackrest/pgbackrest.conf"),
        "[global]\nrepo1-path=/srv/pgbr\nrepo1-cipher-type=aes-256-cbc\nrepo1-cipher-pass=link-test-pass\n\n[main]\npg1-path=/d\n"
    );
    assert!(h.harden(&["apply", "--yes", "--profile", &prof]).out.contains("No changes."));
}

#[test]
fn a_borg_keyfile_left_readable_is_tightened() {
    let h = Host::new();
    h.write(
        "/etc/borgmatic/config.yaml",
        "location:\n    repositories:\n        - /srv/borg\nstorage:\n    encryption_passcommand: cat /etc/borgmatic/pass\n",
        0o600,
    );
    h.write("/etc/borgmatic/pass", "borg-inline-pw-4d\n", 0o600);
    if !borg_repo(&h, "keyfile-blake2") {
        return;
    }
    let keys = h.host("/root/.config/borg/keys");
    let key = fs::read_dir(&keys).unwrap().flatten().next().expect("borg wrote a key file").path();
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    let in_root = format!("/root/.config/borg/keys/{}", key.file_name().unwrap().to_string_lossy());
    let prof = h.profile(
        "[backup]\nrequire_encryption = true\n[[backup.borgmatic]]\nconfig = \"/etc/borgmatic/config.yaml\"\nallowed_modes = [\"keyfile-blake2\"]\n",
    );
    let plan = h.harden(&["plan", "--profile", &prof]);
    assert_eq!(plan.code, 2, "{}", plan.out);
    assert!(plan.out.contains(&format!("chmod 0600 {in_root} (now 0644)")), "{}", plan.out);
    assert_eq!(h.harden(&["apply", "--yes", "--profile", &prof]).code, 0);
    assert_eq!(h.mode(&in_root).0, 0o600);
    let check = h.harden(&["check", "--profile", &prof]);
    assert_eq!(check.code, 0, "{}", check.out);
}
