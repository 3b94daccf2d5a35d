//! The header model against Caddy: the JSON `caddy adapt` produced (the adapt-v2.6.2 corpus),
//! and, when caddy 2.6.2 is installed, live `caddy adapt` runs on every corpus Caddyfile.
#[path = "caddy_common.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use harden::caddy::headers::{site_headers, HeaderOps};
use harden::caddy::load;
use harden::system::System;
use serde_json::{json, Map, Value};

/// Per site host key, the headers handlers in route order, as (route has a matcher, response).
type Handlers = BTreeMap<String, Vec<(bool, Value)>>;

/// Caddy's JSON for one handler's `response` object.
fn ops_json(h: &HeaderOps) -> Value {
    let mut m = Map::new();
    let fields = |f: &BTreeMap<String, Vec<String>>| json!(f);
    if !h.add.is_empty() {
        m.insert("add".into(), fields(&h.add));
    }
    if !h.set.is_empty() {
        m.insert("set".into(), fields(&h.set));
    }
    if !h.delete.is_empty() {
        m.insert("delete".into(), json!(h.delete));
    }
    if !h.replace.is_empty() {
        let r: Map<String, Value> = h
            .replace
            .iter()
            .map(|(k, v)| {
                let list: Vec<Value> =
                    v.iter().map(|r| json!({"search_regexp": r.search_regexp, "replace": r.replace})).collect();
                (k.clone(), Value::Array(list))
            })
            .collect();
        m.insert("replace".into(), Value::Object(r));
    }
    if !h.require_absent.is_empty() {
        let hs: Map<String, Value> = h.require_absent.iter().map(|f| (f.clone(), Value::Null)).collect();
        m.insert("require".into(), json!({ "headers": hs }));
    }
    if h.deferred {
        m.insert("deferred".into(), Value::Bool(true));
    }
    Value::Object(m)
}

/// The host part of a site address: `https://a.com:443/x` gives `a.com`, `:80` gives "".
fn host_of(addr: &str) -> String {
    let a = addr.split_once("://").map_or(addr, |(_, r)| r);
    let a = a.split('/').next().unwrap_or("");
    if let Some(rest) = a.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("").to_string();
    }
    a.rsplit_once(':').map_or(a, |(h, _)| h).to_string()
}

fn site_key(hosts: &[String]) -> String {
    let mut h: Vec<&str> = hosts.iter().map(String::as_str).filter(|h| !h.is_empty()).collect();
    h.sort();
    h.dedup();
    h.join(",")
}

/// All headers handlers with a response part under `routes`, depth first, in order.
fn walk(routes: &Value, out: &mut Vec<(bool, Value)>) {
    for route in routes.as_array().into_iter().flatten() {
        let matched = route.get("match").is_some();
        for h in route["handle"].as_array().into_iter().flatten() {
            if h["handler"] == "headers" {
                if let Some(resp) = h.get("response") {
                    out.push((matched, resp.clone()));
                }
            }
            if h["handler"] == "subroute" {
                walk(&h["routes"], out);
            }
        }
    }
}

/// Expected handlers from `caddy adapt` JSON, per site.
fn from_json(config: &Value) -> Handlers {
    let mut out = Handlers::new();
    let servers = config["apps"]["http"]["servers"].as_object().cloned().unwrap_or_default();
    for srv in servers.values() {
        for routes in [&srv["routes"], &srv["errors"]["routes"]] {
            for route in routes.as_array().into_iter().flatten() {
                let hosts: Vec<String> = route["match"]
                    .as_array()
                    .and_then(|m| m.first())
                    .and_then(|m| m["host"].as_array())
                    .map(|hs| hs.iter().filter_map(|h| h.as_str().map(str::to_string)).collect())
                    .unwrap_or_default();
                let mut list = Vec::new();
                walk(&Value::Array(vec![route.clone()]), &mut list);
                if !list.is_empty() {
                    out.entry(site_key(&hosts)).or_default().extend(list);
                }
            }
        }
    }
    out
}

/// Our handlers for the Caddyfile at `dir/Caddyfile`, per site.
fn from_model(dir: &Path) -> Result<Handlers, String> {
    let loaded = load(&System::real(dir), Path::new("/Caddyfile"), &|_: &str| None).map_err(|e| e.to_string())?;
    let sites = site_headers(&loaded.blocks).map_err(|e| e.to_string())?;
    let mut out = Handlers::new();
    for s in sites {
        let hosts: Vec<String> = s.addresses.iter().map(|a| host_of(a)).collect();
        let list: Vec<(bool, Value)> =
            s.directives.iter().flat_map(|d| d.handlers.iter().map(|h| (d.matcher.is_some(), ops_json(h)))).collect();
        if !list.is_empty() {
            out.entry(site_key(&hosts)).or_default().extend(list);
        }
    }
    Ok(out)
}

/// A temporary root holding `Caddyfile`, with a copy of `testdata` for the import cases (a
/// symlink would not do: harden resolves it inside the root, as on the root's own machine).
fn stage(caddyfile: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("Caddyfile"), caddyfile).expect("write");
    if let Some(td) = common::corpus("testdata") {
        let copy = dir.path().join("testdata");
        std::fs::create_dir(&copy).expect("mkdir");
        for e in std::fs::read_dir(td).expect("testdata").flatten() {
            if e.path().is_file() {
                std::fs::copy(e.path(), copy.join(e.file_name())).expect("copy");
            }
        }
    }
    dir
}

fn caddyfile_part(case: &str) -> (&str, Option<&str>) {
    match case.split_once("\n----------\n") {
        Some((c, j)) => (c, Some(j)),
        None => (case, None),
    }
}

#[test]
fn matches_adapt_v262_json() {
    let Some(dir) = common::corpus("adapt-v2.6.2") else {
        return;
    };
    let mut compared = 0;
    let mut failures = Vec::new();
    for (name, path) in common::files_with_suffix(&dir, ".txt") {
        let text = common::read(&path);
        let (caddyfile, Some(expected)) = caddyfile_part(&text) else {
            continue;
        };
        let Ok(config) = serde_json::from_str::<Value>(expected) else {
            continue;
        };
        let want = from_json(&config);
        let staged = stage(caddyfile);
        match from_model(staged.path()) {
            Ok(got) if got == want => {}
            Ok(got) => failures.push(format!("{name}:\n got  {got:?}\n want {want:?}")),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
        compared += usize::from(!want.is_empty());
    }
    // Only `header.txt` of the 2.6.2 cases has response header operations.
    assert!(compared >= 1, "no case had response headers");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn caddy_adapt(dir: &Path) -> Option<Value> {
    let out = Command::new("caddy")
        .args(["adapt", "--adapter", "caddyfile", "--config"])
        .arg(dir.join("Caddyfile"))
        .env_clear()
        .env("HOME", dir)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

/// Cases where caddy 2.6.2 and our expansion differ by design: we expand `{block}` and
/// `{blocks.NAME}` (Caddy 2.9+) as current Caddy does; 2.6.2 leaves them literal.
const NEWER_EXPANSION: &[&str] =
    &["adapt/import_block_snippet", "adapt/import_blocks_snippet", "adapt/import_blocks_snippet_nested"];

#[test]
fn matches_live_caddy_adapt() {
    let installed = Command::new("caddy")
        .arg("version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).starts_with("2.6.2"));
    if !installed {
        println!("SKIP: caddy 2.6.2 not on PATH");
        return;
    }
    let mut inputs: Vec<(String, String)> = Vec::new();
    for (sub, suffix) in [("wild", ".Caddyfile"), ("adapt", ".caddyfiletest"), ("adapt-v2.6.2", ".txt")] {
        let Some(dir) = common::corpus(sub) else {
            return;
        };
        for (n, p) in common::files_with_suffix(&dir, suffix) {
            let text = common::read(&p);
            inputs.push((format!("{sub}/{n}"), caddyfile_part(&text).0.to_string()));
        }
    }
    let (mut compared, mut not_adapted) = (0, 0);
    let mut failures = Vec::new();
    for (name, caddyfile) in &inputs {
        if !caddyfile.contains("header") || NEWER_EXPANSION.contains(&name.as_str()) {
            continue;
        }
        let staged = stage(caddyfile);
        let Some(config) = caddy_adapt(staged.path()) else {
            not_adapted += 1;
            continue;
        };
        let want = from_json(&config);
        match from_model(staged.path()) {
            Ok(got) if got == want => {}
            Ok(got) => failures.push(format!("{name}:\n got  {got:?}\n want {want:?}")),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
        compared += usize::from(!want.is_empty());
    }
    println!("compared {compared} configs with response headers; {not_adapted} not adaptable by caddy 2.6.2");
    assert!(compared >= 5, "only {compared} comparisons");
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}
