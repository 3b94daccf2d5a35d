//! Modes and owners the backup sets ask for, combined per file before they become
//! changes: several sets may name one file (a shared password file), so modes combine to
//! the strictest and owners must agree, or two applies would flip the file.
use super::fsroot::{Kind, Root};
use super::perms::Policy;
use crate::plan::{Change, ChangeKind, Finding};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// A mode/owner change; `from_*` is what the plan saw, so apply can refuse a file
/// that changed in between.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermFix {
    /// In-root path with symlinks resolved.
    pub path: String,
    pub from_mode: u32,
    pub to_mode: u32,
    pub from_uid: u32,
    pub to_uid: u32,
    /// Summaries of the planned changes (chmod, chown), so apply can report which
    /// ones it carried out when a later step fails.
    #[serde(default)]
    pub mode_change: Option<String>,
    #[serde(default)]
    pub owner_change: Option<String>,
}

/// What the sets ask of one file or directory.
struct Want {
    from_mode: u32,
    from_uid: u32,
    max_mode: u32,
    /// (user, uid, profile entry) per set that named the file
    owners: Vec<(String, u32, String)>,
    dir: bool,
}

/// Every file and directory the sets want, by resolved in-root path.
#[derive(Default)]
pub struct Wants(BTreeMap<String, Want>);

impl Wants {
    /// `path` is a file the set holds to `policy`; its parent directories come along.
    pub fn add(&mut self, root: &Root, path: &Path, policy: &Policy, set: &str) {
        let acc = &mut self.0;
        let Ok(chain) = root.meta_chain(path) else { return };
        let Some((m, dirs)) = chain.split_first() else { return };
        if m.kind != Kind::File {
            return;
        }
        let w = acc.entry(m.path.display().to_string()).or_insert(Want {
            from_mode: m.mode,
            from_uid: m.uid,
            max_mode: 0o777,
            owners: Vec::new(),
            dir: false,
        });
        w.max_mode &= policy.max_mode;
        // an owner unknown to the root's passwd is the observer's finding; nothing to set
        if let Some(uid) = root.uid_of(&policy.run_as) {
            if !w.owners.iter().any(|o| o.1 == uid) {
                w.owners.push((policy.run_as.clone(), uid, set.to_string()));
            }
        }
        // A directory above the secret that others may write lets them replace it: drop
        // the write bit, as the observer's finding says (sticky dirs such as /tmp are safe).
        for d in dirs {
            let sticky = d.mode & 0o1000 != 0;
            let mut drop = 0;
            if d.mode & 0o002 != 0 && !sticky {
                drop |= 0o002;
            }
            if d.mode & 0o020 != 0 && !sticky && d.gid != 0 && !root.user_in_group(&policy.run_as, d.gid) {
                drop |= 0o020;
            }
            if drop != 0 {
                let w = acc.entry(d.path.display().to_string()).or_insert(Want {
                    from_mode: d.mode,
                    from_uid: d.uid,
                    max_mode: 0o7777,
                    owners: Vec::new(),
                    dir: true,
                });
                w.max_mode &= !drop;
            }
        }
    }

    /// The changes to make (pushed to `changes`) and what apply needs for them.
    pub fn into_fixes(self, root: &Root, changes: &mut Vec<Change>, findings: &mut Vec<Finding>) -> Vec<PermFix> {
        let mut fixes = Vec::new();
        for (path, w) in self.0 {
            let to_uid = match w.owners.as_slice() {
                [] => w.from_uid,
                [(_, uid, _)] => *uid,
                many => {
                    let who: Vec<String> = many.iter().map(|(u, _, set)| format!("{u} ({set})")).collect();
                    findings.push(Finding {
                        id: "backup.owner-conflict".into(),
                        message: format!("several backup sets want different owners for this file: {}", who.join(", ")),
                        location: Some(path.clone()),
                        remedy: Some("give each set its own secret file, or the same owner in the profile".into()),
                    });
                    w.from_uid
                }
            };
            let mut fix = PermFix {
                path,
                from_mode: w.from_mode,
                to_mode: w.from_mode & w.max_mode,
                from_uid: w.from_uid,
                to_uid,
                mode_change: None,
                owner_change: None,
            };
            if fix.from_mode != fix.to_mode {
                fix.mode_change = Some(format!("chmod {:04o} {} (now {:04o})", fix.to_mode, fix.path, fix.from_mode));
                changes.push(Change {
                    labels: Default::default(),
                    kind: ChangeKind::Change,
                    item: if w.dir { "backup.dir.mode" } else { "backup.file.mode" }.into(),
                    summary: fix.mode_change.clone().unwrap_or_default(),
                    expected: Some(format!("{:04o}", fix.to_mode)),
                    actual: Some(format!("{:04o}", fix.from_mode)),
                });
            }
            if fix.from_uid != fix.to_uid {
                let name = |u: u32| root.user_name(u).unwrap_or_else(|| format!("uid {u}"));
                fix.owner_change =
                    Some(format!("chown {} {} (now {})", name(fix.to_uid), fix.path, name(fix.from_uid)));
                changes.push(Change {
                    labels: Default::default(),
                    kind: ChangeKind::Change,
                    item: "backup.file.owner".into(),
                    summary: fix.owner_change.clone().unwrap_or_default(),
                    expected: Some(name(fix.to_uid)),
                    actual: Some(name(fix.from_uid)),
                });
            }
            if fix.from_mode != fix.to_mode || fix.from_uid != fix.to_uid {
                fixes.push(fix);
            }
        }
        fixes
    }
}
