//! pgBackRest's INI dialect: `[section]`, `key=value`, `#` comment lines. Values are
//! taken verbatim (no quote removal), as pgBackRest does.
use crate::backup::error::{BackupError, Result};
use crate::backup::secret::Secret;
use std::path::{Path, PathBuf};

/// One `key=value` with the file and line it came from. The value may be a cipher pass,
/// so it is held redacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniEntry {
    pub section: String,
    pub key: String,
    pub value: Secret,
    pub file: PathBuf,
    pub line: usize,
}

pub fn parse_ini(file: &Path, text: &str) -> Result<Vec<IniEntry>> {
    let mut out = Vec::new();
    let mut section: Option<String> = None;
    for (idx, raw) in text.lines().enumerate() {
        let line = idx + 1;
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let err = |what: &str, hint: &str| BackupError::syntax(file, line, 1, what, hint);
        if let Some(rest) = t.strip_prefix('[') {
            let Some(name) = rest.strip_suffix(']') else {
                return Err(err("section header does not end with ']'", "write it as [global] or [stanza]"));
            };
            if name.trim().is_empty() {
                return Err(err("empty section name", "name the section, e.g. [global]"));
            }
            section = Some(name.trim().to_string());
            continue;
        }
        let Some(sec) = &section else {
            return Err(err("key/value found outside of section", "put options under [global] or a [stanza] section"));
        };
        let Some((k, v)) = t.split_once('=') else {
            return Err(err("missing '=' in key/value", "options are written key=value"));
        };
        let k = k.trim();
        if k.is_empty() {
            return Err(err("key is zero-length", "write the option name before '='"));
        }
        out.push(IniEntry {
            section: sec.clone(),
            key: k.to_string(),
            value: Secret::new(v.trim()),
            file: file.to_path_buf(),
            line,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_reports_lines() {
        let e = parse_ini(Path::new("/p.conf"), "# c\n[global]\nrepo1-path = /r\n\n[main]\npg1-path=/d\n").unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(
            (e[0].section.as_str(), e[0].key.as_str(), e[0].value.expose(), e[0].line),
            ("global", "repo1-path", "/r", 3)
        );
        for (text, line) in [("a=1\n", 1), ("[global]\nrepo1-path\n", 2), ("[global\n", 1), ("[global]\n=x\n", 2)] {
            let err = parse_ini(Path::new("/etc/pgbackrest/pgbackrest.conf"), text).unwrap_err();
            assert_eq!(err.location().unwrap().line, line, "{err}");
            assert!(err.to_string().starts_with("/etc/pgbackrest/pgbackrest.conf:"));
        }
    }
}
