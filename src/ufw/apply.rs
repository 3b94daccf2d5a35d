//! Carry out a firewall plan: back up, write atomically, load once, and
//! put the old files back (and load them) if loading fails.
use super::observe::{USER6_RULES, USER_RULES};
use super::plan::{FirewallActions, LoadStep};
use super::Policy;
use crate::system::{SysError, System};

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{0}")]
    Refused(String),
    #[error("{path} changed since the plan was made (sha256 {now}, plan had {then}); plan again")]
    Stale { path: String, now: String, then: String },
    #[error(transparent)]
    Sys(#[from] SysError),
    #[error("loading the new rules failed: {reason}; the previous files were restored{restored}")]
    LoadFailed { reason: String, restored: String },
}

/// What apply did, for the report.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Applied {
    pub written: Vec<String>,
    pub loaded: Vec<String>,
    pub backup: Option<String>,
    pub notes: Vec<String>,
}

/// The restore input that sets ufw's policy chains and the built-in
/// policies the way ufw-init's start does, without flushing anything else.
pub fn policy_restore(v6: bool, input: Policy, output: Policy, forward: Policy) -> String {
    let t = if v6 { "6" } else { "" };
    let builtin = |p: Policy| {
        if p == Policy::Reject {
            "DROP"
        } else {
            p.target()
        }
    };
    let mut s = String::from("*filter\n");
    s += &format!(
        ":INPUT {} [0:0]\n:FORWARD {} [0:0]\n:OUTPUT {} [0:0]\n",
        builtin(input),
        builtin(forward),
        builtin(output)
    );
    for dir in ["input", "output", "forward"] {
        s += &format!(
            ":ufw{t}-reject-{dir} - [0:0]\n:ufw{t}-track-{dir} - [0:0]\n:ufw{t}-skip-to-policy-{dir} - [0:0]\n"
        );
    }
    for (dir, p) in [("input", input), ("output", output), ("forward", forward)] {
        if p == Policy::Reject {
            s += &format!("-A ufw{t}-reject-{dir} -j REJECT\n");
        }
        if p == Policy::Allow {
            s += &format!("-A ufw{t}-track-{dir} -p tcp -m conntrack --ctstate NEW -j ACCEPT\n");
            s += &format!("-A ufw{t}-track-{dir} -p udp -m conntrack --ctstate NEW -j ACCEPT\n");
        }
        s += &format!("-A ufw{t}-skip-to-policy-{dir} -j {}\n", p.target());
    }
    s += "COMMIT\n";
    s
}

/// ufw's own lock (/run/ufw.lock, a POSIX record lock as Python's lockf
/// takes it): held around harden's read-check-write so that ufw and
/// fail2ban wait for us, as they wait for each other.
pub struct UfwLock {
    _file: std::fs::File,
}

pub fn ufw_lock(sys: &System) -> Result<UfwLock, SysError> {
    use std::os::fd::AsRawFd;
    let path = sys.path("/run/ufw.lock");
    let werr = |source| SysError::Write { path: path.clone(), source };
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(werr)?;
    }
    let file = std::fs::OpenOptions::new().write(true).create(true).truncate(false).open(&path).map_err(werr)?;
    let fl = nix::libc::flock {
        l_type: nix::libc::F_WRLCK as i16,
        l_whence: nix::libc::SEEK_SET as i16,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    // SAFETY: fcntl with F_SETLKW on an open descriptor and a valid flock struct.
    let rc = unsafe { nix::libc::fcntl(file.as_raw_fd(), nix::libc::F_SETLKW, &fl) };
    if rc != 0 {
        return Err(werr(std::io::Error::last_os_error()));
    }
    Ok(UfwLock { _file: file })
}

fn run_ok(sys: &System, prog: &str, args: &[&str], stdin: Option<&[u8]>) -> Result<(), String> {
    let out = sys.run(prog, args, stdin).map_err(|e| e.to_string())?;
    if out.ok() {
        Ok(())
    } else {
        Err(format!("{prog} {} exited {}: {}{}", args.join(" "), out.status, out.stderr.trim(), out.stdout.trim()))
    }
}

fn restore_rules(sys: &System, ipv6: bool) -> Result<(), String> {
    for (path, prog, on) in [(USER_RULES, "iptables-restore", true), (USER6_RULES, "ip6tables-restore", ipv6)] {
        if !on {
            continue;
        }
        let data = sys.read(path).map_err(|e| e.to_string())?.unwrap_or_default();
        run_ok(sys, prog, &["-n"], Some(&data))?;
    }
    Ok(())
}

fn load(sys: &System, a: &FirewallActions, steps: &[LoadStep], done: &mut Vec<String>) -> Result<(), String> {
    for step in steps {
        match step {
            LoadStep::Enable => run_ok(sys, "ufw", &["--force", "enable"], None)?,
            LoadStep::Disable => run_ok(sys, "ufw", &["disable"], None)?,
            LoadStep::Policies => {
                run_ok(
                    sys,
                    "iptables-restore",
                    &["-n"],
                    Some(policy_restore(false, a.input, a.output, a.forward).as_bytes()),
                )?;
                if a.ipv6 {
                    run_ok(
                        sys,
                        "ip6tables-restore",
                        &["-n"],
                        Some(policy_restore(true, a.input, a.output, a.forward).as_bytes()),
                    )?;
                }
            }
            LoadStep::RestoreRules => restore_rules(sys, a.ipv6)?,
            LoadStep::Reload => run_ok(sys, "ufw", &["reload"], None)?,
            LoadStep::RestoreBeforeAfter => {
                for (v6, on) in [(false, true), (true, a.ipv6)] {
                    if !on {
                        continue;
                    }
                    let t = if v6 { "6" } else { "" };
                    let read = |p: &str| sys.read_text(p).map_err(|e| e.to_string()).map(Option::unwrap_or_default);
                    let stream = super::kernel::before_after_stream(
                        v6,
                        &read(&format!("/etc/ufw/before{t}.rules"))?,
                        &read(&format!("/etc/ufw/after{t}.rules"))?,
                    );
                    let prog = if v6 { "ip6tables-restore" } else { "iptables-restore" };
                    run_ok(sys, prog, &["-n"], Some(stream.as_bytes()))?;
                }
            }
            LoadStep::DeleteExtra => {
                for (v6, line) in &a.kernel_deletes {
                    // An extra rule is deleted; a missing jump comes as its -I line.
                    let stream = match line.strip_prefix("-A ") {
                        Some(rule) => format!("*filter\n-D {rule}\nCOMMIT\n"),
                        None => format!("*filter\n{line}\nCOMMIT\n"),
                    };
                    let prog = if *v6 { "ip6tables-restore" } else { "iptables-restore" };
                    run_ok(sys, prog, &["-n"], Some(stream.as_bytes()))?;
                }
            }
        }
        done.push(format!("{step:?}"));
    }
    Ok(())
}

/// Install ufw with the system's package manager (live root only).
pub fn install(sys: &System) -> Result<(), ApplyError> {
    if !sys.is_live() {
        return Err(ApplyError::Refused("harden never installs packages under a --root other than /".into()));
    }
    run_ok(sys, "env", &["DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q", "ufw"], None)
        .map_err(|e| ApplyError::Refused(format!("installing ufw failed: {e}")))
}

pub struct Options {
    pub allow_lockout: bool,
    pub force: bool,
}

/// The policies the (restored) /etc/default/ufw names.
fn old_policies(sys: &System) -> Result<(Policy, Policy, Policy, bool), String> {
    let text = sys.read_text(super::observe::DEFAULTS).map_err(|e| e.to_string())?.unwrap_or_default();
    let d = super::config::SettingsFile::parse(&text);
    let p = |k: &str, dflt: Policy| d.get(k).and_then(|v| Policy::from_ufw(&v)).unwrap_or(dflt);
    Ok((
        p("DEFAULT_INPUT_POLICY", Policy::Deny),
        p("DEFAULT_OUTPUT_POLICY", Policy::Allow),
        p("DEFAULT_FORWARD_POLICY", Policy::Deny),
        d.get("IPV6").as_deref() == Some("yes"),
    ))
}

fn restore_files(sys: &System, paths: &[&str], old: &[Option<Vec<u8>>]) -> Result<(), SysError> {
    for (p, data) in paths.iter().zip(old) {
        if let Some(d) = data {
            if sys.hash_now(p)? != crate::system::sha256_hex(d) {
                sys.write_atomic(p, d, 0o640)?;
            }
        }
    }
    Ok(())
}

pub fn apply(sys: &System, a: &FirewallActions, opts: &Options, stamp: &str) -> Result<Applied, ApplyError> {
    let allow_lockout = opts.allow_lockout;
    if let Some(b) = &a.blocked {
        return Err(ApplyError::Refused(b.clone()));
    }
    if let (Some(v), false) = (&a.unverified_version, opts.force) {
        return Err(ApplyError::Refused(format!(
            "ufw {v} is installed, but harden writes only the file formats of ufw {} (verified); nothing was changed. Use --force to write anyway.",
            super::observe::VERIFIED_VERSIONS.join(" and ")
        )));
    }
    if let (Some(l), false) = (&a.lockout, allow_lockout) {
        return Err(ApplyError::Refused(format!(
            "lockout guard: {l}. Nothing was changed. Re-run with --allow-lockout if this is intended."
        )));
    }
    // Only ufw's own four files, whatever a plan says.
    for w in &a.writes {
        if ![super::observe::USER_RULES, USER6_RULES, super::observe::UFW_CONF, super::observe::DEFAULTS]
            .contains(&w.path.as_str())
        {
            return Err(ApplyError::Refused(format!(
                "the plan writes {}, which is not one of ufw's files; refused",
                w.path
            )));
        }
    }
    let mut done = Applied::default();
    if a.writes.is_empty() && a.load.is_empty() {
        return Ok(done);
    }
    if let Ok(ms) = std::env::var("HARDEN_TEST_PAUSE_BEFORE_WRITE_MS") {
        // Test seam: lets a test run another writer between plan and write.
        std::thread::sleep(std::time::Duration::from_millis(ms.parse().unwrap_or(0)));
    }
    let mut lock = Some(ufw_lock(sys)?);
    for w in &a.writes {
        let now = sys.hash_now(&w.path)?;
        if now != w.base_sha256 {
            return Err(ApplyError::Stale {
                path: sys.path(&w.path).display().to_string(),
                now,
                then: w.base_sha256.clone(),
            });
        }
    }
    let paths: Vec<&str> = a.writes.iter().map(|w| w.path.as_str()).collect();
    let old: Vec<Option<Vec<u8>>> = paths.iter().map(|p| sys.read(p)).collect::<Result<_, _>>()?;
    if !paths.is_empty() {
        let backup = sys.backup(&paths, stamp)?;
        done.backup = Some(sys.path(&backup).display().to_string());
    }
    for (i, w) in a.writes.iter().enumerate() {
        // Once more right before the rename, for writers that ignore the lock;
        // then undo only what harden itself wrote.
        let now = sys.hash_now(&w.path)?;
        if now != w.base_sha256 {
            restore_files(sys, &paths[..i], &old[..i])?;
            return Err(ApplyError::Stale {
                path: sys.path(&w.path).display().to_string(),
                now,
                then: w.base_sha256.clone(),
            });
        }
        if let Err(e) = sys.write_atomic(&w.path, w.content.as_bytes(), w.mode) {
            restore_files(sys, &paths[..i], &old[..i])?;
            return Err(e.into());
        }
        done.written.push(sys.path(&w.path).display().to_string());
    }
    // ufw itself takes the lock: release it before running ufw.
    if a.load.iter().any(|s| matches!(s, LoadStep::Enable | LoadStep::Disable | LoadStep::Reload)) {
        lock.take();
    }
    if !sys.is_live() {
        done.notes.push(format!(
            "files written under {}; nothing was loaded into the running kernel (--root is not /)",
            sys.root().display()
        ));
        return Ok(done);
    }
    if let Err(reason) = load(sys, a, &a.load, &mut done.loaded) {
        // Put the previous files back and load them.
        restore_files(sys, &paths, &old)?;
        let back = match a.load.first() {
            Some(LoadStep::Enable) => run_ok(sys, "ufw", &["disable"], None),
            Some(LoadStep::Disable) => run_ok(sys, "ufw", &["--force", "enable"], None),
            Some(LoadStep::Reload) => run_ok(sys, "ufw", &["reload"], None),
            _ if a.load.contains(&LoadStep::Policies) => old_policies(sys).and_then(|(i, o, f, v6)| {
                let mut r = run_ok(sys, "iptables-restore", &["-n"], Some(policy_restore(false, i, o, f).as_bytes()));
                if v6 && r.is_ok() {
                    r = run_ok(sys, "ip6tables-restore", &["-n"], Some(policy_restore(true, i, o, f).as_bytes()));
                }
                r.and_then(|_| restore_rules(sys, v6))
            }),
            _ => restore_rules(sys, a.ipv6),
        };
        let restored = match back {
            Ok(()) => " and loaded".to_string(),
            Err(e) => format!(", but loading them failed too: {e}"),
        };
        return Err(ApplyError::LoadFailed { reason, restored });
    }
    drop(lock);
    Ok(done)
}
