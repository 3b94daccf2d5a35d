//! pgBackRest `repoN-cipher-type`: the one repository-level setting harden may write.
//!
//! A cipher can only be chosen before `stanza-create`: pgBackRest cannot read a plain
//! stanza once a cipher is configured (`CryptoError: cipher header invalid`), so an
//! existing stanza gets a migration finding instead, and a remote repository, whose
//! stanzas cannot be seen from local files, gets a finding that asks a person to look.
use super::edit::{EditOp, LineEdit};
use super::fsroot::Root;
use super::model::{BackupDecl, DeclaredEncryption, DeclaredRepo, RepoLocation, SecretSource};
use super::perms::Policy;
use crate::error::Location;
use crate::plan::Finding;
use std::path::{Path, PathBuf};

/// What the cipher requirement asks of one pgBackRest config.
#[derive(Debug, Default)]
pub struct CipherPlan {
    pub edits: Vec<(PathBuf, LineEdit, String)>,
    pub findings: Vec<Finding>,
    pub warnings: Vec<String>,
    /// Declared-encryption positions of repos this plan handles, so the observer's
    /// "declares no encryption" finding for them is not repeated.
    pub handled: Vec<Option<Location>>,
}

/// Whether the local repository already holds a stanza (of any name: a stanza made by
/// another config would be broken just the same).
fn has_stanza(root: &Root, repo: &Path) -> bool {
    ["backup", "archive"].iter().any(|d| root.list_dir(&repo.join(d)).is_ok_and(|n| !n.is_empty()))
}

fn at_of(r: &DeclaredRepo) -> Option<Location> {
    r.encryption.at.clone().or(r.location.at.clone())
}

pub fn plan_cipher(root: &Root, decl: &BackupDecl, cipher: &str, policy: &Policy) -> CipherPlan {
    let mut out = CipherPlan::default();
    for r in &decl.repos {
        let idx = r.name.trim_start_matches("repo");
        match &r.encryption.value {
            DeclaredEncryption::Cipher { cipher: c } if c == cipher => {
                pass_warning(decl, r, idx, &mut out);
                continue;
            }
            DeclaredEncryption::Cipher { cipher: c } => {
                out.findings.push(Finding {
                    id: "backup.pgbackrest.cipher-differs".into(),
                    message: format!("{} uses cipher {c}, the profile requires {cipher}", r.name),
                    location: at_of(r).map(|a| a.to_string()),
                    remedy: Some(format!("add a new repo with {}-cipher-type={cipher}; a repo's cipher cannot change once a stanza exists", r.name)),
                });
                continue;
            }
            _ => {}
        }
        let stanza_state = match &r.location.value {
            RepoLocation::Local { path } => Some(has_stanza(root, path)),
            _ => None,
        };
        match stanza_state {
            // a plain stanza: the observer reports it with the migration steps
            Some(true) => {}
            None => {
                out.handled.push(at_of(r));
                out.findings.push(Finding {
                    id: "backup.pgbackrest.cipher-unverifiable".into(),
                    message: format!("{} declares no cipher and is not local: harden cannot see whether it already has a stanza", r.name),
                    location: at_of(r).map(|a| a.to_string()),
                    remedy: Some(format!(
                        "if `pgbackrest info` shows no stanza in {0}, set {0}-cipher-type={cipher} and {0}-cipher-pass before stanza-create; otherwise add a new encrypted repo, back up to it and retire {0}",
                        r.name
                    )),
                });
            }
            Some(false) => {
                out.handled.push(at_of(r));
                match edit_for(root, decl, r, idx, cipher) {
                    Ok((file, edit)) => {
                        let summary =
                            format!("set {}-cipher-type={cipher} in {} (no stanza yet)", r.name, file.display());
                        out.edits.push((file, edit, summary));
                        if !pass_declared(decl, idx) {
                            out.findings.push(Finding {
                                id: "backup.pgbackrest.cipher-pass-missing".into(),
                                message: format!("{}-cipher-pass is not set; pgBackRest refuses to run an encrypted repo without it", r.name),
                                location: at_of(r).map(|a| a.to_string()),
                                remedy: Some(format!(
                                    "a person must choose the pass (harden never writes one): create {4}/{0}-cipher.conf with `[global]` and `{0}-cipher-pass=` followed by a long random pass (e.g. from `openssl rand -base64 48`), `chmod {2:04o}` and `chown {3}` it, or give PGBACKREST_REPO{1}_CIPHER_PASS to the service; keep a copy of the pass off this host, then stanza-create",
                                    r.name,
                                    idx,
                                    policy.max_mode,
                                    policy.run_as,
                                    decl.config.parent().unwrap_or(Path::new("/")).join("conf.d").display()
                                )),
                            });
                        }
                    }
                    Err(why) => out.findings.push(Finding {
                        id: "backup.pgbackrest.cipher-not-editable".into(),
                        message: format!("{}: {why}", r.name),
                        location: at_of(r).map(|a| a.to_string()),
                        remedy: Some(format!("add {}-cipher-type={cipher} under [global] by hand", r.name)),
                    }),
                }
            }
        }
    }
    dedupe(&mut out.edits);
    out
}

fn pass_declared(decl: &BackupDecl, idx: &str) -> bool {
    let key = format!("repo{idx}-cipher-pass");
    decl.secrets.iter().any(|s| s.key == key && s.at.is_some())
}

/// Cipher on and no pass in any file read: it must come from the environment, which
/// harden cannot see. Not a finding: the environment is a fine place for it.
fn pass_warning(decl: &BackupDecl, r: &DeclaredRepo, idx: &str, out: &mut CipherPlan) {
    let env = decl.secrets.iter().find_map(|s| match &s.source {
        SecretSource::Environment { var } if s.key == format!("repo{idx}-cipher-pass") => Some(var.clone()),
        _ => None,
    });
    if let Some(var) = env {
        out.warnings.push(format!(
            "{}: {}-cipher-pass is in no config file; pgBackRest must get {var} from its environment (harden cannot check that)",
            decl.config.display(),
            r.name
        ));
    }
}

/// Where the new value goes: the existing `cipher-type=none` line; else after the
/// repo's own path/type line; else right under `[global]` of the main config.
fn edit_for(
    root: &Root,
    decl: &BackupDecl,
    r: &DeclaredRepo,
    idx: &str,
    cipher: &str,
) -> Result<(PathBuf, LineEdit), String> {
    if let Some(at) = &r.encryption.at {
        return Ok((at.file.clone(), LineEdit { line: at.line, op: EditOp::SetValue { value: cipher.into() } }));
    }
    let text = format!("repo{idx}-cipher-type={cipher}");
    if let Some(at) = &r.location.at {
        return Ok((at.file.clone(), LineEdit { line: at.line, op: EditOp::InsertAfter { text } }));
    }
    let main = &decl.config;
    let body = root.read_to_string(main).map_err(|e| e.to_string())?;
    let lines: Vec<&str> = body.lines().collect();
    match lines.iter().position(|l| l.trim() == "[global]") {
        Some(i) => Ok((main.clone(), LineEdit { line: i + 1, op: EditOp::InsertAfter { text } })),
        None => {
            // a [global] section of its own at the top keeps every stanza section intact
            let text = format!("[global]\n{text}");
            Ok((main.clone(), LineEdit { line: 0, op: EditOp::InsertAfter { text } }))
        }
    }
}

fn dedupe(edits: &mut Vec<(PathBuf, LineEdit, String)>) {
    let mut seen = std::collections::HashSet::new();
    edits.retain(|(f, e, _)| seen.insert((f.clone(), e.clone())));
}
