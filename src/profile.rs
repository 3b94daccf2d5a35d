//! The host profile: TOML files with `extends`, merged into one value whose
//! every setting remembers the file, line and column it came from.
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};
use toml::Spanned;

use crate::backup::spec::{self, BackupSpec};
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
    backup: Option<RawBackup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBackup {
    require_encryption: Option<bool>,
    secret_mode: Option<Spanned<String>>,
    restic: Option<Vec<RawRestic>>,
    borgmatic: Option<Vec<RawBorgmatic>>,
    pgbackrest: Option<Vec<RawPgBackRest>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRestic {
    env_file: Spanned<String>,
    owner: Option<Spanned<String>>,
    units: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBorgmatic {
    config: Spanned<String>,
    allowed_modes: Option<Spanned<Vec<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPgBackRest {
    config: Spanned<String>,
    owner: Option<Spanned<String>>,
    cipher: Option<Spanned<String>>,
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
    ipv6: Option<bool>,
    install: Option<bool>,
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
    /// IPV6=yes|no in /etc/default/ufw.
    pub ipv6: Option<bool>,
    /// Install ufw with the package manager when it is missing (default true).
    pub install: Option<bool>,
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
    pub backup: Option<BackupSpec>,
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
    ipv6: Option<bool>,
    install: Option<bool>,
    has_firewall: bool,
    logging: Option<Field<String>>,
    purge: Option<bool>,
    keep: Option<Vec<String>>,
    defaults: Defaults,
    rules: Vec<(RuleSpec, bool)>,
    caddy: Option<crate::caddy::spec::CaddyLayer>,
    backup: Option<(Option<bool>, BackupSpec)>,
}

/// `[backup]` of one file; values checked here so errors point at the file:line:col.
fn backup_layer(ctx: &Ctx, raw: RawBackup) -> Result<(Option<bool>, BackupSpec), ProfileError> {
    let check = |s: &Spanned<String>, r: Result<(), String>| r.map_err(|m| ctx.err(s.span(), m));
    let path = |s: &Spanned<String>, what: &str| -> Result<Field<String>, ProfileError> {
        check(s, spec::check_path(what, s.get_ref()))?;
        Ok(ctx.field(s))
    };
    let owner = |o: &Option<Spanned<String>>| -> Result<Option<Field<String>>, ProfileError> {
        match o {
            Some(s) if s.get_ref().trim().is_empty() => {
                Err(ctx.err(s.span(), "owner is empty: name the user that runs the backup"))
            }
            Some(s) => Ok(Some(ctx.field(s))),
            None => Ok(None),
        }
    };
    let mut b = BackupSpec::default();
    if let Some(m) = &raw.secret_mode {
        let value = spec::parse_mode(m.get_ref()).map_err(|e| ctx.err(m.span(), e))?;
        b.secret_mode = Some(Field { value, at: ctx.loc(m.span()) });
    }
    for r in raw.restic.into_iter().flatten() {
        let units = r.units.iter().flatten().map(|u| ctx.field(u)).collect();
        b.restic.push(spec::ResticSpec { env_file: path(&r.env_file, "env_file")?, owner: owner(&r.owner)?, units });
    }
    for r in raw.borgmatic.into_iter().flatten() {
        if let Some(m) = &r.allowed_modes {
            spec::check_borg_modes(m.get_ref()).map_err(|e| ctx.err(m.span(), e))?;
        }
        b.borgmatic.push(spec::BorgmaticSpec {
            config: path(&r.config, "config")?,
            allowed_modes: r.allowed_modes.as_ref().map(|m| ctx.field(m)),
        });
    }
    for r in raw.pgbackrest.into_iter().flatten() {
        if let Some(c) = &r.cipher {
            check(c, spec::check_cipher(c.get_ref()))?;
        }
        b.pgbackrest.push(spec::PgBackRestSpec {
            config: path(&r.config, "config")?,
            owner: owner(&r.owner)?,
            cipher: r.cipher.as_ref().map(|c| ctx.field(c)),
        });
    }
    Ok((raw.require_encryption, b))
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
        let chain: Vec<String> = stack.iter().chain(std::iter::once(&canon)).map(|p| p.display().to_string()).collect();
        return Err(ProfileError { at: at0, message: format!("`extends` cycle: {}", chain.join(" -> ")) });
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
        layer.ipv6 = fw.ipv6;
        layer.install = fw.install;
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
            let (spec, drop) = rule_spec(&ctx, r)?;
            // An id replaces an inherited rule; twice in one file is a mistake.
            if let Some(id) = &spec.id {
                if let Some((other, _)) = layer.rules.iter().find(|(o, _)| o.id.as_ref() == Some(id)) {
                    return Err(ProfileError {
                        at: spec.at.clone(),
                        message: format!(
                            "rule id '{id}' is already used at {} in the same file; ids must be unique",
                            other.at
                        ),
                    });
                }
            }
            layer.rules.push((spec, drop));
        }
    }
    if let Some(b) = raw.backup {
        layer.backup = Some(backup_layer(&ctx, b)?);
    }
    out.push((path.to_path_buf(), layer));
    Ok(())
}

/// Load a profile and everything it extends.
pub fn load(path: &Path) -> Result<Profile, ProfileError> {
    // Absolute paths, so a saved plan names the profile from anywhere.
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let path = abs.as_path();
    let mut layers = Vec::new();
    load_layers(path, &mut Vec::new(), &mut layers)?;
    let mut host = Host::default();
    let mut fw: Option<FirewallSpec> = None;
    let mut caddy: Option<crate::caddy::spec::CaddySpec> = None;
    let mut backup: Option<BackupSpec> = None;
    let mut files = Vec::new();
    for (file, l) in layers {
        files.push(file);
        host.name = l.host.name.or(host.name);
        host.tenant = l.host.tenant.or(host.tenant);
        if let Some(c) = l.caddy {
            caddy.get_or_insert_with(Default::default).merge(c);
        }
        // [backup]: scalars override the base, arrays of tables concatenate.
        if let Some((require, b)) = l.backup {
            let m = backup.get_or_insert_with(BackupSpec::default);
            m.require_encryption = require.unwrap_or(m.require_encryption);
            m.secret_mode = b.secret_mode.or(m.secret_mode.take());
            m.restic.extend(b.restic);
            m.borgmatic.extend(b.borgmatic);
            m.pgbackrest.extend(b.pgbackrest);
        }
        if !l.has_firewall {
            continue;
        }
        let f = fw.get_or_insert_with(FirewallSpec::default);
        f.enabled = l.enabled.or(f.enabled);
        f.ipv6 = l.ipv6.or(f.ipv6);
        f.install = l.install.or(f.install);
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
    Ok(Profile { path: path.to_path_buf(), files, host, firewall: fw, caddy, backup })
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

    #[test]
    fn backup_section_merges_over_extends() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "base.toml",
            "[backup]\nrequire_encryption = true\nsecret_mode = \"0600\"\n[[backup.restic]]\nenv_file = \"/etc/restic/odoo.env\"\nowner = \"root\"\nunits = [\"restic-odoo.service\"]\n",
        );
        let p = write(
            d.path(),
            "child.toml",
            "extends = [\"base.toml\"]\n[backup]\nsecret_mode = \"0640\"\n[[backup.restic]]\nenv_file = \"/etc/restic/b.env\"\n[[backup.borgmatic]]\nconfig = \"/etc/borgmatic/config.yaml\"\nallowed_modes = [\"repokey-blake2\", \"keyfile\"]\n[[backup.pgbackrest]]\nconfig = \"/etc/pgbackrest/pgbackrest.conf\"\nowner = \"postgres\"\ncipher = \"aes-256-cbc\"\n",
        );
        let b = load(&p).unwrap().backup.unwrap();
        assert!(b.require_encryption);
        assert_eq!(b.secret_mode.as_ref().unwrap().value, 0o640);
        assert_eq!(b.secret_mode.unwrap().at.line, 3);
        let envs: Vec<_> = b.restic.iter().map(|r| r.env_file.value.as_str()).collect();
        assert_eq!(envs, ["/etc/restic/odoo.env", "/etc/restic/b.env"]);
        assert_eq!(b.restic[0].units[0].value, "restic-odoo.service");
        assert_eq!(b.borgmatic[0].allowed_modes.as_ref().unwrap().value.len(), 2);
        assert_eq!(b.pgbackrest[0].cipher.as_ref().unwrap().value, "aes-256-cbc");
        let p = write(d.path(), "none.toml", "[host]\nname = \"x\"\n");
        assert!(load(&p).unwrap().backup.is_none());
    }

    #[test]
    fn backup_errors_name_file_line_and_column() {
        let d = tempfile::tempdir().unwrap();
        for (text, line, col, want) in [
            ("[backup]\nsecret_mode = \"0999\"\n", 2, 15, "octal"),
            ("[backup]\n[[backup.restic]]\nenv_file = \"/e\"\npasword_file = \"/p\"\n", 4, 1, "unknown field"),
            (
                "[backup]\n[[backup.borgmatic]]\nconfig = \"/c\"\nallowed_modes = [\"repokey\", \"rot13\"]\n",
                4,
                17,
                "rot13",
            ),
            ("[backup]\n[[backup.pgbackrest]]\nconfig = \"/c\"\ncipher = \"aes-128\"\n", 4, 10, "aes-256-cbc"),
            ("[backup]\n[[backup.pgbackrest]]\nconfig = \"pgbackrest.conf\"\n", 3, 10, "absolute"),
            ("[backup]\n[[backup.restic]]\nowner = \"root\"\n", 2, 1, "env_file"),
        ] {
            let p = write(d.path(), "b.toml", text);
            let e = load(&p).unwrap_err();
            assert_eq!((e.at.line, e.at.column), (line, col), "{e}");
            assert!(e.message.contains(want), "{e}");
            assert_eq!(e.at.file, p);
        }
    }
}
