//! End to end over a fake root: declared + actual + findings, redaction, many sets.
use harden::backup::findings::{Check, Finding, Severity};
use harden::backup::fsroot::Root;
use harden::backup::observe::{observe, observe_all, BackupSet, Observation, SetKind};
use std::fs;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Secret values planted in the fake root; none may show up in any output.
const SECRETS: &[&str] = &[
    "hunter2-in-yaml",
    "aws-secret-xyz",
    "unit-secret-abc",
    "argv-secret-def",
    "cipher-secret-ghi",
    "walg-secret-jkl",
    "file-pass-mno",
];
const PG_UID: u32 = 4101;

fn write(root: &Path, p: &str, text: &str, mode: u32) {
    let host = root.join(p.trim_start_matches('/'));
    fs::create_dir_all(host.parent().unwrap()).unwrap();
    fs::write(&host, text).unwrap();
    fs::set_permissions(&host, fs::Permissions::from_mode(mode)).unwrap();
}

fn is_root() -> bool {
    nix::unistd::getuid().is_root()
}

/// Build the fake host. Returns whether a real borg repo was made.
fn fake_host(r: &Path) -> bool {
    fs::set_permissions(r, fs::Permissions::from_mode(0o755)).unwrap();
    write(
        r,
        "/etc/passwd",
        &format!("root:x:0:0::/root:/bin/sh\npostgres:x:{PG_UID}:{PG_UID}::/var/lib/postgresql:/bin/sh\n"),
        0o644,
    );
    write(r, "/etc/group", &format!("root:x:0:\npostgres:x:{PG_UID}:\n"), 0o644);
    write(r, "/etc/borgmatic.d/odoo.yaml", "location:\n    repositories:\n        - /srv/borg/odoo\nstorage:\n    encryption_passphrase: \"hunter2-in-yaml\"\n", 0o644);
    write(r, "/etc/restic/restic.env", "RESTIC_REPOSITORY=/srv/restic\nRESTIC_PASSWORD_FILE=/etc/restic/password\nAWS_SECRET_ACCESS_KEY=aws-secret-xyz\n", 0o644);
    write(r, "/etc/restic/password", "file-pass-mno\n", 0o644);
    write(
        r,
        "/etc/restic/byfile.env",
        "RESTIC_REPOSITORY_FILE=/etc/restic/repo\nRESTIC_PASSWORD_FILE=/etc/restic/password\n",
        0o600,
    );
    write(r, "/etc/restic/repo", "/srv/restic-byfile\n", 0o600);
    write(r, "/etc/restic/rest.env", "RESTIC_REPOSITORY=rest:https://bk:url-secret-pqr@backup.example:8000/r\nRESTIC_PASSWORD_FILE=/etc/restic/password\n", 0o600);
    write(
        r,
        "/etc/systemd/system/restic-backup.service",
        "[Service]\nEnvironmentFile=/etc/restic/restic.env\nEnvironmentFile=-/etc/restic/optional.env\nEnvironmentFile=/etc/restic/required.env\nEnvironment=RESTIC_PASSWORD=unit-secret-abc\nExecStart=/usr/bin/restic backup --password-command 'echo argv-secret-def' /srv\n",
        0o644,
    );
    write(
        r,
        "/etc/pgbackrest/pgbackrest.conf",
        "[global]\nrepo1-path=/var/lib/pgbackrest\n\n[main]\npg1-path=/var/lib/postgresql/15/main\n",
        0o640,
    );
    write(
        r,
        "/etc/pgbackrest/conf.d/enc.conf",
        "[global]\nrepo2-path=/srv/pgbr2\nrepo2-cipher-type=aes-256-cbc\nrepo2-cipher-pass=cipher-secret-ghi\n",
        0o644,
    );
    write(r, "/var/lib/pgbackrest/backup/main/backup.info", "[backrest]\nbackrest-format=5\n", 0o640);
    write(r, "/srv/pgbr2/backup/main/backup.info", "Salted__\x01\x02binary", 0o640);
    write(
        r,
        "/etc/wal-g/config.json",
        "{\n  \"WALG_S3_PREFIX\": \"s3://bucket/pg\",\n  \"WALG_LIBSODIUM_KEY\": \"walg-secret-jkl\"\n}\n",
        0o664,
    );
    fs::set_permissions(r.join("etc/wal-g"), fs::Permissions::from_mode(0o770)).unwrap();
    if is_root() {
        chown(r.join("etc/pgbackrest/pgbackrest.conf"), Some(PG_UID), Some(PG_UID)).unwrap();
        chown(r.join("etc/wal-g/config.json"), Some(PG_UID), Some(PG_UID)).unwrap();
    }
    let have_borg = Command::new("borg").arg("--version").output().is_ok_and(|o| o.status.success());
    if have_borg {
        let home = r.join("borghome");
        let ok = Command::new("borg")
            .args(["init", "--encryption=none", "--make-parent-dirs", r.join("srv/borg/odoo").to_str().unwrap()])
            .env("HOME", &home)
            .env("BORG_BASE_DIR", &home)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(ok.status.success());
        // keyfile mode: the key lands in the fake root's /root/.config/borg/keys
        let ok = Command::new("borg")
            .args([
                "init",
                "--encryption=keyfile-blake2",
                "--make-parent-dirs",
                r.join("srv/borg/kf").to_str().unwrap(),
            ])
            .env("HOME", r.join("root"))
            .env("BORG_PASSPHRASE", "test-only")
            .env("BORG_BASE_DIR", r.join("root"))
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
        let keys = r.join("root/.config/borg/keys");
        for k in fs::read_dir(&keys).unwrap() {
            fs::set_permissions(k.unwrap().path(), fs::Permissions::from_mode(0o644)).unwrap();
        }
        write(
            r,
            "/etc/borgmatic.d/kf.yaml",
            "repositories:\n  - path: /srv/borg/kf\nencryption_passcommand: cat /etc/borgmatic/pass\n",
            0o600,
        );
        write(r, "/etc/borgmatic/pass", "x\n", 0o600);
    }
    have_borg
}

fn sets() -> Vec<BackupSet> {
    let set = |name: &str, kind| BackupSet { name: name.into(), kind, policy: None };
    vec![
        set("odoo", SetKind::Borgmatic { config: "/etc/borgmatic.d/odoo.yaml".into() }),
        set(
            "files",
            SetKind::Restic { env_files: vec![], units: vec!["/etc/systemd/system/restic-backup.service".into()] },
        ),
        set("pg", SetKind::PgBackRest { config: "/etc/pgbackrest/pgbackrest.conf".into(), include: None }),
        set("walg", SetKind::WalG { config: "/etc/wal-g/config.json".into() }),
        set("rest", SetKind::Restic { env_files: vec!["/etc/restic/rest.env".into()], units: vec![] }),
    ]
}

fn find<'a>(o: &'a Observation, check: Check, file: &str) -> Vec<&'a Finding> {
    o.findings.iter().filter(|f| f.check == check && f.path == Path::new(file)).collect()
}

#[test]
fn observes_declared_actual_and_findings() {
    let t = tempfile::tempdir().unwrap();
    let have_borg = fake_host(t.path());
    let root = Root::new(t.path());
    let obs: Vec<Observation> = sets().iter().map(|s| observe(&root, s).unwrap()).collect();

    // borgmatic: inline passphrase in a world-readable file
    let b = &obs[0];
    let inline = find(b, Check::InlineSecret, "/etc/borgmatic.d/odoo.yaml");
    assert_eq!(inline[0].at.as_ref().unwrap().line, 5);
    let mode = find(b, Check::SecretFileMode, "/etc/borgmatic.d/odoo.yaml");
    assert_eq!(mode[0].severity, Severity::High);
    assert_eq!(mode[0].remedy, "chmod 0600 /etc/borgmatic.d/odoo.yaml");
    if have_borg {
        assert_eq!(b.repos[0].actual[0].mode.as_deref(), Some("none"));
        let f = find(b, Check::RepoNotEncrypted, "/etc/borgmatic.d/odoo.yaml");
        assert!(f[0].message.contains("although the config declares encryption"), "{}", f[0]);
        let kf = observe(
            &root,
            &BackupSet {
                name: "kf".into(),
                kind: SetKind::Borgmatic { config: "/etc/borgmatic.d/kf.yaml".into() },
                policy: None,
            },
        )
        .unwrap();
        assert_eq!(kf.repos[0].actual[0].mode.as_deref(), Some("keyfile-blake2"));
        let key = kf
            .findings
            .iter()
            .find(|f| f.check == Check::SecretFileMode && f.path.starts_with("/root/.config/borg/keys"))
            .expect("keyfile mode finding");
        assert!(key.message.contains("borg keyfile"), "{key}");
        assert!(kf.findings.iter().all(|f| f.path != Path::new("/etc/borgmatic/pass")), "0600 root pass file is fine");
    } else {
        println!("SKIP: borg not installed; borgmatic actual state not checked");
    }

    // restic via a systemd unit
    let r = &obs[1];
    let unit = "/etc/systemd/system/restic-backup.service";
    assert_eq!(find(r, Check::SecretInEnvironment, unit)[0].at.as_ref().unwrap().line, 5);
    assert_eq!(find(r, Check::SecretOnCommandLine, unit)[0].at.as_ref().unwrap().line, 6);
    let missing = find(r, Check::SecretFileMissing, "/etc/restic/required.env");
    assert_eq!(missing[0].at.as_ref().unwrap().line, 4);
    assert!(find(r, Check::SecretFileMissing, "/etc/restic/optional.env").is_empty(), "'-' prefix means optional");
    assert!(!find(r, Check::SecretFileMode, "/etc/restic/password").is_empty());
    assert!(!find(r, Check::SecretFileMode, "/etc/restic/restic.env").is_empty(), "env file holds an AWS secret");
    assert_eq!(r.repos[0].declared.location.at.as_ref().unwrap().file, PathBuf::from("/etc/restic/restic.env"));

    // pgBackRest: cipher pass in a 0644 root-owned conf.d file; repo1 plain, repo2 encrypted
    let p = &obs[2];
    let states: Vec<(&str, &str)> =
        p.repos.iter().map(|r| (r.declared.name.as_str(), r.actual[0].state.summary())).collect();
    assert_eq!(states, vec![("repo1", "not-encrypted"), ("repo2", "encrypted")]);
    let conf_d = "/etc/pgbackrest/conf.d/enc.conf";
    let mode = find(p, Check::SecretFileMode, conf_d);
    assert_eq!(mode[0].remedy, format!("chmod 0640 {conf_d}"));
    assert_eq!(mode[0].at.as_ref().unwrap().line, 4);
    if is_root() {
        assert!(!find(p, Check::SecretFileOwner, conf_d).is_empty());
    }

    // WAL-G: 0664 file, but the 0770 directory keeps others out today
    let w = &obs[3];
    let mode = find(w, Check::SecretFileMode, "/etc/wal-g/config.json");
    assert_eq!(mode[0].severity, Severity::Medium, "{}", mode[0]);
    assert_eq!(w.repos[0].actual[0].state.summary(), "unknown");

    // a password inside the repository URL: redacted in the model, the repo still remote/unknown
    let rest = &obs[4];
    match &rest.repos[0].declared.location.value {
        harden::backup::model::RepoLocation::Remote { url, .. } => {
            assert_eq!(url, "rest:https://bk:<redacted>@backup.example:8000/r")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(rest.repos[0].actual[0].state.summary(), "unknown");
    assert!(rest.decls[0].secrets.iter().any(|s| s.key == "RESTIC_REPOSITORY"));

    for o in &obs {
        for f in &o.findings {
            assert!(!f.remedy.is_empty() && !f.message.is_empty());
        }
    }
}

#[test]
fn no_secret_value_in_debug_serialize_or_display() {
    let t = tempfile::tempdir().unwrap();
    fake_host(t.path());
    let root = Root::new(t.path());
    let obs: Vec<Observation> = sets().iter().map(|s| observe(&root, s).unwrap()).collect();
    let mut rendered = format!("{obs:?}") + &serde_json::to_string(&obs).unwrap();
    for o in &obs {
        for f in &o.findings {
            rendered += &f.to_string();
        }
    }
    assert!(rendered.contains("<redacted>"));
    for s in SECRETS {
        assert!(!rendered.contains(s), "secret {s:?} leaked into output");
    }
    // the corpus: every inline value found must be absent from the renderings too
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/backup");
    if !dir.exists() {
        println!("SKIP: corpus not found; corpus redaction not checked");
        return;
    }
    let croot = Root::new(&dir);
    let mut corpus_sets = Vec::new();
    for e in fs::read_dir(&dir).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        let config = PathBuf::from("/").join(&name);
        let kind = if name.ends_with("pgbackrest.conf") {
            SetKind::PgBackRest { config, include: None }
        } else if name.contains("borgmatic") {
            SetKind::Borgmatic { config }
        } else if name.contains("resticprofile") {
            SetKind::Resticprofile { config }
        } else if name.contains("autorestic") {
            SetKind::Autorestic { config }
        } else {
            continue;
        };
        corpus_sets.push(BackupSet { name, kind, policy: None });
    }
    let cobs: Vec<Observation> = observe_all(&croot, &corpus_sets).into_iter().map(|r| r.unwrap()).collect();
    let text = format!("{cobs:?}")
        + &serde_json::to_string(&cobs).unwrap()
        + &cobs.iter().flat_map(|o| o.findings.iter().map(|f| f.to_string())).collect::<String>();
    let mut inline = 0;
    for o in &cobs {
        for d in &o.decls {
            for s in &d.secrets {
                if let harden::backup::model::SecretSource::Inline { value } = &s.source {
                    inline += 1;
                    assert!(!text.contains(value.expose()), "{}: inline {} leaked", o.name, s.key);
                }
            }
        }
    }
    assert!(inline >= 3, "corpus has inline secrets; found {inline}");
}

#[test]
fn fifty_sets_read_local_files_only() {
    let t = tempfile::tempdir().unwrap();
    fake_host(t.path());
    let root = Root::new(t.path());
    let many: Vec<BackupSet> = (0..50).map(|i| sets()[i % 5].clone()).collect();
    let results = observe_all(&root, &many);
    assert_eq!(results.len(), 50);
    let first: Vec<String> = results[..5].iter().map(|r| format!("{:?}", r.as_ref().unwrap().findings)).collect();
    for (i, r) in results.iter().enumerate() {
        assert_eq!(format!("{:?}", r.as_ref().unwrap().findings), first[i % 5], "set {i} differs from its twin");
    }
    // the observer must never spawn a process: no process API anywhere in src/backup
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/backup");
    let mut stack = vec![src];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = fs::read_to_string(&p).unwrap();
                for banned in ["std::process", "Command::new", "libc::fork", "execv"] {
                    assert!(!text.contains(banned), "{} uses {banned}", p.display());
                }
            }
        }
    }
}
