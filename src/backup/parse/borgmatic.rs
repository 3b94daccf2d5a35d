//! borgmatic YAML: 1.7 sectioned (`location:`/`storage:`) and 1.8+ flat schemas.
use super::values::{command_source, inline_or_ref};
use super::yaml::{parse_yaml, Node};
use crate::backup::error::{BackupError, Result};
use crate::backup::location::classify;
use crate::backup::model::*;
use std::path::Path;

pub fn parse_borgmatic(file: &Path, text: &str) -> Result<BackupDecl> {
    let mut decl = BackupDecl::new(Tool::Borgmatic, file);
    let Some(doc) = parse_yaml(file, text)? else {
        return Err(BackupError::syntax(file, 1, 1, "empty borgmatic configuration", "add at least `repositories:`"));
    };
    if !doc.is_map() {
        return Err(BackupError::syntax(
            file,
            doc.line,
            doc.col,
            "top level is not a mapping",
            "borgmatic configs are `key: value` mappings",
        ));
    }
    let sectioned = doc.get("location").is_some_and(Node::is_map) || doc.get("storage").is_some_and(Node::is_map);
    // 1.7 keeps repositories under location: and secrets under storage:; 1.8 is flat
    let (loc_sec, store_sec) =
        if sectioned { (doc.get("location"), doc.get("storage")) } else { (Some(&doc), Some(&doc)) };
    let schema = if sectioned { "sectioned (borgmatic <= 1.7)" } else { "flat (borgmatic >= 1.8)" };
    decl.notes.push(Fact::at(format!("schema: {schema}"), loc(file, doc.line)));

    let field = |sec: Option<&Node>, key: &str| sec.and_then(|s| s.get(key)).cloned();
    let mut expected = None::<(DeclaredEncryption, usize)>;
    if let Some(n) = field(store_sec, "encryption_passphrase") {
        if let Some(v) = n.as_str() {
            let source = inline_or_ref(v);
            push_secret(&mut decl, "encryption_passphrase", source, file, n.line);
            expected = Some((DeclaredEncryption::Expected, n.line));
        }
    }
    if let Some(n) = field(store_sec, "encryption_passcommand") {
        if let Some(v) = n.as_str() {
            push_secret(&mut decl, "encryption_passcommand", command_source(v), file, n.line);
            expected.get_or_insert((DeclaredEncryption::Expected, n.line));
        }
    }
    for key in ["borg_keys_directory", "ssh_command", "borg_base_directory"] {
        if let Some(n) = field(store_sec, key) {
            if let Some(v) = n.as_str() {
                let v = if key == "ssh_command" && v.contains("StrictHostKeyChecking=no") {
                    "ssh_command disables host key checking (StrictHostKeyChecking=no)".to_string()
                } else {
                    format!("{key}: {v}")
                };
                decl.notes.push(Fact::at(v, loc(file, n.line)));
            }
        }
    }

    let repos = field(loc_sec, "repositories");
    let items = repos.as_ref().map(Node::items).unwrap_or(&[]);
    for item in items {
        // `- /path` (old) or `- path: ... label: ... encryption: ...` (>= 1.7.10)
        let (raw, line, label, mode) = if item.is_map() {
            let p = item.get("path");
            (
                p.and_then(Node::as_str).unwrap_or_default().to_string(),
                p.map_or(item.line, |p| p.line),
                item.get("label").and_then(Node::as_str).map(String::from),
                item.get("encryption").and_then(|m| m.as_str().map(|s| (s.to_string(), m.line))),
            )
        } else {
            (item.as_str().unwrap_or_default().to_string(), item.line, None, None)
        };
        let encryption = match (mode, &expected) {
            (Some((m, l)), _) if m == "none" => Fact::at(DeclaredEncryption::Off, loc(file, l)),
            (Some((m, l)), _) if m.starts_with("authenticated") => Fact::at(DeclaredEncryption::Off, loc(file, l)),
            (Some((m, l)), _) => Fact::at(DeclaredEncryption::Cipher { cipher: m }, loc(file, l)),
            (None, Some((e, l))) => Fact::at(e.clone(), loc(file, *l)),
            (None, None) => Fact::default_value(DeclaredEncryption::Unknown),
        };
        decl.repos.push(DeclaredRepo {
            name: label.unwrap_or_else(|| raw.clone()),
            location: Fact::at(classify(&raw), loc(file, line)),
            encryption,
            storage_type: None,
            stanzas: Vec::new(),
        });
    }
    if decl.repos.is_empty() {
        let line = repos.as_ref().map_or(1, |r| r.line);
        decl.repos.push(DeclaredRepo {
            name: "(none listed)".into(),
            location: Fact::at(
                RepoLocation::Unresolved {
                    raw: String::new(),
                    reason: "no repositories in this file (set elsewhere or by a wrapper)".into(),
                },
                loc(file, line),
            ),
            encryption: match &expected {
                Some((e, l)) => Fact::at(e.clone(), loc(file, *l)),
                None => Fact::default_value(DeclaredEncryption::Unknown),
            },
            storage_type: None,
            stanzas: Vec::new(),
        });
    }
    Ok(decl)
}

fn push_secret(decl: &mut BackupDecl, key: &str, source: SecretSource, file: &Path, line: usize) {
    decl.secrets.push(SecretDecl {
        purpose: SecretPurpose::RepoPassword,
        key: key.into(),
        source,
        at: Some(loc(file, line)),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sectioned_and_flat_schemas() {
        let s = "location:\n    repositories:\n        - /srv/borg\n        - u@h:/r\nstorage:\n    encryption_passphrase: \"x\"\n";
        let d = parse_borgmatic(Path::new("/c.yaml"), s).unwrap();
        assert_eq!(d.repos.len(), 2);
        assert_eq!(d.repos[0].location.value, RepoLocation::Local { path: "/srv/borg".into() });
        assert!(matches!(d.repos[1].location.value, RepoLocation::Remote { .. }));
        assert_eq!(d.repos[0].encryption.value, DeclaredEncryption::Expected);
        assert_eq!(d.secrets[0].at.as_ref().unwrap().line, 6);
        assert!(matches!(d.secrets[0].source, SecretSource::Inline { .. }));

        let f = "repositories:\n  - path: /r\n    label: main\n    encryption: none\nencryption_passcommand: cat /etc/borgmatic/pass\n";
        let d = parse_borgmatic(Path::new("/c.yaml"), f).unwrap();
        assert_eq!(d.repos[0].name, "main");
        assert_eq!(d.repos[0].encryption.value, DeclaredEncryption::Off);
        assert!(
            matches!(&d.secrets[0].source, SecretSource::Command { reads, .. } if reads[0] == Path::new("/etc/borgmatic/pass"))
        );
    }

    #[test]
    fn malformed_yaml_has_file_and_line() {
        let err = parse_borgmatic(
            Path::new("/etc/borgmatic/config.yaml"),
            "location:\n  repositories:\n   - /a\n  - /b: [\n",
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("/etc/borgmatic/config.yaml:"), "{err}");
        assert!(err.location().unwrap().line >= 3);
    }
}
