//! Classify a repository string: local path, remote URL, or unresolved template.
use super::model::RepoLocation;
use super::secret::SECRET_WORDS;
use std::path::PathBuf;

/// URL schemes / prefixes of restic, borg, rclone and object stores that are not local.
const REMOTE_PREFIXES: &[&str] = &[
    "ssh://", "sftp:", "s3:", "s3://", "rest:", "b2:", "azure:", "gs:", "gs://", "swift:", "rclone:", "http://",
    "https://", "smb://", "ftp://",
];

/// True when `s` contains an interpolation the tool resolves at run time.
pub fn is_templated(s: &str) -> bool {
    s.contains("${") || s.contains("{{") || (s.starts_with('$') && s.len() > 1)
}

/// The variable name of `${VAR}`, `$VAR` or `{{ .Env.VAR }}` when `s` is only that.
pub fn template_var(s: &str) -> Option<String> {
    let t = s.trim();
    if let Some(inner) = t.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
        let name = inner.split([':', '-']).next().unwrap_or(inner);
        return Some(name.to_string());
    }
    if let Some(inner) = t.strip_prefix("{{").and_then(|r| r.strip_suffix("}}")) {
        let inner = inner.trim();
        return Some(inner.strip_prefix(".Env.").unwrap_or(inner).to_string());
    }
    let name = t.strip_prefix('$')?;
    (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')).then(|| name.to_string())
}

/// Classify a borg/restic style repository string.
pub fn classify(raw: &str) -> RepoLocation {
    let s = raw.trim();
    if s.is_empty() {
        return unresolved(s, "empty repository setting");
    }
    if is_templated(s) {
        return unresolved(s, "set through interpolation at run time");
    }
    if let Some(p) = s.strip_prefix("file://") {
        return RepoLocation::Local { path: p.into() };
    }
    // restic's "local:" backend prefix
    if let Some(p) = s.strip_prefix("local:") {
        return classify(p);
    }
    for pre in REMOTE_PREFIXES {
        if s.starts_with(pre) {
            return remote(s, pre.trim_end_matches("://").trim_end_matches(':'));
        }
    }
    if s.starts_with('/') {
        return RepoLocation::Local { path: PathBuf::from(s) };
    }
    // borg scp-style `user@host:path` / `host:path`: a ':' before the first '/'
    if let Some(colon) = s.find(':') {
        if !s[..colon].contains('/') {
            return remote(s, "ssh");
        }
    }
    unresolved(s, "relative path: resolved against the tool's working directory")
}

/// `scheme://user:pass@host/x` -> `scheme://user:<redacted>@host/x`, so a model or a
/// reason never carries a password that was embedded in a repository URL.
pub fn redact_url(url: &str) -> String {
    let url = &redact_query(url);
    if !crate::backup::parse::argv::has_url_password(url) {
        return url.to_string();
    }
    let pos = url.find("://").map_or(0, |p| p + 3);
    let (head, rest) = url.split_at(pos);
    let end = rest.find('/').unwrap_or(rest.len());
    let at = rest[..end].rfind('@').unwrap_or(0);
    let colon = rest[..at].find(':').unwrap_or(at);
    format!("{head}{}:{}{}", &rest[..colon], crate::backup::secret::REDACTED, &rest[at..])
}

/// `?token=X&sig=Y` -> values of query parameters whose name looks secret redacted.
fn redact_query(url: &str) -> String {
    let Some(q) = url.find('?') else {
        return url.to_string();
    };
    let params: Vec<String> = url[q + 1..]
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, v))
                if !v.is_empty() && {
                    let k = k.to_ascii_lowercase();
                    SECRET_WORDS.iter().chain(&["sig", "auth"]).any(|w| k.contains(w))
                } =>
            {
                format!("{k}={}", crate::backup::secret::REDACTED, k = k)
            }
            _ => p.to_string(),
        })
        .collect();
    format!("{}?{}", &url[..q], params.join("&"))
}

fn remote(url: &str, scheme: &str) -> RepoLocation {
    RepoLocation::Remote { url: redact_url(url), scheme: scheme.to_string() }
}

fn unresolved(raw: &str, reason: &str) -> RepoLocation {
    RepoLocation::Unresolved { raw: raw.to_string(), reason: reason.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(s: &str) -> String {
        match classify(s) {
            RepoLocation::Local { .. } => "local".into(),
            RepoLocation::Remote { scheme, .. } => format!("remote:{scheme}"),
            RepoLocation::Unresolved { .. } => "unresolved".into(),
        }
    }

    #[test]
    fn classifies_the_usual_forms() {
        assert_eq!(kind("/srv/borg"), "local");
        assert_eq!(kind("file:///srv/borg"), "local");
        assert_eq!(kind("local:/srv/r"), "local");
        assert_eq!(kind("ssh://u@h:22/./repo"), "remote:ssh");
        assert_eq!(kind("borguser@192.168.50.20:/srv/borg/x"), "remote:ssh");
        assert_eq!(kind("sftp:bk@host:/srv"), "remote:sftp");
        assert_eq!(kind("s3:s3.amazonaws.com/bucket"), "remote:s3");
        assert_eq!(kind("rest:http://h:8000/"), "remote:rest");
        assert_eq!(kind("rclone:b2c:restic/main"), "remote:rclone");
        assert_eq!(kind("${LOCAL_REPO}"), "unresolved");
        assert_eq!(kind("/mnt/borg/${NAME}"), "unresolved");
        assert_eq!(kind("repo.borg"), "unresolved");
        assert_eq!(template_var("${RESTIC_PASSWORD}").as_deref(), Some("RESTIC_PASSWORD"));
        assert_eq!(template_var("{{ .Env.RESTIC_PASSWORD_FILE }}").as_deref(), Some("RESTIC_PASSWORD_FILE"));
        assert_eq!(template_var("$X").as_deref(), Some("X"));
        assert_eq!(template_var("a$X"), None);
    }

    #[test]
    fn secret_query_parameters_are_redacted() {
        assert_eq!(redact_url("rest:https://h:8000/r?token=t0k3n-9&x=1"), "rest:https://h:8000/r?token=<redacted>&x=1");
        assert_eq!(redact_url("azure:c:/p?sig=abc&sv=2020"), "azure:c:/p?sig=<redacted>&sv=2020");
        assert_eq!(redact_url("s3:h/b?region=eu"), "s3:h/b?region=eu");
        // URL parameters add sig/auth to the secret words and have no `*_type` exception
        assert_eq!(redact_url("s3:h/b?auth=a1&key_type=k2"), "s3:h/b?auth=<redacted>&key_type=<redacted>");
    }
}
