//! The header model on hand-written configurations: ordering, deferral, imports, effective values.
use std::path::Path;

use harden::caddy::headers::{canonical, site_headers, Matcher};
use harden::caddy::load;
use harden::system::System;

fn write(root: &Path, logical: &str, text: &str) {
    let p = root.join(logical.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

#[test]
fn directives_in_caddy_order_with_locations() {
    let root = tempfile::tempdir().expect("tempdir");
    let r = root.path();
    write(r, "/etc/caddy/Caddyfile", "(sec) {\n\theader {\n\t\tStrict-Transport-Security \"max-age=63072000; includeSubDomains\"\n\t\tx-content-type-options nosniff\n\t\t-Server\n\t}\n}\n\nexample.com {\n\treverse_proxy app:8080\n\theader X-Frame-Options DENY\n\timport sec\n\theader /api/* Cache-Control no-store\n\theader /api/v1/* Cache-Control private\n\t@static path /static/*\n\theader @static ?Cache-Control \"max-age=3600\"\n\thandle /admin/* {\n\t\theader X-Robots-Tag none\n\t}\n}\n");
    let loaded = load(&System::real(r), Path::new("/etc/caddy/Caddyfile"), &|_: &str| None).expect("loads");
    let sites = site_headers(&loaded.blocks).expect("valid headers");
    assert_eq!(sites.len(), 1);
    let d = &sites[0].directives;
    let order: Vec<(usize, Option<Matcher>)> = d.iter().map(|d| (d.location.line, d.matcher.clone())).collect();
    // Longest single path first (a named matcher counts by its `path`), then matcher-less in
    // source order; `handle` comes after `header` in Caddy's directive order. Checked against
    // `caddy adapt` 2.6.2 on the same site.
    assert_eq!(
        order,
        [
            (14, Some(Matcher::Path("/api/v1/*".into()))),
            (16, Some(Matcher::Named("@static".into()))),
            (13, Some(Matcher::Path("/api/*".into()))),
            (11, None),
            (2, None),
            (18, None),
        ]
    );
    assert_eq!(d[4].location.file, Path::new("/etc/caddy/Caddyfile"));
    let within: Vec<String> = d[5].within.iter().map(|c| c.to_string()).collect();
    assert_eq!(within, ["handle /admin/*"]);
    assert_eq!(d[5].within[0].location.line, 17);
    let sec = &d[4].handlers[0];
    assert!(sec.deferred, "a delete makes the handler deferred");
    assert_eq!(sec.set["X-Content-Type-Options"], ["nosniff"]);
    assert_eq!(sec.delete, ["Server"]);
    assert_eq!(d[1].handlers[0].require_absent, ["Cache-Control"]);

    let eff = sites[0].effective();
    let names: Vec<&str> = eff.values().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options"]);
    assert_eq!(eff["x-frame-options"].set_at.line, 11);
    assert_eq!(eff["strict-transport-security"].set_at.line, 2);
}

#[test]
fn deferred_operations_run_last_in_reverse_order() {
    let root = tempfile::tempdir().expect("tempdir");
    let r = root.path();
    write(r, "/Caddyfile", ":80 {\n\theader {\n\t\tX-A first\n\t\tdefer\n\t}\n\theader {\n\t\tX-A second\n\t\tdefer\n\t}\n\theader X-A plain\n\theader ?X-B fallback\n\theader +X-C one\n\theader +X-C two\n}\n");
    let loaded = load(&System::real(r), Path::new("/Caddyfile"), &|_: &str| None).expect("loads");
    let sites = site_headers(&loaded.blocks).expect("valid");
    let eff = sites[0].effective();
    // The first deferred handler wraps the outermost writer, so its value is applied last.
    assert_eq!(eff["x-a"].values, ["first"]);
    assert_eq!(eff["x-a"].set_at.line, 2);
    assert_eq!(eff["x-b"].values, ["fallback"]);
    assert_eq!(eff["x-c"].values, ["one", "two"]);
}

#[test]
fn header_errors_and_literal_newer_syntax() {
    let root = tempfile::tempdir().expect("tempdir");
    let r = root.path();
    write(r, "/Caddyfile", "a.com {\n\theader X y {\n\t\tZ w\n\t}\n}\n");
    let loaded = load(&System::real(r), Path::new("/Caddyfile"), &|_: &str| None).expect("parses");
    let e = site_headers(&loaded.blocks).expect_err("args and block");
    assert_eq!(e.location.line, 2);
    assert!(e.to_string().starts_with("/Caddyfile:2: cannot specify headers in both"), "{e}");

    // `>F` is 2.7+ syntax; 2.6.2 sets a header literally named `>F`.
    write(r, "/Caddyfile", "a.com {\n\theader >X-Frame-Options DENY\n}\n");
    let loaded = load(&System::real(r), Path::new("/Caddyfile"), &|_: &str| None).expect("parses");
    let sites = site_headers(&loaded.blocks).expect("valid");
    assert!(sites[0].directives[0].handlers[0].set.contains_key(">X-Frame-Options"));
}

#[test]
fn canonical_names_like_go() {
    assert_eq!(canonical("x-frame-options"), "X-Frame-Options");
    assert_eq!(canonical("CONTENT-security-POLICY"), "Content-Security-Policy");
    assert_eq!(canonical("bad name"), "bad name");
    assert_eq!(canonical(">x"), ">x");
}
