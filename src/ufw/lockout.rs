//! The lockout guard: would the planned firewall drop incoming SSH on the
//! ports sshd listens on? Evaluated with ufw's first-match order.
use super::addr;
use super::ports;
use super::rule::{Action, Rule};
use super::Policy;
use crate::system::{SysError, System};

/// Ports sshd listens on, from the root's sshd_config (with Include) and
/// systemd's ssh.socket when socket activation is in use.
pub fn ssh_ports(sys: &System) -> Result<Vec<u16>, SysError> {
    let mut ports = Vec::new();
    let mut files = vec!["/etc/ssh/sshd_config".to_string()];
    let mut seen = 0;
    while seen < files.len() && seen < 64 {
        let f = files[seen].clone();
        seen += 1;
        // sshd_config is not ours to police: read it whatever its encoding.
        let Some(bytes) = sys.read(&f)? else { continue };
        let text = String::from_utf8_lossy(&bytes);
        for line in text.lines() {
            // sshd takes `Keyword value` and `Keyword=value`.
            let line = line.split('#').next().unwrap_or("");
            let mut it = line.split(|c: char| c.is_whitespace() || c == '=').filter(|w| !w.is_empty());
            let (Some(k), Some(v)) = (it.next(), it.next()) else {
                continue;
            };
            match k.to_lowercase().as_str() {
                "port" => ports.extend(v.parse::<u16>().ok()),
                "listenaddress" => {
                    if let Some((_, p)) = v.rsplit_once(':').filter(|(h, _)| h.ends_with(']') || !h.contains(':')) {
                        ports.extend(p.parse::<u16>().ok());
                    }
                }
                "include" => {
                    for pat in std::iter::once(v).chain(it) {
                        let pat = if pat.starts_with('/') { pat.to_string() } else { format!("/etc/ssh/{pat}") };
                        files.extend(expand_glob(sys, &pat));
                    }
                }
                _ => {}
            }
        }
    }
    if ports.is_empty() {
        ports.push(22);
    }
    // Ubuntu 22.10+: sshd started by ssh.socket, whose ListenStream wins.
    let socket_on = sys.exists("/etc/systemd/system/sockets.target.wants/ssh.socket");
    if socket_on {
        let mut texts = Vec::new();
        for f in
            ["/lib/systemd/system/ssh.socket", "/usr/lib/systemd/system/ssh.socket", "/etc/systemd/system/ssh.socket"]
        {
            if let Some(t) = sys.read_text(f)? {
                texts.push(t);
            }
        }
        for (_, t) in sys.read_dir_texts("/etc/systemd/system/ssh.socket.d")? {
            texts.push(t);
        }
        let mut sock = Vec::new();
        for t in texts {
            for line in t.lines() {
                if let Some(v) = line.trim().strip_prefix("ListenStream=") {
                    let v = v.trim();
                    if v.is_empty() {
                        sock.clear(); // an empty assignment resets the list
                    } else if let Some(p) = v.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()) {
                        sock.push(p);
                    }
                }
            }
        }
        ports.extend(sock);
    }
    ports.sort_unstable();
    ports.dedup();
    Ok(ports)
}

fn expand_glob(sys: &System, pat: &str) -> Vec<String> {
    let Some((dir, file)) = pat.rsplit_once('/') else {
        return vec![];
    };
    if !file.contains('*') {
        return vec![pat.to_string()];
    }
    let Ok(g) = globset::Glob::new(file) else {
        return vec![];
    };
    let m = g.compile_matcher();
    let mut out: Vec<String> = std::fs::read_dir(sys.path(dir))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| m.is_match(n))
                .map(|n| format!("{dir}/{n}"))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The SSH client of this session, from SSH_CONNECTION (client ip, client
/// port, server ip, server port); None when absent or malformed.
fn ssh_client() -> Option<(String, u16)> {
    let v = std::env::var("SSH_CONNECTION").ok()?;
    let f: Vec<&str> = v.split_whitespace().collect();
    let ip = f.first()?.to_string();
    addr::family_of(&ip)?;
    Some((ip, f.get(3)?.parse().ok()?))
}

/// First-match evaluation of a new incoming TCP connection to `port` from
/// `client` (None: a client anywhere). Returns the deciding action, or None
/// when no rule matches (the default policy decides).
fn first_match(rules: &[Rule], port: u16, client: Option<&str>) -> Option<Action> {
    for r in rules {
        if r.forward || r.direction != "in" || !(r.protocol == "tcp" || r.protocol == "any") {
            continue;
        }
        if !ports::covers(&r.dport, port) || r.sport != "any" {
            continue;
        }
        // A rule bound to an interface or a destination address may not be
        // the way the operator comes in: it neither saves nor blocks for sure.
        let narrow = !r.iface_in.is_empty() || !addr::is_anywhere(&r.dst);
        // With a known client, a source network counts only if it holds the
        // client; without one, only a rule for every source does.
        let src_hit = addr::is_anywhere(&r.src) || client.is_some_and(|c| addr::contains(&r.src, c));
        if !src_hit {
            continue;
        }
        match r.action {
            // An allow that may not be the operator's way in does not count...
            Action::Allow | Action::Limit if narrow => continue,
            // ...but a deny that may be, does.
            a => return Some(a),
        }
    }
    None
}

/// Why the planned rules would lock SSH out, if they would.
pub fn check(sys: &System, v4: &[Rule], v6: &[Rule], input: Policy) -> Result<Option<String>, SysError> {
    let ports = ssh_ports(sys)?;
    let client = ssh_client();
    for port in &ports {
        let (list, who) = match &client {
            Some((ip, p)) if p == port => {
                let six = ip.contains(':') && !ip.starts_with("::ffff:");
                let ip = ip.trim_start_matches("::ffff:").to_string();
                (if six { v6 } else { v4 }, Some(ip))
            }
            _ => (v4, None),
        };
        let verdict = first_match(list, *port, who.as_deref());
        let blocked = match verdict {
            Some(Action::Allow | Action::Limit) => false,
            Some(_) => true,
            None => input != Policy::Allow,
        };
        if blocked {
            let from = who.map(|w| format!("from your SSH client {w}")).unwrap_or_else(|| "from anywhere".into());
            return Ok(Some(format!(
                "incoming SSH on port {port} (sshd_config) would be denied {from}; add e.g. `limit` tcp {port}"
            )));
        }
    }
    Ok(None)
}
