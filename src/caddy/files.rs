//! The several files of one Caddy configuration: which imported files harden may edit, the
//! overlay the self-check expands, and the candidate tree `caddy validate` checks before apply
//! replaces anything.
//!
//! Sites usually live in files the main Caddyfile imports (`import sites/*.caddy`). The managed
//! snippets stay in the main file, before its first top-level import, so they are defined
//! before any imported site uses them (Caddy resolves `import NAME` against the snippets
//! defined earlier in the token stream, else takes NAME for a file); the `import` line and the
//! removal of the user's header lines go into the imported file itself.
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use super::edit;
use super::import::{self, ImportUse, Loaded, Overlay};
use super::lexer::tokenize;
use super::tree::{Segment, ServerBlock};
use crate::plan::FileWrite;
use crate::system::{SysError, System};

/// One file harden read: the main Caddyfile (first) or an imported file.
pub struct Source {
    /// Logical (in-root) path.
    pub path: String,
    /// The file's text as read.
    pub text: String,
    /// Why harden must not edit this file, if so.
    pub why_not: Option<String>,
}

/// The environment `{$VAR}` is read from, like caddy's own.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The main file and every imported file, in the order of `loaded.imported`, each with the
/// reason it cannot be edited. (The expansion read the imported files through `System`, which
/// recorded them for a saved plan.)
pub fn sources(main: &str, main_text: &str, loaded: &Loaded) -> Vec<Source> {
    let mut out = vec![Source { path: main.to_string(), text: main_text.to_string(), why_not: None }];
    // Uses by file, found once: a multi-tenant layout imports thousands of files.
    let mut uses: HashMap<&str, Vec<&ImportUse>> = HashMap::new();
    for u in &loaded.uses {
        uses.entry(u.file.as_str()).or_default().push(u);
    }
    for doc in &loaded.imported {
        let path = doc.file.to_string_lossy().into_owned();
        let why_not = why_not(uses.get(path.as_str()).map_or(&[][..], Vec::as_slice), &path);
        out.push(Source { text: doc.to_source(), why_not, path });
    }
    out
}

/// A file imported once at the top level is a list of server blocks of its own; one imported
/// twice would get the edit for every import, and one imported inside a block is a fragment
/// of some other site. `mine` are the uses of `path`.
fn why_not(mine: &[&ImportUse], path: &str) -> Option<String> {
    let at = || mine.iter().map(|u| u.at.as_str()).collect::<Vec<_>>().join(", ");
    if mine.len() > 1 {
        return Some(format!("{path} is imported {} times (at {}), so an edit would apply to each", mine.len(), at()));
    }
    if mine.iter().any(|u| u.nesting > 0) {
        return Some(format!("{path} is imported inside a block (at {}), not as a file of sites", at()));
    }
    None
}

/// `file:line` of the first `{args[...]}` in a site's address or in one of its header lines
/// for a managed field: text the import line fills in, which harden cannot edit as written.
pub fn args_placeholder(site: &ServerBlock, managed: &BTreeSet<String>) -> Option<String> {
    fn in_body(body: &[Segment], managed: &BTreeSet<String>) -> Option<String> {
        body.iter().find_map(|seg| {
            let hit = seg.directive() == "header"
                && super::plan::header_fields(seg).iter().any(|(_, f)| managed.contains(f))
                && seg.any_token(&|t| t.raw.contains("{args"));
            if hit {
                return seg.first().map(|t| t.location().to_string());
            }
            seg.block().and_then(|b| in_body(&b.body, managed))
        })
    }
    match site.keys.iter().find(|k| k.raw.contains("{args")) {
        Some(k) => Some(k.location().to_string()),
        None => in_body(&site.body, managed),
    }
}

/// The edited imported files, for the self-check's expansion.
pub fn overlay(sources: &[Source], texts: &[Option<String>]) -> Overlay {
    sources.iter().zip(texts).skip(1).filter_map(|(s, t)| Some((s.path.clone(), t.clone()?))).collect()
}

/// Logical paths of the main file and every file its imports match now.
pub fn closure(sys: &System, main: &str) -> Result<Vec<String>, String> {
    let loaded = import::load(sys, Path::new(main), &env).map_err(|e| e.to_string())?;
    let mut out = vec![main.to_string()];
    for u in loaded.uses {
        if !out.contains(&u.file) {
            out.push(u.file);
        }
    }
    Ok(out)
}

/// Rewrites the absolute import paths of `text` to point into the candidate tree at
/// `host_prefix`; relative ones resolve inside the tree by themselves. Snippet names are left.
/// With `logs`, `output file PATH` is moved into the tree too: `caddy validate` opens the log
/// files of the global `log` options (creating them and their directories), which under
/// `--root` would be the host's, not the root's.
fn redirect_paths(text: &str, file: &str, host_prefix: &str, logs: bool) -> String {
    let Ok(lexed) = tokenize(text, Path::new(file)) else { return text.to_string() };
    let toks = &lexed.tokens;
    let snippets: Vec<&str> =
        toks.iter().filter_map(|t| t.text.strip_prefix('(').and_then(|n| n.strip_suffix(')'))).collect();
    // The token `k` places after `i`, when all are on `i`'s line.
    let same_line = |i: usize, k: usize| {
        (i + 1..=i + k).all(|j| toks.get(j).is_some_and(|t| !toks[j - 1].next_is_on_new_line(t))).then(|| &toks[i + k])
    };
    let mut splices = Vec::new();
    let mut redirect = |arg: &super::lexer::Token, to: String| {
        splices.push(edit::Splice { range: arg.span.clone(), text: edit::quote(&to) });
    };
    for (i, t) in toks.iter().enumerate() {
        if !(i == 0 || toks[i - 1].next_is_on_new_line(t)) {
            continue;
        }
        match t.text.as_str() {
            "import" => match same_line(i, 1) {
                Some(arg) if arg.text.starts_with('/') && !snippets.contains(&&*arg.text) => {
                    redirect(arg, format!("{host_prefix}{}", arg.text))
                }
                _ => {}
            },
            "output" if logs && same_line(i, 1).is_some_and(|k| k.text == "file") => match same_line(i, 2) {
                // A `{$VAR}` or placeholder path is left to caddy.
                Some(arg) if !arg.text.starts_with('{') => {
                    let sep = if arg.text.starts_with('/') { "" } else { "/" };
                    redirect(arg, format!("{host_prefix}{sep}{}", arg.text))
                }
                _ => {}
            },
            _ => {}
        }
    }
    edit::apply(text, &splices).unwrap_or_else(|_| text.to_string())
}

/// A copy of every file of the configuration, with the planned contents, under a dot-directory
/// beside the main file, laid out by logical path (`<dir>/.harden-candidate-PID/etc/caddy/...`).
///
/// Why a tree and not candidate files beside the originals: a candidate main file would still
/// import the old site files. Why the full logical layout: relative imports (`sites/*.caddy`,
/// `../shared/x`) then resolve inside the tree unchanged, and globs match exactly the copied
/// files. Absolute imports (`import /etc/caddy/sites/*`) would reach the real files, and under
/// `--root` the host's rather than the root's, so they are rewritten to the tree's host path;
/// only these copies are rewritten, never the files written. An import path built from
/// `{$VAR}` is not rewritten (caddy substitutes it). Same parent directory: same filesystem
/// and permissions as the real files; the leading dot keeps it out of `import *`.
pub struct Candidate {
    dir: String,
    host_dir: String,
    pub config: String,
}

impl Candidate {
    pub fn write(sys: &System, main: &str, files: &[String], writes: &[FileWrite]) -> Result<Candidate, SysError> {
        let parent = main.rsplit_once('/').map_or("", |(d, _)| d);
        let dir = format!("{parent}/.harden-candidate-{}", std::process::id());
        let host_dir = sys.path(&dir).display().to_string();
        let c = Candidate { config: format!("{host_dir}{main}"), dir, host_dir };
        let copy = || -> Result<(), SysError> {
            for f in files {
                let text = match writes.iter().find(|w| &w.path == f) {
                    Some(w) => w.content.clone(),
                    None => match sys.read(f)? {
                        Some(b) => String::from_utf8_lossy(&b).into_owned(),
                        None => continue,
                    },
                };
                let text = redirect_paths(&text, f, &c.host_dir, sys.root() != Path::new("/"));
                sys.write_atomic(&format!("{}{f}", c.dir), text.as_bytes(), 0o600)?;
            }
            Ok(())
        };
        if let Err(e) = copy() {
            c.remove();
            return Err(e);
        }
        Ok(c)
    }

    /// HOME and XDG directories for caddy inside the tree, so that what caddy stores while
    /// validating (a `tls internal` CA, `.step`) goes when the tree does.
    pub fn caddy_env(&self) -> Vec<(&'static str, String)> {
        super::version::home_env(&format!("{}/.caddy-home", self.host_dir))
    }

    /// caddy's messages name the tree's copies; this names the real files instead.
    pub fn real_names(&self, sys: &System, msg: &str) -> String {
        let root = sys.path("/").display().to_string();
        msg.replace(&self.host_dir, root.trim_end_matches('/'))
    }

    pub fn remove(&self) {
        // Only the directory harden made (named with its pid) is removed.
        let _ = std::fs::remove_dir_all(&self.host_dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_imports_are_redirected_and_snippets_kept() {
        let src = "(snip) {\n\theader X 1\n}\nimport /etc/caddy/sites/*\nimport snip\nimport sites/*.caddy\nrespond import /x\n";
        let out = redirect_paths(src, "/etc/caddy/Caddyfile", "/r/.c", true);
        assert_eq!(
            out,
            "(snip) {\n\theader X 1\n}\nimport /r/.c/etc/caddy/sites/*\nimport snip\nimport sites/*.caddy\nrespond import /x\n"
        );
    }

    #[test]
    fn log_files_are_redirected_only_when_asked() {
        let src = "{\n\tlog {\n\t\toutput file /var/log/caddy/a.log {\n\t\t\troll_keep 3\n\t\t}\n\t}\n}\nx {\n\tlog {\n\t\toutput file rel.log\n\t\toutput file {$LOG}\n\t}\n\trespond output file /y\n}\n";
        let out = redirect_paths(src, "/etc/caddy/Caddyfile", "/r/.c", true);
        assert_eq!(out, src.replace("/var/log", "/r/.c/var/log").replace("rel.log", "/r/.c/rel.log"));
        assert_eq!(redirect_paths(src, "/etc/caddy/Caddyfile", "/r/.c", false), src);
    }

    #[test]
    fn files_imported_twice_or_in_a_block_are_not_editable() {
        let u = |f: &str, n| ImportUse { file: f.into(), at: "/c:1".into(), nesting: n };
        let (once, nested) = (u("/a", 0), u("/a", 1));
        assert!(why_not(&[&once], "/a").is_none());
        assert!(why_not(&[&once, &once], "/a").unwrap().contains("2 times"));
        assert!(why_not(&[&nested], "/a").unwrap().contains("inside a block"));
    }
}
