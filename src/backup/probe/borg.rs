//! borg 1.x: the key mode is the first byte of the manifest object (id = 32 zero bytes),
//! which is stored without encryption framing. Found by scanning segment files
//! `data/<dir>/<n>` (entries: crc32 | size | tag | key[32] | data) for the newest
//! committed PUT of that id; `config` must be a borg 1 repository config.
use super::{Actual, ActualRepo};
use crate::backup::fsroot::Root;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

const MAGIC: &[u8; 8] = b"BORG_SEG";
const TAG_PUT: u8 = 0;
const TAG_DELETE: u8 = 1;
const TAG_COMMIT: u8 = 2;
/// crc32 + size + tag
const HEADER: u64 = 9;

/// borg's key TYPE byte -> (mode name, encrypts data)
pub fn mode_of(byte: u8) -> Option<(&'static str, bool)> {
    Some(match byte {
        0x00 => ("keyfile", true),
        0x01 => ("passphrase", true),
        0x02 => ("none", false),
        0x03 => ("repokey", true),
        0x04 => ("keyfile-blake2", true),
        0x05 => ("repokey-blake2", true),
        0x06 => ("authenticated-blake2", false),
        0x07 => ("authenticated", false),
        _ => return None,
    })
}

pub fn probe_borg(root: &Root, repo: &Path) -> ActualRepo {
    let config = match root.read_to_string(&repo.join("config")) {
        Ok(c) => c,
        Err(e) => return ActualRepo::of(super::unknown_from("not a readable borg repository", &e)),
    };
    let version = config
        .lines()
        .find_map(|l| l.trim().strip_prefix("version").map(|v| v.trim_start_matches([' ', '=']).trim().to_string()));
    if !config.contains("[repository]") || version.as_deref() != Some("1") {
        return ActualRepo::of(Actual::unknown(format!(
            "{}/config is not a borg 1.x repository config (version {version:?})",
            repo.display()
        )));
    }
    let key_in_config = config.lines().any(|l| l.starts_with("key ="));
    let byte = match newest_manifest_type(root, repo) {
        Ok(Some(b)) => b,
        Ok(None) => {
            return ActualRepo::of(Actual::unknown(
                "no committed manifest in the segment files (empty or damaged repository)",
            ))
        }
        Err(e) => return ActualRepo::of(super::unknown_from("cannot read segments", &e)),
    };
    let Some((mode, encrypts)) = mode_of(byte) else {
        return ActualRepo::of(Actual::unknown(format!("unknown borg key type 0x{byte:02x} in the manifest")));
    };
    // repokey/authenticated keep the key in `config`; none/keyfile do not
    let expects_key = matches!(byte, 0x03 | 0x05 | 0x06 | 0x07);
    let mut evidence = format!("borg manifest key type 0x{byte:02x} = {mode}");
    if expects_key != key_in_config {
        evidence.push_str(&format!(
            "; warning: config {} a key line, unusual for this mode",
            if key_in_config { "has" } else { "lacks" }
        ));
    }
    let state = if encrypts {
        Actual::Encrypted { evidence }
    } else {
        Actual::NotEncrypted { evidence: format!("{evidence} (data stored in plaintext)") }
    };
    ActualRepo { stanza: None, state, mode: Some(mode.to_string()) }
}

/// Segment paths, newest first (numeric order of dir and file names).
fn segments_newest_first(root: &Root, repo: &Path) -> crate::backup::error::Result<Vec<std::path::PathBuf>> {
    let data = repo.join("data");
    let mut out = Vec::new();
    let mut dirs: Vec<u64> = root.list_dir(&data)?.iter().filter_map(|d| d.parse().ok()).collect();
    dirs.sort_unstable();
    for d in dirs.iter().rev() {
        let dir = data.join(d.to_string());
        let mut segs: Vec<u64> = root.list_dir(&dir)?.iter().filter_map(|s| s.parse().ok()).collect();
        segs.sort_unstable();
        out.extend(segs.iter().rev().map(|s| dir.join(s.to_string())));
    }
    Ok(out)
}

fn newest_manifest_type(root: &Root, repo: &Path) -> crate::backup::error::Result<Option<u8>> {
    // Walk back from the newest segment: the answer is the last manifest PUT that a
    // later COMMIT confirms. A transaction may span segments (borg 1.2 often writes
    // the COMMIT into a segment of its own), so `committed` carries across files.
    let mut seen_commit = false;
    for seg in segments_newest_first(root, repo)? {
        let mut f = root.open(&seg)?;
        let events =
            scan_segment(&mut f).map_err(|e| crate::backup::error::BackupError::Io { path: seg.clone(), source: e })?;
        for ev in events.iter().rev() {
            match ev {
                Ev::Commit => seen_commit = true,
                Ev::Manifest(b) if seen_commit => return Ok(Some(*b)),
                Ev::Manifest(_) => {}
            }
        }
    }
    Ok(None)
}

#[derive(Debug, PartialEq, Eq)]
enum Ev {
    /// PUT of the manifest id, with its key type byte
    Manifest(u8),
    Commit,
}

/// Manifest PUTs and COMMITs of one segment, in order. Only headers are read; object
/// data is skipped with seeks, so large segments cost little.
fn scan_segment<R: Read + Seek>(f: &mut R) -> std::io::Result<Vec<Ev>> {
    let mut out = Vec::new();
    let mut magic = [0u8; 8];
    if f.read_exact(&mut magic).is_err() || &magic != MAGIC {
        return Ok(out);
    }
    let len = f.seek(SeekFrom::End(0))?;
    let mut off = 8u64;
    while off + HEADER <= len {
        f.seek(SeekFrom::Start(off))?;
        let mut h = [0u8; 9];
        f.read_exact(&mut h)?;
        let size = u32::from_le_bytes([h[4], h[5], h[6], h[7]]) as u64;
        if size < HEADER || off + size > len {
            break; // truncated tail: borg ignores it too
        }
        match h[8] {
            TAG_PUT if size > HEADER + 32 => {
                let mut key_and_type = [0u8; 33];
                f.read_exact(&mut key_and_type)?;
                if key_and_type[..32].iter().all(|&b| b == 0) {
                    out.push(Ev::Manifest(key_and_type[32]));
                }
            }
            TAG_DELETE | TAG_PUT => {}
            TAG_COMMIT => out.push(Ev::Commit),
            _ => break,
        }
        off += size;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(tag: u8, key: Option<[u8; 32]>, data: &[u8]) -> Vec<u8> {
        let size = 9 + key.map_or(0, |_| 32) + data.len();
        let mut v = vec![0, 0, 0, 0];
        v.extend((size as u32).to_le_bytes());
        v.push(tag);
        if let Some(k) = key {
            v.extend(k);
        }
        v.extend(data);
        v
    }

    #[test]
    fn segment_scan_lists_manifest_puts_and_commits() {
        let mut seg = MAGIC.to_vec();
        seg.extend(entry(TAG_PUT, Some([0; 32]), &[0x02, 1, 2]));
        seg.extend(entry(TAG_PUT, Some([7; 32]), &[0x05, 9]));
        seg.extend(entry(TAG_COMMIT, None, &[]));
        seg.extend(entry(TAG_PUT, Some([0; 32]), &[0x05, 1]));
        seg.extend(entry(TAG_COMMIT, None, &[]));
        seg.extend(entry(TAG_PUT, Some([0; 32]), &[0x07, 1]));
        let ev = scan_segment(&mut std::io::Cursor::new(seg)).unwrap();
        assert_eq!(ev, vec![Ev::Manifest(2), Ev::Commit, Ev::Manifest(5), Ev::Commit, Ev::Manifest(7)]);
        assert!(scan_segment(&mut std::io::Cursor::new(b"NOTBORG!".to_vec())).unwrap().is_empty());
    }

    #[test]
    fn commit_in_a_later_segment_confirms_and_uncommitted_tail_is_ignored() {
        let t = tempfile::tempdir().unwrap();
        let data = t.path().join("repo/data/0");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(t.path().join("repo/config"), "[repository]\nversion = 1\nkey = abc\n").unwrap();
        let seg = |entries: Vec<Vec<u8>>| [MAGIC.to_vec(), entries.concat()].concat();
        std::fs::write(data.join("8"), seg(vec![entry(TAG_PUT, Some([0; 32]), &[0x05, 1])])).unwrap();
        std::fs::write(data.join("9"), seg(vec![entry(TAG_COMMIT, None, &[])])).unwrap();
        // numeric order: 10 is newer than 9; its manifest has no commit
        std::fs::write(data.join("10"), seg(vec![entry(TAG_PUT, Some([0; 32]), &[0x02, 1])])).unwrap();
        let got = probe_borg(&Root::new(t.path()), Path::new("/repo"));
        assert_eq!(got.mode.as_deref(), Some("repokey-blake2"), "{:?}", got.state);
        assert_eq!(got.state.summary(), "encrypted");
        std::fs::write(t.path().join("repo/config"), "[repository]\nversion = 2\n").unwrap();
        assert_eq!(probe_borg(&Root::new(t.path()), Path::new("/repo")).state.summary(), "unknown");
    }
}
