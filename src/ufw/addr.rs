//! Address validation and normalization with ufw's exact rules (util.py):
//! host masks dropped, IPv4 host bits masked, dotted masks turned into CIDR
//! when contiguous, IPv6 printed the way glibc's inet_ntop prints it.
use std::net::{Ipv4Addr, Ipv6Addr};

/// Which family an address belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

fn valid_cidr(nm: &str, v6: bool) -> bool {
    let max = if v6 { 128 } else { 32 };
    !nm.is_empty() && nm.bytes().all(|b| b.is_ascii_digit()) && nm.parse::<u32>().is_ok_and(|n| n <= max)
}

fn dotted_quads(nm: &str) -> Option<[u8; 4]> {
    // ufw accepts `^[0-9]+\.[0-9\.]+$` with four parts of 0..255.
    let parts: Vec<&str> = nm.split('.').collect();
    if parts.len() != 4 || !nm.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let mut out = [0u8; 4];
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() {
            return None;
        }
        out[i] = p.parse::<u32>().ok().filter(|v| *v <= 255)? as u8;
    }
    Some(out)
}

fn valid_netmask(nm: &str, v6: bool) -> bool {
    valid_cidr(nm, v6) || (!v6 && dotted_quads(nm).is_some())
}

/// Whether `addr` (with an optional `/mask`) is a valid address of `family`.
pub fn valid(addr: &str, family: Family) -> bool {
    match family {
        Family::V4 => {
            if addr.len() > 31 || !addr.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'/') {
                return false;
            }
            let mut it = addr.split('/');
            let host = it.next().unwrap_or("");
            let mask = it.next();
            if it.next().is_some() || host.parse::<Ipv4Addr>().is_err() {
                return false;
            }
            mask.is_none_or(|m| valid_netmask(m, false))
        }
        Family::V6 => {
            if addr.len() > 43 || !addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.' || b == b'/') {
                return false;
            }
            let mut it = addr.split('/');
            let host = it.next().unwrap_or("");
            let mask = it.next();
            if it.next().is_some() || host.parse::<Ipv6Addr>().is_err() {
                return false;
            }
            mask.is_none_or(|m| valid_cidr(m, true))
        }
    }
}

/// The family of a valid address, IPv6 tried first as ufw's parser does.
pub fn family_of(addr: &str) -> Option<Family> {
    if valid(addr, Family::V6) {
        Some(Family::V6)
    } else if valid(addr, Family::V4) {
        Some(Family::V4)
    } else {
        None
    }
}

/// glibc inet_ntop for IPv6: the longest run (>= 2) of zero words is
/// compressed, and ::a.b.c.d / ::ffff:a.b.c.d keep the embedded IPv4 form.
pub fn ntop6(a: Ipv6Addr) -> String {
    let w = a.segments();
    let (mut best_base, mut best_len) = (None::<usize>, 0usize);
    let mut i = 0;
    while i < 8 {
        if w[i] == 0 {
            let start = i;
            while i < 8 && w[i] == 0 {
                i += 1;
            }
            let len = i - start;
            if len > best_len {
                best_base = Some(start);
                best_len = len;
            }
        } else {
            i += 1;
        }
    }
    if best_len < 2 {
        best_base = None;
    }
    let mut out = String::new();
    let mut i = 0;
    while i < 8 {
        if let Some(b) = best_base {
            if i >= b && i < b + best_len {
                if i == b {
                    out.push(':');
                }
                i += 1;
                continue;
            }
        }
        if i != 0 {
            out.push(':');
        }
        if i == 6 && best_base == Some(0) && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)) {
            let o = a.octets();
            out.push_str(&format!("{}.{}.{}.{}", o[12], o[13], o[14], o[15]));
            break;
        }
        out.push_str(&format!("{:x}", w[i]));
        i += 1;
    }
    if best_base.is_some_and(|b| b + best_len == 8) {
        out.push(':');
    }
    out
}

fn dotted_to_cidr(q: [u8; 4]) -> Option<u32> {
    let bits = u32::from_be_bytes(q);
    let ones = bits.leading_ones();
    if bits.checked_shl(ones).unwrap_or(0) == 0 {
        Some(ones)
    } else {
        None
    }
}

/// Normalize as ufw's `normalize_address`: returns the normalized form, or
/// None when ufw would fail ("Could not normalize ... address").
pub fn normalize(orig: &str, family: Family) -> Option<String> {
    let v6 = family == Family::V6;
    // The common case, already normal.
    if (!v6 && orig == "0.0.0.0/0") || (v6 && orig == "::/0") {
        return Some(orig.to_string());
    }
    let mut parts: Vec<String> = orig.split('/').map(str::to_string).collect();
    if parts.len() > 2 {
        return None;
    }
    if parts.len() == 2 {
        let host_mask = if v6 { parts[1] == "128" } else { parts[1] == "32" || parts[1] == "255.255.255.255" };
        if host_mask {
            parts.truncate(1);
        }
    }
    if !v6 && parts.len() == 2 {
        if let Some(q) = dotted_quads(&parts[1]) {
            if let Some(c) = dotted_to_cidr(q) {
                parts[1] = c.to_string();
            }
        }
    }
    let mut addr =
        if v6 { ntop6(parts[0].parse::<Ipv6Addr>().ok()?) } else { parts[0].parse::<Ipv4Addr>().ok()?.to_string() };
    if parts.len() == 2 {
        if !v6 {
            let host = u32::from(addr.parse::<Ipv4Addr>().ok()?);
            let mask = if valid_cidr(&parts[1], false) {
                let n: u32 = parts[1].parse().ok()?;
                if n == 0 {
                    0
                } else {
                    u32::MAX << (32 - n)
                }
            } else {
                u32::from_be_bytes(dotted_quads(&parts[1])?)
            };
            addr = Ipv4Addr::from(host & mask).to_string();
        }
        addr = format!("{}/{}", addr, parts[1]);
    }
    if valid(&addr, family) {
        Some(addr)
    } else {
        None
    }
}

/// Whether a normalized address means "anywhere".
pub fn is_anywhere(addr: &str) -> bool {
    addr == "0.0.0.0/0" || addr == "::/0"
}

/// Whether `ip` lies inside the normalized network `net` of the same family.
pub fn contains(net: &str, ip: &str) -> bool {
    if is_anywhere(net) {
        return true;
    }
    let (host, mask) = net.split_once('/').unwrap_or((net, ""));
    if let (Ok(n), Ok(a)) = (host.parse::<Ipv4Addr>(), ip.parse::<Ipv4Addr>()) {
        let m = if mask.is_empty() {
            u32::MAX
        } else if let Ok(c) = mask.parse::<u32>() {
            if c == 0 {
                0
            } else {
                u32::MAX << (32 - c.min(32))
            }
        } else {
            dotted_quads(mask).map(u32::from_be_bytes).unwrap_or(u32::MAX)
        };
        return u32::from(n) & m == u32::from(a) & m;
    }
    if let (Ok(n), Ok(a)) = (host.parse::<Ipv6Addr>(), ip.parse::<Ipv6Addr>()) {
        let c: u32 = if mask.is_empty() { 128 } else { mask.parse().unwrap_or(128).min(128) };
        let m = if c == 0 { 0 } else { u128::MAX << (128 - c) };
        return u128::from(n) & m == u128::from(a) & m;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_ufw() {
        assert_eq!(normalize("192.168.7.77/24", Family::V4).unwrap(), "192.168.7.0/24");
        assert_eq!(normalize("192.168.7.1/32", Family::V4).unwrap(), "192.168.7.1");
        assert_eq!(normalize("10.1.0.0/255.255.0.0", Family::V4).unwrap(), "10.1.0.0/16");
        assert_eq!(normalize("10.2.0.0/255.0.255.0", Family::V4).unwrap(), "10.0.0.0/255.0.255.0");
        assert_eq!(normalize("2001:db8:0:0::0/32", Family::V6).unwrap(), "2001:db8::/32");
        assert_eq!(normalize("::1/128", Family::V6).unwrap(), "::1");
        assert_eq!(normalize("0.0.0.0/0", Family::V4).unwrap(), "0.0.0.0/0");
        assert_eq!(normalize("::/0", Family::V6).unwrap(), "::/0");
        assert_eq!(normalize("::ffff:10.0.0.1", Family::V6).unwrap(), "::ffff:10.0.0.1");
        assert_eq!(normalize("::10.0.0.1", Family::V6).unwrap(), "::10.0.0.1");
        assert_eq!(normalize("2001:db8:1:0:0:0:0:1", Family::V6).unwrap(), "2001:db8:1::1");
        assert_eq!(normalize("2001:db8:0:1:0:0:1:1", Family::V6).unwrap(), "2001:db8:0:1::1:1");
        assert!(normalize("::1", Family::V4).is_none());
        assert!(normalize("10.0.0.256", Family::V4).is_none());
    }

    #[test]
    fn validates_like_ufw() {
        assert!(valid("10.0.0.0/8", Family::V4));
        assert!(!valid("10.0.0.0/33", Family::V4));
        assert!(!valid("fe80::1%eth0", Family::V6));
        assert!(valid("2001:db8::/32", Family::V6));
        assert_eq!(family_of("10.0.0.1"), Some(Family::V4));
        assert_eq!(family_of("::1"), Some(Family::V6));
        assert_eq!(family_of("example.com"), None);
    }

    #[test]
    fn containment() {
        assert!(contains("10.0.0.0/8", "10.1.2.3"));
        assert!(!contains("10.0.0.0/8", "11.1.2.3"));
        assert!(contains("2001:db8::/32", "2001:db8::1"));
        assert!(contains("0.0.0.0/0", "1.2.3.4"));
        assert!(contains("10.0.0.5", "10.0.0.5"));
    }
}
