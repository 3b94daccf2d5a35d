//! The rendered systemd units pass `systemd-analyze verify`.
mod support;
use std::process::Command;

#[test]
fn rendered_units_verify() {
    let d = tempfile::tempdir().unwrap();
    let prof = d.path().join("web.toml");
    std::fs::copy(support::project().join("profiles/web.toml"), &prof).unwrap();
    std::fs::copy(support::project().join("profiles/base.toml"), d.path().join("base.toml")).unwrap();
    for remediate in [false, true] {
        let root = tempfile::tempdir().unwrap();
        let mut args = vec![
            "--root".to_string(),
            root.path().display().to_string(),
            "install-units".into(),
            "--profile".into(),
            prof.display().to_string(),
        ];
        if remediate {
            args.push("--remediate".into());
        }
        let out = Command::new(support::harden_bin()).args(&args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let dir = root.path().join("etc/systemd/system");
        let agent = std::fs::read_to_string(dir.join("harden-agent.service")).unwrap();
        let exec = agent.lines().find(|l| l.starts_with("ExecStart=")).unwrap();
        assert_eq!(exec.ends_with("--remediate"), remediate, "{exec}");
        assert_eq!(agent.lines().any(|l| l == "ProtectSystem=strict"), !remediate, "a remediating agent writes /etc");
        assert!(std::fs::read_to_string(dir.join("harden-check.service")).unwrap().contains("ProtectSystem=strict"));
        if Command::new("systemd-analyze").arg("--version").output().is_err() {
            eprintln!("SKIP: systemd-analyze not installed");
            return;
        }
        let units: Vec<String> = ["harden-check.service", "harden-check.timer", "harden-agent.service"]
            .iter()
            .map(|u| dir.join(u).display().to_string())
            .collect();
        let v = Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .args(&units)
            .env("SYSTEMD_LOG_LEVEL", "warning")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&v.stderr);
        // Only complaints about our own units count; the host's may have some.
        let ours: Vec<&str> = err.lines().filter(|l| l.contains("harden-")).collect();
        assert!(v.status.success() && ours.is_empty(), "systemd-analyze verify:\n{err}");
    }
}

#[test]
fn paths_with_spaces_are_quoted_and_short_intervals_refused() {
    let root = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let spaced = dir.path().join("my dir");
    std::fs::create_dir_all(&spaced).unwrap();
    std::fs::copy(support::project().join("profiles/base.toml"), spaced.join("base.toml")).unwrap();
    let prof = spaced.join("base.toml");
    let r = |extra: &[&str]| {
        let mut a = vec![
            "--root".to_string(),
            root.path().display().to_string(),
            "install-units".into(),
            "--profile".into(),
            prof.display().to_string(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        Command::new(support::harden_bin()).args(&a).output().unwrap()
    };
    assert!(r(&[]).status.success());
    let unit = std::fs::read_to_string(root.path().join("etc/systemd/system/harden-check.service")).unwrap();
    assert!(unit.contains(&format!("--profile \"{}\"", prof.display())), "{unit}");
    assert!(unit.contains("ReadWritePaths=-/var/log/harden"), "missing directories must not stop the unit: {unit}");
    let out = r(&["--interval", "0s"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("too short"));
    let out = Command::new(support::harden_bin())
        .args(["agent", "--profile", "x.toml", "--interval", "0s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("too short"));
}
