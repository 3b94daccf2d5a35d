//! The running ruleset is part of the state: on a live system the kernel
//! must carry what ufw's files say. The expected ruleset is what ufw-init's
//! start loads from the current files (skeleton, policy chains, before.rules,
//! after.rules, user.rules, hooks), put into the kernel's own words by
//! loading it into a scratch network namespace and reading it back.
use std::collections::BTreeMap;

use super::apply::policy_restore;
use super::Policy;
use crate::system::System;

/// One family's filter table: chain -> (policy, rules).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Table {
    pub chains: BTreeMap<String, (String, Vec<String>)>,
}

pub fn parse_save(text: &str) -> Table {
    let mut t = Table::default();
    let mut in_filter = false;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix('*') {
            in_filter = name.trim() == "filter";
            continue;
        }
        if !in_filter {
            continue;
        }
        if let Some(rest) = line.strip_prefix(':') {
            let mut it = rest.split_whitespace();
            if let (Some(c), Some(p)) = (it.next(), it.next()) {
                t.chains.entry(c.to_string()).or_default().0 = p.to_string();
            }
        } else if let Some(rest) = line.strip_prefix("-A ") {
            let chain = rest.split_whitespace().next().unwrap_or("").to_string();
            t.chains.entry(chain).or_default().1.push(line.to_string());
        }
    }
    t
}

/// How a difference is repaired without a full reload where possible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Repair {
    /// `iptables-restore -n` of user.rules.
    UserRules,
    /// The policy chains and built-in policies.
    Policies,
    /// `iptables-restore -n` of before.rules and after.rules, then ufw's hooks.
    BeforeAfter,
    /// Delete rules that let traffic past ufw.
    DeleteExtra,
    /// Put back ufw's jumps in a built-in chain, at their places (ufw's own
    /// reload cannot: it keeps the built-in chains as they are).
    Hooks,
    /// ufw's chains are missing or unhooked: ufw's own start or reload.
    Reload,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    pub v6: bool,
    pub what: String,
    pub repair: Repair,
    /// For DeleteExtra: the iptables-save line to delete; for Hooks: the
    /// `-I CHAIN N ...` line that puts a jump back.
    pub line: Option<String>,
}

fn category(chain: &str) -> Repair {
    let c = chain.trim_start_matches("ufw6-").trim_start_matches("ufw-");
    if c.starts_with("user-") || c.contains("logging-") {
        Repair::UserRules
    } else if c.starts_with("reject-") || c.starts_with("track-") || c.starts_with("skip-to-policy-") {
        Repair::Policies
    } else {
        Repair::BeforeAfter
    }
}

fn builtin(p: Policy) -> &'static str {
    if p == Policy::Reject {
        "DROP"
    } else {
        p.target()
    }
}

/// ufw-init's skeleton: its primary chains and the jumps from the built-ins.
fn skeleton(t: &str) -> String {
    let mut s = String::from("*filter\n");
    let dirs = ["input", "output", "forward"];
    for kind in ["before-logging", "before", "after", "after-logging", "reject", "track"] {
        for d in dirs {
            s += &format!(":ufw{t}-{kind}-{d} - [0:0]\n");
        }
    }
    // ufw-init creates these before before.rules, which jumps to them.
    s += &format!(":ufw{t}-logging-deny - [0:0]\n:ufw{t}-logging-allow - [0:0]\n");
    for (b, d) in [("INPUT", "input"), ("OUTPUT", "output"), ("FORWARD", "forward")] {
        for kind in ["before-logging", "before", "after", "after-logging", "reject", "track"] {
            s += &format!("-A {b} -j ufw{t}-{kind}-{d}\n");
        }
    }
    s + "COMMIT\n"
}

/// The files that make up one family's ruleset.
pub struct Files<'a> {
    pub before: &'a str,
    pub after: &'a str,
    pub user: &'a str,
}

/// The restore input of ufw's start for these files.
pub fn start_stream(v6: bool, f: &Files, pol: (Policy, Policy, Policy)) -> String {
    let t = if v6 { "6" } else { "" };
    format!(
        "{}{}{}{}{}*filter\n-A ufw{t}-before-input -j ufw{t}-user-input\n-A ufw{t}-before-output -j ufw{t}-user-output\n-A ufw{t}-before-forward -j ufw{t}-user-forward\nCOMMIT\n",
        skeleton(t),
        policy_restore(v6, pol.0, pol.1, pol.2),
        f.before,
        f.after,
        f.user
    )
}

/// The restore input that repairs ufw's before/after chains (declared in
/// those files, so flushed and refilled) and re-adds the hooks to the user chains.
pub fn before_after_stream(v6: bool, before: &str, after: &str) -> String {
    let t = if v6 { "6" } else { "" };
    format!(
        "{before}{after}*filter\n-A ufw{t}-before-input -j ufw{t}-user-input\n-A ufw{t}-before-output -j ufw{t}-user-output\n-A ufw{t}-before-forward -j ufw{t}-user-forward\nCOMMIT\n"
    )
}

fn expected(sys: &System, v6: bool, stream: &str) -> Option<Table> {
    let (restore, save) =
        if v6 { ("ip6tables-restore", "ip6tables-save") } else { ("iptables-restore", "iptables-save") };
    // The kernel's words for a given input depend only on the input and the
    // iptables build: cache them in /run (tmpfs), keyed by both.
    let tool = ["/usr/sbin/xtables-nft-multi", "/usr/sbin/xtables-legacy-multi", "/usr/sbin/iptables"]
        .iter()
        .find_map(|p| std::fs::metadata(p).ok().map(|m| format!("{p}:{}:{:?}", m.len(), m.modified().ok())))
        .unwrap_or_default();
    let key = crate::system::sha256_hex(format!("{save}\n{tool}\n{stream}").as_bytes());
    let cache = format!("/run/harden/kernel-cache/{key}.save");
    // harden's own cache: not an input a saved plan may be refused over.
    if let Ok(Some(text)) = sys.read_text_unrecorded(&cache) {
        return Some(parse_save(&text));
    }
    let script = format!("{restore} -n && {save} -t filter");
    let out = sys.run("unshare", &["--net", "--", "sh", "-c", &script], Some(stream.as_bytes())).ok()?;
    if !out.ok() {
        return None;
    }
    let _ = sys.write_atomic(&cache, out.stdout.as_bytes(), 0o600);
    Some(parse_save(&out.stdout))
}

/// Compare the kernel with what the files load. `alt_user` is tried when the
/// current user.rules does not load at all (a CRLF file): the planned one.
/// None when the kernel cannot be read (no iptables, no namespaces).
pub fn compare(
    sys: &System,
    v6: bool,
    files: &Files,
    alt_user: &str,
    pol: (Policy, Policy, Policy),
) -> Option<Vec<Drift>> {
    if !sys.is_live() || !sys.has_program("iptables-save") || !sys.has_program("unshare") {
        return None;
    }
    let save = if v6 { "ip6tables-save" } else { "iptables-save" };
    let out = sys.run(save, &["-t", "filter"], None).ok()?;
    if !out.ok() {
        return None;
    }
    let kernel = parse_save(&out.stdout);
    let want = expected(sys, v6, &start_stream(v6, files, pol))
        .or_else(|| expected(sys, v6, &start_stream(v6, &Files { user: alt_user, ..*files }, pol)))?;
    let fam = if v6 { "ip6tables" } else { "iptables" };
    let p = if v6 { "ufw6" } else { "ufw" };
    let mut drift = Vec::new();
    let mut push = |what: String, repair: Repair, line: Option<String>| {
        drift.push(Drift { v6, what: format!("{fam}: {what}"), repair, line })
    };
    if !kernel.chains.contains_key(&format!("{p}-user-input"))
        || !kernel.chains.contains_key(&format!("{p}-before-input"))
    {
        push("ufw is enabled but its chains are not in the kernel (a failed ufw start?)".into(), Repair::Reload, None);
        return Some(drift);
    }
    for (chain, pol) in [("INPUT", pol.0), ("OUTPUT", pol.1), ("FORWARD", pol.2)] {
        let (kp, klines) = kernel.chains.get(chain).cloned().unwrap_or_default();
        if kp != builtin(pol) {
            push(
                format!("{chain} policy is {kp} in the kernel, the files say {}", builtin(pol)),
                Repair::Policies,
                None,
            );
        }
        let wlines = want.chains.get(chain).map(|c| c.1.clone()).unwrap_or_default();
        // ufw's jumps must all be there, in order: a missing one goes back
        // right after the jump that precedes it.
        let mut fixed = klines.clone();
        for (i, w) in wlines.iter().enumerate() {
            if fixed.contains(w) {
                continue;
            }
            let pos =
                wlines[..i].iter().rev().find_map(|prev| fixed.iter().position(|k| k == prev)).map_or(0, |p| p + 1);
            fixed.insert(pos, w.clone());
            let rule = w.strip_prefix(&format!("-A {chain} ")).unwrap_or(w);
            push(
                format!("{chain} does not jump to {rule:?} (unhooked from ufw)"),
                Repair::Hooks,
                Some(format!("-I {chain} {} {rule}", pos + 1)),
            );
        }
        // ...and nothing may accept traffic before ufw has seen it.
        let first_ufw = klines.iter().position(|k| wlines.contains(k)).unwrap_or(klines.len());
        for k in &klines[..first_ufw] {
            if k.ends_with("-j ACCEPT") {
                push(format!("{chain} accepts traffic before ufw's rules: {k}"), Repair::DeleteExtra, Some(k.clone()));
            }
        }
    }
    for (chain, (_, lines)) in &want.chains {
        if matches!(chain.as_str(), "INPUT" | "OUTPUT" | "FORWARD") {
            continue;
        }
        let have = kernel.chains.get(chain).map(|c| c.1.clone()).unwrap_or_default();
        if &have == lines {
            continue;
        }
        let repair = category(chain);
        let mut any = false;
        for l in have.iter().filter(|l| !lines.contains(l)) {
            push(format!("in the kernel but not in the files (loaded by hand?): {l}"), repair, None);
            any = true;
        }
        for l in lines.iter().filter(|l| !have.contains(l)) {
            push(format!("in the files but not in the kernel: {l}"), repair, None);
            any = true;
        }
        if !any {
            push(format!("{chain}: the same rules in another order"), repair, None);
        }
    }
    Some(drift)
}
