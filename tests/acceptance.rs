//! tests/acceptance.sh, the script the Vagrant box runs, here inside a
//! private namespace (minus the VM).
mod support;
use support::Ns;

#[test]
fn acceptance_script_passes_in_a_namespace() {
    let Some(ns) = Ns::new() else { return };
    let run = ns.run("HARDEN=$H bash $P/tests/acceptance.sh");
    assert!(run.stdout.contains("ACCEPTANCE OK"), "{run:?}");
    if std::process::Command::new("caddy").arg("version").output().is_ok() {
        assert!(run.stdout.contains("--- caddy headers over HTTP"), "the caddy step ran: {run:?}");
    }
}

#[test]
fn vagrantfile_validates_where_vagrant_is_installed() {
    let home = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("vagrant")
        .arg("validate")
        .current_dir(support::project())
        .env("VAGRANT_HOME", home.path())
        .output();
    match out {
        Err(_) => eprintln!("SKIP: vagrant is not installed"),
        Ok(o) => assert!(
            o.status.success() && String::from_utf8_lossy(&o.stdout).contains("validated successfully"),
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    }
}
