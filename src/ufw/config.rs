//! /etc/ufw/ufw.conf and /etc/default/ufw: read like ufw's `_get_defaults`,
//! edited like its `set_default` (replace the `KEY=` lines, keep the rest).
use std::collections::BTreeMap;

/// A shell-style settings file and what ufw's Python side reads from it.
#[derive(Debug, Clone, Default)]
pub struct SettingsFile {
    pub text: String,
    /// Lowercased key -> (raw value as written, line number).
    pub raw: BTreeMap<String, (String, usize)>,
}

impl SettingsFile {
    pub fn parse(text: &str) -> SettingsFile {
        let mut raw = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            // ufw matches ^\w+="?\w+"? and splits on '='.
            let Some((k, v)) = line.trim().split_once('=') else {
                continue;
            };
            if k.is_empty() || !k.chars().all(|c| c.is_alphanumeric() || c == '_') || line.starts_with([' ', '\t']) {
                continue;
            }
            let v = v.split('=').next().unwrap_or("");
            let first = v.trim_start_matches('"');
            if first.is_empty() || !first.chars().next().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            raw.insert(k.to_lowercase(), (v.to_string(), i + 1));
        }
        SettingsFile { text: text.to_string(), raw }
    }

    /// The value as ufw's Python reads it: lowercased, quotes stripped.
    pub fn get(&self, key: &str) -> Option<String> {
        self.raw.get(&key.to_lowercase()).map(|(v, _)| v.to_lowercase().trim_matches(['"', '\'']).to_string())
    }

    /// The value exactly as written.
    pub fn get_raw(&self, key: &str) -> Option<&str> {
        self.raw.get(&key.to_lowercase()).map(|(v, _)| v.as_str())
    }

    pub fn line_of(&self, key: &str) -> Option<usize> {
        self.raw.get(&key.to_lowercase()).map(|(_, l)| *l)
    }

    /// ufw's set_default: every line starting with `KEY=` becomes
    /// `KEY=VALUE`; appended when absent.
    pub fn set(&mut self, key: &str, value: &str) {
        let mut out = String::with_capacity(self.text.len() + 32);
        let mut found = false;
        let prefix = format!("{key}=");
        for line in self.text.split_inclusive('\n') {
            if line.starts_with(&prefix) {
                out.push_str(&format!("{key}={value}\n"));
                found = true;
            } else {
                out.push_str(line);
            }
        }
        if !found {
            // ufw would glue the line onto an unterminated last line; do not.
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&format!("{key}={value}\n"));
        }
        *self = SettingsFile::parse(&out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_edits_like_ufw() {
        let mut f = SettingsFile::parse("# c\nIPV6=yes\nDEFAULT_INPUT_POLICY=\"DROP\"\nX='a'\n");
        assert_eq!(f.get("default_input_policy").as_deref(), Some("drop"));
        assert_eq!(f.get_raw("DEFAULT_INPUT_POLICY"), Some("\"DROP\""));
        assert_eq!(f.get("X"), None, "single quotes do not match ufw's pattern");
        f.set("DEFAULT_INPUT_POLICY", "\"REJECT\"");
        assert_eq!(f.text, "# c\nIPV6=yes\nDEFAULT_INPUT_POLICY=\"REJECT\"\nX='a'\n");
        f.set("LOGLEVEL", "low");
        assert!(f.text.ends_with("LOGLEVEL=low\n"));
    }
}
