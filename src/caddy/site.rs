//! Whether Caddy serves a site over HTTPS, from its addresses as Caddy 2.6 reads them
//! (`[scheme://][host][:port][/path]`), the site's `tls` directive and `auto_https`.

/// The scheme, host and port of one site address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub scheme: Option<String>,
    pub host: String,
    pub port: Option<String>,
}

pub fn parse_address(a: &str) -> Address {
    let (scheme, rest) = match a.split_once("://") {
        Some((s, r)) => (Some(s.to_ascii_lowercase()), r),
        None => (None, a),
    };
    let hostport = rest.split('/').next().unwrap_or("");
    // `[::1]:443` keeps its brackets; otherwise the last colon separates the port.
    let (host, port) = if let Some(end) = hostport.strip_prefix('[').and_then(|h| h.find(']')) {
        let host = &hostport[..end + 2];
        (host, hostport[end + 2..].strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    Address { scheme, host: host.to_string(), port: port.filter(|p| !p.is_empty()).map(String::from) }
}

/// Whether two written addresses name the same site: equal as written, or equal once the
/// scheme and port Caddy would assume are filled in and the host lowercased
/// (`s.example.com` is `https://s.example.com` and `s.example.com:443`; `http://s.example.com`
/// is `s.example.com:80`, a different site).
pub fn same_address(a: &str, b: &str) -> bool {
    a == b || address_key(a) == address_key(b)
}

/// An address with Caddy's defaults filled in (see [`same_address`]): compare these, or keep
/// them in a set, to match many addresses at once.
pub type AddressKey = (String, String, String, String);

pub fn address_key(a: &str) -> AddressKey {
    let parsed = parse_address(a);
    let scheme = parsed
        .scheme
        .clone()
        .unwrap_or_else(|| if parsed.port.as_deref() == Some("80") { "http" } else { "https" }.to_string());
    let port = parsed.port.clone().unwrap_or_else(|| if scheme == "http" { "80" } else { "443" }.to_string());
    let rest = a.split_once("://").map_or(a, |(_, r)| r);
    let path = rest.find('/').map_or("", |i| &rest[i..]).to_string();
    // An IPv6 host in its one canonical spelling: `[0:0::1]` is `[::1]`.
    let host = match parsed.host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(ip) => ip.parse::<std::net::Ipv6Addr>().map_or(parsed.host.to_ascii_lowercase(), |ip| format!("[{ip}]")),
        None => parsed.host.to_ascii_lowercase(),
    };
    (scheme, host, port, path)
}

/// How Caddy serves one address.
pub fn address_is_https(a: &Address, has_tls: bool, auto_https_off: bool) -> bool {
    if a.scheme.as_deref() == Some("http") || a.port.as_deref() == Some("80") {
        return false;
    }
    if has_tls {
        return true;
    }
    if auto_https_off {
        return false;
    }
    a.scheme.as_deref() == Some("https") || a.port.as_deref() == Some("443") || !a.host.is_empty()
}

/// A site is HTTPS only when every one of its addresses is: a block that also answers plain
/// HTTP sends its headers there too, so HSTS would reach a plain-HTTP response.
pub fn site_is_https(addresses: &[String], has_tls: bool, auto_https_off: bool) -> bool {
    !addresses.is_empty() && addresses.iter().all(|a| address_is_https(&parse_address(a), has_tls, auto_https_off))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn https(a: &str, tls: bool) -> bool {
        site_is_https(&[a.to_string()], tls, false)
    }

    #[test]
    fn classifies_addresses_like_caddy() {
        assert!(https("example.com", false));
        assert!(https("https://localhost:8443", false));
        assert!(https("localhost:8443", false));
        assert!(https("[::1]:8443", false));
        assert!(!https("http://example.com", false));
        assert!(!https(":80", false));
        assert!(!https("example.com:80", true));
        assert!(!https(":8080", false));
        assert!(https(":8443", true));
        assert!(!site_is_https(&["example.com".into()], false, true));
        assert!(!site_is_https(&["example.com".into(), "http://example.org".into()], false, false));
    }

    #[test]
    fn addresses_name_the_same_site_with_caddys_defaults() {
        for (a, b) in [
            ("s.example.com", "https://s.example.com"),
            ("s.example.com", "s.example.com:443"),
            ("https://S.Example.com:443", "s.example.com"),
            ("http://s.example.com", "s.example.com:80"),
            ("s.example.com/api", "https://s.example.com/api"),
            ("[::1]", "[0:0:0:0:0:0:0:1]:443"),
            ("https://[0:0::1]", "[::1]"),
        ] {
            assert!(same_address(a, b), "{a} {b}");
        }
        for (a, b) in [
            ("s.example.com", "http://s.example.com"),
            ("s.example.com", "s.example.com:8443"),
            ("s.example.com", "t.example.com"),
            ("s.example.com", "s.example.com/api"),
            ("{$DOMAIN}", "s.example.com"),
            ("[::1]", "[::2]"),
        ] {
            assert!(!same_address(a, b), "{a} {b}");
        }
    }
}
