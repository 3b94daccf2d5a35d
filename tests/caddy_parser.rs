//! Parsing errors and import expansion, with a temporary directory as the filesystem root.
use std::path::Path;

use harden::caddy::{load, parse_str, ErrorKind, ServerBlock};
use harden::system::System;

fn no_env(_: &str) -> Option<String> {
    None
}

fn write(root: &Path, logical: &str, text: &str) {
    let p = root.join(logical.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().expect("has parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

/// Each site's directives as "file:line directive args...", to compare expansions.
fn lines(blocks: &[ServerBlock]) -> Vec<String> {
    let mut out = Vec::new();
    for b in blocks {
        for s in &b.body {
            let t = s.first().expect("segment has a token");
            let args: Vec<&str> = s.args().iter().map(|a| a.text.as_str()).collect();
            out.push(format!("{}:{} {} {}", t.file.display(), t.line, t.text, args.join(" ")).trim_end().to_string());
        }
    }
    out
}

type KindCheck = fn(&ErrorKind) -> bool;

#[test]
fn syntax_errors_name_file_and_line() {
    let cases: &[(&str, usize, KindCheck)] = &[
        ("a.com {\n\theader X y\n", 1, |k| matches!(k, ErrorKind::UnclosedBrace)),
        ("a.com {\n\theader {\n\t\tX y\n\t}\n", 1, |k| matches!(k, ErrorKind::UnclosedBrace)),
        ("a.com\nrespond hi\n}\n", 3, |k| matches!(k, ErrorKind::UnmatchedClose)),
        ("a.com {\n\trespond \"hi\n}\n", 2, |k| matches!(k, ErrorKind::UnterminatedQuote)),
        ("a.com {\n\theader { X y\n\t}\n}\n", 2, |k| matches!(k, ErrorKind::BraceNotAtEndOfLine)),
        ("a.com {\n\theader\n\t{\n\t\tX y\n\t}\n}\n", 3, |k| matches!(k, ErrorKind::BraceOnNewLine)),
        ("a.com{\n}\n", 1, |k| matches!(k, ErrorKind::BraceNotAtEndOfLine)),
        ("(snip)\nrespond x\n", 1, |k| matches!(k, ErrorKind::Syntax(_))),
    ];
    for (src, line, kind) in cases {
        let e = parse_str(src, Path::new("/etc/caddy/Caddyfile")).expect_err(src);
        assert_eq!(e.location.line, *line, "{src:?}: {e}");
        assert!(kind(&e.kind), "{src:?}: wrong kind {e:?}");
        assert!(e.to_string().starts_with(&format!("/etc/caddy/Caddyfile:{line}: ")), "{e}");
    }
}

#[test]
fn snippets_files_globs_and_args() {
    let root = tempfile::tempdir().expect("tempdir");
    let root = root.path();
    write(root, "/etc/caddy/Caddyfile", "(sec) {\n\theader X-Frame-Options {args[0]}\n\theader {args[1:]}\n}\n\na.com {\n\timport sec DENY X-A \"b c\"\n\timport conf.d/*.conf one\n\timport /etc/caddy/extra\n}\nimport sites/*\n");
    write(root, "/etc/caddy/conf.d/10-a.conf", "header X-One {args[0]}\n");
    write(root, "/etc/caddy/conf.d/20-b.conf", "header X-Two {args.0}\n");
    write(root, "/etc/caddy/conf.d/.hidden.conf", "header X-Hidden 1\n");
    write(root, "/etc/caddy/extra", "respond {$GREETING:hello}\n");
    write(root, "/etc/caddy/sites/b", "b.com {\n\timport sec SAMEORIGIN\n}\n");
    write(root, "/etc/caddy/sites/.swp", "garbage {\n");
    let env = |k: &str| (k == "GREETING").then(|| "hi there".to_string());
    let loaded = load(&System::real(root), Path::new("/etc/caddy/Caddyfile"), &env).expect("loads");
    let got = lines(&loaded.blocks);
    let want = [
        "/etc/caddy/Caddyfile:2 header X-Frame-Options DENY",
        "/etc/caddy/Caddyfile:3 header X-A b c",
        "/etc/caddy/conf.d/10-a.conf:1 header X-One one",
        "/etc/caddy/conf.d/20-b.conf:1 header X-Two one",
        "/etc/caddy/extra:1 respond hi there",
        "/etc/caddy/Caddyfile:2 header X-Frame-Options SAMEORIGIN",
        "/etc/caddy/Caddyfile:3 header",
    ];
    assert_eq!(got, want);
    let sites: Vec<Vec<String>> = loaded.blocks.iter().map(|b| b.addresses()).collect();
    assert_eq!(sites, [vec!["a.com".to_string()], vec!["b.com".to_string()]]);
    // The lossless trees are kept unexpanded, with env placeholders as written.
    let files: Vec<String> = loaded.imported.iter().map(|d| d.file.display().to_string()).collect();
    assert_eq!(
        files,
        ["/etc/caddy/conf.d/10-a.conf", "/etc/caddy/conf.d/20-b.conf", "/etc/caddy/extra", "/etc/caddy/sites/b"]
    );
    assert_eq!(loaded.imported[2].to_source(), "respond {$GREETING:hello}\n");
    assert_eq!(loaded.main.blocks.len(), 3);
}

#[test]
fn snippet_must_be_defined_before_use() {
    let root = tempfile::tempdir().expect("tempdir");
    write(root.path(), "/Caddyfile", "a.com {\n\timport sec\n}\n(sec) {\n\theader X y\n}\n");
    let e = load(&System::real(root.path()), Path::new("/Caddyfile"), &no_env).expect_err("sec is a file name here");
    assert!(matches!(&e.kind, ErrorKind::ImportNotFound(p) if p == "sec"), "{e}");
    assert_eq!(e.location.line, 2);
}

#[test]
fn import_cycles_are_errors() {
    let root = tempfile::tempdir().expect("tempdir");
    let r = root.path();
    write(r, "/c/Caddyfile", "a.com {\n\timport one\n}\n");
    write(r, "/c/one", "import two\n");
    write(r, "/c/two", "header X y\nimport one\n");
    let e = load(&System::real(r), Path::new("/c/Caddyfile"), &no_env).expect_err("cycle");
    assert!(matches!(e.kind, ErrorKind::ImportCycle { .. }), "{e}");
    assert_eq!(e.location.file, Path::new("/c/two"));
    assert_eq!(e.location.line, 2);

    write(r, "/s/Caddyfile", "(a) {\n\timport b\n}\n(b) {\n\timport a\n}\nx.com {\n\timport a\n}\n");
    let e = load(&System::real(r), Path::new("/s/Caddyfile"), &no_env).expect_err("snippet cycle");
    assert!(matches!(e.kind, ErrorKind::ImportCycle { .. }), "{e}");

    write(r, "/self/Caddyfile", "x.com {\n\timport Caddyfile\n}\n");
    assert!(load(&System::real(r), Path::new("/self/Caddyfile"), &no_env).is_err());
}

#[test]
fn missing_files_and_empty_globs() {
    let root = tempfile::tempdir().expect("tempdir");
    let r = root.path();
    write(r, "/Caddyfile", "a.com {\n\timport nothing/*.conf\n\trespond ok\n}\n");
    let loaded = load(&System::real(r), Path::new("/Caddyfile"), &no_env).expect("an empty glob is fine");
    assert_eq!(lines(&loaded.blocks), ["/Caddyfile:3 respond ok"]);
    write(r, "/Caddyfile", "a.com {\n\n\timport missing.conf\n}\n");
    let e = load(&System::real(r), Path::new("/Caddyfile"), &no_env).expect_err("missing file");
    assert_eq!(
        e.to_string(),
        "/Caddyfile:3: file to import not found: missing.conf; create it or correct the import path"
    );
    let e = load(&System::real(r), Path::new("/nope/Caddyfile"), &no_env).expect_err("missing main file");
    assert!(matches!(e.kind, ErrorKind::Io { .. }));
    write(r, "/g", "import a*b*\n");
    assert!(load(&System::real(r), Path::new("/g"), &no_env).is_err(), "two wildcards are rejected");
}

#[test]
fn top_level_import_of_sites_and_block_placeholders() {
    let root = tempfile::tempdir().expect("tempdir");
    let r = root.path();
    write(r, "/Caddyfile", "(proxy) {\n\treverse_proxy {args[0]} {\n\t\t{block}\n\t}\n}\nimport sites.caddy\n");
    write(r, "/sites.caddy", "a.com {\n\timport proxy app:8080 {\n\t\theader_up Host {host}\n\t}\n}\n");
    let loaded = load(&System::real(r), Path::new("/Caddyfile"), &no_env).expect("loads");
    let site = &loaded.blocks[0];
    assert_eq!(site.addresses(), ["a.com"]);
    let rp = &site.body[0];
    assert_eq!(rp.directive(), "reverse_proxy");
    assert_eq!(rp.args()[0].text, "app:8080");
    let inner = rp.block().expect("block");
    assert_eq!(inner.body[0].directive(), "header_up");
    assert_eq!(inner.body[0].first().map(|t| t.file.display().to_string()), Some("/sites.caddy".into()));
}

/// Every token of the expanded blocks as the header model and the plan see it (the import
/// splice number, `origin`, differs between the two expansions by design).
fn token_view(blocks: &[ServerBlock]) -> Vec<String> {
    let mut out = Vec::new();
    for b in blocks {
        out.push(format!("block {:?} {:?}", b.kind, b.keys.iter().map(|k| k.text.as_str()).collect::<Vec<_>>()));
        for s in &b.body {
            for t in s.to_tokens() {
                out.push(format!(
                    "{}:{} {:?} {:?} {:?} {:?} {:?}",
                    t.file.display(),
                    t.line,
                    t.text,
                    t.raw,
                    t.leading,
                    t.span,
                    t.snippet
                ));
            }
            out.push("--".into());
        }
    }
    out
}

/// A snippet imported inside many blocks is parsed once and its segments copied; the result
/// must be what splicing and parsing it at every import gives, import uses included.
#[test]
fn reused_snippet_expansions_equal_spliced_ones() {
    let root = tempfile::tempdir().expect("tempdir");
    let root = root.path();
    write(root, "/etc/caddy/common.caddy", "header X-Common 1\n");
    let src = "(inner) {\n\theader X-Inner {args[0]}\n}\n\n(outer) {\n\t# comment\n\theader {\n\t\tX-Frame-Options DENY\n\t\t-Server\n\t\tdefer\n\t}\n\timport inner a\n\trespond \"hi {args[0]}\" {block}\n}\n\n(files) {\n\timport common.caddy\n}\n\n(arg) {\n\theader X-Arg {args[0]}\n}\n\na.com {\n\timport outer\n\timport arg one\n\treverse_proxy x\n}\n\nb.com {\n\timport outer\n\timport outer\n\thandle /api/* {\n\t\timport outer\n\t}\n\timport files\n\timport arg two\n}\n\nc.com {\n\timport outer z\n\timport files\n\timport outer {\n\t\tq\n\t}\n}\n\nd.com\nimport outer\nimport files\n";
    let sys = System::real(root);
    let file = Path::new("/etc/caddy/Caddyfile");
    let (reused, _) = harden::caddy::expand_str(src, file, &sys, &no_env).expect("expands");
    let (spliced, spliced_uses) = harden::caddy::import::expand_spliced(src, file, &sys, &no_env).expect("expands");
    assert_eq!(token_view(&reused), token_view(&spliced));
    // The header model parses a reused snippet's directive once; it must equal the model of
    // the spliced expansion, where every copy is parsed.
    let model = |b: &[ServerBlock]| harden::caddy::headers::site_headers(b).expect("headers");
    let (a, b) = (model(&reused), model(&spliced));
    assert_eq!(a, b);
    assert!(a.iter().any(|s| s.directives.len() > 3), "the snippets' directives are in the model: {a:?}");
    let arg = |i: usize| a[i].effective().get("x-arg").map(|e| e.values.clone());
    assert_eq!((arg(0), arg(1)), (Some(vec!["one".to_string()]), Some(vec!["two".to_string()])));
    // The file imported by a snippet is counted once per use, so harden never takes it for a
    // file of its own.
    write(root, "/etc/caddy/Caddyfile", src);
    let loaded = load(&sys, file, &no_env).expect("loads");
    assert_eq!(loaded.uses, spliced_uses);
    assert_eq!(loaded.uses.iter().filter(|u| u.file == "/etc/caddy/common.caddy").count(), 3);
}

/// The import limit still counts the imports inside a reused snippet expansion.
#[test]
fn reused_snippet_expansions_count_against_the_import_limit() {
    let root = tempfile::tempdir().expect("tempdir");
    let sys = System::real(root.path());
    // Each level imports the one below ten times: one use of l5 makes 111,111 imports, so
    // nine sites stay under the limit of 1,000,000 and ten exceed it, but only if every reuse
    // of the expansion is counted.
    let mut src = String::from("(l0) {\n\theader X 1\n}\n");
    for i in 1..=5 {
        let body = format!("\timport l{}\n", i - 1).repeat(10);
        src += &format!("(l{i}) {{\n{body}}}\n");
    }
    let sites = |n: usize| (0..n).map(|i| format!("s{i}.com {{\n\timport l5\n}}\n")).collect::<String>();
    let file = Path::new("/Caddyfile");
    assert!(harden::caddy::expand_str(&format!("{src}{}", sites(9)), file, &sys, &no_env).is_ok());
    let e = harden::caddy::expand_str(&format!("{src}{}", sites(10)), file, &sys, &no_env).expect_err("over the limit");
    assert!(e.to_string().contains("more than 1000000 imports"), "{e}");
}

/// Sites after the last snippet definition are parsed on several threads when there are
/// many; the result, and the first error, must be the one-thread parse's.
#[test]
fn many_sites_parse_on_threads_as_on_one() {
    let root = tempfile::tempdir().expect("tempdir");
    let sys = System::real(root.path());
    let file = Path::new("/etc/caddy/Caddyfile");
    let mut src = String::from("{\n\temail a@b.c\n}\n\n(sec) {\n\theader {\n\t\tX-Frame-Options DENY\n\t\tdefer\n\t}\n}\n\n(arg) {\n\theader X-Arg {args[0]}\n}\n");
    for i in 0..1500 {
        src += &match i % 3 {
            0 => format!("\ns{i}.example.com {{\n\timport sec\n\treverse_proxy localhost:{i}\n}}\n"),
            1 => format!("\ns{i}.example.com, www.s{i}.example.com {{\n\timport arg v{i}\n\thandle /x/* {{\n\t\timport sec\n\t}}\n}}\n"),
            _ => format!("\ns{i}.example.com {{\n\theader X-Own {i}\n}} s{i}b.example.com {{\n\trespond hi\n}}\n"),
        };
    }
    let (threads, _) = harden::caddy::expand_str(&src, file, &sys, &no_env).expect("expands");
    let (one, _) = harden::caddy::import::expand_spliced(&src, file, &sys, &no_env).expect("expands");
    assert_eq!(threads.len(), 2001);
    assert_eq!(token_view(&threads), token_view(&one));
    let model = |b: &[ServerBlock]| harden::caddy::headers::site_headers(b).expect("headers");
    assert_eq!(model(&threads), model(&one));
    // Two errors late in the file: the first one is reported, as on one thread.
    // A snippet defined after the sites keeps the parse on one thread (nothing follows the
    // last snippet definition), with snippet reuse as usual.
    let one_thread = |text: &str| format!("{text}(zz_tail) {{\n\trespond z\n}}\n");
    let first_error = |bad: &str| {
        let (Err(a), Err(b)) = (
            harden::caddy::expand_str(bad, file, &sys, &no_env),
            harden::caddy::expand_str(&one_thread(bad), file, &sys, &no_env),
        ) else {
            panic!("both parses must fail");
        };
        assert_eq!(a.to_string(), b.to_string());
        a.to_string()
    };
    let at = |i: usize| format!("s{i}.example.com {{\n\timport sec\n");
    // Both are errors of the parser, not the lexer, in different parts of the file.
    let spliced = |bad: &str| {
        harden::caddy::import::expand_spliced(bad, file, &sys, &no_env).map(|_| ()).unwrap_err().to_string()
    };
    let bad = src
        .replace(&at(999), "s999.example.com {\n\theader { X y\n\t}\n")
        .replace(&at(1299), "s1299.example.com {\n\theader\n\t{\n\t}\n");
    let line = 1 + src[..src.find(&at(999)).expect("site 999")].matches('\n').count() + 1;
    assert!(first_error(&bad).starts_with(&format!("/etc/caddy/Caddyfile:{line}: ")), "{}", first_error(&bad));
    assert_eq!(first_error(&bad), spliced(&bad));
    let bad = src.replace(&at(1299), "s1299.example.com {\n\theader\n\t{\n\t}\n");
    assert_eq!(first_error(&bad), spliced(&bad));
    // The import limit is counted over the whole file: five sites in each half of 1,000 each
    // import 111,111 times, so the tenth passes 1,000,000 (it is reported there), while
    // neither half alone does.
    let mut deep = String::from("(l0) {\n\theader X 1\n}\n");
    for i in 1..=5 {
        let body = format!("\timport l{}\n", i - 1).repeat(10);
        deep += &format!("(l{i}) {{\n{body}}}\n");
    }
    for i in 0..1000 {
        let import = if i % 100 == 50 { "import l5" } else { "respond x" };
        deep += &format!("s{i}.example.com {{\n\t{import}\n}}\n");
    }
    let e = first_error(&deep);
    let line = 1 + deep[..deep.find("s950.example.com").expect("site 950")].matches('\n').count() + 1;
    assert!(e.starts_with(&format!("/etc/caddy/Caddyfile:{line}: more than 1000000 imports")), "{e}");
}

/// When the file has an import error and, later, a syntax error, the import error is reported,
/// as Caddy (which parses as it expands) reports it.
#[test]
fn import_error_before_a_later_syntax_error_is_reported_first() {
    let root = tempfile::tempdir().expect("tempdir");
    write(
        root.path(),
        "/etc/caddy/Caddyfile",
        "a.example.com {\n\timport nosuch\n}\nb.example.com {\n\thandle {  respond x\n\t}\n}\n",
    );
    let sys = System::real(root.path());
    let e = load(&sys, Path::new("/etc/caddy/Caddyfile"), &no_env).expect_err("bad");
    assert!(e.to_string().starts_with("/etc/caddy/Caddyfile:2: "), "{e}");
    assert!(matches!(e.kind, ErrorKind::ImportNotFound(_)), "{e:?}");
}

/// Regression (fresh-user trial): a FIFO matched by an import glob made the plan hang on the
/// read; it is an error naming the file and the import line.
#[test]
fn import_of_a_fifo_is_an_error_not_a_hang() {
    let root = tempfile::tempdir().expect("tempdir");
    write(root.path(), "/etc/caddy/Caddyfile", "import sites/*.caddy\n");
    write(root.path(), "/etc/caddy/sites/a.caddy", "a.example.com {\n\trespond a\n}\n");
    let fifo = root.path().join("etc/caddy/sites/b.caddy");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let sys = System::real(root.path());
    let e = load(&sys, Path::new("/etc/caddy/Caddyfile"), &no_env).expect_err("a FIFO is refused");
    assert!(e.to_string().starts_with("/etc/caddy/Caddyfile:1: "), "{e}");
    assert!(e.to_string().contains("/etc/caddy/sites/b.caddy: not a regular file"), "{e}");
}
