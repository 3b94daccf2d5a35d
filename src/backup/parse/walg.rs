//! WAL-G JSON config (`/etc/wal-g/config.json`, `~/.walg.json`): flat env-style keys.
//! No key configured means WAL-G uploads plaintext.
use super::values::inline_or_ref;
use crate::backup::error::{BackupError, Result};
use crate::backup::location::is_templated;
use crate::backup::model::*;
use std::path::{Path, PathBuf};

/// Storage prefixes, in WAL-G's order of precedence.
const PREFIXES: &[(&str, &str)] = &[
    ("WALG_S3_PREFIX", "s3"),
    ("WALE_S3_PREFIX", "s3"),
    ("WALG_GS_PREFIX", "gs"),
    ("WALG_AZ_PREFIX", "azure"),
    ("WALG_SWIFT_PREFIX", "swift"),
    ("WALG_SSH_PREFIX", "ssh"),
    ("WALG_FILE_PREFIX", "file"),
];

pub fn parse_walg(file: &Path, text: &str) -> Result<BackupDecl> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        BackupError::syntax(
            file,
            e.line(),
            e.column(),
            format!("invalid JSON: {e}"),
            "fix the JSON (commas, quotes, braces) at this position",
        )
    })?;
    let Some(obj) = v.as_object() else {
        return Err(BackupError::syntax(
            file,
            1,
            1,
            "top level is not a JSON object",
            "WAL-G expects {\"WALG_...\": \"value\", ...}",
        ));
    };
    let line_of = |key: &str| {
        let needle = format!("\"{key}\"");
        text.find(&needle).map_or(1, |off| text[..off].matches('\n').count() + 1)
    };
    let val = |key: &str| obj.get(key).map(|v| v.as_str().map(String::from).unwrap_or_else(|| v.to_string()));
    let mut decl = BackupDecl::new(Tool::WalG, file);

    let mut cipher = None;
    for (key, kind, purpose, is_file) in [
        ("WALG_LIBSODIUM_KEY", "libsodium", SecretPurpose::EncryptionKey, false),
        ("WALG_LIBSODIUM_KEY_PATH", "libsodium", SecretPurpose::EncryptionKey, true),
        ("WALG_PGP_KEY", "pgp", SecretPurpose::EncryptionKey, false),
        ("WALG_PGP_KEY_PATH", "pgp", SecretPurpose::EncryptionKey, true),
        ("WALG_PGP_KEY_PASSPHRASE", "pgp", SecretPurpose::EncryptionKey, false),
        ("WALG_ENVELOPE_PGP_KEY", "envelope-pgp", SecretPurpose::EncryptionKey, false),
        ("WALG_ENVELOPE_PGP_KEY_PATH", "envelope-pgp", SecretPurpose::EncryptionKey, true),
        ("AWS_SECRET_ACCESS_KEY", "", SecretPurpose::StorageCredential, false),
        ("AZURE_STORAGE_ACCESS_KEY", "", SecretPurpose::StorageCredential, false),
        ("GOOGLE_APPLICATION_CREDENTIALS", "", SecretPurpose::StorageCredential, true),
    ] {
        let Some(v) = val(key).filter(|v| !v.is_empty()) else {
            continue;
        };
        let source = if is_file { SecretSource::File { path: PathBuf::from(&v) } } else { inline_or_ref(&v) };
        let at = loc(file, line_of(key));
        if !kind.is_empty() && cipher.is_none() {
            cipher = Some((kind, at.clone()));
        }
        decl.secrets.push(SecretDecl { purpose, key: key.into(), source, at: Some(at) });
    }
    for key in ["YC_CSE_KMS_KEY_ID", "WALG_GPG_KEY_ID"] {
        if cipher.is_none() && val(key).is_some_and(|v| !v.is_empty()) {
            cipher = Some((if key.starts_with("YC") { "yc-kms" } else { "pgp" }, loc(file, line_of(key))));
        }
    }
    if let Some(t) = val("WALG_LIBSODIUM_KEY_TRANSFORM") {
        decl.notes.push(Fact::at(
            format!("WALG_LIBSODIUM_KEY_TRANSFORM={t}"),
            loc(file, line_of("WALG_LIBSODIUM_KEY_TRANSFORM")),
        ));
    }
    let encryption = match cipher {
        Some((c, at)) => Fact::at(DeclaredEncryption::Cipher { cipher: c.into() }, at),
        None => Fact::default_value(DeclaredEncryption::Off),
    };
    let (raw, scheme, line) =
        PREFIXES.iter().find_map(|(k, s)| val(k).map(|v| (v, *s, line_of(k)))).unwrap_or_default();
    let location = if raw.is_empty() {
        RepoLocation::Unresolved { raw, reason: "no WALG_*_PREFIX in this file (from the environment?)".into() }
    } else if is_templated(&raw) {
        RepoLocation::Unresolved { raw, reason: "set through interpolation at run time".into() }
    } else if scheme == "file" {
        RepoLocation::Local { path: PathBuf::from(raw.trim_start_matches("file://")) }
    } else {
        RepoLocation::Remote { url: raw, scheme: scheme.into() }
    };
    decl.repos.push(DeclaredRepo {
        name: "storage".into(),
        location: if line > 0 { Fact::at(location, loc(file, line)) } else { Fact::default_value(location) },
        encryption,
        storage_type: (!scheme.is_empty()).then(|| scheme.to_string()),
        stanzas: Vec::new(),
    });
    Ok(decl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_path_means_libsodium_and_no_key_means_off() {
        let t = "{\n  \"WALG_S3_PREFIX\": \"s3://b/p\",\n  \"WALG_LIBSODIUM_KEY_PATH\": \"/etc/wal-g/sodium.key\",\n  \"WALG_LIBSODIUM_KEY_TRANSFORM\": \"hex\"\n}\n";
        let d = parse_walg(Path::new("/etc/wal-g/config.json"), t).unwrap();
        assert_eq!(d.repos[0].encryption.value, DeclaredEncryption::Cipher { cipher: "libsodium".into() });
        assert_eq!(d.repos[0].encryption.at.as_ref().unwrap().line, 3);
        assert!(matches!(d.repos[0].location.value, RepoLocation::Remote { .. }));
        assert!(
            matches!(&d.secrets[0].source, SecretSource::File { path } if path == Path::new("/etc/wal-g/sodium.key"))
        );
        let d = parse_walg(Path::new("/c.json"), "{\"WALG_FILE_PREFIX\": \"/srv/walg\"}").unwrap();
        assert_eq!(d.repos[0].encryption.value, DeclaredEncryption::Off);
        assert_eq!(d.repos[0].location.value, RepoLocation::Local { path: "/srv/walg".into() });
    }

    #[test]
    fn bad_json_has_line() {
        let err = parse_walg(Path::new("/etc/wal-g/config.json"), "{\n \"A\": \"x\",\n \"B\" \"y\"\n}").unwrap_err();
        assert_eq!(err.location().unwrap().line, 3, "{err}");
    }
}
