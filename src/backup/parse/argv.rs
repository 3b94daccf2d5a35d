//! Secrets on command lines. `/proc/PID/cmdline` is world-readable, so any secret in
//! argv leaks to every local user while the backup runs.
use super::shell::split_words;
use crate::backup::secret::Secret;
use std::path::PathBuf;

/// Environment variables whose value is a backup secret.
pub fn is_secret_var(key: &str) -> bool {
    const EXACT: &[&str] = &[
        "RESTIC_PASSWORD",
        "BORG_PASSPHRASE",
        "AWS_SECRET_ACCESS_KEY",
        "B2_ACCOUNT_KEY",
        "AZURE_ACCOUNT_KEY",
        "AZURE_ACCOUNT_SAS",
        "RESTIC_REST_PASSWORD",
        "OS_PASSWORD",
        "WALG_LIBSODIUM_KEY",
        "WALG_PGP_KEY",
        "WALG_PGP_KEY_PASSPHRASE",
        "PASSPHRASE",
        "SIGN_PASSPHRASE",
        "KOPIA_PASSWORD",
        "GPG_PW",
    ];
    EXACT.contains(&key)
        || (key.starts_with("PGBACKREST_REPO")
            && (key.ends_with("_CIPHER_PASS") || key.ends_with("_KEY_SECRET") || key.ends_with("_S3_TOKEN")))
}

/// Flags that take a secret value directly (never acceptable on a command line).
fn is_secret_flag(flag: &str) -> bool {
    matches!(flag, "--password" | "--passphrase" | "--cipher-pass" | "--key" | "--encryption-passphrase")
        || (flag.starts_with("--repo") && (flag.ends_with("-cipher-pass") || flag.ends_with("-key-secret")))
}

/// What a command-line word reveals.
#[derive(Debug, Clone, PartialEq)]
pub enum ArgFinding {
    /// A secret value is in argv (`--password=x`, `RESTIC_PASSWORD=x cmd`, `https://u:p@h`).
    Inline { what: String, value: Secret },
    /// `--password-command` whose command prints a literal (`echo hunter2`).
    LiteralCommand { what: String, command: Secret },
    /// `--password-file FILE` / `-p FILE`: fine, but FILE must be protected.
    PasswordFile { what: String, path: PathBuf },
    /// `--password-command CMD` reading files: fine, but those files must be protected.
    Command { what: String, command: Secret, reads: Vec<PathBuf> },
}

/// Scan one argv (already split); `sh -c '...'` strings are scanned too.
pub fn scan_argv(argv: &[&str]) -> Vec<ArgFinding> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < argv.len() {
        let w = argv[i];
        let (flag, inline_val) = match w.split_once('=') {
            Some((f, v)) if f.starts_with('-') => (f, Some(v)),
            _ => (w, None),
        };
        // the value is either after '=' or the next word
        let mut take = || -> Option<String> {
            if let Some(v) = inline_val {
                return Some(v.to_string());
            }
            i += 1;
            argv.get(i).map(|s| s.to_string())
        };
        if is_secret_flag(flag) {
            if let Some(v) = take() {
                out.push(ArgFinding::Inline { what: flag.to_string(), value: Secret::new(v) });
            }
        } else if flag == "--password-command" {
            if let Some(v) = take() {
                out.push(command_finding(flag, &v));
            }
        } else if flag == "--password-file" || flag == "-p" {
            if let Some(v) = take() {
                out.push(ArgFinding::PasswordFile { what: flag.to_string(), path: v.into() });
            }
        } else if matches!(w, "-c") && i > 0 && is_shell(argv[i - 1]) {
            if let Some(script) = argv.get(i + 1) {
                if let Ok(words) = split_words(script) {
                    let inner: Vec<&str> = words.iter().map(String::as_str).collect();
                    out.extend(scan_argv(&inner));
                }
                i += 1;
            }
        } else if let Some((k, v)) = w.split_once('=') {
            if is_secret_var(k) && !v.is_empty() {
                out.push(ArgFinding::Inline { what: k.to_string(), value: Secret::new(v) });
            }
        } else if has_url_password(w) {
            out.push(ArgFinding::Inline { what: "password in URL".into(), value: Secret::new(w) });
        }
        i += 1;
    }
    out
}

fn is_shell(w: &str) -> bool {
    matches!(w.rsplit('/').next(), Some("sh" | "bash" | "dash" | "zsh"))
}

fn command_finding(flag: &str, cmd: &str) -> ArgFinding {
    let (reads, literal) = command_reads(cmd);
    if literal {
        ArgFinding::LiteralCommand { what: flag.to_string(), command: Secret::new(cmd) }
    } else {
        ArgFinding::Command { what: flag.to_string(), command: Secret::new(cmd), reads }
    }
}

/// Files a password command visibly reads, and whether it prints a literal instead.
pub fn command_reads(cmd: &str) -> (Vec<PathBuf>, bool) {
    let words = split_words(cmd).unwrap_or_default();
    let Some(prog) = words.first() else {
        return (Vec::new(), false);
    };
    let base = prog.rsplit('/').next().unwrap_or(prog);
    if matches!(base, "echo" | "printf") {
        return (Vec::new(), true);
    }
    if is_shell(prog) {
        if let Some(pos) = words.iter().position(|w| w == "-c") {
            if let Some(script) = words.get(pos + 1) {
                return command_reads(script);
            }
        }
    }
    let reads = words[1..].iter().filter(|w| w.starts_with('/')).map(PathBuf::from).collect();
    (reads, false)
}

/// `scheme://user:password@host` (restic rest:, https:, sftp URLs).
pub fn has_url_password(w: &str) -> bool {
    let Some(pos) = w.find("://") else {
        return false;
    };
    let rest = &w[pos + 3..];
    let authority = rest.split('/').next().unwrap_or(rest);
    match authority.rsplit_once('@') {
        Some((userinfo, _)) => userinfo.split_once(':').is_some_and(|(_, p)| !p.is_empty()),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(s: &str) -> Vec<ArgFinding> {
        let words = split_words(s).unwrap();
        let v: Vec<&str> = words.iter().map(String::as_str).collect();
        scan_argv(&v)
    }

    #[test]
    fn finds_secrets_on_command_lines() {
        assert!(matches!(
            &scan("restic --password-command 'echo hunter2' backup")[..],
            [ArgFinding::LiteralCommand { .. }]
        ));
        assert!(
            matches!(&scan("env RESTIC_PASSWORD=x restic backup")[..], [ArgFinding::Inline { what, .. }] if what == "RESTIC_PASSWORD")
        );
        assert!(matches!(&scan("pgbackrest --repo1-cipher-pass=abc backup")[..], [ArgFinding::Inline { .. }]));
        assert!(matches!(&scan("restic -r rest:https://u:pw@h/ backup")[..], [ArgFinding::Inline { .. }]));
        assert!(matches!(&scan("/bin/sh -c 'restic --password x backup'")[..], [ArgFinding::Inline { .. }]));
        match &scan("restic -p /etc/restic/pw --password-command 'gpg -d /etc/r.gpg' backup")[..] {
            [ArgFinding::PasswordFile { path, .. }, ArgFinding::Command { reads, .. }] => {
                assert_eq!(path, &PathBuf::from("/etc/restic/pw"));
                assert_eq!(reads, &vec![PathBuf::from("/etc/r.gpg")]);
            }
            other => panic!("{other:?}"),
        }
        assert!(scan("restic -r /srv/r backup /home").is_empty());
        assert!(!has_url_password("https://user@host/x"));
    }
}
