//! Header values of the `[caddy]` profile that contain braces: what Caddy cannot take is
//! rejected in the profile with file:line:col (a lone brace, an escaped brace, snippet
//! arguments), and what harden accepts adapts to exactly the
//! profile's value.
#[path = "support/caddy.rs"]
mod caddy_support;

use caddy_support::{apply_in_sync_adapt, deferred_handlers, Root, CADDYFILE};

/// Regression: a value that is only `{` or `}` was accepted, then `caddy validate` failed at
/// apply ("unrecognized directive"), since Caddy 2.6.2 reads it as a brace even when quoted.
#[test]
fn caddy_lone_brace_header_value_is_rejected_in_profile() {
    let d = tempfile::tempdir().unwrap();
    let cases = [
        ("[caddy]\npreset = \"owasp\"\n[caddy.headers]\nX-A = \"{\"\n", 4, 7, "lone '{'"),
        ("[caddy]\n[[caddy.site]]\naddress = \"a.example\"\nheaders = { X-B = \" } \" }\n", 4, 19, "lone '}'"),
        // Caddy drops this backslash, and fills in snippet arguments, as it imports the snippet.
        ("[caddy]\n[caddy.headers]\nX-C = 'a\\{b'\n", 3, 7, "'\\{'"),
        ("[caddy]\n[caddy.headers]\nX-D = \"{args.0}\"\n", 3, 7, "'{args'"),
        // Regression: a trailing backslash was written as `"a\"`, an unterminated quote, and
        // plan failed with "this is a bug in harden".
        ("[caddy]\n[caddy.headers]\nX-E = 'a\\'\n", 3, 7, "backslash"),
        ("[caddy]\n[caddy.headers]\nX-F = 'a\\\"b'\n", 3, 7, "backslash"),
    ];
    for (i, (text, line, col, what)) in cases.into_iter().enumerate() {
        let p = d.path().join(format!("p{i}.toml"));
        std::fs::write(&p, text).unwrap();
        let e = harden::profile::load(&p).unwrap_err();
        assert_eq!((e.at.line, e.at.column), (line, col), "{e}");
        assert!(e.message.contains(what), "{e}");
    }
    // Through the CLI: plan refuses before reading the Caddyfile, and says where.
    let r = Root::new();
    r.write(CADDYFILE, "example.com {\n\trespond hi\n}\n");
    r.write("/profile/p.toml", cases[0].0);
    let p = r.file("/profile/p.toml").display().to_string();
    let plan = r.harden(&["plan", "--profile", &p]);
    assert_eq!(plan.code, 1, "{plan:?}");
    assert!(plan.stderr.contains("p.toml:4:7"), "{plan:?}");
}

/// Values with braces that harden accepts: a placeholder, braces among other text. Each must
/// adapt to exactly the profile's value.
#[test]
fn caddy_header_values_with_braces_adapt_to_that_value() {
    let values =
        [("X-Host", "{http.request.host}"), ("X-Mid", "a { b"), ("X-Close", "a}"), ("X-Open", "{x"), ("X-Pair", "{}")];
    let mut profile = "[caddy]\nreload = \"none\"\npreset = \"owasp\"\n[caddy.headers]\n".to_string();
    for (k, v) in values {
        profile += &format!("{k} = {v:?}\n");
    }
    let r = Root::new();
    r.write(CADDYFILE, "example.com {\n\trespond hi\n}\n");
    r.write("/profile/p.toml", &profile);
    let p = r.file("/profile/p.toml").display().to_string();
    let Some(json) = apply_in_sync_adapt(&r, &p) else { return };
    let mut handlers = Vec::new();
    deferred_handlers(&json, &mut handlers);
    assert_eq!(handlers.len(), 1, "{json}");
    for (k, v) in values {
        assert_eq!(handlers[0]["set"][k], serde_json::json!([v]), "{k}: {}", handlers[0]);
    }
}

/// Regression (fresh-user trial): a NUL, an escape sequence or DEL in a header value was
/// written raw into the Caddyfile and printed raw by the plan; HTTP allows only the tab.
#[test]
fn caddy_control_characters_in_header_values_are_rejected_in_profile() {
    let d = tempfile::tempdir().unwrap();
    for (i, (value, code)) in
        [("a\\u0000b", "U+0000"), ("\\u001b[31m", "U+001B"), ("a\\u007fb", "U+007F")].into_iter().enumerate()
    {
        let p = d.path().join(format!("c{i}.toml"));
        std::fs::write(&p, format!("[caddy]\n[caddy.headers]\nX-A = \"{value}\"\n")).unwrap();
        let e = harden::profile::load(&p).unwrap_err();
        assert_eq!((e.at.line, e.at.column), (3, 7), "{e}");
        assert!(e.message.contains(code), "{e}");
    }
    // A tab is allowed.
    let p = d.path().join("tab.toml");
    std::fs::write(&p, "[caddy]\n[caddy.headers]\nX-A = \"a\\tb\"\n").unwrap();
    assert!(harden::profile::load(&p).is_ok());
}
