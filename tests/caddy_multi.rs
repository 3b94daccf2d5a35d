//! The Caddy resource across several files: sites in imported files (the multi-tenant
//! `import sites/*.caddy` layout), absolute imports, files harden must not edit, brace-less
//! single-site files, and apply restoring every file when a write or the reload fails.
#[path = "support/caddy.rs"]
mod caddy_support;
#[path = "caddy_common.rs"]
mod common;

use std::process::Command;

use caddy_support::{
    adapt, apply_in_sync_adapt, caddy_installed, check_headers, deferred_handlers, without_headers, Root, CADDYFILE,
};

const PROFILE: &str = r#"[caddy]
reload = "none"
preset = "owasp"
sites = ["a.example.com", ":8080", "odoo.example.com"]
[[caddy.site]]
address = "odoo.example.com"
headers = { X-Frame-Options = "SAMEORIGIN" }
"#;

const MAIN: &str = "{\n\temail admin@example.com\n}\n\nimport sites/*.caddy\n";

/// Tenant files, each formatted as `caddy fmt` prints it; d is not selected by the profile.
const TENANTS: [(&str, &str); 4] = [
    (
        "/etc/caddy/sites/a.caddy",
        "a.example.com {\n\theader X-Frame-Options SAMEORIGIN\n\treverse_proxy localhost:8069\n}\n",
    ),
    ("/etc/caddy/sites/b.caddy", ":8080 {\n\trespond \"plain\"\n}\n"),
    ("/etc/caddy/sites/c.caddy", "odoo.example.com {\n\treverse_proxy localhost:8070\n}\n"),
    ("/etc/caddy/sites/d.caddy", "d.example.com {\n\trespond \"not selected\"\n}\n"),
];

fn setup(profile: &str, main: &str, files: &[(&str, &str)]) -> (Root, String) {
    let r = Root::new();
    r.write(CADDYFILE, main);
    for (p, t) in files {
        r.write(p, t);
    }
    r.write("/profile/p.toml", profile);
    let p = r.file("/profile/p.toml").display().to_string();
    (r, p)
}

/// Content and mtime of a file under the root.
fn stamp(r: &Root, p: &str) -> (String, std::time::SystemTime) {
    (r.read(p), std::fs::metadata(r.file(p)).unwrap().modified().unwrap())
}

fn fmt_clean(r: &Root, p: &str) -> bool {
    let out = Command::new("caddy").args(["fmt", &r.file(p).display().to_string()]).output().unwrap();
    out.status.success() && String::from_utf8_lossy(&out.stdout) == r.read(p)
}

/// `caddy adapt` of the result equals the original's once header handlers are gone, and every
/// site harden edited has its deferred handler with the profile's values.
fn assert_same_but_headers(
    r: &Root,
    before: serde_json::Value,
    overrides: &[&[(&str, &str)]],
) -> Vec<serde_json::Value> {
    let (after, _) = adapt(r, &r.file(CADDYFILE)).expect("caddy adapts the result");
    let mut handlers = Vec::new();
    deferred_handlers(&after, &mut handlers);
    for h in &handlers {
        assert!(overrides.iter().any(|o| check_headers(h, o).is_ok()), "unexpected handler {h}");
    }
    assert_eq!(without_headers(before), without_headers(after), "adapt differs beyond header handlers");
    handlers
}

#[test]
fn caddy_sites_in_imported_files_are_edited_in_those_files() {
    if !caddy_installed() {
        println!("SKIP: caddy is not installed; .ci/run installs it");
        return;
    }
    let (r, p) = setup(PROFILE, MAIN, &TENANTS);
    let (before, _) = adapt(&r, &r.file(CADDYFILE)).expect("caddy adapts the original");
    let untouched = stamp(&r, TENANTS[3].0);
    let plan = r.harden(&["plan", "--profile", &p]);
    assert_eq!(plan.code, 2, "{plan:?}");
    for f in [CADDYFILE, TENANTS[0].0, TENANTS[1].0, TENANTS[2].0] {
        assert!(plan.stdout.contains(&format!("+++ {f} (planned)")), "no diff for {f}: {plan:?}");
    }
    assert!(!plan.stdout.contains("sites/d.caddy (planned)"), "{plan:?}");
    // Changes and findings name the imported file's lines.
    assert!(plan.stdout.contains("now SAMEORIGIN from /etc/caddy/sites/a.caddy:2"), "{plan:?}");
    assert!(plan.stdout.contains("/etc/caddy/sites/a.caddy:2: site a.example.com"), "{plan:?}");

    let apply = r.harden(&["apply", "--yes", "--profile", &p]);
    assert_eq!(apply.code, 0, "{apply:?}");
    let a = r.read(TENANTS[0].0);
    assert_eq!(a, "a.example.com {\n\timport harden_security_headers\n\treverse_proxy localhost:8069\n}\n");
    assert!(r.read(TENANTS[1].0).contains("\timport harden_security_headers_http\n"));
    assert!(r.read(TENANTS[2].0).contains("\timport harden_security_headers_odoo_example_com\n"));
    // The snippets are defined before the import that brings in the sites.
    let main = r.read(CADDYFILE);
    assert!(main.find("(harden_security_headers)").unwrap() < main.find("import sites/*.caddy").unwrap());
    for f in [CADDYFILE, TENANTS[0].0, TENANTS[1].0, TENANTS[2].0] {
        assert!(fmt_clean(&r, f), "{f} is no longer fmt-clean:\n{}", r.read(f));
    }
    let handlers = assert_same_but_headers(&r, before, &[&[], &[("X-Frame-Options", "SAMEORIGIN")]]);
    assert_eq!(handlers.len(), 3, "{handlers:?}");
    let sameorigin = handlers.iter().filter(|h| h["set"]["X-Frame-Options"] == serde_json::json!(["SAMEORIGIN"]));
    assert_eq!(sameorigin.count(), 1);
    assert_eq!(handlers.iter().filter(|h| h["set"].get("Strict-Transport-Security").is_none()).count(), 1);
    assert_eq!(stamp(&r, TENANTS[3].0), untouched, "a file without edits was rewritten");

    let all: Vec<_> = [CADDYFILE, TENANTS[0].0, TENANTS[1].0, TENANTS[2].0].iter().map(|f| stamp(&r, f)).collect();
    let again = r.harden(&["plan", "--profile", &p]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(again.stdout.contains("No changes"), "{again:?}");
    let second = r.harden(&["apply", "--yes", "--profile", &p]);
    assert_eq!(second.code, 0, "{second:?}");
    let now: Vec<_> = [CADDYFILE, TENANTS[0].0, TENANTS[1].0, TENANTS[2].0].iter().map(|f| stamp(&r, f)).collect();
    assert_eq!(now, all, "the second apply rewrote files");
}

#[test]
fn caddy_absolute_imports_are_validated_inside_the_root() {
    if !caddy_installed() {
        println!("SKIP: caddy is not installed; .ci/run installs it");
        return;
    }
    let main = "import /etc/caddy/sites/*.caddy\n";
    let (r, p) = setup(PROFILE, main, &TENANTS[..1]);
    let apply = r.harden(&["apply", "--yes", "--profile", &p]);
    assert_eq!(apply.code, 0, "{apply:?}");
    assert!(r.read(TENANTS[0].0).contains("\timport harden_security_headers\n"));
    assert!(r.read(CADDYFILE).ends_with("\n\nimport /etc/caddy/sites/*.caddy\n"));
    let again = r.harden(&["plan", "--profile", &p]);
    assert_eq!(again.code, 0, "{again:?}");

    // caddy must see the root's site files, not the host's /etc/caddy/sites: one it rejects
    // stops apply, and the message names the file under the root.
    let bad = ("/etc/caddy/sites/bad.caddy", "bad.example.com {\n\tnot_a_directive x\n}\n");
    let (r, p) = setup(PROFILE, main, &[TENANTS[0], bad]);
    let run = r.harden(&["apply", "--yes", "--profile", &p]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("caddy rejects"), "{run:?}");
    assert!(run.stderr.contains(&r.file(bad.0).display().to_string()), "{run:?}");
    assert!(!run.stderr.contains("harden-candidate"), "{run:?}");
    assert_eq!(r.read(CADDYFILE), main);
    assert_eq!(r.read(TENANTS[0].0), TENANTS[0].1);
    let left: Vec<_> = std::fs::read_dir(r.file("/etc/caddy")).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(left.len(), 2, "candidate tree left behind: {left:?}");
}

#[test]
fn caddy_files_imported_twice_or_with_args_are_findings() {
    // Imported by a glob and directly: the site is defined twice, which Caddy refuses
    // ("ambiguous site definition"); harden says so instead of calling it in sync.
    let main = "import sites/*.caddy\nimport sites/a.caddy\n";
    let (r, p) = setup(PROFILE, main, &TENANTS[..1]);
    let plan = r.harden(&["plan", "--profile", &p]);
    assert_eq!(plan.code, 1, "{plan:?}");
    assert!(
        plan.stderr.contains("ambiguous site definition: a.example.com is also defined at /etc/caddy/sites/a.caddy:1"),
        "{plan:?}"
    );
    assert_eq!(r.read(TENANTS[0].0), TENANTS[0].1);

    // `{args[...]}` in the address or a managed header line: the import line decides them.
    let main = "import sites/tpl.caddy a.example.com\nimport sites/h.caddy DENY\n";
    let files = [
        ("/etc/caddy/sites/tpl.caddy", "{args[0]} {\n\trespond hi\n}\n"),
        ("/etc/caddy/sites/h.caddy", ":8080 {\n\theader X-Frame-Options {args[0]}\n}\n"),
    ];
    let (r, p) = setup(PROFILE, main, &files);
    let plan = r.harden(&["plan", "--profile", &p]);
    assert_eq!(plan.code, 0, "{plan:?}");
    assert!(
        plan.stdout.contains("site a.example.com is not edited (/etc/caddy/sites/tpl.caddy:1 uses {args[...]}"),
        "{plan:?}"
    );
    assert!(plan.stdout.contains("site :8080 is not edited (/etc/caddy/sites/h.caddy:2 uses {args[...]}"), "{plan:?}");
    assert_eq!(r.read(CADDYFILE), main);
}

#[test]
fn caddy_braceless_site_is_edited_in_place() {
    if !caddy_installed() {
        println!("SKIP: caddy is not installed; .ci/run installs it");
        return;
    }
    let text = "a.example.com\n\nheader X-Frame-Options SAMEORIGIN\nreverse_proxy localhost:8069\n";
    let (r, p) = setup(PROFILE, text, &[]);
    assert!(fmt_clean(&r, CADDYFILE), "the test's input should be fmt-clean");
    let (before, _) = adapt(&r, &r.file(CADDYFILE)).unwrap();
    let apply = r.harden(&["apply", "--yes", "--profile", &p]);
    assert_eq!(apply.code, 0, "{apply:?}");
    let after = r.read(CADDYFILE);
    // The snippet is defined above the site, which keeps its form; the user's line is gone.
    assert!(
        after.ends_with("}\n\na.example.com\nimport harden_security_headers\n\nreverse_proxy localhost:8069\n"),
        "{after}"
    );
    assert!(fmt_clean(&r, CADDYFILE), "no longer fmt-clean:\n{after}");
    assert_eq!(assert_same_but_headers(&r, before, &[&[]]).len(), 1);
    let again = r.harden(&["plan", "--profile", &p]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(again.stdout.contains("No changes"), "{again:?}");

    // A brace-less tenant file, and a CRLF one, stay as they are apart from the import line.
    let files = [("/etc/caddy/sites/a.caddy", "a.example.com # tenant A\r\nreverse_proxy localhost:8069\r\n")];
    let (r, p) = setup(PROFILE, MAIN, &files);
    let apply = r.harden(&["apply", "--yes", "--profile", &p]);
    assert_eq!(apply.code, 0, "{apply:?}");
    assert_eq!(
        r.read(files[0].0),
        "a.example.com # tenant A\r\nimport harden_security_headers\r\nreverse_proxy localhost:8069\r\n"
    );
    assert_eq!(r.harden(&["plan", "--profile", &p]).code, 0);
}

#[test]
fn caddy_failed_write_or_reload_restores_every_file() {
    if !caddy_installed() {
        println!("SKIP: caddy is not installed; .ci/run installs it");
        return;
    }
    let originals = |r: &Root| -> Vec<String> {
        std::iter::once(CADDYFILE).chain(TENANTS.iter().map(|t| t.0)).map(|f| r.read(f)).collect()
    };
    // The last file's write fails (a test seam: as root, read-only modes would not stop it).
    let (r, p) = setup(PROFILE, MAIN, &TENANTS);
    let before = originals(&r);
    let run = r.harden_env(&["apply", "--yes", "--profile", &p], &[("HARDEN_TEST_FAIL_CADDY_WRITE", TENANTS[2].0)]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("sites/c.caddy failed"), "{run:?}");
    assert!(run.stderr.contains("the previous contents of the 3 file(s) written were restored"), "{run:?}");
    assert_eq!(originals(&r), before, "files not restored byte for byte");

    // No caddy listens at this admin address, so the reload fails after all writes.
    let port = caddy_support::free_port();
    let main = format!("{{\n\tadmin localhost:{port}\n}}\n\nimport sites/*.caddy\n");
    let (r, p) = setup(&PROFILE.replace("reload = \"none\"", "reload = \"api\""), &main, &TENANTS);
    let before = originals(&r);
    let run = r.harden(&["apply", "--yes", "--profile", &p]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("reloading caddy failed"), "{run:?}");
    assert!(
        run.stderr
            .contains("the previous contents of the 4 file(s) written were restored, but reloading them failed too"),
        "{run:?}"
    );
    assert_eq!(originals(&r), before, "files not restored byte for byte");
}

/// Wild corpus files that import files: with their companions from the same repository
/// directory, and with generated tenants where they import a directory of sites.
#[test]
fn caddy_corpus_files_with_imports_are_edited() {
    if !caddy_installed() {
        println!("SKIP: caddy is not installed; .ci/run installs it");
        return;
    }
    let Some(dir) = common::corpus("wild") else { return };
    let profile = "[caddy]\nreload = \"none\"\npreset = \"owasp\"\n";
    let mut ran = 0;
    for (stem, path) in common::files_with_suffix(&dir, ".Caddyfile") {
        let companions = common::companions(&dir, &stem);
        let text = common::read(&path);
        let tenants = text.contains("import sites-enabled/*");
        if companions.is_empty() && !tenants {
            continue;
        }
        let r = Root::new();
        // Log files go inside the root, so that caddy validate never opens the host's.
        let text = text.replace("/var/log/caddy/", &format!("{}/var/log/caddy/", r.path().display()));
        r.write(CADDYFILE, &text);
        for (other, base) in &companions {
            r.write(&format!("/etc/caddy/{base}"), &common::read(&dir.join(format!("{other}.Caddyfile"))));
        }
        if tenants {
            for t in ["t1", "t2"] {
                let site = format!(
                    "{t}.example.com {{\n\timport compression\n\theader X-Frame-Options SAMEORIGIN\n\treverse_proxy localhost:8069\n}}\n"
                );
                r.write(&format!("/etc/caddy/sites-enabled/{t}.example.com"), &site);
            }
        }
        r.write("/profile/p.toml", profile);
        let Some((before, _)) = adapt(&r, &r.file(CADDYFILE)) else {
            println!("{stem}: caddy cannot adapt it as is; skipped");
            continue;
        };
        let p = r.file("/profile/p.toml").display().to_string();
        let run = r.harden(&["apply", "--yes", "--profile", &p]);
        assert_eq!(run.code, 0, "{stem}: {run:?}");
        if tenants {
            let t1 = r.read("/etc/caddy/sites-enabled/t1.example.com");
            assert!(t1.contains("\timport harden_security_headers\n") && !t1.contains("SAMEORIGIN"), "{stem}: {t1}");
        }
        assert!(!assert_same_but_headers(&r, before, &[&[]]).is_empty(), "{stem}: no handler of harden's");
        let again = r.harden(&["plan", "--profile", &p]);
        assert!(again.code == 0 && again.stdout.contains("No changes"), "{stem}: {again:?}");
        ran += 1;
        println!(
            "{stem}: edited with {} companion(s){}",
            companions.len(),
            if tenants { " and 2 tenants" } else { "" }
        );
    }
    assert!(ran >= 1, "no corpus file with imports was run");
}

/// A plan may write the Caddyfile and the files it imports, nothing else (a saved plan is
/// JSON anyone could edit).
#[test]
fn caddy_apply_refuses_writes_outside_the_configuration() {
    use harden::caddy::{apply::apply, plan::CaddyActions, spec::Reload};
    use harden::plan::FileWrite;
    let (r, _) = setup(PROFILE, MAIN, &TENANTS);
    r.write("/etc/passwd", "root:x:0:0::/root:/bin/sh\n");
    let sys = harden::system::System::real(r.path());
    let write = |path: &str| FileWrite {
        path: path.into(),
        content: "x\n".into(),
        base_sha256: harden::system::sha256_hex(r.read(path).as_bytes()),
        mode: 0o644,
    };
    let actions =
        |writes| CaddyActions { caddyfile: CADDYFILE.into(), writes, reload: Reload::None, admin: None, blocked: None };
    let err = apply(&sys, &actions(vec![write(TENANTS[0].0), write("/etc/passwd")]), "t").unwrap_err();
    assert!(err.to_string().contains("the plan writes /etc/passwd, which is neither"), "{err}");
    assert_eq!(r.read("/etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
    assert_eq!(r.read(TENANTS[0].0), TENANTS[0].1);
}

/// Managed snippets after the import that brings in the sites would be undefined there; they
/// move before it.
#[test]
fn caddy_snippets_after_an_import_move_before_it() {
    let main = "import sites/*.caddy\n\n(harden_security_headers) {\n\theader X-Old 1\n}\n";
    let (r, p) = setup(PROFILE, main, &TENANTS[..1]);
    let apply = r.harden(&["apply", "--yes", "--profile", &p]);
    assert_eq!(apply.code, 0, "{apply:?}");
    let after = r.read(CADDYFILE);
    assert!(after.starts_with("(harden_security_headers) {\n"), "{after}");
    assert!(after.ends_with("}\n\nimport sites/*.caddy\n") && !after.contains("X-Old"), "{after}");
    assert_eq!(r.harden(&["plan", "--profile", &p]).code, 0);
}

/// A saved plan records the imported files it read: a tenant file changed since refuses it,
/// an unchanged set is applied as planned.
#[test]
fn caddy_saved_plan_covers_imported_files() {
    // With a profile `version`, plan writes no caddy-version cache that the saved plan would
    // then see as created since.
    let profile = PROFILE.replace("preset = \"owasp\"\n", "preset = \"owasp\"\nversion = \"2.6.2\"\n");
    let (r, p) = setup(&profile, MAIN, &TENANTS);
    let out = r.file("/profile/plan.json").display().to_string();
    assert_eq!(r.harden(&["plan", "--profile", &p, "--out", &out]).code, 2);
    r.write(TENANTS[1].0, &format!("{}\n", TENANTS[1].1));
    let run = r.harden(&["apply", "--yes", &out]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("sites/b.caddy changed since"), "{run:?}");
    r.write(TENANTS[1].0, TENANTS[1].1);
    let run = r.harden(&["apply", "--yes", &out]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(r.read(TENANTS[2].0).contains("import harden_security_headers_odoo_example_com"));
}

/// Regression: `a-b.example.com` and `a_b.example.com` (and `*.wild.example.com` and
/// `wild.example.com`) got the same override snippet name, and plan failed with
/// "redeclaration of previously declared snippet".
#[test]
fn caddy_snippet_names_of_similar_addresses_do_not_collide() {
    let sites = ["a-b.example.com", "a_b.example.com", "*.wild.example.com", "wild.example.com"];
    let mut main = String::new();
    let mut profile = "[caddy]\nreload = \"none\"\npreset = \"owasp\"\n".to_string();
    for (i, s) in sites.iter().enumerate() {
        main += &format!("{s} {{\n\trespond \"{i}\"\n}}\n\n");
        profile += &format!("[[caddy.site]]\naddress = \"{s}\"\nheaders = {{ X-Site = \"site-{i}\" }}\n");
    }
    let main = main.trim_end().to_string() + "\n";
    let (r, p) = setup(&profile, &main, &[]);
    let plan = r.harden(&["plan", "--profile", &p]);
    assert_eq!(plan.code, 2, "{plan:?}");
    let Some(json) = apply_in_sync_adapt(&r, &p) else { return };
    let routes = json["apps"]["http"]["servers"]["srv0"]["routes"].as_array().unwrap();
    for (i, s) in sites.iter().enumerate() {
        let route = routes
            .iter()
            .find(|rt| rt["match"][0]["host"].as_array().is_some_and(|h| h.len() == 1 && h[0] == *s))
            .unwrap_or_else(|| panic!("no route for {s}: {json}"));
        let handle = route["handle"].to_string();
        for j in 0..sites.len() {
            let has = handle.contains(&format!("\"X-Site\":[\"site-{j}\"]"));
            assert_eq!(has, i == j, "{s} and site-{j}: {handle}");
        }
    }
}

/// Regression: a brace-less tenant file followed by another tenant's site was read as one
/// site with an unknown directive, and plan called the configuration in sync; Caddy refuses it.
#[test]
fn caddy_braceless_site_followed_by_another_site_is_an_error() {
    let main = "{\n\temail ops@example.com\n}\n\nimport sites/*.caddy\n";
    let files = [
        ("/etc/caddy/sites/a.caddy", "bl.example.com\n\nreverse_proxy 127.0.0.1:9000\n"),
        ("/etc/caddy/sites/z.caddy", "z.example.com {\n\trespond z\n}\n"),
    ];
    let (r, p) = setup(PROFILE, main, &files);
    let plan = r.harden(&["plan", "--profile", &p]);
    assert_eq!(plan.code, 1, "{plan:?}");
    assert!(plan.stderr.contains("/etc/caddy/sites/z.caddy:1: z.example.com looks like a second site"), "{plan:?}");
    assert_eq!(r.read(files[0].0), files[0].1);
}

/// Regression: a tenant file symlinked to another defines the same site twice; plan said
/// "No changes" for a configuration Caddy refuses.
#[test]
fn caddy_site_defined_twice_through_a_symlink_is_an_error() {
    let main = "import sites/*.caddy\n";
    let (r, p) = setup(PROFILE, main, &TENANTS[..1]);
    std::os::unix::fs::symlink("a.caddy", r.file("/etc/caddy/sites/dup.caddy")).unwrap();
    let plan = r.harden(&["plan", "--profile", &p]);
    assert_eq!(plan.code, 1, "{plan:?}");
    assert!(plan.stderr.contains("ambiguous site definition: a.example.com"), "{plan:?}");
}

/// Regression (fresh-user trial): run without the rights to list the tenants' directory, plan
/// said "in sync" (the glob matched nothing); it is an error naming the directory.
#[test]
fn caddy_unlistable_sites_directory_is_an_error_not_in_sync() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    if !nix::unistd::geteuid().is_root() {
        println!("SKIP: needs root to run harden as nobody");
        return;
    }
    let r = Root::new();
    r.write(CADDYFILE, "import sites/*.caddy\n");
    r.write("/etc/caddy/sites/a.caddy", "a.example.com {\n\trespond a\n}\n");
    r.write("/profile/p.toml", "[caddy]\nreload = \"none\"\nversion = \"2.6.2\"\npreset = \"owasp\"\n");
    // Everything readable by nobody but the sites directory.
    for d in ["", "/etc", "/etc/caddy", "/profile"] {
        std::fs::set_permissions(r.file(d), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(r.file("/etc/caddy/sites"), std::fs::Permissions::from_mode(0o700)).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_harden"))
        .arg("--root")
        .arg(r.path())
        .args(["check", "--profile", &r.file("/profile/p.toml").display().to_string()])
        .env("NO_COLOR", "1")
        .env("HOME", r.path())
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}\n{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        stderr.contains("/etc/caddy/Caddyfile:1")
            && stderr.contains("/etc/caddy/sites")
            && stderr.contains("permission denied"),
        "{stderr}"
    );
}
