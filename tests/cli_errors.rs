//! Bad input: a clear message naming the file, line and problem, exit 1,
//! and nothing changed under the root.
mod support;
use std::collections::BTreeMap;
use support::Root;

/// Every file under the root with its contents' hash; harden's own lock file
/// is runtime state, not a change.
fn snapshot(root: &Root) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let mut stack = vec![root.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(b) = std::fs::read(&p) {
                if !p.ends_with("run/harden.lock") {
                    m.insert(p.display().to_string(), harden::system::sha256_hex(&b));
                }
            }
        }
    }
    m
}

/// Apply `profile` and expect exit 1 with every `want` in stderr.
fn refuses(root: &Root, profile: &str, want: &[&str]) {
    root.write("/p.toml", profile);
    let p = root.file("/p.toml").display().to_string();
    let before = snapshot(root);
    for cmd in [vec!["plan", "--profile", &p], vec!["apply", "--yes", "--profile", &p], vec!["check", "--profile", &p]]
    {
        let r = root.harden(&cmd);
        assert_eq!(r.code, 1, "{cmd:?} with\n{profile}\n{r:?}");
        for w in want {
            assert!(r.stderr.contains(w), "{cmd:?}: stderr lacks {w:?}:\n{r:?}");
        }
    }
    assert_eq!(before, snapshot(root), "a refused command changed files");
}

const HEAD: &str = "[firewall]\nenabled = true\n";

#[test]
fn profile_errors_name_file_line_and_column() {
    let Some(root) = Root::new() else { return };
    let rule = |body: &str| format!("{HEAD}[[firewall.rules]]\n{body}\n");
    refuses(&root, &format!("{HEAD}enable = true\n"), &["p.toml:3:1", "unknown field `enable`"]);
    refuses(&root, &format!("{HEAD}purge = \"yes\"\n"), &["p.toml:3:9", "invalid type"]);
    refuses(&root, &rule("action = \"allow\"\nport = 0\nproto = \"tcp\""), &["p.toml:5:8", "ports are 1 to 65535"]);
    refuses(&root, &rule("action = \"allow\"\nport = 70000\nproto = \"tcp\""), &["p.toml:5:8", "ports are 1 to 65535"]);
    refuses(
        &root,
        &rule("action = \"allow\"\nport = \"2000:1000\"\nproto = \"tcp\""),
        &["p.toml:5:8", "lower than the second"],
    );
    refuses(
        &root,
        &rule("action = \"allow\"\nport = 22\nfrom = \"10.0.0.300\""),
        &["p.toml:6:8", "bad from address '10.0.0.300'"],
    );
    refuses(&root, &rule("action = \"allow\"\nport = 22\nproto = \"esp\""), &["p.toml:5:8", "proto esp has no ports"]);
    refuses(
        &root,
        &rule("action = \"allow\"\napp = \"OpenSSH\"\nport = 22"),
        &["p.toml:5:7", "`app` and `port` cannot be combined"],
    );
    refuses(
        &root,
        &rule("action = \"allow\"\nport = [80, 443]"),
        &["p.toml:5:8", "needs proto = \"tcp\" or \"udp\"", "pick tcp or udp"],
    );
    refuses(&root, &rule("action = \"allow\"\nport = \"1000:2000\""), &["p.toml:5:8", "pick tcp or udp"]);
    refuses(&root, &rule("action = \"permit\"\nport = 22"), &["p.toml:4:10", "use one of allow, deny, reject, limit"]);
    refuses(
        &root,
        &format!("{HEAD}[[firewall.rules]]\naction = \"allow\"\nport = 22\nproto = \"tcp\"\n[[firewall.rules]]\naction = \"limit\"\nport = 22\nproto = \"tcp\"\n"),
        &["p.toml:7:1", "same rule to ufw", "p.toml:3:1"],
    );
    refuses(
        &root,
        &rule("action = \"allow\"\nport = 22\ninterface = \"eth0:1\""),
        &["p.toml:6:13", "interface aliases"],
    );
    refuses(&root, &rule("action = \"allow\"\nport = 22\ncomment = \"it's\""), &["may not contain '"]);
    refuses(&root, &format!("extends = [\"missing.toml\"]\n{HEAD}"), &["p.toml:1:12", "missing.toml does not exist"]);
}

#[test]
fn broken_rules_files_are_errors_that_change_nothing() {
    let Some(root) = Root::new() else { return };
    let good = "[firewall]\nenabled = true\n[[firewall.rules]]\naction = \"limit\"\nport = 22\nproto = \"tcp\"\n";
    let pristine = root.read("/etc/ufw/user.rules");
    let bad_hex = pristine.replace("### RULES ###\n", "### RULES ###\n\n### tuple ### allow tcp 80 0.0.0.0/0 any 0.0.0.0/0 in comment=zz41\n-A ufw-user-input -p tcp --dport 80 -j ACCEPT\n");
    root.write("/etc/ufw/user.rules", &bad_hex);
    refuses(&root, good, &["/etc/ufw/user.rules:9: invalid hex comment 'zz41'"]);
    let truncated = &pristine[..pristine.len() - 10];
    root.write("/etc/ufw/user.rules", truncated);
    refuses(&root, good, &["user.rules", "truncated", "does not end with COMMIT"]);
    let bad_tuple =
        pristine.replace("### RULES ###\n", "### RULES ###\n\n### tuple ### allow tcp 7007 0.0.0.0/0 any\n");
    root.write("/etc/ufw/user.rules", &bad_tuple);
    refuses(&root, good, &["/etc/ufw/user.rules:9: malformed tuple (bad length)"]);
    root.write("/etc/ufw/user.rules", &pristine);
    let defaults =
        root.read("/etc/default/ufw").replace("DEFAULT_INPUT_POLICY=\"DROP\"", "DEFAULT_INPUT_POLICY=\"DENY\"");
    root.write("/etc/default/ufw", &defaults);
    refuses(&root, good, &["/etc/default/ufw:", "DEFAULT_INPUT_POLICY", "\"ACCEPT\", \"DROP\" or \"REJECT\""]);
}

#[test]
fn unreadable_rules_file_says_to_use_sudo() {
    let Some(root) = Root::new() else { return };
    let is_root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
    if !is_root || std::process::Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("SKIP: needs root and setpriv to run harden as an unprivileged user");
        return;
    }
    root.write("/p.toml", "[firewall]\nenabled = true\n");
    let run = |args: &str| {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "chmod 755 {r} {r}/etc {r}/etc/ufw; chmod 644 {r}/p.toml; chmod 600 {r}/etc/ufw/user.rules; setpriv --reuid=65534 --regid=65534 --clear-groups {h} --root {r} {args}",
                r = root.path().display(),
                h = support::harden_bin()
            ))
            .output()
            .unwrap()
    };
    let out = run(&format!("plan --profile {}/p.toml", root.path().display()));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("user.rules: permission denied; run harden with sudo"), "{err}");
}

#[test]
fn apply_without_terminal_or_yes_refuses() {
    let Some(root) = Root::new() else { return };
    root.write(
        "/p.toml",
        "[firewall]\nenabled = true\n[[firewall.rules]]\naction = \"limit\"\nport = 22\nproto = \"tcp\"\n",
    );
    let before = snapshot(&root);
    let r = root.harden(&["apply", "--profile", &root.file("/p.toml").display().to_string()]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("refusing to apply without --yes"), "{r:?}");
    assert_eq!(before, snapshot(&root));
}

#[test]
fn lockout_guard_refuses_to_deny_ssh() {
    let Some(root) = Root::new() else { return };
    root.write("/etc/ssh/sshd_config", "Port 2222\n");
    root.write("/p.toml", "[firewall]\nenabled = true\n[firewall.defaults]\nincoming = \"deny\"\n[[firewall.rules]]\naction = \"allow\"\nport = 22\nproto = \"tcp\"\n");
    let p = root.file("/p.toml").display().to_string();
    let before = snapshot(&root);
    let r = root.harden(&["apply", "--yes", "--profile", &p]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("lockout guard") && r.stderr.contains("port 2222"), "{r:?}");
    assert_eq!(before, snapshot(&root));
    let r = root.harden(&["apply", "--yes", "--allow-lockout", "--profile", &p]);
    assert_eq!(r.code, 0, "{r:?}");
    // With the sshd port allowed the guard is satisfied.
    root.write(
        "/p2.toml",
        "[firewall]\nenabled = true\n[[firewall.rules]]\naction = \"limit\"\nport = 2222\nproto = \"tcp\"\n",
    );
    let r = root.harden(&["apply", "--yes", "--profile", &root.file("/p2.toml").display().to_string()]);
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn lockout_guard_judges_the_actual_ssh_client() {
    let Some(root) = Root::new() else { return };
    let only_lan = "[firewall]\nenabled = true\n[firewall.defaults]\nincoming = \"deny\"\n[[firewall.rules]]\naction = \"allow\"\nport = 22\nproto = \"tcp\"\nfrom = \"10.0.0.0/8\"\n";
    root.write("/p.toml", only_lan);
    let p = root.file("/p.toml").display().to_string();
    let run = |conn: Option<&str>| {
        let mut c = std::process::Command::new(support::harden_bin());
        c.args(["--root", &root.path().display().to_string(), "plan", "--profile", &p]).env("NO_COLOR", "1");
        match conn {
            Some(v) => c.env("SSH_CONNECTION", v),
            None => c.env_remove("SSH_CONNECTION"),
        };
        String::from_utf8_lossy(&c.output().unwrap().stdout).into_owned()
    };
    assert!(
        run(Some("192.168.1.5 5555 10.0.0.1 22")).contains("lockout guard"),
        "a client outside 10.0.0.0/8 is locked out"
    );
    assert!(!run(Some("10.1.2.3 5555 10.0.0.1 22")).contains("lockout guard"), "a client inside 10.0.0.0/8 gets in");
    assert!(run(Some("garbage")).contains("lockout guard"), "no usable client: only a rule for every source counts");
    assert!(run(None).contains("lockout guard"));
    let eth9 = "[firewall]\nenabled = true\n[[firewall.rules]]\naction = \"allow\"\nport = 22\nproto = \"tcp\"\ninterface = \"eth9\"\n";
    root.write("/p.toml", eth9);
    assert!(run(None).contains("lockout guard"), "an allow on one interface may not be the way in");
    root.write("/etc/ssh/sshd_config", "# caf\u{e9}\nPort=2222\n");
    root.write(
        "/p.toml",
        "[firewall]\nenabled = true\n[[firewall.rules]]\naction = \"limit\"\nport = 22\nproto = \"tcp\"\n",
    );
    let out = run(None);
    assert!(out.contains("port 2222"), "Port=2222 is sshd's Keyword=value form: {out}");
}

#[test]
fn symlinks_under_root_stay_inside_the_root() {
    let Some(root) = Root::new() else { return };
    // /etc/ufw is an absolute link, as in an image: it means the root's /srv/ufw.
    let outside = tempfile::tempdir().unwrap();
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "cp -a {r}/etc/ufw {o}/decoy && mkdir -p {r}/srv && mv {r}/etc/ufw {r}/srv/ufw && ln -s {o}/decoy {r}/etc/ufw.outside && ln -s /srv/ufw {r}/etc/ufw",
            r = root.path().display(),
            o = outside.path().display()
        ))
        .status()
        .unwrap();
    let decoy_before = std::fs::read(outside.path().join("decoy/user.rules")).unwrap();
    root.write(
        "/p.toml",
        "[firewall]\nenabled = true\n[[firewall.rules]]\naction = \"limit\"\nport = 22\nproto = \"tcp\"\n",
    );
    let r = root.harden(&["apply", "--yes", "--profile", &root.file("/p.toml").display().to_string()]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(root.read("/srv/ufw/user.rules").contains("--dport 22"), "written through the link, inside the root");
    assert_eq!(
        std::fs::read(outside.path().join("decoy/user.rules")).unwrap(),
        decoy_before,
        "nothing outside the root changed"
    );
    assert!(std::fs::symlink_metadata(root.file("/etc/ufw")).unwrap().file_type().is_symlink());
}
