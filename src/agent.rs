//! `harden agent`: check on a schedule, log each result, and with
//! --remediate apply the plan when drift is found (never one the lockout
//! guard or a failed validation refuses). SIGHUP re-reads the profile (a
//! profile that no longer parses keeps the last good one); SIGTERM and
//! SIGINT stop between runs.
use anyhow::Result;
use std::path::PathBuf;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};

use crate::audit::AuditLog;
use crate::engine::{self, ApplyOptions};
use crate::profile::{self, Profile};
use crate::system::System;

pub struct AgentOptions {
    pub profile: PathBuf,
    pub interval: Duration,
    pub jitter: Duration,
    pub remediate: bool,
    pub metrics: Option<PathBuf>,
}

/// "15m", "90s", "2h", "1d" or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|_| format!("bad duration '{s}': use e.g. 90s, 15m, 2h"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("bad duration unit in '{s}': use s, m, h or d")),
    };
    Ok(Duration::from_secs(n * mult))
}

/// A little randomness for the jitter, without a crate: time and pid mixed.
fn jitter(max: Duration, salt: u64) -> Duration {
    if max.is_zero() {
        return max;
    }
    let t =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    let mut x = t ^ (u64::from(std::process::id()) << 32) ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    Duration::from_millis(x % (max.as_millis() as u64 + 1))
}

/// One scheduled run: check, log, maybe remediate. Never fails the agent.
fn run_once(sys: &System, prof: &Profile, opts: &AgentOptions, audit: &AuditLog) {
    let plan = match engine::plan(sys, prof) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "check failed");
            if let Some(m) = &opts.metrics {
                let _ = crate::metrics::write(m, None, false);
            }
            return;
        }
    };
    let changes = plan.changes().count();
    let findings = plan.findings().count();
    if changes == 0 && findings == 0 {
        tracing::info!(changes, findings, "in sync");
    } else {
        let items: Vec<String> = plan.changes().map(|c| c.summary.clone()).collect();
        tracing::warn!(changes, findings, drift = ?items, "drift detected");
        if let Err(e) = audit.append(&crate::audit::drift_records(&plan, &prof.host.tenant)) {
            tracing::error!(error = %e, "audit log");
        }
    }
    let mut ok = true;
    if opts.remediate && changes > 0 {
        // The same refusals as apply: no --allow-lockout, no --force.
        let aopts = ApplyOptions { audit: Some(audit), allow_lockout: false, force: false, saved: false };
        let _lock = match crate::lock::acquire(sys, Duration::from_secs(60)) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "remediation skipped");
                return;
            }
        };
        match engine::apply(sys, &plan, prof, &aopts) {
            Ok(report) => {
                let _ = audit.append(&crate::audit::apply_records(&report, &prof.host.tenant));
                if report.failed() {
                    ok = false;
                    tracing::error!(remaining = ?report.remaining, failed = ?report.resources.iter().filter_map(|r| r.failed.clone()).collect::<Vec<_>>(), "remediation failed");
                } else {
                    tracing::info!(applied = changes, "remediated");
                }
            }
            Err(e) => {
                ok = false;
                tracing::error!(error = %format!("{e:#}"), "remediation refused");
            }
        }
    }
    if let Some(m) = &opts.metrics {
        let after = if opts.remediate && changes > 0 { engine::plan(sys, prof).ok() } else { Some(plan) };
        if let Err(e) = crate::metrics::write(m, after.as_ref(), ok) {
            tracing::error!(error = %format!("{e:#}"), "metrics");
        }
    }
}

pub fn run(sys: System, opts: AgentOptions, audit: AuditLog) -> Result<i32> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().enable_io().build()?;
    rt.block_on(async move {
        let mut hup = signal(SignalKind::hangup())?;
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let mut prof = profile::load(&opts.profile)?;
        tracing::info!(profile = %opts.profile.display(), interval = ?opts.interval, remediate = opts.remediate, "agent started");
        let mut n = 0u64;
        loop {
            run_once(&sys, &prof, &opts, &audit);
            n += 1;
            let wait = opts.interval + jitter(opts.jitter, n);
            let sleep = tokio::time::sleep(wait);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    _ = &mut sleep => break,
                    _ = term.recv() => { tracing::info!("SIGTERM: stopping"); return Ok(0); }
                    _ = int.recv() => { tracing::info!("SIGINT: stopping"); return Ok(0); }
                    _ = hup.recv() => match profile::load(&opts.profile) {
                        Ok(p) => { prof = p; tracing::info!(profile = %opts.profile.display(), "SIGHUP: profile re-read"); }
                        Err(e) => tracing::error!(error = %e, "SIGHUP: the profile does not parse; keeping the last good one"),
                    },
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("1s").unwrap(), Duration::from_secs(1));
        assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
        assert!(parse_duration("5 weeks").is_err());
        assert!(jitter(Duration::from_secs(2), 1) <= Duration::from_secs(2));
    }
}
