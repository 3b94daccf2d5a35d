//! Profile rules -> ufw tuples, normalized exactly as ufw's parser and
//! backend would, so an equivalent rule is never planned as a change.
use super::addr::{self, Family};
use super::observe::Observed;
use super::ports::{self, PortError};
use super::rule::{hex_encode, Action, Rule};
use super::rulesfile;
use crate::profile::{Field, ProfileError, RuleAction, RuleSpec};

const PROTOS: [&str; 9] = ["any", "tcp", "udp", "ipv6", "esp", "ah", "igmp", "gre", "vrrp"];
const PORTLESS: [&str; 6] = ["ipv6", "esp", "ah", "igmp", "gre", "vrrp"];
const V4_ONLY: [&str; 2] = ["ipv6", "igmp"];

/// The tuples one profile rule stands for.
#[derive(Debug, Clone)]
pub struct Desired {
    /// Index of the profile rule.
    pub spec: usize,
    pub rules: Vec<Rule>,
    /// An `app` whose profile is not installed: match existing tuples by name.
    pub unresolved_app: bool,
}

fn port_err(f: &Field<String>, e: PortError) -> ProfileError {
    f.err(e.to_string())
}

fn numeric_list(p: &str) -> bool {
    // ufw: ^\d([0-9,:]*\d+)*$
    p.starts_with(|c: char| c.is_ascii_digit())
        && p.ends_with(|c: char| c.is_ascii_digit())
        && p.bytes().all(|b| b.is_ascii_digit() || b == b',' || b == b':')
}

struct Side {
    addr: String,
    family: Option<Family>,
    port: String,
    service: Option<String>,
}

fn side(
    o: &Observed,
    addr_f: &Option<Field<String>>,
    port_f: &Option<Field<String>>,
    what: &str,
) -> Result<Side, ProfileError> {
    let (addr, family) = match addr_f {
        None => ("any".to_string(), None),
        Some(f) => {
            let a = f.value.trim().to_lowercase();
            if a == "any" {
                ("any".to_string(), None)
            } else {
                match addr::family_of(&a) {
                    Some(fam) => (a, Some(fam)),
                    None => {
                        return Err(f.err(format!(
                            "bad {what} address '{}': use any, an IPv4 or IPv6 address, or a network such as 10.0.0.0/8 or 2001:db8::/32",
                            f.value
                        )))
                    }
                }
            }
        }
    };
    let (port, service) = match port_f {
        None => ("any".to_string(), None),
        Some(f) => {
            let p = f.value.as_str();
            let mut service = None;
            if !numeric_list(p) {
                if p.contains([',', ':']) {
                    return Err(f.err(format!("bad port '{p}': port lists and ranges must be numeric")));
                }
                if p.starts_with('-') || p.parse::<i64>().is_ok() {
                    return Err(f.err(format!("bad port '{p}': ports are 1 to 65535")));
                }
                if !o.services.contains(p) {
                    return Err(f.err(format!(
                        "unknown service '{p}': it is not in the root's /etc/services; use a port number"
                    )));
                }
                service = Some(p.to_string());
            }
            (ports::resolve(p, &o.services).map_err(|e| port_err(f, e))?, service)
        }
    };
    Ok(Side { addr, family, port, service })
}

/// Turn one profile rule into tuples for the families it belongs to.
pub fn desired_rule(o: &Observed, idx: usize, r: &RuleSpec) -> Result<Desired, ProfileError> {
    let at_rule = |m: String| ProfileError { at: r.at.clone(), message: m };
    if let (Some(a), Some(_)) = (&r.app, &r.port) {
        return Err(a.err("`app` and `port` cannot be combined: an app profile brings its own ports"));
    }
    if let (Some(a), Some(_)) = (&r.from_app, &r.from_port) {
        return Err(a.err("`from_app` and `from_port` cannot be combined"));
    }
    if let (Some(a), Some(_)) = (r.app.as_ref().or(r.from_app.as_ref()), &r.proto) {
        return Err(a.err("`proto` cannot be used with an app rule: the app profile sets the protocols"));
    }
    let mut proto = "any".to_string();
    if let Some(p) = &r.proto {
        if !PROTOS.contains(&p.value.as_str()) {
            return Err(p.err(format!("proto '{}' is not allowed: use one of {}", p.value, PROTOS.join(", "))));
        }
        proto = p.value.clone();
    }
    let src = side(o, &r.from, &r.from_port, "from")?;
    let dst = side(o, &r.to, &r.port, "to")?;
    // Protocol from /etc/services, as ufw's parser adjusts it.
    if dst.service.is_some() || src.service.is_some() {
        let mut sp = String::new();
        if let Some(s) = &dst.service {
            sp = o.services.proto(s).unwrap_or("").to_string();
        }
        if let Some(s) = &src.service {
            let t = o.services.proto(s).unwrap_or("").to_string();
            if sp.is_empty() || sp == "any" {
                sp = t;
            } else if t != "any" && t != sp {
                return Err(at_rule("the services of `from_port` and `port` use different protocols".into()));
            }
        }
        if proto == "any" {
            proto = sp;
        } else if sp != "any" && sp != proto {
            let at = r
                .proto
                .as_ref()
                .or(r.port.as_ref())
                .or(r.from_port.as_ref())
                .map(|f| f.at.clone())
                .unwrap_or(r.at.clone());
            return Err(ProfileError { at, message: format!("the service is {sp} only, but proto is {proto}") });
        }
    }
    let multi = ports::is_multi(&dst.port) || ports::is_multi(&src.port);
    if multi && proto != "tcp" && proto != "udp" && r.app.is_none() && r.from_app.is_none() {
        let f = r.port.as_ref().or(r.from_port.as_ref()).unwrap();
        return Err(f.err(format!(
            "a port list or range needs proto = \"tcp\" or \"udp\" (ufw refuses '{}' with proto {proto}): pick tcp or udp, or write two rules",
            f.value
        )));
    }
    if PORTLESS.contains(&proto.as_str()) && (dst.port != "any" || src.port != "any") {
        let f = r.port.as_ref().or(r.from_port.as_ref()).unwrap();
        return Err(f.err(format!("proto {proto} has no ports: remove `port`/`from_port`")));
    }
    let mut families = match (src.family, dst.family) {
        (Some(a), Some(b)) if a != b => {
            return Err(at_rule(
                "`from` and `to` are of different IP versions: use two IPv4 or two IPv6 addresses".into(),
            ))
        }
        (Some(f), _) | (None, Some(f)) => vec![f],
        (None, None) => vec![Family::V4, Family::V6],
    };
    if V4_ONLY.contains(&proto.as_str()) {
        if families == [Family::V6] {
            return Err(at_rule(format!("proto {proto} is IPv4 only, but the rule has an IPv6 address")));
        }
        families = vec![Family::V4];
    }
    if !o.ipv6 {
        if families == [Family::V6] {
            return Err(at_rule("this rule is IPv6 only, but IPv6 is off (`ipv6 = false` in the profile, or IPV6=no in /etc/default/ufw)".into()));
        }
        families.retain(|f| *f == Family::V4);
    }
    // Interfaces.
    let mut iface_in = String::new();
    let mut iface_out = String::new();
    let mut direction = r.direction.clone();
    let check = |f: &Field<String>| {
        rulesfile::check_iface(&f.value).map_err(|m| f.err(format!("bad interface '{}': {m}", f.value)))
    };
    if r.route {
        if direction != "in" {
            return Err(at_rule(
                "route rules take `interface` (in) and `out_interface`; `direction` does not apply".into(),
            ));
        }
        if let Some(f) = &r.interface {
            check(f)?;
            iface_in = f.value.clone();
        }
        if let Some(f) = &r.out_interface {
            check(f)?;
            iface_out = f.value.clone();
            if iface_in.is_empty() {
                direction = "out".into();
            }
        }
    } else {
        if let Some(f) = &r.out_interface {
            return Err(
                f.err("`out_interface` needs `route = true`; for local traffic use `interface` with `direction`")
            );
        }
        if let Some(f) = &r.interface {
            check(f)?;
            if direction == "out" {
                iface_out = f.value.clone();
            } else {
                iface_in = f.value.clone();
            }
        }
    }
    let comment = match &r.comment {
        Some(c) if c.value.contains('\'') => return Err(c.err("comments may not contain ' (ufw refuses them)")),
        Some(c) => hex_encode(&c.value),
        None => String::new(),
    };
    let action = match r.action {
        RuleAction::Allow => Action::Allow,
        RuleAction::Deny => Action::Deny,
        RuleAction::Reject => Action::Reject,
        RuleAction::Limit => Action::Limit,
    };
    let template = Rule {
        action,
        logtype: r.log.clone().into(),
        forward: r.route,
        protocol: proto.into(),
        dport: dst.port.into(),
        dst: dst.addr.into(),
        sport: src.port.into(),
        src: src.addr.into(),
        dapp: r.app.as_ref().map(|a| a.value.clone()).unwrap_or_default().into(),
        sapp: r.from_app.as_ref().map(|a| a.value.clone()).unwrap_or_default().into(),
        direction: direction.into(),
        iface_in: iface_in.into(),
        iface_out: iface_out.into(),
        comment: comment.into(),
        v6: false,
    };
    let (expanded, unresolved) = expand_apps(o, r, template)?;
    let mut out = Vec::new();
    for fam in families {
        for t in &expanded {
            let mut rule = t.with_family(fam == Family::V6);
            if rule.src == "any" || rule.dst == "any" {
                rule = rule.with_family(fam == Family::V6);
            }
            rulesfile::normalize(&mut rule).map_err(at_rule)?;
            let caps = if rule.v6 { o.limit6 } else { o.limit4 };
            if rule.action == Action::Limit && !caps {
                continue; // ufw: "Skipping unsupported IPv6 'limit' rule"
            }
            out.push(rule);
        }
    }
    Ok(Desired { spec: idx, rules: out, unresolved_app: unresolved })
}

fn parse_port_proto(spec: &str) -> Option<(String, String)> {
    let mut it = spec.split('/');
    let port = it.next()?.to_string();
    let proto = it.next().unwrap_or("any").to_string();
    if it.next().is_some() || PORTLESS.contains(&proto.as_str()) {
        return None;
    }
    Some((port, proto))
}

/// ufw's get_app_rules_from_template.
fn expand_apps(o: &Observed, r: &RuleSpec, t: Rule) -> Result<(Vec<Rule>, bool), ProfileError> {
    if !t.is_app() {
        return Ok((vec![t], false));
    }
    let lookup = |f: &Field<String>| -> Result<Option<Vec<(String, String)>>, ProfileError> {
        match o.apps.profiles.get(&f.value) {
            None => Ok(None),
            Some(specs) => specs
                .iter()
                .map(|s| {
                    let (p, proto) = parse_port_proto(s)
                        .ok_or_else(|| f.err(format!("app profile '{}' has an invalid ports entry '{s}'", f.value)))?;
                    let p = ports::resolve(&p, &o.services)
                        .map_err(|e| f.err(format!("app profile '{}': {e}", f.value)))?;
                    Ok((p, proto))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
        }
    };
    let d = r.app.as_ref().map(lookup).transpose()?.flatten();
    let s = r.from_app.as_ref().map(lookup).transpose()?.flatten();
    if (r.app.is_some() && d.is_none()) || (r.from_app.is_some() && s.is_none()) {
        // Not installed: keep the name; ports come from the existing tuples.
        return Ok((vec![t], true));
    }
    let mut out = Vec::new();
    match (d, s) {
        (Some(d), Some(s)) => {
            for (dp, dproto) in &d {
                let mut tmp = t.clone();
                tmp.protocol = dproto.clone().into();
                tmp.dport = dp.clone().into();
                if t.dapp == t.sapp {
                    tmp.sport = dp.clone().into();
                    out.push(tmp);
                } else {
                    for (sp, sproto) in &s {
                        let mut rule = tmp.clone();
                        rule.protocol = if sproto == "any" { tmp.protocol.clone() } else { sproto.clone().into() };
                        rule.sport = sp.clone().into();
                        out.push(rule);
                    }
                }
            }
        }
        (None, Some(s)) => {
            for (sp, sproto) in s {
                let mut rule = t.clone();
                rule.protocol = sproto.into();
                rule.sport = sp.into();
                out.push(rule);
            }
        }
        (Some(d), None) => {
            for (dp, dproto) in d {
                let mut rule = t.clone();
                rule.protocol = dproto.into();
                rule.dport = dp.into();
                out.push(rule);
            }
        }
        (None, None) => out.push(t),
    }
    Ok((out, false))
}
