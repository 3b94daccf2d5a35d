//! Line-targeted edits of INI-style configs, and redaction of the texts shown in diffs.
//!
//! Only the targeted lines change; every other byte (comments, spacing, line endings,
//! a missing final newline) stays as it was, so the diff shows exactly the edit.
use super::secret::{is_type_setting, names_a_secret, REDACTED, SECRET_WORDS};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum EditOp {
    /// Replace the value after `=` on `line`, keeping the key and its spacing.
    SetValue { value: String },
    /// Insert a new line after `line` (0 = before the first line).
    InsertAfter { text: String },
}

/// One edit; `line` is 1-based and refers to the file the plan was made from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LineEdit {
    pub line: usize,
    #[serde(flatten)]
    pub op: EditOp,
}

/// Apply edits to the original text. Edits are applied from the bottom up so each
/// line number still means the line of the original file.
pub fn apply_edits(text: &str, edits: &[LineEdit]) -> Result<String, String> {
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    // inserted lines take the file's line ending (that of its first line)
    let nl = if lines.first().is_some_and(|l| l.ends_with("\r\n")) { "\r\n" } else { "\n" };
    let mut sorted: Vec<&LineEdit> = edits.iter().collect();
    sorted.sort_by_key(|e| std::cmp::Reverse(e.line));
    for e in sorted {
        match &e.op {
            EditOp::SetValue { value } => {
                let Some(l) = e.line.checked_sub(1).and_then(|i| lines.get_mut(i)) else {
                    return Err(format!("line {} does not exist", e.line));
                };
                let body = l.trim_end_matches(['\n', '\r']);
                let ending = l[body.len()..].to_string();
                let Some(eq) = body.find('=') else {
                    return Err(format!("line {} has no '='", e.line));
                };
                let after = &body[eq + 1..];
                let pad = &after[..after.len() - after.trim_start().len()];
                *l = format!("{}{pad}{value}{ending}", &body[..=eq]);
            }
            EditOp::InsertAfter { text } => {
                if e.line > lines.len() {
                    return Err(format!("line {} does not exist", e.line));
                }
                if e.line > 0 && !lines[e.line - 1].ends_with('\n') {
                    lines[e.line - 1].push_str(nl);
                }
                lines.insert(e.line, format!("{}{nl}", text.replace('\n', nl)));
            }
        }
    }
    Ok(lines.concat())
}

/// The text as shown in a diff: values of secret-looking keys and every known secret
/// value are replaced by `<redacted>`.
pub fn redact(text: &str, known: &[&str]) -> String {
    let mut out = String::with_capacity(text.len());
    for l in text.split_inclusive('\n') {
        let body = l.trim_end_matches(['\n', '\r']);
        if let Some(kept) = redact_comment(body) {
            out.push_str(&kept);
            out.push_str(&l[body.len()..]);
            continue;
        }
        match body.find('=') {
            // commented-out lines too: an old pass left in a comment is still a pass
            Some(eq) if names_a_secret(body[..eq].trim_start_matches(['#', ';', ' ', '\t'])) => {
                out.push_str(&body[..=eq]);
                out.push_str(REDACTED);
                out.push_str(&l[body.len()..]);
            }
            _ => out.push_str(l),
        }
    }
    for s in known.iter().filter(|s| s.len() >= 3) {
        out = out.replace(s, REDACTED);
    }
    out
}

/// A comment line (`#`/`;`) that mentions pass/secret/key/token/credential: whatever
/// follows that word (after spaces, `:` or `=`) is redacted, whatever its shape
/// (`# pass: X`, `#repo1-cipher-pass X`, `# key is X`). `None` for other lines.
fn redact_comment(body: &str) -> Option<String> {
    let t = body.trim_start();
    if !(t.starts_with('#') || t.starts_with(';')) {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    let start = SECRET_WORDS.iter().filter_map(|w| lower.find(w)).min()?;
    let word_end = body[start..]
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .map_or(body.len(), |i| start + i);
    // `*-type` settings in comments are not secrets
    if is_type_setting(&body[..word_end]) {
        return None;
    }
    let rest = &body[word_end..];
    let sep = rest.len() - rest.trim_start_matches([' ', '\t', ':', '=']).len();
    if rest[sep..].trim().is_empty() {
        return Some(body.to_string());
    }
    Some(format!("{}{REDACTED}", &body[..word_end + sep]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_touch_only_their_lines() {
        let text = "# c\n[global]\nrepo1-path = /r\nrepo1-cipher-type =  none\r\n[main]\npg1-path=/d";
        let out = apply_edits(
            text,
            &[
                LineEdit { line: 4, op: EditOp::SetValue { value: "aes-256-cbc".into() } },
                LineEdit { line: 6, op: EditOp::InsertAfter { text: "repo2-cipher-type=aes-256-cbc".into() } },
                LineEdit { line: 3, op: EditOp::InsertAfter { text: "x=1".into() } },
            ],
        )
        .unwrap();
        assert_eq!(
            out,
            "# c\n[global]\nrepo1-path = /r\nx=1\nrepo1-cipher-type =  aes-256-cbc\r\n[main]\npg1-path=/d\nrepo2-cipher-type=aes-256-cbc\n"
        );
        assert!(apply_edits("a=1\n", &[LineEdit { line: 3, op: EditOp::SetValue { value: "v".into() } }]).is_err());
    }

    #[test]
    fn redaction() {
        let t = "repo1-cipher-type=aes-256-cbc\nrepo1-cipher-pass=hunter22\nrepo1-s3-key-type=auto\nrepo1-s3-key-secret = abc\npath=/x/hunter22\n# repo1-cipher-pass=old-pass-9\n";
        let r = redact(t, &["hunter22"]);
        assert!(!r.contains("hunter22") && !r.contains("abc") && !r.contains("old-pass-9"), "{r}");
        assert!(r.contains("repo1-cipher-type=aes-256-cbc\n") && r.contains("repo1-s3-key-type=auto"));
        assert!(r.contains("repo1-cipher-pass=<redacted>\n"));
    }

    #[test]
    fn comment_redaction_covers_every_shape() {
        let t = "# pass: c-one-1\n#repo1-cipher-pass c-two-2\n; the key is c-three-3\n# token=c-four-4\n# plain comment\n# repo1-cipher-type=none\n#pass\n";
        let r = redact(t, &[]);
        for s in ["c-one-1", "c-two-2", "c-three-3", "c-four-4"] {
            assert!(!r.contains(s), "{s} in {r}");
        }
        assert!(r.contains("# pass: <redacted>\n") && r.contains("#repo1-cipher-pass <redacted>\n"), "{r}");
        assert!(
            r.contains("# plain comment\n") && r.contains("# repo1-cipher-type=none\n") && r.contains("#pass\n"),
            "{r}"
        );
    }

    #[test]
    fn crlf_files_get_crlf_inserted_lines() {
        let text = "[global]\r\nrepo1-path=/r\r\n";
        let out = apply_edits(
            text,
            &[LineEdit { line: 2, op: EditOp::InsertAfter { text: "repo1-cipher-type=aes-256-cbc".into() } }],
        )
        .unwrap();
        assert_eq!(out, "[global]\r\nrepo1-path=/r\r\nrepo1-cipher-type=aes-256-cbc\r\n");
        let out = apply_edits(
            "[main]\r\npg1-path=/d",
            &[LineEdit { line: 0, op: EditOp::InsertAfter { text: "[global]\nx=1".into() } }],
        )
        .unwrap();
        assert_eq!(out, "[global]\r\nx=1\r\n[main]\r\npg1-path=/d");
    }
}
