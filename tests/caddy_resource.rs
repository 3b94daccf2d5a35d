//! The Caddy resource without a running caddy: profile section, plan, apply to files under a
//! temp root (reload = "none"), idempotence, minimal edits, bad input.
#[path = "support/caddy.rs"]
mod caddy_support;

use caddy_support::{caddy_installed, Root, CADDYFILE};
use harden::caddy::spec::Sites;

const PROFILE: &str = r#"[caddy]
reload = "none"
preset = "owasp"
remove = ["Server", "X-Powered-By"]
[caddy.headers]
Strict-Transport-Security = "max-age=63072000; includeSubDomains"
X-Frame-Options = "DENY"
Referrer-Policy = "strict-origin-when-cross-origin"
Content-Security-Policy = "default-src 'self'; frame-ancestors 'none'"
[[caddy.site]]
address = "odoo.example.com"
headers = { X-Frame-Options = "SAMEORIGIN", Content-Security-Policy = "frame-ancestors 'self'" }
"#;

/// Formatted as `caddy fmt` 2.6.2 prints it.
const CADDYFILE_TEXT: &str = r#"# Main site and friends
{
	email admin@example.com
}

example.com {
	# the user's own headers
	header X-Frame-Options SAMEORIGIN
	header {
		X-Custom "kept"
		-Server
	}
	reverse_proxy localhost:8069
}

odoo.example.com {
	header Referrer-Policy "same-origin";
	reverse_proxy localhost:8070
}

http://plain.example.com {
	header Strict-Transport-Security "max-age=1"
	respond "plain"
}
"#;

fn setup(profile: &str, caddyfile: &str) -> Root {
    let r = Root::new();
    r.write(CADDYFILE, caddyfile);
    r.write("/profile/p.toml", profile);
    r
}

/// No candidate tree is left beside the Caddyfile.
fn assert_no_candidate(r: &Root) {
    let dir: Vec<String> = std::fs::read_dir(r.file("/etc/caddy"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!dir.iter().any(|n| n.starts_with(".harden-candidate")), "{dir:?}");
}

fn profile_arg(r: &Root) -> String {
    r.file("/profile/p.toml").display().to_string()
}

#[test]
fn caddy_plan_apply_is_minimal_fmt_clean_and_idempotent() {
    let r = setup(PROFILE, CADDYFILE_TEXT);
    let p = profile_arg(&r);
    let plan = r.harden(&["plan", "--profile", &p]);
    assert_eq!(plan.code, 2, "{plan:?}");
    assert!(plan.stdout.contains("+++ /etc/caddy/Caddyfile (planned)"), "{plan:?}");
    // The traps of the issue, each with file:line.
    assert!(plan.stdout.contains("/etc/caddy/Caddyfile:17: site odoo.example.com: `;`"), "{plan:?}");
    assert!(
        plan.stdout.contains("/etc/caddy/Caddyfile:8: site example.com: `header X-Frame-Options` is not deferred"),
        "{plan:?}"
    );
    assert!(
        plan.stdout.contains("/etc/caddy/Caddyfile:22: site http://plain.example.com is served over plain HTTP"),
        "{plan:?}"
    );
    let apply = r.harden(&["apply", "--yes", "--profile", &p]);
    assert_eq!(apply.code, 0, "{apply:?}");
    assert!(apply.stdout.contains("reload = \"none\""), "{apply:?}");
    let after = r.read(CADDYFILE);
    // Every original line that does not set a managed header is still there, in order.
    let removed = [
        "\theader X-Frame-Options SAMEORIGIN\n",
        "\t\t-Server\n",
        "\theader Referrer-Policy \"same-origin\";\n",
        "\theader Strict-Transport-Security \"max-age=1\"\n",
    ];
    let diff = similar::TextDiff::from_lines(CADDYFILE_TEXT, &after);
    for op in diff.iter_all_changes() {
        match op.tag() {
            similar::ChangeTag::Delete => {
                assert!(removed.contains(&op.value()), "unexpected removal {:?}\n{after}", op.value())
            }
            similar::ChangeTag::Insert => {
                let v = op.value();
                assert!(
                    v.starts_with("\timport harden_security_headers")
                        || v.starts_with("\t\t")
                        || v.starts_with("(harden_security_headers")
                        || v == "\theader {\n"
                        || v == "\t}\n"
                        || v == "}\n"
                        || v == "\n"
                        || v.starts_with("\t# Managed by harden"),
                    "unexpected insertion {v:?}\n{after}"
                );
            }
            similar::ChangeTag::Equal => {}
        }
    }
    assert!(harden::caddy::format::is_formatted(&after), "no longer caddy-fmt clean:\n{after}");
    // The user's header for a field the profile does not manage stays.
    assert!(after.contains("\t\tX-Custom \"kept\"\n"), "{after}");
    // HSTS only in the snippet for HTTPS sites; the override site gets its own snippet.
    assert!(after.contains("http://plain.example.com {\n\timport harden_security_headers_http\n"), "{after}");
    assert!(after.contains("odoo.example.com {\n\timport harden_security_headers_odoo_example_com\n"), "{after}");
    assert!(after.contains("\t\tContent-Security-Policy \"frame-ancestors 'self'\"\n"), "{after}");
    let http_snippet = after.split("(harden_security_headers_http)").nth(1).unwrap().split("\n}\n").next().unwrap();
    assert!(!http_snippet.contains("Strict-Transport-Security"), "{after}");
    if caddy_installed() {
        // Caddy's own view of the result: validated and formatted.
        let out = std::process::Command::new("caddy")
            .args(["fmt", &r.file(CADDYFILE).display().to_string()])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), after, "caddy fmt changes the result");
    } else {
        println!("SKIP: caddy not installed; caddy fmt check skipped");
    }
    // A second run has nothing to do and does not write.
    let again = r.harden(&["plan", "--profile", &p]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(again.stdout.contains("No changes"), "{again:?}");
    let apply2 = r.harden(&["apply", "--yes", "--profile", &p]);
    assert_eq!(apply2.code, 0, "{apply2:?}");
    assert!(!apply2.stdout.contains("applied"), "{apply2:?}");
    assert_eq!(r.read(CADDYFILE), after);
    // Changing the profile rewrites only the managed parts.
    let changed = PROFILE.replace("X-Frame-Options = \"DENY\"", "X-Frame-Options = \"SAMEORIGIN\"");
    r.write("/profile/p.toml", &changed);
    let apply3 = r.harden(&["apply", "--yes", "--profile", &p]);
    assert_eq!(apply3.code, 0, "{apply3:?}");
    let third = r.read(CADDYFILE);
    let d3: Vec<_> = similar::TextDiff::from_lines(&after, &third)
        .iter_all_changes()
        .filter(|c| c.tag() != similar::ChangeTag::Equal)
        .map(|c| c.value().to_string())
        .collect();
    // The HTTPS and the plain-HTTP snippet each change one line; the odoo override already said SAMEORIGIN.
    let expect = ["\t\tX-Frame-Options DENY\n", "\t\tX-Frame-Options SAMEORIGIN\n"].repeat(2);
    assert_eq!(d3, expect, "{third}");
    // show reads the managed state back as a profile: removals and the headers all sites share.
    let show = r.harden(&["show"]);
    let frag = show.stdout.split("\n[caddy]\n").nth(1).map(|s| format!("[caddy]\n{s}")).expect("a [caddy] fragment");
    let t: toml::Table = toml::from_str(&frag).unwrap_or_else(|e| panic!("not TOML: {e}\n{frag}"));
    assert_eq!(t["caddy"]["remove"], toml::Value::Array(vec!["Server".into(), "X-Powered-By".into()]), "{frag}");
    assert_eq!(t["caddy"]["headers"]["X-Frame-Options"].as_str(), Some("SAMEORIGIN"), "{frag}");
    assert!(frag.contains("#   removes: Server, X-Powered-By\n"), "{frag}");
}

#[test]
fn caddy_profile_without_caddy_section_leaves_caddy_alone() {
    let r = setup("[host]\nname = \"web1\"\n", CADDYFILE_TEXT);
    let p = profile_arg(&r);
    let plan = r.harden(&["plan", "--profile", &p, "--format", "json"]);
    assert_eq!(plan.code, 0, "{plan:?}");
    assert!(!plan.stdout.contains("\"caddy\""), "{plan:?}");
    assert_eq!(r.read(CADDYFILE), CADDYFILE_TEXT);
}

#[test]
fn caddy_sites_list_selects_and_unknown_sites_are_findings() {
    let profile =
        PROFILE.replace("reload = \"none\"", "reload = \"none\"\nsites = [\"example.com\", \"nope.example.com\"]");
    let r = setup(&profile, CADDYFILE_TEXT);
    let p = profile_arg(&r);
    let apply = r.harden(&["apply", "--yes", "--profile", &p]);
    assert_eq!(apply.code, 0, "{apply:?}");
    assert!(apply.stdout.contains("/profile/p.toml:3:"), "unknown site finding has the profile line: {apply:?}");
    let after = r.read(CADDYFILE);
    assert!(after.contains("example.com {\n\timport harden_security_headers\n"), "{after}");
    assert!(after.contains("odoo.example.com {\n\theader Referrer-Policy"), "unselected site untouched: {after}");
    // Dropping the site from the list removes the import again.
    let none = PROFILE.replace("reload = \"none\"", "reload = \"none\"\nsites = [\"odoo.example.com\"]");
    r.write("/profile/p.toml", &none);
    let apply = r.harden(&["apply", "--yes", "--profile", &p]);
    assert_eq!(apply.code, 0, "{apply:?}");
    let after = r.read(CADDYFILE);
    assert!(!after.contains("example.com {\n\timport harden_security_headers\n"), "{after}");
    assert!(!after.contains("(harden_security_headers)"), "unused snippet removed: {after}");
}

#[test]
fn caddy_profile_section_errors_and_extends() {
    let d = tempfile::tempdir().unwrap();
    let w = |n: &str, t: &str| {
        let p = d.path().join(n);
        std::fs::write(&p, t).unwrap();
        p
    };
    let p = w("a.toml", "[caddy]\nreload = \"sometimes\"\n");
    let e = harden::profile::load(&p).unwrap_err();
    assert_eq!((e.at.line, e.at.column), (2, 10), "{e}");
    assert!(e.message.contains("auto, api, systemd, none"), "{e}");
    let p = w("b.toml", "[caddy]\nheadrs = {}\n");
    let e = harden::profile::load(&p).unwrap_err();
    assert_eq!(e.at.line, 2, "{e}");
    assert!(e.message.contains("unknown field"), "{e}");
    let p =
        w("c.toml", "[caddy]\npreset = \"owasp\"\n\n[[caddy.site]]\naddress = \"a\"\nheaders = { \"+X\" = \"1\" }\n");
    let e = harden::profile::load(&p).unwrap_err();
    assert_eq!(e.at.line, 6, "{e}");
    let p = w("d.toml", "[caddy]\nsites = 3\n");
    assert!(harden::profile::load(&p).unwrap_err().message.contains("\"all\" or a list"));
    w("base.toml", "[caddy]\npreset = \"owasp\"\nremove = [\"Server\"]\n[caddy.headers]\nx-frame-options = \"DENY\"\nX-Test = \"1\"\n");
    let p = w(
        "child.toml",
        "extends = [\"base.toml\"]\n[caddy]\nsites = [\"a.example\"]\n[caddy.headers]\nX-Frame-Options = \"SAMEORIGIN\"\nX-Test = \"\"\n",
    );
    let prof = harden::profile::load(&p).unwrap();
    let c = prof.caddy.unwrap();
    assert!(matches!(&c.sites, Sites::List(l) if l.len() == 1 && l[0].value == "a.example"));
    assert_eq!(c.caddyfile, CADDYFILE);
    let (set, remove) = c.desired(&["a.example".into()]);
    assert_eq!(set.get("X-Frame-Options").map(String::as_str), Some("SAMEORIGIN"));
    assert!(!set.contains_key("X-Test"), "an empty value drops an inherited header");
    assert_eq!(set.get("X-Content-Type-Options").map(String::as_str), Some("nosniff"), "preset kept");
    assert!(remove.contains(&"Server".to_string()) && remove.contains(&"X-Powered-By".to_string()));
    // No [caddy] anywhere: Caddy is left alone.
    let p = w("e.toml", "[host]\nname = \"x\"\n");
    assert!(harden::profile::load(&p).unwrap().caddy.is_none());
}

#[test]
fn caddy_bad_input_names_file_and_line_and_changes_nothing() {
    // (case, files under the root, where the error must point)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        ("unbalanced", &[(CADDYFILE, "example.com {\n\trespond hi\n\nother.example {\n")], "/etc/caddy/Caddyfile:4"),
        ("unterminated", &[(CADDYFILE, "example.com {\n\trespond \"hi\n}\n")], "/etc/caddy/Caddyfile:2"),
        (
            "cycle",
            &[
                (CADDYFILE, "import a.caddy\n"),
                ("/etc/caddy/a.caddy", "import b.caddy\n"),
                ("/etc/caddy/b.caddy", "import a.caddy\n"),
            ],
            "/etc/caddy/b.caddy:1",
        ),
        ("missing", &[(CADDYFILE, "example.com {\n\timport nothere.caddy\n}\n")], "/etc/caddy/Caddyfile:2"),
    ];
    for (name, files, loc) in cases {
        let r = setup(PROFILE, "");
        for (f, t) in *files {
            r.write(f, t);
        }
        let p = profile_arg(&r);
        for cmd in ["plan", "apply"] {
            let mut args = vec![cmd, "--profile", &p];
            if cmd == "apply" {
                args.push("--yes");
            }
            let run = r.harden(&args);
            assert_eq!(run.code, 1, "{name} {cmd}: {run:?}");
            assert!(run.stderr.contains(loc), "{name} {cmd}: expected {loc}: {run:?}");
        }
        for (f, t) in *files {
            assert_eq!(&r.read(f), t, "{name}: {f} changed");
        }
        assert!(!r.file("/var/backups/harden").exists(), "{name}: a backup was made");
    }
}

#[test]
fn caddy_rejected_edit_is_never_written() {
    if !caddy_installed() {
        println!("SKIP: caddy is not installed; .ci/run installs it");
        return;
    }
    // harden's parser accepts any directive; caddy knows this one does not exist.
    let text = "example.com {\n\tnot_a_directive on\n\trespond hi\n}\n";
    let r = setup(PROFILE, text);
    let p = profile_arg(&r);
    let run = r.harden(&["apply", "--yes", "--profile", &p]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("caddy rejects the edited"), "{run:?}");
    assert!(run.stderr.contains("not_a_directive"), "caddy's reason is shown: {run:?}");
    assert!(run.stderr.contains("rejects the current file too"), "{run:?}");
    assert_eq!(r.read(CADDYFILE), text);
    let leftovers: Vec<_> = std::fs::read_dir(r.file("/etc/caddy")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 1, "candidate file left behind: {leftovers:?}");
}

#[test]
fn caddy_show_prints_a_profile_fragment_and_json() {
    let r = setup(PROFILE, CADDYFILE_TEXT);
    let show = r.harden(&["show"]);
    assert_eq!(show.code, 0, "{show:?}");
    let frag = show.stdout.split("\n[caddy]\n").nth(1).map(|s| format!("[caddy]\n{s}")).expect("a [caddy] fragment");
    let t: toml::Table = toml::from_str(&frag).unwrap_or_else(|e| panic!("not TOML: {e}\n{frag}"));
    assert_eq!(t["caddy"]["caddyfile"].as_str(), Some(CADDYFILE));
    assert!(frag.contains("# site \"example.com\" (/etc/caddy/Caddyfile:6), HTTPS"), "{frag}");
    assert!(frag.contains("#   X-Frame-Options = \"SAMEORIGIN\"  # /etc/caddy/Caddyfile:8"), "{frag}");
    assert!(frag.contains("plain HTTP"), "{frag}");
    let json = r.harden(&["show", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let sites = v["caddy"]["sites"].as_array().unwrap();
    assert_eq!(sites.len(), 3);
    assert_eq!(sites[0]["https"], true);
    assert_eq!(sites[2]["https"], false);
    assert_eq!(sites[0]["header_before_proxy"], true);
}

#[test]
fn caddy_failed_reload_restores_the_previous_file() {
    if !caddy_installed() {
        println!("SKIP: caddy is not installed; .ci/run installs it");
        return;
    }
    // No caddy listens at this admin address, so the reload fails after the write.
    let port = caddy_support::free_port();
    let text = format!("{{\n\tadmin localhost:{port}\n}}\n\nexample.com {{\n\trespond hi\n}}\n");
    let r = setup(&PROFILE.replace("reload = \"none\"", "reload = \"api\""), &text);
    let p = profile_arg(&r);
    // Said before anything is written: under --root this reload reaches the host's port.
    let plan = r.harden(&["plan", "--profile", &p]);
    assert!(
        plan.stdout
            .contains(&format!("names the admin API at localhost:{port}: apply reloads the caddy listening there")),
        "{plan:?}"
    );
    let run = r.harden(&["apply", "--yes", "--profile", &p]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("reloading caddy failed"), "{run:?}");
    assert!(run.stderr.contains("the previous"), "{run:?}");
    assert_eq!(r.read(CADDYFILE), text, "previous file restored");
    // The copy of the previous file is kept.
    let backups: Vec<_> = std::fs::read_dir(r.file("/var/backups/harden")).unwrap().collect();
    assert_eq!(backups.len(), 1);
}

#[test]
fn caddy_version_syntax_finding_and_cache() {
    let text = "example.com {\n\theader >X-Test yes\n\trespond hi\n}\n";
    let r = setup(&PROFILE.replace("preset", "version = \"2.6.2\"\npreset"), text);
    let p = profile_arg(&r);
    let plan = r.harden(&["plan", "--profile", &p]);
    assert!(
        plan.stdout.contains("/etc/caddy/Caddyfile:2: site example.com: `>X-Test` (deferred set) needs Caddy 2.7"),
        "{plan:?}"
    );
    // With a newer version the same line is fine.
    r.write("/profile/p.toml", &PROFILE.replace("preset", "version = \"2.7.6\"\npreset"));
    let plan = r.harden(&["plan", "--profile", &p]);
    assert!(!plan.stdout.contains("needs Caddy 2.7"), "{plan:?}");
    let installed = std::process::Command::new("caddy").arg("version").output().ok();
    let v = installed.and_then(|o| harden::caddy::version::parse(&String::from_utf8_lossy(&o.stdout)));
    if v.is_some_and(|v| v < (2, 7, 0)) {
        // Without a profile version the installed caddy is asked.
        r.write("/profile/p.toml", PROFILE);
        let plan = r.harden(&["plan", "--profile", &p]);
        assert!(plan.stdout.contains("needs Caddy 2.7"), "{plan:?}");
    }
}

/// Regression: plan wrote the caddy-version cache under the root (plan was not read-only),
/// and a saved plan made on a fresh root was refused because the cache "was created since".
#[test]
fn caddy_version_cache_neither_written_by_plan_nor_staling_saved_plan() {
    if !caddy_installed() {
        println!("SKIP: caddy not installed");
        return;
    }
    let r = setup(PROFILE, CADDYFILE_TEXT);
    let p = profile_arg(&r);
    let plan = r.harden(&["plan", "--profile", &p]);
    assert_eq!(plan.code, 2, "{plan:?}");
    assert!(!r.file("/var/cache").exists(), "plan under --root wrote into the root's /var/cache");
    let out = r.file("/profile/plan.json").display().to_string();
    assert_eq!(r.harden(&["plan", "--profile", &p, "--out", &out]).code, 2);
    let saved = std::fs::read_to_string(&out).unwrap();
    assert!(!saved.contains(harden::caddy::version::CACHE), "the cache is not an input of the saved plan");
    let apply = r.harden(&["apply", "--yes", &out]);
    assert_eq!(apply.code, 0, "{apply:?}");
    assert!(r.read(CADDYFILE).contains("import harden_security_headers"));
}

#[test]
fn caddy_sites_match_addresses_as_written_with_env_placeholders() {
    let text = "{$HARDEN_TEST_DOMAIN:env.example.com} {\n\trespond hi\n}\n\nother.example.com {\n\trespond hi\n}\n";
    let profile =
        PROFILE.replace("reload = \"none\"", "reload = \"none\"\nsites = [\"{$HARDEN_TEST_DOMAIN:env.example.com}\"]");
    let r = setup(&profile, text);
    let p = profile_arg(&r);
    let apply = r.harden(&["apply", "--yes", "--profile", &p]);
    assert_eq!(apply.code, 0, "{apply:?}");
    assert!(!apply.stdout.contains("has no such site"), "{apply:?}");
    let after = r.read(CADDYFILE);
    assert!(after.contains("{$HARDEN_TEST_DOMAIN:env.example.com} {\n\timport harden_security_headers\n"), "{after}");
    assert!(after.contains("other.example.com {\n\trespond hi\n"), "{after}");
}

#[test]
fn caddy_show_reports_a_broken_caddyfile_without_failing() {
    let r = setup(PROFILE, "example.com {\n\trespond \"hi\n}\n");
    let show = r.harden(&["show"]);
    assert_eq!(show.code, 0, "{show:?}");
    assert!(
        show.stdout.contains("# [caddy] not shown: /etc/caddy/Caddyfile:2: unterminated quoted string"),
        "{show:?}"
    );
    let json = r.harden(&["show", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(v["caddy"]["error"].as_str().is_some_and(|e| e.contains("Caddyfile:2")), "{v}");
}

#[test]
fn caddy_crlf_file_stays_crlf_and_idempotent() {
    let text = CADDYFILE_TEXT.replace('\n', "\r\n");
    let r = setup(PROFILE, &text);
    let p = profile_arg(&r);
    let apply = r.harden(&["apply", "--yes", "--profile", &p]);
    assert_eq!(apply.code, 0, "{apply:?}");
    let after = r.read(CADDYFILE);
    assert_ne!(after, text);
    assert!(!after.replace("\r\n", "").contains('\n'), "a bare LF was written:\n{after:?}");
    let again = r.harden(&["plan", "--profile", &p]);
    assert!(again.code == 0 && again.stdout.contains("No changes"), "{again:?}");
}

#[test]
fn caddy_mixed_http_https_site_gets_no_hsts_and_a_finding() {
    let text = "example.com, http://example.org {\n\trespond hi\n}\n";
    let r = setup(PROFILE, text);
    let p = profile_arg(&r);
    let apply = r.harden(&["apply", "--yes", "--profile", &p]);
    assert_eq!(apply.code, 0, "{apply:?}");
    assert!(
        apply.stdout.contains("/etc/caddy/Caddyfile:1: site example.com, http://example.org also answers plain HTTP at http://example.org"),
        "{apply:?}"
    );
    let after = r.read(CADDYFILE);
    assert!(after.contains("\timport harden_security_headers_http\n"), "{after}");
    assert!(!after.contains("Strict-Transport-Security"), "{after}");
}

/// Regression: `caddy validate` of a `tls internal` site created a local CA under the
/// caller's `$HOME/.local/share/caddy`, even under `--root`.
#[test]
fn caddy_validate_does_not_write_into_home() {
    if !caddy_installed() {
        println!("SKIP: caddy not installed");
        return;
    }
    // A profile version: plan then does not spawn `caddy version` (which makes `$HOME/.step`),
    // so whatever appears in HOME comes from validate.
    let profile = PROFILE.replace("preset", "version = \"2.6.2\"\npreset");
    let r = setup(&profile, "example.com {\n\ttls internal\n\trespond hi\n}\n");
    let home = tempfile::tempdir().unwrap();
    let p = profile_arg(&r);
    // Only the child gets this HOME, and no XDG directories, so caddy falls back to HOME.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_harden"))
        .args(["--root", &r.path().display().to_string(), "apply", "--profile", &p, "--yes"])
        .env("NO_COLOR", "1")
        .env("HOME", home.path())
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(r.read(CADDYFILE).contains("import harden_security_headers"));
    let left: Vec<_> = std::fs::read_dir(home.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "caddy wrote into HOME: {left:?}");
    assert_no_candidate(&r);
}

/// Regression: `caddy validate` opened the global `log` output file of the Caddyfile on the
/// host (creating its directory) instead of inside the root's candidate tree.
#[test]
fn caddy_validate_does_not_open_host_log_files() {
    if !caddy_installed() {
        println!("SKIP: caddy not installed");
        return;
    }
    // A host path that does not exist yet, outside the root: without the redirect caddy
    // creates it there.
    let host = tempfile::tempdir().unwrap();
    let log = host.path().join("logs/global.log");
    let text =
        format!("{{\n\tlog {{\n\t\toutput file {}\n\t}}\n}}\n\nexample.com {{\n\trespond hi\n}}\n", log.display());
    let r = setup(PROFILE, &text);
    let p = profile_arg(&r);
    let apply = r.harden(&["apply", "--yes", "--profile", &p]);
    assert_eq!(apply.code, 0, "{apply:?}");
    assert!(r.read(CADDYFILE).contains(&format!("output file {}", log.display())), "written file keeps the path");
    assert!(!host.path().join("logs").exists(), "caddy validate created the host's log directory");
    assert!(!r.file(&log.display().to_string()).exists(), "nothing left in the root either");
    assert_no_candidate(&r);
}

/// Regression: `caddy version` (run by plan when the profile names no version) made
/// `$HOME/.step`; it now runs with a private HOME in TMPDIR that is removed afterwards.
#[test]
fn caddy_version_spawn_leaves_nothing_in_home() {
    if !caddy_installed() {
        println!("SKIP: caddy not installed");
        return;
    }
    let r = setup(PROFILE, "example.com {\n\trespond hi\n}\n");
    let (home, tmp) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let p = profile_arg(&r);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_harden"))
        .args(["--root", &r.path().display().to_string(), "plan", "--profile", &p])
        .env("NO_COLOR", "1")
        .env("HOME", home.path())
        .env("TMPDIR", tmp.path())
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("STEPPATH")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    for dir in [home.path(), tmp.path()] {
        let left: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(left.is_empty(), "caddy left {left:?} in {}", dir.display());
    }
}
