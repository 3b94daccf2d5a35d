//! End to end with the real ufw in a private namespace.
mod support;
use support::{sections, Ns};

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn web_profile_applies_detects_drift_and_keeps_fail2ban_bans() {
    let Some(ns) = Ns::new() else { return };
    let run = ns.run(
        r#"
echo "=== apply1"; $H apply --profile $P/profiles/web.toml --yes; echo "rc=$?"
echo "=== iptables"; iptables -S ufw-user-input
echo "=== ip6tables"; ip6tables -S ufw6-user-input
echo "=== status"; ufw status verbose
sha256sum /etc/ufw/user.rules /etc/ufw/user6.rules > $W/sums
ls /var/backups/harden | wc -l > $W/nbackups
echo "=== apply2"; $H apply --profile $P/profiles/web.toml --yes; echo "rc=$?"
echo "=== unchanged"; sha256sum -c --quiet $W/sums && echo same; ls /var/backups/harden | wc -l | diff - $W/nbackups && echo nobackup
echo "=== manual"; ufw allow 8080/tcp; ufw insert 1 deny from 203.0.113.9 comment 'by Fail2Ban after 5 attempts'
echo "=== check"; $H check --profile $P/profiles/web.toml; echo "rc=$?"
echo "=== checkjson"; $H check --profile $P/profiles/web.toml --format json
echo "=== apply3"; $H apply --profile $P/profiles/web.toml --yes; echo "rc=$?"
echo "=== numbered"; ufw status numbered
echo "=== iptables2"; iptables -S ufw-user-input
echo "=== apply4"; $H apply --profile $P/profiles/web.toml --yes; echo "rc=$?"
"#,
    );
    let s = sections(&run.stdout);
    let get = |k: &str| s.get(k).cloned().unwrap_or_else(|| panic!("no section {k}: {run:?}"));
    assert!(get("apply1").contains("rc=0"), "{run:?}");
    let ipt = get("iptables");
    for want in [
        "-A ufw-user-input -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -m recent --set",
        "-A ufw-user-input -p tcp -m tcp --dport 22 -j ufw-user-limit-accept",
        "-A ufw-user-input -p tcp -m tcp --dport 80 -j ACCEPT",
        "-A ufw-user-input -p tcp -m tcp --dport 443 -j ACCEPT",
        "-A ufw-user-input -p udp -m udp --dport 443 -j ACCEPT",
    ] {
        assert!(ipt.contains(want), "missing {want} in\n{ipt}");
    }
    assert!(get("ip6tables").contains("-A ufw6-user-input -p tcp -m tcp --dport 80 -j ACCEPT"));
    let st = squash(&get("status"));
    for want in [
        "Status: active",
        "Logging: on (low)",
        "Default: deny (incoming), allow (outgoing), disabled (routed)",
        "22/tcp LIMIT IN Anywhere # ssh",
        "80/tcp ALLOW IN Anywhere # http",
        "443/udp ALLOW IN Anywhere # http3",
        "443/tcp (v6) ALLOW IN Anywhere (v6) # https",
    ] {
        assert!(st.contains(want), "ufw status lacks {want}: {st}");
    }
    assert!(get("apply2").contains("rc=0") && get("apply2").contains("No changes"), "{run:?}");
    assert!(
        get("unchanged").contains("same") && get("unchanged").contains("nobackup"),
        "second apply wrote something: {run:?}"
    );
    let check = get("check");
    assert!(check.contains("rc=2"), "{check}");
    assert!(check.contains("-ufw allow 8080/tcp"), "check must name the manual rule: {check}");
    assert!(!check.contains("-ufw deny from 203.0.113.9"), "the fail2ban ban is kept: {check}");
    let json: serde_json::Value = serde_json::from_str(&get("checkjson")).unwrap();
    let drift = json["resources"][0]["drift"].as_array().unwrap();
    assert!(drift.iter().any(|d| d["actual"] == "ufw allow 8080/tcp" && d["kind"] == "remove"), "{json}");
    assert!(get("apply3").contains("rc=0"), "{run:?}");
    let numbered = squash(&get("numbered"));
    assert!(numbered.contains("[ 1] Anywhere DENY IN 203.0.113.9 # by Fail2Ban after 5 attempts"), "{numbered}");
    assert!(!numbered.contains("8080"), "{numbered}");
    let ipt2 = get("iptables2");
    let first = ipt2.lines().nth(1).unwrap_or("");
    assert_eq!(first, "-A ufw-user-input -s 203.0.113.9/32 -j DROP", "{ipt2}");
    assert!(!ipt2.contains("8080"));
    assert!(get("apply4").contains("No changes"), "{run:?}");
}
