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
            // a plain stanza: the profile's cipher cannot be set on it (pgBackRest could no
            // longer read it), so the policy is a finding with the migration steps, also
            // when require_encryption is off and the observer's finding is only a warning
            Some(true) => out.findings.push(Finding {
                id: "backup.pgbackrest.cipher-policy-unmet".into(),
                message: format!(
                    "{} already holds a stanza without a cipher; the profile requires cipher = \"{cipher}\", which cannot be set on an existing stanza",
                    r.name
                ),
                location: at_of(r).map(|a| a.to_string()),
                remedy: Some(format!(
                    "migrate: add a new repoN (e.g. repo{n}) with repo{n}-path on a fresh directory, repo{n}-cipher-type={cipher} and repo{n}-cipher-pass in a {m:04o} {u} conf.d file, run stanza-create and a full backup to it, check restores, then retire {old} (its data stays plaintext until deleted)",
                    n = decl.repos.len() + 1,
                    m = policy.max_mode,
                    u = policy.run_as,
                    old = r.name
                )),
            }),
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
            // No pass in any file: the cipher line is not written yet. pgBackRest refuses
            // to run an encrypted repo without its pass, and once the line is there the
            // repo looks "encrypted, pass from the environment" (a warning): the finding
            // would vanish after apply with nothing fixed. So the finding stays until a
            // person adds the pass; the next apply then writes the cipher line.
            Some(false) if !pass_declared(decl, idx) => {
                out.handled.push(at_of(r));
                out.findings.push(Finding {
                    id: "backup.pgbackrest.cipher-pass-missing".into(),
                    message: format!(
                        "{0}-cipher-pass is not set; harden sets {0}-cipher-type={1} only once a pass is in a config file (pgBackRest refuses to run an encrypted repo without it)",
                        r.name, cipher
                    ),
                    location: at_of(r).map(|a| a.to_string()),
                    remedy: Some(format!(
                        "a person must choose the pass (harden never writes one): create {4}/{0}-cipher.conf with `[global]` and `{0}-cipher-pass=` followed by a long random pass (e.g. from `openssl rand -base64 48`), `chmod {2:04o}` and `chown {3}` it, keep a copy of the pass off this host, then run harden apply (it sets {0}-cipher-type={5}) and stanza-create; to give PGBACKREST_REPO{1}_CIPHER_PASS to the service instead, set {0}-cipher-type={5} by hand",
                        r.name,
                        idx,
                        policy.max_mode,
                        policy.run_as,
                        decl.config.parent().unwrap_or(Path::new("/")).join("conf.d").display(),
                        cipher
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::edit::apply_edits;
    use crate::backup::parse::pgbackrest::load_pgbackrest;

    fn policy() -> Policy {
        Policy { run_as: "postgres".into(), max_mode: 0o640 }
    }

    /// The config after the planned edits, and the finding ids.
    fn run(conf: &str, stanza_dirs: &[&str]) -> (String, Vec<String>) {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("etc/pgbackrest/pgbackrest.conf");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, conf).unwrap();
        for d in stanza_dirs {
            std::fs::create_dir_all(t.path().join(d.trim_start_matches('/'))).unwrap();
        }
        let root = Root::new(t.path());
        let decl = load_pgbackrest(&root, Path::new("/etc/pgbackrest/pgbackrest.conf"), None).unwrap();
        let plan = plan_cipher(&root, &decl, "aes-256-cbc", &policy());
        let edits: Vec<LineEdit> = plan.edits.iter().map(|(_, e, _)| e.clone()).collect();
        (apply_edits(conf, &edits).unwrap(), plan.findings.into_iter().map(|f| f.id).collect())
    }

    #[test]
    fn where_the_cipher_line_goes() {
        // an explicit none: that value changes, spacing kept; legacy name too
        let (out, f) = run("[global]\nrepo1-path=/r\nrepo1-cipher-type = none\nrepo1-cipher-pass=x\n", &[]);
        assert_eq!(out, "[global]\nrepo1-path=/r\nrepo1-cipher-type = aes-256-cbc\nrepo1-cipher-pass=x\n");
        assert!(f.is_empty(), "{f:?}");
        let (out, _) = run("[global]\nrepo-path=/r\nrepo-cipher-type=none\nrepo-cipher-pass=x\n", &[]);
        assert_eq!(out, "[global]\nrepo-path=/r\nrepo-cipher-type=aes-256-cbc\nrepo-cipher-pass=x\n");
        // after the repo's own line; two repos, two lines
        let (out, f) = run(
            "[global]\nrepo1-path=/a\nrepo2-path=/b\nlog-level-console=info\nrepo1-cipher-pass=x\nrepo2-cipher-pass=y\n",
            &[],
        );
        assert_eq!(
            out,
            "[global]\nrepo1-path=/a\nrepo1-cipher-type=aes-256-cbc\nrepo2-path=/b\nrepo2-cipher-type=aes-256-cbc\nlog-level-console=info\nrepo1-cipher-pass=x\nrepo2-cipher-pass=y\n"
        );
        assert!(f.is_empty(), "{f:?}");
        // no pass in any file: no cipher line (pgBackRest would refuse to run), a finding each
        let conf = "[global]\nrepo1-path=/a\nrepo2-path=/b\n";
        let (out, f) = run(conf, &[]);
        assert_eq!(out, conf);
        assert_eq!(f, ["backup.pgbackrest.cipher-pass-missing", "backup.pgbackrest.cipher-pass-missing"]);
        // default repo1 (no repo option at all): under [global]; no [global]: one at the top
        let (out, _) = run("[main]\npg1-path=/d\n[global]\nstart-fast=y\nrepo1-cipher-pass=x\n", &[]);
        assert_eq!(
            out,
            "[main]\npg1-path=/d\n[global]\nrepo1-cipher-type=aes-256-cbc\nstart-fast=y\nrepo1-cipher-pass=x\n"
        );
        let (out, _) = run("[main]\npg1-path=/d\nrepo1-cipher-pass=x\n", &[]);
        assert_eq!(out, "[global]\nrepo1-cipher-type=aes-256-cbc\n[main]\npg1-path=/d\nrepo1-cipher-pass=x\n");
    }

    #[test]
    fn no_edit_for_an_existing_stanza_or_a_remote_repo() {
        let conf = "[global]\nrepo1-path=/r\n[main]\npg1-path=/d\n";
        let (out, f) = run(conf, &["/r/backup/main"]);
        assert_eq!(out, conf);
        assert_eq!(f, ["backup.pgbackrest.cipher-policy-unmet"], "the cipher policy is unmet, with migration steps");
        let conf = "[global]\nrepo1-type=s3\nrepo1-s3-bucket=b\nrepo1-path=/p\n";
        let (out, f) = run(conf, &[]);
        assert_eq!(out, conf);
        assert_eq!(f, ["backup.pgbackrest.cipher-unverifiable"]);
    }
}
