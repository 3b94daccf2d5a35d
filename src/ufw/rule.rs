//! One ufw rule as stored in a `### tuple ###` line, with the exact text
//! forms ufw derives from it: the tuple, the iptables `-A` lines, and the
//! `ufw ...` command (as `ufw show added` prints it).
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

use super::ports;

/// Short strings stored inline: rules are cloned a lot while planning.
pub type Str = compact_str::CompactString;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Allow,
    Deny,
    Reject,
    Limit,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Deny => "deny",
            Action::Reject => "reject",
            Action::Limit => "limit",
        }
    }
    /// ufw's set_action: anything that is not allow/reject/limit is deny.
    pub fn from_ufw(s: &str) -> Action {
        match s {
            "allow" => Action::Allow,
            "reject" => Action::Reject,
            "limit" => Action::Limit,
            _ => Action::Deny,
        }
    }
}

/// One tuple. Fields hold the strings ufw stores; `comment` is the hex as
/// found in the file so that a round trip is byte-exact.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rule {
    pub action: Action,
    /// "", "log" or "log-all".
    pub logtype: Str,
    pub forward: bool,
    pub protocol: Str,
    pub dport: Str,
    pub dst: Str,
    pub sport: Str,
    pub src: Str,
    pub dapp: Str,
    pub sapp: Str,
    /// "in" or "out".
    pub direction: Str,
    pub iface_in: Str,
    pub iface_out: Str,
    pub comment: Str,
    pub v6: bool,
}

/// The part of a rule that decides whether ufw sees two rules as "the same"
/// (its `match` ignores action, log type and comment). Borrowed: no copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MatchKey<'a> {
    pub dport: &'a str,
    pub sport: &'a str,
    pub protocol: &'a str,
    pub src: &'a str,
    pub dst: &'a str,
    pub v6: bool,
    pub dapp: &'a str,
    pub sapp: &'a str,
    pub iface_in: &'a str,
    pub iface_out: &'a str,
    pub direction: &'a str,
    pub forward: bool,
}

pub fn hex_encode(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Decode a tuple comment; None when it is not valid hex of UTF-8 text.
/// Decode a tuple comment as ufw does: an odd last digit is dropped and
/// bytes that are not UTF-8 are shown escaped. None only for non-hex
/// characters, which make ufw itself crash.
pub fn hex_decode(h: &str) -> Option<String> {
    if !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let even = &h[..h.len() - h.len() % 2];
    let bytes: Vec<u8> =
        (0..even.len()).step_by(2).map(|i| u8::from_str_radix(&even[i..i + 2], 16).unwrap_or(0)).collect();
    Some(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => e
            .into_bytes()
            .iter()
            .map(|b| if b.is_ascii() { (*b as char).to_string() } else { format!("\\x{b:02x}") })
            .collect(),
    })
}

fn any_for(v6: bool) -> &'static str {
    if v6 {
        "::/0"
    } else {
        "0.0.0.0/0"
    }
}

impl Rule {
    pub fn key(&self) -> MatchKey<'_> {
        MatchKey {
            dport: &self.dport,
            sport: &self.sport,
            protocol: &self.protocol,
            src: &self.src,
            dst: &self.dst,
            v6: self.v6,
            dapp: &self.dapp,
            sapp: &self.sapp,
            iface_in: &self.iface_in,
            iface_out: &self.iface_out,
            direction: &self.direction,
            forward: self.forward,
        }
    }

    pub fn multi(&self) -> bool {
        ports::is_multi(&self.dport) || ports::is_multi(&self.sport)
    }

    pub fn is_app(&self) -> bool {
        !self.dapp.is_empty() || !self.sapp.is_empty()
    }

    pub fn comment_text(&self) -> String {
        hex_decode(&self.comment).unwrap_or_default()
    }

    /// The same rule for the other family (addresses "anywhere" swapped).
    pub fn with_family(&self, v6: bool) -> Rule {
        let mut r = self.clone();
        r.v6 = v6;
        for a in [&mut r.src, &mut r.dst] {
            if super::addr::is_anywhere(a) || a == "any" {
                *a = any_for(v6).to_string().into();
            }
        }
        r
    }

    fn action_field(&self) -> String {
        let mut a = String::new();
        if self.forward {
            a.push_str("route:");
        }
        a.push_str(self.action.as_str());
        if !self.logtype.is_empty() {
            a.push('_');
            a.push_str(&self.logtype);
        }
        a
    }

    fn iface_field(&self) -> String {
        match (self.iface_in.is_empty(), self.iface_out.is_empty()) {
            (true, true) => self.direction.to_string(),
            (false, false) => format!("in_{}!out_{}", self.iface_in, self.iface_out),
            (false, true) => format!("{}_{}", self.direction, self.iface_in),
            (true, false) => format!("{}_{}", self.direction, self.iface_out),
        }
    }

    /// The `### tuple ### ...` line, without the newline.
    pub fn tuple_line(&self) -> String {
        let mut s = format!(
            "### tuple ### {} {} {} {} {} {}",
            self.action_field(),
            self.protocol,
            self.dport,
            self.dst,
            self.sport,
            self.src
        );
        if self.is_app() {
            let app = |a: &str| {
                if a.is_empty() {
                    "-".to_string()
                } else {
                    a.replace(' ', "%20")
                }
            };
            s.push_str(&format!(" {} {}", app(&self.dapp), app(&self.sapp)));
        }
        s.push(' ');
        s.push_str(&self.iface_field());
        if !self.comment.is_empty() {
            s.push_str(" comment=");
            s.push_str(&self.comment);
        }
        s
    }

    /// ufw's UFWRule.format_rule().
    fn format_rule(&self) -> String {
        let mut s = String::new();
        if !self.iface_in.is_empty() {
            s += &format!(" -i {}", self.iface_in);
        }
        if !self.iface_out.is_empty() {
            s += &format!(" -o {}", self.iface_out);
        }
        let multi = self.multi();
        if self.protocol == "any" {
            s += " -p all";
        } else {
            s += &format!(" -p {}", self.protocol);
            if multi {
                s += " -m multiport";
                if self.dport != "any" && self.sport != "any" {
                    s += &format!(" --dports {} -m multiport --sports {}", self.dport, self.sport);
                } else if self.dport != "any" {
                    s += &format!(" --dports {}", self.dport);
                } else if self.sport != "any" {
                    s += &format!(" --sports {}", self.sport);
                }
            }
        }
        if self.dst != "0.0.0.0/0" && self.dst != "::/0" {
            s += &format!(" -d {}", self.dst);
        }
        if !multi && self.dport != "any" {
            s += &format!(" --dport {}", self.dport);
        }
        if self.src != "0.0.0.0/0" && self.src != "::/0" {
            s += &format!(" -s {}", self.src);
        }
        if !multi && self.sport != "any" {
            s += &format!(" --sport {}", self.sport);
        }
        let lstr = if self.logtype.is_empty() { String::new() } else { format!("_{}", self.logtype) };
        match self.action {
            Action::Allow => s += &format!(" -j ACCEPT{lstr}"),
            Action::Reject => {
                s += &format!(" -j REJECT{lstr}");
                if self.protocol == "tcp" {
                    s += " --reject-with tcp-reset";
                }
            }
            Action::Limit => s += &format!(" -j LIMIT{lstr}"),
            Action::Deny => s += &format!(" -j DROP{lstr}"),
        }
        if self.is_app() {
            let mut c = String::from("-m comment --comment '");
            if !self.dapp.is_empty() {
                c += &format!("dapp_{}", self.dapp.replace(' ', "%20"));
            }
            if !self.dapp.is_empty() && !self.sapp.is_empty() {
                c.push(',');
            }
            if !self.sapp.is_empty() {
                c += &format!("sapp_{}", self.sapp.replace(' ', "%20"));
            }
            c.push('\'');
            s += &format!(" {c}");
        }
        s.trim().to_string()
    }

    /// The chain suffix this rule lives in.
    pub fn chain_suffix(&self) -> &'static str {
        if self.forward {
            "forward"
        } else if self.direction == "out" {
            "output"
        } else {
            "input"
        }
    }

    /// The iptables lines ufw writes under the tuple (each ends in "\n"),
    /// produced by the same textual rewrites as ufw's
    /// `_get_rules_from_formatted`, so that odd inputs come out identically.
    pub fn iptables_lines(&self) -> Vec<String> {
        let prefix = if self.v6 { "ufw6" } else { "ufw" };
        let suffix = self.chain_suffix();
        let frule = format!("-A {prefix}-user-{suffix} {}\n", self.format_rule());
        expand_formatted(&frule, prefix, suffix)
    }

    /// `ufw ...` command text as `ufw show added` prints it (without "ufw ").
    pub fn command(&self) -> String {
        let mut res = String::new();
        if self.forward {
            res.push_str("route ");
        }
        res.push_str(self.action.as_str());
        let anywhere = |a: &str| a == "0.0.0.0/0" || a == "::/0";
        if anywhere(&self.dst)
            && anywhere(&self.src)
            && self.sport == "any"
            && self.sapp.is_empty()
            && self.iface_in.is_empty()
            && self.iface_out.is_empty()
            && self.dport != "any"
        {
            if self.direction == "out" {
                res += " out";
            }
            if !self.logtype.is_empty() {
                res += &format!(" {}", self.logtype);
            }
            if !self.dapp.is_empty() {
                if self.dapp.contains(' ') {
                    res += &format!(" '{}'", self.dapp);
                } else {
                    res += &format!(" {}", self.dapp);
                }
            } else {
                res += &format!(" {}", self.dport);
                if self.protocol != "any" {
                    res += &format!("/{}", self.protocol);
                }
            }
        } else {
            if !self.iface_in.is_empty() {
                res += &format!(" in on {}", self.iface_in);
            }
            if !self.iface_out.is_empty() {
                res += &format!(" out on {}", self.iface_out);
            } else if self.direction == "out" {
                res += " out";
            }
            if !self.logtype.is_empty() {
                res += &format!(" {}", self.logtype);
            }
            for (dir, loc, port, app) in
                [("from", &self.src, &self.sport, &self.sapp), ("to", &self.dst, &self.dport, &self.dapp)]
            {
                let loc = if anywhere(loc) { "any" } else { loc.as_str() };
                if loc != "any" || port != "any" || !app.is_empty() {
                    res += &format!(" {dir} {loc}");
                    if !app.is_empty() {
                        if app.contains(' ') {
                            res += &format!(" app '{app}'");
                        } else {
                            res += &format!(" app {app}");
                        }
                    } else if port != "any" {
                        res += &format!(" port {port}");
                    }
                }
            }
            if !res.contains(" to ") && !res.contains(" from ") && self.iface_in.is_empty() && self.iface_out.is_empty()
            {
                res += " to any";
            }
            if self.protocol != "any" && !self.is_app() {
                res += &format!(" proto {}", self.protocol);
            }
        }
        if !self.comment.is_empty() {
            res += &format!(" comment '{}'", self.comment_text());
        }
        res
    }
}

static PAT_PROTO: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"-p all ").unwrap());
static PAT_PORT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"port ").unwrap());
static PAT_REJECT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"-j (REJECT(_log(-all)?)?)").unwrap());
static PAT_LOG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(.*)-j ([A-Z]+)_log(-all)?(.*)").unwrap());
static PAT_LOGALL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"-j [A-Z]+_log-all").unwrap());
static PAT_CHAIN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(-A|-D) ([a-zA-Z0-9\-]+)").unwrap());
static PAT_LIMIT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r" -j LIMIT").unwrap());

fn sub_all(re: &Regex, s: &str, rep: &str) -> String {
    re.replace_all(s, rep).into_owned()
}

/// The rewrites of ufw's `_get_rules_from_formatted`, applied in its order.
fn expand_formatted(frule: &str, prefix: &str, suffix: &str) -> Vec<String> {
    let mut snippets: Vec<String> = Vec::new();
    if frule.contains("-p all ") {
        if PAT_PORT.is_match(frule) {
            if PAT_REJECT.is_match(frule) {
                let r = sub_all(&PAT_REJECT, frule, "-j $1 --reject-with tcp-reset");
                snippets.push(sub_all(&PAT_PROTO, &r, "-p tcp "));
            } else {
                snippets.push(sub_all(&PAT_PROTO, frule, "-p tcp "));
            }
            snippets.push(sub_all(&PAT_PROTO, frule, "-p udp "));
        } else {
            snippets.push(sub_all(&PAT_PROTO, frule, ""));
        }
    } else {
        snippets.push(frule.to_string());
    }

    let logging_chain = format!("$1 {prefix}-user-logging-{suffix}");
    let mut i = 0;
    while i < snippets.len() {
        let s = snippets[i].clone();
        if let Some(c) = s.contains("_log").then(|| PAT_LOG.captures(&s)).flatten() {
            let policy = match c[2].to_lowercase().as_str() {
                "accept" => "ALLOW",
                "limit" => "LIMIT",
                _ => "BLOCK",
            };
            let mut lstr = format!("-m limit --limit 3/min --limit-burst 10 -j LOG --log-prefix \"[UFW {policy}] \"");
            if !PAT_LOGALL.is_match(&s) {
                lstr = format!("-m conntrack --ctstate NEW {lstr}");
            }
            // `.` stops at the newline, which stays outside the match, as in Python.
            snippets[i] = sub_all(&PAT_LOG, &s, "${1}-j ${2}${4}");
            snippets.insert(i, sub_all(&PAT_LOG, &s, &format!("${{1}}-j {prefix}-user-logging-{suffix}")));
            snippets.insert(i, sub_all(&PAT_CHAIN, &sub_all(&PAT_LOG, &s, "${1}-j RETURN"), &logging_chain));
            snippets.insert(i, sub_all(&PAT_CHAIN, &sub_all(&PAT_LOG, &s, &format!("${{1}}{lstr}")), &logging_chain));
        }
        i += 1;
    }

    let mut i = 0;
    while i < snippets.len() {
        let s = snippets[i].clone();
        if s.contains(" -j LIMIT") {
            let t1 = sub_all(&PAT_LIMIT, &s, " -m conntrack --ctstate NEW -m recent --set");
            let t2 = sub_all(
                &PAT_LIMIT,
                &s,
                &format!(
                    " -m conntrack --ctstate NEW -m recent --update --seconds 30 --hitcount 6 -j {prefix}-user-limit"
                ),
            );
            let t3 = sub_all(&PAT_LIMIT, &s, &format!(" -j {prefix}-user-limit-accept"));
            snippets[i] = t3;
            snippets.insert(i, t2);
            snippets.insert(i, t1);
        }
        i += 1;
    }
    snippets
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(action: Action, proto: &str, dport: &str) -> Rule {
        Rule {
            action,
            logtype: Str::default(),
            forward: false,
            protocol: proto.into(),
            dport: dport.into(),
            dst: "0.0.0.0/0".into(),
            sport: "any".into(),
            src: "0.0.0.0/0".into(),
            dapp: Str::default(),
            sapp: Str::default(),
            direction: "in".into(),
            iface_in: Str::default(),
            iface_out: Str::default(),
            comment: Str::default(),
            v6: false,
        }
    }

    #[test]
    fn any_proto_port_expands_to_tcp_and_udp() {
        let r = rule(Action::Reject, "any", "24");
        assert_eq!(
            r.iptables_lines(),
            vec![
                "-A ufw-user-input -p tcp --dport 24 -j REJECT --reject-with tcp-reset\n",
                "-A ufw-user-input -p udp --dport 24 -j REJECT\n"
            ]
        );
        assert_eq!(r.tuple_line(), "### tuple ### reject any 24 0.0.0.0/0 any 0.0.0.0/0 in");
    }

    #[test]
    fn log_lines_come_before_the_rule() {
        let mut r = rule(Action::Deny, "any", "8888");
        r.logtype = "log".into();
        let l = r.iptables_lines();
        assert_eq!(l.len(), 8);
        assert!(l[0].starts_with("-A ufw-user-logging-input -p tcp --dport 8888 -m conntrack --ctstate NEW -m limit"));
        assert_eq!(l[2], "-A ufw-user-input -p tcp --dport 8888 -j ufw-user-logging-input\n");
        assert_eq!(l[3], "-A ufw-user-input -p tcp --dport 8888 -j DROP\n");
    }

    #[test]
    fn limit_is_three_lines() {
        let mut r = rule(Action::Limit, "tcp", "2222");
        r.v6 = true;
        r.src = "::/0".into();
        r.dst = "::/0".into();
        let l = r.iptables_lines();
        assert_eq!(l.len(), 3);
        assert_eq!(l[2], "-A ufw6-user-input -p tcp --dport 2222 -j ufw6-user-limit-accept\n");
    }

    #[test]
    fn app_rule_tuple_and_comment() {
        let mut r = rule(Action::Allow, "tcp", "80,443");
        r.dapp = "WWW Full".into();
        assert_eq!(r.tuple_line(), "### tuple ### allow tcp 80,443 0.0.0.0/0 any 0.0.0.0/0 WWW%20Full - in");
        assert_eq!(
            r.iptables_lines(),
            vec!["-A ufw-user-input -p tcp -m multiport --dports 80,443 -j ACCEPT -m comment --comment 'dapp_WWW%20Full'\n"]
        );
        assert_eq!(r.command(), "allow 'WWW Full'");
    }

    #[test]
    fn commands_like_show_added() {
        let mut r = rule(Action::Allow, "tcp", "22");
        r.comment = hex_encode("ssh").into();
        assert_eq!(r.command(), "allow 22/tcp comment 'ssh'");
        let mut r = rule(Action::Allow, "any", "any");
        r.src = "10.0.0.0/8".into();
        r.iface_in = "eth0".into();
        assert_eq!(r.command(), "allow in on eth0 from 10.0.0.0/8");
        let mut r = rule(Action::Allow, "udp", "68");
        r.sport = "67".into();
        assert_eq!(r.command(), "allow from any port 67 to any port 68 proto udp");
        let r = rule(Action::Allow, "any", "any");
        assert_eq!(r.command(), "allow to any");
    }

    #[test]
    fn hex_roundtrip() {
        let h = hex_encode("café ☕");
        assert_eq!(hex_decode(&h).unwrap(), "café ☕");
        assert!(hex_decode("zz").is_none());
        assert_eq!(hex_decode("616").unwrap(), "a", "odd length: ufw drops the last digit");
        assert_eq!(hex_decode("ff41").unwrap(), "\\xffA", "not UTF-8: escaped as ufw shows it");
    }
}
