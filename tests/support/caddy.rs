//! Helpers for the Caddy resource tests: a temp root with a Caddyfile, harden runs, and a
//! caddy on loopback that is stopped by its own admin address.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const CADDYFILE: &str = "/etc/caddy/Caddyfile";

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

pub fn caddy_installed() -> bool {
    Command::new("caddy").arg("version").output().is_ok_and(|o| o.status.success())
}

/// A temp directory used as `--root`, holding the profile outside the root's /etc.
pub struct Root {
    pub dir: tempfile::TempDir,
}

impl Root {
    pub fn new() -> Root {
        Root { dir: tempfile::tempdir().unwrap() }
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    pub fn file(&self, p: &str) -> PathBuf {
        self.path().join(p.trim_start_matches('/'))
    }
    pub fn write(&self, p: &str, text: &str) {
        let f = self.file(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, text).unwrap();
    }
    pub fn read(&self, p: &str) -> String {
        std::fs::read_to_string(self.file(p)).unwrap()
    }
    /// Runs harden with this root; caddy (for validate and reload) gets HOME and XDG
    /// directories inside the root.
    pub fn harden(&self, args: &[&str]) -> Run {
        self.harden_env(args, &[])
    }
    /// [`Root::harden`] with extra environment variables (test seams).
    pub fn harden_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut a = vec!["--root".to_string(), self.path().display().to_string()];
        a.extend(args.iter().map(|s| s.to_string()));
        let out = Command::new(env!("CARGO_BIN_EXE_harden"))
            .args(&a)
            .env("NO_COLOR", "1")
            .envs(caddy_env(self.path()))
            .envs(env.iter().copied())
            .output()
            .unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        }
    }
}

/// Private HOME and XDG directories so caddy never writes to the host's.
pub fn caddy_env(dir: &Path) -> Vec<(String, String)> {
    let home = dir.join("caddy-home");
    std::fs::create_dir_all(&home).unwrap();
    vec![
        ("HOME".into(), home.display().to_string()),
        ("XDG_DATA_HOME".into(), home.join("data").display().to_string()),
        ("XDG_CONFIG_HOME".into(), home.join("config").display().to_string()),
    ]
}

/// A free loopback port (bound and released; good enough for a test).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A caddy started by a test; stopped by its admin address when dropped, even on failure.
pub struct Caddy {
    pub admin: String,
    env: Vec<(String, String)>,
}

impl Caddy {
    pub fn start(config: &Path, admin: &str, dir: &Path) -> Caddy {
        let env = caddy_env(dir);
        let st = Command::new("caddy")
            .args(["start", "--config", &config.display().to_string(), "--adapter", "caddyfile"])
            .envs(env.clone())
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        let c = Caddy { admin: admin.to_string(), env };
        assert!(st.success(), "caddy start failed");
        c
    }
}

impl Drop for Caddy {
    fn drop(&mut self) {
        let _ = Command::new("caddy")
            .args(["stop", "--address", &self.admin])
            .envs(self.env.clone())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Response headers of a GET (lowercased names, in order, duplicates kept).
pub fn get_headers(url: &str) -> Vec<(String, String)> {
    for _ in 0..50 {
        let out =
            Command::new("curl").args(["-sk", "-D", "-", "-o", "/dev/null", "--max-time", "5", url]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if out.status.success() && !text.is_empty() {
            return text
                .lines()
                .skip(1)
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect();
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("no response from {url}");
}

pub fn values<'a>(h: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    h.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
}

/// The adapted config with every `headers` handler gone, and what only held them: a
/// `subroute` left without routes, an empty `handle`, a route left with neither handler nor
/// matcher.
pub fn without_headers(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            let mut out = serde_json::Map::new();
            for (k, v) in m {
                let v = without_headers(v);
                match (k.as_str(), v) {
                    ("handle", Value::Array(a)) => {
                        let kept: Vec<Value> = a
                            .into_iter()
                            .filter(|h| {
                                let kind = h.get("handler").and_then(Value::as_str);
                                let empty_sub = kind == Some("subroute")
                                    && h.get("routes").and_then(Value::as_array).is_none_or(|r| r.is_empty());
                                kind != Some("headers") && !empty_sub
                            })
                            .collect();
                        if !kept.is_empty() {
                            out.insert(k, Value::Array(kept));
                        }
                    }
                    ("routes", Value::Array(a)) => {
                        let kept = a
                            .into_iter()
                            .filter(|r| r.get("handle").is_some() || r.get("match").is_some())
                            .collect::<Vec<_>>();
                        // A server that had no routes gets one for the headers alone.
                        if !kept.is_empty() {
                            out.insert(k, Value::Array(kept));
                        }
                    }
                    (_, v) => {
                        out.insert(k, v);
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.into_iter().map(without_headers).collect()),
        v => v,
    }
}

/// `caddy adapt` of a file: the JSON and caddy's warnings, or None when caddy rejects it.
pub fn adapt(r: &Root, file: &std::path::Path) -> Option<(serde_json::Value, String)> {
    let out = Command::new("caddy")
        .args(["adapt", "--config", &file.display().to_string(), "--adapter", "caddyfile"])
        .envs(caddy_env(r.path()))
        .output()
        .unwrap();
    if !out.status.success() {
        return None;
    }
    Some((serde_json::from_slice(&out.stdout).ok()?, String::from_utf8_lossy(&out.stderr).into()))
}

/// Applies the profile at `p`, checks that a second plan is empty, and returns `caddy adapt`
/// of the result (None, after a `SKIP:` line, when caddy is not installed).
pub fn apply_in_sync_adapt(r: &Root, p: &str) -> Option<serde_json::Value> {
    let apply = r.harden(&["apply", "--yes", "--profile", p]);
    assert_eq!(apply.code, 0, "{apply:?}");
    let again = r.harden(&["plan", "--profile", p]);
    assert_eq!(again.code, 0, "second plan is empty: {again:?}");
    if !caddy_installed() {
        println!("SKIP: caddy not installed (adapt check)");
        return None;
    }
    Some(adapt(r, &r.file(CADDYFILE)).expect("caddy adapts the result").0)
}

/// Every `headers` handler with `response.deferred` and a `set` of X-Content-Type-Options (ours).
pub fn deferred_handlers(v: &serde_json::Value, out: &mut Vec<serde_json::Value>) {
    match v {
        serde_json::Value::Object(m) => {
            let resp = m.get("response");
            let ours = m.get("handler").and_then(|h| h.as_str()) == Some("headers")
                && resp.and_then(|r| r.get("deferred")) == Some(&serde_json::Value::Bool(true))
                && resp.and_then(|r| r.get("set")).and_then(|s| s.get("X-Content-Type-Options")).is_some();
            if ours {
                out.push(resp.cloned().unwrap_or_default());
            }
            m.values().for_each(|x| deferred_handlers(x, out));
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| deferred_handlers(x, out)),
        _ => {}
    }
}

/// A deferred handler of harden's with exactly the owasp preset.
pub fn check_profile_headers(resp: &serde_json::Value) -> Result<(), String> {
    check_headers(resp, &[])
}

/// A deferred handler of harden's with exactly the owasp preset, `overrides` replacing values.
pub fn check_headers(resp: &serde_json::Value, overrides: &[(&str, &str)]) -> Result<(), String> {
    let (preset, removes) = harden::caddy::spec::preset("owasp").unwrap();
    let value = |k: &str, v: &str| overrides.iter().find(|o| o.0 == k).map_or(v.to_string(), |o| o.1.to_string());
    let set = resp["set"].as_object().ok_or("no set")?;
    for (k, v) in &preset {
        let v = value(k, v);
        let got = set.get(*k).cloned();
        let hsts = *k == harden::caddy::spec::HSTS;
        if got.is_none() && hsts {
            continue; // a plain-HTTP site
        }
        if got != Some(serde_json::json!([v])) {
            return Err(format!("{k} is {got:?} in adapt output, not [{v:?}]"));
        }
    }
    if set.len() > preset.len() {
        return Err(format!("extra headers in {set:?}"));
    }
    let deleted: Vec<&str> = resp["delete"].as_array().ok_or("no delete")?.iter().filter_map(|d| d.as_str()).collect();
    if deleted != removes {
        return Err(format!("deletes {deleted:?}, not {removes:?}"));
    }
    Ok(())
}
