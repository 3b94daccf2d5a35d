//! Prometheus text format for node_exporter's textfile collector, written
//! atomically (temp file in the same directory, then rename).
use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;

use crate::plan::Plan;

pub fn render(plan: Option<&Plan>, success: bool, now: u64) -> String {
    let mut s = String::new();
    s += "# HELP harden_drift Whether the resource differs from the profile (changes pending or findings).\n";
    s += "# TYPE harden_drift gauge\n";
    if let Some(p) = plan {
        for r in &p.resources {
            let drift = u8::from(!r.changes.is_empty() || !r.findings.is_empty());
            s += &format!("harden_drift{{resource=\"{}\"}} {drift}\n", r.resource);
        }
    }
    // Without a plan (the run failed) the counts are unknown, not zero.
    s += "# HELP harden_changes_pending Changes that apply would make.\n# TYPE harden_changes_pending gauge\n";
    if let Some(p) = plan {
        s += &format!("harden_changes_pending {}\n", p.changes().count());
    }
    s += "# HELP harden_findings Things the profile requires that need a person.\n# TYPE harden_findings gauge\n";
    if let Some(p) = plan {
        s += &format!("harden_findings {}\n", p.findings().count());
    }
    s += "# HELP harden_last_run_timestamp_seconds When harden last ran.\n# TYPE harden_last_run_timestamp_seconds gauge\n";
    s += &format!("harden_last_run_timestamp_seconds {now}\n");
    s += "# HELP harden_last_run_success Whether the last run finished without error.\n# TYPE harden_last_run_success gauge\n";
    s += &format!("harden_last_run_success {}\n", u8::from(success));
    s
}

pub fn write(path: &Path, plan: Option<&Plan>, success: bool) -> Result<()> {
    let text = render(plan, success, crate::audit::now());
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "harden.prom".into());
    // node_exporter ignores files not ending in .prom: the temp name must not.
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut f = std::fs::File::create(&tmp).with_context(|| format!("cannot write metrics {}", tmp.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write metrics {}", path.display()))?;
    Ok(())
}
