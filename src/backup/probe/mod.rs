//! Actual repository state from passphrase-free on-disk markers. Only local files are
//! read: no borg/restic/pgbackrest process, no network, no secret.
pub mod borg;
pub mod pgbackrest;
pub mod restic;

use super::fsroot::Root;
use super::model::{Engine, RepoLocation};
use serde::Serialize;

/// Start of the reason of an `Unknown { unreadable: true, .. }`.
pub const UNREADABLE: &str = "unreadable by harden (permission denied; run harden as root)";

/// `Unknown` with `what: e`; when permissions are the reason, `unreadable` and the reason
/// starts with [`UNREADABLE`].
pub fn unknown_from(what: &str, e: &crate::backup::error::BackupError) -> Actual {
    if e.is_denied() {
        Actual::Unknown { reason: format!("{UNREADABLE}: {e}"), unreadable: true }
    } else {
        Actual::unknown(format!("{what}: {e}"))
    }
}

/// What the repository itself shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Actual {
    Encrypted {
        evidence: String,
    },
    NotEncrypted {
        evidence: String,
    },
    Unknown {
        reason: String,
        /// File permissions kept harden from the evidence: a finding (run as root), not
        /// the "actual state unknown" warning of a remote repo. Not serialized.
        #[serde(skip)]
        unreadable: bool,
    },
}

impl Actual {
    pub fn summary(&self) -> &'static str {
        match self {
            Actual::Encrypted { .. } => "encrypted",
            Actual::NotEncrypted { .. } => "not-encrypted",
            Actual::Unknown { .. } => "unknown",
        }
    }

    pub fn unknown(reason: impl Into<String>) -> Self {
        Actual::Unknown { reason: reason.into(), unreadable: false }
    }
}

/// The state of one repository (or one pgBackRest stanza in it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActualRepo {
    /// pgBackRest stanza the evidence is about, if any.
    pub stanza: Option<String>,
    pub state: Actual,
    /// borg key mode (`repokey-blake2`, `none`, ...) when read from the manifest.
    pub mode: Option<String>,
}

impl ActualRepo {
    pub fn of(state: Actual) -> Self {
        ActualRepo { stanza: None, state, mode: None }
    }
}

/// Probe one declared repository. `stanzas` are the pgBackRest stanzas it serves.
pub fn probe(root: &Root, engine: Engine, location: &RepoLocation, stanzas: &[String]) -> Vec<ActualRepo> {
    let path = match location {
        RepoLocation::Local { path } => path,
        RepoLocation::Remote { url, scheme } => {
            return vec![ActualRepo::of(Actual::unknown(format!(
                "remote repository ({scheme}: {}): not readable from local files; verify on the storage side",
                redact_url(url)
            )))]
        }
        RepoLocation::Unresolved { reason, .. } => {
            return vec![ActualRepo::of(Actual::unknown(format!("location not known from the config: {reason}")))]
        }
    };
    match engine {
        Engine::Borg => vec![borg::probe_borg(root, path)],
        Engine::Restic => vec![ActualRepo::of(restic::probe_restic(root, path))],
        Engine::PgBackRest => pgbackrest::probe_pgbackrest(root, path, stanzas),
        Engine::WalG => vec![ActualRepo::of(Actual::unknown(
            "WAL-G objects are not probed offline; check an object's magic with `wal-g st cat`",
        ))],
    }
}

pub use super::location::redact_url;

#[cfg(test)]
mod tests {
    use super::{unknown_from, Actual, UNREADABLE};
    use crate::backup::error::BackupError;
    use std::io::{Error, ErrorKind};

    #[test]
    fn only_permission_errors_make_an_unreadable_unknown() {
        let io = |kind| BackupError::Io { path: "/srv/borg/config".into(), source: Error::from(kind) };
        let Actual::Unknown { reason, unreadable } =
            unknown_from("cannot read segments", &io(ErrorKind::PermissionDenied))
        else {
            panic!("not unknown")
        };
        assert!(unreadable && reason.starts_with(&format!("{UNREADABLE}: cannot read /srv/borg/config")), "{reason}");
        let e = io(ErrorKind::NotFound);
        assert_eq!(
            unknown_from("cannot read segments", &e),
            Actual::Unknown { reason: format!("cannot read segments: {e}"), unreadable: false }
        );
        assert_eq!(Actual::unknown("x"), Actual::Unknown { reason: "x".into(), unreadable: false });
    }

    #[test]
    fn url_passwords_are_redacted() {
        assert_eq!(super::redact_url("rest:https://u:pw@h:8000/r"), "rest:https://u:<redacted>@h:8000/r");
        assert_eq!(super::redact_url("s3:s3.amazonaws.com/b"), "s3:s3.amazonaws.com/b");
    }
}
