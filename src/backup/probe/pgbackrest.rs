//! pgBackRest: `backup/<stanza>/backup.info` and `archive/<stanza>/archive.info` start with
//! OpenSSL's `Salted__` when the repo is encrypted and with `[backrest]` when not.
use super::{Actual, ActualRepo};
use crate::backup::fsroot::Root;
use std::path::Path;

pub fn probe_pgbackrest(root: &Root, repo: &Path, stanzas: &[String]) -> Vec<ActualRepo> {
    let mut names: Vec<String> = stanzas.to_vec();
    if names.is_empty() {
        // no stanza in the config: look at what the repo holds
        match root.list_dir(&repo.join("backup")) {
            Ok(n) => names = n,
            Err(e) if e.is_denied() => return vec![ActualRepo::of(super::unknown_from("", &e))],
            Err(_) => {}
        }
    }
    if names.is_empty() {
        return vec![ActualRepo::of(Actual::unknown(format!(
            "no stanza in {} yet; encryption can still be configured before stanza-create",
            repo.display()
        )))];
    }
    names
        .iter()
        .map(|s| ActualRepo { stanza: Some(s.clone()), state: probe_stanza(root, repo, s), mode: None })
        .collect()
}

fn probe_stanza(root: &Root, repo: &Path, stanza: &str) -> Actual {
    let files = [
        repo.join("backup").join(stanza).join("backup.info"),
        repo.join("backup").join(stanza).join("backup.info.copy"),
        repo.join("archive").join(stanza).join("archive.info"),
        repo.join("archive").join(stanza).join("archive.info.copy"),
    ];
    let mut seen = Vec::new();
    for f in &files {
        let head = match root.read_prefix(f, 10) {
            Ok(h) => h,
            Err(e) if e.is_denied() => return super::unknown_from("", &e),
            Err(_) => continue,
        };
        let kind = if head.starts_with(b"Salted__") {
            "encrypted"
        } else if head.starts_with(b"[backrest]") {
            "plain"
        } else {
            "unrecognised"
        };
        seen.push((f, kind));
    }
    let name = |f: &Path| f.strip_prefix(repo).unwrap_or(f).display().to_string();
    match seen.first() {
        None => Actual::unknown(format!(
            "stanza {stanza}: no backup.info/archive.info in {} (stanza not created yet?)",
            repo.display()
        )),
        Some(_) if seen.iter().any(|(_, k)| *k != seen[0].1) => {
            let detail: Vec<String> = seen.iter().map(|(f, k)| format!("{} {k}", name(f))).collect();
            Actual::unknown(format!("stanza {stanza}: info files disagree: {}", detail.join(", ")))
        }
        Some((f, "encrypted")) => {
            Actual::Encrypted { evidence: format!("stanza {stanza}: {} starts with Salted__", name(f)) }
        }
        Some((f, "plain")) => Actual::NotEncrypted {
            evidence: format!("stanza {stanza}: {} starts with [backrest] (plaintext)", name(f)),
        },
        Some((f, _)) => Actual::unknown(format!("stanza {stanza}: {} has no known header", name(f))),
    }
}
