//! The observed Caddy sites for `harden show`: a valid `[caddy]` profile fragment with the
//! per-site facts as TOML comments, and the full detail as JSON.
use std::collections::BTreeMap;

use serde_json::json;

use super::plan::{observe, removed, PlanError};
use super::spec::DEFAULT_CADDYFILE;
use crate::system::System;

pub struct Shown {
    pub toml: String,
    pub json: serde_json::Value,
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// None when the default Caddyfile does not exist under the root.
pub fn show(sys: &System) -> Result<Option<Shown>, PlanError> {
    let Some(o) = observe(sys, DEFAULT_CADDYFILE, None)? else { return Ok(None) };
    let mut t =
        String::from("# Per site: the headers a request that no matcher selects receives from `header` directives.\n");
    let mut common_removed: Option<Vec<String>> = None;
    let mut sites_json = Vec::new();
    let mut common: Option<BTreeMap<String, Vec<String>>> = None;
    for (_, s) in &o.sites {
        let eff = s.headers.effective();
        // show judges no profile, so every not-deferred header before a proxy is advice.
        let proxy = s.findings.iter().any(|f| f.id == "caddy.header-before-proxy") || !s.warnings.is_empty();
        t += &format!(
            "# site {} ({}), {}\n",
            toml_str(&s.addresses.join(", ")),
            s.location,
            if s.https { "HTTPS" } else { "plain HTTP" }
        );
        for e in eff.values() {
            t += &format!("#   {} = {}  # {}\n", e.name, toml_str(&e.values.join(", ")), e.set_at);
        }
        let gone = removed(&s.headers);
        if !gone.is_empty() {
            t += &format!("#   removes: {}\n", gone.join(", "));
        }
        if eff.is_empty() && gone.is_empty() {
            t += "#   (no header directives)\n";
        }
        common_removed = Some(match common_removed {
            None => gone.clone(),
            Some(c) => c.into_iter().filter(|g| gone.contains(g)).collect(),
        });
        for f in &s.findings {
            t += &format!("#   finding: {}: {}\n", f.location.as_deref().unwrap_or("?"), f.message);
        }
        for w in &s.warnings {
            t += &format!("#   warning: {w}\n");
        }
        let values: BTreeMap<String, Vec<String>> = eff.values().map(|e| (e.name.clone(), e.values.clone())).collect();
        common = Some(match common {
            None => values.clone(),
            Some(c) => c.into_iter().filter(|(k, v)| values.get(k) == Some(v)).collect(),
        });
        sites_json.push(json!({
            "addresses": s.addresses,
            "location": s.location,
            "https": s.https,
            "header_before_proxy": proxy,
            "effective": eff.values().map(|e| json!({
                "name": e.name,
                "values": e.values,
                "set_at": e.set_at.to_string(),
                "replacements": e.replacements.iter().map(|r| json!({"search_regexp": r.search_regexp, "replace": r.replace})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "directives": s.headers.directives.iter().map(|d| json!({
                "location": d.location.to_string(),
                "matcher": d.matcher.as_ref().map(|m| format!("{m:?}")),
                "within": d.within.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
                "handlers": d.handlers.iter().map(|h| json!({
                    "set": h.set, "add": h.add, "delete": h.delete, "require_absent": h.require_absent, "deferred": h.deferred,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "removes": gone,
            "findings": s.findings,
            "warnings": s.warnings,
        }));
    }
    // Only single-valued headers every site sends alike make a valid, faithful [caddy.headers].
    let common: BTreeMap<String, Vec<String>> =
        common.unwrap_or_default().into_iter().filter(|(_, v)| v.len() == 1).collect();
    let mut head = format!("\n[caddy]\ncaddyfile = {}\nsites = \"all\"\n", toml_str(DEFAULT_CADDYFILE));
    let common_removed: Vec<String> = common_removed.unwrap_or_default().into_iter().filter(|r| r != "*").collect();
    if !common_removed.is_empty() {
        let list: Vec<String> = common_removed.iter().map(|r| toml_str(r)).collect();
        head += &format!("remove = [{}]\n", list.join(", "));
    }
    let mut t = head + &t;
    if !common.is_empty() {
        t += "\n[caddy.headers]\n";
        for (k, v) in &common {
            let bare = k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            t += &format!("{} = {}\n", if bare { k.clone() } else { toml_str(k) }, toml_str(&v[0]));
        }
    }
    let json = json!({
        "caddyfile": DEFAULT_CADDYFILE,
        "admin": o.admin,
        "auto_https_off": o.auto_https_off,
        "sites": sites_json,
    });
    Ok(Some(Shown { toml: t, json }))
}
