//! Backup encryption: observe what configs declare and what repositories actually are.
//!
//! Layers (see README.md beside this file):
//! - [`fsroot::Root`]: every read goes through a root dir (tests use a temp dir as `/`);
//! - [`parse`]: config parsers with file:line errors, producing [`model::BackupDecl`];
//! - `probe`: actual repository state from local files only (no passphrase, no process);
//! - `perms`: findings about secret files and inline secrets.
pub mod apply;
pub mod edit;
pub mod error;
pub mod findings;
pub mod fsroot;
pub mod location;
pub mod model;
pub mod observe;
pub mod parse;
pub mod perms;
pub mod pgcipher;
pub mod plan;
pub mod plan_perms;
pub mod probe;
pub mod restic_set;
pub mod secret;
pub mod show;
pub mod spec;
