//! resticprofile `profiles.yaml` (v1: profiles at top level; v2: under `profiles:`) and
//! autorestic `.autorestic.yml` backends. Both drive restic, so encryption is always on;
//! what matters is the password source of each profile/backend.
use super::values::{command_source, inline_or_ref};
use super::yaml::{parse_yaml, Node};
use crate::backup::error::{BackupError, Result};
use crate::backup::location::{classify, is_templated};
use crate::backup::model::*;
use std::path::{Path, PathBuf};

/// Top-level keys of a v1 file that are not profiles.
const NOT_PROFILES: &[&str] = &["version", "global", "groups", "includes", "profiles"];

/// One declaration per profile.
pub fn parse_resticprofile(file: &Path, text: &str) -> Result<Vec<BackupDecl>> {
    let doc = parse_yaml(file, text)?.ok_or_else(|| {
        BackupError::syntax(file, 1, 1, "empty resticprofile configuration", "define at least one profile")
    })?;
    let profiles: Vec<&(Node, Node)> = match doc.get("profiles") {
        Some(p) => p.entries().iter().collect(),
        None => doc
            .entries()
            .iter()
            .filter(|(k, v)| v.is_map() && !k.as_str().is_some_and(|k| NOT_PROFILES.contains(&k)))
            .collect(),
    };
    let all = |name: &str| profiles.iter().find(|(k, _)| k.as_str() == Some(name)).map(|(_, v)| v);
    let mut out = Vec::new();
    for (k, p) in &profiles {
        let name = k.as_str().unwrap_or_default().to_string();
        // follow `inherit:` for settings the profile does not set itself
        let lookup = |key: &str| -> Option<&Node> {
            let mut cur = Some(p);
            for _ in 0..16 {
                let node = cur?;
                if let Some(v) = node.get(key) {
                    return Some(v);
                }
                cur = node.get("inherit").and_then(Node::as_str).and_then(all);
            }
            None
        };
        let mut decl = BackupDecl::new(Tool::Resticprofile, file);
        decl.profile = Some(name.clone());
        let location = match lookup("repository").and_then(|n| n.as_str().map(|s| (s, n.line))) {
            Some((r, line)) => Fact::at(classify(r), loc(file, line)),
            None => Fact::default_value(RepoLocation::Unresolved {
                raw: String::new(),
                reason: "no repository in this profile".into(),
            }),
        };
        decl.repos.push(DeclaredRepo {
            name: name.clone(),
            location,
            encryption: Fact::default_value(DeclaredEncryption::Always),
            storage_type: None,
            stanzas: Vec::new(),
        });
        if let Some(n) = lookup("password-file") {
            let v = n.as_str().unwrap_or_default();
            let source = if is_templated(v) { inline_or_ref(v) } else { SecretSource::File { path: PathBuf::from(v) } };
            if !v.starts_with('/') && !is_templated(v) {
                decl.notes.push(Fact::at(
                    format!("relative password-file {v:?}: resolved against base-dir or the working directory"),
                    loc(file, n.line),
                ));
            }
            push(&mut decl, "password-file", source, Some(loc(file, n.line)));
        }
        if let Some(n) = lookup("password-command") {
            push(
                &mut decl,
                "password-command",
                command_source(n.as_str().unwrap_or_default()),
                Some(loc(file, n.line)),
            );
        }
        if let Some(env) = lookup("env") {
            // resticprofile upper-cases env keys
            for (ek, ev) in env.entries() {
                let key = ek.as_str().unwrap_or_default().to_ascii_uppercase();
                let v = ev.as_str().unwrap_or_default();
                let source = match key.as_str() {
                    "RESTIC_PASSWORD" => inline_or_ref(v),
                    "RESTIC_PASSWORD_FILE" => SecretSource::File { path: PathBuf::from(v) },
                    "RESTIC_PASSWORD_COMMAND" => command_source(v),
                    _ => continue,
                };
                push(&mut decl, &key, source, Some(loc(file, ek.line)));
            }
        }
        if decl.secrets.is_empty() {
            push(&mut decl, "RESTIC_PASSWORD", SecretSource::Environment { var: "RESTIC_PASSWORD".into() }, None);
        }
        out.push(decl);
    }
    if out.is_empty() {
        return Err(BackupError::syntax(
            file,
            doc.line,
            doc.col,
            "no profile found",
            "profiles are top-level mappings (v1) or entries of `profiles:` (v2)",
        ));
    }
    Ok(out)
}

/// One declaration per autorestic backend.
pub fn parse_autorestic(file: &Path, text: &str) -> Result<Vec<BackupDecl>> {
    let doc = parse_yaml(file, text)?
        .ok_or_else(|| BackupError::syntax(file, 1, 1, "empty autorestic configuration", "define `backends:`"))?;
    let Some(backends) = doc.get("backends") else {
        return Err(BackupError::syntax(
            file,
            doc.line,
            doc.col,
            "no `backends:` mapping",
            "autorestic needs backends: {name: {type, path, key}}",
        ));
    };
    let mut out = Vec::new();
    for (k, b) in backends.entries() {
        let name = k.as_str().unwrap_or_default().to_string();
        let mut decl = BackupDecl::new(Tool::Autorestic, file);
        decl.profile = Some(name.clone());
        let ty = b.get("type").and_then(Node::as_str).unwrap_or("local").to_string();
        let path = b.get("path");
        let raw = path.and_then(Node::as_str).unwrap_or_default();
        let location = if ty == "local" {
            classify(raw)
        } else {
            RepoLocation::Remote { url: raw.to_string(), scheme: ty.clone() }
        };
        let location = match path {
            Some(p) => Fact::at(location, loc(file, p.line)),
            None => Fact::default_value(location),
        };
        decl.repos.push(DeclaredRepo {
            name: name.clone(),
            location,
            encryption: Fact::default_value(DeclaredEncryption::Always),
            storage_type: Some(ty),
            stanzas: Vec::new(),
        });
        let require = b.get("requirekey").or_else(|| b.get("requireKey")).and_then(Node::as_str) == Some("true");
        match b.get("key").and_then(|n| n.as_str().map(|s| (s, n.line))) {
            Some((v, line)) => push(&mut decl, "key", inline_or_ref(v), Some(loc(file, line))),
            None => push(
                &mut decl,
                "key",
                SecretSource::Environment { var: format!("AUTORESTIC_{}_RESTIC_PASSWORD", name.to_ascii_uppercase()) },
                None,
            ),
        }
        if !require {
            // autorestic generates a key and writes it into this file when none is given
            decl.notes.push(Fact::at(
                "requirekey is not true: autorestic may write a generated key into this file".into(),
                loc(file, k.line),
            ));
        }
        out.push(decl);
    }
    Ok(out)
}

fn push(decl: &mut BackupDecl, key: &str, source: SecretSource, at: Option<crate::error::Location>) {
    decl.secrets.push(SecretDecl { purpose: SecretPurpose::RepoPassword, key: key.into(), source, at });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_inherit_and_env_passwords() {
        let t = "version: \"1\"\nglobal:\n  priority: low\nbase:\n  password-file: /etc/rp/pw\nnas:\n  inherit: base\n  repository: sftp:nas:/r\nlocal:\n  repository: /srv/r\n  env:\n    restic_password: ${PW}\n";
        let d = parse_resticprofile(Path::new("/p.yaml"), t).unwrap();
        let names: Vec<_> = d.iter().map(|d| d.profile.clone().unwrap()).collect();
        assert_eq!(names, vec!["base", "nas", "local"]);
        assert!(matches!(&d[1].secrets[0].source, SecretSource::File { path } if path == Path::new("/etc/rp/pw")));
        assert_eq!(d[1].secrets[0].at.as_ref().unwrap().line, 5);
        assert!(matches!(&d[2].secrets[0].source, SecretSource::Interpolated { var } if var == "PW"));
    }

    #[test]
    fn autorestic_backends() {
        let t = "version: 2\nbackends:\n  hdd:\n    type: local\n    path: /mnt/r\n    key: plain-key\n  cloud:\n    type: s3\n    path: s3.amazonaws.com/b\n    requirekey: true\n";
        let d = parse_autorestic(Path::new("/a.yml"), t).unwrap();
        assert_eq!(d[0].repos[0].location.value, RepoLocation::Local { path: "/mnt/r".into() });
        assert!(matches!(d[0].secrets[0].source, SecretSource::Inline { .. }));
        assert_eq!(d[0].notes.len(), 1);
        assert!(matches!(d[1].repos[0].location.value, RepoLocation::Remote { .. }));
        assert!(d[1].notes.is_empty());
        assert!(parse_autorestic(Path::new("/a.yml"), "version: 2\n").is_err());
    }
}
