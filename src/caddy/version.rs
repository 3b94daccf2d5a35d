//! Which Caddy version the Caddyfile is checked against: the profile's `version`, else the
//! installed binary's, read once and cached (on the live root) by the binary's path and mtime
//! so that a plan does not spawn `caddy version` every time.
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use crate::system::System;

/// Where the cached answer lives, under the root like every other file harden writes.
pub const CACHE: &str = "/var/cache/harden/caddy-version";

/// `(major, minor, patch)` from `2.6.2`, `v2.7.6 h1:...` or `v2.8.0-beta.1`.
pub fn parse(s: &str) -> Option<(u32, u32, u32)> {
    let word = s.split_whitespace().next()?;
    let word = word.strip_prefix('v').unwrap_or(word);
    let core = word.split(['-', '+']).next()?;
    let mut parts = core.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch = parts.next().map_or(Some(0), |p| p.parse().ok())?;
    Some((major, minor, patch))
}

/// The caddy binary on the search path harden's runner uses.
fn binary() -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    format!("{path}:/usr/local/bin:/usr/bin:/bin")
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| PathBuf::from(d).join("caddy"))
        .find(|p| p.is_file())
}

/// The installed caddy's version, or None when caddy is not installed (or says nothing usable).
///
/// The cache is used only on the live root: under `--root` plan must not write into the
/// root's /var/cache (plan is read-only), so caddy is asked each time there. It is read
/// without recording, so a saved plan is never stale because of harden's own cache.
/// A private, throw-away HOME for a caddy command that is not `validate` (which gets one in its
/// candidate tree): every caddy run creates `$HOME/.step` and may create `$HOME/.local/share/caddy`,
/// and harden must leave no trace in the caller's home. Dropping the guard removes it.
pub struct ScratchHome {
    _dir: Option<tempfile::TempDir>,
    env: Vec<(&'static str, String)>,
}

impl ScratchHome {
    pub fn new() -> ScratchHome {
        let dir = tempfile::Builder::new().prefix("harden-caddy-").tempdir().ok();
        let env = dir.as_ref().map(|d| home_env(&d.path().display().to_string())).unwrap_or_default();
        ScratchHome { _dir: dir, env }
    }

    pub fn env(&self) -> Vec<(&str, &str)> {
        self.env.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }
}

/// The environment that makes caddy keep all its state (`.step`, a `tls internal` CA, config)
/// under `home`.
pub fn home_env(home: &str) -> Vec<(&'static str, String)> {
    vec![
        ("XDG_DATA_HOME", format!("{home}/data")),
        ("XDG_CONFIG_HOME", format!("{home}/config")),
        ("STEPPATH", format!("{home}/step")),
        ("HOME", home.to_string()),
    ]
}

impl Default for ScratchHome {
    fn default() -> Self {
        ScratchHome::new()
    }
}

pub fn installed(sys: &System) -> Option<(u32, u32, u32)> {
    let bin = binary()?;
    let mtime = std::fs::metadata(&bin).ok()?.mtime();
    let key = format!("{}\t{mtime}\t", bin.display());
    let live = sys.is_live();
    if live {
        if let Ok(Some(cached)) = sys.read_text_unrecorded(CACHE) {
            if let Some(v) = cached.strip_prefix(&key).and_then(|rest| parse(rest.trim())) {
                return Some(v);
            }
        }
    }
    let out = {
        let home = ScratchHome::new();
        sys.run_env(&bin.to_string_lossy(), &["version"], &home.env(), None).ok()?
    };
    let v = parse(&out.stdout)?;
    if live {
        // A cache that cannot be written only costs a spawn next time.
        let _ = sys.write_atomic(CACHE, format!("{key}{}\n", out.stdout.trim()).as_bytes(), 0o644);
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_caddy_version_output() {
        assert_eq!(super::parse("2.6.2"), Some((2, 6, 2)));
        assert_eq!(super::parse("v2.7.6 h1:w0NymbG2m9PcvKWsrXO6EEkY9Ru4FJK8uQbYcev1p3A=\n"), Some((2, 7, 6)));
        assert_eq!(super::parse("v2.8.0-beta.1"), Some((2, 8, 0)));
        assert_eq!(super::parse("caddy"), None);
    }
}
