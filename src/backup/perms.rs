//! Secret-file checks: owner, mode, and every directory above the file.
use super::findings::{Check, Finding, Severity};
use super::fsroot::{FileMeta, Root};
use crate::error::Location;
use serde::Serialize;
use std::path::Path;

/// Who runs the tool and how open its secret files may be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub run_as: String,
    /// Highest permission bits allowed, e.g. `0o600` (pgBackRest: `0o640`).
    pub max_mode: u32,
}

/// Check one file that holds (or is) a secret. `why` says what it holds, for messages.
pub fn check_secret_file(root: &Root, path: &Path, policy: &Policy, why: &str, at: Option<&Location>) -> Vec<Finding> {
    let finding = |check, severity, message: String, remedy: String, auto_fixable| Finding {
        check,
        severity,
        path: path.to_path_buf(),
        at: at.cloned(),
        message,
        remedy,
        auto_fixable,
    };
    if path.is_relative() {
        return vec![finding(
            Check::SecretPathRelative,
            Severity::Medium,
            format!("{why}: relative path {} depends on the working directory", path.display()),
            "use an absolute path".into(),
            false,
        )];
    }
    let chain = match root.meta_chain(path) {
        Ok(c) => c,
        Err(e) => {
            return vec![finding(
                Check::SecretFileMissing,
                Severity::Medium,
                format!("{why}: {e}"),
                format!(
                    "create {} (mode {:04o}, owner {}) or fix the reference",
                    path.display(),
                    policy.max_mode,
                    policy.run_as
                ),
                false,
            )]
        }
    };
    let mut out = Vec::new();
    let file = &chain[0];
    let dirs = &chain[1..];
    let excess = file.mode & !policy.max_mode & 0o777;
    if excess != 0 {
        let others_can_reach = dirs.iter().all(|d| d.mode & 0o001 != 0);
        let exposed = file.mode & 0o004 != 0 && others_can_reach;
        let (severity, detail) = if exposed {
            (Severity::High, "readable by every local user")
        } else if file.mode & 0o004 != 0 {
            (Severity::Medium, "world-readable bits, though a parent directory blocks others today")
        } else {
            (Severity::Medium, "more open than the policy")
        };
        out.push(finding(
            Check::SecretFileMode,
            severity,
            format!(
                "{why}: {} has mode {:04o}, allowed at most {:04o} ({detail})",
                file.path.display(),
                file.mode,
                policy.max_mode
            ),
            format!("chmod {:04o} {}", file.mode & policy.max_mode & 0o777, file.path.display()),
            true,
        ));
    }
    // group read is allowed (pgBackRest 0640): only safe when nobody else is in the group
    if file.mode & policy.max_mode & 0o040 != 0 {
        let others: Vec<String> =
            root.group_members(file.gid).into_iter().filter(|u| *u != policy.run_as && u != "root").collect();
        if !others.is_empty() {
            out.push(finding(
                Check::SecretFileGroup,
                Severity::Medium,
                format!(
                    "{why}: {} is readable by group {}, which has other members: {}",
                    file.path.display(),
                    group(file),
                    others.join(", ")
                ),
                format!(
                    "chgrp {} to a group only {} is in (or remove the others from {}), or chmod g-r {} if nothing else needs it",
                    file.path.display(),
                    policy.run_as,
                    group(file),
                    file.path.display()
                ),
                false,
            ));
        }
    }
    match root.uid_of(&policy.run_as) {
        Some(uid) if uid != file.uid => out.push(finding(
            Check::SecretFileOwner,
            Severity::Medium,
            format!("{why}: {} is owned by {}, expected {}", file.path.display(), owner(file), policy.run_as),
            format!("chown {} {}", policy.run_as, file.path.display()),
            true,
        )),
        Some(_) => {}
        None => out.push(finding(
            Check::SecretFileOwner,
            Severity::Low,
            format!(
                "run-as user {} is not in the root's /etc/passwd; owner of {} not checked",
                policy.run_as,
                file.path.display()
            ),
            "set `owner` of this entry in the profile's [[backup.*]] table to the account that runs the backup".into(),
            false,
        )),
    }
    let run_uid = root.uid_of(&policy.run_as);
    for d in dirs {
        let sticky = d.mode & 0o1000 != 0;
        if d.mode & 0o002 != 0 && !sticky {
            out.push(finding(
                Check::SecretDirUnsafe,
                Severity::High,
                format!(
                    "{why}: directory {} is world-writable, so anyone can replace {}",
                    d.path.display(),
                    file.path.display()
                ),
                format!("chmod o-w {}", d.path.display()),
                true,
            ));
        } else if d.mode & 0o020 != 0 && !sticky && d.gid != 0 && !root.user_in_group(&policy.run_as, d.gid) {
            out.push(finding(
                Check::SecretDirUnsafe,
                Severity::Medium,
                format!(
                    "{why}: directory {} is writable by group {}, which can replace {}",
                    d.path.display(),
                    group(d),
                    file.path.display()
                ),
                format!("chmod g-w {}", d.path.display()),
                true,
            ));
        }
        if d.uid != 0 && Some(d.uid) != run_uid {
            out.push(finding(
                Check::SecretDirUnsafe,
                Severity::Medium,
                format!(
                    "{why}: directory {} is owned by {}, who can replace {}",
                    d.path.display(),
                    owner(d),
                    file.path.display()
                ),
                format!("chown root {}", d.path.display()),
                false,
            ));
        }
    }
    out
}

fn owner(m: &FileMeta) -> String {
    m.owner.clone().unwrap_or_else(|| format!("uid {}", m.uid))
}

fn group(m: &FileMeta) -> String {
    m.group.clone().unwrap_or_else(|| format!("gid {}", m.gid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    fn chmod(p: &Path, m: u32) {
        fs::set_permissions(p, fs::Permissions::from_mode(m)).unwrap();
    }

    #[test]
    fn mode_parent_dirs_and_missing_files() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        chmod(r, 0o755);
        let me = nix::unistd::getuid().as_raw();
        fs::create_dir_all(r.join("etc/wal-g")).unwrap();
        fs::write(r.join("etc/passwd"), format!("me:x:{me}:{me}::/:/bin/sh\n")).unwrap();
        fs::write(r.join("etc/wal-g/config.json"), "{}").unwrap();
        chmod(&r.join("etc"), 0o755);
        chmod(&r.join("etc/wal-g/config.json"), 0o664);
        let root = Root::new(r);
        let pol = Policy { run_as: "me".into(), max_mode: 0o600 };
        let p = Path::new("/etc/wal-g/config.json");
        // the directory blocks others: still a finding, but not High
        chmod(&r.join("etc/wal-g"), 0o770);
        let f = check_secret_file(&root, p, &pol, "WAL-G key", None);
        let mode = f.iter().find(|f| f.check == Check::SecretFileMode).unwrap();
        assert_eq!(mode.severity, Severity::Medium);
        assert_eq!(mode.remedy, "chmod 0600 /etc/wal-g/config.json");
        chmod(&r.join("etc/wal-g"), 0o755);
        let f = check_secret_file(&root, p, &pol, "WAL-G key", None);
        assert_eq!(f.iter().find(|f| f.check == Check::SecretFileMode).unwrap().severity, Severity::High);
        chmod(&r.join("etc/wal-g"), 0o777);
        let f = check_secret_file(&root, p, &pol, "WAL-G key", None);
        assert!(f.iter().any(|f| f.check == Check::SecretDirUnsafe && f.severity == Severity::High));
        chmod(&r.join("etc/wal-g"), 0o700);
        chmod(&r.join("etc/wal-g/config.json"), 0o600);
        assert!(check_secret_file(&root, p, &pol, "WAL-G key", None).is_empty());
        let f = check_secret_file(&root, Path::new("/etc/nope"), &pol, "x", None);
        assert_eq!(f[0].check, Check::SecretFileMissing);
        let f = check_secret_file(&root, Path::new("pw.txt"), &pol, "x", None);
        assert_eq!(f[0].check, Check::SecretPathRelative);
        let other = Policy { run_as: "postgres-not-here".into(), max_mode: 0o640 };
        assert_eq!(check_secret_file(&root, p, &other, "x", None)[0].severity, Severity::Low);
    }
}
