//! What a backup config DECLARES, with the file:line of every fact.
//!
//! The declared model never proves the repository state; `probe` gives the actual one.
use super::secret::Secret;
use crate::error::Location;
use serde::Serialize;
use std::path::PathBuf;

/// The program whose config was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tool {
    Restic,
    Resticprofile,
    Autorestic,
    Borgmatic,
    PgBackRest,
    WalG,
}

impl Tool {
    /// The backup engine that writes the repository (what `probe` must understand).
    pub fn engine(self) -> Engine {
        match self {
            Tool::Restic | Tool::Resticprofile | Tool::Autorestic => Engine::Restic,
            Tool::Borgmatic => Engine::Borg,
            Tool::PgBackRest => Engine::PgBackRest,
            Tool::WalG => Engine::WalG,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Engine {
    Restic,
    Borg,
    PgBackRest,
    WalG,
}

/// A value and where it was written; `at == None` means a built-in default.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fact<T> {
    pub value: T,
    pub at: Option<Location>,
}

impl<T> Fact<T> {
    pub fn at(value: T, at: Location) -> Self {
        Fact { value, at: Some(at) }
    }

    pub fn default_value(value: T) -> Self {
        Fact { value, at: None }
    }
}

/// Where a repository lives, as far as the config says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum RepoLocation {
    /// A path on this host (inside the observed root).
    Local { path: PathBuf },
    /// Another host or an object store: cannot be checked by reading local files.
    Remote { url: String, scheme: String },
    /// Not known from the file alone (`${VAR}`, template, relative path, empty list).
    Unresolved { raw: String, reason: String },
}

/// The encryption a config asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum DeclaredEncryption {
    /// The format has no unencrypted variant (restic).
    Always,
    /// A cipher is configured (pgBackRest `aes-256-cbc`, WAL-G `libsodium`/`pgp`).
    Cipher { cipher: String },
    /// Explicitly or by default no encryption (pgBackRest `none`, WAL-G without key).
    Off,
    /// A passphrase source is configured, so a keyed mode is expected; the mode itself
    /// was chosen at `borg init` and only the repository can tell it.
    Expected,
    /// Nothing in the config says (borgmatic without passphrase: maybe `none`, maybe env).
    Unknown,
}

impl DeclaredEncryption {
    /// Short word used in reports and compared with the corpus index.
    pub fn summary(&self) -> &'static str {
        match self {
            DeclaredEncryption::Always | DeclaredEncryption::Cipher { .. } => "on",
            DeclaredEncryption::Off => "off",
            DeclaredEncryption::Expected => "expects-on",
            DeclaredEncryption::Unknown => "unknown",
        }
    }
}

/// What a secret protects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretPurpose {
    /// restic password, borg passphrase, autorestic key
    RepoPassword,
    /// pgBackRest `repoN-cipher-pass`
    CipherPass,
    /// WAL-G libsodium/PGP key material
    EncryptionKey,
    /// S3/GCS/B2 access secrets: not encryption, but equally secret
    StorageCredential,
}

/// Where the secret comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SecretSource {
    /// A file holding the secret; `path` as written (may be relative).
    File { path: PathBuf },
    /// A command that prints it; the command line itself may embed the secret, so it is
    /// held redacted. `reads` lists files it visibly reads (`cat FILE`, `gpg -d FILE`).
    Command { command: Secret, reads: Vec<PathBuf> },
    /// The secret itself is written in the config.
    Inline { value: Secret },
    /// `${VAR}` / `{{ .Env.VAR }}` interpolation: supplied by whatever runs the tool.
    Interpolated { var: String },
    /// Expected from the process environment (not in any file read).
    Environment { var: String },
    /// borgmatic `{credential ...}` / systemd credentials.
    Credential { spec: String },
}

/// One declared secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SecretDecl {
    pub purpose: SecretPurpose,
    /// The key that declared it (`encryption_passphrase`, `repo1-cipher-pass`, ...).
    pub key: String,
    pub source: SecretSource,
    /// `None` when only implied (pgBackRest cipher on without pass: env expected).
    pub at: Option<Location>,
}

/// One repository as declared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeclaredRepo {
    /// `repo1`, a borgmatic label/path, a profile or backend name.
    pub name: String,
    pub location: Fact<RepoLocation>,
    pub encryption: Fact<DeclaredEncryption>,
    /// Storage type as the tool names it (`posix`, `s3`, `local`, ...), if it says.
    pub storage_type: Option<String>,
    /// pgBackRest stanzas this repo serves (info files live per stanza).
    pub stanzas: Vec<String>,
}

/// Everything one config (with its includes) declares.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackupDecl {
    pub tool: Tool,
    /// The main file read.
    pub config: PathBuf,
    /// Every file whose content contributed (includes, conf.d, env files).
    pub files: Vec<PathBuf>,
    /// Profile / backend name for multi-profile tools, `None` otherwise.
    pub profile: Option<String>,
    pub repos: Vec<DeclaredRepo>,
    pub secrets: Vec<SecretDecl>,
    /// Notable settings that are not secrets (schema version, TLS verify off, ...).
    pub notes: Vec<Fact<String>>,
}

impl BackupDecl {
    pub fn new(tool: Tool, config: impl Into<PathBuf>) -> Self {
        let config = config.into();
        BackupDecl {
            tool,
            files: vec![config.clone()],
            config,
            profile: None,
            repos: Vec::new(),
            secrets: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// A `Location` for `file:line` (column unknown).
pub fn loc(file: &std::path::Path, line: usize) -> Location {
    Location { file: file.to_path_buf(), line, column: 0 }
}
