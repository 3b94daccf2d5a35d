//! Read ufw's state from its files under the root; no ufw binary needed.
use super::apps::Apps;
use super::config::SettingsFile;
use super::ports::Services;
use super::rulesfile::{self, RulesFile};
use super::{LogLevel, Policy};
use crate::system::{SysError, System};

pub const USER_RULES: &str = "/etc/ufw/user.rules";
pub const USER6_RULES: &str = "/etc/ufw/user6.rules";
pub const UFW_CONF: &str = "/etc/ufw/ufw.conf";
pub const DEFAULTS: &str = "/etc/default/ufw";
pub const APPS_DIR: &str = "/etc/ufw/applications.d";

#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    #[error(transparent)]
    Sys(#[from] SysError),
    #[error("{path}{}: {source}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Rules { path: String, line: Option<usize>, source: rulesfile::RulesFileError },
    #[error("{path}:{line}: {message}")]
    Setting { path: String, line: usize, message: String },
}

/// Everything harden knows about the firewall before planning.
#[derive(Debug, Clone)]
pub struct Observed {
    /// ufw's configuration exists under the root.
    pub installed: bool,
    pub v4: RulesFile,
    pub v6: RulesFile,
    pub v4_text: String,
    pub v6_text: String,
    pub conf: SettingsFile,
    pub defaults: SettingsFile,
    pub enabled: bool,
    pub loglevel: Option<LogLevel>,
    pub input: Option<Policy>,
    pub output: Option<Policy>,
    pub forward: Option<Policy>,
    /// IPV6=yes (and the kernel has IPv6 when live).
    pub ipv6: bool,
    pub services: Services,
    pub apps: Apps,
    pub limit4: bool,
    pub limit6: bool,
    /// The installed ufw's version, from /usr/sbin/ufw (no process needed).
    pub version: Option<String>,
}

/// ufw versions whose file format harden writes: 0.36.2 by differential test
/// against the CLI (Debian 12, Ubuntu 24.04); 0.36.1 (Ubuntu 22.04) by source
/// comparison: its writer is the same, but it has no `vrrp` protocol.
pub const VERIFIED_VERSIONS: [&str; 2] = ["0.36.2", "0.36.1"];

fn ufw_version(sys: &System) -> Result<Option<String>, SysError> {
    if let Some(text) = sys.read_text("/usr/sbin/ufw")? {
        for line in text.lines().take(80) {
            if let Some(v) = line.trim().strip_prefix("version = ") {
                return Ok(Some(v.trim_matches(['"', '\'']).to_string()));
            }
        }
    }
    // The Python package's metadata directory names the version too.
    for dir in ["/usr/lib/python3/dist-packages", "/usr/lib/python3/site-packages"] {
        if let Ok(rd) = std::fs::read_dir(sys.path(dir)) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if let Some(v) =
                    n.strip_prefix("ufw-").and_then(|r| r.strip_suffix(".egg-info").or(r.strip_suffix(".dist-info")))
                {
                    return Ok(Some(v.to_string()));
                }
            }
        }
    }
    Ok(None)
}

fn root_path(sys: &System, p: &str) -> String {
    sys.path(p).display().to_string()
}

/// Whether the running kernel can do `-m recent` (ufw's limit chains).
fn kernel_has_recent(sys: &System) -> bool {
    if sys.exists("/sys/module/xt_recent") {
        return true;
    }
    let rel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let rel = rel.trim();
    let base = format!("/lib/modules/{rel}");
    let builtin = std::fs::read_to_string(format!("{base}/modules.builtin")).unwrap_or_default();
    let dep = std::fs::read_to_string(format!("{base}/modules.dep")).unwrap_or_default();
    builtin.contains("xt_recent.ko") || dep.contains("xt_recent.ko")
}

pub fn observe(sys: &System) -> Result<Observed, ObserveError> {
    let services = Services::parse(&sys.read_text("/etc/services")?.unwrap_or_default());
    let conf_text = sys.read_text(UFW_CONF)?;
    // On the running machine ufw is installed when its program is there too
    // (`apt remove` leaves the configuration behind).
    let installed = conf_text.is_some() && (!sys.is_live() || sys.exists("/usr/sbin/ufw"));
    let conf = SettingsFile::parse(&conf_text.unwrap_or_default());
    let defaults = SettingsFile::parse(&sys.read_text(DEFAULTS)?.unwrap_or_default());
    let v4_text = sys.read_text(USER_RULES)?.unwrap_or_default();
    let v6_text = sys.read_text(USER6_RULES)?.unwrap_or_default();
    let parse = |text: &str, v6: bool, path: &str| -> Result<RulesFile, ObserveError> {
        if text.is_empty() && !installed {
            return Ok(RulesFile::default());
        }
        if text.is_empty() && !sys.exists(path) {
            return Err(ObserveError::Rules {
                path: root_path(sys, path),
                line: None,
                source: rulesfile::RulesFileError::Missing,
            });
        }
        rulesfile::parse(text, v6, &services).map_err(|source| ObserveError::Rules {
            path: root_path(sys, path),
            line: source.line(),
            source,
        })
    };
    let v4 = parse(&v4_text, false, USER_RULES)?;
    let ipv6 = defaults.get("ipv6").as_deref() == Some("yes");
    // ufw reads user6.rules only when IPv6 is on; otherwise its rules are
    // dormant, but planning a switch to IPv6 needs them.
    let v6 =
        if ipv6 { parse(&v6_text, true, USER6_RULES)? } else { parse(&v6_text, true, USER6_RULES).unwrap_or_default() };
    let policy = |key: &str| -> Result<Option<Policy>, ObserveError> {
        match defaults.get(key) {
            None => Ok(None),
            Some(v) => Policy::from_ufw(&v).map(Some).ok_or_else(|| ObserveError::Setting {
                path: root_path(sys, DEFAULTS),
                line: defaults.line_of(key).unwrap_or(0),
                message: format!(
                    "{key} has the invalid value {}: use \"ACCEPT\", \"DROP\" or \"REJECT\"",
                    defaults.get_raw(key).unwrap_or("")
                ),
            }),
        }
    };
    let input = policy("DEFAULT_INPUT_POLICY")?;
    let output = policy("DEFAULT_OUTPUT_POLICY")?;
    let forward = policy("DEFAULT_FORWARD_POLICY")?;
    let apps = Apps::parse(sys.read_dir_texts(APPS_DIR)?, &services);
    let (limit4, limit6) = if sys.is_live() {
        let k = kernel_has_recent(sys);
        (k, k && ipv6)
    } else {
        // A file ufw never wrote says nothing about the kernel: assume xt_recent.
        (v4.declares_limit || !v4.written_by_ufw, ipv6 && (v6.declares_limit || !v6.written_by_ufw))
    };
    let version = ufw_version(sys)?;
    Ok(Observed {
        version,
        installed,
        enabled: conf.get("enabled").as_deref() == Some("yes"),
        loglevel: conf.get("loglevel").and_then(|l| LogLevel::parse(&l)),
        conf,
        defaults,
        input,
        output,
        forward,
        ipv6,
        services,
        apps,
        limit4,
        limit6,
        v4,
        v6,
        v4_text,
        v6_text,
    })
}
