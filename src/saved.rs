//! Saved plans: `plan --out FILE` writes the plan with the sha256 of every
//! file it read, the harden version and the machine id; `apply FILE` refuses
//! when any of them changed since.
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

use crate::plan::Plan;
use crate::profile::Profile;
use crate::system::{sha256_hex, System};

pub const FORMAT: &str = "harden-saved-plan";

#[derive(Debug, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format: String,
    pub harden_version: String,
    pub machine_id: String,
    pub created_unix: u64,
    pub root: String,
    /// In-root path -> sha256 ("" = the file did not exist).
    pub inputs: BTreeMap<String, String>,
    /// Profile file -> sha256.
    pub profile_files: BTreeMap<String, String>,
    pub plan: Plan,
}

/// The machine's identity: /etc/machine-id under the root, else the hostname.
pub fn machine_id(sys: &System) -> String {
    for p in ["/etc/machine-id", "/var/lib/dbus/machine-id"] {
        if let Ok(Some(t)) = sys.read_text(p) {
            if !t.trim().is_empty() {
                return t.trim().to_string();
            }
        }
    }
    nix::unistd::gethostname().map(|h| format!("hostname:{}", h.to_string_lossy())).unwrap_or_default()
}

fn hash_file(p: &Path) -> String {
    std::fs::read(p).map(|d| sha256_hex(&d)).unwrap_or_default()
}

pub fn save(out: &Path, sys: &System, profile: &Profile, plan: &Plan) -> Result<()> {
    let mut inputs = sys.reads();
    // The machine id is an input too, but it is checked on its own.
    inputs.remove("/etc/machine-id");
    inputs.remove("/var/lib/dbus/machine-id");
    let saved = SavedPlan {
        format: FORMAT.into(),
        harden_version: env!("CARGO_PKG_VERSION").into(),
        machine_id: machine_id(sys),
        created_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        root: sys.root().display().to_string(),
        inputs,
        profile_files: profile.files.iter().map(|f| (f.display().to_string(), hash_file(f))).collect(),
        plan: plan.clone(),
    };
    let text = serde_json::to_string_pretty(&saved)?;
    // The plan holds the rules files' contents: as private as they are.
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(out)
        .with_context(|| format!("cannot write {}", out.display()))?;
    std::io::Write::write_all(&mut f, (text + "\n").as_bytes())
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(())
}

pub fn load(path: &Path) -> Result<SavedPlan> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read plan {}", path.display()))?;
    let saved: SavedPlan =
        serde_json::from_str(&text).with_context(|| format!("{} is not a harden plan", path.display()))?;
    if saved.format != FORMAT {
        bail!("{} is not a harden plan (format {:?})", path.display(), saved.format);
    }
    Ok(saved)
}

/// The plan the profile gives now must be the saved one: same changes and
/// same actions (but for the lockout verdict, which belongs to whoever
/// applies). A hand-edited plan, or a kernel that changed since, is refused.
pub fn same_plan(saved: &Plan, fresh: &Plan, path: &Path) -> Result<()> {
    let strip = |p: &Plan| -> Vec<crate::plan::ResourcePlan> {
        p.resources
            .iter()
            .cloned()
            .map(|mut r| {
                if let crate::plan::Actions::Firewall(a) = &mut r.actions {
                    a.lockout = None;
                }
                r.warnings.clear();
                r
            })
            .collect()
    };
    if strip(saved) != strip(fresh) {
        let fc: Vec<String> = fresh.changes().map(|c| c.summary.clone()).collect();
        let sc: Vec<String> = saved.changes().map(|c| c.summary.clone()).collect();
        let why = if fc != sc {
            format!(
                "it would now make these changes instead: {}",
                if fc.is_empty() { "none".to_string() } else { fc.join("; ") }
            )
        } else {
            "its file contents or load steps were edited".to_string()
        };
        bail!("{} is not what the profile gives now ({why}); nothing was changed: plan again", path.display());
    }
    Ok(())
}

/// Refuse a saved plan whose world has changed, naming what changed.
pub fn verify(saved: &SavedPlan, sys: &System, path: &Path) -> Result<()> {
    let p = path.display();
    if saved.harden_version != env!("CARGO_PKG_VERSION") {
        bail!("{p} was made by harden {}, this is {}; plan again", saved.harden_version, env!("CARGO_PKG_VERSION"));
    }
    let here = machine_id(sys);
    if saved.machine_id != here {
        bail!(
            "{p} was made on another machine (machine id {}, this one is {here}); plan on this machine",
            saved.machine_id
        );
    }
    if Path::new(&saved.root) != sys.root() {
        bail!("{p} was made for --root {}, not {}", saved.root, sys.root().display());
    }
    for (f, h) in &saved.inputs {
        let now = sys.hash_now(f)?;
        if &now != h {
            let what = if now.is_empty() {
                "was removed"
            } else if h.is_empty() {
                "was created"
            } else {
                "changed"
            };
            bail!("{} {what} since {p} was made; nothing was changed: plan again", sys.path(f).display());
        }
    }
    for (f, h) in &saved.profile_files {
        if &hash_file(Path::new(f)) != h {
            bail!("profile {f} changed since {p} was made; nothing was changed: plan again");
        }
    }
    Ok(())
}
