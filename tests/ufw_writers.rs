//! The firewall with other writers and a live kernel, with the real ufw in
//! private namespaces: saved plans, rules loaded by hand, a `ufw insert`
//! racing an apply, and switching IPv6 off.
mod support;
use support::{sections, Ns, Root};

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

const PROFILE: &str = r#"
[firewall]
enabled = true
purge = false
[[firewall.rules]]
action = "limit"
port = 22
proto = "tcp"
[[firewall.rules]]
action = "allow"
port = 80
proto = "tcp"
"#;

#[test]
fn stale_saved_plan_is_refused_and_fresh_one_applies() {
    let Some(ns) = Ns::new() else { return };
    let p = ns.put("p.toml", PROFILE);
    let run = ns.run(&format!(
        r#"
$H plan --profile {p} --out $W/plan.json >/dev/null 2>&1; echo "planrc=$?"
ufw allow 1234/tcp >/dev/null
sha256sum /etc/ufw/user.rules > $W/sum
echo "=== stale"; $H apply $W/plan.json --yes; echo "rc=$?"
echo "=== untouched"; sha256sum -c --quiet $W/sum && echo same
$H plan --profile {p} --out $W/plan2.json >/dev/null 2>&1
echo "=== fresh"; $H apply $W/plan2.json --yes; echo "rc=$?"
echo "=== again"; $H plan --profile {p}; echo "rc=$?"
echo "=== reuse"; $H apply $W/plan2.json --yes; echo "rc=$?"
"#
    ));
    let s = sections(&run.stdout);
    assert!(run.stdout.contains("planrc=2"), "{run:?}");
    assert!(s["stale"].contains("rc=1"), "{run:?}");
    assert!(run.stderr.contains("/etc/ufw/user.rules changed since") && run.stderr.contains("plan.json"), "{run:?}");
    assert!(s["untouched"].contains("same"), "{run:?}");
    assert!(s["fresh"].contains("rc=0"), "{run:?}");
    assert!(s["again"].contains("rc=0"), "{run:?}");
    assert!(s["reuse"].contains("rc=1"), "a used plan is stale: {run:?}");
}

#[test]
fn saved_plan_from_another_machine_is_refused() {
    let Some(root) = Root::new() else { return };
    root.write("/etc/machine-id", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n");
    root.write("/p.toml", PROFILE);
    let p = root.file("/p.toml").display().to_string();
    let out = root.file("/plan.json").display().to_string();
    assert_eq!(root.harden(&["plan", "--profile", &p, "--out", &out]).code, 2);
    root.write("/etc/machine-id", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n");
    let r = root.harden(&["apply", &out, "--yes"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("made on another machine"), "{r:?}");
    root.write("/etc/machine-id", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n");
    let r = root.harden(&["apply", &out, "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn rule_loaded_by_hand_is_drift_and_apply_reloads_the_files() {
    let Some(ns) = Ns::new() else { return };
    let p = ns.put("p.toml", PROFILE);
    let run = ns.run(&format!(
        r#"
$H apply --yes -q --profile {p}
echo "=== clean"; $H check --profile {p}; echo "rc=$?"
iptables -A ufw-user-input -p tcp --dport 9999 -j ACCEPT
echo "=== check"; $H check --profile {p} --format json; echo "rc=$?"
echo "=== apply"; $H apply --yes --profile {p}; echo "rc=$?"
echo "=== after"; iptables -S ufw-user-input; $H check --profile {p}; echo "rc=$?"
"#
    ));
    let s = sections(&run.stdout);
    assert!(s["clean"].contains("rc=0"), "{run:?}");
    assert!(s["check"].contains("rc=2"), "{run:?}");
    let json = s["check"].rsplit_once("rc=").unwrap().0;
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    let drift = v["resources"][0]["drift"].as_array().unwrap();
    assert!(
        drift.iter().any(|d| d["item"] == "firewall.kernel" && d["actual"].as_str().unwrap().contains("--dport 9999 -j ACCEPT")),
        "{v}"
    );
    assert!(s["apply"].contains("rc=0"), "{run:?}");
    assert!(!s["after"].contains("9999") && s["after"].contains("rc=0"), "{run:?}");
}

#[test]
fn ufw_insert_between_plan_and_write_survives_the_apply() {
    let Some(ns) = Ns::new() else { return };
    let p = ns.put("p.toml", PROFILE);
    let run = ns.run(&format!(
        r#"
ufw --force enable >/dev/null; ufw allow 8080/tcp >/dev/null
HARDEN_TEST_PAUSE_BEFORE_WRITE_MS=2500 $H apply --yes --profile {p} > $W/apply.out 2>&1 &
pid=$!
sleep 1; ufw insert 1 deny from 203.0.113.9 >/dev/null
wait $pid; echo "=== apply"; cat $W/apply.out; echo "rc=$?"
echo "=== numbered"; ufw status numbered
echo "=== plan"; $H plan --profile {p}; echo "rc=$?"
"#
    ));
    let s = sections(&run.stdout);
    assert!(s["apply"].contains("firewall: applied"), "{run:?}");
    let numbered = squash(&s["numbered"]);
    assert!(numbered.contains("[ 1] Anywhere DENY IN 203.0.113.9"), "the ban was lost: {run:?}");
    assert!(numbered.contains("22/tcp LIMIT IN Anywhere") && numbered.contains("80/tcp ALLOW IN Anywhere"), "{run:?}");
    assert!(numbered.contains("8080/tcp ALLOW IN Anywhere"), "purge = false keeps other rules: {run:?}");
    assert!(s["plan"].contains("rc=0"), "{run:?}");
}

#[test]
fn ipv6_off_is_shown_as_the_loss_of_the_ipv6_rules() {
    let Some(ns) = Ns::new() else { return };
    let p = ns.put("p.toml", PROFILE);
    let off = ns.put("off.toml", &PROFILE.replace("purge = false", "purge = false\nipv6 = false"));
    let run = ns.run(&format!(
        r#"
$H apply --yes -q --profile {p}
echo "=== plan"; $H plan --profile {off}; echo "rc=$?"
echo "=== apply"; $H apply --yes -q --profile {off}; echo "rc=$?"
echo "=== v6"; grep -c '^### tuple' /etc/ufw/user6.rules; grep '^IPV6' /etc/default/ufw; ip6tables -S INPUT | head -1
echo "=== again"; $H plan --profile {off}; echo "rc=$?"
"#
    ));
    let s = sections(&run.stdout);
    let plan = &s["plan"];
    assert!(plan.contains("rc=2"), "{run:?}");
    assert!(plan.contains("IPV6=no") && plan.contains("2 IPv6 rule(s)"), "{run:?}");
    assert!(
        plan.contains("-ufw limit 22/tcp") || plan.contains("remove"),
        "the IPv6 copies are listed as removed: {run:?}"
    );
    assert!(s["apply"].contains("rc=0"), "{run:?}");
    let v6 = &s["v6"];
    assert!(v6.starts_with("0\n") && v6.contains("IPV6=no") && v6.contains("-P INPUT DROP"), "{run:?}");
    assert!(s["again"].contains("rc=0"), "{run:?}");
}

#[test]
fn unverified_ufw_version_needs_force() {
    let Some(root) = Root::new() else { return };
    root.write("/usr/sbin/ufw", "#!/usr/bin/python3\nversion = \"0.35\"\n");
    root.write("/p.toml", PROFILE);
    let p = root.file("/p.toml").display().to_string();
    let r = root.harden(&["apply", "--yes", "--profile", &p]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("ufw 0.35 is installed") && r.stderr.contains("--force"), "{r:?}");
    let r = root.harden(&["apply", "--yes", "--force", "--profile", &p]);
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn bypasses_and_unhooking_are_drift_repaired_without_reload() {
    let Some(ns) = Ns::new() else { return };
    let run = ns.run(
        r#"
P=$P/profiles/web.toml
$H apply -q --yes --profile $P
for cmd in "iptables -I INPUT 1 -j ACCEPT" "iptables -D INPUT -j ufw-before-input" "iptables -F ufw-before-input" "iptables -I ufw-after-input 1 -j ACCEPT" "ip6tables -I INPUT 1 -j ACCEPT"; do
  $cmd
  echo "=== $cmd"; $H check --profile $P; echo "check=$?"
  $H apply -q --yes --profile $P; echo "apply=$?"; $H check -q --profile $P; echo "after=$?"
done
ufw allow 8080/tcp >/dev/null
echo "=== ufw allow"; $H check --profile $P --format json
"#,
    );
    let s = sections(&run.stdout);
    for (cmd, want) in [
        ("iptables -I INPUT 1 -j ACCEPT", "INPUT accepts traffic before ufw's rules: -A INPUT -j ACCEPT"),
        ("iptables -D INPUT -j ufw-before-input", "INPUT does not jump to \"-j ufw-before-input\""),
        ("iptables -F ufw-before-input", "in the files but not in the kernel: -A ufw-before-input -i lo -j ACCEPT"),
        (
            "iptables -I ufw-after-input 1 -j ACCEPT",
            "in the kernel but not in the files (loaded by hand?): -A ufw-after-input -j ACCEPT",
        ),
        ("ip6tables -I INPUT 1 -j ACCEPT", "ip6tables: INPUT accepts traffic before ufw's rules"),
    ] {
        let out = &s[cmd];
        assert!(out.contains(want) && out.contains("check=2"), "{cmd}: {run:?}");
        assert!(out.contains("apply=0") && out.contains("after=0"), "{cmd} is repaired by one apply: {run:?}");
    }
    // An ordinary ufw change is a rule change, not kernel drift.
    let json = &s["ufw allow"];
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    let drift = v["resources"][0]["drift"].as_array().unwrap();
    assert_eq!(drift.len(), 1, "{v}");
    assert_eq!(drift[0]["item"], "firewall.rule");
}

#[test]
fn edited_saved_plan_is_refused() {
    let Some(root) = Root::new() else { return };
    root.write("/p.toml", PROFILE);
    let p = root.file("/p.toml").display().to_string();
    let out = root.file("/plan.json").display().to_string();
    assert_eq!(root.harden(&["plan", "--profile", &p, "--out", &out]).code, 2);
    let mut v: serde_json::Value = serde_json::from_str(&root.read("/plan.json")).unwrap();
    v["plan"]["resources"][0]["actions"]["writes"][0]["content"] =
        serde_json::Value::String("*filter\n-A ufw-user-input -j ACCEPT\nCOMMIT\n".into());
    root.write("/plan.json", &serde_json::to_string(&v).unwrap());
    let before = root.read("/etc/ufw/user.rules");
    let r = root.harden(&["apply", &out, "--yes"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("is not what the profile gives now") && r.stderr.contains("edited"), "{r:?}");
    assert_eq!(root.read("/etc/ufw/user.rules"), before);
}

#[test]
fn crlf_rules_after_a_failed_start_are_fixed_by_one_apply() {
    let Some(ns) = Ns::new() else { return };
    let run = ns.run(
        r#"
P=$P/profiles/web.toml
$H apply -q --yes --profile $P
t=$(mktemp); sed 's/$/\r/' /etc/ufw/user.rules > $t; cat $t > /etc/ufw/user.rules
ufw reload >/dev/null 2>&1
echo "=== check"; $H check --profile $P; echo "rc=$?"
echo "=== apply"; $H apply -q --yes --profile $P; echo "rc=$?"
echo "=== after"; $H check --profile $P; echo "rc=$?"; iptables -S ufw-user-input | grep -c dport
"#,
    );
    let s = sections(&run.stdout);
    assert!(s["check"].contains("CRLF line endings") && s["check"].contains("rc=2"), "{run:?}");
    assert!(s["apply"].contains("rc=0"), "{run:?}");
    assert!(s["after"].contains("rc=0") && s["after"].trim_end().ends_with('6'), "{run:?}");
}

/// Regression: with ufw enabled, plan compares the kernel and read its cold cache file as a
/// plan input, then wrote it; `apply PLANFILE` refused ("kernel-cache/... was created since").
#[test]
fn saved_plan_with_a_cold_kernel_cache_applies() {
    let Some(ns) = Ns::new() else { return };
    let p = ns.put("p.toml", PROFILE);
    let run = ns.run(&format!(
        r#"
ufw --force enable >/dev/null
rm -rf /run/harden/kernel-cache
$H plan --profile {p} --out $W/plan.json >/dev/null 2>&1; echo "planrc=$?"
echo "=== apply"; $H apply $W/plan.json --yes; echo "rc=$?"
"#
    ));
    let s = sections(&run.stdout);
    assert!(run.stdout.contains("planrc=2"), "{run:?}");
    assert!(s["apply"].contains("rc=0"), "{run:?}");
    assert!(!run.stderr.contains("kernel-cache"), "{run:?}");
}
