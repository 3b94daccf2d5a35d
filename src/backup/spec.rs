//! The `[backup]` profile section as harden uses it, after parsing and merging.
//!
//! Parsing (with file:line:col) lives in `profile.rs` next to the other sections;
//! the checks of single values live here so their rules sit beside their meaning.
use super::observe::{BackupSet, SetKind};
use crate::profile::Field;
use std::path::PathBuf;

/// Modes `borg init -e` accepts (borg 1.x); `allowed_modes` must name these.
pub const BORG_MODES: &[&str] =
    &["none", "authenticated", "authenticated-blake2", "repokey", "repokey-blake2", "keyfile", "keyfile-blake2"];

/// pgBackRest knows one cipher besides `none`.
pub const PGBACKREST_CIPHERS: &[&str] = &["aes-256-cbc"];

#[derive(Debug, Clone, PartialEq, Default)]
pub struct BackupSpec {
    /// A repository whose actual state is not encrypted (or that declares nothing) is a finding.
    pub require_encryption: bool,
    /// Most permission bits a secret file may allow; `None` = each tool's default
    /// (0600, 0640 for pgBackRest which runs as postgres and shares its group).
    pub secret_mode: Option<Field<u32>>,
    pub restic: Vec<ResticSpec>,
    pub borgmatic: Vec<BorgmaticSpec>,
    pub pgbackrest: Vec<PgBackRestSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResticSpec {
    pub env_file: Field<String>,
    pub owner: Option<Field<String>>,
    pub units: Vec<Field<String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BorgmaticSpec {
    pub config: Field<String>,
    /// `None`: any mode; encryption itself is still checked by `require_encryption`.
    pub allowed_modes: Option<Field<Vec<String>>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PgBackRestSpec {
    pub config: Field<String>,
    pub owner: Option<Field<String>>,
    /// Required cipher for every repoN; `None` leaves repo ciphers alone.
    pub cipher: Option<Field<String>>,
}

/// `"0600"` -> 0o600. Only permission bits: setuid/sticky make no sense for a secret.
pub fn parse_mode(s: &str) -> Result<u32, String> {
    let digits = s.strip_prefix("0o").unwrap_or(s);
    match u32::from_str_radix(digits, 8) {
        // a secret mode lets no one but owner and group read, and the group never write
        Ok(m) if m <= 0o777 && !digits.is_empty() && m & 0o027 != 0 => Err(format!(
            "secret_mode '{s}' would let the group write or other users read secret files: use at most \"0640\" (\"0600\" if the group does not need them)"
        )),
        Ok(m) if m <= 0o777 && !digits.is_empty() => Ok(m),
        _ => Err(format!("secret_mode '{s}' is not an octal permission mode: write it like \"0600\" or \"0640\"")),
    }
}

pub fn check_path(what: &str, p: &str) -> Result<(), String> {
    if p.starts_with('/') {
        Ok(())
    } else {
        Err(format!("{what} '{p}' must be an absolute path (as seen on the host, e.g. /etc/restic/odoo.env)"))
    }
}

pub fn check_borg_modes(modes: &[String]) -> Result<(), String> {
    if modes.is_empty() {
        return Err("allowed_modes is empty, so no borg repository could pass: list the modes to allow (e.g. [\"repokey-blake2\"]) or remove the key to allow any".into());
    }
    match modes.iter().find(|m| !BORG_MODES.contains(&m.as_str())) {
        Some(m) => Err(format!("borg mode '{m}' is not one of {}", BORG_MODES.join(", "))),
        None => Ok(()),
    }
}

pub fn check_cipher(c: &str) -> Result<(), String> {
    if PGBACKREST_CIPHERS.contains(&c) {
        Ok(())
    } else {
        Err(format!("cipher '{c}' is not a pgBackRest cipher: use {}", PGBACKREST_CIPHERS.join(", ")))
    }
}

/// What one profile entry asks for, ready to observe.
#[derive(Debug, Clone)]
pub struct Configured {
    pub set: BackupSet,
    /// Files the profile names directly: held to the secret policy like the secrets
    /// they point at, since configs commonly carry credentials (see the corpus).
    pub files: Vec<PathBuf>,
    pub allowed_modes: Option<Field<Vec<String>>>,
    pub cipher: Option<Field<String>>,
    /// The profile line of the entry, for findings about the entry itself.
    pub at: crate::error::Location,
}

impl BackupSpec {
    /// One observable set per profile entry, with the policy the profile asks for.
    pub fn sets(&self) -> Vec<Configured> {
        let policy = |kind: &SetKind, owner: Option<&Field<String>>| {
            let mut p = super::observe::default_policy(kind);
            if let Some(o) = owner {
                p.run_as = o.value.clone();
            }
            if let Some(m) = &self.secret_mode {
                p.max_mode = m.value;
            }
            Some(p)
        };
        let mut out = Vec::new();
        for r in &self.restic {
            let kind = SetKind::Restic {
                env_files: vec![PathBuf::from(&r.env_file.value)],
                units: r.units.iter().map(|u| unit_path(&u.value)).collect(),
            };
            out.push(Configured {
                set: BackupSet { name: r.env_file.value.clone(), policy: policy(&kind, r.owner.as_ref()), kind },
                files: vec![PathBuf::from(&r.env_file.value)],
                allowed_modes: None,
                cipher: None,
                at: r.env_file.at.clone(),
            });
        }
        for b in &self.borgmatic {
            let kind = SetKind::Borgmatic { config: PathBuf::from(&b.config.value) };
            out.push(Configured {
                set: BackupSet { name: b.config.value.clone(), policy: policy(&kind, None), kind },
                files: vec![PathBuf::from(&b.config.value)],
                allowed_modes: b.allowed_modes.clone(),
                cipher: None,
                at: b.config.at.clone(),
            });
        }
        for p in &self.pgbackrest {
            let kind = SetKind::PgBackRest { config: PathBuf::from(&p.config.value), include: None };
            out.push(Configured {
                set: BackupSet { name: p.config.value.clone(), policy: policy(&kind, p.owner.as_ref()), kind },
                files: vec![PathBuf::from(&p.config.value)],
                allowed_modes: None,
                cipher: p.cipher.clone(),
                at: p.config.at.clone(),
            });
        }
        out
    }
}

/// `restic-odoo.service` -> `/etc/systemd/system/restic-odoo.service`; a path stays a path.
pub fn unit_path(u: &str) -> PathBuf {
    if u.starts_with('/') {
        PathBuf::from(u)
    } else {
        PathBuf::from("/etc/systemd/system").join(u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_values() {
        assert_eq!(parse_mode("0600"), Ok(0o600));
        assert_eq!(parse_mode("640"), Ok(0o640));
        assert!(parse_mode("0800").is_err());
        assert!(parse_mode("4755").is_err());
        assert!(parse_mode("").is_err());
        assert!(check_borg_modes(&["repokey".into(), "keyfile-blake2".into()]).is_ok());
        assert!(check_borg_modes(&["repokey-sha256".into()]).unwrap_err().contains("repokey-sha256"));
        assert!(check_cipher("aes-256-gcm").is_err());
        assert!(check_path("env_file", "etc/x").is_err());
        assert_eq!(unit_path("restic.service"), PathBuf::from("/etc/systemd/system/restic.service"));
    }
}
