//! restic: no unencrypted format exists. A local repository is recognised by a binary
//! (ciphertext) `config` and `keys/*` JSON files with a KDF; that is the evidence.
use super::Actual;
use crate::backup::fsroot::Root;
use std::path::Path;

pub fn probe_restic(root: &Root, repo: &Path) -> Actual {
    let config = match root.read_prefix(&repo.join("config"), 64) {
        Ok(c) => c,
        Err(e) => return super::unknown_from("not a readable restic repository", &e),
    };
    // IV(16) + ciphertext + MAC(16); a JSON or text config would mean something else
    if config.len() < 32 || config.first() == Some(&b'{') || config.iter().all(|b| b.is_ascii()) {
        return Actual::unknown(format!("{}/config does not look like restic ciphertext", repo.display()));
    }
    let keys_dir = repo.join("keys");
    let names = match root.list_dir(&keys_dir) {
        Ok(n) => n,
        Err(e) => return super::unknown_from("restic keys directory unreadable", &e),
    };
    let mut kdfs = Vec::new();
    for n in &names {
        let Ok(text) = root.read_to_string(&keys_dir.join(n)) else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        if let Some(kdf) = v.get("kdf").and_then(|k| k.as_str()) {
            let param = |p: &str| v.get(p).and_then(|x| x.as_u64()).unwrap_or(0);
            kdfs.push(format!("{kdf} N={} r={} p={}", param("N"), param("r"), param("p")));
        }
    }
    if kdfs.is_empty() {
        return Actual::unknown("restic config present but no key file with a KDF in keys/");
    }
    kdfs.dedup();
    Actual::Encrypted {
        evidence: format!(
            "restic repository (always encrypted): config is ciphertext; {} key(s), kdf {}",
            names.len(),
            kdfs.join(", ")
        ),
    }
}
