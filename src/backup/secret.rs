//! A value that must never reach a log, a report or a terminal.
use serde::{Serialize, Serializer};
use std::fmt;

/// A secret value (passphrase, cipher pass, key, password command).
///
/// `Debug`, `Display` and `Serialize` all print `<redacted>`, so a model that holds
/// one can be dumped freely; only [`Secret::expose`] gives the value back.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

/// What every rendering of a [`Secret`] prints.
pub const REDACTED: &str = "<redacted>";

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The raw value; callers must not print it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Words that make a config key or comment name a secret (`repo1-cipher-pass`,
/// `repo1-s3-key-secret`, `RESTIC_PASSWORD`, `token`, ...), lower case.
pub const SECRET_WORDS: &[&str] = &["pass", "secret", "token", "key", "credential"];

/// Whether `name` is a `*-type`/`*_type` setting (`repo1-cipher-type`, `repo1-s3-key-type`):
/// it names a kind, not a secret, though it holds a secret word. Case as given.
pub fn is_type_setting(name: &str) -> bool {
    name.ends_with("-type") || name.ends_with("_type")
}

/// Whether an INI/env key names a secret: it holds one of [`SECRET_WORDS`] (any case) and
/// is no [`is_type_setting`]. Surrounding whitespace is ignored.
pub fn names_a_secret(key: &str) -> bool {
    let k = key.trim().to_ascii_lowercase();
    !is_type_setting(&k) && SECRET_WORDS.iter().any(|w| k.contains(w))
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rendering_is_redacted() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), REDACTED);
        assert_eq!(format!("{s:?}"), REDACTED);
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"<redacted>\"");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn secret_key_names_and_the_type_exception() {
        for k in [
            "repo1-cipher-pass",
            "repo1-s3-key-secret",
            " RESTIC_PASSWORD ",
            "B2_ACCOUNT_KEY",
            "token",
            "aws_credential_file",
        ] {
            assert!(names_a_secret(k), "{k}");
        }
        for k in
            ["repo1-cipher-type", "repo1-s3-key-type", "REPO1_S3_KEY_TYPE", "pass_type ", "repo1-path", "cipher", ""]
        {
            assert!(!names_a_secret(k), "{k}");
        }
        // the exception is a suffix only, and case-sensitive when asked directly
        assert!(names_a_secret("key-type-pass") && is_type_setting("x-type") && !is_type_setting("x-TYPE"));
    }
}
