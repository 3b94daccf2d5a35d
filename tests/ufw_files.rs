//! File-level behaviour on temp roots and namespaces: hand-edited rules
//! files, app rules whose profile is not installed, the host lock, and a
//! bind-mounted rules file that cannot be renamed over.
mod support;
use support::{Ns, Root};

#[test]
fn hand_edited_iptables_lines_are_one_regenerate_item() {
    let Some(root) = Root::new() else { return };
    root.write(
        "/p.toml",
        "[firewall]\nenabled = true\n[[firewall.rules]]\naction = \"allow\"\nport = 1111\nproto = \"tcp\"\n",
    );
    let p = root.file("/p.toml").display().to_string();
    assert_eq!(root.harden(&["apply", "--yes", "--allow-lockout", "--profile", &p]).code, 0);
    let edited = root.read("/etc/ufw/user.rules").replace("--dport 1111 -j ACCEPT", "--dport 2222 -j ACCEPT");
    root.write("/etc/ufw/user.rules", &edited);
    let plan = root.harden(&["plan", "--profile", &p, "--format", "json"]);
    assert_eq!(plan.code, 2, "{plan:?}");
    let v: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let changes = v["resources"][0]["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{v}");
    assert_eq!(changes[0]["item"], "firewall.rules_file");
    assert!(changes[0]["summary"]
        .as_str()
        .unwrap()
        .contains("regenerate /etc/ufw/user.rules: its iptables lines do not match its tuples"));
    assert_eq!(root.harden(&["apply", "--yes", "--allow-lockout", "--profile", &p]).code, 0);
    assert!(root.read("/etc/ufw/user.rules").contains("--dport 1111 -j ACCEPT"));
    assert_eq!(root.harden(&["plan", "--profile", &p]).code, 0);
}

#[test]
fn crlf_rules_file_is_regenerated() {
    let Some(root) = Root::new() else { return };
    root.write(
        "/p.toml",
        "[firewall]\nenabled = true\n[[firewall.rules]]\naction = \"limit\"\nport = 22\nproto = \"tcp\"\n",
    );
    let p = root.file("/p.toml").display().to_string();
    assert_eq!(root.harden(&["apply", "--yes", "--profile", &p]).code, 0);
    let crlf = root.read("/etc/ufw/user.rules").replace('\n', "\r\n");
    root.write("/etc/ufw/user.rules", &crlf);
    let plan = root.harden(&["plan", "--profile", &p]);
    assert_eq!(plan.code, 2, "{plan:?}");
    assert!(plan.stdout.contains("CRLF line endings, which iptables-restore refuses"), "{plan:?}");
    assert_eq!(root.harden(&["apply", "--yes", "--profile", &p]).code, 0);
    assert!(!root.read("/etc/ufw/user.rules").contains('\r'));
}

#[test]
fn app_rule_without_installed_profile_matches_by_name() {
    let Some(root) = Root::new() else { return };
    let tuple = "### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 NoSuchApp - in\n-A ufw-user-input -p tcp --dport 22 -j ACCEPT -m comment --comment 'dapp_NoSuchApp'\n";
    let text = root.read("/etc/ufw/user.rules").replace("### RULES ###\n", &format!("### RULES ###\n\n{tuple}"));
    root.write("/etc/ufw/user.rules", &text);
    root.write(
        "/p.toml",
        "[firewall]\n[[firewall.rules]]\naction = \"allow\"\napp = \"NoSuchApp\"\nfrom = \"0.0.0.0/0\"\n",
    );
    let p = root.file("/p.toml").display().to_string();
    let plan = root.harden(&["plan", "--profile", &p, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let rule_changes: Vec<_> =
        v["resources"][0]["changes"].as_array().unwrap().iter().filter(|c| c["item"] == "firewall.rule").collect();
    assert!(rule_changes.is_empty(), "the existing tuple stands for the app: {v}");
    root.write("/p.toml", "[firewall]\n[[firewall.rules]]\naction = \"allow\"\napp = \"OtherApp\"\n");
    let r = root.harden(&["plan", "--profile", &p]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("p.toml:4:7") && r.stderr.contains("application profile 'OtherApp' is not installed"),
        "{r:?}"
    );
}

#[test]
fn a_second_harden_waits_then_fails_clearly() {
    let Some(root) = Root::new() else { return };
    if std::process::Command::new("flock").arg("--version").output().is_err() {
        eprintln!("SKIP: flock(1) not available");
        return;
    }
    root.write(
        "/p.toml",
        "[firewall]\nenabled = true\n[[firewall.rules]]\naction = \"limit\"\nport = 22\nproto = \"tcp\"\n",
    );
    std::fs::create_dir_all(root.file("/run")).unwrap();
    let lock = root.file("/run/harden.lock");
    let mut holder = std::process::Command::new("flock").arg(&lock).args(["sleep", "5"]).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let r = root.harden(&[
        "apply",
        "--yes",
        "--lock-timeout",
        "1",
        "--profile",
        &root.file("/p.toml").display().to_string(),
    ]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("waiting for another harden")
            && r.stderr.contains("holds")
            && r.stderr.contains("harden.lock"),
        "{r:?}"
    );
    assert!(!root.read("/etc/ufw/user.rules").contains("dport 22"), "nothing was written");
}

#[test]
fn bind_mounted_rules_file_is_a_clear_error() {
    let Some(ns) = Ns::new() else { return };
    let p = ns.put(
        "p.toml",
        "[firewall]\nenabled = true\n[[firewall.rules]]\naction = \"limit\"\nport = 22\nproto = \"tcp\"\n",
    );
    let run = ns.run(&format!("cp /etc/ufw/user.rules $W/copy.rules; mount --bind $W/copy.rules /etc/ufw/user.rules; $H apply --yes --profile {p}; echo rc=$?"));
    assert!(run.stdout.contains("rc=1"), "{run:?}");
    assert!(
        run.stderr.contains("cannot replace /etc/ufw/user.rules: it is busy")
            && run.stderr.contains("bind-mount its directory instead"),
        "{run:?}"
    );
}
