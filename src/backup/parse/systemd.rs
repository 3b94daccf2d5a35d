//! systemd unit files: the settings that carry or point at backup secrets.
use super::env::{valid_key, EnvEntry};
use super::shell::split_words;
use crate::backup::error::{BackupError, Result};
use crate::backup::secret::Secret;
use std::path::{Path, PathBuf};

/// `EnvironmentFile=`; `optional` for the `-` prefix (missing file is no error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvFileRef {
    pub path: PathBuf,
    pub optional: bool,
    pub line: usize,
}

/// One `Exec*=` command line, split into words (secrets may be among them).
#[derive(Clone, PartialEq, Eq)]
pub struct ExecLine {
    pub key: String,
    pub argv: Vec<Secret>,
    pub line: usize,
}

impl std::fmt::Debug for ExecLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // argv may hold a password; print only its shape
        write!(f, "ExecLine({} at line {}, {} words)", self.key, self.line, self.argv.len())
    }
}

/// What a unit declares that matters for backup secrets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unit {
    pub env_files: Vec<EnvFileRef>,
    /// `Environment=` assignments in order; values may be secrets.
    pub environment: Vec<EnvEntry>,
    pub exec: Vec<ExecLine>,
    /// `User=` of `[Service]`, the run-as account (root when absent).
    pub user: Option<(String, usize)>,
    /// `LoadCredential=`/`LoadCredentialEncrypted=` names: the recommended way.
    pub credentials: Vec<(String, usize)>,
}

pub fn parse_unit(file: &Path, text: &str) -> Result<Unit> {
    let mut unit = Unit::default();
    let mut section: Option<String> = None;
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let start = i + 1;
        let mut logical = lines[i].trim().to_string();
        // a trailing backslash continues the setting on the next line
        while logical.ends_with('\\') && i + 1 < lines.len() {
            logical.pop();
            i += 1;
            logical.push(' ');
            logical.push_str(lines[i].trim());
        }
        i += 1;
        if logical.is_empty() || logical.starts_with('#') || logical.starts_with(';') {
            continue;
        }
        if logical.starts_with('[') {
            if !logical.ends_with(']') || logical.len() < 3 {
                return Err(BackupError::syntax(file, start, 1, "malformed section header", "write it as [Service]"));
            }
            section = Some(logical[1..logical.len() - 1].to_string());
            continue;
        }
        let Some((key, value)) = logical.split_once('=') else {
            return Err(BackupError::syntax(
                file,
                start,
                1,
                "expected Key=value",
                "systemd settings are Key=value lines inside a [Section]",
            ));
        };
        if section.is_none() {
            return Err(BackupError::syntax(file, start, 1, "setting before any [Section]", "put it under [Service]"));
        }
        let (key, value) = (key.trim(), value.trim());
        let syntax = |col: usize, what: &str| {
            let off = lines[start - 1].find('=').map_or(0, |p| p + 1);
            BackupError::syntax(
                file,
                start,
                off + col,
                what,
                "close the quote; quote each whole assignment, e.g. \"A=1 2\"",
            )
        };
        match key {
            "EnvironmentFile" if value.is_empty() => unit.env_files.clear(),
            "EnvironmentFile" => {
                let (optional, p) = match value.strip_prefix('-') {
                    Some(p) => (true, p),
                    None => (false, value),
                };
                unit.env_files.push(EnvFileRef { path: PathBuf::from(p.trim()), optional, line: start });
            }
            "Environment" if value.is_empty() => unit.environment.clear(),
            "Environment" => {
                for word in split_words(value).map_err(|e| syntax(e.column, e.what))? {
                    let Some((k, v)) = word.split_once('=') else {
                        return Err(syntax(1, "Environment= word without '='"));
                    };
                    if !valid_key(k) {
                        return Err(syntax(1, "invalid variable name in Environment="));
                    }
                    unit.environment.push(EnvEntry { key: k.into(), value: Secret::new(v), line: start });
                }
            }
            "User" if section.as_deref() == Some("Service") => unit.user = Some((value.to_string(), start)),
            "LoadCredential" | "LoadCredentialEncrypted" => {
                let name = value.split(':').next().unwrap_or(value);
                unit.credentials.push((name.to_string(), start));
            }
            k if k.starts_with("Exec") && !value.is_empty() => {
                // `-@:+!` prefixes change how systemd runs it, not what it runs
                let cmd = value.trim_start_matches(['-', '@', ':', '+', '!']);
                let argv = split_words(cmd).map_err(|e| syntax(e.column, e.what))?;
                unit.exec.push(ExecLine {
                    key: k.to_string(),
                    argv: argv.into_iter().map(Secret::new).collect(),
                    line: start,
                });
            }
            _ => {}
        }
    }
    Ok(unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNIT: &str = "[Unit]\nDescription=restic\n\n[Service]\nUser=backup\nEnvironmentFile=-/etc/restic/odoo.env\nEnvironmentFile=/etc/restic/aws.env\nEnvironment=\"RESTIC_PASSWORD=hunter 2\" RESTIC_CACHE_DIR=/var/cache/restic\nExecStart=/usr/bin/restic backup \\\n  --password-command 'echo x' /srv\n";

    #[test]
    fn reads_env_files_environment_and_exec() {
        let u = parse_unit(Path::new("/u.service"), UNIT).unwrap();
        assert_eq!(u.env_files.len(), 2);
        assert!(u.env_files[0].optional && !u.env_files[1].optional);
        assert_eq!(u.env_files[0].path, PathBuf::from("/etc/restic/odoo.env"));
        assert_eq!(u.environment[0].key, "RESTIC_PASSWORD");
        assert_eq!(u.environment[0].value.expose(), "hunter 2");
        assert_eq!(u.environment[0].line, 8);
        assert_eq!(u.environment[1].key, "RESTIC_CACHE_DIR");
        let e = &u.exec[0];
        assert_eq!(e.line, 9);
        let words: Vec<&str> = e.argv.iter().map(|s| s.expose()).collect();
        assert_eq!(words, vec!["/usr/bin/restic", "backup", "--password-command", "echo x", "/srv"]);
        assert_eq!(u.user, Some(("backup".into(), 5)));
        assert!(!format!("{u:?}").contains("hunter"));
    }

    #[test]
    fn malformed_units_give_file_and_line() {
        let err = parse_unit(Path::new("/u"), "[Service]\nExecStart=/bin/x 'open\n").unwrap_err();
        assert_eq!(err.location().unwrap().line, 2);
        let err = parse_unit(Path::new("/u"), "Environment=A=1\n").unwrap_err();
        assert!(err.to_string().contains("/u:1"), "{err}");
        let err = parse_unit(Path::new("/u"), "[Service]\nnonsense\n").unwrap_err();
        assert!(err.to_string().contains("/u:2"), "{err}");
    }
}
