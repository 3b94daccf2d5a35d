//! The fleet examples: the Ansible playbook runs and collects a report; the
//! Prometheus alert rules use the metrics harden writes.
mod support;
use std::process::Command;
use support::Root;

#[test]
fn alert_rules_name_the_metrics_harden_writes() {
    let rules = std::fs::read_to_string(support::project().join("examples/prometheus/harden-alerts.yml")).unwrap();
    let metrics = harden::metrics::render(None, true, 0);
    for name in ["harden_drift", "harden_findings", "harden_last_run_success", "harden_last_run_timestamp_seconds"] {
        assert!(rules.contains(name), "the rules do not use {name}");
        assert!(metrics.contains(&format!("# TYPE {name} gauge")), "harden does not write {name}");
    }
    let check = r#"
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
rules = doc["groups"][0]["rules"]
assert all("alert" in r and "expr" in r for r in rules), rules
print(len(rules))
"#;
    let out = Command::new("python3")
        .args(["-c", check, &support::project().join("examples/prometheus/harden-alerts.yml").display().to_string()])
        .output()
        .unwrap();
    if String::from_utf8_lossy(&out.stderr).contains("No module named 'yaml'") {
        eprintln!("SKIP: python3 yaml not installed");
        return;
    }
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn ansible_playbook_collects_check_reports() {
    let Some(root) = Root::new() else { return };
    if Command::new("ansible-playbook").arg("--version").output().is_err() {
        eprintln!("SKIP: ansible-playbook not installed (.ci/run installs ansible-core)");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let inv = work.path().join("inventory");
    std::fs::write(&inv, "web-1 ansible_connection=local ansible_python_interpreter=python3\n").unwrap();
    let reports = work.path().join("reports");
    std::fs::create_dir_all(&reports).unwrap();
    let out = Command::new("ansible-playbook")
        .current_dir(support::project())
        .args(["-i", &inv.display().to_string(), "examples/ansible/harden-check.yml"])
        .args(["-e", &format!("harden_binary={}", support::harden_bin())])
        .args(["-e", &format!("harden_profile={}", support::project().join("profiles/web.toml").display())])
        .args([
            "-e",
            &format!(r#"{{"harden_extra_profiles": ["{}"]}}"#, support::project().join("profiles/base.toml").display()),
        ])
        .args(["-e", &format!("harden_root={}", root.path().display())])
        .args(["-e", &format!("harden_dir={}", work.path().join("opt").display())])
        .args(["-e", &format!("reports_dir={}", reports.display())])
        .args(["-e", "ansible_become=false"])
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_LOCAL_TEMP", work.path().join("tmp"))
        .env("ANSIBLE_REMOTE_TEMP", work.path().join("rtmp"))
        .output()
        .unwrap();
    let so = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{so}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(so.contains("web-1: DRIFT"), "{so}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(reports.join("web-1.json")).unwrap()).unwrap();
    assert_eq!(report["kind"], "check");
    assert_eq!(report["resources"][0]["resource"], "firewall");
    assert!(report["resources"][0]["drift"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["expected"] == "ufw limit 22/tcp comment 'ssh'"));
}
