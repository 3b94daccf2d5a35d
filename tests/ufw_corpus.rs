//! Real user.rules/user6.rules files from public repositories: each is read,
//! `harden show` turns it into a profile that plans no rule, policy or
//! logging change, and after apply (files only) the plan is empty.
mod support;
use std::path::PathBuf;
use support::Root;

fn corpus() -> Option<Vec<PathBuf>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/ufw");
    let rd = std::fs::read_dir(&dir).ok()?;
    let mut v: Vec<PathBuf> =
        rd.flatten().map(|e| e.path()).filter(|p| p.is_file() && p.to_string_lossy().ends_with(".rules")).collect();
    v.sort();
    Some(v)
}

#[test]
fn corpus_files_show_plan_and_apply_cleanly() {
    let Some(files) = corpus() else {
        eprintln!("SKIP: ../shared/corpus/ufw not found");
        return;
    };
    assert!(files.len() >= 10, "expected the ufw corpus, found {}", files.len());
    for f in files {
        let Some(root) = Root::new() else { return };
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let target = if name.ends_with("user6.rules") { "/etc/ufw/user6.rules" } else { "/etc/ufw/user.rules" };
        std::fs::copy(&f, root.file(target)).unwrap();
        let show = root.harden(&["show"]);
        assert_eq!(show.code, 0, "{name}: show failed: {show:?}");
        root.write("/profile.toml", &show.stdout);
        let profile = root.file("/profile.toml").display().to_string();
        let plan = root.harden(&["plan", "--profile", &profile, "--format", "json"]);
        assert!(plan.code == 0 || plan.code == 2, "{name}: {plan:?}");
        let json: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
        for c in json["resources"][0]["changes"].as_array().unwrap() {
            let item = c["item"].as_str().unwrap();
            assert!(
                item == "firewall.rules_file",
                "{name}: the profile from `harden show` plans a {item} change: {}\nprofile:\n{}",
                c["summary"],
                show.stdout
            );
        }
        let apply = root.harden(&["apply", "--yes", "--profile", &profile]);
        assert_eq!(apply.code, 0, "{name}: {apply:?}");
        let again = root.harden(&["plan", "--profile", &profile]);
        assert_eq!(again.code, 0, "{name}: plan after apply is not empty: {again:?}");
        println!("{name}: ok");
    }
}
