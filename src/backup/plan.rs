//! Plan the backup resource: observe every configured set, turn what harden can fix
//! (file modes and owners, a pgBackRest cipher before stanza-create) into changes and
//! everything else into findings for a person.
//!
//! Nothing here reads a secret into an output: findings come from the observer (which
//! holds values as [`Secret`](super::secret::Secret)), diffs are redacted, and the
//! actions carry line edits and modes, never file contents.
use super::edit::{apply_edits, redact, LineEdit};
use super::error::BackupError;
use super::findings::{Check, Finding as ObsFinding};
use super::fsroot::Root;
use super::model::{DeclaredEncryption, SecretSource, Tool};
use super::observe::{observe, Observation, SetKind};
use super::pgcipher::plan_cipher;
pub use super::plan_perms::PermFix;
use super::plan_perms::Wants;
use super::probe::Actual;
use super::spec::{BackupSpec, Configured};
use crate::plan::{Actions, Change, ChangeKind, Finding, ResourcePlan, View};
use crate::system::{sha256_hex, System};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// Line edits of one config file made from the content with `base_sha256`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEdit {
    pub path: String,
    pub base_sha256: String,
    pub edits: Vec<LineEdit>,
    /// Summaries of the planned changes this edit makes (reported when a later step fails).
    #[serde(default)]
    pub summaries: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BackupActions {
    pub edits: Vec<FileEdit>,
    pub perms: Vec<PermFix>,
}

fn kebab(c: Check) -> String {
    serde_json::to_value(c).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}

fn finding(f: &ObsFinding) -> Finding {
    Finding {
        id: format!("backup.{}", kebab(f.check)),
        message: f.message.clone(),
        location: Some(f.at.as_ref().map_or_else(|| f.path.display().to_string(), |a| a.to_string())),
        remedy: Some(f.remedy.clone()),
    }
}

struct Acc {
    changes: Vec<Change>,
    findings: Vec<Finding>,
    warnings: Vec<String>,
    views: Vec<View>,
    perms: Wants,
    edits: BTreeMap<PathBuf, (Vec<LineEdit>, Vec<String>)>,
    /// Inline secret values seen, to redact from diffs.
    secrets: Vec<String>,
}

pub fn plan(sys: &System, spec: &BackupSpec) -> Result<ResourcePlan, BackupError> {
    let root = Root::new(sys.root());
    let mut acc = Acc {
        changes: Vec::new(),
        findings: Vec::new(),
        warnings: Vec::new(),
        views: Vec::new(),
        perms: Wants::default(),
        edits: BTreeMap::new(),
        secrets: Vec::new(),
    };
    let mut seen_findings = HashSet::new();
    let sets = spec.sets();
    if !sets.is_empty() {
        check_id_files(&root)?;
    }
    for c in sets {
        // A profile shared by many hosts may name a config this host lacks: a finding for
        // a person, not an error that would stop the plan of every other resource.
        if let Some(missing) = missing_config(&root, &c)? {
            acc.findings.push(Finding {
                id: "backup.config-missing".into(),
                message: format!("{} does not exist on this host", missing.display()),
                location: Some(c.at.to_string()),
                remedy: Some("create the backup config, or remove this entry from the profile".into()),
            });
            continue;
        }
        let obs = observe(&root, &c.set)?;
        plan_set(&root, spec, &c, &obs, &mut acc, &mut seen_findings);
    }
    let mut actions = BackupActions::default();
    let wanted = std::mem::take(&mut acc.perms);
    for (named, (edits, summaries)) in std::mem::take(&mut acc.edits) {
        // Edit the file a symlink points to, inside the root: System follows host links,
        // and an absolute link target would otherwise leave the root (or be replaced).
        let path = root.resolve(&named)?;
        let before = root.read_to_string(&path)?;
        let after = match apply_edits(&before, &edits) {
            Ok(a) => a,
            Err(e) => {
                acc.findings.push(Finding {
                    id: "backup.edit-failed".into(),
                    message: format!("{}: cannot edit: {e}", path.display()),
                    location: Some(path.display().to_string()),
                    remedy: Some("make the edit by hand".into()),
                });
                continue;
            }
        };
        let known: Vec<&str> = acc.secrets.iter().map(String::as_str).collect();
        acc.views.push(View {
            title: path.display().to_string(),
            before: redact(&before, &known),
            after: redact(&after, &known),
            verbose: false,
        });
        for s in &summaries {
            acc.changes.push(Change {
                labels: Default::default(),
                kind: ChangeKind::Change,
                item: "backup.pgbackrest.cipher-type".into(),
                summary: s.clone(),
                expected: None,
                actual: None,
            });
        }
        actions.edits.push(FileEdit {
            path: path.display().to_string(),
            base_sha256: sha256_hex(before.as_bytes()),
            edits,
            summaries,
        });
    }
    actions.perms = wanted.into_fixes(&root, &mut acc.changes, &mut acc.findings);
    Ok(ResourcePlan {
        resource: "backup".into(),
        changes: acc.changes,
        findings: acc.findings,
        warnings: acc.warnings,
        views: acc.views,
        actions: Actions::Backup(actions),
    })
}

/// The configured file this host lacks, if any. A path harden may not look at (an
/// unreadable directory above it) is an error, not "does not exist on this host".
fn missing_config(root: &Root, c: &Configured) -> Result<Option<PathBuf>, BackupError> {
    let Some(main) = c.files.first() else {
        return Ok(None);
    };
    // pgBackRest falls back to the Debian path when the default one is missing
    let legacy = Path::new(super::parse::pgbackrest::LEGACY_CONFIG);
    let is_default = main == Path::new(super::parse::pgbackrest::DEFAULT_CONFIG);
    let pg = matches!(c.set.kind, SetKind::PgBackRest { .. });
    let found = root.try_exists(main).map_err(denied_hint)?
        || (pg && is_default && root.try_exists(legacy).map_err(denied_hint)?);
    Ok((!found).then(|| main.clone()))
}

/// Permission errors say what to do: harden reads backup secrets' files as root.
fn denied_hint(e: BackupError) -> BackupError {
    if !e.is_denied() {
        return e;
    }
    match e {
        BackupError::Io { path, source } => BackupError::Io {
            path,
            source: std::io::Error::new(source.kind(), format!("{source} (run harden as root)")),
        },
        e => e,
    }
}

/// `/etc/passwd` and `/etc/group` name the owners; one harden may not read would turn
/// every owner into "not in /etc/passwd", so it is an error (a missing one is not).
fn check_id_files(root: &Root) -> Result<(), BackupError> {
    for f in ["/etc/passwd", "/etc/group"] {
        if let Err(e) = root.read_bytes(Path::new(f)) {
            if !e.is_not_found() {
                return Err(denied_hint(e));
            }
        }
    }
    Ok(())
}

fn plan_set(
    root: &Root,
    spec: &BackupSpec,
    c: &Configured,
    obs: &Observation,
    acc: &mut Acc,
    seen: &mut HashSet<(String, String, Option<String>, String)>,
) {
    for d in &obs.decls {
        for s in &d.secrets {
            if let SecretSource::Inline { value } = &s.source {
                acc.secrets.push(value.expose().to_string());
            }
        }
    }
    // Files the profile names, and the env/conf.d files they pull in, meet the policy too.
    let units: Vec<&PathBuf> = match &c.set.kind {
        SetKind::Restic { units, .. } => units.iter().collect(),
        _ => Vec::new(),
    };
    let mut files: Vec<PathBuf> = c.files.clone();
    files.extend(
        obs.decls
            .iter()
            .flat_map(|d| d.files.iter())
            .filter(|f| !units.contains(f) && !super::restic_set::is_drop_in_of(f, &units))
            .cloned(),
    );
    // Every secret file the set names, not only those with a finding today: a file two
    // sets share must be wanted by both or the owner would flip between applies.
    for s in obs.decls.iter().flat_map(|d| &d.secrets) {
        match &s.source {
            SecretSource::File { path } if path.is_absolute() => files.push(path.clone()),
            SecretSource::Command { reads, .. } => files.extend(reads.iter().filter(|p| p.is_absolute()).cloned()),
            _ => {}
        }
    }
    for f in obs.findings.iter().filter(|f| fixable(f)) {
        files.push(f.path.clone());
    }
    for f in files {
        acc.perms.add(root, &f, &obs.policy, &c.set.name);
    }
    // pgBackRest cipher
    let mut handled = Vec::new();
    if let Some(cipher) = &c.cipher {
        for d in obs.decls.iter().filter(|d| d.tool == Tool::PgBackRest) {
            let p = plan_cipher(root, d, &cipher.value, &obs.policy);
            for (file, edit, summary) in p.edits {
                let e = acc.edits.entry(file).or_default();
                e.0.push(edit);
                e.1.push(summary);
            }
            acc.findings.extend(p.findings);
            acc.warnings.extend(p.warnings);
            handled.extend(p.handled);
        }
    }
    for f in &obs.findings {
        if fixable(f) || (f.check == Check::EncryptionNotDeclared && handled.contains(&f.at)) {
            continue;
        }
        // The message names the subject (repository, stanza, variable): two findings on
        // one line about different subjects are both kept.
        let key =
            (kebab(f.check), f.path.display().to_string(), f.at.as_ref().map(|a| a.to_string()), f.message.clone());
        if !seen.insert(key) {
            continue;
        }
        let about_encryption = matches!(f.check, Check::RepoNotEncrypted | Check::EncryptionNotDeclared);
        if about_encryption && !spec.require_encryption {
            acc.warnings.push(f.to_string());
        } else {
            acc.findings.push(finding(f));
        }
    }
    repo_checks(spec, c, obs, acc);
}

/// The observer's chmod/chown findings become planned changes.
fn fixable(f: &ObsFinding) -> bool {
    f.auto_fixable && matches!(f.check, Check::SecretFileMode | Check::SecretFileOwner | Check::SecretDirUnsafe)
}

/// borg modes outside `allowed_modes`; remote/unknown repositories that should be encrypted.
fn repo_checks(spec: &BackupSpec, c: &Configured, obs: &Observation, acc: &mut Acc) {
    for r in &obs.repos {
        let where_ = r.declared.location.at.as_ref().map_or_else(|| c.at.to_string(), |a| a.to_string());
        for a in &r.actual {
            if let (Some(mode), Some(allowed)) = (&a.mode, &c.allowed_modes) {
                let already = spec.require_encryption && matches!(a.state, Actual::NotEncrypted { .. });
                if !allowed.value.contains(mode) && !already {
                    acc.findings.push(Finding {
                        id: "backup.borg.mode-not-allowed".into(),
                        message: format!(
                            "borg repository {} uses mode {mode}, not one of {} (profile {})",
                            r.declared.name,
                            allowed.value.join(", "),
                            allowed.at
                        ),
                        location: Some(where_.clone()),
                        remedy: Some(format!(
                            "borg cannot change a repository's mode: borg init -e {} a new repository, create a fresh archive into it (borg 2: borg transfer), point the config at it, export its key, then retire the old one",
                            allowed.value.first().map_or("repokey-blake2", String::as_str)
                        )),
                    });
                }
            }
            // Declared encrypted but unreadable from here (remote): a warning, since no
            // local file can settle it and a finding would make `check` fail forever.
            if let (true, Actual::Unknown { reason, unreadable }) = (spec.require_encryption, &a.state) {
                // unreadable for permissions: the observer's repo-unreadable finding
                if !unreadable
                    && !matches!(r.declared.encryption.value, DeclaredEncryption::Off | DeclaredEncryption::Unknown)
                {
                    acc.warnings.push(format!(
                        "{where_}: repository {} declares encryption; actual state unknown: {reason}",
                        r.declared.name
                    ));
                }
            }
        }
    }
}
