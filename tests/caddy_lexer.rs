//! The lexer against Caddy's own lexer cases (`lex/`), plus losslessness and env substitution.
#[path = "caddy_common.rs"]
mod common;

use std::path::Path;

use harden::caddy::{substitute_env, tokenize, Quote, TriviaKind};

#[test]
fn lex_corpus_matches_caddy() {
    let Some(dir) = common::corpus("lex") else {
        return;
    };
    let cases = common::files_with_suffix(&dir, ".in");
    assert!(cases.len() >= 50, "expected the 50 lexer cases, found {}", cases.len());
    let mut failures = Vec::new();
    for (name, path) in &cases {
        let input = common::read(path);
        let expected: serde_json::Value =
            serde_json::from_str(&common::read(&dir.join(format!("{name}.expected.json"))))
                .expect("expected.json is JSON");
        let got = tokenize(&input, Path::new("Caddyfile"));
        match (expected.get("error"), got) {
            (Some(want), Err(e)) => {
                let want = want.as_str().unwrap_or_default();
                if e.message != want {
                    failures.push(format!("{name}: error {:?}, want {want:?}", e.message));
                }
            }
            (Some(want), Ok(_)) => failures.push(format!("{name}: no error, want {want}")),
            (None, Err(e)) => failures.push(format!("{name}: unexpected error {e}")),
            (None, Ok(lexed)) => {
                let got: Vec<(String, u64)> =
                    lexed.tokens.iter().map(|t| (t.text.to_string(), t.line as u64)).collect();
                let want: Vec<(String, u64)> = expected["tokens"]
                    .as_array()
                    .expect("tokens array")
                    .iter()
                    .map(|t| {
                        (t["text"].as_str().unwrap_or_default().to_string(), t["line"].as_u64().unwrap_or_default())
                    })
                    .collect();
                if got != want {
                    failures.push(format!("{name}: tokens {got:?}\n   want {want:?}"));
                }
                if lexed.to_source() != input {
                    failures.push(format!("{name}: not lossless"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} lexer cases fail:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn trivia_and_spans_are_kept() {
    let src = "\u{feff}a.com {\r\n\t# note\r\n\theader X \"y z\" \\\n  `w`\n}\n";
    let lexed = tokenize(src, Path::new("Caddyfile")).expect("lexes");
    assert_eq!(lexed.to_source(), src);
    let texts: Vec<&str> = lexed.tokens.iter().map(|t| t.text.as_str()).collect();
    assert_eq!(texts, ["a.com", "{", "header", "X", "y z", "w", "}"]);
    for t in &lexed.tokens {
        assert_eq!(&src[t.span.clone()], t.raw);
    }
    assert_eq!(lexed.tokens[0].trivia()[0].kind, TriviaKind::Bom);
    let header = &lexed.tokens[2];
    assert!(header.trivia().iter().any(|t| t.kind == TriviaKind::Comment && t.text == "# note"));
    assert_eq!(lexed.tokens[4].quote, Quote::Double);
    assert_eq!(lexed.tokens[5].quote, Quote::Backtick);
    // The continuation keeps `w` on line 3 with the rest of the directive.
    assert_eq!(lexed.tokens[5].line, 3);
    assert!(lexed.tokens[5].trivia().iter().any(|t| t.kind == TriviaKind::Continuation));
}

#[test]
fn unterminated_quote_is_an_error_with_line() {
    let err = tokenize("a {\n\trespond \"oops\n}\n", Path::new("/etc/caddy/Caddyfile")).unwrap_err();
    assert_eq!(err.location.line, 2);
    assert!(err.to_string().starts_with("/etc/caddy/Caddyfile:2: unterminated"), "{err}");
}

#[test]
fn env_substitution_on_raw_text() {
    let env = |k: &str| match k {
        "HOST" => Some("example.com".to_string()),
        "TWO" => Some("a b".to_string()),
        _ => None,
    };
    assert_eq!(substitute_env("{$HOST} {", env), "example.com {");
    assert_eq!(substitute_env("\"{$MISSING:80}\" # {$HOST}", env), "\"80\" # example.com");
    assert_eq!(substitute_env("{$MISSING}x{$}y{$HOST", env), "x{$}y{$HOST");
    assert_eq!(substitute_env("{$A:b:c}", env), "b:c");
    // A value with spaces becomes several tokens once lexed.
    let lexed = tokenize(&substitute_env("bind {$TWO}", env), Path::new("C")).expect("lexes");
    assert_eq!(lexed.tokens.len(), 3);
    // `{env.X}` is a runtime placeholder and stays.
    assert_eq!(substitute_env("{env.HOST}", env), "{env.HOST}");
}
