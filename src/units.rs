//! `harden install-units`: render the systemd units from `templates/`
//! (handlebars, compiled in) and write them under the root.
use anyhow::{Context, Result};
use handlebars::Handlebars;
use serde::Serialize;

use crate::system::System;

const TEMPLATES: [(&str, &str); 3] = [
    ("harden-check.service", include_str!("../templates/harden-check.service.hbs")),
    ("harden-check.timer", include_str!("../templates/harden-check.timer.hbs")),
    ("harden-agent.service", include_str!("../templates/harden-agent.service.hbs")),
];

#[derive(Serialize)]
pub struct UnitParams {
    pub bin: String,
    pub profile: String,
    pub interval: String,
    pub jitter: String,
    pub remediate: bool,
    pub metrics: String,
    pub metrics_dir: String,
    pub audit_log: String,
    pub audit_dir: String,
}

/// What the templates see: quoted words, and the writable directories with
/// systemd's "-" (a directory that does not exist must not stop the unit).
#[derive(Serialize)]
struct Rendered {
    bin: String,
    profile: String,
    interval: String,
    jitter: String,
    remediate: bool,
    metrics: String,
    audit_log: String,
    metrics_rw: String,
    audit_rw: String,
}

/// A word for ExecStart= or a path list: quoted when it has spaces or
/// quotes, with systemd's specifier (%) and variable ($) characters escaped.
pub fn quote(s: &str) -> String {
    let esc = s.replace('%', "%%").replace('$', "$$");
    if esc.chars().any(|c| c.is_whitespace() || c == '"' || c == '\'' || c == '\\') {
        format!("\"{}\"", esc.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        esc
    }
}

pub fn render(p: &UnitParams) -> Result<Vec<(String, String)>> {
    let p = &Rendered {
        bin: quote(&p.bin),
        profile: quote(&p.profile),
        interval: p.interval.clone(),
        jitter: p.jitter.clone(),
        remediate: p.remediate,
        metrics: quote(&p.metrics),
        audit_log: quote(&p.audit_log),
        metrics_rw: quote(&format!("-{}", p.metrics_dir)),
        audit_rw: quote(&format!("-{}", p.audit_dir)),
    };
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_escape_fn(handlebars::no_escape);
    let mut out = Vec::new();
    for (name, t) in TEMPLATES {
        hb.register_template_string(name, t).with_context(|| format!("template {name}"))?;
        let text = hb.render(name, p).with_context(|| format!("rendering {name}"))?;
        // Blank lines left by {{#if}} blocks: keep the files tidy.
        let mut tidy = String::new();
        for l in text.lines() {
            if l.is_empty() && tidy.ends_with("\n\n") {
                continue;
            }
            tidy.push_str(l);
            tidy.push('\n');
        }
        out.push((name.to_string(), tidy));
    }
    Ok(out)
}

/// Write the units to /etc/systemd/system under the root; returns their paths.
pub fn install(sys: &System, p: &UnitParams) -> Result<Vec<String>> {
    let mut written = Vec::new();
    for (name, text) in render(p)? {
        let path = format!("/etc/systemd/system/{name}");
        sys.write_atomic(&path, text.as_bytes(), 0o644)?;
        written.push(sys.path(&path).display().to_string());
    }
    Ok(written)
}
