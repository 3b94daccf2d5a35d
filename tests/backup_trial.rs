//! Regression tests for defects found in a new user's trial of `[backup]`, one test
//! per defect, named after it. The binary runs with `--root` a temp dir.
#![allow(dead_code)]
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

#[path = "support/backup_host.rs"]
mod backup_host;
use backup_host::{is_root, Host, Run, PG_UID};

const RESTIC_PROFILE: &str = r#"[backup]
require_encryption = true
[[backup.restic]]
env_file = "/etc/restic/odoo.env"
units = ["restic-odoo.service"]
"#;

fn restic_host(unit: &str) -> Host {
    let h = Host::new();
    h.write(
        "/etc/restic/odoo.env",
        "RESTIC_REPOSITORY=/srv/restic\nRESTIC_PASSWORD_FILE=/etc/restic/odoo.pass\n",
        0o600,
    );
    h.write("/etc/restic/odoo.pass", "pw\n", 0o600);
    h.write("/etc/systemd/system/restic-odoo.service", unit, 0o644);
    h
}

#[test]
fn two_secrets_on_one_unit_line_are_two_findings_not_one() {
    let h = restic_host("[Service]\nEnvironment=RESTIC_PASSWORD=aaa-trial-1 AWS_SECRET_ACCESS_KEY=bbb-trial-2\nExecStart=/usr/bin/restic backup /srv\n");
    let prof = h.profile(RESTIC_PROFILE);
    let check = h.harden(&["check", "--profile", &prof]);
    assert_eq!(check.code, 2, "{}", check.out);
    assert!(check.out.contains("RESTIC_PASSWORD is set with Environment="), "{}", check.out);
    assert!(check.out.contains("AWS_SECRET_ACCESS_KEY is set with Environment="), "{}", check.out);
    assert!(!check.out.contains("aaa-trial-1") && !check.out.contains("bbb-trial-2"), "{}", check.out);
}

#[test]
fn systemd_drop_ins_of_listed_units_are_read() {
    let h = restic_host("[Service]\nEnvironmentFile=/etc/restic/odoo.env\nExecStart=/usr/bin/restic backup /srv\n");
    h.write(
        "/etc/systemd/system/restic-odoo.service.d/override.conf",
        "[Service]\nEnvironment=RESTIC_PASSWORD=dropin-trial-3\n",
        0o644,
    );
    let prof = h.profile(RESTIC_PROFILE);
    let plan = h.harden(&["plan", "--profile", &prof]);
    assert_eq!(plan.code, 2, "{}", plan.out);
    assert!(plan.out.contains("restic-odoo.service.d/override.conf:2"), "{}", plan.out);
    assert!(plan.out.contains("RESTIC_PASSWORD is set with Environment="), "{}", plan.out);
    assert!(plan.out.contains("chmod 0600 /etc/systemd/system/restic-odoo.service.d/override.conf"), "{}", plan.out);
    assert!(!plan.out.contains("dropin-trial-3"), "{}", plan.out);
    let a = h.harden(&["apply", "--yes", "--profile", &prof]);
    assert_eq!(a.code, 0, "{}", a.out);
    assert_eq!(h.mode("/etc/systemd/system/restic-odoo.service.d/override.conf").0, 0o600);
    // the unit itself holds no secret: left alone
    assert_eq!(h.mode("/etc/systemd/system/restic-odoo.service").0, 0o644);
}

const PG_PROFILE: &str = r#"[backup]
require_encryption = true
[[backup.pgbackrest]]
config = "/etc/pgbackrest/pgbackrest.conf"
cipher = "aes-256-cbc"
"#;

#[test]
fn a_fifo_or_huge_file_is_refused_instead_of_hanging() {
    let h = Host::new();
    h.write("/etc/pgbackrest/pgbackrest.conf", "[global]\nrepo1-path=/srv/pgbr\n", 0o640);
    fs::create_dir_all(h.host("/etc/pgbackrest/conf.d")).unwrap();
    nix::unistd::mkfifo(&h.host("/etc/pgbackrest/conf.d/fifo.conf"), nix::sys::stat::Mode::from_bits_truncate(0o600))
        .unwrap();
    let prof = h.profile(PG_PROFILE);
    let t = std::time::Instant::now();
    let plan = h.harden(&["plan", "--profile", &prof]);
    assert!(t.elapsed() < std::time::Duration::from_secs(20));
    assert_eq!(plan.code, 1, "{}", plan.out);
    assert!(
        plan.out.contains("/etc/pgbackrest/conf.d/fifo.conf") && plan.out.contains("not a regular file"),
        "{}",
        plan.out
    );
    fs::remove_file(h.host("/etc/pgbackrest/conf.d/fifo.conf")).unwrap();
    // a sparse 17 MiB file is refused, not read into memory
    let big = fs::File::create(h.host("/etc/pgbackrest/conf.d/big.conf")).unwrap();
    big.set_len(17 << 20).unwrap();
    let plan = h.harden(&["plan", "--profile", &prof]);
    assert_eq!(plan.code, 1, "{}", plan.out);
    assert!(plan.out.contains("big.conf") && plan.out.contains("larger than 16 MiB"), "{}", plan.out);
}

#[test]
fn cipher_pass_missing_stays_a_finding_after_apply() {
    let h = Host::new();
    let conf = "[global]\nrepo1-path=/srv/pgbr\n\n[main]\npg1-path=/d\n";
    h.write("/etc/pgbackrest/pgbackrest.conf", conf, 0o640);
    let prof = h.profile(PG_PROFILE);
    let check = h.harden(&["check", "--profile", &prof]);
    assert_eq!(check.code, 2, "{}", check.out);
    assert!(check.out.contains("repo1-cipher-pass is not set"), "{}", check.out);
    assert!(!check.out.contains("(no stanza yet)"), "no cipher line without a pass: {}", check.out);
    let a = h.harden(&["apply", "--yes", "--profile", &prof]);
    assert_eq!(a.code, 0, "{}", a.out);
    // the cipher line waits for the pass, so the finding is the same after apply
    assert_eq!(h.read("/etc/pgbackrest/pgbackrest.conf"), conf);
    let again = h.harden(&["check", "--profile", &prof]);
    assert_eq!(again.code, 2, "{}", again.out);
    assert!(again.out.contains("repo1-cipher-pass is not set"), "{}", again.out);
}

#[test]
fn a_partial_apply_failure_reports_what_was_already_changed() {
    let h = Host::new();
    for d in ["a", "b"] {
        h.write(&format!("/etc/{d}/pgbackrest.conf"), "[global]\nrepo1-path=/srv/pgbr\nrepo1-cipher-pass=pp\n", 0o600);
    }
    let prof = h.profile(
        "[backup]\nsecret_mode = \"0600\"\n[[backup.pgbackrest]]\nconfig = \"/etc/a/pgbackrest.conf\"\nowner = \"root\"\ncipher = \"aes-256-cbc\"\n[[backup.pgbackrest]]\nconfig = \"/etc/b/pgbackrest.conf\"\nowner = \"root\"\ncipher = \"aes-256-cbc\"\n",
    );
    let prof = harden::profile::load(Path::new(&prof)).unwrap();
    let sys = harden::system::System::real(h.root());
    let plan = harden::engine::plan(&sys, &prof).unwrap();
    // the second write fails: its temporary file name is taken
    h.write(&format!("/etc/b/.pgbackrest.conf.harden-{}", std::process::id()), "", 0o600);
    let opts = harden::engine::ApplyOptions { audit: None, allow_lockout: false, force: false, saved: true };
    let report = harden::engine::apply(&sys, &plan, &prof, &opts).unwrap();
    let backup: Vec<_> = report.resources.iter().filter(|r| r.resource == "backup").collect();
    assert_eq!(backup.len(), 2, "{report:?}");
    // the successful part: changed, applied, not failed, with its backup copy
    assert!(backup[0].failed.is_none(), "{report:?}");
    assert_eq!(backup[0].changed, ["set repo1-cipher-type=aes-256-cbc in /etc/a/pgbackrest.conf (no stanza yet)"]);
    assert_eq!(backup[0].applied.len(), 1);
    assert!(backup[0].backup.as_deref().is_some_and(|b| b.contains("/var/backups/harden/")), "{report:?}");
    // the rest: failed, and the message says what was already changed and where the copy is
    let f = backup[1].failed.as_deref().unwrap();
    assert!(f.contains("already changed before the failure: set repo1-cipher-type=aes-256-cbc in /etc/a/"), "{f}");
    assert!(f.contains("previous files saved in"), "{f}");
    assert_eq!(backup[1].applied.len(), 1);
    assert!(backup[1].applied[0].summary.contains("/etc/b/"), "{report:?}");
    assert!(h.read("/etc/a/pgbackrest.conf").contains("repo1-cipher-type=aes-256-cbc"));
    assert!(!h.read("/etc/b/pgbackrest.conf").contains("cipher-type"));
}

impl Host {
    /// The binary as an unprivileged user (nobody), for permission errors root never sees.
    fn harden_as_nobody(&self, args: &[&str]) -> Run {
        use std::os::unix::process::CommandExt;
        let out = Command::new(env!("CARGO_BIN_EXE_harden"))
            .arg("--root")
            .arg(self.root())
            .args(args)
            .env("NO_COLOR", "1")
            .uid(65534)
            .gid(65534)
            .output()
            .unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            out: format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        }
    }
}

#[test]
fn permission_errors_are_reported_as_permission_errors() {
    if !is_root() {
        eprintln!("SKIP: needs root to run harden as nobody");
        return;
    }
    let h = Host::new();
    let prof_path = h.root().join("profile.toml");
    // 1. an unreadable directory above pgbackrest.conf is not "does not exist"
    h.write("/etc/pgbackrest/pgbackrest.conf", "[global]\nrepo1-path=/srv/pgbr\n", 0o644);
    fs::set_permissions(h.host("/etc/pgbackrest"), fs::Permissions::from_mode(0o700)).unwrap();
    let prof = h.profile(PG_PROFILE);
    fs::set_permissions(&prof_path, fs::Permissions::from_mode(0o644)).unwrap();
    let r = h.harden_as_nobody(&["check", "--profile", &prof]);
    assert_eq!(r.code, 1, "{}", r.out);
    assert!(!r.out.contains("does not exist on this host"), "{}", r.out);
    assert!(r.out.contains("/etc/pgbackrest/pgbackrest.conf") && r.out.contains("run harden as root"), "{}", r.out);
    // 2. an unreadable borg repository is a finding, not an "actual state unknown" warning
    h.write(
        "/etc/borgmatic/config.yaml",
        "repositories:\n    - path: /srv/borg\nencryption_passcommand: cat /etc/borgmatic/pw\n",
        0o644,
    );
    h.write("/etc/borgmatic/pw", "x\n", 0o644);
    h.write("/srv/borg/config", "[repository]\nversion = 1\n", 0o600);
    let prof = h.profile(
        "[backup]\nrequire_encryption = true\n[[backup.borgmatic]]\nconfig = \"/etc/borgmatic/config.yaml\"\n",
    );
    fs::set_permissions(&prof_path, fs::Permissions::from_mode(0o644)).unwrap();
    let r = h.harden_as_nobody(&["check", "--profile", &prof]);
    assert_eq!(r.code, 2, "{}", r.out);
    assert!(r.out.contains("unreadable by harden") && r.out.contains("finding"), "{}", r.out);
    assert!(!r.out.contains("actual state unknown"), "{}", r.out);
    // 3. an unreadable /etc/passwd is an error, not "user not in /etc/passwd" findings
    fs::set_permissions(h.host("/etc/passwd"), fs::Permissions::from_mode(0o600)).unwrap();
    let r = h.harden_as_nobody(&["check", "--profile", &prof]);
    assert_eq!(r.code, 1, "{}", r.out);
    assert!(r.out.contains("/etc/passwd") && r.out.contains("run harden as root"), "{}", r.out);
}

#[test]
fn cipher_policy_is_enforced_on_an_existing_plaintext_stanza() {
    let h = Host::new();
    let conf = "[global]\nrepo1-path=/srv/pgbr\n\n[main]\npg1-path=/d\n";
    h.write("/etc/pgbackrest/pgbackrest.conf", conf, 0o640);
    h.write("/srv/pgbr/backup/main/backup.info", "[backrest]\nbackrest-format=5\n", 0o640);
    h.write("/srv/pgbr/archive/main/archive.info", "[backrest]\nbackrest-format=5\n", 0o640);
    // require_encryption off: the plain repo alone is only a warning, but cipher is a policy
    let prof = h.profile(
        "[backup]\n[[backup.pgbackrest]]\nconfig = \"/etc/pgbackrest/pgbackrest.conf\"\ncipher = \"aes-256-cbc\"\n",
    );
    let check = h.harden(&["check", "--profile", &prof]);
    assert_eq!(check.code, 2, "{}", check.out);
    assert!(check.out.contains("repo1 already holds a stanza without a cipher"), "{}", check.out);
    assert!(check.out.contains("migrate: add a new repoN (e.g. repo2)"), "{}", check.out);
    let a = h.harden(&["apply", "--yes", "--profile", &prof]);
    assert_eq!(a.code, 0, "{}", a.out);
    assert_eq!(h.read("/etc/pgbackrest/pgbackrest.conf"), conf, "an existing stanza's config gets no cipher");
}

#[test]
fn group_of_a_0640_pgbackrest_secret_with_other_members_is_a_finding() {
    let h = Host::new();
    h.write(
        "/etc/passwd",
        &format!("root:x:0:0::/root:/bin/sh\npostgres:x:{PG_UID}:{PG_UID}::/var/lib/postgresql:/bin/sh\nalice:x:4200:4200::/home/alice:/bin/sh\n"),
        0o644,
    );
    h.write("/etc/group", &format!("root:x:0:\npostgres:x:{PG_UID}:alice\n"), 0o644);
    h.write(
        "/etc/pgbackrest/pgbackrest.conf",
        "[global]\nrepo1-path=/srv/pgbr\nrepo1-cipher-type=aes-256-cbc\nrepo1-cipher-pass=group-trial-pass\n",
        0o640,
    );
    std::os::unix::fs::chown(h.host("/etc/pgbackrest/pgbackrest.conf"), Some(PG_UID), Some(PG_UID)).unwrap();
    let prof = h.profile(PG_PROFILE);
    let check = h.harden(&["check", "--profile", &prof]);
    assert_eq!(check.code, 2, "{}", check.out);
    assert!(check.out.contains("is readable by group postgres, which has other members: alice"), "{}", check.out);
    assert!(!check.out.contains("group-trial-pass"), "{}", check.out);
    // alone in the group: no finding
    h.write("/etc/group", &format!("root:x:0:\npostgres:x:{PG_UID}:\n"), 0o644);
    let check = h.harden(&["check", "--profile", &prof]);
    assert!(!check.out.contains("readable by group"), "{}", check.out);
}

#[test]
fn owner_remedy_names_the_profile_key_owner() {
    let h = restic_host("[Service]\nExecStart=/usr/bin/restic backup /srv\n");
    let prof = h.profile("[backup]\n[[backup.restic]]\nenv_file = \"/etc/restic/odoo.env\"\nowner = \"nosuchuser\"\n");
    let check = h.harden(&["check", "--profile", &prof]);
    assert!(check.out.contains("set `owner` of this entry"), "{}", check.out);
    assert!(!check.out.contains("set run_as"), "{}", check.out);
}

#[test]
fn empty_allowed_modes_and_a_world_open_secret_mode_are_profile_errors() {
    let h = Host::new();
    h.write("/etc/borgmatic/config.yaml", "repositories:\n    - path: /srv/borg\n", 0o600);
    for (prof, want, line) in [
        (
            "[backup]\n[[backup.borgmatic]]\nconfig = \"/etc/borgmatic/config.yaml\"\nallowed_modes = []\n",
            "allowed_modes is empty",
            ":4:",
        ),
        (
            "[backup]\nsecret_mode = \"0777\"\n[[backup.borgmatic]]\nconfig = \"/etc/borgmatic/config.yaml\"\n",
            "secret_mode '0777'",
            ":2:",
        ),
        (
            "[backup]\nsecret_mode = \"0604\"\n[[backup.borgmatic]]\nconfig = \"/etc/borgmatic/config.yaml\"\n",
            "secret_mode '0604'",
            ":2:",
        ),
    ] {
        let p = h.profile(prof);
        let r = h.harden(&["check", "--profile", &p]);
        assert_eq!(r.code, 1, "{}", r.out);
        assert!(r.out.contains(want) && r.out.contains(&format!("profile.toml{line}")), "{}", r.out);
    }
}

#[test]
fn restic_password_command_echo_in_an_env_file_is_an_inline_literal() {
    let h = restic_host("[Service]\nEnvironmentFile=/etc/restic/odoo.env\nExecStart=/usr/bin/restic backup /srv\n");
    h.write(
        "/etc/restic/odoo.env",
        "RESTIC_REPOSITORY=/srv/restic\nRESTIC_PASSWORD_COMMAND='echo cmd-trial-5'\n",
        0o600,
    );
    let prof = h.profile(RESTIC_PROFILE);
    let check = h.harden(&["check", "--profile", &prof]);
    assert_eq!(check.code, 2, "{}", check.out);
    assert!(check.out.contains("RESTIC_PASSWORD_COMMAND is written inline"), "{}", check.out);
    assert!(!check.out.contains("cmd-trial-5"), "{}", check.out);
}

#[test]
fn a_token_in_a_repository_url_is_redacted() {
    let h = Host::new();
    h.write("/etc/restic/odoo.env", "RESTIC_REPOSITORY=rest:https://backup.example/r?token=tok-trial-6\nRESTIC_PASSWORD_FILE=/etc/restic/odoo.pass\n", 0o600);
    h.write("/etc/restic/odoo.pass", "pw\n", 0o600);
    let prof =
        h.profile("[backup]\nrequire_encryption = true\n[[backup.restic]]\nenv_file = \"/etc/restic/odoo.env\"\n");
    for args in [
        &["check", "-vv", "--profile", &prof][..],
        &["check", "--format", "json", "--profile", &prof][..],
        &["show", "-v"][..],
    ] {
        let r = h.harden(args);
        assert!(!r.out.contains("tok-trial-6"), "{args:?}: {}", r.out);
    }
}

#[test]
fn a_missing_unit_is_a_finding_like_a_missing_config() {
    let h = Host::new();
    h.write(
        "/etc/restic/odoo.env",
        "RESTIC_REPOSITORY=/srv/restic\nRESTIC_PASSWORD_FILE=/etc/restic/odoo.pass\n",
        0o600,
    );
    h.write("/etc/restic/odoo.pass", "pw\n", 0o600);
    let prof = h.profile(RESTIC_PROFILE);
    let check = h.harden(&["check", "--profile", &prof]);
    assert_eq!(check.code, 2, "{}", check.out);
    assert!(
        check.out.contains("unit /etc/systemd/system/restic-odoo.service does not exist on this host"),
        "{}",
        check.out
    );
}

#[test]
fn two_unencrypted_borg_repositories_in_one_config_are_two_findings() {
    if Command::new("borg").arg("--version").output().is_err() {
        eprintln!("SKIP: borg is not installed");
        return;
    }
    let h = Host::new();
    fs::create_dir_all(h.host("/srv")).unwrap();
    for r in ["/srv/borg1", "/srv/borg2"] {
        let st = Command::new("borg")
            .args(["init", "-e", "none"])
            .arg(h.host(r))
            .env("BORG_BASE_DIR", h.host("/root"))
            .env("HOME", h.host("/root"))
            .output()
            .unwrap();
        assert!(st.status.success(), "borg init: {}", String::from_utf8_lossy(&st.stderr));
    }
    h.write(
        "/etc/borgmatic/config.yaml",
        "location:\n    repositories:\n        - /srv/borg1\n        - /srv/borg2\nstorage:\n    encryption_passphrase: \"borg-trial-7\"\n",
        0o600,
    );
    h.write("/etc/borgmatic/pass", "x\n", 0o600);
    let prof = h.profile(
        "[backup]\nrequire_encryption = true\n[[backup.borgmatic]]\nconfig = \"/etc/borgmatic/config.yaml\"\n",
    );
    let check = h.harden(&["check", "--format", "json", "--profile", &prof]);
    assert_eq!(check.code, 2, "{}", check.out);
    let n = check.out.matches("\"id\": \"backup.repo-not-encrypted\"").count();
    assert_eq!(n, 2, "one finding per repository: {}", check.out);
    assert!(!check.out.contains("borg-trial-7"), "{}", check.out);
}

#[test]
fn two_plaintext_pgbackrest_stanzas_on_one_repo_are_two_findings() {
    let h = Host::new();
    h.write(
        "/etc/pgbackrest/pgbackrest.conf",
        "[global]\nrepo1-path=/srv/pgbr\n\n[main]\npg1-path=/d1\n\n[other]\npg1-path=/d2\n",
        0o640,
    );
    for s in ["main", "other"] {
        h.write(&format!("/srv/pgbr/backup/{s}/backup.info"), "[backrest]\nbackrest-format=5\n", 0o640);
        h.write(&format!("/srv/pgbr/archive/{s}/archive.info"), "[backrest]\nbackrest-format=5\n", 0o640);
    }
    let prof = h.profile(
        "[backup]\nrequire_encryption = true\n[[backup.pgbackrest]]\nconfig = \"/etc/pgbackrest/pgbackrest.conf\"\n",
    );
    let check = h.harden(&["check", "--format", "json", "--profile", &prof]);
    assert_eq!(check.code, 2, "{}", check.out);
    assert_eq!(check.out.matches("\"id\": \"backup.repo-not-encrypted\"").count(), 2, "{}", check.out);
    assert!(check.out.contains("(stanza main)") && check.out.contains("(stanza other)"), "{}", check.out);
}
