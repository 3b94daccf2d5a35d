//! The running ruleset is part of the state: on a live system the kernel
//! must carry what ufw's files say. The expected ruleset is put into the
//! kernel's own words by loading the planned files into a scratch network
//! namespace and reading it back with iptables-save.
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

/// A difference between the kernel and the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// ufw's chains are not in the kernel at all (a failed or missing start).
    NotLoaded {
        v6: bool,
    },
    Policy {
        v6: bool,
        chain: String,
        kernel: String,
        files: String,
    },
    Extra {
        v6: bool,
        line: String,
    },
    Missing {
        v6: bool,
        line: String,
    },
}

impl Drift {
    pub fn describe(&self) -> String {
        let fam = |v6: &bool| if *v6 { "ip6tables" } else { "iptables" };
        match self {
            Drift::NotLoaded { v6 } => {
                format!("{}: ufw is enabled but its chains are not in the kernel (a failed ufw start?)", fam(v6))
            }
            Drift::Policy { v6, chain, kernel, files } => {
                format!("{}: {chain} policy is {kernel} in the kernel, the files say {files}", fam(v6))
            }
            Drift::Extra { v6, line } => {
                format!("{}: in the kernel but not in the files (loaded by hand?): {line}", fam(v6))
            }
            Drift::Missing { v6, line } => format!("{}: in the files but not in the kernel: {line}", fam(v6)),
        }
    }
    pub fn is_policy(&self) -> bool {
        matches!(self, Drift::Policy { .. })
    }
    pub fn not_loaded(&self) -> bool {
        matches!(self, Drift::NotLoaded { .. })
    }
}

fn builtin(p: Policy) -> &'static str {
    if p == Policy::Reject {
        "DROP"
    } else {
        p.target()
    }
}

/// The expected filter table for the planned files, in iptables-save's words.
fn expected(sys: &System, rules: &str, v6: bool, pol: (Policy, Policy, Policy)) -> Option<Table> {
    let (restore, save) =
        if v6 { ("ip6tables-restore", "ip6tables-save") } else { ("iptables-restore", "iptables-save") };
    let input = format!("{rules}{}", policy_restore(v6, pol.0, pol.1, pol.2));
    let script = format!("{restore} -n && {save} -t filter");
    let out = sys.run("unshare", &["--net", "--", "sh", "-c", &script], Some(input.as_bytes())).ok()?;
    out.ok().then(|| parse_save(&out.stdout))
}

/// Compare the kernel with the planned files. None when the kernel cannot
/// be read (no iptables, not root, no namespaces): then nothing is claimed.
pub fn compare(
    sys: &System,
    v4_rules: &str,
    v6_rules: Option<&str>,
    pol: (Policy, Policy, Policy),
) -> Option<Vec<Drift>> {
    if !sys.is_live() || !sys.has_program("iptables-save") || !sys.has_program("unshare") {
        return None;
    }
    let mut drift = Vec::new();
    for (v6, text) in [(false, Some(v4_rules)), (true, v6_rules)] {
        let Some(text) = text else { continue };
        let save = if v6 { "ip6tables-save" } else { "iptables-save" };
        let out = sys.run(save, &["-t", "filter"], None).ok()?;
        if !out.ok() {
            return None;
        }
        let kernel = parse_save(&out.stdout);
        let want = expected(sys, text, v6, pol)?;
        let p = if v6 { "ufw6" } else { "ufw" };
        if !kernel.chains.contains_key(&format!("{p}-user-input")) {
            drift.push(Drift::NotLoaded { v6 });
            continue;
        }
        for (chain, files) in [("INPUT", builtin(pol.0)), ("OUTPUT", builtin(pol.1)), ("FORWARD", builtin(pol.2))] {
            let k = kernel.chains.get(chain).map(|c| c.0.clone()).unwrap_or_default();
            if k != files {
                drift.push(Drift::Policy { v6, chain: chain.into(), kernel: k, files: files.into() });
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
            for l in &have {
                if !lines.contains(l) {
                    drift.push(Drift::Extra { v6, line: l.clone() });
                }
            }
            for l in lines {
                if !have.contains(l) {
                    drift.push(Drift::Missing { v6, line: l.clone() });
                }
            }
            if have.iter().all(|l| lines.contains(l)) && lines.iter().all(|l| have.contains(l)) {
                drift.push(Drift::Missing { v6, line: format!("{chain}: same rules in another order") });
            }
        }
    }
    Some(drift)
}
