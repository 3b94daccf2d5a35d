//! Helpers shared by the `caddy_*` tests (included with `#[path]`; also built alone, harmlessly).
#![allow(dead_code)]

use std::path::PathBuf;

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
