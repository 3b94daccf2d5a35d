//! The entry point: observe configured backup sets (declared + actual + findings).
//!
//! Only local files are read through [`Root`]; no process is spawned, so observing many
//! sets costs file reads only (segment scans read headers, not object data).
use super::error::Result;
use super::findings::{Check, Finding, Severity};
use super::fsroot::Root;
use super::model::*;
use super::parse::{borgmatic, pgbackrest, resticprofile, walg};
use super::perms::{check_secret_file, Policy};
use super::probe::{probe, Actual, ActualRepo};
use serde::Serialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// What to read for one backup set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "tool", rename_all = "kebab-case")]
pub enum SetKind {
    Borgmatic {
        config: PathBuf,
    },
    /// restic driven by env files and/or systemd units (their `EnvironmentFile=`s are read too).
    Restic {
        env_files: Vec<PathBuf>,
        units: Vec<PathBuf>,
    },
    /// `include`: conf.d directory; default `conf.d` beside `config`.
    PgBackRest {
        config: PathBuf,
        include: Option<PathBuf>,
    },
    WalG {
        config: PathBuf,
    },
    Resticprofile {
        config: PathBuf,
    },
    Autorestic {
        config: PathBuf,
    },
}

/// One configured backup set (from the `[backup]` profile).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupSet {
    pub name: String,
    pub kind: SetKind,
    /// Run-as user and secret mode; `None` = the tool's default (see [`default_policy`]).
    pub policy: Option<Policy>,
}

/// root/0600 for restic and borgmatic; postgres/0640 for pgBackRest and WAL-G, which
/// run as postgres (a root-only 0600 file would break them).
pub fn default_policy(kind: &SetKind) -> Policy {
    match kind {
        SetKind::PgBackRest { .. } | SetKind::WalG { .. } => Policy { run_as: "postgres".into(), max_mode: 0o640 },
        _ => Policy { run_as: "root".into(), max_mode: 0o600 },
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepoObservation {
    pub tool: Tool,
    pub declared: DeclaredRepo,
    pub actual: Vec<ActualRepo>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observation {
    pub name: String,
    pub policy: Policy,
    pub decls: Vec<BackupDecl>,
    pub repos: Vec<RepoObservation>,
    pub findings: Vec<Finding>,
}

/// Observe many sets; one result each, so a broken config does not hide the others.
pub fn observe_all(root: &Root, sets: &[BackupSet]) -> Vec<Result<Observation>> {
    sets.iter().map(|s| observe(root, s)).collect()
}

pub fn observe(root: &Root, set: &BackupSet) -> Result<Observation> {
    let policy = set.policy.clone().unwrap_or_else(|| default_policy(&set.kind));
    let mut findings = Vec::new();
    let decls = match &set.kind {
        SetKind::Borgmatic { config } => vec![borgmatic::parse_borgmatic(config, &root.read_to_string(config)?)?],
        SetKind::PgBackRest { config, include } => vec![pgbackrest::load_pgbackrest(root, config, include.as_deref())?],
        SetKind::WalG { config } => vec![walg::parse_walg(config, &root.read_to_string(config)?)?],
        SetKind::Resticprofile { config } => resticprofile::parse_resticprofile(config, &root.read_to_string(config)?)?,
        SetKind::Autorestic { config } => resticprofile::parse_autorestic(config, &root.read_to_string(config)?)?,
        SetKind::Restic { env_files, units } => {
            vec![super::restic_set::load_restic(root, env_files, units, &mut findings)?]
        }
    };
    let mut repos = Vec::new();
    for d in &decls {
        for r in &d.repos {
            let actual = probe(root, d.tool.engine(), &r.location.value, &r.stanzas);
            findings.extend(repo_findings(d, r, &actual));
            repos.push(RepoObservation { tool: d.tool, declared: r.clone(), actual });
        }
    }
    let mut checked = HashSet::new();
    for r in &repos {
        findings.extend(borg_keyfile_findings(root, &decls, r, &policy, &mut checked));
    }
    for d in &decls {
        findings.extend(secret_findings(root, d, &policy, &mut checked));
    }
    Ok(Observation { name: set.name.clone(), policy, decls, repos, findings })
}

/// borg keyfile modes keep the key outside the repo (`borg_keys_directory`, default
/// `~run_as/.config/borg/keys`); the file whose first line is `BORG_KEY <repo id>` is a secret.
fn borg_keyfile_findings(
    root: &Root,
    decls: &[BackupDecl],
    r: &RepoObservation,
    policy: &Policy,
    checked: &mut HashSet<PathBuf>,
) -> Vec<Finding> {
    let keyfile_mode = r.actual.iter().any(|a| a.mode.as_deref().is_some_and(|m| m.starts_with("keyfile")));
    let RepoLocation::Local { path: repo } = &r.declared.location.value else {
        return Vec::new();
    };
    if !keyfile_mode {
        return Vec::new();
    }
    let configured = decls
        .iter()
        .flat_map(|d| &d.notes)
        .find_map(|n| n.value.strip_prefix("borg_keys_directory: ").map(PathBuf::from));
    let Some(dir) = configured.or_else(|| root.home_of(&policy.run_as).map(|h| h.join(".config/borg/keys"))) else {
        return Vec::new();
    };
    let id = root
        .read_to_string(&repo.join("config"))
        .ok()
        .and_then(|c| c.lines().find_map(|l| l.strip_prefix("id = ").map(|v| v.trim().to_string())));
    let key = id.as_ref().and_then(|id| {
        let names = root.list_dir(&dir).ok()?;
        names
            .into_iter()
            .map(|n| dir.join(n))
            .find(|p| root.read_prefix(p, 80).is_ok_and(|h| h.starts_with(format!("BORG_KEY {id}").as_bytes())))
    });
    match key {
        Some(k) if checked.insert(k.clone()) => check_secret_file(
            root,
            &k,
            policy,
            &format!("borg keyfile of {}", repo.display()),
            r.declared.location.at.as_ref(),
        ),
        Some(_) => Vec::new(),
        None => vec![Finding {
            check: Check::SecretFileMissing,
            severity: Severity::Low,
            path: dir.clone(),
            at: r.declared.location.at.clone(),
            message: format!("keyfile-mode repository {}: no key file for it in {}", repo.display(), dir.display()),
            remedy:
                "locate the key (borg key export) and keep a protected copy; without it the repository cannot be read"
                    .into(),
            auto_fixable: false,
        }],
    }
}

fn repo_findings(d: &BackupDecl, r: &DeclaredRepo, actual: &[ActualRepo]) -> Vec<Finding> {
    let mut out = Vec::new();
    let path = r.location.at.as_ref().map_or(d.config.clone(), |a| a.file.clone());
    for a in actual {
        let stanza = a.stanza.as_ref().map(|s| format!(" (stanza {s})")).unwrap_or_default();
        match (&a.state, &r.encryption.value) {
            (Actual::NotEncrypted { evidence }, declared) => {
                let said = match declared {
                    DeclaredEncryption::Expected | DeclaredEncryption::Cipher { .. } => " although the config declares encryption",
                    _ => "",
                };
                out.push(Finding {
                    check: Check::RepoNotEncrypted,
                    severity: Severity::High,
                    path: path.clone(),
                    at: r.encryption.at.clone().or(r.location.at.clone()),
                    message: format!("repository {}{stanza} is not encrypted{said}: {evidence}", r.name),
                    remedy: migrate_remedy(d.tool.engine()).into(),
                    auto_fixable: false,
                });
            }
            (Actual::Unknown { reason, unreadable: true }, _) => out.push(Finding {
                check: Check::RepoUnreadable,
                severity: Severity::Medium,
                path: path.clone(),
                at: r.encryption.at.clone().or(r.location.at.clone()),
                message: format!("repository {}{stanza}: {reason}", r.name),
                remedy: "run harden as root (or as the repository's owner) so it can verify the repository's encryption".into(),
                auto_fixable: false,
            }),
            (Actual::Unknown { reason, .. }, DeclaredEncryption::Off | DeclaredEncryption::Unknown) => out.push(Finding {
                check: Check::EncryptionNotDeclared,
                severity: if r.encryption.value == DeclaredEncryption::Off { Severity::Medium } else { Severity::Low },
                path: path.clone(),
                at: r.encryption.at.clone().or(r.location.at.clone()),
                message: format!("repository {}{stanza}: config declares no encryption and the repository cannot show otherwise ({reason})", r.name),
                remedy: declare_remedy(d.tool.engine()).into(),
                auto_fixable: false,
            }),
            _ => {}
        }
    }
    out
}

fn migrate_remedy(e: Engine) -> &'static str {
    match e {
        Engine::Borg => "the mode cannot be changed in place: borg init -e repokey-blake2 a new repository, move the archives, switch the config, export the key",
        Engine::PgBackRest => "an existing stanza cannot be encrypted in place: add a new repoN with repoN-cipher-type=aes-256-cbc (pass in a 0640 postgres conf.d file), stanza-create, full backup, retire the old repo",
        Engine::WalG | Engine::Restic => "set an encryption key and take a new full backup; old objects stay plaintext until deleted",
    }
}

fn declare_remedy(e: Engine) -> &'static str {
    match e {
        Engine::PgBackRest => "before stanza-create set repoN-cipher-type=aes-256-cbc and repoN-cipher-pass in a 0640 postgres conf.d file; otherwise see the migration plan",
        Engine::WalG => "set WALG_LIBSODIUM_KEY_PATH (0640 run-as user) and WALG_LIBSODIUM_KEY_TRANSFORM, then push a new base backup",
        Engine::Borg => "configure encryption_passcommand and make sure the repository was created with a keyed mode (borg init -e repokey-blake2)",
        Engine::Restic => "restic repositories are always encrypted; check the repository location",
    }
}

fn secret_findings(root: &Root, d: &BackupDecl, policy: &Policy, checked: &mut HashSet<PathBuf>) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut check = |path: &Path, why: String, at: Option<&crate::error::Location>, out: &mut Vec<Finding>| {
        if checked.insert(path.to_path_buf()) {
            out.extend(check_secret_file(root, path, policy, &why, at));
        }
    };
    for s in &d.secrets {
        match &s.source {
            SecretSource::File { path } => check(path, format!("{} file", s.key), s.at.as_ref(), &mut out),
            SecretSource::Command { reads, .. } => {
                for p in reads {
                    check(p, format!("file read by {}", s.key), s.at.as_ref(), &mut out);
                }
            }
            SecretSource::Inline { .. } => {
                let Some(at) = &s.at else { continue };
                // configs that are meant to hold no secret get a finding of their own;
                // pgBackRest confs and env files may hold one if the file is protected
                if matches!(d.tool, Tool::Borgmatic | Tool::Autorestic | Tool::Resticprofile)
                    || s.key.to_ascii_lowercase().ends_with("command")
                {
                    out.push(Finding {
                        check: Check::InlineSecret,
                        severity: Severity::Medium,
                        path: at.file.clone(),
                        at: Some(at.clone()),
                        message: format!("{} is written inline in the config", s.key),
                        remedy: inline_remedy(d.tool).into(),
                        auto_fixable: false,
                    });
                }
                check(&at.file, format!("file containing inline {}", s.key), Some(at), &mut out);
            }
            SecretSource::Interpolated { .. } | SecretSource::Environment { .. } | SecretSource::Credential { .. } => {}
        }
    }
    out
}

fn inline_remedy(t: Tool) -> &'static str {
    match t {
        Tool::Borgmatic => "store the passphrase in a 0600 root file and use encryption_passcommand: cat FILE (or {credential file FILE} on borgmatic >= 1.9.10); edit only that line",
        Tool::Autorestic => "use key: ${VAR} from a 0600 .autorestic.env and set requirekey: true",
        _ => "move the secret to a 0600 file and reference it (password-file / *_FILE)",
    }
}
