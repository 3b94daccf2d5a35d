//! pgBackRest configuration: main file + `conf.d/*.conf` concatenated (sorted), current
//! (`repoN-*`) and legacy (`repo-*` = repo1) option names, stanza sections over `[global]`.
use super::ini::{parse_ini, IniEntry};
use super::values::inline_or_ref;
use crate::backup::error::{BackupError, Result};
use crate::backup::fsroot::Root;
use crate::backup::location::is_templated;
use crate::backup::model::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// pgBackRest's default config, and the Debian/legacy one tried when it is missing.
pub const DEFAULT_CONFIG: &str = "/etc/pgbackrest/pgbackrest.conf";
pub const LEGACY_CONFIG: &str = "/etc/pgbackrest.conf";
const DEFAULT_REPO_PATH: &str = "/var/lib/pgbackrest";

/// Read `config` and the `*.conf` files of `include` (default: `conf.d` beside the config).
pub fn load_pgbackrest(root: &Root, config: &Path, include: Option<&Path>) -> Result<BackupDecl> {
    let mut main = config.to_path_buf();
    if !root.exists(&main) && main == Path::new(DEFAULT_CONFIG) && root.exists(Path::new(LEGACY_CONFIG)) {
        main = PathBuf::from(LEGACY_CONFIG);
    }
    let mut parts = vec![(main.clone(), root.read_to_string(&main)?)];
    let inc = include.map(Path::to_path_buf).unwrap_or_else(|| main.parent().unwrap_or(Path::new("/")).join("conf.d"));
    if root.exists(&inc) {
        for name in root.list_dir(&inc)? {
            if name.ends_with(".conf") {
                let p = inc.join(&name);
                parts.push((p.clone(), root.read_to_string(&p)?));
            }
        }
    }
    parse_pgbackrest(&parts)
}

/// `repo-cipher-type` (pgBackRest 1.x) is `repo1-cipher-type`.
fn normalize(key: &str) -> String {
    match key.strip_prefix("repo-") {
        Some(rest) => format!("repo1-{rest}"),
        None => key.to_string(),
    }
}

/// `repo2-cipher-type` -> (2, "cipher-type")
fn repo_option(key: &str) -> Option<(u32, &str)> {
    let rest = key.strip_prefix("repo")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let opt = rest[digits.len()..].strip_prefix('-')?;
    Some((digits.parse().ok()?, opt))
}

/// Parse already-read files (main first, then conf.d in order).
pub fn parse_pgbackrest(parts: &[(PathBuf, String)]) -> Result<BackupDecl> {
    let mut decl = BackupDecl::new(Tool::PgBackRest, &parts[0].0);
    decl.files = parts.iter().map(|(p, _)| p.clone()).collect();
    // (section, normalized key) -> entry; pgBackRest refuses an option set twice
    let mut opts: BTreeMap<(String, String), IniEntry> = BTreeMap::new();
    for (file, text) in parts {
        for e in parse_ini(file, text)? {
            let key = normalize(&e.key);
            if e.value.is_empty() {
                return Err(BackupError::syntax(
                    &e.file,
                    e.line,
                    1,
                    format!("option '{}' has no value", e.key),
                    "give it a value or remove the line; pgBackRest rejects empty options",
                ));
            }
            if let Some(prev) = opts.get(&(e.section.clone(), key.clone())) {
                return Err(BackupError::syntax(
                    &e.file,
                    e.line,
                    1,
                    format!("option '{key}' in [{}] is also set at {}:{}", e.section, prev.file.display(), prev.line),
                    "keep one of them; pgBackRest refuses options set twice in a section",
                ));
            }
            opts.insert((e.section.clone(), key), e);
        }
    }
    let stanzas: BTreeSet<String> =
        opts.keys().map(|(s, _)| s.clone()).filter(|s| s != "global" && !s.contains(':')).collect();
    let mut indexes: BTreeSet<u32> =
        opts.keys().filter(|(s, _)| !s.contains(':')).filter_map(|(_, k)| repo_option(k).map(|(i, _)| i)).collect();
    if indexes.is_empty() {
        indexes.insert(1);
    }
    let get = |stanza: Option<&str>, key: &str| -> Option<&IniEntry> {
        stanza
            .and_then(|s| opts.get(&(s.to_string(), key.to_string())))
            .or_else(|| opts.get(&("global".to_string(), key.to_string())))
    };
    let views: Vec<Option<&str>> =
        if stanzas.is_empty() { vec![None] } else { stanzas.iter().map(|s| Some(s.as_str())).collect() };
    for idx in indexes {
        // stanzas whose effective settings for this repo are the same share one entry
        let mut groups: Vec<(Vec<Option<&IniEntry>>, Vec<String>)> = Vec::new();
        for view in &views {
            let eff: Vec<Option<&IniEntry>> = [
                "type",
                "path",
                "cipher-type",
                "cipher-pass",
                "s3-bucket",
                "gcs-bucket",
                "azure-container",
                "sftp-host",
            ]
            .iter()
            .map(|o| get(*view, &format!("repo{idx}-{o}")))
            .collect();
            match groups.iter_mut().find(|(e, _)| *e == eff) {
                Some((_, names)) => names.extend(view.map(String::from)),
                None => groups.push((eff, view.map(String::from).into_iter().collect())),
            }
        }
        for (eff, names) in groups {
            decl.repos.push(repo_decl(idx, &eff, names));
            secrets_for(&mut decl, idx, &eff, &opts);
        }
    }
    for ((_, key), e) in &opts {
        let v = e.value.expose();
        if (key.ends_with("-verify-tls") || key.ends_with("-verify-ssl")) && v == "n" {
            decl.notes.push(Fact::at(format!("{key}=n: TLS certificate verification off"), loc(&e.file, e.line)));
        }
        if key.starts_with("repo1-") && e.key.starts_with("repo-") {
            decl.notes.push(Fact::at(format!("legacy option name {} (= {key})", e.key), loc(&e.file, e.line)));
        }
    }
    Ok(decl)
}

fn repo_decl(idx: u32, eff: &[Option<&IniEntry>], stanzas: Vec<String>) -> DeclaredRepo {
    let at = |e: &IniEntry| loc(&e.file, e.line);
    let storage = eff[0].map_or("posix".to_string(), |e| e.value.expose().to_string());
    let path = eff[1].map_or(DEFAULT_REPO_PATH.to_string(), |e| e.value.expose().to_string());
    let location = if is_templated(&path) {
        RepoLocation::Unresolved { raw: path.clone(), reason: "set through interpolation at run time".into() }
    } else if storage == "posix" || storage == "cifs" {
        RepoLocation::Local { path: PathBuf::from(&path) }
    } else {
        let bucket = eff[4].or(eff[5]).or(eff[6]).or(eff[7]).map(|e| e.value.expose().to_string()).unwrap_or_default();
        RepoLocation::Remote { url: format!("{storage}://{bucket}{path}"), scheme: storage.clone() }
    };
    let location = match eff[1].or(eff[0]) {
        Some(e) => Fact::at(location, at(e)),
        None => Fact::default_value(location),
    };
    let encryption = match eff[2] {
        Some(e) if e.value.expose() == "none" => Fact::at(DeclaredEncryption::Off, at(e)),
        Some(e) => Fact::at(DeclaredEncryption::Cipher { cipher: e.value.expose().to_string() }, at(e)),
        None => Fact::default_value(DeclaredEncryption::Off),
    };
    DeclaredRepo { name: format!("repo{idx}"), location, encryption, storage_type: Some(storage), stanzas }
}

fn secrets_for(
    decl: &mut BackupDecl,
    idx: u32,
    eff: &[Option<&IniEntry>],
    opts: &BTreeMap<(String, String), IniEntry>,
) {
    let cipher_on = eff[2].is_some_and(|e| e.value.expose() != "none");
    let key = format!("repo{idx}-cipher-pass");
    let already = |d: &BackupDecl, k: &str, at: &Option<crate::error::Location>| {
        d.secrets.iter().any(|s| s.key == k && &s.at == at)
    };
    match eff[3] {
        Some(e) => {
            let at = Some(loc(&e.file, e.line));
            if !already(decl, &key, &at) {
                decl.secrets.push(SecretDecl {
                    purpose: SecretPurpose::CipherPass,
                    key,
                    source: inline_or_ref(e.value.expose()),
                    at,
                });
            }
        }
        None if cipher_on => {
            let var = format!("PGBACKREST_REPO{idx}_CIPHER_PASS");
            if !already(decl, &key, &None) {
                decl.secrets.push(SecretDecl {
                    purpose: SecretPurpose::CipherPass,
                    key,
                    source: SecretSource::Environment { var },
                    at: None,
                });
            }
        }
        None => {}
    }
    // storage credentials: not encryption, but the same file-permission rules apply
    for ((_, k), e) in
        opts.iter().filter(|((s, k), _)| !s.contains(':') && repo_option(k).is_some_and(|(i, _)| i == idx))
    {
        let opt = repo_option(k).map(|(_, o)| o).unwrap_or_default();
        let source = match opt {
            "s3-key-secret" | "s3-token" | "azure-key" | "sftp-private-key-passphrase" => {
                inline_or_ref(e.value.expose())
            }
            "gcs-key" | "sftp-private-key-file" => SecretSource::File { path: PathBuf::from(e.value.expose()) },
            _ => continue,
        };
        let at = Some(loc(&e.file, e.line));
        if !already(decl, k, &at) {
            decl.secrets.push(SecretDecl { purpose: SecretPurpose::StorageCredential, key: k.clone(), source, at });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(parts: &[(&str, &str)]) -> Result<BackupDecl> {
        let v: Vec<(PathBuf, String)> = parts.iter().map(|(a, b)| (PathBuf::from(a), b.to_string())).collect();
        parse_pgbackrest(&v)
    }

    #[test]
    fn conf_d_supplies_the_cipher_and_legacy_names_mean_repo1() {
        let d = p(&[
            (
                "/etc/pgbackrest/pgbackrest.conf",
                "[global]\nrepo1-type=s3\nrepo1-s3-bucket=b\nrepo1-path=/p\n[main]\npg1-path=/d\n",
            ),
            ("/etc/pgbackrest/conf.d/enc.conf", "[global]\nrepo1-cipher-type=aes-256-cbc\nrepo1-cipher-pass=x\n"),
        ])
        .unwrap();
        assert_eq!(d.repos.len(), 1);
        let r = &d.repos[0];
        assert_eq!(r.encryption.value, DeclaredEncryption::Cipher { cipher: "aes-256-cbc".into() });
        assert_eq!(r.encryption.at.as_ref().unwrap().file, PathBuf::from("/etc/pgbackrest/conf.d/enc.conf"));
        assert_eq!(r.stanzas, vec!["main".to_string()]);
        assert!(matches!(&r.location.value, RepoLocation::Remote { url, .. } if url == "s3://b/p"));
        let s = d.secrets.iter().find(|s| s.key == "repo1-cipher-pass").unwrap();
        assert!(matches!(s.source, SecretSource::Inline { .. }));
        assert_eq!(s.at.as_ref().unwrap().line, 3);

        let d = p(&[("/c", "[global]\nrepo-path=/bk\nrepo-cipher-type=none\n")]).unwrap();
        assert_eq!(d.repos[0].name, "repo1");
        assert_eq!(d.repos[0].location.value, RepoLocation::Local { path: "/bk".into() });
        assert_eq!(d.repos[0].encryption.value, DeclaredEncryption::Off);
        assert!(d.repos[0].encryption.at.is_some());
    }

    #[test]
    fn stanza_override_splits_repo_and_cipher_without_pass_expects_env() {
        let d = p(&[("/c", "[global]\nrepo1-path=/a\nrepo2-path=/b\nrepo2-cipher-type=aes-256-cbc\n[s1]\npg1-path=/x\n[s2]\npg1-path=/y\nrepo1-cipher-type=aes-256-cbc\n")]).unwrap();
        let names: Vec<_> =
            d.repos.iter().map(|r| (r.name.as_str(), r.stanzas.clone(), r.encryption.value.summary())).collect();
        assert_eq!(
            names,
            vec![
                ("repo1", vec!["s1".into()], "off"),
                ("repo1", vec!["s2".into()], "on"),
                ("repo2", vec!["s1".into(), "s2".into()], "on")
            ]
        );
        assert!(d
            .secrets
            .iter()
            .any(|s| matches!(&s.source, SecretSource::Environment { var } if var == "PGBACKREST_REPO2_CIPHER_PASS")));
    }

    #[test]
    fn duplicates_across_files_are_errors_with_both_places() {
        let err =
            p(&[("/c", "[global]\nrepo1-path=/a\n"), ("/conf.d/x.conf", "[global]\nrepo-path=/b\n")]).unwrap_err();
        let s = err.to_string();
        assert!(s.starts_with("/conf.d/x.conf:2") && s.contains("/c:2"), "{s}");
        let err = p(&[("/c", "[global]\nrepo1-path=\n")]).unwrap_err();
        assert_eq!(err.location().unwrap().line, 2);
    }
}
