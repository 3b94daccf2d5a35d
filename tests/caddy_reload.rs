//! How apply reloads caddy, tested at the system seam: a scripted runner stands in for
//! `caddy` and `systemctl` on a temp root made to look live, so no service on this machine is
//! touched. Real reloads through the admin API are covered by `caddy_live`.
use harden::engine::{self, ApplyOptions, ApplyReport};
use harden::profile;
use harden::system::{Output, Runner, SysError, System};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

const CADDYFILE: &str = "/etc/caddy/Caddyfile";
const SITE: &str = "example.com {\n\trespond hi\n}\n";
const ADMIN_OFF: &str = "{\n\tadmin off\n}\n\nexample.com {\n\trespond hi\n}\n";

/// One command the runner was asked to run, with the Caddyfile's content at that moment.
#[derive(Debug, Clone)]
struct Call {
    line: String,
    caddyfile: String,
}

/// A scripted answer to the first command line starting with `prefix`.
#[derive(Clone)]
struct Answer {
    prefix: String,
    status: i32,
    stderr: String,
    stdout: String,
    /// Replace the Caddyfile's directory by a plain file, so writing there fails afterwards.
    break_dir: bool,
}

fn fail(prefix: &str) -> Answer {
    let stderr = format!("scripted failure of {prefix}");
    Answer { prefix: prefix.into(), status: 1, stderr, stdout: String::new(), break_dir: false }
}

/// Answers each command line from `script` (exit 0 and no output when it has no entry; an
/// entry is used once, then the next one for the same line), and records every call.
struct Scripted {
    calls: Arc<Mutex<Vec<Call>>>,
    script: Arc<Mutex<Vec<Answer>>>,
    caddyfile: PathBuf,
}

impl Runner for Scripted {
    fn run(&self, program: &str, args: &[&str], _stdin: Option<&[u8]>) -> Result<Output, SysError> {
        let line = format!("{program} {}", args.join(" "));
        let caddyfile = std::fs::read_to_string(&self.caddyfile).unwrap_or_default();
        self.calls.lock().unwrap().push(Call { line: line.clone(), caddyfile });
        let mut script = self.script.lock().unwrap();
        let Some(i) = script.iter().position(|a| line.starts_with(a.prefix.as_str())) else {
            return Ok(Output { status: 0, stdout: String::new(), stderr: String::new() });
        };
        let a = script.remove(i);
        if a.break_dir {
            let dir = self.caddyfile.parent().unwrap();
            std::fs::rename(dir, dir.with_extension("moved")).unwrap();
            std::fs::write(dir, "not a directory").unwrap();
        }
        Ok(Output { status: a.status, stdout: a.stdout, stderr: a.stderr })
    }
    fn has(&self, program: &str) -> bool {
        program == "caddy" || program == "systemctl"
    }
}

struct Host {
    dir: tempfile::TempDir,
    calls: Arc<Mutex<Vec<Call>>>,
    script: Arc<Mutex<Vec<Answer>>>,
    sys: System,
    prof: profile::Profile,
}

/// A temp root that looks live, with `caddyfile` and a profile using `reload`; `script`
/// lists the answers that differ from success.
fn host(reload: &str, caddyfile: &str, script: &[Answer]) -> Host {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(CADDYFILE.trim_start_matches('/'));
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, caddyfile).unwrap();
    let p = dir.path().join("profile.toml");
    // A profile version keeps plan from asking `caddy version`.
    std::fs::write(&p, format!("[caddy]\nreload = \"{reload}\"\nversion = \"2.6.2\"\npreset = \"owasp\"\n")).unwrap();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let script = Arc::new(Mutex::new(script.to_vec()));
    let runner = Scripted { calls: calls.clone(), script: script.clone(), caddyfile: file };
    let sys = System::pretend_live(dir.path(), Box::new(runner));
    let prof = profile::load(&p).unwrap();
    Host { dir, calls, script, sys, prof }
}

impl Host {
    fn apply(&self) -> ApplyReport {
        let plan = engine::plan(&self.sys, &self.prof).unwrap();
        let opts = ApplyOptions { audit: None, allow_lockout: false, force: false, saved: false };
        engine::apply(&self.sys, &plan, &self.prof, &opts).unwrap()
    }
    fn has_changes(&self) -> bool {
        engine::plan(&self.sys, &self.prof).unwrap().has_changes()
    }
    /// The command lines run so far (validate's candidate path shortened to `CANDIDATE`).
    fn lines(&self) -> Vec<String> {
        // The candidate tree is `.harden-candidate-PID/` beside the Caddyfile, holding the
        // configuration at its logical paths.
        let cand =
            self.dir.path().join(format!("etc/caddy/.harden-candidate-{}/etc/caddy/Caddyfile", std::process::id()));
        let cand = cand.display().to_string();
        let file = self.dir.path().join("etc/caddy/Caddyfile").display().to_string();
        let calls = self.calls.lock().unwrap();
        calls.iter().map(|c| c.line.replace(&cand, "CANDIDATE").replace(&file, "CADDYFILE")).collect()
    }
    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
    fn clear(&self) {
        self.calls.lock().unwrap().clear();
    }
    fn caddyfile(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("etc/caddy/Caddyfile")).unwrap()
    }
    fn caddy_report<'a>(&self, r: &'a ApplyReport) -> &'a engine::ResourceReport {
        r.resources.iter().find(|x| x.resource.contains("caddy")).expect("a caddy resource")
    }
}

const VALIDATE: &str = "caddy validate --config CANDIDATE --adapter caddyfile";
const SYSTEMD: &str = "systemctl reload caddy";
const IS_ACTIVE: &str = "systemctl is-active --quiet caddy";

#[test]
fn systemd_reload_runs_once_after_the_write_and_not_without_one() {
    let h = host("systemd", SITE, &[]);
    assert!(h.has_changes());
    assert!(h.lines().is_empty(), "plan runs nothing: {:?}", h.lines());
    let r = h.apply();
    let c = h.caddy_report(&r);
    assert_eq!(c.failed, None, "{r:?}");
    assert_eq!(h.lines(), [VALIDATE, SYSTEMD]);
    // The reload saw the new file, so it ran after the write.
    let calls = h.calls();
    assert_ne!(calls[1].caddyfile, SITE);
    assert_eq!(calls[1].caddyfile, h.caddyfile());
    assert!(c.notes.iter().any(|n| n.contains("systemctl reload caddy")), "{c:?}");
    assert!(r.remaining.is_empty(), "{r:?}");

    // In sync now: a second apply neither validates, writes nor reloads.
    h.clear();
    let after = h.caddyfile();
    assert!(!h.has_changes());
    let r = h.apply();
    assert_eq!(h.caddy_report(&r).failed, None);
    assert!(h.lines().is_empty(), "{:?}", h.lines());
    assert_eq!(h.caddyfile(), after);
}

#[test]
fn auto_with_the_admin_api_off_reloads_with_systemd() {
    let h = host("auto", ADMIN_OFF, &[]);
    let r = h.apply();
    assert_eq!(h.caddy_report(&r).failed, None, "{r:?}");
    // No is-active question: with the API off, systemd is the only way.
    assert_eq!(h.lines(), [VALIDATE, SYSTEMD]);
}

#[test]
fn auto_without_admin_asks_systemd_whether_caddy_is_active() {
    let h = host("auto", SITE, &[]);
    let r = h.apply();
    assert_eq!(h.caddy_report(&r).failed, None, "{r:?}");
    assert_eq!(h.lines(), [VALIDATE, IS_ACTIVE, SYSTEMD]);

    // Not active under systemd: the admin API at its default address.
    let h = host("auto", SITE, &[Answer { status: 3, ..fail(IS_ACTIVE) }]);
    let r = h.apply();
    let c = h.caddy_report(&r);
    assert_eq!(c.failed, None, "{r:?}");
    assert_eq!(
        h.lines(),
        [VALIDATE, IS_ACTIVE, "caddy reload --config CADDYFILE --adapter caddyfile --address localhost:2019"]
    );
    assert!(c.notes.iter().any(|n| n.contains("admin API at localhost:2019")), "{c:?}");
}

#[test]
fn failed_systemd_reload_restores_the_file_byte_for_byte_and_reloads_it() {
    // CRLF and no final newline: the restored bytes must be exactly these.
    let original = "example.com {\r\n\trespond hi\r\n}";
    let h = host("systemd", original, &[fail(SYSTEMD)]);
    let r = h.apply();
    let c = h.caddy_report(&r);
    let failed = c.failed.as_deref().expect("the reload failure is reported");
    assert!(failed.starts_with("reloading caddy failed: systemctl reload caddy exited 1"), "{failed}");
    assert!(failed.contains("was restored and reloaded"), "{failed}");
    assert_eq!(h.lines(), [VALIDATE, SYSTEMD, SYSTEMD]);
    let calls = h.calls();
    assert_ne!(calls[1].caddyfile, original, "the first reload saw the edited file");
    assert_eq!(calls[2].caddyfile, original, "the second reload saw the restored file");
    assert_eq!(std::fs::read(h.dir.path().join("etc/caddy/Caddyfile")).unwrap(), original.as_bytes());

    // When the second reload fails as well, the error says that too.
    let h = host("systemd", SITE, &[fail(SYSTEMD), fail(SYSTEMD)]);
    let r = h.apply();
    let failed = h.caddy_report(&r).failed.clone().expect("reported");
    assert!(failed.contains("was restored, but reloading it failed too"), "{failed}");
    assert_eq!(h.caddyfile(), SITE);
    assert!(h.script.lock().unwrap().is_empty(), "both scripted failures were used");
}

#[test]
fn rejected_by_caddy_validate_is_never_written_or_reloaded() {
    let h = host("systemd", SITE, &[fail("caddy validate")]);
    let r = h.apply();
    let failed = h.caddy_report(&r).failed.clone().expect("the rejection is reported");
    assert!(failed.contains("caddy rejects the edited"), "{failed}");
    assert!(failed.contains("scripted failure of caddy"), "{failed}");
    // The candidate, then the current files in an unedited candidate tree (to tell harden's
    // edit from a broken setup, with absolute imports kept inside the root).
    assert_eq!(h.lines(), [VALIDATE, VALIDATE]);
    assert!(h.calls().iter().all(|c| c.caddyfile == SITE), "the Caddyfile changed before validation");
    assert_eq!(h.caddyfile(), SITE);
    let left: Vec<_> = std::fs::read_dir(h.dir.path().join("etc/caddy"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("harden-candidate"))
        .collect();
    assert!(left.is_empty(), "candidate left behind: {left:?}");
    assert!(!h.dir.path().join("var/backups/harden").exists(), "a backup was made");
}

#[test]
fn reload_failure_without_output_ends_without_a_dangling_colon() {
    let quiet = Answer { stderr: String::new(), ..fail(SYSTEMD) };
    let h = host("systemd", SITE, &[quiet]);
    let r = h.apply();
    let failed = h.caddy_report(&r).failed.clone().expect("reported");
    assert!(failed.starts_with("reloading caddy failed: systemctl reload caddy exited 1; the previous "), "{failed}");

    // Both streams are shown, kept apart.
    let both = Answer { stdout: "on stdout".into(), ..fail(SYSTEMD) };
    let h = host("systemd", SITE, &[both]);
    let r = h.apply();
    let failed = h.caddy_report(&r).failed.clone().expect("reported");
    assert!(
        failed.contains("exited 1: scripted failure of systemctl reload caddy; on stdout; the previous"),
        "{failed}"
    );
}

#[test]
fn failed_restore_after_failed_reload_reports_both_and_the_backup() {
    let h = host("systemd", SITE, &[Answer { break_dir: true, ..fail(SYSTEMD) }]);
    let r = h.apply();
    let c = h.caddy_report(&r);
    let failed = c.failed.clone().expect("reported");
    assert!(failed.starts_with("reloading caddy failed: systemctl reload caddy exited 1"), "{failed}");
    assert!(failed.contains("restoring the previous"), "{failed}");
    let backup = h.dir.path().join("var/backups/harden");
    let stamp = std::fs::read_dir(&backup).unwrap().next().unwrap().unwrap().path();
    assert!(failed.contains(&format!("it is kept in {}", stamp.display())), "{failed}");
    assert_eq!(std::fs::read_to_string(stamp.join("etc/caddy/Caddyfile")).unwrap(), SITE);
    // Nothing was reloaded after the failed restore.
    assert_eq!(h.lines(), [VALIDATE, SYSTEMD]);
}
