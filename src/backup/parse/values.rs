//! Shared interpretation of secret-bearing values.
use crate::backup::location::{is_templated, template_var};
use crate::backup::model::SecretSource;
use crate::backup::parse::argv::command_reads;
use crate::backup::secret::Secret;

/// A value written where a secret is expected: interpolation, credential or literal.
pub fn inline_or_ref(value: &str) -> SecretSource {
    let v = value.trim();
    if v.starts_with("{credential") {
        return SecretSource::Credential { spec: v.to_string() };
    }
    if is_templated(v) {
        let var = template_var(v).unwrap_or_else(|| v.to_string());
        return SecretSource::Interpolated { var };
    }
    SecretSource::Inline { value: Secret::new(v) }
}

/// A password command: literal `echo`/`printf` commands count as inline secrets.
pub fn command_source(cmd: &str) -> SecretSource {
    let (reads, literal) = command_reads(cmd);
    if literal {
        SecretSource::Inline { value: Secret::new(cmd) }
    } else {
        SecretSource::Command { command: Secret::new(cmd), reads }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_references() {
        assert!(
            matches!(inline_or_ref("${ENCRYPTION_PASSPHRASE}"), SecretSource::Interpolated { var } if var == "ENCRYPTION_PASSPHRASE")
        );
        assert!(matches!(inline_or_ref("{credential systemd borg}"), SecretSource::Credential { .. }));
        assert!(matches!(inline_or_ref("changeme"), SecretSource::Inline { .. }));
        assert!(
            matches!(command_source("cat /etc/borg/pass"), SecretSource::Command { reads, .. } if reads.len() == 1)
        );
        assert!(matches!(command_source("echo hunter2"), SecretSource::Inline { .. }));
    }
}
