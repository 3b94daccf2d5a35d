//! Config parsers. Each returns typed errors with file:line ([`BackupError::Syntax`]).
//!
//! [`BackupError::Syntax`]: crate::backup::error::BackupError::Syntax
pub mod argv;
pub mod borgmatic;
pub mod env;
pub mod ini;
pub mod pgbackrest;
pub mod restic;
pub mod resticprofile;
pub mod shell;
pub mod systemd;
pub mod values;
pub mod walg;
pub mod yaml;
