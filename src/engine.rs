//! Commands call these operations: plan every resource the profile names,
//! apply a plan, and show the observed state. The engine knows resources
//! only through their plan, apply and show entry points.
use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;

use crate::backup;
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
    if let Some(b) = &profile.backup {
        resources.push(backup::plan::plan(sys, b).map_err(|e| anyhow!("{e}"))?);
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
    /// The changes carried out (or attempted, when `failed`), as the plan's JSON has them
    /// (labels included); `changed` is their summaries.
    #[serde(rename = "changes")]
    pub applied: Vec<crate::plan::Change>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    pub notes: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct ApplyReport {
    pub schema_version: u32,
    pub kind: &'static str,
    pub harden_version: &'static str,
    pub profile: String,
    pub root: String,
    pub resources: Vec<ResourceReport>,
    /// Changes still planned after apply (must be empty).
    pub remaining: Vec<String>,
}

impl ApplyReport {
    pub fn new(plan: &Plan) -> ApplyReport {
        ApplyReport {
            schema_version: SCHEMA_VERSION,
            kind: "apply",
            harden_version: env!("CARGO_PKG_VERSION"),
            profile: plan.profile.clone(),
            root: plan.root.clone(),
            ..Default::default()
        }
    }
    pub fn failed_resources(&self) -> bool {
        self.resources.iter().any(|r| r.failed.is_some())
    }
    pub fn failed(&self) -> bool {
        self.failed_resources() || !self.remaining.is_empty()
    }
}

fn stamp() -> String {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format!("{}-{}", d.as_secs(), std::process::id())
}

pub struct ApplyOptions<'a> {
    /// Proved writable after the refusals are checked and before any change.
    pub audit: Option<&'a crate::audit::AuditLog>,
    pub allow_lockout: bool,
    pub force: bool,
    /// A saved plan is applied exactly: a file changed since means refusal,
    /// where a fresh plan is simply made again.
    pub saved: bool,
}

/// Apply a plan, then plan again from the profile: nothing may be left.
/// When another writer changed a file between planning and writing, plan
/// again (at most three times) instead of overwriting its change.
pub fn apply(sys: &System, plan: &Plan, profile: &Profile, opts: &ApplyOptions) -> Result<ApplyReport> {
    let mut plan = plan.clone();
    let mut kernel_pass = false;
    let mut first: Option<ApplyReport> = None;
    for attempt in 0.. {
        match apply_once(sys, &plan, profile, opts)? {
            // Starting a half-started ufw can leave the kernel short of the
            // files; what is left then is loading them, which one more pass does.
            Attempt::Done(r)
                if !kernel_pass
                    && !r.failed_resources()
                    && !r.remaining.is_empty()
                    && r.remaining.iter().all(|c| c.starts_with("load the files into the kernel")) =>
            {
                kernel_pass = true;
                tracing::info!("the kernel still differs from the files; loading them once more");
                first = Some(r);
                plan = self::plan(sys, profile)?;
            }
            Attempt::Done(mut r) => {
                if let Some(f) = first.take() {
                    let later = std::mem::take(&mut r.resources);
                    r.resources = f.resources.into_iter().chain(later).collect();
                }
                return Ok(r);
            }
            Attempt::Stale(msg) if !opts.saved && attempt < 3 => {
                tracing::warn!("{msg}; planning again");
                plan = self::plan(sys, profile)?;
            }
            Attempt::Stale(msg) => bail!("{msg}. Nothing was changed."),
            Attempt::Installed => plan = self::plan(sys, profile)?,
        }
    }
    unreachable!()
}

/// How one resource's apply ended: done (backup, notes), a file changed
/// since the plan (path), or failed (message, changes already done, backup).
enum Outcome {
    Done(Option<String>, Vec<String>),
    Stale(String),
    Failed(String, Vec<String>, Option<String>),
}

enum Attempt {
    Done(ApplyReport),
    Stale(String),
    Installed,
}

fn apply_once(sys: &System, plan: &Plan, profile: &Profile, opts: &ApplyOptions) -> Result<Attempt> {
    if let Some(b) = plan.blocked() {
        bail!("{b}. Nothing was changed.");
    }
    let mut report = ApplyReport::new(plan);
    let stamp = stamp();
    for r in &plan.resources {
        if let Actions::Firewall(a) = &r.actions {
            if a.install {
                ufw::apply::install(sys)?;
                let o = ufw::observe::observe(sys).map_err(|e| anyhow!("{e}"))?;
                if !o.installed {
                    bail!(
                        "apt-get install ufw finished, but {} still does not exist",
                        sys.path(ufw::observe::UFW_CONF).display()
                    );
                }
                return Ok(Attempt::Installed);
            }
        }
    }
    // Refusals are checked for every resource before anything is written (a blocked plan was
    // refused above).
    for r in &plan.resources {
        if let Actions::Firewall(a) = &r.actions {
            if !r.changes.is_empty() {
                if let (Some(v), false) = (&a.unverified_version, opts.force) {
                    bail!(
                        "ufw {v} is installed, but harden writes only the file formats of ufw {} (verified); nothing was changed. Use --force to write anyway.",
                        ufw::observe::VERIFIED_VERSIONS.join(" and ")
                    );
                }
                if let (Some(l), false) = (&a.lockout, opts.allow_lockout) {
                    bail!("lockout guard: {l}. Nothing was changed. Re-run with --allow-lockout if this is intended.");
                }
            }
        }
    }
    if let Some(a) = opts.audit {
        a.prove_writable().map_err(|e| anyhow!("{e}; nothing was changed"))?;
    }
    for r in &plan.resources {
        let mut rr = ResourceReport { resource: r.resource.clone(), ..Default::default() };
        if r.changes.is_empty() {
            report.resources.push(rr);
            continue;
        }
        // Each resource's apply, in common terms.
        let outcome = match &r.actions {
            Actions::Firewall(a) => {
                let o = ufw::apply::Options { allow_lockout: opts.allow_lockout, force: opts.force };
                match ufw::apply::apply(sys, a, &o, &stamp) {
                    Ok(d) => Outcome::Done(d.backup, d.notes),
                    Err(ufw::apply::ApplyError::Stale { path, .. }) => Outcome::Stale(path),
                    Err(e) => Outcome::Failed(e.to_string(), Vec::new(), None),
                }
            }
            Actions::Backup(a) => match backup::apply::apply(sys, a, &stamp) {
                Ok(d) => Outcome::Done(d.backup, d.notes),
                // What was done before the failing step is reported (and audited) as done.
                Err(e) => Outcome::Failed(e.to_string(), e.done.clone(), e.backup.clone()),
            },
            Actions::Caddy(a) => match caddy::apply::apply(sys, a, &stamp) {
                Ok(d) => Outcome::Done(d.backup, d.notes),
                Err(caddy::apply::ApplyError::Stale { path, .. }) => Outcome::Stale(path),
                Err(e) => Outcome::Failed(e.to_string(), Vec::new(), None),
            },
            Actions::None => Outcome::Done(None, Vec::new()),
        };
        match outcome {
            Outcome::Done(backup, notes) => {
                rr.changed = r.changes.iter().map(|c| c.summary.clone()).collect();
                rr.applied = r.changes.clone();
                rr.backup = backup;
                rr.notes = notes;
            }
            Outcome::Stale(path) => return Ok(Attempt::Stale(format!("{path} changed since the plan was made"))),
            Outcome::Failed(msg, done, backup) => {
                let (ok, rest): (Vec<_>, Vec<_>) = r.changes.iter().cloned().partition(|c| done.contains(&c.summary));
                if !ok.is_empty() {
                    report.resources.push(ResourceReport {
                        resource: rr.resource.clone(),
                        changed: ok.iter().map(|c| c.summary.clone()).collect(),
                        applied: ok,
                        backup,
                        ..Default::default()
                    });
                }
                rr.failed = Some(msg);
                rr.applied = rest;
                report.resources.push(rr);
                return Ok(Attempt::Done(report));
            }
        }
        report.resources.push(rr);
    }
    let again = self::plan(sys, profile).context("planning again after apply")?;
    report.remaining = again.changes().map(|c| c.summary.clone()).collect();
    Ok(Attempt::Done(report))
}

/// The observed state of every resource as a profile (TOML table).
pub fn show(sys: &System) -> Result<toml::Table> {
    let mut t = toml::Table::new();
    let o = ufw::observe::observe(sys).map_err(|e| anyhow!("{e}"))?;
    if o.installed {
        t.insert("firewall".into(), toml::Value::Table(ufw::show::firewall_table(&o)));
    }
    if let Some(b) = backup::show::backup_table(&backup::fsroot::Root::new(sys.root())).map_err(|e| anyhow!("{e}"))? {
        t.insert("backup".into(), toml::Value::Table(b));
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
