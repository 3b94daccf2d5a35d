//! The observed firewall as a profile fragment (`harden show`).
use super::observe::Observed;
use super::rule::Rule;
use toml::{Table, Value};

/// Merge the IPv4 and IPv6 lists into one profile order: a rule present in
/// both (equal but for the family) is written once.
fn merge_families(v4: &[Rule], v6: &[Rule]) -> Vec<(Rule, bool, bool)> {
    let (n, m) = (v4.len(), v6.len());
    let eq = |a: &Rule, b: &Rule| a.with_family(true) == *b;
    let mut t = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            t[i][j] = if eq(&v4[i], &v6[j]) { t[i + 1][j + 1] + 1 } else { t[i + 1][j].max(t[i][j + 1]) };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < n || j < m {
        if i < n && j < m && eq(&v4[i], &v6[j]) {
            out.push((v4[i].clone(), true, true));
            i += 1;
            j += 1;
        } else if i < n && (j >= m || t[i + 1][j] >= t[i][j + 1]) {
            out.push((v4[i].clone(), true, false));
            i += 1;
        } else {
            out.push((v6[j].clone(), false, true));
            j += 1;
        }
    }
    out
}

fn port_value(p: &str) -> Value {
    match p.parse::<i64>() {
        Ok(n) => Value::Integer(n),
        Err(_) => Value::String(p.to_string()),
    }
}

fn same_app_group(a: &Rule, b: &Rule) -> bool {
    a.is_app()
        && a.dapp == b.dapp
        && a.sapp == b.sapp
        && a.src == b.src
        && a.dst == b.dst
        && a.iface_in == b.iface_in
        && a.iface_out == b.iface_out
        && a.direction == b.direction
        && a.forward == b.forward
        && a.action == b.action
        && a.logtype == b.logtype
        && a.comment == b.comment
}

fn rule_table(r: &Rule, v4: bool, v6: bool) -> Table {
    let mut t = Table::new();
    t.insert("action".into(), Value::String(r.action.as_str().into()));
    if r.forward {
        t.insert("route".into(), Value::Boolean(true));
    }
    if !r.forward && r.direction == "out" {
        t.insert("direction".into(), Value::String("out".into()));
    }
    if !r.dapp.is_empty() {
        t.insert("app".into(), Value::String(r.dapp.to_string()));
    } else if r.dport != "any" {
        t.insert("port".into(), port_value(&r.dport));
    }
    if !r.is_app() && r.protocol != "any" {
        t.insert("proto".into(), Value::String(r.protocol.to_string()));
    }
    let anywhere = |a: &str| a == "0.0.0.0/0" || a == "::/0";
    if !anywhere(&r.src) {
        t.insert("from".into(), Value::String(r.src.to_string()));
    } else if anywhere(&r.dst) && !(v4 && v6) && r.protocol != "ipv6" && r.protocol != "igmp" {
        // One family only: ufw's way to say so is an explicit "anywhere" of that family.
        t.insert("from".into(), Value::String(if v6 { "::/0" } else { "0.0.0.0/0" }.into()));
    }
    if !r.sapp.is_empty() {
        t.insert("from_app".into(), Value::String(r.sapp.to_string()));
    } else if r.sport != "any" {
        t.insert("from_port".into(), port_value(&r.sport));
    }
    if !anywhere(&r.dst) {
        t.insert("to".into(), Value::String(r.dst.to_string()));
    }
    if r.forward {
        if !r.iface_in.is_empty() {
            t.insert("interface".into(), Value::String(r.iface_in.to_string()));
        }
        if !r.iface_out.is_empty() {
            t.insert("out_interface".into(), Value::String(r.iface_out.to_string()));
        }
    } else if !r.iface_in.is_empty() || !r.iface_out.is_empty() {
        let i = if r.iface_in.is_empty() { &r.iface_out } else { &r.iface_in };
        t.insert("interface".into(), Value::String(i.to_string()));
    }
    match r.logtype.as_str() {
        "log" => {
            t.insert("log".into(), Value::String("new".into()));
        }
        "log-all" => {
            t.insert("log".into(), Value::String("all".into()));
        }
        _ => {}
    }
    if !r.comment.is_empty() {
        t.insert("comment".into(), Value::String(r.comment_text()));
    }
    t
}

/// The `[firewall]` table for the observed state.
pub fn firewall_table(o: &Observed) -> Table {
    let mut fw = Table::new();
    fw.insert("enabled".into(), Value::Boolean(o.enabled));
    if let Some(l) = o.loglevel {
        fw.insert("logging".into(), Value::String(l.as_str().into()));
    }
    fw.insert("purge".into(), Value::Boolean(true));
    let mut d = Table::new();
    for (k, p) in [("incoming", o.input), ("outgoing", o.output), ("routed", o.forward)] {
        if let Some(p) = p {
            d.insert(k.into(), Value::String(p.as_str().into()));
        }
    }
    fw.insert("defaults".into(), Value::Table(d));
    // fail2ban's bans come and go: keep them rather than pin them.
    let f2b = |r: &Rule| r.comment_text().starts_with("by Fail2Ban");
    fw.insert("keep".into(), Value::Array(vec![Value::String("by Fail2Ban*".into())]));
    let v4: Vec<Rule> = o.v4.rules.iter().filter(|r| !f2b(r)).cloned().collect();
    let v6: Vec<Rule> = o.v6.rules.iter().filter(|r| !f2b(r)).cloned().collect();
    let merged = merge_families(&v4, &v6);
    let mut rules = Vec::new();
    let mut prev: Option<&(Rule, bool, bool)> = None;
    for item in &merged {
        if let Some(p) = prev {
            // An app rule stands for all the tuples its profile expands to.
            if same_app_group(&p.0, &item.0) && p.1 == item.1 && p.2 == item.2 {
                continue;
            }
        }
        rules.push(Value::Table(rule_table(&item.0, item.1, item.2)));
        prev = Some(item);
    }
    fw.insert("rules".into(), Value::Array(rules));
    fw
}
