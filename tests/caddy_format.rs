//! The formatter against Caddy's formatter cases and against the installed `caddy fmt`.
#[path = "caddy_common.rs"]
mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use harden::caddy::format::{format, is_formatted};

/// Cases of the 2026 formatter tests whose expected output comes from formatter changes after
/// 2.6.2. We format as 2.6.2 does, so these differ by design; when `caddy` (2.6.2) is installed
/// the test checks that our output equals its output for them.
const NEWER_THAN_262: &[(&str, &str)] = &[
    ("19_keep_heredoc_as_is", "heredocs are 2.7+; 2.6.2 collapses the spaces inside them"),
    ("20_mixing_heredoc_with_regular_part", "heredocs are 2.7+; 2.6.2 collapses the spaces inside them"),
    ("23_preserve_braces_wrapped_by_backquotes", "2.6.2 does not know backticks and drops a `{` of `{{`"),
    (
        "27_no_trailing_space_on_line_before_env_variable",
        "2.6.2 leaves a trailing space before a line starting with `{$`",
    ),
    (
        "28_issue_7425_multiline_backticked_string_indentation",
        "2.6.2 re-indents multi-line backtick strings and drops a `{`",
    ),
    (
        "29_imports_before_global_options_block_keep_standalone_brace",
        "2.6.2 joins a standalone `{` to the import line above",
    ),
];

fn caddy_fmt(input: &str) -> Option<String> {
    let mut child = Command::new("caddy")
        .args(["fmt", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(input.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn caddy_available() -> bool {
    Command::new("caddy")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).starts_with("2.6.2"))
}

#[test]
fn formatter_cases_of_262_all_pass() {
    let Some(dir) = common::corpus("fmt-v2.6.2") else {
        return;
    };
    let cases = common::files_with_suffix(&dir, ".in");
    assert_eq!(cases.len(), 19);
    let mut failures = Vec::new();
    for (name, path) in &cases {
        let want = common::read(&dir.join(format!("{name}.out")));
        let got = format(&common::read(path));
        if got != want {
            failures.push(format!("{name}:\n--- got\n{got}--- want\n{want}"));
        }
        if !is_formatted(&want) {
            failures.push(format!("{name}: expected output is not a fixed point"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn formatter_cases_of_2026() {
    let Some(dir) = common::corpus("fmt") else {
        return;
    };
    let cases = common::files_with_suffix(&dir, ".in");
    assert!(cases.len() >= 30);
    let with_caddy = caddy_available();
    if !with_caddy {
        println!("SKIP: caddy 2.6.2 not on PATH; not checking the newer cases against it");
    }
    let mut failures = Vec::new();
    for (name, path) in &cases {
        let input = common::read(path);
        let want = common::read(&dir.join(format!("{name}.out")));
        let got = format(&input);
        let newer = NEWER_THAN_262.iter().any(|(n, _)| n == name);
        match (got == want, newer) {
            (true, false) => {}
            (true, true) => failures.push(format!("{name}: listed as newer behaviour but passes; unlist it")),
            (false, false) => failures.push(format!("{name}:\n--- got\n{got}--- want\n{want}")),
            (false, true) => {
                if with_caddy && caddy_fmt(&input).as_deref() != Some(got.as_str()) {
                    failures.push(format!("{name}: differs from the installed caddy fmt too"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Our formatter and the installed `caddy fmt` agree on real files, the adapt cases (old and
/// new syntax) and the formatter and lexer inputs.
#[test]
fn same_as_installed_caddy_fmt() {
    if !caddy_available() {
        println!("SKIP: caddy 2.6.2 not on PATH");
        return;
    }
    let Some(wild) = common::corpus("wild") else {
        return;
    };
    let mut inputs: Vec<(String, String)> =
        common::files_with_suffix(&wild, ".Caddyfile").into_iter().map(|(n, p)| (n, common::read(&p))).collect();
    assert!(inputs.len() >= 15);
    for (sub, suffix) in [("adapt-v2.6.2", ".txt"), ("adapt", ".caddyfiletest"), ("fmt", ".in"), ("lex", ".in")] {
        let Some(dir) = common::corpus(sub) else {
            continue;
        };
        for (n, p) in common::files_with_suffix(&dir, suffix) {
            let text = common::read(&p);
            let part = text.split_once("\n----------").map_or(text.as_str(), |(c, _)| c).to_string();
            inputs.push((format!("{sub}/{n}"), part));
        }
    }
    let mut failures = Vec::new();
    for (name, input) in &inputs {
        let Some(want) = caddy_fmt(input) else {
            failures.push(format!("{name}: caddy fmt failed"));
            continue;
        };
        let got = format(input);
        if got != want {
            failures.push(format!("{name}:\n--- got\n{got}--- caddy fmt\n{want}"));
        }
        // Formatting is idempotent, as the "input is not formatted" check relies on.
        if format(&got) != got {
            failures.push(format!("{name}: not idempotent"));
        }
    }
    assert!(failures.is_empty(), "{} of {} differ:\n{}", failures.len(), inputs.len(), failures.join("\n"));
}
