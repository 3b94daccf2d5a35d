//! restic settings from environment assignments (env files, systemd `Environment=`).
//! restic has no unencrypted format: only where the password comes from matters.
use super::argv::is_secret_var;
use super::env::{last, EnvEntry};
use super::values::command_source;
use crate::backup::location::classify;
use crate::backup::model::*;
use std::path::{Path, PathBuf};

/// True when the assignments configure restic at all.
pub fn mentions_restic(entries: &[EnvEntry]) -> bool {
    entries.iter().any(|e| e.key.starts_with("RESTIC_"))
}

/// Build the restic declaration of `entries` read from `file`.
pub fn restic_from_env(file: &Path, entries: &[EnvEntry]) -> BackupDecl {
    restic_from_sources(file, &[(file, entries)])
}

/// Like [`restic_from_env`] over several sources in the order the tool applies them
/// (later sources win: systemd applies `EnvironmentFile=` after `Environment=`).
pub fn restic_from_sources(main: &Path, sources: &[(&Path, &[EnvEntry])]) -> BackupDecl {
    let mut decl = BackupDecl::new(Tool::Restic, main);
    decl.files = sources.iter().map(|(f, _)| f.to_path_buf()).collect();
    for (file, entries) in sources {
        add_env_secrets(&mut decl, file, entries);
    }
    let find = |key: &str| sources.iter().rev().find_map(|(f, e)| last(e, key).map(|e| (*f, e)));
    let location = if let Some((file, e)) = find("RESTIC_REPOSITORY") {
        Fact::at(classify(e.value.expose()), loc(file, e.line))
    } else if let Some((file, e)) = find("RESTIC_REPOSITORY_FILE") {
        let reason = format!("read at run time from {}", e.value.expose());
        Fact::at(RepoLocation::Unresolved { raw: e.value.expose().into(), reason }, loc(file, e.line))
    } else {
        Fact::default_value(RepoLocation::Unresolved {
            raw: String::new(),
            reason: "RESTIC_REPOSITORY not set here".into(),
        })
    };
    decl.repos.push(DeclaredRepo {
        name: "restic".into(),
        location,
        encryption: Fact::default_value(DeclaredEncryption::Always),
        storage_type: None,
        stanzas: Vec::new(),
    });
    if !decl.secrets.iter().any(|s| s.purpose == SecretPurpose::RepoPassword) {
        decl.secrets.push(SecretDecl {
            purpose: SecretPurpose::RepoPassword,
            key: "RESTIC_PASSWORD".into(),
            source: SecretSource::Environment { var: "RESTIC_PASSWORD".into() },
            at: None,
        });
    }
    decl
}

/// Secrets among env assignments, for any tool (restic, borg, pgBackRest, clouds).
pub fn add_env_secrets(decl: &mut BackupDecl, file: &Path, entries: &[EnvEntry]) {
    for e in entries {
        let v = e.value.expose();
        let (purpose, source) = match e.key.as_str() {
            "RESTIC_PASSWORD_FILE" | "BORG_PASSPHRASE_FILE" => {
                (SecretPurpose::RepoPassword, SecretSource::File { path: PathBuf::from(v) })
            }
            "RESTIC_PASSWORD_COMMAND" | "BORG_PASSCOMMAND" => (SecretPurpose::RepoPassword, command_source(v)),
            "RESTIC_REPOSITORY" if super::argv::has_url_password(v) => (
                SecretPurpose::StorageCredential,
                SecretSource::Inline { value: crate::backup::secret::Secret::new(v) },
            ),
            "GOOGLE_APPLICATION_CREDENTIALS" => {
                (SecretPurpose::StorageCredential, SecretSource::File { path: PathBuf::from(v) })
            }
            k if is_secret_var(k) && !v.is_empty() => {
                let purpose = if matches!(k, "RESTIC_PASSWORD" | "BORG_PASSPHRASE") {
                    SecretPurpose::RepoPassword
                } else if k.contains("CIPHER") {
                    SecretPurpose::CipherPass
                } else if k.starts_with("WALG") {
                    SecretPurpose::EncryptionKey
                } else {
                    SecretPurpose::StorageCredential
                };
                (purpose, super::values::inline_or_ref(v))
            }
            _ => continue,
        };
        decl.secrets.push(SecretDecl { purpose, key: e.key.clone(), source, at: Some(loc(file, e.line)) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::parse::env::parse_env;

    #[test]
    fn env_file_declares_repo_and_password_source() {
        let f = Path::new("/etc/restic/odoo.env");
        let e = parse_env(
            f,
            "RESTIC_REPOSITORY=s3:s3.amazonaws.com/b\nRESTIC_PASSWORD_FILE=/etc/restic/pw\nAWS_SECRET_ACCESS_KEY=abc\n",
        )
        .unwrap();
        let d = restic_from_env(f, &e);
        assert!(matches!(d.repos[0].location.value, RepoLocation::Remote { .. }));
        assert_eq!(d.repos[0].encryption.value, DeclaredEncryption::Always);
        assert_eq!(d.secrets.len(), 2);
        assert!(matches!(&d.secrets[0].source, SecretSource::File { path } if path == Path::new("/etc/restic/pw")));
        assert_eq!(d.secrets[1].purpose, SecretPurpose::StorageCredential);
        let e = parse_env(f, "RESTIC_REPOSITORY=/srv/r\n").unwrap();
        let d = restic_from_env(f, &e);
        assert!(matches!(&d.secrets[0].source, SecretSource::Environment { .. }));
    }
}
