//! Config parsers. Each returns typed errors with file:line ([`BackupError::Syntax`]).
//!
//! [`BackupError::Syntax`]: crate::backup::error::BackupError::Syntax
pub mod argv;
pub mod env;
pub mod shell;
pub mod systemd;
