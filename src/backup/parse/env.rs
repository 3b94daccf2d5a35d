//! `KEY=value` environment files (restic `*.env`, systemd `EnvironmentFile=`).
//!
//! Accepts `export KEY=...`, single/double quotes, `#` comments and a trailing
//! ` # comment` after an unquoted value, as both `sh` and systemd read them.
use super::shell::split_words;
use crate::backup::error::{BackupError, Result};
use crate::backup::secret::Secret;
use std::path::Path;

/// One assignment. The value is held as a [`Secret`] because an env file mixes
/// repository URLs with passwords and keys; callers expose only what they know is public.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvEntry {
    pub key: String,
    pub value: Secret,
    pub line: usize,
}

pub fn parse_env(file: &Path, text: &str) -> Result<Vec<EnvEntry>> {
    let mut out = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let line = idx + 1;
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        let t = t.strip_prefix("export ").map(str::trim_start).unwrap_or(t);
        let Some((key, rest)) = t.split_once('=') else {
            return Err(BackupError::syntax(
                file,
                line,
                1,
                "expected KEY=value",
                "write one KEY=value assignment per line (comments start with #)",
            ));
        };
        let key = key.trim_end();
        if !valid_key(key) {
            return Err(BackupError::syntax(
                file,
                line,
                1,
                format!("invalid variable name {key:?}"),
                "names use letters, digits and _ and do not start with a digit",
            ));
        }
        let value = parse_value(rest).map_err(|(col, what)| {
            let offset = raw.find('=').unwrap_or(0) + 1;
            BackupError::syntax(file, line, offset + col, what, "close the quote on the same line")
        })?;
        out.push(EnvEntry { key: key.to_string(), value: Secret::new(value), line });
    }
    Ok(out)
}

pub fn valid_key(key: &str) -> bool {
    let mut c = key.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

/// The value after `=`: quoted words are unquoted; an unquoted value ends at ` #`.
fn parse_value(rest: &str) -> std::result::Result<String, (usize, &'static str)> {
    let r = rest.trim();
    if r.is_empty() {
        return Ok(String::new());
    }
    if !r.starts_with(['"', '\'']) {
        let cut = r.find(" #").map_or(r, |i| &r[..i]);
        return Ok(cut.trim_end().to_string());
    }
    let words = split_words(r).map_err(|e| (e.column, e.what))?;
    Ok(words.join(" "))
}

/// Look up the last assignment of `key` (later lines win, as in `sh`).
pub fn last<'a>(entries: &'a [EnvEntry], key: &str) -> Option<&'a EnvEntry> {
    entries.iter().rev().find(|e| e.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_common_forms() {
        let text = "# comment\nRESTIC_REPOSITORY=/srv/r # local\nexport RESTIC_PASSWORD_FILE='/etc/restic/pw'\nB=\"a b\"\nEMPTY=\n";
        let e = parse_env(Path::new("/x.env"), text).unwrap();
        assert_eq!(e.len(), 4);
        assert_eq!(e[0].value.expose(), "/srv/r");
        assert_eq!(e[1].key, "RESTIC_PASSWORD_FILE");
        assert_eq!(e[1].value.expose(), "/etc/restic/pw");
        assert_eq!(e[1].line, 3);
        assert_eq!(e[2].value.expose(), "a b");
        assert_eq!(e[3].value.expose(), "");
    }

    #[test]
    fn errors_carry_file_and_line() {
        let err = parse_env(Path::new("/etc/restic/a.env"), "A=1\nnot an assignment\n").unwrap_err();
        assert!(err.to_string().starts_with("/etc/restic/a.env:2:"), "{err}");
        let err = parse_env(Path::new("/e"), "A=1\n\nB=\"open\n").unwrap_err();
        assert_eq!(err.location().unwrap().line, 3);
        let err = parse_env(Path::new("/e"), "9X=1\n").unwrap_err();
        assert!(err.to_string().contains("invalid variable name"));
    }
}
