//! Carry out a backup plan: config edits first (atomic, with a backup copy), then
//! modes and owners. Every file is re-checked against what the plan saw.
use super::edit::apply_edits;
use super::plan::BackupActions;
use crate::system::{sha256_hex, SysError, System};

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{path} changed since the plan was made ({what}); nothing was changed, plan again")]
    Stale { path: String, what: String },
    #[error("{path}: {why}; nothing was changed")]
    Edit { path: String, why: String },
    #[error(transparent)]
    Sys(#[from] SysError),
}

#[derive(Debug, Default)]
pub struct Applied {
    pub backup: Option<String>,
    pub notes: Vec<String>,
}

/// A failed apply and what it had carried out before the failing step: the summaries of
/// the planned changes already made, and where the edited files' copies are.
#[derive(Debug)]
pub struct Failure {
    pub error: ApplyError,
    pub done: Vec<String>,
    pub backup: Option<String>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.error)?;
        if !self.done.is_empty() {
            write!(f, "; already changed before the failure: {}", self.done.join("; "))?;
        }
        if let Some(b) = &self.backup {
            write!(f, "; previous files saved in {b}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Failure {}

impl From<SysError> for Failure {
    fn from(e: SysError) -> Self {
        ApplyError::Sys(e).into()
    }
}

impl From<ApplyError> for Failure {
    fn from(error: ApplyError) -> Self {
        Failure { error, done: Vec::new(), backup: None }
    }
}

pub fn apply(sys: &System, a: &BackupActions, stamp: &str) -> Result<Applied, Failure> {
    let host = |p: &str| sys.path(p).display().to_string();
    // Check everything before the first write, so a stale plan changes nothing.
    let mut new_texts = Vec::new();
    for e in &a.edits {
        let data = sys.read(&e.path)?.unwrap_or_default();
        let now = sha256_hex(&data);
        if now != e.base_sha256 {
            return Err(ApplyError::Stale {
                path: host(&e.path),
                what: format!("sha256 {now}, plan had {}", e.base_sha256),
            }
            .into());
        }
        let text = String::from_utf8(data).map_err(|_| SysError::NotText { path: sys.path(&e.path) })?;
        let new = apply_edits(&text, &e.edits).map_err(|why| ApplyError::Edit { path: host(&e.path), why })?;
        new_texts.push((e.path.as_str(), new));
    }
    for f in &a.perms {
        match sys.stat(&f.path)? {
            Some((mode, uid, false)) if mode == f.from_mode && uid == f.from_uid => {}
            Some((mode, uid, link)) => {
                let what = if link {
                    "it is now a symbolic link".to_string()
                } else {
                    format!("mode {mode:04o} uid {uid}, plan had {:04o} uid {}", f.from_mode, f.from_uid)
                };
                return Err(ApplyError::Stale { path: host(&f.path), what }.into());
            }
            None => return Err(ApplyError::Stale { path: host(&f.path), what: "it no longer exists".into() }.into()),
        }
    }
    let mut done = Applied::default();
    let mut made: Vec<String> = Vec::new();
    let fail = |e: SysError, made: &mut Vec<String>, backup: &Option<String>| Failure {
        error: ApplyError::Sys(e),
        done: std::mem::take(made),
        backup: backup.clone(),
    };
    if !new_texts.is_empty() {
        let paths: Vec<&str> = new_texts.iter().map(|(p, _)| *p).collect();
        done.backup = Some(host(&sys.backup(&paths, stamp)?));
        for ((p, text), e) in new_texts.iter().zip(&a.edits) {
            // write_atomic keeps the old file's mode and owner
            sys.write_atomic(p, text.as_bytes(), 0o600).map_err(|e| fail(e, &mut made, &done.backup))?;
            made.extend(e.summaries.iter().cloned());
        }
    }
    for f in &a.perms {
        // Owner first: chown may clear setuid/setgid bits, so the mode is set last.
        if f.from_uid != f.to_uid {
            sys.set_owner(&f.path, f.to_uid).map_err(|e| fail(e, &mut made, &done.backup))?;
            made.extend(f.owner_change.clone());
        }
        if f.from_mode != f.to_mode {
            sys.set_mode(&f.path, f.to_mode).map_err(|e| fail(e, &mut made, &done.backup))?;
            made.extend(f.mode_change.clone());
        }
    }
    Ok(done)
}
