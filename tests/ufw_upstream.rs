//! ufw's own test suite: every complete rules file it printed (those with a
//! LOGGING section) is read and written back byte for byte.
use harden::ufw::ports::Services;
use harden::ufw::rulesfile::{self, WriteContext};
use harden::ufw::{LogLevel, Policy};
use std::path::PathBuf;

fn corpus() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/ufw/upstream-tests");
    p.is_dir().then_some(p)
}

/// Every `*filter ... COMMIT` block with a LOGGING section.
fn blocks(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.split_inclusive('\n') {
        if line == "*filter\n" {
            cur = Some(String::new());
        }
        if let Some(c) = cur.as_mut() {
            c.push_str(line);
            if line == "COMMIT\n" {
                let b = cur.take().unwrap();
                if b.contains("### LOGGING ###") {
                    out.push(b);
                }
            }
        }
    }
    out
}

#[test]
fn upstream_rules_files_round_trip() {
    let Some(dir) = corpus() else {
        eprintln!("SKIP: ../shared/corpus/ufw/upstream-tests not found");
        return;
    };
    let services = Services::parse(&std::fs::read_to_string("/etc/services").unwrap_or_default());
    let levels = [LogLevel::Off, LogLevel::Low, LogLevel::Medium, LogLevel::High, LogLevel::Full];
    let pols = [Policy::Allow, Policy::Deny, Policy::Reject];
    let (mut total, mut ok) = (0, 0);
    let mut failures = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let text = std::fs::read_to_string(&path).unwrap();
        for b in blocks(&text) {
            total += 1;
            let v6 = b.lines().nth(1).is_some_and(|l| l.starts_with(":ufw6-"));
            let parsed = match rulesfile::parse(&b, v6, &services) {
                Ok(p) => p,
                Err(e) => {
                    failures.push(format!("{}: parse error {e}", path.display()));
                    continue;
                }
            };
            let mut rules = parsed.rules.clone();
            for r in &mut rules {
                rulesfile::normalize(r).unwrap();
            }
            let mut matched = false;
            'search: for &ipv6 in &[true, false] {
                for &loglevel in &levels {
                    for &input in &pols {
                        for &output in &pols {
                            for &forward in &pols {
                                let ctx = WriteContext {
                                    loglevel,
                                    input,
                                    output,
                                    forward,
                                    limit: parsed.declares_limit,
                                    ipv6,
                                };
                                if rulesfile::write(&rules, v6, &ctx) == b {
                                    matched = true;
                                    break 'search;
                                }
                            }
                        }
                    }
                }
            }
            if matched {
                ok += 1;
            } else {
                let ctx = WriteContext {
                    loglevel: LogLevel::Low,
                    input: Policy::Deny,
                    output: Policy::Allow,
                    forward: Policy::Deny,
                    limit: parsed.declares_limit,
                    ipv6: true,
                };
                let mine = rulesfile::write(&rules, v6, &ctx);
                let first = b
                    .lines()
                    .zip(mine.lines())
                    .find(|(a, b)| a != b)
                    .map(|(a, b)| format!("\n  ufw:  {a}\n  ours: {b}"))
                    .unwrap_or_default();
                failures.push(format!("{}: block {total} differs{first}", path.display()));
            }
        }
    }
    println!("{ok}/{total} upstream rules files reproduced byte for byte");
    assert!(total > 900, "expected the corpus to hold about a thousand rules files, found {total}");
    assert!(
        failures.is_empty(),
        "{} of {total} differ:\n{}",
        failures.len(),
        failures.iter().take(15).cloned().collect::<Vec<_>>().join("\n")
    );
}
