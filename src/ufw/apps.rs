//! Application profiles (/etc/ufw/applications.d/*), read as ufw's
//! applications.get_profiles does: sorted files, INI sections, `ports=`.
use std::collections::BTreeMap;

use super::ports::Services;

#[derive(Debug, Clone, Default)]
pub struct Apps {
    /// Profile name -> list of "port[/proto]" specs from `ports=a|b`.
    pub profiles: BTreeMap<String, Vec<String>>,
}

/// ufw's valid_profile_name.
pub fn valid_name(name: &str) -> bool {
    if name == "all" || name.parse::<i64>().is_ok() {
        return false;
    }
    let mut cs = name.chars();
    cs.next().is_some_and(|c| c.is_ascii_alphanumeric()) && cs.all(|c| c.is_ascii_alphanumeric() || " _-.+".contains(c))
}

impl Apps {
    /// `files` are (file name, text) pairs from the directory.
    pub fn parse(mut files: Vec<(String, String)>, services: &Services) -> Apps {
        files.sort();
        let mut profiles = BTreeMap::new();
        for (name, text) in files {
            if name.starts_with('.')
                || [".dpkg-new", ".dpkg-old", ".dpkg-dist", ".rpmnew", ".rpmsave", "~"]
                    .iter()
                    .any(|s| name.ends_with(s))
            {
                continue;
            }
            let mut section: Option<String> = None;
            let mut fields: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
            for line in text.lines() {
                let t = line.trim();
                if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
                    continue;
                }
                if t.starts_with('[') && t.ends_with(']') {
                    let s = t[1..t.len() - 1].to_string();
                    fields.entry(s.clone()).or_default();
                    section = Some(s);
                } else if let Some(sec) = &section {
                    let (k, v) = match (t.find('='), t.find(':')) {
                        (Some(a), Some(b)) => t.split_at(a.min(b)),
                        (Some(a), None) | (None, Some(a)) => t.split_at(a),
                        _ => continue,
                    };
                    let entry = fields.entry(sec.clone()).or_default();
                    entry.insert(k.trim().to_lowercase(), v[1..].trim().to_string());
                }
            }
            for (p, f) in fields {
                if p.len() > 64 || !valid_name(&p) || services.contains(&p) {
                    continue;
                }
                let (Some(_), Some(_), Some(ports)) = (f.get("title"), f.get("description"), f.get("ports")) else {
                    continue;
                };
                if ports.is_empty() {
                    continue;
                }
                profiles.insert(p, ports.split('|').map(str::to_string).collect());
            }
        }
        Apps { profiles }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_profiles() {
        let files = vec![(
            "openssh-server".to_string(),
            "[OpenSSH]\ntitle=Secure shell\ndescription=x\nports=22/tcp\n\n[WWW Full]\ntitle=w\ndescription=d\nports=80,443/tcp\n".to_string(),
        )];
        let a = Apps::parse(files, &Services::default());
        assert_eq!(a.profiles["OpenSSH"], vec!["22/tcp"]);
        assert_eq!(a.profiles["WWW Full"], vec!["80,443/tcp"]);
        assert!(!valid_name("80"));
        assert!(!valid_name("all"));
    }
}
