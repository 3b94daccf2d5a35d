//! Plan the firewall: desired rules and settings against what is observed.
use serde::{Deserialize, Serialize};

use super::desired::{desired_rule, Desired};
use super::merge::{merge, Merged};
use super::observe::{self, Observed, DEFAULTS, UFW_CONF, USER6_RULES, USER_RULES};
use super::rule::Rule;
use super::rulesfile::{self, WriteContext};
use super::{kernel, lockout, LogLevel, Policy};
use crate::plan::{Actions, Change, ChangeKind, FileWrite, Finding, ResourcePlan, View};
use crate::profile::{FirewallSpec, PolicyWord, ProfileError};
use crate::system::{sha256_hex, System};

/// How apply brings the kernel in line after writing the files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadStep {
    /// `ufw --force enable` (the firewall was off).
    Enable,
    /// `ufw disable`.
    Disable,
    /// Load the policy chains and built-in policies with one restore.
    Policies,
    /// `iptables-restore -n` of user.rules (and user6.rules).
    RestoreRules,
    /// `ufw reload`: only for switching IPv6 on or off, which sets up or
    /// tears down all of ufw's ip6tables chains, or when ufw's chains are
    /// missing from the kernel or unhooked.
    Reload,
    /// `iptables-restore -n` of before.rules and after.rules plus ufw's hooks.
    RestoreBeforeAfter,
    /// Fix the built-in chains: delete `kernel_deletes` rules that accept
    /// traffic before ufw, and insert ufw's missing jumps.
    DeleteExtra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirewallActions {
    pub writes: Vec<FileWrite>,
    pub load: Vec<LoadStep>,
    /// Final settings, needed to load policies without re-reading.
    pub input: Policy,
    pub output: Policy,
    pub forward: Policy,
    pub ipv6: bool,
    /// Why apply must refuse unless --allow-lockout.
    pub lockout: Option<String>,
    /// Why apply cannot run at all (e.g. ufw not installed).
    pub blocked: Option<String>,
    /// Install ufw with apt-get first, then plan again.
    #[serde(default)]
    pub install: bool,
    /// A ufw version whose file format is not verified: apply needs --force.
    #[serde(default)]
    pub unverified_version: Option<String>,
    /// Kernel rules to delete: (IPv6, iptables-save line).
    #[serde(default)]
    pub kernel_deletes: Vec<(bool, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Observe(#[from] observe::ObserveError),
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    Sys(#[from] crate::system::SysError),
    #[error("{0}")]
    Other(String),
}

fn word(p: PolicyWord) -> Policy {
    match p {
        PolicyWord::Allow => Policy::Allow,
        PolicyWord::Deny => Policy::Deny,
        PolicyWord::Reject => Policy::Reject,
    }
}

/// `ufw show added`-style list: IPv4 rules, then IPv6 rules not already shown.
/// A rule of one family whose addresses do not say so is marked, since
/// the same `ufw` command would add it to both.
pub fn rules_view(v4: &[Rule], v6: &[Rule]) -> String {
    let twins6: std::collections::HashSet<String> = v6.iter().map(|r| r.tuple_line()).collect();
    let twins4: std::collections::HashSet<String> = v4.iter().map(|r| r.with_family(true).tuple_line()).collect();
    let mut seen = std::collections::HashSet::new();
    let mut out = String::new();
    for r in v4.iter().chain(v6) {
        let mut c = format!("ufw {}", r.command());
        let anywhere = crate::ufw::addr::is_anywhere(&r.src) && crate::ufw::addr::is_anywhere(&r.dst);
        let twin =
            if r.v6 { twins4.contains(&r.tuple_line()) } else { twins6.contains(&r.with_family(true).tuple_line()) };
        let v4_only_proto = r.protocol == "ipv6" || r.protocol == "igmp";
        if anywhere && !twin && !v4_only_proto {
            c.push_str(if r.v6 { "   # IPv6 only" } else { "   # IPv4 only" });
        }
        if seen.insert(c.clone()) {
            out.push_str(&c);
            out.push('\n');
        }
    }
    out
}

fn desired_all(
    o: &Observed,
    spec: &FirewallSpec,
    warnings: &mut Vec<String>,
) -> Result<(Vec<Rule>, Vec<Rule>), ProfileError> {
    let mut v4: Vec<Rule> = Vec::new();
    let mut v6: Vec<Rule> = Vec::new();
    let mut cand: Vec<(Rule, usize)> = Vec::new();
    for (i, r) in spec.rules.iter().enumerate() {
        let Desired { rules, unresolved_app, .. } = desired_rule(o, i, r)?;
        let rules = if unresolved_app {
            // Not installed: take the ports and protocols the existing tuples record.
            let mut found = Vec::new();
            for t in &rules {
                let obs = if t.v6 { &o.v6.rules } else { &o.v4.rules };
                for x in obs.iter().filter(|x| same_app_slot(x, t)) {
                    let mut x = x.clone();
                    x.action = t.action;
                    x.logtype = t.logtype.clone();
                    x.comment = t.comment.clone();
                    found.push(x);
                }
            }
            if found.is_empty() {
                let app = r.app.as_ref().or(r.from_app.as_ref()).expect("unresolved app rule has an app");
                return Err(app.err(format!(
                    "application profile '{}' is not installed (no [{}] section in /etc/ufw/applications.d) and no existing rule records its ports",
                    app.value, app.value
                )));
            }
            found
        } else {
            rules
        };
        cand.extend(rules.into_iter().map(|rule| (rule, i)));
    }
    // Two profile rules that ufw would treat as one: exact repeats are
    // dropped with a warning, others are an error.
    let mut keep = vec![false; cand.len()];
    {
        let mut owner: rustc_hash::FxHashMap<super::rule::MatchKey<'_>, usize> = Default::default();
        for (ci, (rule, i)) in cand.iter().enumerate() {
            match owner.get(&rule.key()) {
                Some(&cj) => {
                    let (other, j) = &cand[cj];
                    if other == rule {
                        if j != i {
                            warnings.push(format!(
                                "{}: duplicate of the rule at {}; ignored",
                                spec.rules[*i].at, spec.rules[*j].at
                            ));
                        }
                        continue;
                    }
                    return Err(ProfileError {
                        at: spec.rules[*i].at.clone(),
                        message: format!(
                            "this rule and the one at {} are the same rule to ufw (`ufw {}`), differing only in action, log or comment; ufw keeps one, so keep one",
                            spec.rules[*j].at,
                            rule.command()
                        ),
                    });
                }
                None => {
                    owner.insert(rule.key(), ci);
                    keep[ci] = true;
                }
            }
        }
    }
    for ((rule, _), k) in cand.into_iter().zip(keep) {
        if k {
            if rule.v6 {
                v6.push(rule)
            } else {
                v4.push(rule)
            }
        }
    }
    Ok((v4, v6))
}

fn same_app_slot(x: &Rule, p: &Rule) -> bool {
    x.dapp == p.dapp
        && x.sapp == p.sapp
        && x.src == p.src
        && x.dst == p.dst
        && x.iface_in == p.iface_in
        && x.iface_out == p.iface_out
        && x.direction == p.direction
        && x.forward == p.forward
        && x.v6 == p.v6
}

fn rule_changes(m4: &Merged, m6: &Merged, changes: &mut Vec<Change>) {
    // One change per command text, whatever the families.
    let mut seen = std::collections::HashSet::new();
    let mut push = |kind: ChangeKind, item: &str, summary: String, expected: Option<String>, actual: Option<String>| {
        if seen.insert((kind, summary.clone())) {
            changes.push(Change { kind, item: item.into(), summary, expected, actual, labels: Default::default() });
        }
    };
    for m in [m4, m6] {
        for r in &m.added {
            let c = format!("ufw {}", r.command());
            push(ChangeKind::Add, "firewall.rule", c.clone(), Some(c), None);
        }
    }
    for m in [m4, m6] {
        for (o, n) in &m.updated {
            push(
                ChangeKind::Change,
                "firewall.rule",
                format!("ufw {}", n.command()),
                Some(format!("ufw {}", n.command())),
                Some(format!("ufw {}", o.command())),
            );
        }
    }
    for m in [m4, m6] {
        for r in &m.moved {
            let c = format!("ufw {}", r.command());
            push(ChangeKind::Change, "firewall.rule.position", format!("move: {c}"), Some(c.clone()), Some(c));
        }
    }
    for m in [m4, m6] {
        for r in &m.removed {
            let c = format!("ufw {}", r.command());
            push(ChangeKind::Remove, "firewall.rule", c.clone(), None, Some(c));
        }
    }
}

fn pristine(text: &str) -> bool {
    // The package's user.rules/user6.rules before ufw first writes them.
    !text.contains("### LOGGING ###") && !text.contains("### tuple ###")
}

/// Plan the firewall resource.
pub fn plan(sys: &System, spec: &FirewallSpec) -> Result<ResourcePlan, PlanError> {
    let o = observe::observe(sys)?;
    let mut changes = Vec::new();
    let mut findings = Vec::new();
    let mut warnings = Vec::new();
    let mut views = Vec::new();
    let empty = |blocked: Option<String>, install: bool| FirewallActions {
        writes: vec![],
        load: vec![],
        input: Policy::Deny,
        output: Policy::Allow,
        forward: Policy::Deny,
        ipv6: o.ipv6,
        lockout: None,
        blocked,
        install,
        unverified_version: None,
        kernel_deletes: vec![],
    };
    if !o.installed {
        let can_install = spec.install.unwrap_or(true) && sys.is_live() && sys.has_program("apt-get");
        if can_install {
            changes.push(Change {
                labels: Default::default(),
                kind: ChangeKind::Add,
                item: "firewall.install".into(),
                summary: "install ufw (apt-get install -y ufw), then plan the rest".into(),
                expected: Some("installed".into()),
                actual: Some("not installed".into()),
            });
        } else {
            let why = if !spec.install.unwrap_or(true) {
                "`install = false` in the profile"
            } else if !sys.is_live() {
                "harden never installs packages under a --root other than /"
            } else {
                "no apt-get on this system"
            };
            findings.push(Finding {
                id: "firewall.not_installed".into(),
                message: format!("ufw is not installed: {} does not exist ({why})", sys.path(UFW_CONF).display()),
                location: None,
                remedy: Some("install it (apt-get install ufw), then run harden apply again".into()),
            });
        }
        let blocked = (!can_install)
            .then(|| "ufw is not installed; install it with `apt-get install ufw` and run apply again".to_string());
        return Ok(ResourcePlan {
            resource: "firewall".into(),
            changes,
            findings,
            warnings,
            views,
            actions: Actions::Firewall(empty(blocked, can_install)),
        });
    }
    let unverified_version = match &o.version {
        Some(v) if !observe::VERIFIED_VERSIONS.contains(&v.as_str()) => {
            warnings.push(format!(
                "ufw {} is installed; harden writes only the formats of ufw {}: apply needs --force",
                if v.is_empty() { "(no version)" } else { v },
                observe::VERIFIED_VERSIONS.join(" and ")
            ));
            Some(v.clone())
        }
        Some(_) => None,
        None if sys.is_live() => Some("unknown".into()),
        None => {
            warnings.push(format!(
                "ufw version unknown under {} (no /usr/sbin/ufw): files are written in ufw 0.36.2's format",
                sys.root().display()
            ));
            None
        }
    };
    if o.version.as_deref() == Some("0.36.1")
        && spec.rules.iter().any(|r| r.proto.as_ref().is_some_and(|p| p.value == "vrrp"))
    {
        return Err(PlanError::Other("ufw 0.36.1 does not support proto vrrp (added in 0.36.2)".into()));
    }
    // IPv6: with IPV6=no, ufw keeps no IPv6 rules; switching it off is shown
    // as the removal of every IPv6 rule, never a silent loss.
    let ipv6 = spec.ipv6.unwrap_or(o.ipv6);
    let mut od = o.clone();
    od.ipv6 = ipv6;
    // A user6.rules written with IPV6=no lacks the limit chains; the kernel
    // supports them for both families alike, so IPv4's file tells.
    od.limit6 = ipv6 && if sys.is_live() { o.limit4 } else { o.v6.declares_limit || !o.v6.written_by_ufw || o.limit4 };
    let o_for_desired = od;

    // Settings.
    let enabled = spec.enabled.unwrap_or(o.enabled);
    let loglevel =
        spec.logging.as_ref().and_then(|l| LogLevel::parse(&l.value)).or(o.loglevel).unwrap_or(LogLevel::Low);
    let pol = |f: &Option<crate::profile::Field<PolicyWord>>, cur: Option<Policy>, dflt: Policy| {
        f.as_ref().map(|f| word(f.value)).or(cur).unwrap_or(dflt)
    };
    let input = pol(&spec.defaults.incoming, o.input, Policy::Deny);
    let output = pol(&spec.defaults.outgoing, o.output, Policy::Allow);
    let forward = pol(&spec.defaults.routed, o.forward, Policy::Deny);

    // Rules.
    let (d4, d6) = desired_all(&o_for_desired, spec, &mut warnings)?;
    let keep = globset_of(&spec.keep)?;
    let keep_fn = |r: &Rule| {
        let c = r.comment_text();
        !c.is_empty() && keep.is_match(&c)
    };
    let m4 = merge(&o.v4.rules, &d4, spec.purge, &keep_fn);
    let m6 = if ipv6 {
        // Dormant rules (IPV6 was no) come back; purge decides as usual.
        merge(&o.v6.rules, &d6, spec.purge, &keep_fn)
    } else {
        merge(&o.v6.rules, &[], o.ipv6, &|_| false)
    };
    rule_changes(&m4, &m6, &mut changes);

    if m4.rules != o.v4.rules || m6.rules != o.v6.rules {
        let before = rules_view(&o.v4.rules, &o.v6.rules);
        let after = rules_view(&m4.rules, &m6.rules);
        views.push(View { title: "firewall rules".into(), before, after, verbose: false });
    }

    // Settings changes.
    let mut conf = o.conf.clone();
    let mut defaults = o.defaults.clone();
    if enabled != o.enabled {
        changes.push(Change {
            labels: Default::default(),
            kind: ChangeKind::Change,
            item: "firewall.enabled".into(),
            summary: if enabled { "ufw enable".into() } else { "ufw disable".into() },
            expected: Some(enabled.to_string()),
            actual: Some(o.enabled.to_string()),
        });
        conf.set("ENABLED", if enabled { "yes" } else { "no" });
    }
    if Some(loglevel) != o.loglevel {
        changes.push(Change {
            labels: Default::default(),
            kind: ChangeKind::Change,
            item: "firewall.logging".into(),
            summary: format!("ufw logging {}", loglevel.as_str()),
            expected: Some(loglevel.as_str().into()),
            actual: Some(
                o.loglevel
                    .map(|l| l.as_str().to_string())
                    .unwrap_or_else(|| conf.get_raw("LOGLEVEL").unwrap_or("unset").to_string()),
            ),
        });
        conf.set("LOGLEVEL", loglevel.as_str());
    }
    if ipv6 != o.ipv6 {
        let removed = m6.removed.len();
        changes.push(Change {
            labels: Default::default(),
            kind: ChangeKind::Change,
            item: "firewall.ipv6".into(),
            summary: if ipv6 {
                "IPV6=yes in /etc/default/ufw (ufw loads user6.rules again)".into()
            } else {
                format!("IPV6=no in /etc/default/ufw: ufw keeps no IPv6 rules, so the {removed} IPv6 rule(s) above are removed")
            },
            expected: Some(if ipv6 { "yes" } else { "no" }.into()),
            actual: Some(if o.ipv6 { "yes" } else { "no" }.into()),
        });
        defaults.set("IPV6", if ipv6 { "yes" } else { "no" });
    }
    let mut policy_changed = false;
    for (key, dir, want, cur) in [
        ("DEFAULT_INPUT_POLICY", "incoming", input, o.input),
        ("DEFAULT_OUTPUT_POLICY", "outgoing", output, o.output),
        ("DEFAULT_FORWARD_POLICY", "routed", forward, o.forward),
    ] {
        let raw = defaults.get_raw(key).map(str::to_string);
        // ufw-init (shell) compares the uppercase word; quotes are optional.
        let exact = raw.as_deref().is_some_and(|r| r.trim_matches('"') == want.target());
        // A value ufw-init (shell) cannot use is rewritten even when the
        // profile does not name it: the firewall would not start as written.
        if Some(want) != cur || !exact {
            let actual = raw.clone().unwrap_or_else(|| "unset".into());
            let summary = if Some(want) == cur {
                format!(
                    "ufw default {} {dir} (rewrite {key}={actual} as {}: ufw-init, a shell script, only understands the uppercase word, so the kernel keeps ACCEPT)",
                    want.as_str(),
                    want.file_value()
                )
            } else {
                format!("ufw default {} {dir}", want.as_str())
            };
            changes.push(Change {
                labels: Default::default(),
                kind: ChangeKind::Change,
                item: format!("firewall.policy.{dir}"),
                summary,
                expected: Some(want.as_str().into()),
                actual: Some(cur.map(|c| c.as_str().to_string()).unwrap_or(actual)),
            });
            defaults.set(key, want.file_value());
            policy_changed = true;
        }
    }

    // Files.
    let ctx = |limit: bool| WriteContext { loglevel, input, output, forward, limit, ipv6 };
    let new4 = rulesfile::write(&m4.rules, false, &ctx(o.limit4));
    let new6 = if ipv6 {
        rulesfile::write(&m6.rules, true, &ctx(o_for_desired.limit6))
    } else if o.ipv6 {
        // What ufw writes with IPV6=no: no rules, no logging, no limit chains.
        rulesfile::write(&[], true, &ctx(false))
    } else {
        o.v6_text.clone()
    };
    // A file whose generated lines disagree with its tuples is drift of its own.
    let octx = |limit: bool| WriteContext {
        loglevel: o.loglevel.unwrap_or(LogLevel::Low),
        input: o.input.unwrap_or(Policy::Deny),
        output: o.output.unwrap_or(Policy::Allow),
        forward: o.forward.unwrap_or(Policy::Deny),
        limit,
        ipv6: o.ipv6,
    };
    for (path, text, rules, limit, v6) in
        [(USER_RULES, &o.v4_text, &o.v4.rules, o.limit4, false), (USER6_RULES, &o.v6_text, &o.v6.rules, o.limit6, true)]
    {
        if v6 && !o.ipv6 {
            continue;
        }
        // When nothing changes, the planned file is this regeneration already.
        let same = octx(limit) == ctx(limit) && if v6 { &m6.rules } else { &m4.rules } == rules;
        let regen = match (same, v6) {
            (true, false) => new4.clone(),
            (true, true) => new6.clone(),
            _ => rulesfile::write(rules, v6, &octx(limit)),
        };
        if &regen != text && !pristine(text) {
            let rules_part =
                |t: &str| t.replace("\r\n", "\n").split("### END RULES ###").next().unwrap_or("").to_string();
            let why = if text.contains('\r') {
                "it has CRLF line endings, which iptables-restore refuses"
            } else if rules_part(&regen) == rules_part(text) {
                "its logging section does not match the logging level and default policies"
            } else {
                "its iptables lines do not match its tuples (hand edit, older ufw, or missing limit chains)"
            };
            changes.push(Change {
                labels: Default::default(),
                kind: ChangeKind::Change,
                item: "firewall.rules_file".into(),
                summary: format!("regenerate {path}: {why}"),
                expected: Some(sha256_hex(regen.as_bytes())),
                actual: Some(sha256_hex(text.as_bytes())),
            });
        }
    }

    // The live kernel must carry what the current files say; changes to the
    // files are loaded anyway.
    let mut repairs: Vec<kernel::Repair> = Vec::new();
    let mut kernel_deletes: Vec<(bool, String)> = Vec::new();
    if enabled && o.enabled && ipv6 == o.ipv6 && sys.is_live() {
        let cur =
            (o.input.unwrap_or(Policy::Deny), o.output.unwrap_or(Policy::Allow), o.forward.unwrap_or(Policy::Deny));
        for (v6, user, alt) in [(false, &o.v4_text, &new4), (true, &o.v6_text, &new6)] {
            if v6 && !ipv6 {
                continue;
            }
            let t = if v6 { "6" } else { "" };
            let before = sys.read_text(&format!("/etc/ufw/before{t}.rules"))?.unwrap_or_default();
            let after = sys.read_text(&format!("/etc/ufw/after{t}.rules"))?.unwrap_or_default();
            let files = kernel::Files { before: &before, after: &after, user };
            for d in kernel::compare(sys, v6, &files, alt, cur).unwrap_or_default() {
                repairs.push(d.repair);
                if let Some(l) = &d.line {
                    kernel_deletes.push((d.v6, l.clone()));
                }
                changes.push(Change {
                    labels: Default::default(),
                    kind: ChangeKind::Change,
                    item: "firewall.kernel".into(),
                    summary: format!("load the files into the kernel: {}", d.what),
                    expected: Some("the kernel carries what ufw's files load".into()),
                    actual: Some(d.what.clone()),
                });
            }
        }
    }

    let mut writes = Vec::new();
    let mut files_changed = false;
    for (path, old, new, mode) in [
        (USER_RULES, o.v4_text.clone(), new4, 0o640),
        (USER6_RULES, o.v6_text.clone(), new6, 0o640),
        (UFW_CONF, o.conf.text.clone(), conf.text.clone(), 0o644),
        (DEFAULTS, o.defaults.text.clone(), defaults.text.clone(), 0o644),
    ] {
        if old != new && !(pristine(&old) && path.ends_with(".rules") && changes.is_empty()) {
            views.push(View {
                title: sys.path(path).display().to_string(),
                before: old.clone(),
                after: new.clone(),
                verbose: true,
            });
            if path.ends_with(".rules") {
                files_changed = true;
            }
            writes.push(FileWrite { path: path.into(), base_sha256: sha256_hex(old.as_bytes()), content: new, mode });
        }
    }
    if changes.is_empty() {
        writes.clear();
        views.clear();
    }

    // Loading.
    let mut load = Vec::new();
    if !changes.is_empty() {
        if enabled && !o.enabled {
            load.push(LoadStep::Enable);
        } else if !enabled && o.enabled {
            load.push(LoadStep::Disable);
        } else if enabled && ipv6 != o.ipv6 {
            load.push(LoadStep::Reload);
        } else if enabled && repairs.contains(&kernel::Repair::Reload) {
            // ufw's chains are missing or unhooked: only ufw's own start
            // rebuilds them (a reload: stop, then start).
            load.push(LoadStep::Reload);
        } else if enabled {
            if repairs.contains(&kernel::Repair::DeleteExtra) || repairs.contains(&kernel::Repair::Hooks) {
                load.push(LoadStep::DeleteExtra);
            }
            if repairs.contains(&kernel::Repair::BeforeAfter) {
                load.push(LoadStep::RestoreBeforeAfter);
            }
            if policy_changed || repairs.contains(&kernel::Repair::Policies) {
                load.push(LoadStep::Policies);
            }
            if files_changed || policy_changed || !repairs.is_empty() {
                load.push(LoadStep::RestoreRules);
            }
        }
    }

    let lock = if enabled { lockout::check(sys, &m4.rules, &m6.rules, input)? } else { None };
    if let Some(l) = &lock {
        if !changes.is_empty() {
            warnings.push(format!("lockout guard: {l}; apply refuses this plan unless --allow-lockout"));
        }
    }
    if sys.has_program("docker") && sys.exists("/var/run/docker.sock") {
        warnings.push("docker is present: ports it publishes bypass ufw (NAT and FORWARD)".into());
    }

    let mut seen = std::collections::HashSet::new();
    warnings.retain(|w| seen.insert(w.clone()));
    Ok(ResourcePlan {
        resource: "firewall".into(),
        changes,
        findings,
        warnings,
        views,
        actions: Actions::Firewall(FirewallActions {
            writes,
            load,
            input,
            output,
            forward,
            ipv6,
            lockout: lock,
            blocked: None,
            install: false,
            unverified_version,
            kernel_deletes,
        }),
    })
}

fn globset_of(globs: &[String]) -> Result<globset::GlobSet, PlanError> {
    let mut b = globset::GlobSetBuilder::new();
    for g in globs {
        b.add(globset::Glob::new(g).map_err(|e| PlanError::Other(format!("bad keep glob '{g}': {e}")))?);
    }
    b.build().map_err(|e| PlanError::Other(e.to_string()))
}
