//! Human and JSON forms of plans, checks and reports.
use owo_colors::OwoColorize;
use serde_json::json;
use similar::{ChangeTag, TextDiff};

use crate::plan::{ChangeKind, Plan};

pub struct Style {
    pub color: bool,
    pub verbose: bool,
}

fn paint(s: &str, style: &Style, f: fn(&str) -> String) -> String {
    if style.color {
        f(s)
    } else {
        s.to_string()
    }
}

/// A unified diff with ufw-style file names.
pub fn unified(title: &str, before: &str, after: &str, style: &Style) -> String {
    let diff = TextDiff::from_lines(before, after);
    let mut out = String::new();
    out += &paint(&format!("--- {title} (current)\n+++ {title} (planned)\n"), style, |s| s.bold().to_string());
    for group in diff.grouped_ops(3) {
        let (first, last) = (group.first().unwrap(), group.last().unwrap());
        let (o, n) = (first.old_range().start, first.new_range().start);
        let (ol, nl) = (last.old_range().end - o, last.new_range().end - n);
        out += &paint(&format!("@@ -{},{} +{},{} @@\n", o + 1, ol, n + 1, nl), style, |s| s.cyan().to_string());
        for op in group {
            for change in diff.iter_changes(&op) {
                let text = change.value();
                let line = match change.tag() {
                    ChangeTag::Delete => paint(&format!("-{text}"), style, |s| s.red().to_string()),
                    ChangeTag::Insert => paint(&format!("+{text}"), style, |s| s.green().to_string()),
                    ChangeTag::Equal => format!(" {text}"),
                };
                out += &line;
                if !text.ends_with('\n') {
                    out += "\n\\ No newline at end of file\n";
                }
            }
        }
    }
    out
}

pub fn plan_human(plan: &Plan, style: &Style, check: bool) -> String {
    let mut out = String::new();
    for r in &plan.resources {
        let state = if r.changes.is_empty() && r.findings.is_empty() {
            "in sync".to_string()
        } else if check {
            "DRIFT".to_string()
        } else {
            format!("{} change(s)", r.changes.len())
        };
        out += &paint(&format!("== {}: {state}\n", r.resource), style, |s| s.bold().to_string());
        for v in &r.views {
            if v.verbose && !style.verbose {
                continue;
            }
            out += &unified(&v.title, &v.before, &v.after, style);
        }
        let rules_shown = r.views.iter().any(|v| !v.verbose);
        for c in &r.changes {
            // Rule changes are in the diff above; list the rest.
            if rules_shown && (c.item == "firewall.rule" || c.item == "firewall.rule.position") {
                continue;
            }
            let (sym, f): (&str, fn(&str) -> String) = match c.kind {
                ChangeKind::Add => ("+", |s| s.green().to_string()),
                ChangeKind::Change => ("~", |s| s.yellow().to_string()),
                ChangeKind::Remove => ("-", |s| s.red().to_string()),
            };
            out += &paint(&format!("  {sym} {}\n", c.summary), style, f);
        }
        for f in &r.findings {
            let loc = f.location.as_ref().map(|l| format!("{l}: ")).unwrap_or_default();
            out += &paint(&format!("  ! finding: {loc}{}\n", f.message), style, |s| s.red().bold().to_string());
            if let Some(rem) = &f.remedy {
                out += &format!("    fix: {rem}\n");
            }
        }
        for w in &r.warnings {
            out += &paint(&format!("  warning: {w}\n"), style, |s| s.yellow().to_string());
        }
    }
    let findings = plan.findings().count();
    out += &plan.summary_line();
    if findings > 0 {
        out += &format!(" {findings} finding(s) need a person.");
    }
    out.push('\n');
    out
}

pub fn plan_json(plan: &Plan, check: bool) -> serde_json::Value {
    let resources: Vec<_> = plan
        .resources
        .iter()
        .map(|r| {
            let mut v = json!({
                "resource": r.resource,
                "in_sync": r.changes.is_empty() && r.findings.is_empty(),
                "findings": r.findings,
                "warnings": r.warnings,
            });
            v[if check { "drift" } else { "changes" }] = json!(r.changes);
            v
        })
        .collect();
    json!({
        "schema_version": plan.schema_version,
        "harden_version": plan.harden_version,
        "kind": if check { "check" } else { "plan" },
        "profile": plan.profile,
        "root": plan.root,
        // The profile's [host] name, else the machine's hostname.
        "host": plan.host.clone().or_else(|| nix::unistd::gethostname().ok().map(|h| h.to_string_lossy().into_owned())),
        "time": crate::audit::rfc3339(crate::audit::now()),
        "summary": {
            "add": plan.count(ChangeKind::Add),
            "change": plan.count(ChangeKind::Change),
            "remove": plan.count(ChangeKind::Remove),
            "findings": plan.findings().count(),
        },
        "resources": resources,
    })
}
