//! A restic backup set from systemd units and env files: follows `EnvironmentFile=`,
//! reports `Environment=` and command-line secrets, reads `RESTIC_REPOSITORY_FILE`.
use super::error::Result;
use super::findings::{Check, Finding, Severity};
use super::fsroot::Root;
use super::model::*;
use super::parse::argv::{is_secret_var, scan_argv, ArgFinding};
use super::parse::env::{parse_env, EnvEntry};
use super::parse::restic;
use super::parse::systemd::parse_unit;
use std::path::{Path, PathBuf};

/// restic from units and env files; unit-level findings (Environment=, argv) go to `findings`.
pub fn load_restic(
    root: &Root,
    env_files: &[PathBuf],
    units: &[PathBuf],
    findings: &mut Vec<Finding>,
) -> Result<BackupDecl> {
    let mut sources: Vec<(PathBuf, Vec<EnvEntry>)> = Vec::new();
    let mut extra = Vec::new();
    let mut files: Vec<(PathBuf, Option<(PathBuf, usize)>)> = env_files.iter().map(|f| (f.clone(), None)).collect();
    let mut unit_files = Vec::new();
    for u in units {
        unit_files.push(u.clone());
        unit_files.extend(drop_ins(root, u));
    }
    for unit_path in &unit_files {
        // a unit this host lacks is a finding, like a missing config (profiles are shared)
        let text = match root.read_to_string(unit_path) {
            Ok(t) => t,
            Err(e) if e.is_not_found() => {
                findings.push(Finding {
                    check: Check::SecretFileMissing,
                    severity: Severity::Medium,
                    path: unit_path.clone(),
                    at: None,
                    message: format!("unit {} does not exist on this host", unit_path.display()),
                    remedy: "install the unit, or remove it from this entry's units in the profile".into(),
                    auto_fixable: false,
                });
                continue;
            }
            Err(e) => return Err(e),
        };
        let unit = parse_unit(unit_path, &text)?;
        for e in unit.environment.iter().filter(|e| is_secret_var(&e.key) && !e.value.is_empty()) {
            findings.push(Finding {
                check: Check::SecretInEnvironment,
                severity: Severity::Medium,
                path: unit_path.clone(),
                at: Some(loc(unit_path, e.line)),
                message: format!("{} is set with Environment=; unit environments are visible over D-Bus and inherited by child processes", e.key),
                remedy: "move it to an EnvironmentFile= (mode 0600) or LoadCredential=, then daemon-reload".into(),
                auto_fixable: false,
            });
        }
        sources.push((unit_path.clone(), unit.environment.clone()));
        for ef in &unit.env_files {
            if ef.optional && !root.exists(&ef.path) {
                continue;
            }
            files.push((ef.path.clone(), Some((unit_path.clone(), ef.line))));
        }
        for exec in &unit.exec {
            let words: Vec<&str> = exec.argv.iter().map(|w| w.expose()).collect();
            for f in scan_argv(&words) {
                let at = Some(loc(unit_path, exec.line));
                match f {
                    ArgFinding::Inline { what, .. } | ArgFinding::LiteralCommand { what, .. } => findings.push(Finding {
                        check: Check::SecretOnCommandLine,
                        severity: Severity::High,
                        path: unit_path.clone(),
                        at,
                        message: format!("{}= passes a secret on the command line ({what}); /proc/PID/cmdline is readable by every local user", exec.key),
                        remedy: "read it from a 0600 file instead (--password-file / RESTIC_PASSWORD_FILE in an EnvironmentFile=)".into(),
                        auto_fixable: false,
                    }),
                    ArgFinding::PasswordFile { what, path } => extra.push(SecretDecl { purpose: SecretPurpose::RepoPassword, key: what, source: SecretSource::File { path }, at }),
                    ArgFinding::Command { what, command, reads } => extra.push(SecretDecl { purpose: SecretPurpose::RepoPassword, key: what, source: SecretSource::Command { command, reads }, at }),
                }
            }
        }
    }
    for (path, referenced) in &files {
        match root.read_to_string(path) {
            Ok(text) => sources.push((path.clone(), parse_env(path, &text)?)),
            Err(e) => match referenced {
                // a unit names a file that is not there: systemd refuses to start it
                Some((unit, line)) => findings.push(Finding {
                    check: Check::SecretFileMissing,
                    severity: Severity::Medium,
                    path: path.clone(),
                    at: Some(loc(unit, *line)),
                    message: format!("EnvironmentFile= {e}"),
                    remedy: "create the file (mode 0600) or prefix the path with '-' if it is optional".into(),
                    auto_fixable: false,
                }),
                None => return Err(e),
            },
        }
    }
    let main = units.first().or(env_files.first()).cloned().unwrap_or_default();
    let refs: Vec<(&Path, &[EnvEntry])> = sources.iter().map(|(p, e)| (p.as_path(), e.as_slice())).collect();
    let mut decl = restic::restic_from_sources(&main, &refs);
    if !extra.is_empty() {
        // argv sources replace the "from the environment" placeholder
        decl.secrets.retain(|s| !matches!(s.source, SecretSource::Environment { .. }));
        decl.secrets.extend(extra);
    }
    resolve_repository_file(root, &mut decl, &sources);
    Ok(decl)
}

/// Directories systemd reads `UNIT.d/*.conf` drop-ins from (what `systemctl edit` writes).
pub const DROP_IN_DIRS: &[&str] =
    &["/etc/systemd/system", "/run/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"];

/// Drop-ins of `unit` in systemd's order: by file name, a name in /etc hiding the same
/// name in /run and /lib; the unit's own directory is searched as well.
pub fn drop_ins(root: &Root, unit: &Path) -> Vec<PathBuf> {
    let Some(name) = unit.file_name().and_then(|n| n.to_str()) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = DROP_IN_DIRS.iter().map(PathBuf::from).collect();
    if let Some(parent) = unit.parent() {
        if !dirs.iter().any(|d| d == parent) {
            dirs.insert(0, parent.to_path_buf());
        }
    }
    let mut by_name: std::collections::BTreeMap<String, PathBuf> = std::collections::BTreeMap::new();
    for d in dirs {
        let dir = d.join(format!("{name}.d"));
        for n in root.list_dir(&dir).unwrap_or_default() {
            if n.ends_with(".conf") {
                by_name.entry(n.clone()).or_insert_with(|| dir.join(n));
            }
        }
    }
    by_name.into_values().collect()
}

/// Whether `file` is a drop-in (`UNIT.d/*.conf`) of one of `units`.
pub fn is_drop_in_of(file: &Path, units: &[&PathBuf]) -> bool {
    let Some(dir) = file.parent().and_then(|d| d.file_name()).and_then(|n| n.to_str()) else {
        return false;
    };
    units.iter().any(|u| u.file_name().and_then(|n| n.to_str()).is_some_and(|n| dir == format!("{n}.d")))
}

/// `RESTIC_REPOSITORY_FILE=PATH`: the location is the first line of PATH (read locally).
fn resolve_repository_file(root: &Root, decl: &mut BackupDecl, sources: &[(PathBuf, Vec<EnvEntry>)]) {
    if sources.iter().any(|(_, e)| e.iter().any(|e| e.key == "RESTIC_REPOSITORY")) {
        return;
    }
    let Some((_, entry)) =
        sources.iter().rev().find_map(|(f, e)| super::parse::env::last(e, "RESTIC_REPOSITORY_FILE").map(|e| (f, e)))
    else {
        return;
    };
    let path = PathBuf::from(entry.value.expose());
    let Ok(text) = root.read_to_string(&path) else {
        return;
    };
    let line = text.lines().next().unwrap_or_default().trim();
    if let Some(repo) = decl.repos.first_mut() {
        repo.location = Fact::at(super::location::classify(line), loc(&path, 1));
    }
    if super::parse::argv::has_url_password(line) {
        decl.secrets.push(SecretDecl {
            purpose: SecretPurpose::StorageCredential,
            key: "RESTIC_REPOSITORY_FILE (URL password)".into(),
            source: SecretSource::Inline { value: super::secret::Secret::new(line) },
            at: Some(loc(&path, 1)),
        });
    }
}
