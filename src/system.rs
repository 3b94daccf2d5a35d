//! The one seam between harden and the machine: every file read and write
//! goes through here, rooted at `--root`, and so does every process spawn.
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum SysError {
    #[error("cannot read {path}: permission denied; run harden with sudo (these files are root-only)")]
    Permission { path: PathBuf },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot replace {path}: it is busy (a bind-mounted file cannot be renamed over); bind-mount its directory instead")]
    Busy { path: PathBuf },
    #[error("{path} is not UTF-8 text")]
    NotText { path: PathBuf },
    #[error("cannot run {program}: {source}")]
    Spawn { program: String, source: io::Error },
}

/// Output of a finished process.
#[derive(Debug, Clone)]
pub struct Output {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn ok(&self) -> bool {
        self.status == 0
    }
}

/// How processes are started; tests substitute a recorder to check decisions.
pub trait Runner {
    fn run(&self, program: &str, args: &[&str], stdin: Option<&[u8]>) -> Result<Output, SysError>;
    /// [`Runner::run`] with extra environment variables. Recorders that do not care about the
    /// environment get this default.
    fn run_env(
        &self,
        program: &str,
        args: &[&str],
        _env: &[(&str, &str)],
        stdin: Option<&[u8]>,
    ) -> Result<Output, SysError> {
        self.run(program, args, stdin)
    }
    /// Whether `program` can be found on PATH (or is an absolute path that exists).
    fn has(&self, program: &str) -> bool;
}

/// Runs real programs, always with LC_ALL=C (ufw's output is localized).
pub struct RealRunner;

fn search_path() -> String {
    let p = std::env::var("PATH").unwrap_or_default();
    format!("{p}:/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin")
}

impl Runner for RealRunner {
    fn run(&self, program: &str, args: &[&str], stdin: Option<&[u8]>) -> Result<Output, SysError> {
        self.run_env(program, args, &[], stdin)
    }

    fn run_env(
        &self,
        program: &str,
        args: &[&str],
        env: &[(&str, &str)],
        stdin: Option<&[u8]>,
    ) -> Result<Output, SysError> {
        tracing::debug!(program, ?args, ?env, "run");
        let mut cmd = Command::new(program);
        cmd.args(args)
            .envs(env.iter().copied())
            .env("LC_ALL", "C")
            .env("PATH", search_path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        let spawn_err = |source| SysError::Spawn { program: program.to_string(), source };
        let mut child = cmd.spawn().map_err(spawn_err)?;
        if let (Some(data), Some(mut si)) = (stdin, child.stdin.take()) {
            si.write_all(data).map_err(spawn_err)?;
        }
        let out = child.wait_with_output().map_err(spawn_err)?;
        Ok(Output {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    fn has(&self, program: &str) -> bool {
        if program.starts_with('/') {
            return Path::new(program).exists();
        }
        search_path().split(':').any(|d| !d.is_empty() && Path::new(d).join(program).is_file())
    }
}

/// The machine as harden sees it: a filesystem root and a process runner.
pub struct System {
    root: PathBuf,
    runner: Box<dyn Runner>,
    /// sha256 of every file read, by absolute (in-root) path; "" when absent.
    /// Kept only when asked for (saved plans), since hashing costs time.
    reads: RefCell<BTreeMap<String, String>>,
    record: bool,
    live: bool,
}

/// The names and `..` steps of a path, without root or `.`.
fn path_parts(p: &Path) -> Vec<std::ffi::OsString> {
    p.components()
        .filter_map(|c| match c {
            std::path::Component::Normal(n) => Some(n.to_os_string()),
            std::path::Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

/// Whether this process ends after one plan (plan, check, show), so a large value need not be
/// freed piece by piece: the exit gives the memory back at once.
static ONE_SHOT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn set_one_shot(on: bool) {
    ONE_SHOT.store(on, std::sync::atomic::Ordering::Relaxed);
}

pub fn one_shot() -> bool {
    ONE_SHOT.load(std::sync::atomic::Ordering::Relaxed)
}

pub fn sha256_hex(data: &[u8]) -> String {
    let d = Sha256::digest(data);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

impl System {
    pub fn new(root: impl Into<PathBuf>, runner: Box<dyn Runner>) -> System {
        let root: PathBuf = root.into();
        let live = root == Path::new("/");
        System { root, runner, reads: RefCell::new(BTreeMap::new()), record: false, live }
    }

    /// A system whose root is treated as the running machine: for tests of
    /// live-only decisions (install, loading) with a recording runner.
    pub fn pretend_live(root: impl Into<PathBuf>, runner: Box<dyn Runner>) -> System {
        let mut s = System::new(root, runner);
        s.live = true;
        s
    }

    pub fn real(root: impl Into<PathBuf>) -> System {
        // One name for one directory: saved plans compare roots.
        let root: PathBuf = root.into();
        let root = fs::canonicalize(&root).unwrap_or(root);
        System::new(root, Box::new(RealRunner))
    }

    /// Record the sha256 of every file read from now on.
    pub fn record_reads(&mut self) {
        self.record = true;
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The running kernel belongs to this root (only then may harden load rules).
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// The host path of an absolute in-root path. Under a --root other
    /// than /, symbolic links are followed inside the root (an absolute link
    /// target means the root's path, as it would on that machine), so that
    /// nothing outside the root is ever read or written.
    pub fn path(&self, p: &str) -> PathBuf {
        if self.root == Path::new("/") {
            return PathBuf::from("/").join(p.trim_start_matches('/'));
        }
        let mut out = self.root.clone();
        let mut todo: std::collections::VecDeque<std::ffi::OsString> = path_parts(Path::new(p)).into();
        let mut hops = 0;
        while let Some(c) = todo.pop_front() {
            if c == ".." {
                if out != self.root {
                    out.pop();
                }
                continue;
            }
            let next = out.join(&c);
            match fs::symlink_metadata(&next) {
                Ok(m) if m.file_type().is_symlink() && hops < 40 => {
                    hops += 1;
                    let Ok(target) = fs::read_link(&next) else {
                        out = next;
                        continue;
                    };
                    if target.is_absolute() {
                        out = self.root.clone();
                    }
                    let mut front = path_parts(&target);
                    front.extend(todo.drain(..));
                    todo = front.into();
                }
                _ => out = next,
            }
        }
        out
    }

    /// Read a file; Ok(None) when it does not exist.
    pub fn read(&self, p: &str) -> Result<Option<Vec<u8>>, SysError> {
        self.read_as(p, self.record)
    }

    /// Read a text file without recording it for saved plans: for harden's own caches, which
    /// say nothing about the machine and must not make a saved plan stale.
    pub fn read_text_unrecorded(&self, p: &str) -> Result<Option<String>, SysError> {
        self.text_of(p, self.read_as(p, false)?)
    }

    fn text_of(&self, p: &str, data: Option<Vec<u8>>) -> Result<Option<String>, SysError> {
        match data {
            None => Ok(None),
            Some(b) => String::from_utf8(b).map(Some).map_err(|_| SysError::NotText { path: self.path(p) }),
        }
    }

    fn read_as(&self, p: &str, record: bool) -> Result<Option<Vec<u8>>, SysError> {
        let path = self.path(p);
        match fs::read(&path) {
            Ok(data) => {
                if record {
                    self.reads.borrow_mut().insert(p.to_string(), sha256_hex(&data));
                }
                Ok(Some(data))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if record {
                    self.reads.borrow_mut().insert(p.to_string(), String::new());
                }
                Ok(None)
            }
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Err(SysError::Permission { path }),
            Err(source) => Err(SysError::Read { path, source }),
        }
    }

    pub fn read_text(&self, p: &str) -> Result<Option<String>, SysError> {
        self.text_of(p, self.read(p)?)
    }

    /// Names and texts of the regular files in a directory (empty if absent).
    pub fn read_dir_texts(&self, p: &str) -> Result<Vec<(String, String)>, SysError> {
        let mut out = Vec::new();
        for name in self.list_dir(p)?.unwrap_or_default() {
            let inner = format!("{}/{}", p.trim_end_matches('/'), name);
            if self.is_file(&inner) {
                if let Some(b) = self.read(&inner)? {
                    out.push((name, String::from_utf8_lossy(&b).into_owned()));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Names of the entries of an in-root directory, sorted; Ok(None) when it does not exist.
    /// Entries are not followed: ask `is_file`/`is_dir` with the joined in-root path, so a
    /// symlink among them resolves inside the root.
    pub fn list_dir(&self, p: &str) -> Result<Option<Vec<String>>, SysError> {
        let dir = self.path(p);
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return Err(SysError::Permission { path: dir }),
            Err(source) => return Err(SysError::Read { path: dir, source }),
        };
        let mut names: Vec<String> = entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        Ok(Some(names))
    }

    /// An in-root path is a regular file (symlinks followed inside the root).
    pub fn is_file(&self, p: &str) -> bool {
        self.path(p).is_file()
    }

    /// An in-root path is a directory (symlinks followed inside the root).
    pub fn is_dir(&self, p: &str) -> bool {
        self.path(p).is_dir()
    }

    pub fn exists(&self, p: &str) -> bool {
        self.path(p).exists()
    }

    /// Files read so far with their sha256 ("" for a file that was absent).
    pub fn reads(&self) -> BTreeMap<String, String> {
        self.reads.borrow().clone()
    }

    /// The current sha256 of an in-root file ("" when absent).
    pub fn hash_now(&self, p: &str) -> Result<String, SysError> {
        let path = self.path(p);
        match fs::read(&path) {
            Ok(d) => Ok(sha256_hex(&d)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
            Err(source) => Err(SysError::Read { path, source }),
        }
    }

    /// Replace a file atomically: temp file in the same directory, fsync,
    /// mode and owner of the old file, rename, fsync of the directory.
    pub fn write_atomic(&self, p: &str, data: &[u8], default_mode: u32) -> Result<(), SysError> {
        let path = self.path(p);
        let werr = |source| SysError::Write { path: path.clone(), source };
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/"));
        fs::create_dir_all(&dir).map_err(werr)?;
        let old = fs::metadata(&path).ok();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = dir.join(format!(".{name}.harden-{}", std::process::id()));
        let result = (|| -> io::Result<()> {
            let mut f = fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            f.write_all(data)?;
            let mode = old.as_ref().map(|m| m.mode() & 0o7777).unwrap_or(default_mode);
            f.set_permissions(fs::Permissions::from_mode(mode))?;
            if let Some(m) = &old {
                // Keep the owner; only root may change it, and then it matters.
                let _ = std::os::unix::fs::fchown(&f, Some(m.uid()), Some(m.gid()));
            }
            f.sync_all()?;
            Ok(())
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(werr(e));
        }
        if let Err(e) = fs::rename(&tmp, &path) {
            let _ = fs::remove_file(&tmp);
            if e.raw_os_error() == Some(nix::libc::EBUSY) {
                return Err(SysError::Busy { path });
            }
            return Err(werr(e));
        }
        if let Ok(d) = fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Remove a file; a file that is already gone is fine.
    pub fn remove_file(&self, p: &str) -> Result<(), SysError> {
        let path = self.path(p);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(SysError::Write { path, source: e }),
            _ => Ok(()),
        }
    }

    /// Mode bits and owner of an in-root path without following a final symlink;
    /// Ok(None) when it does not exist.
    pub fn stat(&self, p: &str) -> Result<Option<(u32, u32, bool)>, SysError> {
        let path = self.path(p);
        match fs::symlink_metadata(&path) {
            Ok(m) => Ok(Some((m.mode() & 0o7777, m.uid(), m.file_type().is_symlink()))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(SysError::Read { path, source }),
        }
    }

    /// chmod an in-root file. A symlink is refused: its target could be outside the root.
    pub fn set_mode(&self, p: &str, mode: u32) -> Result<(), SysError> {
        let path = self.path(p);
        refuse_link(&path)?;
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).map_err(|source| SysError::Write { path, source })
    }

    /// chown (user only; the group stays) an in-root file, never through a symlink.
    pub fn set_owner(&self, p: &str, uid: u32) -> Result<(), SysError> {
        let path = self.path(p);
        refuse_link(&path)?;
        std::os::unix::fs::lchown(&path, Some(uid), None).map_err(|source| SysError::Write { path, source })
    }

    /// Copy the current contents of files into a fresh backup directory
    /// under the root; returns the directory (in-root path).
    pub fn backup(&self, files: &[&str], stamp: &str) -> Result<String, SysError> {
        let base = format!("/var/backups/harden/{stamp}");
        for f in files {
            if let Some(data) = self.read(f)? {
                let dest = format!("{base}{f}");
                self.write_atomic(&dest, &data, 0o600)?;
            }
        }
        Ok(base)
    }

    pub fn run(&self, program: &str, args: &[&str], stdin: Option<&[u8]>) -> Result<Output, SysError> {
        self.runner.run(program, args, stdin)
    }

    /// [`System::run`] with extra environment variables for the child.
    pub fn run_env(
        &self,
        program: &str,
        args: &[&str],
        env: &[(&str, &str)],
        stdin: Option<&[u8]>,
    ) -> Result<Output, SysError> {
        self.runner.run_env(program, args, env, stdin)
    }

    pub fn has_program(&self, program: &str) -> bool {
        self.runner.has(program)
    }
}

fn refuse_link(path: &Path) -> Result<(), SysError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(SysError::Write {
            path: path.to_path_buf(),
            source: io::Error::other("is a symbolic link; harden changes modes and owners of files only, plan again"),
        }),
        Ok(_) => Ok(()),
        Err(source) => Err(SysError::Write { path: path.to_path_buf(), source }),
    }
}
