//! tests/acceptance.sh, the script the Vagrant box runs, here inside a
//! private namespace (minus the VM).
mod support;
use support::Ns;

#[test]
fn acceptance_script_passes_in_a_namespace() {
    let Some(ns) = Ns::new() else { return };
    let run = ns.run("HARDEN=$H bash $P/tests/acceptance.sh");
    assert!(run.stdout.contains("ACCEPTANCE OK"), "{run:?}");
}
