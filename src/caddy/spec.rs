//! The `[caddy]` section of a profile: raw TOML form, validated per-file layer, and the merged
//! specification the plan works from.
use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::headers::canonical;
use crate::error::Location;
use crate::profile::{Field, ProfileError};

pub const DEFAULT_CADDYFILE: &str = "/etc/caddy/Caddyfile";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCaddy {
    caddyfile: Option<Spanned<String>>,
    sites: Option<Spanned<toml::Value>>,
    reload: Option<Spanned<String>>,
    preset: Option<Spanned<String>>,
    /// The Caddy version to check syntax against when caddy is not installed here.
    version: Option<Spanned<String>>,
    remove: Option<Vec<Spanned<String>>>,
    headers: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    site: Option<Vec<Spanned<RawSite>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    address: Spanned<String>,
    headers: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reload {
    Auto,
    Api,
    Systemd,
    None,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Sites {
    All,
    List(Vec<Field<String>>),
}

/// Per-site header values (canonical name to value; "" drops an inherited header).
#[derive(Debug, Clone, PartialEq)]
pub struct SiteOverride {
    pub address: Field<String>,
    pub headers: BTreeMap<String, Field<String>>,
}

/// One profile file's `[caddy]` section, validated.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CaddyLayer {
    pub caddyfile: Option<Field<String>>,
    pub sites: Option<Sites>,
    pub reload: Option<Reload>,
    pub preset: Option<Field<String>>,
    pub version: Option<Field<String>>,
    pub remove: Option<Vec<Field<String>>>,
    pub headers: BTreeMap<String, Field<String>>,
    pub site: Vec<SiteOverride>,
}

/// The merged `[caddy]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct CaddySpec {
    pub caddyfile: String,
    pub sites: Sites,
    pub reload: Reload,
    pub preset: Option<Field<String>>,
    pub version: Option<Field<String>>,
    /// Header names to delete (canonical), the preset's first.
    pub remove: Vec<String>,
    /// The profile's own `[caddy.headers]`, over the preset.
    pub headers: BTreeMap<String, Field<String>>,
    pub site: Vec<SiteOverride>,
}

impl Default for CaddySpec {
    fn default() -> Self {
        CaddySpec {
            caddyfile: DEFAULT_CADDYFILE.into(),
            sites: Sites::All,
            reload: Reload::Auto,
            preset: None,
            version: None,
            remove: Vec::new(),
            headers: BTreeMap::new(),
            site: Vec::new(),
        }
    }
}

pub const HSTS: &str = "Strict-Transport-Security";

/// A preset's headers (name, value) and the header names it removes.
pub type Preset = (Vec<(&'static str, &'static str)>, Vec<&'static str>);

/// OWASP Secure Headers Project recommendations (see notes/caddy.md).
pub fn preset(name: &str) -> Option<Preset> {
    match name {
        "owasp" => Some((
            vec![
                (HSTS, "max-age=63072000; includeSubDomains"),
                ("X-Content-Type-Options", "nosniff"),
                ("X-Frame-Options", "DENY"),
                ("Referrer-Policy", "no-referrer"),
                (
                    "Content-Security-Policy",
                    "default-src 'self'; form-action 'self'; base-uri 'self'; object-src 'none'; frame-ancestors 'none'; upgrade-insecure-requests",
                ),
                ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
                ("Cross-Origin-Opener-Policy", "same-origin"),
                ("Cross-Origin-Resource-Policy", "same-origin"),
            ],
            vec!["Server", "X-Powered-By"],
        )),
        _ => None,
    }
}

type Loc<'a> = &'a dyn Fn(Range<usize>) -> Location;

fn field<T: Clone>(loc: Loc, s: &Spanned<T>) -> Field<T> {
    Field { value: s.get_ref().clone(), at: loc(s.span()) }
}

fn bad(loc: Loc, span: Range<usize>, message: impl Into<String>) -> ProfileError {
    ProfileError { at: loc(span), message: message.into() }
}

fn header_name(loc: Loc, span: Range<usize>, name: &str) -> Result<String, ProfileError> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) || name.starts_with(['+', '-', '?', '>']) {
        return Err(bad(
            loc,
            span,
            format!("'{name}' is not a header name: use letters, digits and '-' (no +, -, ? or > prefix)"),
        ));
    }
    Ok(canonical(name))
}

/// Why a header value cannot be written into harden's snippet as it is, if so.
fn value_problem(k: &str, v: &str) -> Option<String> {
    if v.contains(['\n', '\r']) {
        return Some(format!("the value of {k} contains a line break; use one line"));
    }
    // HTTP allows no control characters in a field value but the tab (RFC 9110 5.5); a NUL or an
    // escape sequence would be written raw into the Caddyfile and printed raw by the plan.
    if let Some(c) = v.chars().find(|c| c.is_control() && *c != '\t') {
        return Some(format!("the value of {k} contains the control character U+{:04X}; remove it", c as u32));
    }
    if v.contains("{$") {
        return Some(format!(
            "the value of {k} contains '{{$', which Caddy would substitute from its environment; remove it"
        ));
    }
    // Caddy 2.6.2 takes a token that is only a brace for a block's brace even when it is
    // quoted (checked with `caddy adapt`: no quoting gives the literal value), and spaces
    // around a lone brace would be trimmed by clients anyway.
    let t = v.trim();
    if t == "{" || t == "}" {
        return Some(format!(
            "the value of {k} is a lone '{t}', which Caddy reads as a block brace, not as a value; use another value"
        ));
    }
    // Inside double quotes Caddy's lexer escapes only `\"`: a backslash before a quote or at the
    // end of the value would end the quoted value early (and the edit would not parse).
    if v.ends_with('\\') || v.contains("\\\"") {
        return Some(format!(
            "the value of {k} has a backslash before a quote or at its end, which a Caddyfile cannot quote; write the value without it"
        ));
    }
    // Caddy rewrites a snippet's tokens as it imports them: it drops the backslash of `\{`
    // (2.6.2, checked with `caddy adapt`) and fills in `{args...}` (and `{block}` in 2.9+), so
    // the site would not get this value.
    let seq = ["\\{", "\\}", "{args", "{block"].into_iter().find(|p| v.contains(p))?;
    Some(format!(
        "the value of {k} contains '{seq}', which Caddy rewrites when it imports harden's snippet; write the value without it"
    ))
}

fn header_table(
    loc: Loc,
    t: &Spanned<BTreeMap<String, Spanned<String>>>,
) -> Result<BTreeMap<String, Field<String>>, ProfileError> {
    let mut out = BTreeMap::new();
    for (k, v) in t.get_ref() {
        let name = header_name(loc, t.span(), k)?;
        if let Some(why) = value_problem(k, v.get_ref()) {
            return Err(bad(loc, v.span(), why));
        }
        if out.insert(name.clone(), field(loc, v)).is_some() {
            return Err(bad(loc, v.span(), format!("header {name} is given twice (names are case-insensitive)")));
        }
    }
    Ok(out)
}

impl RawCaddy {
    /// Validates one file's section; `loc` turns a byte span of that file into a location.
    pub(crate) fn layer(self, loc: Loc) -> Result<CaddyLayer, ProfileError> {
        let mut l = CaddyLayer::default();
        if let Some(c) = &self.caddyfile {
            if !c.get_ref().starts_with('/') {
                return Err(bad(loc, c.span(), "caddyfile must be an absolute path such as /etc/caddy/Caddyfile"));
            }
            l.caddyfile = Some(field(loc, c));
        }
        if let Some(s) = &self.sites {
            l.sites = Some(match s.get_ref() {
                toml::Value::String(a) if a == "all" => Sites::All,
                toml::Value::Array(items) => {
                    let mut list = Vec::new();
                    for i in items {
                        match i.as_str() {
                            Some(a) if !a.is_empty() => list.push(Field { value: a.to_string(), at: loc(s.span()) }),
                            _ => return Err(bad(loc, s.span(), "sites entries must be site addresses (strings)")),
                        }
                    }
                    Sites::List(list)
                }
                _ => return Err(bad(loc, s.span(), "sites must be \"all\" or a list of site addresses")),
            });
        }
        if let Some(r) = &self.reload {
            l.reload = Some(match r.get_ref().as_str() {
                "auto" => Reload::Auto,
                "api" => Reload::Api,
                "systemd" => Reload::Systemd,
                "none" => Reload::None,
                other => {
                    return Err(bad(
                        loc,
                        r.span(),
                        format!("reload '{other}' is not allowed: use one of auto, api, systemd, none"),
                    ))
                }
            });
        }
        if let Some(p) = &self.preset {
            if preset(p.get_ref()).is_none() {
                return Err(bad(
                    loc,
                    p.span(),
                    format!("unknown preset '{}': the only preset is \"owasp\"", p.get_ref()),
                ));
            }
            l.preset = Some(field(loc, p));
        }
        if let Some(v) = &self.version {
            if super::version::parse(v.get_ref()).is_none() {
                return Err(bad(
                    loc,
                    v.span(),
                    format!("version '{}' is not a Caddy version such as \"2.6.2\"", v.get_ref()),
                ));
            }
            l.version = Some(field(loc, v));
        }
        if let Some(r) = &self.remove {
            let mut list = Vec::new();
            for n in r {
                list.push(Field { value: header_name(loc, n.span(), n.get_ref())?, at: loc(n.span()) });
            }
            l.remove = Some(list);
        }
        if let Some(h) = &self.headers {
            l.headers = header_table(loc, h)?;
        }
        for s in self.site.iter().flatten() {
            let raw = s.get_ref();
            if raw.address.get_ref().trim().is_empty() {
                return Err(bad(
                    loc,
                    raw.address.span(),
                    "address is empty: write the site address as in the Caddyfile",
                ));
            }
            let headers = match &raw.headers {
                Some(h) => header_table(loc, h)?,
                None => BTreeMap::new(),
            };
            l.site.push(SiteOverride { address: field(loc, &raw.address), headers });
        }
        Ok(l)
    }
}

impl CaddySpec {
    /// Lays one file's section over the merged one (later files win, key by key).
    pub fn merge(&mut self, l: CaddyLayer) {
        if let Some(c) = l.caddyfile {
            self.caddyfile = c.value;
        }
        if let Some(s) = l.sites {
            self.sites = s;
        }
        if let Some(r) = l.reload {
            self.reload = r;
        }
        if l.preset.is_some() {
            self.preset = l.preset;
        }
        if l.version.is_some() {
            self.version = l.version;
        }
        if let Some(r) = l.remove {
            self.remove = r.into_iter().map(|f| f.value).collect();
        }
        self.headers.extend(l.headers);
        for o in l.site {
            match self.site.iter_mut().find(|s| s.address.value == o.address.value) {
                Some(s) => s.headers.extend(o.headers),
                None => self.site.push(o),
            }
        }
    }

    /// Headers and removals for a site with these addresses, before the HTTPS rule.
    pub fn desired(&self, addresses: &[String]) -> (BTreeMap<String, String>, Vec<String>) {
        let mut set = BTreeMap::new();
        let mut remove: Vec<String> = Vec::new();
        if let Some((h, r)) = self.preset.as_ref().and_then(|p| preset(&p.value)) {
            set.extend(h.into_iter().map(|(k, v)| (k.to_string(), v.to_string())));
            remove.extend(r.into_iter().map(String::from));
        }
        for n in &self.remove {
            if !remove.contains(n) {
                remove.push(n.clone());
            }
        }
        set.extend(self.headers.iter().map(|(k, v)| (k.clone(), v.value.clone())));
        for o in self.site.iter().filter(|o| addresses.iter().any(|a| super::site::same_address(a, &o.address.value))) {
            set.extend(o.headers.iter().map(|(k, v)| (k.clone(), v.value.clone())));
        }
        // An empty value drops an inherited header instead of sending it empty.
        set.retain(|_, v| !v.is_empty());
        remove.retain(|r| !set.contains_key(r));
        (set, remove)
    }
}
