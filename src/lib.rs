//! harden: declarative hardening of Linux servers (UFW firewall, Caddy headers, backup encryption).
pub mod agent;
pub mod audit;
pub mod backup;
pub mod caddy;
pub mod cli;
pub mod engine;
pub mod error;
pub mod lock;
pub mod metrics;
pub mod plan;
pub mod profile;
pub mod render;
pub mod saved;
pub mod system;
pub mod ufw;
pub mod units;
