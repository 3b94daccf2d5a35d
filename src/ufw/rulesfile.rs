//! user.rules / user6.rules: reading the tuples the way ufw's `_read_rules`
//! does, and writing the whole file the way ufw's `_write_rules` does.
use super::addr::{self, Family};
use super::ports::{self, Services};
use super::rule::{hex_decode, Action, Rule};
use super::LogLevel;
use super::Policy;

/// A tuple ufw would refuse, or a file ufw (or iptables-restore) cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesFileError {
    #[error("malformed tuple ({why}): {text}; ufw would skip it and drop it on its next write")]
    Tuple { line: usize, why: String, text: String },
    #[error(
        "invalid hex comment '{hex}' (ufw status would crash on it): delete the rule and add it again with its comment"
    )]
    Comment { line: usize, hex: String },
    #[error("the file is truncated or not a ufw rules file ({0}); restore it from a backup or from /usr/share/ufw/iptables/")]
    Structure(String),
    #[error("the file does not exist; restore it from /usr/share/ufw/iptables/ or reinstall ufw")]
    Missing,
}

impl RulesFileError {
    pub fn line(&self) -> Option<usize> {
        match self {
            RulesFileError::Tuple { line, .. } | RulesFileError::Comment { line, .. } => Some(*line),
            RulesFileError::Structure(_) | RulesFileError::Missing => None,
        }
    }
}

/// A parsed rules file.
#[derive(Debug, Clone, Default)]
pub struct RulesFile {
    pub rules: Vec<Rule>,
    /// 1-based line of each rule's tuple.
    pub lines: Vec<usize>,
    /// `:ufw[6]-user-limit` is declared (ufw found xt_recent when it wrote the file).
    pub declares_limit: bool,
    /// The file carries ufw's LOGGING section (the CLI has written it at least once).
    pub written_by_ufw: bool,
    pub crlf: bool,
}

fn tuple_err(line: usize, why: &str, text: &str) -> RulesFileError {
    RulesFileError::Tuple { line, why: why.to_string(), text: text.trim().to_string() }
}

fn valid_iface(name: &str) -> Result<(), &'static str> {
    if name.contains('!') {
        return Err("reserved character '!' in interface");
    }
    if name.contains(':') {
        return Err("interface aliases (':') are not allowed");
    }
    if name == "." || name == ".." {
        return Err("interface cannot be '.' or '..'");
    }
    if name.is_empty() {
        return Err("empty interface name");
    }
    if name.len() > 15 {
        return Err("interface name longer than 15 characters");
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.+,=%@".contains(&b)) {
        return Err("bad character in interface name");
    }
    Ok(())
}

/// Interface names as ufw validates them (set_interface).
pub fn check_iface(name: &str) -> Result<(), String> {
    valid_iface(name).map_err(str::to_string)
}

/// Parse one tuple (the text after `### tuple ###`) into a rule of the
/// file's family, with the checks of ufw's UFWRule constructor.
fn parse_tuple(line_no: usize, orig: &str, v6: bool, services: &Services) -> Result<Rule, RulesFileError> {
    let mut line = orig;
    let mut comment = String::new();
    if let Some((l, hex)) = orig.split_once(" comment=") {
        if hex.contains(" comment=") {
            return Err(tuple_err(line_no, "more than one comment", orig));
        }
        line = l;
        comment = hex.trim().to_string();
        if hex_decode(&comment).is_none() {
            return Err(RulesFileError::Comment { line: line_no, hex: comment });
        }
    }
    let tupl = line.trim_start_matches("### tuple ###").trim();
    let f: Vec<&str> = tupl.split_whitespace().collect();
    if f.len() < 6 || f.len() > 9 {
        return Err(tuple_err(line_no, "bad length", orig));
    }
    let mut direction = "in".to_string();
    let (mut iface_in, mut iface_out) = (String::new(), String::new());
    if f.len() == 7 || f.len() == 9 {
        let last = f[f.len() - 1];
        direction = last.split('_').next().unwrap_or("").to_string();
        if last.contains('_') {
            let has = |p: &str| {
                last.match_indices(p)
                    .any(|(i, _)| last[i + p.len()..].chars().next().is_some_and(|c| c.is_alphanumeric() || c == '_'))
            };
            if last.contains('!') && has("in_") && has("out_") {
                let mut it = last.split('!');
                iface_in = it.next().unwrap_or("").split_once('_').map(|x| x.1).unwrap_or("").to_string();
                iface_out = it.next().unwrap_or("").split_once('_').map(|x| x.1).unwrap_or("").to_string();
            } else if let Some(i) = last.strip_prefix("in_") {
                iface_in = i.to_string();
            } else if let Some(o) = last.strip_prefix("out_") {
                iface_out = o.to_string();
            } else {
                return Err(tuple_err(line_no, "iface", orig));
            }
        }
    }
    let mut action_s = f[0].to_lowercase();
    let mut forward = false;
    if let Some((_, a)) = action_s.split_once(':') {
        forward = true;
        action_s = a.to_string();
    }
    let mut parts = action_s.split('_');
    let action = Action::from_ufw(parts.next().unwrap_or(""));
    let logtype = parts.next().unwrap_or("").to_string();
    if !["", "log", "log-all"].contains(&logtype.as_str()) {
        return Err(tuple_err(line_no, "bad log type", orig));
    }
    let protocol = f[1];
    if !["any", "tcp", "udp", "ipv6", "esp", "ah", "igmp", "gre", "vrrp"].contains(&protocol) {
        return Err(tuple_err(line_no, "unsupported protocol", orig));
    }
    let dport = ports::resolve(f[2], services).map_err(|e| tuple_err(line_no, &e.to_string(), orig))?;
    let sport = ports::resolve(f[4], services).map_err(|e| tuple_err(line_no, &e.to_string(), orig))?;
    let fix = |a: &str| -> Result<String, RulesFileError> {
        let any = if v6 { "::/0" } else { "0.0.0.0/0" };
        if a == "any" || a == "0.0.0.0/0" || a == "::/0" {
            return Ok(any.to_string());
        }
        let a = a.to_lowercase();
        if a != "any" && addr::family_of(&a).is_none() {
            return Err(tuple_err(line_no, "bad address", orig));
        }
        let any = if v6 { "::/0" } else { "0.0.0.0/0" };
        Ok(if a == "any" || addr::is_anywhere(&a) { any.to_string() } else { a })
    };
    let dst = fix(f[3])?;
    let src = fix(f[5])?;
    if direction != "in" && direction != "out" {
        return Err(tuple_err(line_no, "bad direction", orig));
    }
    let (mut dapp, mut sapp) = (String::new(), String::new());
    if f.len() >= 8 {
        if f[6] != "-" {
            dapp = f[6].replace("%20", " ");
        }
        if f[7] != "-" {
            sapp = f[7].replace("%20", " ");
        }
    }
    for i in [&iface_in, &iface_out] {
        if !i.is_empty() {
            valid_iface(i).map_err(|w| tuple_err(line_no, w, orig))?;
        }
    }
    Ok(Rule {
        action,
        logtype: logtype.into(),
        forward,
        protocol: protocol.to_string().into(),
        dport: dport.into(),
        dst: dst.into(),
        sport: sport.into(),
        src: src.into(),
        dapp: dapp.into(),
        sapp: sapp.into(),
        direction: direction.into(),
        iface_in: iface_in.into(),
        iface_out: iface_out.into(),
        comment: comment.into(),
        v6,
    })
}

/// Normalize a rule as ufw's set_rule does before it writes (addresses and
/// port order). Fails like ufw's "Could not normalize address".
pub fn normalize(rule: &mut Rule) -> Result<(), String> {
    let fam = if rule.v6 { Family::V6 } else { Family::V4 };
    for a in [&mut rule.src, &mut rule.dst] {
        *a = addr::normalize(a, fam)
            .ok_or_else(|| format!("address '{a}' is not an IPv{} address", if rule.v6 { 6 } else { 4 }))?
            .into();
    }
    rule.dport = ports::sort_ports(&rule.dport).into();
    rule.sport = ports::sort_ports(&rule.sport).into();
    Ok(())
}

/// Read a rules file. `v6` selects the family of its tuples.
pub fn parse(text: &str, v6: bool, services: &Services) -> Result<RulesFile, RulesFileError> {
    let prefix = if v6 { "ufw6" } else { "ufw" };
    let mut out = RulesFile { crlf: text.contains("\r\n"), ..Default::default() };
    let limit_decl = format!(":{prefix}-user-limit - [0:0]");
    let mut saw_filter = false;
    let mut last_nonblank = "";
    for (i, raw) in text.split('\n').enumerate() {
        let l = raw.trim_end_matches('\r');
        if l.trim().is_empty() {
            continue;
        }
        if !saw_filter {
            if l.trim() != "*filter" && !l.starts_with('#') {
                return Err(RulesFileError::Structure(format!("expected '*filter' first, found line {}", i + 1)));
            }
            saw_filter = l.trim() == "*filter";
        }
        last_nonblank = l;
        if l == limit_decl {
            out.declares_limit = true;
        }
        if l == "### LOGGING ###" {
            out.written_by_ufw = true;
        }
        if l.starts_with("### tuple ###") {
            let r = parse_tuple(i + 1, raw, v6, services)?;
            out.rules.push(r);
            out.lines.push(i + 1);
        }
    }
    if !saw_filter {
        return Err(RulesFileError::Structure("no '*filter' line".into()));
    }
    if last_nonblank.trim() != "COMMIT" {
        return Err(RulesFileError::Structure("it does not end with COMMIT".into()));
    }
    Ok(out)
}

/// What the file's generated sections depend on besides the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteContext {
    pub loglevel: LogLevel,
    pub input: Policy,
    pub output: Policy,
    pub forward: Policy,
    /// Declare the limit chains (the kernel has xt_recent).
    pub limit: bool,
    /// IPv6 is in use; with IPV6=no ufw writes user6.rules without logging rules.
    pub ipv6: bool,
}

fn logging_rules(prefix: &str, ctx: &WriteContext) -> Vec<String> {
    let level = ctx.loglevel as u32;
    let mut out = Vec::new();
    if prefix == "ufw6" && !ctx.ipv6 {
        return out;
    }
    let user = ["input", "output", "forward"].map(|t| format!("{prefix}-user-logging-{t}"));
    if ctx.loglevel == LogLevel::Off {
        for c in &user {
            out.push(format!("-I {c} -j RETURN"));
        }
        return out;
    }
    let limit = "-m limit --limit 3/min --limit-burst 10";
    let largs = if level < LogLevel::High as u32 { format!(" {limit}") } else { String::new() };
    for (t, pol) in [("input", ctx.input), ("output", ctx.output), ("forward", ctx.forward)] {
        let c = format!("{prefix}-after-logging-{t}");
        if pol != Policy::Allow {
            out.push(format!("-A {c} -j LOG --log-prefix \"[UFW BLOCK] \"{largs}"));
        } else if level >= LogLevel::Medium as u32 {
            out.push(format!("-A {c} -j LOG --log-prefix \"[UFW ALLOW] \"{largs}"));
        }
    }
    let deny = format!("{prefix}-logging-deny");
    if level < LogLevel::Medium as u32 {
        out.push(format!("-I {deny} -m conntrack --ctstate INVALID -j RETURN{largs}"));
    } else {
        out.push(format!(
            "-A {deny} -m conntrack --ctstate INVALID -j LOG --log-prefix \"[UFW AUDIT INVALID] \"{largs}"
        ));
    }
    out.push(format!("-A {deny} -j LOG --log-prefix \"[UFW BLOCK] \"{largs}"));
    out.push(format!("-A {prefix}-logging-allow -j LOG --log-prefix \"[UFW ALLOW] \"{largs}"));
    if level >= LogLevel::Medium as u32 {
        let a = if level < LogLevel::High as u32 {
            format!(" -m conntrack --ctstate NEW {limit}")
        } else if level < LogLevel::Full as u32 {
            format!(" {limit}")
        } else {
            String::new()
        };
        for t in ["input", "output", "forward"] {
            out.push(format!("-I {prefix}-before-logging-{t} -j LOG --log-prefix \"[UFW AUDIT] \"{a}"));
        }
    }
    out
}

/// The whole file as ufw 0.36.2 writes it for these rules.
pub fn write(rules: &[Rule], v6: bool, ctx: &WriteContext) -> String {
    let p = if v6 { "ufw6" } else { "ufw" };
    let mut o = String::with_capacity(1024 + rules.len() * 160);
    o.push_str("*filter\n");
    for c in [
        "user-input",
        "user-output",
        "user-forward",
        "before-logging-input",
        "before-logging-output",
        "before-logging-forward",
        "user-logging-input",
        "user-logging-output",
        "user-logging-forward",
        "after-logging-input",
        "after-logging-output",
        "after-logging-forward",
        "logging-deny",
        "logging-allow",
    ] {
        o.push_str(&format!(":{p}-{c} - [0:0]\n"));
    }
    if ctx.limit {
        o.push_str(&format!(":{p}-user-limit - [0:0]\n:{p}-user-limit-accept - [0:0]\n"));
    }
    o.push_str("### RULES ###\n");
    for r in rules {
        o.push('\n');
        o.push_str(&r.tuple_line());
        o.push('\n');
        for l in r.iptables_lines() {
            o.push_str(&l);
        }
    }
    o.push_str("\n### END RULES ###\n");
    o.push_str("\n### LOGGING ###\n");
    for l in logging_rules(p, ctx) {
        o.push_str(&l);
        o.push('\n');
    }
    o.push_str("### END LOGGING ###\n");
    if ctx.limit {
        o.push_str("\n### RATE LIMITING ###\n");
        if ctx.loglevel != LogLevel::Off {
            o.push_str(&format!(
                "-A {p}-user-limit -m limit --limit 3/minute -j LOG --log-prefix \"[UFW LIMIT BLOCK] \"\n"
            ));
        }
        o.push_str(&format!(
            "-A {p}-user-limit -j REJECT\n-A {p}-user-limit-accept -j ACCEPT\n### END RATE LIMITING ###\n"
        ));
    }
    o.push_str("COMMIT\n");
    o
}
