//! Every real-world Caddyfile and every adapt-case Caddyfile parses, and printing the lossless
//! tree gives back identical bytes.
#[path = "caddy_common.rs"]
mod common;

use std::path::Path;

use harden::caddy::{parse_str, BlockKind};
use harden::system::System;

/// The Caddyfile part of an adapt case: the text before the line of dashes.
fn caddyfile_part(case: &str) -> &str {
    case.split_once("\n----------").map_or(case, |(c, _)| c)
}

fn check(name: &str, src: &str, failures: &mut Vec<String>) {
    match parse_str(src, Path::new("/etc/caddy/Caddyfile")) {
        Ok(doc) => {
            let printed = doc.to_source();
            if printed != src {
                failures.push(format!("{name}: printed tree differs from the source"));
            }
            if doc.blocks.is_empty() && !src.trim().is_empty() && doc.tokens().is_empty() {
                failures.push(format!("{name}: no tokens parsed"));
            }
        }
        Err(e) => failures.push(format!("{name}: {e}")),
    }
}

#[test]
fn wild_files_round_trip() {
    let Some(dir) = common::corpus("wild") else {
        return;
    };
    let files = common::files_with_suffix(&dir, ".Caddyfile");
    assert!(files.len() >= 15, "wild corpus has {} files", files.len());
    let mut failures = Vec::new();
    for (name, path) in &files {
        check(name, &common::read(path), &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn adapt_v262_caddyfiles_round_trip() {
    let Some(dir) = common::corpus("adapt-v2.6.2") else {
        return;
    };
    let files = common::files_with_suffix(&dir, ".txt");
    assert_eq!(files.len(), 92);
    let mut failures = Vec::new();
    for (name, path) in &files {
        check(name, caddyfile_part(&common::read(path)), &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The 2026 adapt cases use newer syntax; they must parse too, except those whose point is a
/// syntax error that Caddy's parser (not a later stage) reports. Those must be rejected.
const SYNTAX_ERROR_CASES: &[(&str, &str)] = &[
    ("heredoc_incomplete", "mismatched leading whitespace in heredoc"),
    ("heredoc_invalid_marker", "heredoc marker on line #4 must contain only"),
    ("heredoc_mismatched_whitespace", "mismatched leading whitespace in heredoc <<END"),
    ("heredoc_too_many_angle_brackets", "too many '<' for heredoc"),
    // Caddy: "anonymous blocks are not supported"; a `{` starting a line is never valid.
    ("import_block_anonymous", "'{' cannot start a directive line"),
    ("matcher_outside_site_block", "request matchers may not be defined globally"),
];

#[test]
fn adapt_newer_caddyfiles_round_trip() {
    let Some(dir) = common::corpus("adapt") else {
        return;
    };
    let mut files = common::files_with_suffix(&dir, ".caddyfiletest");
    files.extend(common::files_with_suffix(&dir, ".txt"));
    assert!(files.len() >= 230);
    let mut failures = Vec::new();
    for (name, path) in &files {
        let src = caddyfile_part(&common::read(path)).to_string();
        if let Some((_, want)) = SYNTAX_ERROR_CASES.iter().find(|(n, _)| n == name) {
            match parse_str(&src, Path::new("Caddyfile")) {
                Ok(_) => failures.push(format!("{name}: accepted, but Caddy rejects it")),
                Err(e) if !e.to_string().contains(want) => failures.push(format!("{name}: error {e}, want {want:?}")),
                Err(_) => {}
            }
            continue;
        }
        check(name, &src, &mut failures);
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn tree_shape() {
    let src = "{\n\tdebug\n}\n\n(sec) {\n\theader X-A b\n}\n\na.com, b.com c.com {\n\t@api path /api/*\n\theader @api {\n\t\t-Server\n\t}\n\timport sec\n}\nimport extra/*.conf\n";
    let doc = parse_str(src, Path::new("/etc/caddy/Caddyfile")).expect("parses");
    let kinds: Vec<&BlockKind> = doc.blocks.iter().map(|b| &b.kind).collect();
    assert_eq!(kinds, [&BlockKind::Global, &BlockKind::Snippet("sec".into()), &BlockKind::Site, &BlockKind::Import]);
    let site = &doc.blocks[2];
    assert_eq!(site.addresses(), ["a.com", "b.com", "c.com"]);
    let dirs: Vec<&str> = site.body.iter().map(|s| s.directive()).collect();
    assert_eq!(dirs, ["@api", "header", "import"]);
    assert!(site.body[0].is_matcher_definition());
    let header = &site.body[1];
    assert_eq!(header.matcher().map(|t| t.text.as_str()), Some("@api"));
    assert_eq!(header.line(), 11);
    let inner = header.block().expect("header has a block");
    assert_eq!(inner.body[0].directive(), "-Server");
    assert_eq!(&src[inner.span()], "{\n\t\t-Server\n\t}");
    assert_eq!(&src[site.span()].lines().next(), &Some("a.com, b.com c.com {"));
    assert_eq!(doc.to_source(), src);
}

#[test]
fn braceless_single_site() {
    let src = "localhost\n\nrespond \"hi\"\nheader X y\n";
    let doc = parse_str(src, Path::new("Caddyfile")).expect("parses");
    assert_eq!(doc.blocks.len(), 1);
    assert!(doc.blocks[0].open.is_none());
    assert_eq!(doc.blocks[0].body.len(), 2);
    assert_eq!(doc.blocks[0].body[0].args()[0].text, "hi");
}

/// The meaning side: every wild file also expands (env empty, imports resolved), and the
/// expanded tokens still point at the file's lines.
#[test]
fn wild_files_expand() {
    let Some(dir) = common::corpus("wild") else {
        return;
    };
    let mut failures = Vec::new();
    for (name, path) in common::files_with_suffix(&dir, ".Caddyfile") {
        let src = common::read(&path);
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::write(root.path().join("Caddyfile"), &src).expect("write");
        // Files from the same repository directory are importable under their own names.
        for (other, base) in common::companions(&dir, &name) {
            std::fs::write(root.path().join(base), common::read(&dir.join(format!("{other}.Caddyfile"))))
                .expect("write");
        }
        match harden::caddy::load(&System::real(root.path()), Path::new("/Caddyfile"), &|_: &str| None) {
            Ok(loaded) => {
                assert_eq!(loaded.main.to_source(), src);
                let lines = src.lines().count();
                for b in &loaded.blocks {
                    let mut toks = Vec::new();
                    b.collect_tokens(&mut toks);
                    if let Some(t) = toks.iter().find(|t| t.line == 0 || t.line > lines) {
                        failures.push(format!("{name}: token {:?} has line {}", t.text, t.line));
                    }
                }
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
