//! Real repositories made by the installed tools in temp dirs, classified by reading
//! their files only (no passphrase, no tool process in the probe).
use harden::backup::fsroot::Root;
use harden::backup::model::{Engine, RepoLocation};
use harden::backup::probe::{probe, Actual};
use std::path::Path;
use std::process::Command;

/// Whether the program can be started: `restic` and `pgbackrest` have no `--version`
/// (it exits 1), so a version flag would skip their tests on hosts that have them.
fn have(tool: &str) -> bool {
    Command::new(tool).arg("version").output().is_ok()
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("spawn");
    assert!(out.status.success(), "{:?} failed: {}", cmd, String::from_utf8_lossy(&out.stderr));
}

fn local(p: &str) -> RepoLocation {
    RepoLocation::Local { path: p.into() }
}

const MODES: &[(&str, &str)] = &[
    ("none", "not-encrypted"),
    ("authenticated", "not-encrypted"),
    ("authenticated-blake2", "not-encrypted"),
    ("repokey", "encrypted"),
    ("repokey-blake2", "encrypted"),
    ("keyfile", "encrypted"),
    ("keyfile-blake2", "encrypted"),
];

#[test]
fn borg_repositories_in_all_seven_modes() {
    if !have("borg") {
        println!("SKIP: borg not installed");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let home = t.path().join("home");
    let src = t.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("a.txt"), "some data").unwrap();
    let root = Root::new(t.path());
    for (i, (mode, want)) in MODES.iter().enumerate() {
        let repo = t.path().join("repos").join(mode);
        let borg = |args: &[&str]| {
            let mut c = Command::new("borg");
            c.args(args)
                .env("BORG_PASSPHRASE", "test-only-passphrase")
                .env("HOME", &home)
                .env("BORG_BASE_DIR", &home)
                .env("BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK", "yes")
                .stdin(std::process::Stdio::null());
            c
        };
        run(&mut borg(&["init", &format!("--encryption={mode}"), "--make-parent-dirs", repo.to_str().unwrap()]));
        // every other repo gets an archive, so both a fresh and a rewritten manifest are read
        if i % 2 == 0 {
            run(borg(&["create", &format!("{}::a1", repo.display()), src.to_str().unwrap()]).current_dir(t.path()));
        }
        let got = probe(&root, Engine::Borg, &local(&format!("/repos/{mode}")), &[]);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].mode.as_deref(), Some(*mode), "{mode}: {:?}", got[0].state);
        assert_eq!(got[0].state.summary(), *want, "{mode}");
        // the same repo seen as restic is not mistaken for one
        let as_restic = probe(&root, Engine::Restic, &local(&format!("/repos/{mode}")), &[]);
        assert_eq!(as_restic[0].state.summary(), "unknown", "{mode} as restic");
    }
}

#[test]
fn restic_repository_is_recognised_as_encrypted() {
    if !have("restic") {
        println!("SKIP: restic not installed");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let repo = t.path().join("restic");
    run(Command::new("restic")
        .args(["init", "--repo", repo.to_str().unwrap()])
        .env("RESTIC_PASSWORD", "test-only-password")
        .env("HOME", t.path())
        .env("RESTIC_CACHE_DIR", t.path().join("cache"))
        .stdin(std::process::Stdio::null()));
    let root = Root::new(t.path());
    let got = probe(&root, Engine::Restic, &local("/restic"), &[]);
    match &got[0].state {
        Actual::Encrypted { evidence } => assert!(evidence.contains("scrypt"), "{evidence}"),
        other => panic!("restic repo classified {other:?}"),
    }
    // an empty dir is no repository
    std::fs::create_dir(t.path().join("empty")).unwrap();
    assert_eq!(probe(&root, Engine::Restic, &local("/empty"), &[])[0].state.summary(), "unknown");
}

const INITDB: &str = "/usr/lib/postgresql/15/bin/initdb";

/// Run a shell command as the unprivileged `postgres` user, in a private mount namespace
/// with its own world-writable /dev/null (initdb needs one; a shared machine's may have
/// been left 0644). The host's /dev/null is not touched.
fn as_postgres(script: &str) {
    let dev = tempfile::tempdir().unwrap();
    let inner = "mount -t tmpfs tmpfs \"$0\" && mknod -m 666 \"$0/null\" c 1 3 && mount --bind \"$0/null\" /dev/null && exec runuser -u postgres -- sh -c \"$1\"";
    run(Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", inner])
        .arg(dev.path())
        .arg(script));
}

#[test]
fn pgbackrest_plain_and_encrypted_repositories() {
    let is_root =
        std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false);
    if !have("pgbackrest") || !Path::new(INITDB).exists() || !is_root {
        println!("SKIP: pgbackrest, PostgreSQL 15 initdb or root (to run as postgres) missing");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    run(Command::new("chown").args(["postgres:postgres", d.to_str().unwrap()]));
    let conf = format!(
        "[global]\nlog-path={d}/log\nlock-path={d}/lock\nspool-path={d}/spool\nlog-level-console=warn\n\
         repo1-path={d}/repo-plain\nrepo2-path={d}/repo-enc\nrepo2-cipher-type=aes-256-cbc\nrepo2-cipher-pass=test-only-cipher-pass\n\
         [demo]\npg1-path={d}/pgdata\npg1-port=54329\npg1-socket-path={d}\n",
        d = d.display()
    );
    let conf_path = d.join("pgbackrest.conf");
    std::fs::write(&conf_path, conf).unwrap();
    run(Command::new("chown").args(["postgres:postgres", conf_path.to_str().unwrap()]));
    as_postgres(&format!("{INITDB} -D {}/pgdata >/dev/null", d.display()));
    as_postgres(&format!("pgbackrest --config={} --stanza=demo --no-online stanza-create", conf_path.display()));

    // declared (through the loader) and actual, with the temp dir as `/`
    let root = Root::new(d);
    let decl = harden::backup::parse::pgbackrest::load_pgbackrest(&root, Path::new("/pgbackrest.conf"), None).unwrap();
    let summaries: Vec<(&str, &str)> =
        decl.repos.iter().map(|r| (r.name.as_str(), r.encryption.value.summary())).collect();
    assert_eq!(summaries, vec![("repo1", "off"), ("repo2", "on")]);
    let host = Root::new("/");
    let plain = probe(&host, Engine::PgBackRest, &local(&format!("{}/repo-plain", d.display())), &["demo".into()]);
    let enc = probe(&host, Engine::PgBackRest, &local(&format!("{}/repo-enc", d.display())), &["demo".into()]);
    assert_eq!(plain[0].stanza.as_deref(), Some("demo"));
    assert_eq!(plain[0].state.summary(), "not-encrypted", "{:?}", plain[0].state);
    assert_eq!(enc[0].state.summary(), "encrypted", "{:?}", enc[0].state);
    // a stanza that does not exist is unknown, not plain
    let none = probe(&host, Engine::PgBackRest, &local(&format!("{}/repo-enc", d.display())), &["other".into()]);
    assert_eq!(none[0].state.summary(), "unknown");
}

#[test]
fn remote_repositories_are_unknown_with_reason() {
    let root = Root::new("/nonexistent-root");
    for url in ["ssh://u@h/./r", "u@h:/srv/borg", "s3:s3.amazonaws.com/b", "rest:https://u:pw@h/"] {
        let loc = harden::backup::location::classify(url);
        let got = probe(&root, Engine::Restic, &loc, &[]);
        match &got[0].state {
            Actual::Unknown { reason, unreadable } => {
                assert!(!unreadable, "{url}: a remote repository is not a permissions problem");
                assert!(reason.starts_with("remote repository"), "{url}: {reason}");
                assert!(!reason.contains(":pw@"), "password leaked into reason: {reason}");
            }
            other => panic!("{url}: {other:?}"),
        }
    }
}
