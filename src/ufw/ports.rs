//! Port strings as ufw stores them ("22", "1000:2000", "80,443") and the
//! services database (/etc/services under the root) used to resolve names.
use std::collections::HashMap;
use std::fmt;

/// /etc/services: names and aliases to (port, protocols).
#[derive(Debug, Default, Clone)]
pub struct Services {
    by_name: HashMap<String, Vec<(u16, String)>>,
    pub loaded: bool,
}

impl Services {
    pub fn parse(text: &str) -> Services {
        let mut by_name: HashMap<String, Vec<(u16, String)>> = HashMap::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut it = line.split_whitespace();
            let (Some(name), Some(pp)) = (it.next(), it.next()) else {
                continue;
            };
            let Some((port, proto)) = pp.split_once('/') else {
                continue;
            };
            let Ok(port) = port.parse::<u16>() else {
                continue;
            };
            for n in std::iter::once(name).chain(it) {
                by_name.entry(n.to_string()).or_default().push((port, proto.to_string()));
            }
        }
        Services { by_name, loaded: true }
    }

    /// getservbyname(name) without a protocol: the first entry's port.
    pub fn port(&self, name: &str) -> Option<u16> {
        self.by_name.get(name).and_then(|v| v.first()).map(|(p, _)| *p)
    }

    /// ufw's get_services_proto: "tcp", "udp", or "any" when both exist.
    pub fn proto(&self, name: &str) -> Option<&'static str> {
        let v = self.by_name.get(name)?;
        let tcp = v.iter().any(|(_, p)| p == "tcp");
        let udp = v.iter().any(|(_, p)| p == "udp");
        match (tcp, udp) {
            (true, true) => Some("any"),
            (true, false) => Some("tcp"),
            (false, true) => Some("udp"),
            _ => Some(""),
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }
}

/// Why a port string was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortError {
    Empty,
    Syntax(String),
    OutOfRange(String),
    Reversed(String),
    TooMany,
    UnknownService(String),
}

impl fmt::Display for PortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortError::Empty => write!(f, "empty port"),
            PortError::Syntax(p) => write!(f, "bad port '{p}': use a number, a range N:M or a comma list"),
            PortError::OutOfRange(p) => write!(f, "bad port '{p}': ports are 1 to 65535"),
            PortError::Reversed(p) => write!(f, "bad port range '{p}': the first port must be lower than the second"),
            PortError::TooMany => {
                write!(f, "too many ports: iptables multiport takes at most 15 (a range counts as two)")
            }
            PortError::UnknownService(p) => {
                write!(f, "unknown service '{p}': not in /etc/services")
            }
        }
    }
}

fn num(p: &str) -> Result<u32, PortError> {
    let n: u32 = p.parse().map_err(|_| PortError::OutOfRange(p.to_string()))?;
    if (1..=65535).contains(&n) {
        Ok(n)
    } else {
        Err(PortError::OutOfRange(p.to_string()))
    }
}

/// ufw's `set_port`: validates and resolves service names; returns the port
/// string as stored (not yet sorted; see `sort_ports`).
pub fn resolve(port: &str, services: &Services) -> Result<String, PortError> {
    if port == "any" {
        return Ok(port.to_string());
    }
    if port.is_empty() {
        return Err(PortError::Empty);
    }
    if port.starts_with([',', ':']) || port.ends_with([',', ':']) {
        return Err(PortError::Syntax(port.to_string()));
    }
    if port.matches([',', ':']).count() > 14 {
        return Err(PortError::TooMany);
    }
    let mut out = Vec::new();
    for p in port.split(',') {
        if let Some((a, b)) = p.split_once(':') {
            if a.is_empty()
                || b.is_empty()
                || !a.bytes().all(|c| c.is_ascii_digit())
                || !b.bytes().all(|c| c.is_ascii_digit())
            {
                return Err(PortError::Syntax(p.to_string()));
            }
            let (x, y) = (num(a)?, num(b)?);
            if x >= y {
                return Err(PortError::Reversed(p.to_string()));
            }
            out.push(p.to_string());
        } else if !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()) {
            num(p)?;
            out.push(p.to_string());
        } else if p.len() >= 2 && p.chars().next().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            let n = services.port(p).ok_or_else(|| PortError::UnknownService(p.to_string()))?;
            out.push(n.to_string());
        } else {
            return Err(PortError::Syntax(p.to_string()));
        }
    }
    Ok(out.join(","))
}

/// True for a list or range (iptables multiport).
pub fn is_multi(port: &str) -> bool {
    port.contains([',', ':'])
}

/// ufw's human_sort of a comma list; entries are numbers or N:M ranges.
pub fn sort_ports(port: &str) -> String {
    if port == "any" || !port.contains(',') {
        return port.to_string();
    }
    let mut items: Vec<&str> = port.split(',').collect();
    items.sort_by_key(|p| {
        let mut it = p.split(':');
        let a: u64 = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let b: Option<u64> = it.next().and_then(|s| s.parse().ok());
        (a, b.is_some(), b.unwrap_or(0))
    });
    items.join(",")
}

/// Whether a single port number falls into a stored port string.
pub fn covers(ports: &str, port: u16) -> bool {
    if ports == "any" {
        return true;
    }
    ports.split(',').any(|p| match p.split_once(':') {
        Some((a, b)) => a.parse::<u16>().is_ok_and(|a| a <= port) && b.parse::<u16>().is_ok_and(|b| port <= b),
        None => p.parse::<u16>() == Ok(port),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc() -> Services {
        Services::parse("ssh 22/tcp\nhttp 80/tcp www\nhttps 443/tcp\nhttps 443/udp\ndomain 53/tcp\ndomain 53/udp\n")
    }

    #[test]
    fn resolves_and_validates() {
        let s = svc();
        assert_eq!(resolve("22", &s).unwrap(), "22");
        assert_eq!(resolve("ssh", &s).unwrap(), "22");
        assert_eq!(resolve("www", &s).unwrap(), "80");
        assert_eq!(resolve("0", &s), Err(PortError::OutOfRange("0".into())));
        assert_eq!(resolve("70000", &s), Err(PortError::OutOfRange("70000".into())));
        assert_eq!(resolve("2000:1000", &s), Err(PortError::Reversed("2000:1000".into())));
        assert_eq!(resolve("1:2,3:4,5:6,7:8,9:10,11:12,13:14,15:16", &s), Err(PortError::TooMany));
        assert!(resolve("1:2,3:4,5:6,7:8,9:10,11:12,13:14,15", &s).is_ok());
        assert!(resolve(",80", &s).is_err());
        assert!(resolve("nosuch", &s).is_err());
        assert_eq!(s.proto("ssh"), Some("tcp"));
        assert_eq!(s.proto("https"), Some("any"));
    }

    #[test]
    fn sorts_like_human_sort() {
        assert_eq!(sort_ports("443,80"), "80,443");
        assert_eq!(sort_ports("8000:8100,22,443"), "22,443,8000:8100");
        assert_eq!(sort_ports("80:90,80"), "80,80:90");
        assert_eq!(sort_ports("22,22"), "22,22");
    }

    #[test]
    fn coverage() {
        assert!(covers("22", 22));
        assert!(covers("20:30", 22));
        assert!(covers("80,22", 22));
        assert!(!covers("2222", 22));
    }
}
