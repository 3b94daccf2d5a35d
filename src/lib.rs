//! harden: declarative hardening of Linux servers (UFW firewall, Caddy headers, backup encryption).
pub mod backup;
pub mod error;
