//! Carry out a Caddy plan: let caddy validate all new files together before anything is
//! replaced, keep a copy of the old ones, write each atomically, reload once, and put all old
//! files back (and reload them) when the reload fails.
use super::files::{closure, Candidate};
use super::plan::CaddyActions;
use super::spec::Reload;
use crate::plan::FileWrite;
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
    #[error("writing {path} failed: {reason}; {restored}")]
    WriteFailed { path: String, reason: String, restored: String },
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

fn run_ok(sys: &System, prog: &str, args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    let out = sys.run_env(prog, args, env, None).map_err(|e| e.to_string())?;
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
            let home = super::version::ScratchHome::new();
            let args = ["reload", "--config", config, "--adapter", "caddyfile", "--address", addr];
            run_ok(sys, "caddy", &args, &home.env())
        }
        How::Systemd => run_ok(sys, "systemctl", &["reload", "caddy"], &[]),
        How::Skip(_) => Ok(()),
    }
}

/// Writes the planned files one by one; when file k fails, files 0..k get their old contents
/// back. Returns the error and what the restore said.
fn write_all(sys: &System, a: &CaddyActions, old: &[Vec<u8>]) -> Result<(), ApplyError> {
    for (k, w) in a.writes.iter().enumerate() {
        let result = match std::env::var("HARDEN_TEST_FAIL_CADDY_WRITE") {
            // Test seam: a write that fails between files (root ignores read-only modes).
            Ok(p) if p == w.path => {
                Err(SysError::Write { path: sys.path(&w.path), source: std::io::Error::other("test seam") })
            }
            _ => sys.write_atomic(&w.path, w.content.as_bytes(), w.mode),
        };
        if let Err(e) = result {
            let restored = restore(sys, &a.writes[..k], old).unwrap_or_else(|e| e);
            return Err(ApplyError::WriteFailed {
                path: sys.path(&w.path).display().to_string(),
                reason: e.to_string(),
                restored,
            });
        }
    }
    Ok(())
}

/// Puts back the old contents of `writes`: what was restored, or what could not be.
fn restore(sys: &System, writes: &[FileWrite], old: &[Vec<u8>]) -> Result<String, String> {
    let failed: Vec<String> = writes
        .iter()
        .zip(old)
        .filter_map(|(w, o)| sys.write_atomic(&w.path, o, w.mode).err().map(|e| e.to_string()))
        .collect();
    let what = match writes {
        [w] => format!("the previous {}", sys.path(&w.path).display()),
        _ => format!("the previous contents of the {} file(s) written", writes.len()),
    };
    match (writes.len(), failed.is_empty()) {
        (0, _) => Ok("no file had been written".into()),
        (1, true) => Ok(format!("{what} was restored")),
        (_, true) => Ok(format!("{what} were restored")),
        (_, false) => Err(format!("restoring {what} failed too ({})", failed.join("; "))),
    }
}

/// `caddy validate` of a candidate tree, with caddy's home inside the tree: validating a
/// `tls internal` site creates a local CA under `$HOME`/`$XDG_DATA_HOME`, which would otherwise
/// be left in the caller's home (root's, on a live host) after the tree is gone.
fn validate_tree(sys: &System, cand: &Candidate) -> Result<(), String> {
    let env = cand.caddy_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    run_ok(sys, "caddy", &["validate", "--config", &cand.config, "--adapter", "caddyfile"], &env)
}

/// `caddy validate` of all the new contents together (see [`Candidate`] for the layout).
fn validate(sys: &System, a: &CaddyActions, files: &[String]) -> Result<(), ApplyError> {
    let host_path = sys.path(&a.caddyfile).display().to_string();
    let cand = Candidate::write(sys, &a.caddyfile, files, &a.writes)?;
    let checked = validate_tree(sys, &cand);
    cand.remove();
    let Err(reason) = checked else { return Ok(()) };
    let mut reason = cand.real_names(sys, &reason);
    // Tell an edit caddy rejects from a file it rejects anyway (say, an environment variable
    // the service has and harden's shell does not). The current files are checked through an
    // unedited candidate tree, so that absolute imports stay inside the root.
    let current = Candidate::write(sys, &a.caddyfile, files, &[])?;
    let now = validate_tree(sys, &current);
    current.remove();
    if now.is_err() {
        reason += "; caddy rejects the current file too, so the cause is not harden's edit (check the environment caddy runs with)";
    }
    Err(ApplyError::Invalid { path: host_path, reason })
}

pub fn apply(sys: &System, a: &CaddyActions, stamp: &str) -> Result<Applied, ApplyError> {
    if let Some(b) = &a.blocked {
        return Err(ApplyError::Refused(format!("{b}; nothing was changed")));
    }
    let mut done = Applied::default();
    if a.writes.is_empty() {
        return Ok(done);
    }
    let host_path = sys.path(&a.caddyfile).display().to_string();
    // A plan may write the Caddyfile and the files it imports, nothing else.
    let files = closure(sys, &a.caddyfile).map_err(|e| ApplyError::Refused(format!("{e}; nothing was changed")))?;
    for w in &a.writes {
        if !files.contains(&w.path) {
            return Err(ApplyError::Refused(format!(
                "the plan writes {}, which is neither {} nor a file it imports; refused",
                w.path, a.caddyfile
            )));
        }
    }
    for w in &a.writes {
        let now = sys.hash_now(&w.path)?;
        if now != w.base_sha256 {
            let path = sys.path(&w.path).display().to_string();
            return Err(ApplyError::Stale { path, now, then: w.base_sha256.clone() });
        }
    }
    if sys.has_program("caddy") {
        validate(sys, a, &files)?;
    } else {
        done.notes.push("caddy is not installed here: the edited files were not validated by caddy".into());
    }
    let mut old = Vec::new();
    for w in &a.writes {
        old.push(sys.read(&w.path)?.unwrap_or_default());
    }
    let paths: Vec<&str> = a.writes.iter().map(|w| w.path.as_str()).collect();
    let backup = sys.backup(&paths, stamp)?;
    done.backup = Some(sys.path(&backup).display().to_string());
    write_all(sys, a, &old)?;
    let how = how(sys, a);
    if let How::Skip(why) = &how {
        done.notes.push(why.clone());
        return Ok(done);
    }
    if let Err(reason) = reload(sys, &how, &host_path) {
        // All files go back, then caddy loads them once more. A failed restore must not hide
        // the failed reload, nor where the old files are kept.
        let restore = match restore(sys, &a.writes, &old) {
            Err(e) => format!("{e}; it is kept in {}", done.backup.as_deref().unwrap_or("the backup")),
            Ok(restored) => match reload(sys, &how, &host_path) {
                Ok(()) => format!("{restored} and reloaded"),
                Err(e) => {
                    format!("{restored}, but reloading {} failed too: {e}", if old.len() == 1 { "it" } else { "them" })
                }
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
