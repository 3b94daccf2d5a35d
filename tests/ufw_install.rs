//! The install decision, tested at the system seam: a recording runner
//! stands in for the package manager, so this machine's packages never change.
use harden::engine::{self, ApplyOptions};
use harden::plan::Actions;
use harden::profile;
use harden::system::{Output, Runner, SysError, System};
use std::sync::{Arc, Mutex};

struct Recorder {
    calls: Arc<Mutex<Vec<String>>>,
}

impl Runner for Recorder {
    fn run(&self, program: &str, args: &[&str], _stdin: Option<&[u8]>) -> Result<Output, SysError> {
        self.calls.lock().unwrap().push(format!("{program} {}", args.join(" ")));
        Ok(Output { status: 0, stdout: String::new(), stderr: String::new() })
    }
    fn has(&self, program: &str) -> bool {
        program == "apt-get"
    }
}

fn setup(profile_text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("p.toml");
    std::fs::write(&p, profile_text).unwrap();
    (d, p)
}

const PROFILE: &str =
    "[firewall]\nenabled = true\n[[firewall.rules]]\naction = \"limit\"\nport = 22\nproto = \"tcp\"\n";

#[test]
fn missing_ufw_is_installed_with_apt_get_on_a_live_root_only() {
    let (d, p) = setup(PROFILE);
    let calls = Arc::new(Mutex::new(Vec::new()));
    let sys = System::pretend_live(d.path(), Box::new(Recorder { calls: calls.clone() }));
    let prof = profile::load(&p).unwrap();
    let plan = engine::plan(&sys, &prof).unwrap();
    let Actions::Firewall(a) = &plan.resources[0].actions else { panic!() };
    assert!(a.install, "a live root without ufw plans the install");
    assert!(plan.changes().any(|c| c.item == "firewall.install"));
    // The recorder installs nothing, so apply must say ufw is still missing.
    let err = engine::apply(
        &sys,
        &plan,
        &prof,
        &ApplyOptions { audit: None, allow_lockout: false, force: false, saved: false },
    )
    .unwrap_err();
    assert!(err.to_string().contains("still does not exist"), "{err}");
    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls, vec!["env DEBIAN_FRONTEND=noninteractive apt-get install -y -q ufw"]);

    // Under a --root other than /, never.
    let calls = Arc::new(Mutex::new(Vec::new()));
    let sys = System::new(d.path(), Box::new(Recorder { calls: calls.clone() }));
    let plan = engine::plan(&sys, &prof).unwrap();
    assert!(plan
        .findings()
        .any(|f| f.id == "firewall.not_installed" && f.message.contains("never installs packages under a --root")));
    assert!(engine::apply(
        &sys,
        &plan,
        &prof,
        &ApplyOptions { audit: None, allow_lockout: false, force: false, saved: false }
    )
    .is_err());
    assert!(calls.lock().unwrap().is_empty(), "nothing may be run under --root");

    // `install = false` in the profile: a finding, no install.
    let (d2, p2) = setup(&PROFILE.replace("enabled = true", "enabled = true\ninstall = false"));
    let calls = Arc::new(Mutex::new(Vec::new()));
    let sys = System::pretend_live(d2.path(), Box::new(Recorder { calls: calls.clone() }));
    let prof = profile::load(&p2).unwrap();
    let plan = engine::plan(&sys, &prof).unwrap();
    assert!(plan.findings().any(|f| f.message.contains("install = false")));
    assert!(!plan.has_changes());
    assert!(calls.lock().unwrap().is_empty());
}
