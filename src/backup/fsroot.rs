//! Root-relative file access: every path the observer reads is an absolute path *inside*
//! `root`, so tests can use a temp dir as `/` and production uses `/` itself.
//!
//! Symlinks are resolved inside the root (an absolute link target restarts at the root),
//! so a link can never make the observer read the host's files during a test.
use super::error::{BackupError, Result};
use serde::Serialize;
use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

/// Longest symlink chain followed, as Linux's MAXSYMLINKS.
const MAX_LINKS: usize = 40;

/// Largest file read whole (configs, env files, units, repo metadata): 16 MiB.
pub const MAX_READ: u64 = 16 << 20;

/// What kind of filesystem object a path is (after resolving symlinks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    File,
    Dir,
    Other,
}

/// Mode and owner of one file or directory, with names from the root's passwd/group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileMeta {
    /// Absolute path inside the root, symlinks resolved.
    pub path: PathBuf,
    pub kind: Kind,
    /// Permission bits only (`0o7777` mask).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub owner: Option<String>,
    pub group: Option<String>,
}

/// One account line of `/etc/passwd` or `/etc/group`.
#[derive(Debug, Clone, Default)]
struct IdDb {
    by_id: HashMap<u32, String>,
    by_name: HashMap<String, u32>,
    /// group name -> member user names (the 4th field of /etc/group)
    members: HashMap<String, Vec<String>>,
    /// user name -> primary gid (4th field of /etc/passwd)
    primary_gid: HashMap<String, u32>,
    /// user name -> home directory (6th field of /etc/passwd)
    home: HashMap<String, PathBuf>,
}

/// The observed filesystem, rooted at `root`.
#[derive(Debug)]
pub struct Root {
    root: PathBuf,
    users: OnceLock<IdDb>,
    groups: OnceLock<IdDb>,
}

impl Root {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Root { root: root.into(), users: OnceLock::new(), groups: OnceLock::new() }
    }

    /// The directory that plays `/`.
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// Host path of an in-root absolute path, without resolving links.
    pub fn host_path(&self, path: &Path) -> PathBuf {
        let mut out = self.root.clone();
        for c in path.components() {
            if let Component::Normal(n) = c {
                out.push(n);
            }
        }
        out
    }

    /// Resolve `path` (absolute, inside the root) following symlinks inside the root.
    /// A missing final component is not an error here; reading it will be.
    pub fn resolve(&self, path: &Path) -> Result<PathBuf> {
        let mut todo: Vec<std::ffi::OsString> = components_rev(path);
        let mut cur = PathBuf::from("/");
        let mut links = 0;
        while let Some(name) = todo.pop() {
            if name == ".." {
                cur.pop();
                continue;
            }
            let next = cur.join(&name);
            let host = self.host_path(&next);
            match fs::symlink_metadata(&host) {
                Ok(m) if m.file_type().is_symlink() => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(BackupError::SymlinkLoop { path: path.into() });
                    }
                    let target = fs::read_link(&host).map_err(|e| io_err(&next, e))?;
                    if target.is_absolute() {
                        cur = PathBuf::from("/");
                    }
                    todo.extend(components_rev(&target));
                }
                _ => cur = next,
            }
        }
        Ok(cur)
    }

    fn open_host(&self, path: &Path) -> Result<(PathBuf, PathBuf)> {
        let resolved = self.resolve(path)?;
        let host = self.host_path(&resolved);
        Ok((resolved, host))
    }

    pub fn read_to_string(&self, path: &Path) -> Result<String> {
        let bytes = self.read_bytes(path)?;
        String::from_utf8(bytes)
            .map_err(|e| io_err(path, std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error())))
    }

    /// The whole file, at most [`MAX_READ`] bytes; anything but a regular file (FIFO,
    /// device, socket, directory) is refused before reading, so harden neither blocks
    /// on a FIFO nor reads `/dev/zero` until memory runs out.
    pub fn read_bytes(&self, path: &Path) -> Result<Vec<u8>> {
        let f = self.open(path)?;
        let mut buf = Vec::new();
        f.take(MAX_READ + 1).read_to_end(&mut buf).map_err(|e| io_err(path, e))?;
        if buf.len() as u64 > MAX_READ {
            return Err(io_err(
                path,
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("larger than {} MiB, not a backup config", MAX_READ >> 20),
                ),
            ));
        }
        Ok(buf)
    }

    /// The first `n` bytes (fewer if the file is shorter): enough for a magic check
    /// without reading a large data file.
    pub fn read_prefix(&self, path: &Path, n: usize) -> Result<Vec<u8>> {
        let f = self.open(path)?;
        let mut buf = Vec::with_capacity(n);
        f.take(n as u64).read_to_end(&mut buf).map_err(|e| io_err(path, e))?;
        Ok(buf)
    }

    /// Open for streaming reads (segment scans seek over data they do not need).
    /// Only regular files are opened (O_NONBLOCK so a FIFO cannot hang the open itself;
    /// the kind is checked on the opened descriptor, so a swap in between is caught).
    pub fn open(&self, path: &Path) -> Result<fs::File> {
        use std::os::unix::fs::OpenOptionsExt;
        let (_, host) = self.open_host(path)?;
        let f = fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY)
            .open(&host)
            .map_err(|e| io_err(path, e))?;
        let m = f.metadata().map_err(|e| io_err(path, e))?;
        if !m.is_file() {
            let what = if m.is_dir() { "a directory" } else { "not a regular file (FIFO, device or socket)" };
            return Err(io_err(
                path,
                std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{what}; refused")),
            ));
        }
        Ok(f)
    }

    /// Like [`exists`](Self::exists), but a path that cannot be looked at (permission
    /// denied on a directory above it) is an error, not "missing".
    pub fn try_exists(&self, path: &Path) -> Result<bool> {
        let (_, host) = self.open_host(path)?;
        match fs::metadata(&host) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(nix::libc::ENOTDIR) => {
                Ok(false)
            }
            Err(e) => Err(io_err(path, e)),
        }
    }

    pub fn exists(&self, path: &Path) -> bool {
        self.resolve(path).map(|p| self.host_path(&p).exists()).unwrap_or(false)
    }

    /// Names in a directory, sorted (byte order, as pgBackRest and borg sort them).
    pub fn list_dir(&self, path: &Path) -> Result<Vec<String>> {
        let (_, host) = self.open_host(path)?;
        let mut names: Vec<String> = fs::read_dir(&host)
            .map_err(|e| io_err(path, e))?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        Ok(names)
    }

    /// Mode and owner of `path` (symlinks followed).
    pub fn meta(&self, path: &Path) -> Result<FileMeta> {
        let (resolved, host) = self.open_host(path)?;
        let m = fs::metadata(&host).map_err(|e| io_err(path, e))?;
        let kind = if m.is_file() {
            Kind::File
        } else if m.is_dir() {
            Kind::Dir
        } else {
            Kind::Other
        };
        Ok(FileMeta {
            path: resolved,
            kind,
            mode: m.mode() & 0o7777,
            uid: m.uid(),
            gid: m.gid(),
            owner: self.user_name(m.uid()),
            group: self.group_name(m.gid()),
        })
    }

    /// `path` itself followed by every directory above it up to `/`, nearest first.
    /// Who can reach a file depends on all of them, not on the file's mode alone.
    pub fn meta_chain(&self, path: &Path) -> Result<Vec<FileMeta>> {
        let file = self.meta(path)?;
        let mut out = vec![file.clone()];
        let mut dir = file.path.clone();
        while dir.pop() {
            out.push(self.meta(&dir)?);
            if dir == Path::new("/") {
                break;
            }
        }
        Ok(out)
    }

    pub fn user_name(&self, uid: u32) -> Option<String> {
        self.users().by_id.get(&uid).cloned()
    }

    pub fn group_name(&self, gid: u32) -> Option<String> {
        self.groups().by_id.get(&gid).cloned()
    }

    pub fn uid_of(&self, user: &str) -> Option<u32> {
        self.users().by_name.get(user).copied()
    }

    pub fn gid_of(&self, group: &str) -> Option<u32> {
        self.groups().by_name.get(group).copied()
    }

    /// Whether `user` belongs to group `gid` (as primary or supplementary group).
    pub fn user_in_group(&self, user: &str, gid: u32) -> bool {
        if self.users().primary_gid.get(user) == Some(&gid) {
            return true;
        }
        self.group_name(gid)
            .and_then(|g| self.groups().members.get(&g).cloned())
            .is_some_and(|m| m.iter().any(|u| u == user))
    }

    /// Users in group `gid`: its /etc/group member list and every user whose primary
    /// group it is (sorted, no duplicates).
    pub fn group_members(&self, gid: u32) -> Vec<String> {
        let mut out: Vec<String> =
            self.group_name(gid).and_then(|g| self.groups().members.get(&g).cloned()).unwrap_or_default();
        out.extend(self.users().primary_gid.iter().filter(|(_, g)| **g == gid).map(|(u, _)| u.clone()));
        out.sort();
        out.dedup();
        out
    }

    /// Home directory of `user` from the root's /etc/passwd.
    pub fn home_of(&self, user: &str) -> Option<PathBuf> {
        self.users().home.get(user).cloned()
    }

    fn users(&self) -> &IdDb {
        self.users.get_or_init(|| self.load_ids(Path::new("/etc/passwd")))
    }

    fn groups(&self) -> &IdDb {
        self.groups.get_or_init(|| self.load_ids(Path::new("/etc/group")))
    }

    /// Parse passwd/group `name:x:id:...`; a missing or odd file gives an empty table,
    /// in which case owners are reported by number only.
    fn load_ids(&self, path: &Path) -> IdDb {
        let mut db = IdDb::default();
        let Ok(text) = self.read_to_string(path) else {
            return db;
        };
        for line in text.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 3 || f[0].starts_with('#') {
                continue;
            }
            let Ok(id) = f[2].parse::<u32>() else {
                continue;
            };
            db.by_id.entry(id).or_insert_with(|| f[0].to_string());
            db.by_name.entry(f[0].to_string()).or_insert(id);
            if let Some(v) = f.get(3) {
                if path.ends_with("group") {
                    let m = v.split(',').filter(|s| !s.is_empty()).map(String::from);
                    db.members.insert(f[0].to_string(), m.collect());
                } else if let Ok(g) = v.parse() {
                    db.primary_gid.insert(f[0].to_string(), g);
                }
            }
            if let (false, Some(h)) = (path.ends_with("group"), f.get(5)) {
                db.home.insert(f[0].to_string(), PathBuf::from(h));
            }
        }
        db
    }
}

fn components_rev(p: &Path) -> Vec<std::ffi::OsString> {
    let mut v: Vec<_> = p
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    v.reverse();
    v
}

fn io_err(path: &Path, source: std::io::Error) -> BackupError {
    BackupError::Io { path: path.to_path_buf(), source }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    #[test]
    fn links_stay_inside_root_and_names_come_from_root_passwd() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fs::create_dir_all(r.join("etc/restic")).unwrap();
        fs::write(r.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\nbk:x:4242:4243::/:/bin/sh\n").unwrap();
        fs::write(r.join("etc/group"), "root:x:0:\nbkg:x:4243:alice\n").unwrap();
        fs::write(r.join("etc/restic/pw"), "x").unwrap();
        fs::set_permissions(r.join("etc/restic/pw"), fs::Permissions::from_mode(0o640)).unwrap();
        // absolute target: must resolve under the temp root, not the host's /etc
        symlink("/etc/restic/pw", r.join("etc/link")).unwrap();
        let root = Root::new(r);
        let m = root.meta(Path::new("/etc/link")).unwrap();
        assert_eq!(m.path, PathBuf::from("/etc/restic/pw"));
        assert_eq!(m.mode, 0o640);
        assert_eq!(root.user_name(4242).as_deref(), Some("bk"));
        assert_eq!(root.gid_of("bkg"), Some(4243));
        assert!(root.user_in_group("alice", 4243));
        assert!(root.user_in_group("bk", 4243));
        assert!(!root.user_in_group("root", 4243));
        assert_eq!(root.home_of("root"), Some(PathBuf::from("/root")));
        let chain = root.meta_chain(Path::new("/etc/restic/pw")).unwrap();
        let paths: Vec<_> = chain.iter().map(|m| m.path.clone()).collect();
        assert_eq!(paths, vec![PathBuf::from("/etc/restic/pw"), "/etc/restic".into(), "/etc".into(), "/".into()]);
    }

    #[test]
    fn symlink_loop_is_an_error() {
        let t = tempfile::tempdir().unwrap();
        symlink("/b", t.path().join("a")).unwrap();
        symlink("/a", t.path().join("b")).unwrap();
        let root = Root::new(t.path());
        assert!(matches!(root.read_to_string(Path::new("/a")), Err(BackupError::SymlinkLoop { .. })));
    }
}
