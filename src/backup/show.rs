//! `harden show`: the backup configs found at the tools' common paths, as a `[backup]`
//! profile fragment. Only paths, owners, modes and cipher names are printed; never a value
//! read from a config.
use super::error::Result;
use super::findings::Check;
use super::fsroot::Root;
use super::model::DeclaredEncryption;
use super::observe::{observe, BackupSet, SetKind};
use super::parse::pgbackrest::{DEFAULT_CONFIG, LEGACY_CONFIG};
use super::probe::Actual;
use std::path::{Path, PathBuf};
use toml::{Table, Value};

fn files_in(root: &Root, dir: &str, suffixes: &[&str]) -> Vec<PathBuf> {
    let dir = Path::new(dir);
    let mut names = root.list_dir(dir).unwrap_or_default();
    names.sort();
    names.into_iter().filter(|n| suffixes.iter().any(|s| n.ends_with(s))).map(|n| dir.join(n)).collect()
}

fn s(v: impl Into<String>) -> Value {
    Value::String(v.into())
}

/// Units under /etc/systemd/system that load `env` with `EnvironmentFile=`.
fn units_loading(root: &Root, env: &Path) -> Vec<Value> {
    let needle = env.display().to_string();
    files_in(root, "/etc/systemd/system", &[".service"])
        .into_iter()
        .filter(|u| {
            root.read_to_string(u).is_ok_and(|t| {
                t.lines().any(|l| l.trim_start().starts_with("EnvironmentFile=") && l.trim_end().ends_with(&needle))
            })
        })
        .filter_map(|u| u.file_name().map(|n| s(n.to_string_lossy())))
        .collect()
}

fn owner(root: &Root, p: &Path) -> Option<Value> {
    root.meta(p).ok().and_then(|m| m.owner).map(s)
}

/// The observed `[backup]` table, or `None` when no backup config was found.
pub fn backup_table(root: &Root) -> Result<Option<Table>> {
    let mut t = Table::new();
    let mut all_encrypted = true;
    let mut note = |obs: &super::observe::Observation| {
        let plain =
            obs.findings.iter().any(|f| matches!(f.check, Check::RepoNotEncrypted | Check::EncryptionNotDeclared));
        all_encrypted &= !plain;
    };
    let mut restic = Vec::new();
    for env in files_in(root, "/etc/restic", &[".env"]) {
        let mut e = Table::new();
        e.insert("env_file".into(), s(env.display().to_string()));
        if let Some(o) = owner(root, &env) {
            e.insert("owner".into(), o);
        }
        let units = units_loading(root, &env);
        if !units.is_empty() {
            e.insert("units".into(), Value::Array(units));
        }
        restic.push(Value::Table(e));
    }
    let mut borgmatic = Vec::new();
    let mut configs = files_in(root, "/etc/borgmatic", &["config.yaml"]);
    configs.extend(files_in(root, "/etc/borgmatic.d", &[".yaml", ".yml"]));
    for config in configs {
        let set = BackupSet {
            name: config.display().to_string(),
            kind: SetKind::Borgmatic { config: config.clone() },
            policy: None,
        };
        let obs = observe(root, &set)?;
        note(&obs);
        let mut e = Table::new();
        e.insert("config".into(), s(config.display().to_string()));
        let mut modes: Vec<String> = obs
            .repos
            .iter()
            .flat_map(|r| &r.actual)
            .filter(|a| matches!(a.state, Actual::Encrypted { .. }))
            .filter_map(|a| a.mode.clone())
            .collect();
        modes.sort();
        modes.dedup();
        if !modes.is_empty() {
            e.insert("allowed_modes".into(), Value::Array(modes.into_iter().map(s).collect()));
        }
        borgmatic.push(Value::Table(e));
    }
    let mut pg = Vec::new();
    let config = [DEFAULT_CONFIG, LEGACY_CONFIG].into_iter().map(PathBuf::from).find(|p| root.exists(p));
    if let Some(config) = config {
        let set = BackupSet {
            name: config.display().to_string(),
            kind: SetKind::PgBackRest { config: config.clone(), include: None },
            policy: None,
        };
        let obs = observe(root, &set)?;
        note(&obs);
        let mut e = Table::new();
        e.insert("config".into(), s(config.display().to_string()));
        if let Some(o) = owner(root, &config) {
            e.insert("owner".into(), o);
        }
        let repos: Vec<_> = obs.repos.iter().map(|r| &r.declared.encryption.value).collect();
        let cipher = match repos.first() {
            Some(DeclaredEncryption::Cipher { cipher }) if repos.iter().all(|r| *r == repos[0]) => Some(cipher.clone()),
            _ => None,
        };
        if let Some(c) = cipher {
            e.insert("cipher".into(), s(c));
        }
        pg.push(Value::Table(e));
    }
    if restic.is_empty() && borgmatic.is_empty() && pg.is_empty() {
        return Ok(None);
    }
    t.insert("require_encryption".into(), Value::Boolean(all_encrypted));
    for (k, v) in [("restic", restic), ("borgmatic", borgmatic), ("pgbackrest", pg)] {
        if !v.is_empty() {
            t.insert(k.into(), Value::Array(v));
        }
    }
    Ok(Some(t))
}
