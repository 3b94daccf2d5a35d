//! harden edits every corpus Caddyfile that the installed caddy adapts (adapt-v2.6.2 cases and
//! wild files); `caddy adapt` of the result must differ from the original only in header
//! handlers, and a file without the "not formatted" warning must not get one.
#[path = "support/caddy.rs"]
mod caddy_support;
#[path = "caddy_common.rs"]
mod common;

use std::process::Command;

use caddy_support::{
    adapt, caddy_env, caddy_installed, check_profile_headers, deferred_handlers, without_headers, Root, CADDYFILE,
};

const PROFILE: &str = "[caddy]\nreload = \"none\"\npreset = \"owasp\"\n";

#[test]
fn caddy_corpus_edits_change_only_header_handlers() {
    if !caddy_installed() {
        println!("SKIP: caddy is not installed; .ci/run installs it");
        return;
    }
    let (Some(adapt_dir), Some(wild_dir)) = (common::corpus("adapt-v2.6.2"), common::corpus("wild")) else { return };
    let mut inputs: Vec<(String, String)> = Vec::new();
    for (stem, path) in common::files_with_suffix(&adapt_dir, ".txt") {
        let text = common::read(&path);
        if let Some((caddyfile, _)) = text.split_once("\n----------\n") {
            inputs.push((format!("adapt-v2.6.2/{stem}"), format!("{caddyfile}\n")));
        }
    }
    for (stem, path) in common::files_with_suffix(&wild_dir, ".Caddyfile") {
        inputs.push((format!("wild/{stem}"), common::read(&path)));
    }
    let (mut edited, mut skipped, mut failures) = (0, 0, Vec::new());
    for (name, text) in &inputs {
        let r = Root::new();
        r.write(CADDYFILE, text);
        r.write("/profile/p.toml", PROFILE);
        let Some((before, before_err)) = adapt(&r, &r.file(CADDYFILE)) else {
            skipped += 1;
            continue;
        };
        let p = r.file("/profile/p.toml").display().to_string();
        let run = r.harden(&["apply", "--yes", "--profile", &p]);
        let after_text = r.read(CADDYFILE);
        if run.code != 0 {
            // Only caddy's own refusal of a file it cannot validate as is may stop harden.
            let original_valid = Command::new("caddy")
                .args(["validate", "--config", &r.file(CADDYFILE).display().to_string(), "--adapter", "caddyfile"])
                .envs(caddy_env(r.path()))
                .output()
                .unwrap()
                .status
                .success();
            if original_valid || after_text != *text {
                failures.push(format!("{name}: apply failed: {run:?}"));
            } else {
                skipped += 1;
            }
            continue;
        }
        if after_text == *text {
            continue;
        }
        edited += 1;
        let Some((after, after_err)) = adapt(&r, &r.file(CADDYFILE)) else {
            failures.push(format!("{name}: caddy cannot adapt harden's result:\n{after_text}"));
            continue;
        };
        // Caddy's own reading of the result: a deferred handler for every edited site, each with
        // exactly the preset (HSTS only where harden found HTTPS) and its removals.
        let mut handlers = Vec::new();
        deferred_handlers(&after, &mut handlers);
        let imports =
            after_text.lines().filter(|l| l.trim_start().starts_with("import harden_security_headers")).count();
        // A site listening on several ports (servers) gets one route per server.
        if handlers.len() < imports || imports == 0 {
            failures.push(format!(
                "{name}: {imports} sites import the snippet but adapt shows {} deferred handlers",
                handlers.len()
            ));
        }
        for h in &handlers {
            if let Err(e) = check_profile_headers(h) {
                failures.push(format!("{name}: {e}"));
            }
        }
        if without_headers(before) != without_headers(after) {
            failures.push(format!("{name}: adapt differs beyond header handlers:\n{after_text}"));
        }
        let warns = |e: &str| e.contains("not formatted");
        if warns(&after_err) && !warns(&before_err) {
            failures.push(format!("{name}: the edit made the file unformatted:\n{after_text}"));
        }
        let again = r.harden(&["plan", "--profile", &p]);
        if again.code != 0 || !again.stdout.contains("No changes") {
            failures.push(format!("{name}: second plan not empty: {again:?}"));
        }
    }
    println!("{edited} edited, {skipped} skipped (caddy 2.6.2 cannot adapt or validate them as they are)");
    assert!(edited >= 40, "only {edited} corpus files were edited");
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n\n"));
}
