//! The host profile: TOML files with `extends`, merged into one value whose
//! every setting remembers the file, line and column it came from.
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};
use toml::Spanned;

use crate::error::{line_col, Location};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ProfileError {
    pub at: Location,
    pub message: String,
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

/// A value with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Field<T> {
    pub value: T,
    pub at: Location,
}

impl<T> Field<T> {
    pub fn err(&self, message: impl Into<String>) -> ProfileError {
        ProfileError { at: self.at.clone(), message: message.into() }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    extends: Option<Vec<Spanned<String>>>,
    host: Option<RawHost>,
    firewall: Option<RawFirewall>,
    caddy: Option<crate::caddy::spec::RawCaddy>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct RawHost {
    name: Option<String>,
    tenant: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFirewall {
    enabled: Option<bool>,
    logging: Option<Spanned<String>>,
    purge: Option<bool>,
    keep: Option<Vec<String>>,
    defaults: Option<RawDefaults>,
    rules: Option<Vec<Spanned<RawRule>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    incoming: Option<Spanned<String>>,
    outgoing: Option<Spanned<String>>,
    routed: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Option<Spanned<String>>,
    drop: Option<bool>,
    action: Option<Spanned<String>>,
    port: Option<Spanned<toml::Value>>,
    proto: Option<Spanned<String>>,
    direction: Option<Spanned<String>>,
    from: Option<Spanned<String>>,
    to: Option<Spanned<String>>,
    from_port: Option<Spanned<toml::Value>>,
    interface: Option<Spanned<String>>,
    out_interface: Option<Spanned<String>>,
    route: Option<bool>,
    app: Option<Spanned<String>>,
    from_app: Option<Spanned<String>>,
    log: Option<Spanned<String>>,
    comment: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleAction {
    Allow,
    Deny,
    Reject,
    Limit,
}

/// A firewall rule as the profile states it (ufw-specific normalization
/// happens in the ufw module, which knows the root's services and apps).
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSpec {
    pub at: Location,
    pub id: Option<String>,
    pub action: RuleAction,
    /// The port as ufw would take it: "22", "80,443", "1000:2000", "ssh".
    pub port: Option<Field<String>>,
    pub proto: Option<Field<String>>,
    /// "in" or "out".
    pub direction: String,
    pub from: Option<Field<String>>,
    pub to: Option<Field<String>>,
    pub from_port: Option<Field<String>>,
    pub interface: Option<Field<String>>,
    pub out_interface: Option<Field<String>>,
    pub route: bool,
    pub app: Option<Field<String>>,
    pub from_app: Option<Field<String>>,
    /// "", "log" or "log-all" (profile words off/new/all).
    pub log: String,
    pub comment: Option<Field<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyWord {
    Allow,
    Deny,
    Reject,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Defaults {
    pub incoming: Option<Field<PolicyWord>>,
    pub outgoing: Option<Field<PolicyWord>>,
    pub routed: Option<Field<PolicyWord>>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FirewallSpec {
    pub enabled: Option<bool>,
    /// off|low|medium|high|full
    pub logging: Option<Field<String>>,
    pub purge: bool,
    pub keep: Vec<String>,
    pub defaults: Defaults,
    pub rules: Vec<RuleSpec>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Host {
    pub name: Option<String>,
    pub tenant: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub path: PathBuf,
    /// Every file that went into this profile, bases first.
    pub files: Vec<PathBuf>,
    pub host: Host,
    pub firewall: Option<FirewallSpec>,
    /// None: the profile leaves Caddy alone.
    pub caddy: Option<crate::caddy::spec::CaddySpec>,
}

struct Ctx<'a> {
    file: &'a Path,
    text: &'a str,
    /// Byte offset of each line start, for O(log n) positions.
    lines: Vec<usize>,
}

impl<'a> Ctx<'a> {
    fn new(file: &'a Path, text: &'a str) -> Ctx<'a> {
        let lines = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        Ctx { file, text, lines }
    }
    fn loc(&self, span: std::ops::Range<usize>) -> Location {
        let off = span.start.min(self.text.len());
        let idx = self.lines.partition_point(|&s| s <= off) - 1;
        let column = self.text[self.lines[idx]..off].chars().count() + 1;
        Location { file: self.file.to_path_buf(), line: idx + 1, column }
    }
    fn field<T>(&self, s: &Spanned<T>) -> Field<T>
    where
        T: Clone,
    {
        Field { value: s.get_ref().clone(), at: self.loc(s.span()) }
    }
    fn err(&self, span: std::ops::Range<usize>, msg: impl Into<String>) -> ProfileError {
        ProfileError { at: self.loc(span), message: msg.into() }
    }
}

fn one_of(ctx: &Ctx, s: &Spanned<String>, what: &str, allowed: &[&str]) -> Result<String, ProfileError> {
    let v = s.get_ref().as_str();
    if allowed.contains(&v) {
        Ok(v.to_string())
    } else {
        Err(ctx.err(s.span(), format!("{what} '{v}' is not allowed: use one of {}", allowed.join(", "))))
    }
}

fn port_value(ctx: &Ctx, s: &Spanned<toml::Value>, key: &str) -> Result<Field<String>, ProfileError> {
    let bad = |msg: String| ctx.err(s.span(), msg);
    let item = |v: &toml::Value| -> Result<String, ProfileError> {
        match v {
            toml::Value::Integer(i) => Ok(i.to_string()),
            toml::Value::String(t) => Ok(t.trim().to_string()),
            other => Err(bad(format!("{key} entries must be numbers or strings, not {}", other.type_str()))),
        }
    };
    let value = match s.get_ref() {
        toml::Value::Array(a) if a.is_empty() => return Err(bad(format!("{key} is an empty list"))),
        toml::Value::Array(a) => a.iter().map(item).collect::<Result<Vec<_>, _>>()?.join(","),
        v => item(v)?,
    };
    Ok(Field { value, at: ctx.loc(s.span()) })
}

fn policy(ctx: &Ctx, s: &Option<Spanned<String>>, dir: &str) -> Result<Option<Field<PolicyWord>>, ProfileError> {
    let Some(s) = s else { return Ok(None) };
    let w = match one_of(ctx, s, &format!("default {dir} policy"), &["allow", "deny", "reject"])?.as_str() {
        "allow" => PolicyWord::Allow,
        "deny" => PolicyWord::Deny,
        _ => PolicyWord::Reject,
    };
    Ok(Some(Field { value: w, at: ctx.loc(s.span()) }))
}

/// One file's contribution before merging.
#[derive(Default)]
struct Layer {
    host: RawHost,
    enabled: Option<bool>,
    has_firewall: bool,
    logging: Option<Field<String>>,
    purge: Option<bool>,
    keep: Option<Vec<String>>,
    defaults: Defaults,
    rules: Vec<(RuleSpec, bool)>,
    caddy: Option<crate::caddy::spec::CaddyLayer>,
}

fn rule_spec(ctx: &Ctx, r: &Spanned<RawRule>) -> Result<(RuleSpec, bool), ProfileError> {
    let at = ctx.loc(r.span());
    let raw = r.get_ref();
    let f = |o: &Option<Spanned<String>>| o.as_ref().map(|s| ctx.field(s));
    let drop = raw.drop.unwrap_or(false);
    if drop && raw.id.is_none() {
        return Err(ProfileError { at, message: "`drop = true` needs the `id` of the inherited rule to drop".into() });
    }
    let action = match &raw.action {
        Some(a) => match one_of(ctx, a, "action", &["allow", "deny", "reject", "limit"])?.as_str() {
            "allow" => RuleAction::Allow,
            "deny" => RuleAction::Deny,
            "reject" => RuleAction::Reject,
            _ => RuleAction::Limit,
        },
        None if drop => RuleAction::Allow,
        None => {
            return Err(ProfileError { at, message: "rule has no `action`: use allow, deny, reject or limit".into() })
        }
    };
    let direction = match &raw.direction {
        Some(d) => one_of(ctx, d, "direction", &["in", "out"])?,
        None => "in".into(),
    };
    let log = match &raw.log {
        Some(l) => match one_of(ctx, l, "log", &["off", "new", "all"])?.as_str() {
            "new" => "log".to_string(),
            "all" => "log-all".to_string(),
            _ => String::new(),
        },
        None => String::new(),
    };
    let spec = RuleSpec {
        at,
        id: raw.id.as_ref().map(|s| s.get_ref().clone()),
        action,
        port: raw.port.as_ref().map(|p| port_value(ctx, p, "port")).transpose()?,
        proto: f(&raw.proto),
        direction,
        from: f(&raw.from),
        to: f(&raw.to),
        from_port: raw.from_port.as_ref().map(|p| port_value(ctx, p, "from_port")).transpose()?,
        interface: f(&raw.interface),
        out_interface: f(&raw.out_interface),
        route: raw.route.unwrap_or(false),
        app: f(&raw.app),
        from_app: f(&raw.from_app),
        log,
        comment: f(&raw.comment),
    };
    Ok((spec, drop))
}

fn toml_error(file: &Path, text: &str, e: toml::de::Error) -> ProfileError {
    let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
    ProfileError { at: Location { file: file.to_path_buf(), line, column }, message: e.message().trim().to_string() }
}

fn load_layers(path: &Path, stack: &mut Vec<PathBuf>, out: &mut Vec<(PathBuf, Layer)>) -> Result<(), ProfileError> {
    let canon = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let at0 = Location { file: path.to_path_buf(), line: 0, column: 0 };
    if stack.contains(&canon) {
        return Err(ProfileError { at: at0, message: "`extends` cycle: this profile extends itself".into() });
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| ProfileError { at: at0.clone(), message: format!("cannot read profile: {e}") })?;
    let raw: RawProfile = toml::from_str(&text).map_err(|e| toml_error(path, &text, e))?;
    let ctx = Ctx::new(path, &text);
    stack.push(canon);
    for base in raw.extends.iter().flatten() {
        let rel = Path::new(base.get_ref());
        let bp = if rel.is_absolute() { rel.to_path_buf() } else { path.parent().unwrap_or(Path::new(".")).join(rel) };
        if !bp.exists() {
            return Err(ctx.err(base.span(), format!("extended profile {} does not exist", bp.display())));
        }
        load_layers(&bp, stack, out)?;
    }
    stack.pop();
    let mut layer = Layer { host: raw.host.unwrap_or_default(), ..Default::default() };
    layer.caddy = raw.caddy.map(|c| c.layer(&|span| ctx.loc(span))).transpose()?;
    if let Some(fw) = raw.firewall {
        layer.has_firewall = true;
        layer.enabled = fw.enabled;
        if let Some(l) = &fw.logging {
            one_of(&ctx, l, "logging", &["off", "low", "medium", "high", "full"])?;
            layer.logging = Some(ctx.field(l));
        }
        layer.purge = fw.purge;
        if let Some(k) = &fw.keep {
            for g in k {
                globset::Glob::new(g)
                    .map_err(|e| ProfileError { at: ctx.loc(0..0), message: format!("bad keep glob '{g}': {e}") })?;
            }
        }
        layer.keep = fw.keep;
        if let Some(d) = &fw.defaults {
            layer.defaults = Defaults {
                incoming: policy(&ctx, &d.incoming, "incoming")?,
                outgoing: policy(&ctx, &d.outgoing, "outgoing")?,
                routed: policy(&ctx, &d.routed, "routed")?,
            };
        }
        for r in fw.rules.iter().flatten() {
            layer.rules.push(rule_spec(&ctx, r)?);
        }
    }
    out.push((path.to_path_buf(), layer));
    Ok(())
}

/// Load a profile and everything it extends.
pub fn load(path: &Path) -> Result<Profile, ProfileError> {
    let mut layers = Vec::new();
    load_layers(path, &mut Vec::new(), &mut layers)?;
    let mut host = Host::default();
    let mut fw: Option<FirewallSpec> = None;
    let mut caddy: Option<crate::caddy::spec::CaddySpec> = None;
    let mut files = Vec::new();
    for (file, l) in layers {
        files.push(file);
        host.name = l.host.name.or(host.name);
        host.tenant = l.host.tenant.or(host.tenant);
        if let Some(c) = l.caddy {
            caddy.get_or_insert_with(Default::default).merge(c);
        }
        if !l.has_firewall {
            continue;
        }
        let f = fw.get_or_insert_with(FirewallSpec::default);
        f.enabled = l.enabled.or(f.enabled);
        f.logging = l.logging.or(f.logging.take());
        f.purge = l.purge.unwrap_or(f.purge);
        if let Some(k) = l.keep {
            f.keep = k;
        }
        f.defaults.incoming = l.defaults.incoming.or(f.defaults.incoming.take());
        f.defaults.outgoing = l.defaults.outgoing.or(f.defaults.outgoing.take());
        f.defaults.routed = l.defaults.routed.or(f.defaults.routed.take());
        for (r, drop) in l.rules {
            // A rule with the id of an inherited one replaces it in place.
            let pos = r.id.as_ref().and_then(|id| f.rules.iter().position(|x| x.id.as_ref() == Some(id)));
            match (pos, drop) {
                (Some(i), true) => {
                    f.rules.remove(i);
                }
                (None, true) => {
                    return Err(ProfileError {
                        at: r.at.clone(),
                        message: format!("`drop = true`: no inherited rule has id '{}'", r.id.unwrap_or_default()),
                    })
                }
                (Some(i), false) => f.rules[i] = r,
                (None, false) => f.rules.push(r),
            }
        }
    }
    Ok(Profile { path: path.to_path_buf(), files, host, firewall: fw, caddy })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn extends_merges_and_drops() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "base.toml",
            "[firewall]\nlogging = \"low\"\n[[firewall.rules]]\nid = \"ssh\"\naction = \"limit\"\nport = 22\nproto = \"tcp\"\n[[firewall.rules]]\naction = \"allow\"\nport = 80\nproto = \"tcp\"\n",
        );
        let p = write(
            d.path(),
            "child.toml",
            "extends = [\"base.toml\"]\n[firewall]\nlogging = \"medium\"\n[[firewall.rules]]\nid = \"ssh\"\ndrop = true\n[[firewall.rules]]\naction = \"allow\"\nport = [443, \"8443\"]\nproto = \"tcp\"\n",
        );
        let prof = load(&p).unwrap();
        let fw = prof.firewall.unwrap();
        assert_eq!(fw.logging.unwrap().value, "medium");
        assert_eq!(fw.rules.len(), 2);
        assert_eq!(fw.rules[0].port.as_ref().unwrap().value, "80");
        assert_eq!(fw.rules[1].port.as_ref().unwrap().value, "443,8443");
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), "p.toml", "[firewall]\n[[firewall.rules]]\naction = \"permit\"\n");
        let e = load(&p).unwrap_err();
        assert_eq!(e.at.line, 3);
        assert_eq!(e.at.column, 10);
        assert!(e.message.contains("allow, deny, reject, limit"), "{e}");
        let p = write(d.path(), "q.toml", "[firewall]\nlogin = 1\n");
        let e = load(&p).unwrap_err();
        assert_eq!(e.at.line, 2);
        assert!(e.message.contains("unknown field"), "{e}");
        let p = write(d.path(), "c.toml", "extends = [\"c.toml\"]\n");
        assert!(load(&p).unwrap_err().message.contains("cycle"));
    }
}
