//! Policy and logging changes on an active firewall are loaded in place
//! (no ufw reload, so no window in which all traffic is accepted), and the
//! kernel ends up exactly as after ufw's own `ufw default` / `ufw logging`.
mod support;
use support::{sections, Ns};

const BASE: &str = r#"
[firewall]
enabled = true
logging = "low"
[firewall.defaults]
incoming = "deny"
outgoing = "allow"
routed = "deny"
[[firewall.rules]]
action = "limit"
port = 22
proto = "tcp"
[[firewall.rules]]
action = "allow"
port = 80
proto = "tcp"
"#;

fn changed() -> String {
    BASE.replace("logging = \"low\"", "logging = \"medium\"")
        .replace("incoming = \"deny\"", "incoming = \"reject\"")
        .replace("outgoing = \"allow\"", "outgoing = \"deny\"")
        + "[[firewall.rules]]\naction = \"allow\"\nport = 8443\nproto = \"tcp\"\n"
}

const DUMP: &str = r#"
echo "=== k4"; iptables-save | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'
echo "=== k6"; ip6tables-save | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'
echo "=== files"; cat /etc/ufw/user.rules /etc/ufw/user6.rules /etc/default/ufw /etc/ufw/ufw.conf
"#;

#[test]
fn policy_and_logging_changes_load_in_place_like_ufw() {
    let Some(a) = Ns::new() else { return };
    let base_a = a.put("base.toml", BASE);
    let ra = a.run(&format!(
        "$H apply --yes --profile {base_a} >/dev/null || echo FAILED\n\
         ufw default reject incoming >/dev/null; ufw default deny outgoing >/dev/null; ufw logging medium >/dev/null; ufw allow 8443/tcp >/dev/null\n{DUMP}"
    ));
    assert!(!ra.stdout.contains("FAILED"), "{ra:?}");

    let b = Ns::new().unwrap();
    let base_b = b.put("base.toml", BASE);
    let next = b.put("changed.toml", &changed());
    // Traffic on lo passes ufw-before-input's `-i lo -j ACCEPT`; a reload
    // would delete that chain and reset its counter.
    let rb = b.run(&format!(
        "$H apply --yes --profile {base_b} >/dev/null || echo FAILED\n\
         for i in 1 2 3; do (echo > /dev/tcp/127.0.0.1/9) 2>/dev/null; done\n\
         $H apply --yes --profile {next} > $W/out 2>&1 || {{ echo FAILED; cat $W/out; }}\n\
         echo \"=== counter\"; iptables -L ufw-before-input -v -x -n | awk '$3==\"ACCEPT\" && $6==\"lo\" {{print $1}}'\n\
         echo \"=== again\"; $H plan --profile {next}; echo rc=$?\n{DUMP}"
    ));
    assert!(!rb.stdout.contains("FAILED"), "{rb:?}");
    let (sa, sb) = (sections(&ra.stdout), sections(&rb.stdout));
    let packets: u64 = sb["counter"].trim().parse().unwrap_or(0);
    assert!(packets > 0, "the lo counter was reset: the firewall was reloaded\n{rb:?}");
    assert!(sb["again"].contains("rc=0"), "{rb:?}");
    for k in ["files", "k4", "k6"] {
        assert_eq!(sa[k], sb[k], "{k} differs between ufw's own commands and harden's in-place load");
    }
}
