//! Findings: what is wrong, where (file:line), and what to do. Never the secret itself.
use crate::error::Location;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    /// secret file allows more than the policy's mode
    SecretFileMode,
    /// secret file not owned by the run-as user
    SecretFileOwner,
    /// a group-readable secret file whose group has members besides the owner
    SecretFileGroup,
    /// a directory above a secret lets others replace it
    SecretDirUnsafe,
    /// a referenced secret file does not exist
    SecretFileMissing,
    /// a relative secret path depends on the working directory
    SecretPathRelative,
    /// the secret is written in the config itself
    InlineSecret,
    /// systemd `Environment=` secret (exposed over D-Bus, inherited by children)
    SecretInEnvironment,
    /// secret in argv (`/proc/PID/cmdline` is world-readable)
    SecretOnCommandLine,
    /// the repository holds plaintext data
    RepoNotEncrypted,
    /// the config declares no encryption and the repo cannot prove otherwise
    EncryptionNotDeclared,
    /// file permissions keep harden from the repository's evidence (run as root)
    RepoUnreadable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub check: Check,
    pub severity: Severity,
    /// The file the finding is about.
    pub path: PathBuf,
    /// The config line that declared it, when there is one.
    pub at: Option<Location>,
    pub message: String,
    pub remedy: String,
    /// harden may fix it by itself (only permission bits / ownership).
    pub auto_fixable: bool,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.at {
            Some(at) => write!(f, "{at}: ")?,
            None => write!(f, "{}: ", self.path.display())?,
        }
        write!(f, "{} (fix: {})", self.message, self.remedy)
    }
}
