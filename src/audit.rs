//! The audit log: one JSON line per change apply makes and per check that
//! finds drift, appended with fsync to /var/log/harden/audit.jsonl under the
//! root, rotated by size; records older than the retention are dropped at
//! rotation.
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use std::fs::{self, OpenOptions};
use std::io::{BufRead, Write};
use std::path::PathBuf;

use crate::system::System;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub timestamp: String,
    pub user_id: String,
    pub tenant_id: Option<String>,
    pub action: String,
    pub resource: String,
    pub ip: Option<String>,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

pub struct AuditLog {
    pub path: PathBuf,
    pub retention_days: u64,
    pub max_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("audit log {path}: {source}")]
pub struct AuditError {
    path: String,
    source: std::io::Error,
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 } as i64;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// RFC 3339 UTC, second precision.
pub fn rfc3339(secs: u64) -> String {
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let (y, m, d) = civil(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Seconds since the epoch of an RFC 3339 UTC timestamp written by `rfc3339`.
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[10] != b'T' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let days = days_from_civil(n(0..4)?, n(5..7)? as u32, n(8..10)? as u32);
    let secs = days * 86_400 + n(11..13)? * 3600 + n(14..16)? * 60 + n(17..19)?;
    u64::try_from(secs).ok()
}

pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// The invoking user: SUDO_USER when set, else the login name.
pub fn user_id() -> String {
    if let Ok(u) = std::env::var("SUDO_USER") {
        if !u.is_empty() {
            return u;
        }
    }
    let uid = nix::unistd::getuid();
    nix::unistd::User::from_uid(uid).ok().flatten().map(|u| u.name).unwrap_or_else(|| uid.to_string())
}

/// The SSH client when there is one, else the host's primary address.
pub fn ip() -> Option<String> {
    if let Ok(c) = std::env::var("SSH_CONNECTION") {
        if let Some(ip) = c.split_whitespace().next() {
            return Some(ip.to_string());
        }
    }
    let addrs = nix::ifaddrs::getifaddrs().ok()?;
    let mut v6 = None;
    for a in addrs {
        if a.flags.contains(nix::net::if_::InterfaceFlags::IFF_LOOPBACK) {
            continue;
        }
        let Some(sa) = a.address else { continue };
        if let Some(s) = sa.as_sockaddr_in() {
            return Some(s.ip().to_string());
        }
        if let Some(s) = sa.as_sockaddr_in6() {
            v6.get_or_insert(s.ip().to_string());
        }
    }
    v6
}

impl AuditLog {
    pub fn new(sys: &System, path: &str, retention_days: u64, max_bytes: u64) -> AuditLog {
        AuditLog { path: sys.path(path), retention_days, max_bytes }
    }

    fn err(&self, source: std::io::Error) -> AuditError {
        AuditError { path: self.path.display().to_string(), source }
    }

    fn open(&self) -> Result<fs::File, AuditError> {
        if let Some(d) = self.path.parent() {
            fs::create_dir_all(d).map_err(|e| self.err(e))?;
        }
        OpenOptions::new().create(true).append(true).open(&self.path).map_err(|e| self.err(e))
    }

    /// Prove the log can take records (open and fsync), before any change.
    pub fn prove_writable(&self) -> Result<(), AuditError> {
        let f = self.open()?;
        f.sync_all().map_err(|e| self.err(e))
    }

    /// Append records: each line with one write (O_APPEND), under an flock
    /// that also covers rotation, then fsync.
    pub fn append(&self, records: &[Record]) -> Result<(), AuditError> {
        if records.is_empty() {
            return Ok(());
        }
        let f = self.open()?;
        let mut f = Flock::lock(f, FlockArg::LockExclusive).map_err(|(_, e)| self.err(e.into()))?;
        // Rotate before writing, so the records just written stay in the live log.
        if f.metadata().map(|m| m.len()).unwrap_or(0) > self.max_bytes {
            self.rotate()?;
        }
        for r in records {
            let mut line = serde_json::to_string(r).map_err(|e| self.err(e.into()))?;
            line.push('\n');
            f.write_all(line.as_bytes()).map_err(|e| self.err(e))?;
        }
        f.sync_all().map_err(|e| self.err(e))?;
        Ok(())
    }

    fn rotated(&self) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(".1");
        PathBuf::from(p)
    }

    /// Move the records inside the retention into `<log>.1` (with those
    /// already there) and start the log afresh. The caller holds the lock.
    pub fn rotate(&self) -> Result<(), AuditError> {
        let cutoff = now().saturating_sub(self.retention_days * 86_400);
        let mut kept = Vec::new();
        for p in [self.rotated(), self.path.clone()] {
            let Ok(f) = fs::File::open(&p) else { continue };
            for line in std::io::BufReader::new(f).lines().map_while(Result::ok) {
                let ts = serde_json::from_str::<Record>(&line).ok().and_then(|r| parse_rfc3339(&r.timestamp));
                // A line that cannot be dated is kept: dropping it would hide
                // corruption or tampering.
                if ts.is_none_or(|t| t >= cutoff) {
                    kept.push(line);
                }
            }
        }
        let tmp = self.path.with_extension("rotate.tmp");
        let mut out = fs::File::create(&tmp).map_err(|e| self.err(e))?;
        for l in &kept {
            writeln!(out, "{l}").map_err(|e| self.err(e))?;
        }
        out.sync_all().map_err(|e| self.err(e))?;
        fs::rename(&tmp, self.rotated()).map_err(|e| self.err(e))?;
        // Truncate in place: other writers hold the same inode open.
        fs::OpenOptions::new().write(true).open(&self.path).and_then(|f| f.set_len(0)).map_err(|e| self.err(e))?;
        Ok(())
    }
}

/// The audit action for a change: its item and verb, e.g. `firewall.rule.add`.
pub fn action(c: &crate::plan::Change) -> String {
    if c.item == "firewall.rule.position" {
        return "firewall.rule.move".into();
    }
    let verb = match c.kind {
        crate::plan::ChangeKind::Add => "add",
        crate::plan::ChangeKind::Change => "change",
        crate::plan::ChangeKind::Remove => "remove",
    };
    format!("{}.{verb}", c.item)
}

/// One `drift.detected` record per resource that differs from the profile.
pub fn drift_records(plan: &crate::plan::Plan, tenant: &Option<String>) -> Vec<Record> {
    plan.resources
        .iter()
        .filter(|r| !r.changes.is_empty() || !r.findings.is_empty())
        .map(|r| {
            let d = format!("{} change(s), {} finding(s)", r.changes.len(), r.findings.len());
            record(tenant, "drift.detected", &r.resource, "success", Some(d))
        })
        .collect()
}

/// One record per change apply carried out (or attempted, as a failure).
pub fn apply_records(report: &crate::engine::ApplyReport, tenant: &Option<String>) -> Vec<Record> {
    let mut recs = Vec::new();
    for r in &report.resources {
        let status = if r.failed.is_some() { "failure" } else { "success" };
        for c in &r.applied {
            recs.push(record(tenant, &action(c), &r.resource, status, Some(c.summary.clone())));
        }
    }
    recs
}

/// A record with the common fields filled in.
pub fn record(tenant: &Option<String>, action: &str, resource: &str, status: &str, detail: Option<String>) -> Record {
    Record {
        timestamp: rfc3339(now()),
        user_id: user_id(),
        tenant_id: tenant.clone(),
        action: action.into(),
        resource: resource.into(),
        ip: ip(),
        status: status.into(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_796_300_000), "2026-12-03T12:13:20Z");
        for t in [0u64, 951_782_400, 1_709_164_800, 1_796_300_000, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&rfc3339(t)), Some(t));
        }
    }
}
