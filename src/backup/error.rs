//! Typed errors of the backup observer: each says what failed, where, and what to do.
use crate::error::Location;
use std::path::PathBuf;

/// Why a backup config or repository file could not be read or understood.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The file could not be read (missing, permission, not a file).
    #[error("cannot read {path}: {source}; check that it exists and that harden may read it")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file was read but is not valid for its format.
    #[error("{at}: {what}; {hint}")]
    Syntax { at: Location, what: String, hint: String },
    /// A symlink chain under the root did not end (loop or too deep).
    #[error("{path}: too many levels of symbolic links under the observed root; fix the link chain")]
    SymlinkLoop { path: PathBuf },
}

impl BackupError {
    pub fn syntax(
        file: impl Into<PathBuf>,
        line: usize,
        column: usize,
        what: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        BackupError::Syntax { at: Location { file: file.into(), line, column }, what: what.into(), hint: hint.into() }
    }

    /// A read refused by file permissions (not a missing file).
    pub fn is_denied(&self) -> bool {
        matches!(self, BackupError::Io { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied)
    }

    /// A file that does not exist (not one that cannot be read).
    pub fn is_not_found(&self) -> bool {
        matches!(self, BackupError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }

    /// The file:line this error points at, when it has one.
    pub fn location(&self) -> Option<&Location> {
        match self {
            BackupError::Syntax { at, .. } => Some(at),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, BackupError>;
