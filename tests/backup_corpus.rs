//! Every config of the shared corpus is read, and what it declares matches INDEX.md.
use harden::backup::fsroot::Root;
use harden::backup::model::*;
use harden::backup::parse::{borgmatic, pgbackrest, resticprofile};
use std::path::{Path, PathBuf};

fn corpus() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/backup");
    dir.join("INDEX.md").exists().then_some(dir)
}

struct Row {
    file: String,
    tool: String,
    declared: String,
    notes: String,
}

fn index(dir: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(dir.join("INDEX.md")).unwrap();
    text.lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| file") && !l.starts_with("|---"))
        .map(|l| {
            let c: Vec<String> = l.split('|').map(|s| s.trim().to_string()).collect();
            let file = c[1].split_whitespace().next().unwrap().to_string();
            Row { file, tool: c[2].clone(), declared: c[4].clone(), notes: c[5].clone() }
        })
        .collect()
}

fn read(dir: &Path, row: &Row) -> Vec<BackupDecl> {
    let p = dir.join(&row.file);
    let text = std::fs::read_to_string(&p).unwrap();
    let t = row.tool.to_lowercase();
    if t.starts_with("pgbackrest") {
        // through the real loader, with the corpus dir as `/`
        vec![pgbackrest::load_pgbackrest(&Root::new(dir), &Path::new("/").join(&row.file), None).unwrap()]
    } else if t.starts_with("borgmatic") {
        vec![borgmatic::parse_borgmatic(&p, &text).unwrap()]
    } else if t.starts_with("resticprofile") {
        resticprofile::parse_resticprofile(&p, &text).unwrap()
    } else if t.starts_with("autorestic") {
        resticprofile::parse_autorestic(&p, &text).unwrap()
    } else {
        panic!("INDEX.md names a tool the observer does not read: {}", row.tool)
    }
}

/// One statement of the "declared" column: which repos, on/off/expects/unknown, storage type.
struct Expect {
    repos: Vec<String>,
    state: &'static str,
    storage: Option<String>,
}

fn expectations(col: &str) -> Vec<Expect> {
    col.split(';')
        .map(|seg| {
            let seg = seg.trim();
            let words: Vec<&str> = seg.split_whitespace().collect();
            let repos = words
                .iter()
                .flat_map(|w| w.split('+'))
                .filter(|w| {
                    w.strip_prefix("repo").is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
                })
                .map(String::from)
                .collect();
            let state = if seg.starts_with("expects ON") {
                "expects-on"
            } else if seg.starts_with("UNKNOWN") || seg.starts_with("not in this file") {
                "unknown"
            } else if words.contains(&"OFF") {
                "off"
            } else if words.contains(&"ON") {
                "on"
            } else {
                panic!("cannot read declared column {col:?}")
            };
            let storage = seg.split_once('(').and_then(|(_, r)| r.split([')', '/', ' ']).next()).map(str::to_lowercase);
            Expect { repos, state, storage }
        })
        .collect()
}

#[test]
fn corpus_declarations_match_index() {
    let Some(dir) = corpus() else {
        println!("SKIP: corpus not found at $CARGO_MANIFEST_DIR/../shared/corpus/backup");
        return;
    };
    let rows = index(&dir);
    // every corpus file is listed and read
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name != "INDEX.md" {
            assert!(rows.iter().any(|r| r.file == name), "{name} is not in INDEX.md");
        }
    }
    assert!(rows.len() >= 10, "INDEX.md lost its rows?");
    let mut checked = 0;
    for row in &rows {
        let decls = read(&dir, row);
        assert!(!decls.is_empty(), "{}: nothing declared", row.file);
        let repos: Vec<&DeclaredRepo> = decls.iter().flat_map(|d| &d.repos).collect();
        for ex in expectations(&row.declared) {
            let subject: Vec<&&DeclaredRepo> =
                repos.iter().filter(|r| ex.repos.is_empty() || ex.repos.contains(&r.name)).collect();
            assert!(!subject.is_empty(), "{}: no repo named {:?}", row.file, ex.repos);
            for r in subject {
                assert_eq!(r.encryption.value.summary(), ex.state, "{}: {} declared encryption", row.file, r.name);
                match (&ex.storage, &r.location.value) {
                    (Some(s), _) if r.storage_type.is_some() => {
                        assert_eq!(r.storage_type.as_deref(), Some(s.as_str()), "{}: {} storage", row.file, r.name)
                    }
                    (Some(s), RepoLocation::Remote { scheme, .. }) if s == "ssh" => {
                        assert_eq!(scheme, "ssh", "{}", row.file)
                    }
                    _ => {}
                }
                checked += 1;
            }
        }
        check_notes(row, &decls);
    }
    assert!(checked >= rows.len());
}

/// Facts the notes column states about secrets and oddities.
fn check_notes(row: &Row, decls: &[BackupDecl]) {
    let n = &row.notes;
    let secrets: Vec<&SecretDecl> = decls.iter().flat_map(|d| &d.secrets).collect();
    let any = |f: &dyn Fn(&SecretDecl) -> bool| secrets.iter().any(|s| f(s));
    if n.contains("INLINE") {
        assert!(any(&|s| matches!(s.source, SecretSource::Inline { .. })), "{}: inline secret expected", row.file);
    }
    if n.contains("cipher-pass") && n.contains("INLINE") {
        assert!(
            any(&|s| s.purpose == SecretPurpose::CipherPass && matches!(s.source, SecretSource::Inline { .. })),
            "{}",
            row.file
        );
    }
    if n.contains("${") || n.contains("env interpolation") {
        assert!(
            any(&|s| matches!(s.source, SecretSource::Interpolated { .. })),
            "{}: interpolated secret expected",
            row.file
        );
    }
    if n.contains("cipher-pass NOT in file") {
        assert!(
            any(&|s| s.purpose == SecretPurpose::CipherPass && matches!(s.source, SecretSource::Environment { .. })),
            "{}",
            row.file
        );
        assert!(!any(&|s| s.purpose == SecretPurpose::CipherPass && s.at.is_some()), "{}", row.file);
    }
    if n.contains("no passphrase/passcommand") || n == "no secret" {
        assert!(!any(&|s| s.at.is_some()), "{}: no secret should be declared", row.file);
    }
    if n.contains("no password in profile") {
        assert!(secrets.iter().all(|s| matches!(s.source, SecretSource::Environment { .. })), "{}", row.file);
    }
    if n.contains("RELATIVE password-file") {
        assert!(any(&|s| matches!(&s.source, SecretSource::File { path } if path.is_relative())), "{}", row.file);
    }
    if let Some(p) = n.strip_prefix("password-file ") {
        assert!(any(&|s| matches!(&s.source, SecretSource::File { path } if path == Path::new(p))), "{}", row.file);
    }
    if n.contains("repositories: []") {
        assert!(
            decls[0].repos.iter().all(|r| matches!(r.location.value, RepoLocation::Unresolved { .. })),
            "{}",
            row.file
        );
    }
    if n.contains("legacy v1 option names") {
        assert!(decls[0].notes.iter().any(|f| f.value.starts_with("legacy option name")), "{}", row.file);
    }
    if n.contains("verify-tls=n") || n.contains("verify-ssl=n") {
        assert!(decls[0].notes.iter().any(|f| f.value.contains("TLS certificate verification off")), "{}", row.file);
    }
    // every fact written in a file points at a real line of it
    for d in decls {
        for s in &d.secrets {
            if let Some(at) = &s.at {
                assert!(at.line >= 1, "{}: {}", row.file, s.key);
            }
        }
    }
}
