//! Carry out a Caddy plan: let caddy validate the new file before anything is replaced, keep a
//! copy of the old one, write atomically, reload, and put the old file back (and reload it)
//! when the reload fails.
use super::plan::CaddyActions;
use super::spec::Reload;
use crate::system::{SysError, System};

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{0}")]
    Refused(String),
    #[error("{path} changed since the plan was made (sha256 {now}, plan had {then}); plan again")]
    Stale { path: String, now: String, then: String },
    #[error(transparent)]
    Sys(#[from] SysError),
    #[error("caddy rejects the edited {path}, so it was not written: {reason}")]
    Invalid { path: String, reason: String },
    /// `restore` says what became of the previous file: restored and reloaded, restored but
    /// not reloaded, or not restored (then where the backup is).
    #[error("reloading caddy failed: {reason}; {restore}")]
    ReloadFailed { path: String, reason: String, restore: String },
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Applied {
    pub backup: Option<String>,
    pub notes: Vec<String>,
    pub reloaded: bool,
}

/// How apply loads the new file into the running caddy.
#[derive(Debug, Clone, PartialEq, Eq)]
enum How {
    Api(String),
    Systemd,
    Skip(String),
}

const DEFAULT_ADMIN: &str = "localhost:2019";

fn how(sys: &System, a: &CaddyActions) -> How {
    let admin = a.admin.as_deref();
    let not_live = format!("--root is {}, not /: the file was written, caddy was not reloaded", sys.root().display());
    match a.reload {
        Reload::None => How::Skip("reload = \"none\": caddy was not reloaded".into()),
        Reload::Api => match admin {
            Some("off") => How::Skip("the admin API is off in the global options: caddy was not reloaded".into()),
            // A test root may reload a caddy it started, but only at an address it wrote.
            Some(addr) => How::Api(addr.to_string()),
            None if sys.is_live() => How::Api(DEFAULT_ADMIN.into()),
            None => How::Skip(not_live),
        },
        Reload::Systemd if sys.is_live() => How::Systemd,
        Reload::Systemd => How::Skip(not_live),
        Reload::Auto if !sys.is_live() => How::Skip(not_live),
        Reload::Auto => match admin {
            Some("off") => How::Systemd,
            Some(addr) => How::Api(addr.to_string()),
            None => {
                let active = sys.run("systemctl", &["is-active", "--quiet", "caddy"], None).is_ok_and(|o| o.ok());
                if active {
                    How::Systemd
                } else {
                    How::Api(DEFAULT_ADMIN.into())
                }
            }
        },
    }
}

fn run_ok(sys: &System, prog: &str, args: &[&str]) -> Result<(), String> {
    let out = sys.run(prog, args, None).map_err(|e| e.to_string())?;
    if out.ok() {
        return Ok(());
    }
    // Both streams, kept apart; a program that says nothing gets no dangling colon.
    let said: Vec<&str> = [out.stderr.trim(), out.stdout.trim()].into_iter().filter(|s| !s.is_empty()).collect();
    let mut msg = format!("{prog} {} exited {}", args.join(" "), out.status);
    if !said.is_empty() {
        msg = format!("{msg}: {}", said.join("; "));
    }
    Err(msg)
}

fn reload(sys: &System, how: &How, config: &str) -> Result<(), String> {
    match how {
        How::Api(addr) => {
            run_ok(sys, "caddy", &["reload", "--config", config, "--adapter", "caddyfile", "--address", addr])
        }
        How::Systemd => run_ok(sys, "systemctl", &["reload", "caddy"]),
        How::Skip(_) => Ok(()),
    }
}

/// The candidate file next to the Caddyfile, so its relative imports resolve the same; the
/// leading dot keeps it out of `import *` globs.
fn candidate_path(path: &str) -> String {
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    format!("{dir}/.{name}.harden-candidate")
}

pub fn apply(sys: &System, a: &CaddyActions, stamp: &str) -> Result<Applied, ApplyError> {
    if let Some(b) = &a.blocked {
        return Err(ApplyError::Refused(format!("{b}; nothing was changed")));
    }
    let mut done = Applied::default();
    let Some(w) = &a.write else { return Ok(done) };
    let host_path = sys.path(&w.path).display().to_string();
    let now = sys.hash_now(&w.path)?;
    if now != w.base_sha256 {
        return Err(ApplyError::Stale { path: host_path, now, then: w.base_sha256.clone() });
    }
    if sys.has_program("caddy") {
        let cand = candidate_path(&w.path);
        sys.write_atomic(&cand, w.content.as_bytes(), 0o600)?;
        let host_cand = sys.path(&cand).display().to_string();
        let checked = run_ok(sys, "caddy", &["validate", "--config", &host_cand, "--adapter", "caddyfile"]);
        sys.remove_file(&cand)?;
        if let Err(reason) = checked {
            let mut reason = reason.replace(&host_cand, &host_path);
            // Tell an edit caddy rejects from a file it rejects anyway (say, an environment
            // variable the service has and harden's shell does not).
            if run_ok(sys, "caddy", &["validate", "--config", &host_path, "--adapter", "caddyfile"]).is_err() {
                reason += "; caddy rejects the current file too, so the cause is not harden's edit (check the environment caddy runs with)";
            }
            return Err(ApplyError::Invalid { path: host_path, reason });
        }
    } else {
        done.notes.push("caddy is not installed here: the edited file was not validated by caddy".into());
    }
    let old = sys.read(&w.path)?.unwrap_or_default();
    let backup = sys.backup(&[w.path.as_str()], stamp)?;
    done.backup = Some(sys.path(&backup).display().to_string());
    sys.write_atomic(&w.path, w.content.as_bytes(), w.mode)?;
    let how = how(sys, a);
    if let How::Skip(why) = &how {
        done.notes.push(why.clone());
        return Ok(done);
    }
    if let Err(reason) = reload(sys, &how, &host_path) {
        // A failed restore must not hide the failed reload, nor where the old file is kept.
        let restore = match sys.write_atomic(&w.path, &old, w.mode) {
            Err(e) => format!(
                "restoring the previous {host_path} failed too ({e}); it is kept in {}",
                done.backup.as_deref().unwrap_or("the backup")
            ),
            Ok(()) => match reload(sys, &how, &host_path) {
                Ok(()) => format!("the previous {host_path} was restored and reloaded"),
                Err(e) => format!("the previous {host_path} was restored, but reloading it failed too: {e}"),
            },
        };
        return Err(ApplyError::ReloadFailed { path: host_path, reason, restore });
    }
    done.reloaded = true;
    done.notes.push(match how {
        How::Api(addr) => format!("caddy reloaded through its admin API at {addr}"),
        _ => "caddy reloaded with systemctl reload caddy".into(),
    });
    Ok(done)
}
