//! Commands call these operations: plan every resource the profile names,
//! apply a plan, and show the observed state. The engine knows resources
//! only through their plan, apply and show entry points.
use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;

use crate::caddy;
use crate::plan::{Actions, Plan, ResourcePlan, SCHEMA_VERSION};
use crate::profile::Profile;
use crate::system::System;
use crate::ufw;

pub fn plan(sys: &System, profile: &Profile) -> Result<Plan> {
    let mut resources: Vec<ResourcePlan> = Vec::new();
    if let Some(fw) = &profile.firewall {
        resources.push(ufw::plan(sys, fw).map_err(|e| anyhow!("{e}"))?);
    }
    if let Some(c) = &profile.caddy {
        resources.push(caddy::plan::plan(sys, c).map_err(|e| anyhow!("{e}"))?);
    }
    Ok(Plan {
        schema_version: SCHEMA_VERSION,
        harden_version: env!("CARGO_PKG_VERSION").into(),
        profile: profile.path.display().to_string(),
        root: sys.root().display().to_string(),
        host: profile.host.name.clone(),
        resources,
    })
}

#[derive(Debug, Default, Serialize)]
pub struct ResourceReport {
    pub resource: String,
    pub changed: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    pub notes: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct ApplyReport {
    pub schema_version: u32,
    pub resources: Vec<ResourceReport>,
    /// Changes still planned after apply (must be empty).
    pub remaining: Vec<String>,
}

impl ApplyReport {
    pub fn failed(&self) -> bool {
        self.resources.iter().any(|r| r.failed.is_some()) || !self.remaining.is_empty()
    }
}

fn stamp() -> String {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format!("{}-{}", d.as_secs(), std::process::id())
}

pub struct ApplyOptions {
    pub allow_lockout: bool,
}

/// Apply a plan, then plan again from the profile: nothing may be left.
pub fn apply(sys: &System, plan: &Plan, profile: &Profile, opts: &ApplyOptions) -> Result<ApplyReport> {
    let mut report = ApplyReport { schema_version: SCHEMA_VERSION, ..Default::default() };
    let stamp = stamp();
    // Refusals are checked for every resource before anything is written.
    for r in &plan.resources {
        if let (Actions::Caddy(a), false) = (&r.actions, r.changes.is_empty()) {
            if let Some(b) = &a.blocked {
                bail!("{}: {b}. Nothing was changed.", r.resource);
            }
        }
        if let Actions::Firewall(a) = &r.actions {
            if !r.changes.is_empty() {
                if let Some(b) = &a.blocked {
                    bail!("{}: {b}", r.resource);
                }
                if let (Some(l), false) = (&a.lockout, opts.allow_lockout) {
                    bail!("lockout guard: {l}. Nothing was changed. Re-run with --allow-lockout if this is intended.");
                }
            }
        }
    }
    for r in &plan.resources {
        let mut rr = ResourceReport { resource: r.resource.clone(), ..Default::default() };
        if r.changes.is_empty() {
            report.resources.push(rr);
            continue;
        }
        match &r.actions {
            Actions::Firewall(a) => match ufw::apply::apply(sys, a, opts.allow_lockout, &stamp) {
                Ok(done) => {
                    rr.changed = r.changes.iter().map(|c| c.summary.clone()).collect();
                    rr.backup = done.backup;
                    rr.notes = done.notes;
                }
                Err(e) => {
                    rr.failed = Some(e.to_string());
                    report.resources.push(rr);
                    return Ok(report);
                }
            },
            Actions::Caddy(a) => match caddy::apply::apply(sys, a, &stamp) {
                Ok(done) => {
                    rr.changed = r.changes.iter().map(|c| c.summary.clone()).collect();
                    rr.backup = done.backup;
                    rr.notes = done.notes;
                }
                Err(e) => {
                    rr.failed = Some(e.to_string());
                    report.resources.push(rr);
                    return Ok(report);
                }
            },
            Actions::None => {}
        }
        report.resources.push(rr);
    }
    let again = self::plan(sys, profile).context("planning again after apply")?;
    report.remaining = again.changes().map(|c| c.summary.clone()).collect();
    Ok(report)
}

/// The observed state of every resource as a profile (TOML table).
pub fn show(sys: &System) -> Result<toml::Table> {
    let mut t = toml::Table::new();
    let o = ufw::observe::observe(sys).map_err(|e| anyhow!("{e}"))?;
    if o.installed {
        t.insert("firewall".into(), toml::Value::Table(ufw::show::firewall_table(&o)));
    }
    Ok(t)
}

/// The observed Caddy sites (None when there is no Caddyfile at the default path).
/// A Caddyfile harden cannot read is reported in the output, not fatal: the other resources
/// are still shown.
pub fn show_caddy(sys: &System) -> Result<Option<caddy::show::Shown>> {
    Ok(match caddy::show::show(sys) {
        Ok(shown) => shown,
        Err(e) => Some(caddy::show::Shown {
            toml: format!("\n# [caddy] not shown: {e}\n"),
            json: serde_json::json!({ "error": e.to_string() }),
        }),
    })
}
