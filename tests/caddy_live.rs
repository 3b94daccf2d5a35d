//! End to end with the real caddy on loopback: apply the profile to a running caddy through its
//! admin API and check the headers that actually arrive (notes/testing.md).
#[path = "support/caddy.rs"]
mod caddy_support;

use caddy_support::{caddy_installed, free_port, get_headers, values, without_headers, Caddy, Root, CADDYFILE};

const PROFILE: &str = r#"[caddy]
reload = "api"
preset = "owasp"
remove = ["Server", "X-Powered-By"]
[caddy.headers]
Strict-Transport-Security = "max-age=63072000; includeSubDomains"
X-Content-Type-Options = "nosniff"
X-Frame-Options = "DENY"
Referrer-Policy = "strict-origin-when-cross-origin"
Content-Security-Policy = "default-src 'self'; frame-ancestors 'none'"
"#;

#[test]
fn caddy_live_apply_sends_each_header_once() {
    if !caddy_installed() {
        println!("SKIP: caddy is not installed; .ci/run installs it");
        return;
    }
    if std::process::Command::new("curl").arg("--version").output().is_err() {
        println!("SKIP: curl is not installed; .ci/run installs it");
        return;
    }
    let r = Root::new();
    let (admin, tls, proxy, upstream, plain) = (free_port(), free_port(), free_port(), free_port(), free_port());
    let data = r.path().join("caddy-data");
    let text = format!(
        "{{
\tadmin localhost:{admin}
\tauto_https disable_redirects
\tskip_install_trust
\tstorage file_system {data}
}}

https://localhost:{tls} {{
\ttls internal
\theader X-Frame-Options SAMEORIGIN
\trespond \"secure\"
}}

:{proxy} {{
\theader X-Frame-Options SAMEORIGIN
\treverse_proxy localhost:{upstream}
}}

:{upstream} {{
\theader Server upstream
\theader X-Frame-Options SAMEORIGIN
\theader X-Powered-By php
\trespond \"upstream\"
}}

http://localhost:{plain} {{
\theader Strict-Transport-Security \"max-age=1\"
\trespond \"plain\"
}}
",
        data = data.display()
    );
    r.write(CADDYFILE, &text);
    let sites = format!("sites = [\"https://localhost:{tls}\", \":{proxy}\", \"http://localhost:{plain}\"]\n");
    r.write("/profile/p.toml", &PROFILE.replace("[caddy]\n", &format!("[caddy]\n{sites}")));
    let p = r.file("/profile/p.toml").display().to_string();
    let caddy = Caddy::start(&r.file(CADDYFILE), &format!("localhost:{admin}"), r.path());
    let (https_url, proxy_url, plain_url) = (
        format!("https://localhost:{tls}/"),
        format!("http://localhost:{proxy}/"),
        format!("http://localhost:{plain}/"),
    );
    // The traps are real before harden: a doubled X-Frame-Options and Server behind the proxy.
    let before = get_headers(&proxy_url);
    assert_eq!(values(&before, "x-frame-options").len(), 2, "{before:?}");
    assert!(values(&before, "server").len() >= 2, "{before:?}");
    assert_eq!(values(&get_headers(&plain_url), "strict-transport-security"), ["max-age=1"]);

    let apply = r.harden(&["apply", "--yes", "--profile", &p]);
    assert_eq!(apply.code, 0, "{apply:?}");
    assert!(apply.stdout.contains(&format!("caddy reloaded through its admin API at localhost:{admin}")), "{apply:?}");
    let required = [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "strict-origin-when-cross-origin"),
        ("content-security-policy", "default-src 'self'; frame-ancestors 'none'"),
        ("permissions-policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
    ];
    for (url, https) in [(&https_url, true), (&proxy_url, false), (&plain_url, false)] {
        let h = get_headers(url);
        for (name, value) in required {
            assert_eq!(values(&h, name), [value], "{url}: {name}: {h:?}");
        }
        let hsts = values(&h, "strict-transport-security");
        if https {
            assert_eq!(hsts, ["max-age=63072000; includeSubDomains"], "{url}: {h:?}");
        } else {
            assert!(hsts.is_empty(), "{url}: HSTS on plain HTTP: {h:?}");
        }
        assert!(values(&h, "server").is_empty(), "{url}: {h:?}");
        assert!(values(&h, "x-powered-by").is_empty(), "{url}: {h:?}");
    }
    // The unselected upstream is untouched.
    assert_eq!(values(&get_headers(&format!("http://localhost:{upstream}/")), "x-powered-by"), ["php"]);

    // Nothing left to do: no write, no reload.
    let after = r.read(CADDYFILE);
    let again = r.harden(&["apply", "--yes", "--profile", &p]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(again.stdout.contains("No changes"), "{again:?}");
    assert!(!again.stdout.contains("reloaded"), "{again:?}");
    assert_eq!(r.read(CADDYFILE), after);
    // caddy adapt of the result differs from the original only in header handlers.
    let adapt = |file: &std::path::Path| {
        let out = std::process::Command::new("caddy")
            .args(["adapt", "--config", &file.display().to_string(), "--adapter", "caddyfile"])
            .envs(caddy_support::caddy_env(r.path()))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v
    };
    let orig = r.path().join("original.Caddyfile");
    std::fs::write(&orig, &text).unwrap();
    assert_eq!(without_headers(adapt(&orig)), without_headers(adapt(&r.file(CADDYFILE))));
    drop(caddy);
}
