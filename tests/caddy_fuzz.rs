//! Generated inputs made of the characters that matter to the Caddyfile grammar: lexing and
//! parsing never panic and stay lossless, and the formatter agrees with the installed
//! `caddy fmt` (when caddy 2.6.2 is on PATH).
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use harden::caddy::format::format;
use harden::caddy::{parse_str, tokenize};

/// xorshift64: deterministic, so a failure names a reproducible case number.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const PIECES: &[&str] = &[
    "{", "}", "\"", "`", "\\", "#", "<<", "EOF", "\n", "\n", "\r\n", "\t", " ", " ", "a", "b.com", "header", "X-A",
    "{$V}", "{host}", "import", "(s)", "@m", "/p/*", ",", ":80", "é", "\u{a0}",
];

fn generate(rng: &mut Rng) -> String {
    let len = 1 + (rng.next() % 40) as usize;
    (0..len).map(|_| PIECES[(rng.next() % PIECES.len() as u64) as usize]).collect()
}

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

#[test]
fn generated_inputs_stay_lossless() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut lexed, mut parsed) = (0, 0);
    // CADDY_FUZZ_N raises the number of cases for a longer local run.
    let n: usize = std::env::var("CADDY_FUZZ_N").ok().and_then(|n| n.parse().ok()).unwrap_or(5000);
    for case in 0..n {
        let input = generate(&mut rng);
        if let Ok(l) = tokenize(&input, Path::new("C")) {
            lexed += 1;
            assert_eq!(l.to_source(), input, "case {case}: lexer not lossless");
        }
        if let Ok(doc) = parse_str(&input, Path::new("C")) {
            parsed += 1;
            assert_eq!(doc.to_source(), input, "case {case}: tree not lossless");
        }
        let _ = format(&input);
    }
    // Both outcomes must occur, or the generator is not exercising the grammar.
    assert!(lexed > n / 10 && lexed < n, "lexed {lexed} of {n}");
    assert!(parsed > 100 && parsed < lexed, "parsed {parsed}");
}

#[test]
fn generated_inputs_format_like_caddy() {
    if caddy_fmt("a\n").is_none() {
        println!("SKIP: caddy not on PATH");
        return;
    }
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut failures = Vec::new();
    let n: usize = std::env::var("CADDY_FUZZ_FMT_N").ok().and_then(|n| n.parse().ok()).unwrap_or(300);
    for case in 0..n {
        let input = generate(&mut rng);
        let Some(want) = caddy_fmt(&input) else {
            continue;
        };
        let got = format(&input);
        if got != want {
            failures.push(format!("case {case}: input {input:?}\n got  {got:?}\n want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{} differ:\n{}", failures.len(), failures.join("\n"));
}
