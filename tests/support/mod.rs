//! Test helpers: temp roots with copies of ufw's files, and private
//! network+mount namespaces in which the real ufw and harden run.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn harden_bin() -> &'static str {
    env!("CARGO_BIN_EXE_harden")
}

pub fn project() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A temp root holding copies of the host's pristine ufw configuration.
pub struct Root {
    pub dir: tempfile::TempDir,
}

impl Root {
    /// None (with a SKIP line) when ufw is not installed on this machine.
    pub fn new() -> Option<Root> {
        if !Path::new("/etc/ufw/ufw.conf").exists() {
            eprintln!("SKIP: ufw is not installed (/etc/ufw missing); .ci/run installs it");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let r = Root { dir };
        r.sh(&format!(
            "mkdir -p {0}/etc/default {0}/etc/ssh && cp -a /etc/ufw {0}/etc/ && cp /etc/default/ufw {0}/etc/default/ && cp /etc/services {0}/etc/",
            r.path().display()
        ));
        Some(r)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, p: &str) -> PathBuf {
        self.path().join(p.trim_start_matches('/'))
    }

    pub fn read(&self, p: &str) -> String {
        std::fs::read_to_string(self.file(p)).unwrap()
    }

    pub fn write(&self, p: &str, text: &str) {
        let f = self.file(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, text).unwrap();
    }

    fn sh(&self, script: &str) {
        let st = Command::new("sh").arg("-c").arg(script).status().unwrap();
        assert!(st.success(), "{script}");
    }

    /// Run harden with `--root` this root.
    pub fn harden(&self, args: &[&str]) -> Run {
        let mut a = vec!["--root".to_string(), self.path().display().to_string()];
        a.extend(args.iter().map(|s| s.to_string()));
        let out =
            Command::new(harden_bin()).args(&a).env("NO_COLOR", "1").env_remove("SSH_CONNECTION").output().unwrap();
        Run::from(out)
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<std::process::Output> for Run {
    fn from(o: std::process::Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into(),
            stderr: String::from_utf8_lossy(&o.stderr).into(),
        }
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

/// A private network + mount namespace whose /etc/ufw, /etc/default,
/// /var/backups and /run are this test's own copies: the real ufw and
/// iptables run there without touching the host.
pub struct Ns {
    pub dir: tempfile::TempDir,
}

impl Ns {
    pub fn new() -> Option<Ns> {
        if !nix_is_root() {
            eprintln!("SKIP: namespace tests need root");
            return None;
        }
        if !Path::new("/usr/sbin/ufw").exists() {
            eprintln!("SKIP: ufw is not installed; .ci/run installs it");
            return None;
        }
        let probe = Command::new("unshare").args(["--net", "--mount", "true"]).status();
        if !probe.map(|s| s.success()).unwrap_or(false) {
            eprintln!("SKIP: cannot create network+mount namespaces here (unshare --net --mount failed)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let st = Command::new("sh")
            .arg("-c")
            .arg(format!("cp -a /etc/ufw {d}/ufw && cp -a /etc/default {d}/default && mkdir -p {d}/backups {d}/work"))
            .status()
            .unwrap();
        assert!(st.success());
        Some(Ns { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Write a file into the test's work directory (visible as $W in scripts).
    pub fn put(&self, name: &str, text: &str) -> String {
        let p = self.path().join("work").join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }

    /// Run a bash script inside a fresh namespace over this test's files.
    /// `$H` is the harden binary, `$W` the work dir, `$P` the project.
    pub fn run(&self, script: &str) -> Run {
        let d = self.path().display().to_string();
        let wrapper = format!(
            "set -e; mount --bind {d}/ufw /etc/ufw; mount --bind {d}/default /etc/default; mount --bind {d}/backups /var/backups; \
             mount -t tmpfs tmpfs /run; mount -t tmpfs tmpfs /var/log; ip link set lo up; set +e; export LC_ALL=C NO_COLOR=1 H={h} W={d}/work P={p}; unset SSH_CONNECTION\n{script}",
            h = harden_bin(),
            p = project().display()
        );
        let out = Command::new("unshare")
            .args(["--net", "--mount", "--propagation", "private", "bash", "-c", &wrapper])
            .output()
            .unwrap();
        Run::from(out)
    }
}

fn nix_is_root() -> bool {
    // SAFETY-free check through the environment of the process.
    std::fs::read_to_string("/proc/self/status")
        .map(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

/// Sections of a script's output delimited by lines `=== NAME`.
pub fn sections(out: &str) -> std::collections::HashMap<String, String> {
    let mut m = std::collections::HashMap::new();
    let mut cur = String::from("_");
    for line in out.lines() {
        if let Some(n) = line.strip_prefix("=== ") {
            cur = n.trim().to_string();
            m.entry(cur.clone()).or_insert_with(String::new);
            continue;
        }
        let e = m.entry(cur.clone()).or_insert_with(String::new);
        e.push_str(line);
        e.push('\n');
    }
    m
}
