//! If loading the new rules fails, the previous files are put back and
//! loaded, and apply reports the failure. The failing loader is a runner at
//! the system seam.
use harden::engine::{self, ApplyOptions};
use harden::profile;
use harden::system::{Output, Runner, SysError, System};
use std::sync::{Arc, Mutex};

/// Each call: the command line and what it was given on standard input.
type Calls = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

struct FailFirstRestore {
    calls: Calls,
}

impl Runner for FailFirstRestore {
    fn run(&self, program: &str, args: &[&str], stdin: Option<&[u8]>) -> Result<Output, SysError> {
        let mut c = self.calls.lock().unwrap();
        c.push((format!("{program} {}", args.join(" ")), stdin.unwrap_or_default().to_vec()));
        let first_restore =
            program == "iptables-restore" && c.iter().filter(|(p, _)| p.starts_with("iptables-restore")).count() == 1;
        Ok(Output {
            status: if first_restore { 1 } else { 0 },
            stdout: String::new(),
            stderr: if first_restore { "iptables-restore: line 12 failed".into() } else { String::new() },
        })
    }
    fn has(&self, p: &str) -> bool {
        p == "ufw"
    }
}

#[test]
fn failed_load_restores_and_reloads_the_previous_files() {
    if !std::path::Path::new("/etc/ufw/ufw.conf").exists() {
        eprintln!("SKIP: ufw is not installed");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    let sh = format!("mkdir -p {0}/etc/default && cp -a /etc/ufw {0}/etc/ && cp /etc/default/ufw {0}/etc/default/ && cp /etc/services {0}/etc/", r.display());
    assert!(std::process::Command::new("sh").arg("-c").arg(sh).status().unwrap().success());
    // A live root has a ufw binary; its version decides the file format.
    std::fs::create_dir_all(r.join("usr/sbin")).unwrap();
    std::fs::write(r.join("usr/sbin/ufw"), "#!/usr/bin/python3\nversion = \"0.36.2\"\n").unwrap();
    // An enabled firewall with one rule, written by harden itself.
    let p1 = r.join("one.toml");
    std::fs::write(
        &p1,
        "[firewall]\nenabled = true\n[[firewall.rules]]\naction = \"limit\"\nport = 22\nproto = \"tcp\"\n",
    )
    .unwrap();
    let sys = System::new(r, Box::new(FailFirstRestore { calls: Arc::default() }));
    let prof = profile::load(&p1).unwrap();
    let plan = engine::plan(&sys, &prof).unwrap();
    let opts = ApplyOptions { audit: None, allow_lockout: false, force: false, saved: false };
    engine::apply(&sys, &plan, &prof, &opts).unwrap();
    let before = std::fs::read_to_string(r.join("etc/ufw/user.rules")).unwrap();

    let p2 = r.join("two.toml");
    std::fs::write(&p2, "[firewall]\nenabled = true\n[[firewall.rules]]\naction = \"limit\"\nport = 22\nproto = \"tcp\"\n[[firewall.rules]]\naction = \"allow\"\nport = 80\nproto = \"tcp\"\n").unwrap();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let sys = System::pretend_live(r, Box::new(FailFirstRestore { calls: calls.clone() }));
    let prof = profile::load(&p2).unwrap();
    let plan = engine::plan(&sys, &prof).unwrap();
    let report = engine::apply(&sys, &plan, &prof, &opts).unwrap();
    let failed = report.resources[0].failed.clone().expect("the load failure is reported");
    assert!(
        failed.contains("loading the new rules failed")
            && failed.contains("line 12 failed")
            && failed.contains("restored and loaded"),
        "{failed}"
    );
    assert_eq!(std::fs::read_to_string(r.join("etc/ufw/user.rules")).unwrap(), before, "previous user.rules is back");
    let calls = calls.lock().unwrap();
    let restores: Vec<_> = calls.iter().filter(|(p, _)| p.starts_with("iptables-restore")).collect();
    assert_eq!(restores.len(), 2, "{calls:?}");
    assert!(String::from_utf8_lossy(&restores[0].1).contains("--dport 80"), "first the new file");
    assert_eq!(String::from_utf8_lossy(&restores[1].1), before, "then the previous file is loaded");
}
