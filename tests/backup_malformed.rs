//! Malformed YAML, INI, env, JSON and unit files give typed errors naming file:line.
use harden::backup::error::BackupError;
use harden::backup::fsroot::Root;
use harden::backup::observe::{observe, BackupSet, SetKind};
use std::fs;
use std::path::Path;

fn write(root: &Path, p: &str, text: &str) {
    let host = root.join(p.trim_start_matches('/'));
    fs::create_dir_all(host.parent().unwrap()).unwrap();
    fs::write(host, text).unwrap();
}

fn err_of(root: &Root, kind: SetKind) -> BackupError {
    observe(root, &BackupSet { name: "t".into(), kind, policy: None }).unwrap_err()
}

fn assert_at(err: &BackupError, file: &str, line: usize) {
    let at = err.location().unwrap_or_else(|| panic!("no location in {err}"));
    assert_eq!((at.file.as_path(), at.line), (Path::new(file), line), "{err}");
    let text = err.to_string();
    assert!(text.starts_with(&format!("{file}:{line}")), "message must start with file:line: {text}");
    assert!(text.contains("; "), "message must say what to do: {text}");
}

#[test]
fn every_format_reports_file_and_line() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    write(
        r,
        "/etc/borgmatic/config.yaml",
        "location:\n    repositories:\n        - /srv/a\n    bad: [unclosed\nstorage:\n    x: 1\n",
    );
    write(r, "/etc/borgmatic/dup.yaml", "repositories:\n  - /a\nencryption_passphrase: a\nencryption_passphrase: b\n");
    write(r, "/etc/pgbackrest/pgbackrest.conf", "[global]\nrepo1-path=/r\n");
    write(r, "/etc/pgbackrest/conf.d/10-bad.conf", "[global]\n# fine\nrepo1-cipher-type\n");
    write(r, "/etc/restic/a.env", "RESTIC_REPOSITORY=/r\nRESTIC_PASSWORD_FILE='/etc/restic/pw\n");
    write(r, "/etc/systemd/system/r.service", "[Service]\nEnvironmentFile=/etc/restic/a.env\n");
    write(r, "/etc/systemd/system/bad.service", "[Service]\nExecStart=/usr/bin/restic \"unclosed\n");
    write(
        r,
        "/etc/wal-g/config.json",
        "{\n  \"WALG_S3_PREFIX\": \"s3://b\"\n  \"WALG_LIBSODIUM_KEY_PATH\": \"/k\"\n}\n",
    );
    write(r, "/etc/resticprofile/profiles.yaml", "default:\n  repository: /r\n  password-file: \"unterminated\n");
    let root = Root::new(r);

    let e = err_of(&root, SetKind::Borgmatic { config: "/etc/borgmatic/config.yaml".into() });
    let at = e.location().unwrap();
    assert_eq!(at.file, Path::new("/etc/borgmatic/config.yaml"));
    assert!((4..=5).contains(&at.line), "{e}");
    assert_at(
        &err_of(&root, SetKind::Borgmatic { config: "/etc/borgmatic/dup.yaml".into() }),
        "/etc/borgmatic/dup.yaml",
        4,
    );
    assert_at(
        &err_of(&root, SetKind::PgBackRest { config: "/etc/pgbackrest/pgbackrest.conf".into(), include: None }),
        "/etc/pgbackrest/conf.d/10-bad.conf",
        3,
    );
    assert_at(
        &err_of(&root, SetKind::Restic { env_files: vec![], units: vec!["/etc/systemd/system/r.service".into()] }),
        "/etc/restic/a.env",
        2,
    );
    assert_at(
        &err_of(&root, SetKind::Restic { env_files: vec![], units: vec!["/etc/systemd/system/bad.service".into()] }),
        "/etc/systemd/system/bad.service",
        2,
    );
    assert_at(&err_of(&root, SetKind::WalG { config: "/etc/wal-g/config.json".into() }), "/etc/wal-g/config.json", 3);
    let e = err_of(&root, SetKind::Resticprofile { config: "/etc/resticprofile/profiles.yaml".into() });
    assert_eq!(e.location().unwrap().file, Path::new("/etc/resticprofile/profiles.yaml"), "{e}");

    // a missing config is an I/O error naming the path, not a panic
    let e = err_of(&root, SetKind::Borgmatic { config: "/etc/borgmatic/none.yaml".into() });
    assert!(matches!(e, BackupError::Io { .. }) && e.to_string().contains("/etc/borgmatic/none.yaml"), "{e}");
}
