//! The agent with a 1 s interval on a temp root: drift injected between runs
//! is detected and (with --remediate) repaired; SIGHUP re-reads the profile,
//! keeping the last good one when it no longer parses; SIGTERM stops it.
mod support;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::Root;

const GOOD: &str =
    "[firewall]\nenabled = true\npurge = true\n[[firewall.rules]]\naction = \"limit\"\nport = 22\nproto = \"tcp\"\n";
const EXTRA: &str =
    "[firewall]\nenabled = true\n[[firewall.rules]]\naction = \"allow\"\nport = 7777\nproto = \"tcp\"\n";

struct Agent {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
}

impl Agent {
    fn start(root: &Root, profile: &str, remediate: bool) -> Agent {
        let mut args = vec![
            "--root".to_string(),
            root.path().display().to_string(),
            "agent".into(),
            "--profile".into(),
            profile.into(),
            "--interval".into(),
            "1s".into(),
        ];
        if remediate {
            args.push("--remediate".into());
        }
        let mut child = Command::new(support::harden_bin())
            .args(&args)
            .env_remove("SSH_CONNECTION")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let err = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        Agent { child, lines: rx }
    }

    /// Wait for a log line containing `what`; panics with the log after 20 s.
    fn expect(&self, what: &str) -> String {
        let start = Instant::now();
        let mut seen = Vec::new();
        while start.elapsed() < Duration::from_secs(20) {
            if let Ok(l) = self.lines.recv_timeout(Duration::from_millis(200)) {
                if l.contains(what) {
                    return l;
                }
                seen.push(l);
            }
        }
        panic!("no log line with {what:?}; saw:\n{}", seen.join("\n"));
    }

    fn signal(&self, sig: &str) {
        assert!(Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success());
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn agent_detects_and_remediates_drift_and_handles_signals() {
    let Some(root) = Root::new() else { return };
    root.write("/p.toml", GOOD);
    root.write("/extra.toml", EXTRA);
    let p = root.file("/p.toml").display().to_string();
    let extra = root.file("/extra.toml").display().to_string();
    let agent = Agent::start(&root, &p, true);
    agent.expect("remediated");
    agent.expect("in sync");
    // Drift between runs: another writer adds a rule.
    assert_eq!(root.harden(&["apply", "--yes", "--profile", &extra]).code, 0);
    assert!(root.read("/etc/ufw/user.rules").contains("--dport 7777"));
    agent.expect("drift detected");
    agent.expect("remediated");
    agent.expect("in sync");
    assert!(!root.read("/etc/ufw/user.rules").contains("--dport 7777"), "purge removed it");
    // A profile that no longer parses: the last good one stays in force.
    root.write("/p.toml", "[firewall\nthis is not toml");
    agent.signal("HUP");
    agent.expect("keeping the last good one");
    assert_eq!(root.harden(&["apply", "--yes", "--profile", &extra]).code, 0);
    agent.expect("drift detected");
    agent.expect("remediated");
    // A good new profile is picked up.
    root.write(
        "/p.toml",
        &(GOOD.to_string() + "[[firewall.rules]]\naction = \"allow\"\nport = 8443\nproto = \"tcp\"\n"),
    );
    agent.signal("HUP");
    agent.expect("profile re-read");
    agent.expect("remediated");
    assert!(root.read("/etc/ufw/user.rules").contains("--dport 8443"));
    agent.signal("TERM");
    agent.expect("SIGTERM: stopping");
    let mut agent = agent;
    let status = agent.child.wait().unwrap();
    assert!(status.success(), "{status}");
}

#[test]
fn agent_without_remediate_only_reports() {
    let Some(root) = Root::new() else { return };
    root.write("/p.toml", GOOD);
    let p = root.file("/p.toml").display().to_string();
    let before = root.read("/etc/ufw/user.rules");
    let agent = Agent::start(&root, &p, false);
    agent.expect("drift detected");
    agent.expect("drift detected");
    assert_eq!(root.read("/etc/ufw/user.rules"), before, "nothing changed without --remediate");
    let audit = root.read("/var/log/harden/audit.jsonl");
    assert!(audit.lines().count() >= 1 && audit.contains("drift.detected"), "{audit}");
    agent.signal("INT");
    agent.expect("SIGINT: stopping");
}

#[test]
fn stopping_the_agent_keeps_the_last_metrics() {
    let Some(root) = Root::new() else { return };
    root.write("/p.toml", GOOD);
    let m = root.file("/m.prom");
    let mut child = Command::new(support::harden_bin())
        .args([
            "--root",
            &root.path().display().to_string(),
            "--metrics",
            &m.display().to_string(),
            "agent",
            "--profile",
            &root.file("/p.toml").display().to_string(),
            "--interval",
            "1s",
        ])
        .env_remove("SSH_CONNECTION")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !std::fs::read_to_string(&m).unwrap_or_default().contains("harden_drift{resource=\"firewall\"} 1") {
        assert!(start.elapsed() < Duration::from_secs(20), "no metrics written");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    child.wait().unwrap();
    let text = std::fs::read_to_string(&m).unwrap();
    assert!(
        text.contains("harden_drift{resource=\"firewall\"} 1") && text.contains("harden_changes_pending"),
        "{text}"
    );
}
