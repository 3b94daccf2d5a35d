//! Caddyfile imports are read through `System`: an absolute symlink inside a test root means
//! that root's path, as it would on the machine the root belongs to, so the host's file with
//! the same name is never read.
#[path = "support/caddy.rs"]
mod caddy_support;

use caddy_support::{Root, CADDYFILE};

const MAIN: &str = "import /etc/caddy/sites/*.caddy\n";

/// A root whose `sites/evil.caddy` is an absolute symlink to a file that exists outside the
/// root (in `outside`) with a distinctive site; returns the link's target.
fn root_with_escaping_link(outside: &tempfile::TempDir) -> (Root, String) {
    let target = outside.path().join("evil.caddy");
    std::fs::write(&target, "outside.example.com {\n\trespond \"host file\"\n}\n").unwrap();
    let r = Root::new();
    r.write(CADDYFILE, MAIN);
    r.write("/etc/caddy/sites/a.caddy", "a.example.com {\n\trespond a\n}\n");
    std::os::unix::fs::symlink(&target, r.file("/etc/caddy/sites/evil.caddy")).unwrap();
    (r, target.display().to_string())
}

#[test]
fn glob_import_of_an_absolute_symlink_reads_the_in_root_target() {
    let outside = tempfile::tempdir().unwrap();
    let (r, target) = root_with_escaping_link(&outside);
    r.write(&target, "inside.example.com {\n\trespond \"root file\"\n}\n");
    let show = r.harden(&["show"]);
    assert_eq!(show.code, 0, "{show:?}");
    assert!(show.stdout.contains("# site \"inside.example.com\""), "{show:?}");
    assert!(show.stdout.contains("# site \"a.example.com\""), "{show:?}");
    assert!(!show.stdout.contains("outside.example.com"), "the host's file was read: {show:?}");
}

#[test]
fn glob_import_of_a_symlink_missing_in_the_root_never_reads_the_host_file() {
    let outside = tempfile::tempdir().unwrap();
    let (r, _) = root_with_escaping_link(&outside);
    // A glob matches only files that exist (in the root), so the dangling link adds nothing.
    let show = r.harden(&["show"]);
    assert_eq!(show.code, 0, "{show:?}");
    assert!(show.stdout.contains("# site \"a.example.com\""), "{show:?}");
    assert!(!show.stdout.contains("outside.example.com"), "the host's file was read: {show:?}");

    // Named directly, it is a missing import, with file:line, exit 1, nothing written.
    let main = "a.example.com {\n\trespond a\n}\n\nimport sites/evil.caddy\n";
    r.write(CADDYFILE, main);
    r.write("/profile/p.toml", "[caddy]\nreload = \"none\"\nversion = \"2.6.2\"\npreset = \"owasp\"\n");
    let p = r.file("/profile/p.toml").display().to_string();
    for cmd in [&["plan", "--profile", &p][..], &["apply", "--yes", "--profile", &p][..]] {
        let run = r.harden(cmd);
        assert_eq!(run.code, 1, "{run:?}");
        assert!(run.stderr.contains("/etc/caddy/Caddyfile:5: file to import not found: sites/evil.caddy"), "{run:?}");
        assert!(!run.stderr.contains("outside.example.com") && !run.stdout.contains("outside.example.com"));
    }
    assert_eq!(r.read(CADDYFILE), main);
}

#[test]
fn symlinked_import_directory_resolves_inside_the_root() {
    // `sites` itself is an absolute link to a directory elsewhere on the host; the glob lists
    // the root's directory of that name instead.
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("x.caddy"), "outside.example.com {\n\trespond x\n}\n").unwrap();
    let r = Root::new();
    r.write(CADDYFILE, MAIN);
    std::fs::create_dir_all(r.file("/etc/caddy")).unwrap();
    std::os::unix::fs::symlink(outside.path(), r.file("/etc/caddy/sites")).unwrap();
    let inside = format!("{}/y.caddy", outside.path().display());
    r.write(&inside, "inside.example.com {\n\trespond y\n}\n");
    let show = r.harden(&["show"]);
    assert_eq!(show.code, 0, "{show:?}");
    assert!(show.stdout.contains("# site \"inside.example.com\""), "{show:?}");
    assert!(!show.stdout.contains("outside.example.com"), "the host's directory was listed: {show:?}");
}
