//! Helpers shared by the `caddy_*` tests (included with `#[path]`; also built alone, harmlessly).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The shared corpus, or `None` (after printing a `SKIP:` line) when it is not checked out.
pub fn corpus(sub: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/caddy").join(sub);
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("SKIP: corpus directory {} not found", dir.display());
        None
    }
}

/// Files in `dir` whose names end with `suffix`, sorted, as (stem, path).
pub fn files_with_suffix(dir: &std::path::Path, suffix: &str) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .expect("corpus directory is readable")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(suffix).map(|stem| (stem.to_string(), e.path()))
        })
        .collect();
    out.sort();
    out
}

/// Reads a corpus file as text (Caddyfiles in the corpus are UTF-8).
pub fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Other wild files from the same repository directory as `name`, with their original file
/// names, from `MANIFEST.tsv` (name, repo, commit, path).
pub fn companions(dir: &Path, name: &str) -> Vec<(String, String)> {
    let manifest = read(&dir.join("MANIFEST.tsv"));
    let rows: Vec<Vec<&str>> =
        manifest.lines().map(|l| l.split('\t').collect()).filter(|r: &Vec<&str>| r.len() >= 4).collect();
    let parent = |p: &str| p.rsplit_once('/').map_or(String::new(), |(d, _)| d.to_string());
    let Some(me) = rows.iter().find(|r| r[0].strip_suffix(".Caddyfile") == Some(name)) else {
        return Vec::new();
    };
    rows.iter()
        .filter(|r| r[0] != me[0] && r[1] == me[1] && parent(r[3]) == parent(me[3]))
        .filter_map(|r| {
            let stem = r[0].strip_suffix(".Caddyfile")?.to_string();
            let base = r[3].rsplit('/').next()?.to_string();
            Some((stem, base))
        })
        .collect()
}
