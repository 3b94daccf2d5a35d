//! Regression tests for the Caddy trial fixes: a byte order mark stays first; the plan lists
//! every header an edit drops; a not-deferred header for a field the profile does not manage is
//! a warning, not drift; `?Field` is not a proxy trap; a site harden cannot edit but that the
//! operator fixed by hand is in sync.
#[path = "support/caddy.rs"]
mod caddy_support;

use caddy_support::{adapt, caddy_installed, Root, Run, CADDYFILE};

const PROFILE: &str = "[caddy]\nreload = \"none\"\npreset = \"owasp\"\n";

fn setup(main: &str, files: &[(&str, &str)]) -> Root {
    let r = Root::new();
    r.write(CADDYFILE, main);
    for (p, t) in files {
        r.write(p, t);
    }
    r
}

/// Writes a profile named `name` outside the root's /etc and returns its path.
fn profile(r: &Root, name: &str, text: &str) -> String {
    let p = format!("/profile/{name}.toml");
    r.write(&p, text);
    r.file(&p).display().to_string()
}

/// The `N` of "N to remove" in the human plan's summary line.
fn removals(run: &Run) -> usize {
    let line = run.stdout.lines().find(|l| l.starts_with("Plan: ")).unwrap_or_else(|| panic!("no summary: {run:?}"));
    let before = line.split(" to remove").next().unwrap();
    before.rsplit(' ').next().unwrap().parse().unwrap_or_else(|_| panic!("no removal count in {line:?}"))
}

/// Finding lines of the human output.
fn finding_lines(run: &Run) -> Vec<&str> {
    run.stdout.lines().filter(|l| l.starts_with("  ! finding: ")).collect()
}

/// Warning lines of the human output.
fn warning_lines(run: &Run) -> Vec<&str> {
    run.stdout.lines().filter(|l| l.starts_with("  warning: ")).collect()
}

/// Every `host` matcher value in an adapted config.
fn hosts(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("host", serde_json::Value::Array(a)) => {
                        out.extend(a.iter().filter_map(|h| h.as_str()).map(str::to_string))
                    }
                    _ => hosts(x, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| hosts(x, out)),
        _ => {}
    }
}

/// (id, message) of every finding in `plan --format json`.
fn json_findings(r: &Root, p: &str) -> Vec<(String, String)> {
    let run = r.harden(&["plan", "--format", "json", "--profile", p]);
    assert_ne!(run.code, 1, "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"));
    v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|res| res["findings"].as_array().cloned().unwrap_or_default())
        .map(|f| (f["id"].as_str().unwrap_or("").to_string(), f["message"].as_str().unwrap_or("").to_string()))
        .collect()
}

#[test]
fn caddy_byte_order_mark_stays_first_byte() {
    let text = "\u{feff}a.example.com {\r\n\treverse_proxy 127.0.0.1:8069\r\n}\r\n";
    let r = setup(text, &[]);
    let p = profile(&r, "p", PROFILE);
    let apply = r.harden(&["apply", "--yes", "--profile", &p]);
    assert_eq!(apply.code, 0, "{apply:?}");
    let bytes = std::fs::read(r.file(CADDYFILE)).unwrap();
    assert!(bytes.starts_with(&[0xef, 0xbb, 0xbf]), "the BOM is no longer the first bytes: {:?}", r.read(CADDYFILE));
    let after = r.read(CADDYFILE);
    // Only one BOM, and not in front of the site's address.
    assert_eq!(after.matches('\u{feff}').count(), 1, "{after:?}");
    assert!(after.contains("\r\na.example.com {\r\n\timport harden_security_headers\r\n"), "{after:?}");
    assert!(after.starts_with("\u{feff}(harden_security_headers) {\r\n"), "{after:?}");
    // The line ends stay CRLF.
    assert_eq!(after.matches('\n').count(), after.matches("\r\n").count(), "{after:?}");
    let again = r.harden(&["plan", "--profile", &p]);
    assert_eq!(again.code, 0, "second plan is empty: {again:?}");
    if !caddy_installed() {
        println!("SKIP: caddy not installed (adapt check of the site's host)");
        return;
    }
    let (json, _) = adapt(&r, &r.file(CADDYFILE)).expect("caddy adapts the result");
    let mut found = Vec::new();
    hosts(&json, &mut found);
    assert_eq!(found, ["a.example.com"], "caddy sees other hosts: {json}");
}

#[test]
fn caddy_plan_lists_headers_an_edit_drops() {
    let (preset, _) = harden::caddy::spec::preset("owasp").unwrap();
    let text =
        "a.example.com {\n\treverse_proxy localhost:8069\n}\n\nb.example.com {\n\treverse_proxy localhost:8070\n}\n";
    let r = setup(text, &[]);
    let p = profile(&r, "p", PROFILE);
    let apply = r.harden(&["apply", "--yes", "--profile", &p]);
    assert_eq!(apply.code, 0, "{apply:?}");
    assert_eq!(r.read(CADDYFILE).matches("\timport harden_security_headers\n").count(), 2, "{}", r.read(CADDYFILE));

    // b.example.com is no longer selected: the edit drops its import, so every header it
    // sent is listed as a removal.
    let only_a = profile(&r, "a", &format!("{PROFILE}sites = [\"a.example.com\"]\n"));
    let plan = r.harden(&["plan", "--profile", &only_a]);
    assert_eq!(plan.code, 2, "{plan:?}");
    assert!(plan.stdout.contains("  - b.example.com: stop sending Strict-Transport-Security (now "), "{plan:?}");
    let dropped = plan.stdout.lines().filter(|l| l.starts_with("  - b.example.com: stop sending ")).count();
    assert_eq!(dropped, preset.len(), "one removal per header b sent: {plan:?}");
    assert!(!plan.stdout.contains("a.example.com: stop sending"), "{plan:?}");
    assert!(removals(&plan) >= preset.len(), "the summary counts the removals: {plan:?}");

    // A profile that no longer sets HSTS: every site that has it from the apply stops sending it.
    let no_hsts = profile(&r, "nohsts", &format!("{PROFILE}[caddy.headers]\nStrict-Transport-Security = \"\"\n"));
    let plan = r.harden(&["plan", "--profile", &no_hsts]);
    assert_eq!(plan.code, 2, "{plan:?}");
    for site in ["a.example.com", "b.example.com"] {
        assert!(plan.stdout.contains(&format!("  - {site}: stop sending Strict-Transport-Security (now ")), "{plan:?}");
    }
    assert!(removals(&plan) >= 2, "the summary counts the removals: {plan:?}");
    let apply = r.harden(&["apply", "--yes", "--profile", &no_hsts]);
    assert_eq!(apply.code, 0, "{apply:?}");
    assert!(!r.read(CADDYFILE).contains("Strict-Transport-Security"), "{}", r.read(CADDYFILE));
    let again = r.harden(&["plan", "--profile", &no_hsts]);
    assert_eq!(again.code, 0, "{again:?}");
}

#[test]
fn caddy_unmanaged_not_deferred_header_is_a_warning_not_drift() {
    let text = "a.example.com {\n\theader X-Frame-Options SAMEORIGIN\n\theader X-Custom-Thing \"keep me\"\n\treverse_proxy localhost:8069\n}\n";
    let r = setup(text, &[]);
    let p = profile(&r, "p", PROFILE);
    let plan = r.harden(&["plan", "--profile", &p]);
    assert_eq!(plan.code, 2, "{plan:?}");
    // The managed field is a finding with file:line (apply's edit resolves it).
    let findings = finding_lines(&plan);
    assert!(
        findings.iter().any(|l| l.starts_with(
            "  ! finding: /etc/caddy/Caddyfile:2: site a.example.com: `header X-Frame-Options` is not deferred"
        )),
        "{plan:?}"
    );
    // The unmanaged field is advice.
    assert!(!findings.iter().any(|l| l.contains("X-Custom-Thing")), "{plan:?}");
    assert!(
        warning_lines(&plan)
            .iter()
            .any(|l| l.contains("`header X-Custom-Thing` is not deferred") && l.contains("/etc/caddy/Caddyfile:3")),
        "{plan:?}"
    );

    let apply = r.harden(&["apply", "--yes", "--profile", &p]);
    assert_eq!(apply.code, 0, "{apply:?}");
    let after = r.read(CADDYFILE);
    assert!(after.contains("\timport harden_security_headers\n\theader X-Custom-Thing \"keep me\"\n"), "{after}");
    assert!(!after.contains("SAMEORIGIN"), "{after}");
    let check = r.harden(&["check", "--profile", &p]);
    assert_eq!(check.code, 0, "an unmanaged header is not drift: {check:?}");
    assert!(check.stdout.contains("== caddy: in sync"), "{check:?}");
    assert!(finding_lines(&check).is_empty(), "{check:?}");
    let plan = r.harden(&["plan", "--profile", &p]);
    assert_eq!(plan.code, 0, "{plan:?}");
    assert!(
        warning_lines(&plan)
            .iter()
            .any(|l| l.contains("`header X-Custom-Thing` is not deferred") && l.contains("/etc/caddy/Caddyfile:")),
        "the warning stays: {plan:?}"
    );
}

#[test]
fn caddy_set_if_absent_header_is_not_a_proxy_trap() {
    let text = "a.example.com {\n\theader ?Cache-Control \"no-store\"\n\treverse_proxy localhost:8069\n}\n\n\
                b.example.com {\n\theader ?X-Frame-Options SAMEORIGIN\n\treverse_proxy localhost:8070\n}\n";
    let r = setup(text, &[]);
    let p = profile(&r, "p", PROFILE);
    let plan = r.harden(&["plan", "--profile", &p]);
    assert_eq!(plan.code, 2, "{plan:?}");
    // Neither an unmanaged nor a managed `?Field` is reported as running before the proxy.
    assert!(!plan.stdout.contains("not deferred"), "{plan:?}");
    assert!(!finding_lines(&plan).iter().chain(&warning_lines(&plan)).any(|l| l.contains("Cache-Control")), "{plan:?}");

    let apply = r.harden(&["apply", "--yes", "--profile", &p]);
    assert_eq!(apply.code, 0, "{apply:?}");
    assert!(r.read(CADDYFILE).contains("\theader ?Cache-Control \"no-store\"\n"), "{}", r.read(CADDYFILE));
    let check = r.harden(&["check", "--profile", &p]);
    assert_eq!(check.code, 0, "{check:?}");
    assert!(!check.stdout.contains("not deferred"), "{check:?}");
    assert!(!check.stdout.contains("Cache-Control"), "{check:?}");
}

#[test]
fn caddy_hand_fixed_site_in_twice_imported_file_is_in_sync() {
    // One site file imported twice (Caddy 2.6 fills `{args.N}` in a site's address, so it
    // accepts this); c.example.com is a normal site, so apply defines the snippet.
    let main = "import sites/tpl.caddy a.example.com 8069\nimport sites/tpl.caddy b.example.com 8070\n\n\
                c.example.com {\n\treverse_proxy localhost:8071\n}\n";
    let tpl = "/etc/caddy/sites/tpl.caddy";
    let r = setup(main, &[(tpl, "{args.0} {\n\treverse_proxy localhost:{args.1}\n}\n")]);
    let p = profile(&r, "p", PROFILE);
    let not_editable = |r: &Root| -> Vec<String> {
        json_findings(r, &p).into_iter().filter(|(id, _)| id == "caddy.site-not-editable").map(|(_, m)| m).collect()
    };
    let first = not_editable(&r);
    for site in ["a.example.com", "b.example.com"] {
        assert!(
            first
                .iter()
                .any(|m| m.starts_with(&format!("site {site} is not edited")) && m.contains("imported 2 times")),
            "{first:?}"
        );
    }

    let apply = r.harden(&["apply", "--yes", "--profile", &p]);
    assert_eq!(apply.code, 0, "{apply:?}");
    assert!(r.read(CADDYFILE).contains("(harden_security_headers) {"), "{}", r.read(CADDYFILE));
    assert_eq!(r.read(tpl), "{args.0} {\n\treverse_proxy localhost:{args.1}\n}\n", "harden edited the shared file");
    assert_eq!(not_editable(&r).len(), 2, "not yet fixed by hand");

    // The operator follows the remedy: the shared site imports harden's snippet.
    r.write(tpl, "{args.0} {\n\timport harden_security_headers\n\treverse_proxy localhost:{args.1}\n}\n");
    if caddy_installed() {
        assert!(adapt(&r, &r.file(CADDYFILE)).is_some(), "caddy rejects the hand-fixed layout");
    } else {
        println!("SKIP: caddy not installed (adapt check of the hand fix)");
    }
    let left = not_editable(&r);
    assert!(left.is_empty(), "a hand-fixed site is still reported: {left:?}");
    let plan = r.harden(&["plan", "--profile", &p]);
    assert_eq!(plan.code, 0, "{plan:?}");
    assert!(!plan.stdout.contains("is not edited"), "{plan:?}");
    let check = r.harden(&["check", "--profile", &p]);
    assert_eq!(check.code, 0, "{check:?}");
}

/// Regression: `reload = "api"` with `admin off` in the Caddyfile was only noted after apply
/// had written the file ("not reloaded"); the plan now warns before anything is written.
#[test]
fn caddy_api_reload_with_admin_off_is_warned_at_plan_time() {
    let r = Root::new();
    r.write(CADDYFILE, "{\n\tadmin off\n}\n\nexample.com {\n\trespond hi\n}\n");
    r.write("/profile/p.toml", "[caddy]\nreload = \"api\"\npreset = \"owasp\"\nversion = \"2.6.2\"\n");
    let p = r.file("/profile/p.toml").display().to_string();
    let plan = r.harden(&["plan", "--profile", &p]);
    assert_eq!(plan.code, 2, "{plan:?}");
    let all = format!("{}{}", plan.stdout, plan.stderr);
    assert!(all.contains("reload = \"api\" but /etc/caddy/Caddyfile turns the admin API off"), "{plan:?}");
}

/// A profile names sites as an operator says them: `odoo.example.com` is the site written
/// `https://odoo.example.com` (and `s.example.com:443`), not `http://s.example.com`.
#[test]
fn caddy_profile_address_matches_site_written_with_default_scheme_or_port() {
    let main = "https://odoo.example.com {\n\treverse_proxy 127.0.0.1:8069\n}\n\ns.example.com:443 {\n\trespond hi\n}\n\nhttp://s.example.com {\n\trespond plain\n}\n\nother.example.com {\n\trespond other\n}\n";
    let r = setup(main, &[]);
    let p = profile(
        &r,
        "p",
        "[caddy]\nreload = \"none\"\npreset = \"owasp\"\nsites = [\"odoo.example.com\", \"https://s.example.com\"]\n[[caddy.site]]\naddress = \"odoo.example.com\"\nheaders = { X-Frame-Options = \"SAMEORIGIN\" }\n",
    );
    let plan = r.harden(&["plan", "--profile", &p]);
    assert_eq!(plan.code, 2, "{plan:?}");
    assert!(!plan.stdout.contains("caddy.unknown-site") && !plan.stdout.contains("no such site"), "{plan:?}");
    assert!(!plan.stdout.contains("matches no site"), "{plan:?}");
    let apply = r.harden(&["apply", "--yes", "--profile", &p]);
    assert_eq!(apply.code, 0, "{apply:?}");
    let after = r.read(CADDYFILE);
    // The override's own snippet, on the site written with its scheme.
    assert!(
        after.contains("https://odoo.example.com {\n\timport harden_security_headers_https___odoo_example_com\n"),
        "{after}"
    );
    assert!(after.contains("\t\tX-Frame-Options SAMEORIGIN\n"), "{after}");
    assert!(after.contains("s.example.com:443 {\n\timport harden_security_headers\n"), "{after}");
    // Not selected: the plain-HTTP site of the same host, and the other site.
    assert!(after.contains("http://s.example.com {\n\trespond plain\n"), "{after}");
    assert!(after.contains("other.example.com {\n\trespond other\n"), "{after}");
    let again = r.harden(&["plan", "--profile", &p]);
    assert_eq!(again.code, 0, "second plan is empty: {again:?}");
}

/// JSON consumers get the site and header of every Caddy change as fields, not only inside
/// the human summary.
#[test]
fn caddy_json_changes_name_their_site_and_header() {
    let r = setup(
        "a.example.com, www.a.example.com {\n\theader X-Frame-Options SAMEORIGIN\n\treverse_proxy 127.0.0.1:8069\n}\n",
        &[],
    );
    let p = profile(&r, "p", PROFILE);
    let run = r.harden(&["plan", "--format", "json", "--profile", &p]);
    assert_eq!(run.code, 2, "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"));
    let changes = v["resources"][0]["changes"].as_array().expect("changes");
    assert!(!changes.is_empty(), "{v}");
    for c in changes {
        assert_eq!(c["labels"]["site"], "a.example.com, www.a.example.com", "{c}");
        let header = c["labels"]["header"].as_str().unwrap_or_else(|| panic!("no header label: {c}"));
        assert!(c["summary"].as_str().unwrap().contains(header), "{c}");
    }
    let xfo: Vec<_> = changes.iter().filter(|c| c["labels"]["header"] == "X-Frame-Options").collect();
    assert_eq!(xfo.len(), 1, "{v}");
    assert_eq!((xfo[0]["actual"].as_str(), xfo[0]["expected"].as_str()), (Some("SAMEORIGIN"), Some("DENY")));
    // apply's report has the same change objects.
    let run = r.harden(&["apply", "--yes", "--format", "json", "--profile", &p]);
    assert_eq!(run.code, 0, "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"));
    let applied = v["resources"][0]["changes"].as_array().unwrap_or_else(|| panic!("no changes: {v}"));
    assert_eq!(applied.len(), changes.len(), "{v}");
    assert!(applied.iter().all(|c| c["labels"]["site"] == "a.example.com, www.a.example.com"), "{v}");
}

/// `caddy adapt` reads a CRLF file's line ends as LF when it checks the layout, so a CRLF file
/// it took for formatted must stay so after an edit that leaves a blank line at a block's end.
#[test]
fn caddy_crlf_file_stays_formatted_for_caddy_adapt() {
    let text = "b.example.com {\r\n\theader X-Frame-Options DENY\r\n\r\n\treverse_proxy localhost:1\r\n}\r\n\r\nc.example.com {\r\n\trespond x\r\n\r\n\theader Server x\r\n}\r\n";
    assert!(harden::caddy::format::adapts_as_formatted(text));
    let r = setup(text, &[]);
    let p = profile(&r, "p", PROFILE);
    let apply = r.harden(&["apply", "--yes", "--profile", &p]);
    assert_eq!(apply.code, 0, "{apply:?}");
    let after = r.read(CADDYFILE);
    assert_eq!(after.matches('\n').count(), after.matches("\r\n").count(), "line ends stay CRLF: {after:?}");
    assert!(harden::caddy::format::adapts_as_formatted(&after), "{after:?}");
    assert!(after.contains("c.example.com {\r\n\timport harden_security_headers\r\n\trespond x\r\n}\r\n"), "{after:?}");
    if !caddy_installed() {
        println!("SKIP: caddy not installed (adapt warning check)");
        return;
    }
    let (_, warnings) = adapt(&r, &r.file(CADDYFILE)).expect("caddy adapts the result");
    assert!(!warnings.contains("not formatted"), "{warnings}");
}

/// Two `[[caddy.site]]` entries that name one site are a finding naming both; before, the later
/// one won silently.
#[test]
fn caddy_two_overrides_for_one_site_are_a_finding() {
    let r = setup("https://odoo.example.com {\n\treverse_proxy 127.0.0.1:8069\n}\n", &[]);
    let p = profile(
        &r,
        "p",
        "[caddy]\nreload = \"none\"\npreset = \"owasp\"\n[[caddy.site]]\naddress = \"odoo.example.com\"\nheaders = { X-Frame-Options = \"SAMEORIGIN\" }\n[[caddy.site]]\naddress = \"odoo.example.com:443\"\nheaders = { X-Frame-Options = \"DENY\" }\n",
    );
    let plan = r.harden(&["plan", "--profile", &p]);
    let lines = finding_lines(&plan);
    let conflict: Vec<_> = lines.iter().filter(|l| l.contains("all name site https://odoo.example.com")).collect();
    assert_eq!(conflict.len(), 1, "{plan:?}");
    assert!(conflict[0].contains("p.toml:5") && conflict[0].contains("p.toml:8"), "{plan:?}");
}

/// A file that mixes line ends keeps each unedited line's own: the import line after a site's
/// `{` ends as that line did.
#[test]
fn caddy_mixed_line_ends_keep_each_line_its_own() {
    let text = "a.example.com {\n\theader X-Frame-Options DENY\r\n\n\treverse_proxy localhost:1\r\n}\n\nb.example.com {\r\n\trespond b\r\n}\r\n";
    let r = setup(text, &[]);
    let p = profile(&r, "p", PROFILE);
    let apply = r.harden(&["apply", "--yes", "--profile", &p]);
    assert_eq!(apply.code, 0, "{apply:?}");
    let after = r.read(CADDYFILE);
    assert!(after.contains("a.example.com {\n\timport harden_security_headers\n"), "{after:?}");
    assert!(after.contains("b.example.com {\r\n\timport harden_security_headers\r\n\trespond b\r\n"), "{after:?}");
    let again = r.harden(&["plan", "--profile", &p]);
    assert_eq!(again.code, 0, "second plan is empty: {again:?}");
}
