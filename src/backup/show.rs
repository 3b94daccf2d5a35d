//! `harden show`: the backup configs found at the tools' common paths, as a `[backup]`
//! profile fragment. Only paths, owners, modes and cipher names are printed; never a value
//! read from a config.
use super::error::Result;
use super::findings::Check;
use super::fsroot::Root;
use super::model::DeclaredEncryption;
use super::observe::{observe, BackupSet, SetKind};
use super::parse::pgbackrest::{DEFAULT_CONFIG, LEGACY_CONFIG};
use super::parse::systemd::{parse_unit, Unit};
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

/// The units under /etc/systemd/system, each parsed once: file name and what it declares.
/// A unit harden cannot read or parse is left out.
fn system_units(root: &Root) -> Vec<(String, Unit)> {
    files_in(root, "/etc/systemd/system", &[".service"])
        .into_iter()
        .filter_map(|u| {
            let unit = parse_unit(&u, &root.read_to_string(&u).ok()?).ok()?;
            Some((u.file_name()?.to_string_lossy().into_owned(), unit))
        })
        .collect()
}

/// Those of `units` that load `env` with `EnvironmentFile=` (`-` optional ones too).
fn units_loading(units: &[(String, Unit)], env: &Path) -> Vec<Value> {
    units.iter().filter(|(_, u)| u.env_files.iter().any(|e| e.path == env)).map(|(name, _)| s(name.as_str())).collect()
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
    let envs = files_in(root, "/etc/restic", &[".env"]);
    let units = if envs.is_empty() { Vec::new() } else { system_units(root) };
    for env in envs {
        let mut e = Table::new();
        e.insert("env_file".into(), s(env.display().to_string()));
        if let Some(o) = owner(root, &env) {
            e.insert("owner".into(), o);
        }
        let loading = units_loading(&units, &env);
        if !loading.is_empty() {
            e.insert("units".into(), Value::Array(loading));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_with_several_env_files_are_listed_under_each() {
        let t = tempfile::tempdir().unwrap();
        let write = |p: &str, text: &str| {
            let p = t.path().join(p.trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write("/etc/restic/a.env", "RESTIC_REPOSITORY=/srv/a\n");
        write("/etc/restic/b.env", "RESTIC_REPOSITORY=/srv/b\n");
        write("/etc/restic/c.env", "RESTIC_REPOSITORY=/srv/c\n");
        write(
            "/etc/systemd/system/both.service",
            "[Service]\nEnvironmentFile=-/etc/restic/a.env\nEnvironmentFile = /etc/restic/b.env\nExecStart=/usr/bin/restic backup /srv\n",
        );
        write("/etc/systemd/system/b.service", "[Service]\nEnvironmentFile=/etc/restic/b.env\n");
        // a comment, another path that ends the same, and a unit that is not a .service
        write(
            "/etc/systemd/system/none.service",
            "[Service]\n#EnvironmentFile=/etc/restic/c.env\nEnvironmentFile=/srv/etc/restic/c.env\n",
        );
        write("/etc/systemd/system/c.timer", "[Service]\nEnvironmentFile=/etc/restic/c.env\n");
        let table = backup_table(&Root::new(t.path())).unwrap().unwrap();
        let units: Vec<(String, Vec<String>)> = table["restic"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let names = e.get("units").and_then(Value::as_array).cloned().unwrap_or_default();
                (
                    e["env_file"].as_str().unwrap().to_string(),
                    names.iter().map(|n| n.as_str().unwrap().to_string()).collect(),
                )
            })
            .collect();
        let want = |env: &str, names: &[&str]| (env.to_string(), names.iter().map(|n| n.to_string()).collect());
        assert_eq!(
            units,
            vec![
                want("/etc/restic/a.env", &["both.service"]),
                want("/etc/restic/b.env", &["b.service", "both.service"]),
                want("/etc/restic/c.env", &[]),
            ]
        );
    }
}
