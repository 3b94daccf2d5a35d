//! A fake host for the backup tests: a temp dir used as `--root`, with
//! /etc/passwd and /etc/group, files written with modes, and the harden binary.
#![allow(dead_code)]
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

pub const PG_UID: u32 = 4101;

pub struct Host {
    dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub out: String,
}

impl Host {
    pub fn new() -> Host {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let h = Host { dir };
        h.write(
            "/etc/passwd",
            &format!("root:x:0:0::/root:/bin/sh\npostgres:x:{PG_UID}:{PG_UID}::/var/lib/postgresql:/bin/sh\n"),
            0o644,
        );
        h.write("/etc/group", &format!("root:x:0:\npostgres:x:{PG_UID}:\n"), 0o644);
        h
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn host(&self, p: &str) -> std::path::PathBuf {
        self.root().join(p.trim_start_matches('/'))
    }

    pub fn write(&self, p: &str, text: &str, mode: u32) {
        let f = self.host(p);
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        for d in f.ancestors().skip(1).take_while(|d| d.starts_with(self.root()) && *d != self.root()) {
            fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
        }
        fs::write(&f, text).unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(mode)).unwrap();
    }

    pub fn mode(&self, p: &str) -> (u32, u32) {
        let m = fs::metadata(self.host(p)).unwrap();
        (m.mode() & 0o7777, m.uid())
    }

    pub fn read(&self, p: &str) -> String {
        fs::read_to_string(self.host(p)).unwrap()
    }

    pub fn harden(&self, args: &[&str]) -> Run {
        let out = Command::new(env!("CARGO_BIN_EXE_harden"))
            .arg("--root")
            .arg(self.root())
            .args(args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            out: format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        }
    }

    pub fn profile(&self, text: &str) -> String {
        let p = self.root().join("profile.toml");
        fs::write(&p, text).unwrap();
        p.display().to_string()
    }

    /// Every file under the root with its content hash, mode and owner.
    pub fn snapshot(&self) -> BTreeMap<String, (String, u32, u32)> {
        let mut out = BTreeMap::new();
        let mut todo = vec![self.root().to_path_buf()];
        while let Some(d) = todo.pop() {
            for e in fs::read_dir(&d).unwrap().flatten() {
                let m = e.metadata().unwrap();
                if m.is_dir() {
                    todo.push(e.path());
                } else if !e.path().ends_with("run/harden.lock") {
                    // the lock is harden's own, not a file of the host's configuration
                    let data = fs::read(e.path()).unwrap_or_default();
                    out.insert(e.path().display().to_string(), (harden::system::sha256_hex(&data), m.mode(), m.uid()));
                }
            }
        }
        out
    }
}

pub fn is_root() -> bool {
    nix::unistd::getuid().is_root()
}
