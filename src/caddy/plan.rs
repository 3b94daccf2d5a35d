//! Plan the Caddy security headers: observe the Caddyfile, compute what each selected site
//! must send, and the minimal edits that make it so.
//!
//! Design: one managed snippet per distinct header set (`(harden_security_headers)` and
//! variants), each a single deferred `header { ... defer }` block, imported on the first line
//! of every selected site. Deferred operations run when the response is written, after
//! `reverse_proxy` has copied the upstream's headers, so the profile's values win and are
//! sent once. The user's own unconditional `header` lines for the same fields are removed
//! (not left beside ours); everything else in the file stays byte for byte.
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::edit::{self, Splice, SNIPPET_PREFIX};
use super::headers::{site_headers, HeaderDirective, SiteHeaders};
use super::site::{address_is_https, parse_address, site_is_https};
use super::spec::{CaddySpec, Reload, Sites, HSTS};
use super::tree::{BlockKind, Segment, ServerBlock};
use super::{format, import, traps, version};
use crate::plan::{Actions, Change, ChangeKind, FileWrite, Finding, ResourcePlan, View};
use crate::system::{sha256_hex, System};

/// What apply needs to carry out a Caddy plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaddyActions {
    /// In-root path of the main Caddyfile.
    pub caddyfile: String,
    pub write: Option<FileWrite>,
    pub reload: Reload,
    /// The `admin` address from the global options, when one is written there.
    pub admin: Option<String>,
    /// Why apply must not write (harden's own check of its edit failed).
    pub blocked: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{0}")]
    Parse(#[from] super::ParseError),
    #[error("{0}")]
    Header(#[from] super::headers::HeaderError),
    #[error(transparent)]
    Sys(#[from] crate::system::SysError),
    #[error("{file}: cannot compute the edit: {message}")]
    Edit { file: String, message: String },
}

/// One site of the expanded configuration with everything the plan decides about it.
pub struct SiteFacts {
    pub addresses: Vec<String>,
    pub location: String,
    pub https: bool,
    pub selected: bool,
    pub headers: SiteHeaders,
    /// Desired set and removals (HSTS already dropped on plain-HTTP sites).
    pub desired: Option<(BTreeMap<String, String>, Vec<String>)>,
    /// Fields harden manages on this site (the profile's, HSTS included even where dropped).
    pub managed: BTreeSet<String>,
    /// A `[[caddy.site]]` entry names one of its addresses.
    pub overridden: bool,
    /// Written with braces in the main file, so harden can edit it.
    pub editable: bool,
    /// Index of its block in the main file's lossless tree, when it is written there.
    pub main_block: Option<usize>,
    /// Its addresses as Caddy sees them and as written in the file (before `{$VAR}`).
    pub names: Vec<String>,
    pub findings: Vec<Finding>,
}

/// The Caddyfile as observed: lossless main file, expanded sites with their facts.
pub struct Observed {
    pub path: String,
    pub text: String,
    pub loaded: import::Loaded,
    pub sites: Vec<(usize, SiteFacts)>,
    pub admin: Option<String>,
    pub auto_https_off: bool,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn global_option<'a>(blocks: &'a [ServerBlock], name: &str) -> Option<&'a Segment> {
    blocks.iter().filter(|b| b.kind == BlockKind::Global).flat_map(|b| b.body.iter()).find(|s| s.directive() == name)
}

/// Reads and interprets the Caddyfile; `spec` None means observe only (show).
pub fn observe(sys: &System, path: &str, spec: Option<&CaddySpec>) -> Result<Option<Observed>, PlanError> {
    let Some(text) = sys.read_text(path)? else { return Ok(None) };
    let loaded = import::load(sys, Path::new(path), &env)?;
    let headers = site_headers(&loaded.blocks)?;
    let admin = global_option(&loaded.blocks, "admin").and_then(|s| s.args().first().map(|t| t.text.to_string()));
    let auto_https_off =
        global_option(&loaded.blocks, "auto_https").is_some_and(|s| s.args().first().is_some_and(|t| t.text == "off"));
    let version = match spec.and_then(|s| s.version.as_ref()) {
        Some(v) => version::parse(&v.value),
        None => version::installed(sys),
    };
    let mut sites = Vec::new();
    // Sites of the main file by the line of their first key, to pair expanded and lossless blocks.
    let by_line: std::collections::HashMap<usize, usize> = loaded
        .main
        .blocks
        .iter()
        .enumerate()
        .filter(|(_, m)| m.kind == BlockKind::Site)
        .filter_map(|(j, m)| m.keys.first().map(|k| (k.line, j)))
        .collect();
    let site_blocks = loaded.blocks.iter().enumerate().filter(|(_, b)| b.kind == BlockKind::Site);
    for ((i, b), h) in site_blocks.zip(headers) {
        let addresses = h.addresses.clone();
        let has_tls = b.body.iter().any(|s| s.directive() == "tls");
        let https = site_is_https(&addresses, has_tls, auto_https_off);
        let location = b.keys.first().map(|k| k.location().to_string()).unwrap_or_default();
        let main_block =
            b.keys.first().filter(|k| k.file.to_string_lossy() == path).and_then(|k| by_line.get(&k.line).copied());
        // The profile may name a site as Caddy sees it or as written (`{$DOMAIN}`).
        let mut names = addresses.clone();
        names.extend(main_block.map(|j| loaded.main.blocks[j].addresses()).unwrap_or_default());
        let selected = match spec.map(|s| &s.sites) {
            None => false,
            Some(Sites::All) => true,
            Some(Sites::List(l)) => l.iter().any(|a| names.contains(&a.value)),
        };
        let (desired, managed) = match spec.filter(|_| selected) {
            Some(s) => {
                let (mut set, remove) = s.desired(&names);
                let managed: BTreeSet<String> =
                    set.keys().chain(remove.iter()).map(|k| k.to_ascii_lowercase()).collect();
                if !https {
                    set.remove(HSTS);
                }
                (Some((set, remove)), managed)
            }
            None => (None, BTreeSet::new()),
        };
        let mut findings = traps::site_findings(b, &h, https, version);
        let plain: Vec<&String> =
            addresses.iter().filter(|a| !address_is_https(&parse_address(a), has_tls, auto_https_off)).collect();
        let wants_hsts = desired.is_some() && managed.contains(&HSTS.to_ascii_lowercase());
        if wants_hsts && !https && plain.len() < addresses.len() {
            findings.push(Finding {
                id: "caddy.hsts-mixed-site".into(),
                message: format!(
                    "site {} also answers plain HTTP at {}, so harden leaves {HSTS} off all of its addresses",
                    addresses.join(", "),
                    plain.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ")
                ),
                location: Some(location.clone()),
                remedy: Some("put the plain-HTTP addresses in a site block of their own".into()),
            });
        }
        let overridden = spec.is_some_and(|s| s.site.iter().any(|o| names.contains(&o.address.value)));
        let editable = main_block.is_some_and(|j| loaded.main.blocks[j].open.is_some());
        let facts = SiteFacts {
            addresses,
            location,
            https,
            selected,
            headers: h,
            desired,
            managed,
            overridden,
            editable,
            main_block,
            names,
            findings,
        };
        sites.push((i, facts));
    }
    Ok(Some(Observed { path: path.to_string(), text, loaded, sites, admin, auto_https_off }))
}

/// The field a header line operates on, lowercased, without its `+ - ? >` prefix.
fn line_field(name: &str) -> String {
    name.strip_suffix(':').unwrap_or(name).trim_start_matches(['+', '-', '?', '>']).to_ascii_lowercase()
}

fn is_conditional(seg: &Segment) -> bool {
    seg.matcher().is_some_and(|m| m.text != "*")
}

/// Removals of the user's unconditional header lines for managed fields in one site body of
/// the main file; conditional ones are reported instead.
fn conflicting_lines(
    src: &str,
    body: &[Segment],
    managed: &BTreeSet<String>,
    splices: &mut Vec<Splice>,
    removed_lines: &mut BTreeSet<usize>,
    findings: &mut Vec<Finding>,
) {
    for seg in body {
        match seg.directive() {
            "header" => {
                let skip = usize::from(seg.matcher().is_some());
                let args = seg.args();
                let mut fields: Vec<(&Segment, String)> = Vec::new();
                if let Some(f) = args.get(skip) {
                    fields.push((seg, line_field(&f.text)));
                }
                let block_lines: Vec<&Segment> = seg.block().map(|b| b.body.iter().collect()).unwrap_or_default();
                for l in &block_lines {
                    if l.directive() != "defer" {
                        fields.push((l, line_field(l.directive())));
                    }
                }
                let hits: Vec<&(&Segment, String)> = fields.iter().filter(|(_, f)| managed.contains(f)).collect();
                if hits.is_empty() {
                    continue;
                }
                if is_conditional(seg) {
                    findings.push(Finding {
                        id: "caddy.conditional-header".into(),
                        message: format!(
                            "a `header` with matcher {} sets {}, which the profile manages; harden leaves conditional headers alone",
                            args[0].text,
                            hits.iter().map(|(_, f)| f.as_str()).collect::<Vec<_>>().join(", ")
                        ),
                        location: seg.first().map(|t| t.location().to_string()),
                        remedy: Some("remove that field from the matched header directive if the profile's value should apply there too".into()),
                    });
                    continue;
                }
                if hits.len() == fields.len() {
                    splices.push(Splice { range: edit::line_range(src, seg.span()), text: String::new() });
                    removed_lines.insert(seg.line());
                } else {
                    for (l, _) in hits {
                        splices.push(Splice { range: edit::line_range(src, l.span()), text: String::new() });
                        removed_lines.insert(l.line());
                    }
                }
            }
            "handle" | "handle_path" | "route" if !is_conditional(seg) => {
                if let Some(b) = seg.block() {
                    conflicting_lines(src, &b.body, managed, splices, removed_lines, findings);
                }
            }
            _ => {}
        }
    }
}

/// Where to insert after a token: before the `\r` a CRLF line leaves at the token's end.
fn end_before_cr(src: &str, end: usize) -> usize {
    if src[..end].ends_with('\r') {
        end - 1
    } else {
        end
    }
}

/// Fields a header directive touches, lowercased.
fn touched(d: &HeaderDirective) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for h in &d.handlers {
        out.extend(h.set.keys().chain(h.add.keys()).chain(h.replace.keys()).map(|k| k.to_ascii_lowercase()));
        out.extend(h.delete.iter().map(|k| k.to_ascii_lowercase()));
    }
    out
}

fn indent_of(block: &ServerBlock) -> String {
    let Some(first) = block.body.first().and_then(|s| s.first()) else { return "\t".into() };
    let text = first.leading.as_str();
    let tail = text.rsplit('\n').next().unwrap_or("");
    if tail.is_empty() || !tail.trim().is_empty() {
        "\t".into()
    } else {
        tail.to_string()
    }
}

/// The file after harden's edits, and per-site notes of what changed.
struct Edited {
    text: String,
    site_edits: BTreeMap<usize, Vec<String>>,
}

fn edit_file(o: &Observed, findings: &mut Vec<Finding>) -> Result<Edited, PlanError> {
    let src = &o.text;
    let doc = &o.loaded.main;
    let bad = |message: String| PlanError::Edit { file: o.path.clone(), message };
    // New lines follow the file's line ends (CRLF files stay CRLF).
    let nl = if src.contains("\r\n") { "\r\n" } else { "\n" };
    let mut splices = Vec::new();
    let mut site_edits: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    // Distinct header sets get one snippet each, named by what they are for.
    let mut snippets: Vec<(String, String)> = Vec::new();
    // The header set of each snippet, parallel to `snippets`: sites are matched by their set,
    // so a snippet's text is written once, not once per site.
    let mut snippet_sets: Vec<(&BTreeMap<String, String>, &Vec<String>)> = Vec::new();
    let mut snippet_of: BTreeMap<usize, String> = BTreeMap::new();
    let base = o.sites.iter().find_map(|(_, s)| s.desired.as_ref().filter(|_| s.https && !s.overridden).cloned());
    for (idx, (_, s)) in o.sites.iter().enumerate() {
        let Some((set, remove)) = &s.desired else { continue };
        if set.is_empty() && remove.is_empty() || !s.editable {
            continue;
        }
        let text_for = |name: &str| edit::snippet(name, set, remove).replace('\n', nl);
        let existing = snippet_sets.iter().position(|(a, b)| *a == set && *b == remove);
        let name = match existing {
            Some(i) => snippets[i].0.clone(),
            None => {
                let name = if !snippets.iter().any(|(n, _)| n == SNIPPET_PREFIX)
                    && base.as_ref() == Some(&(set.clone(), remove.clone()))
                {
                    SNIPPET_PREFIX.to_string()
                } else if !s.https && !snippets.iter().any(|(n, _)| n == &format!("{SNIPPET_PREFIX}_http")) {
                    format!("{SNIPPET_PREFIX}_http")
                } else {
                    edit::snippet_name_for(&s.addresses[0])
                };
                snippets.push((name.clone(), text_for(&name)));
                snippet_sets.push((set, remove));
                name
            }
        };
        snippet_of.insert(idx, name);
    }
    // The managed snippets as they are now.
    let managed_now: Vec<&ServerBlock> = doc
        .blocks
        .iter()
        .filter(|b| matches!(&b.kind, BlockKind::Snippet(n) if n.starts_with(SNIPPET_PREFIX)))
        .collect();
    // In a CRLF file the lexer keeps a line's final `\r` in the token before it.
    let now_texts: Vec<String> = managed_now.iter().map(|b| src[b.span()].trim_end_matches('\r').to_string()).collect();
    let new_texts: Vec<String> = snippets.iter().map(|(_, t)| t.clone()).collect();
    if now_texts != new_texts {
        for b in &managed_now {
            splices.push(Splice { range: edit::block_range(src, b.span()), text: String::new() });
        }
        if !new_texts.is_empty() {
            let joined = new_texts.join(&format!("{nl}{nl}"));
            let splice = match managed_now.first() {
                Some(b) => {
                    let r = edit::block_range(src, b.span());
                    Splice { range: r.start..r.start, text: format!("{joined}{nl}{nl}") }
                }
                None => match doc.blocks.iter().find(|b| b.kind == BlockKind::Global).and_then(|g| g.close.as_ref()) {
                    Some(close) if doc.blocks.first().is_some_and(|b| b.kind == BlockKind::Global) => {
                        let at = end_before_cr(src, close.span.end);
                        Splice { range: at..at, text: format!("{nl}{nl}{joined}") }
                    }
                    _ => Splice { range: 0..0, text: format!("{joined}{nl}{nl}") },
                },
            };
            splices.push(splice);
        }
    }
    // Each site of the main file: its import line, and the user's lines for managed fields.
    let mut removed_lines = BTreeSet::new();
    for (idx, (_, s)) in o.sites.iter().enumerate() {
        let want = snippet_of.get(&idx);
        let Some(m) = s.main_block.map(|j| &doc.blocks[j]) else {
            if s.selected {
                findings.push(Finding {
                    id: "caddy.site-not-editable".into(),
                    message: format!(
                        "site {} is defined in an imported file; harden edits only {}",
                        s.addresses.join(", "),
                        o.path
                    ),
                    location: Some(s.location.clone()),
                    remedy: Some(format!(
                        "move the site into {} or add `import {SNIPPET_PREFIX}` to it yourself",
                        o.path
                    )),
                });
            }
            continue;
        };
        let imports: Vec<&Segment> = m
            .body
            .iter()
            .filter(|seg| {
                seg.directive() == "import" && seg.args().first().is_some_and(|a| a.text.starts_with(SNIPPET_PREFIX))
            })
            .collect();
        let Some(open) = &m.open else {
            if s.desired.as_ref().is_some_and(|(set, remove)| !set.is_empty() || !remove.is_empty()) {
                findings.push(Finding {
                    id: "caddy.site-without-braces".into(),
                    message: format!(
                        "site {} is written without braces, so no snippet can be defined in this file",
                        s.addresses.join(", ")
                    ),
                    location: Some(s.location.clone()),
                    remedy: Some("wrap the site's directives in `{ ... }`".into()),
                });
            }
            continue;
        };
        let notes = site_edits.entry(idx).or_default();
        let keep = imports.first().filter(|seg| {
            let a = seg.args();
            a.len() == 1 && Some(a[0].text.as_str()) == want.map(String::as_str)
        });
        for seg in &imports {
            if keep.map(|k| std::ptr::eq(*k, *seg)) != Some(true) {
                splices.push(Splice { range: edit::line_range(src, seg.span()), text: String::new() });
                notes.push(format!("remove `import {}`", seg.args()[0].text));
            }
        }
        if let (None, Some(name)) = (keep, want) {
            splices.push(Splice {
                range: end_before_cr(src, open.span.end)..end_before_cr(src, open.span.end),
                text: format!("{nl}{}import {name}", indent_of(m)),
            });
            notes.push(format!("import {name}"));
        }
        if s.selected {
            let before = splices.len();
            conflicting_lines(src, &m.body, &s.managed, &mut splices, &mut removed_lines, findings);
            if splices.len() > before {
                notes.push(format!(
                    "remove {} line(s) of its own for headers the profile manages",
                    splices.len() - before
                ));
            }
        }
    }
    // Headers for managed fields that harden cannot edit (snippets, imported files).
    let lines_of = |b: &ServerBlock| b.line()..=b.close.as_ref().map_or(b.line(), |c| c.line);
    let ours: Vec<_> = managed_now.iter().map(|b| lines_of(b)).collect();
    // Sorted by line (blocks are in file order), so a line is looked up by binary search.
    let site_lines: Vec<_> = doc.blocks.iter().filter(|b| b.kind == BlockKind::Site).map(lines_of).collect();
    let in_site_block = |line: usize| {
        let i = site_lines.partition_point(|r| *r.start() <= line);
        i > 0 && site_lines[i - 1].contains(&line)
    };
    for (_, s) in o.sites.iter().filter(|(_, s)| s.selected) {
        for d in &s.headers.directives {
            let in_main = d.location.file.to_string_lossy() == o.path;
            let line = d.location.line;
            // Lines in a site block of the main file were handled above; ours are ours.
            if in_main && (ours.iter().any(|r| r.contains(&line)) || in_site_block(line)) {
                continue;
            }
            let hits: Vec<String> = touched(d).intersection(&s.managed).cloned().collect();
            if hits.is_empty() {
                continue;
            }
            findings.push(Finding {
                id: "caddy.header-outside-site".into(),
                message: format!(
                    "site {}: a header directive outside the site block sets {}, which the profile manages; harden's deferred header overrides it, but the file then says both",
                    s.addresses.join(", "),
                    hits.join(", ")
                ),
                location: Some(d.location.to_string()),
                remedy: Some("remove these fields from that snippet or imported file".into()),
            });
        }
    }
    let mut text = edit::apply(src, &splices).map_err(bad)?;
    // A file `caddy fmt` left unchanged must stay so: our removals can leave a run of blank
    // lines that fmt would collapse. Formatting a formatted file plus our edits changes only
    // the edited places. (The formatter writes LF; a CRLF file is left to its own line ends.)
    if nl == "\n" && format::is_formatted(src) {
        text = format::format(&text);
    }
    site_edits.retain(|_, v| !v.is_empty());
    Ok(Edited { text, site_edits })
}

/// Header names (or `*` patterns) that unconditional `-Field` operations delete on this site.
pub fn removed(h: &SiteHeaders) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let unconditional = h.directives.iter().filter(|d| {
        d.matcher.is_none() && d.within.iter().all(|c| c.matcher.is_none() && c.directive != "handle_errors")
    });
    for p in unconditional.flat_map(|d| d.handlers.iter()).flat_map(|op| op.delete.iter()) {
        let p = super::headers::canonical(p);
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// Whether an unconditional deferred delete removes `name` on this site.
fn deletes(h: &SiteHeaders, name: &str) -> bool {
    removed(h).iter().any(|p| p.eq_ignore_ascii_case(name) || p == "*")
}

/// Header-level differences between a site's current effective headers and the profile.
fn header_changes(s: &SiteFacts) -> Vec<Change> {
    // A site harden cannot edit is a finding, not a change apply would fail to make.
    let Some((set, remove)) = s.desired.as_ref().filter(|_| s.editable) else { return Vec::new() };
    let site = s.addresses.join(", ");
    let eff = s.headers.effective();
    let mut out = Vec::new();
    for (k, v) in set {
        match eff.get(&k.to_ascii_lowercase()) {
            None => out.push(Change {
                kind: ChangeKind::Add,
                item: "caddy.header".into(),
                summary: format!("{site}: add {k}: {v}"),
                expected: Some(v.clone()),
                actual: None,
            }),
            Some(e) if e.values != [v.clone()] || !e.replacements.is_empty() => out.push(Change {
                kind: ChangeKind::Change,
                item: "caddy.header".into(),
                summary: format!("{site}: {k}: {v} (now {} from {})", e.values.join(", "), e.set_at),
                expected: Some(v.clone()),
                actual: Some(e.values.join(", ")),
            }),
            Some(_) => {}
        }
    }
    for r in remove {
        if !deletes(&s.headers, r) {
            out.push(Change {
                kind: ChangeKind::Remove,
                item: "caddy.header".into(),
                summary: format!("{site}: remove {r}"),
                expected: None,
                actual: None,
            });
        }
    }
    if !s.https {
        if let Some(e) = eff.get(&HSTS.to_ascii_lowercase()) {
            if s.managed.contains(&HSTS.to_ascii_lowercase()) {
                out.push(Change {
                    kind: ChangeKind::Remove,
                    item: "caddy.header".into(),
                    summary: format!("{site}: remove {HSTS} (plain HTTP; set at {})", e.set_at),
                    expected: None,
                    actual: Some(e.values.join(", ")),
                });
            }
        }
    }
    out
}

/// Checks that the edited file gives every selected site exactly the profile's headers.
fn verify(o: &Observed, blocks: &[ServerBlock]) -> Result<(), String> {
    let after = site_headers(blocks).map_err(|e| e.to_string())?;
    if after.len() != o.sites.len() {
        return Err(format!("the edit changed the number of sites from {} to {}", o.sites.len(), after.len()));
    }
    for ((_, s), h) in o.sites.iter().zip(&after) {
        let Some((set, remove)) = &s.desired else { continue };
        // Sites harden cannot edit are reported as findings, not checked here.
        if !s.editable || set.is_empty() && remove.is_empty() {
            continue;
        }
        let eff = h.effective();
        for (k, v) in set {
            let got = eff.get(&k.to_ascii_lowercase()).map(|e| e.values.clone()).unwrap_or_default();
            if got != [v.clone()] {
                return Err(format!("site {}: {k} would be {:?}, not {v:?}", s.addresses.join(", "), got));
            }
        }
        for r in remove {
            if !deletes(h, r) {
                return Err(format!("site {}: {r} would not be removed", s.addresses.join(", ")));
            }
        }
        if !s.https && s.managed.contains(&HSTS.to_ascii_lowercase()) && eff.contains_key(&HSTS.to_ascii_lowercase()) {
            return Err(format!("site {} is plain HTTP but would still send {HSTS}", s.addresses.join(", ")));
        }
    }
    Ok(())
}

pub fn plan(sys: &System, spec: &CaddySpec) -> Result<ResourcePlan, PlanError> {
    let mut rp = ResourcePlan {
        resource: "caddy".into(),
        changes: Vec::new(),
        findings: Vec::new(),
        warnings: Vec::new(),
        views: Vec::new(),
        actions: Actions::None,
    };
    let Some(o) = observe(sys, &spec.caddyfile, Some(spec))? else {
        rp.findings.push(Finding {
            id: "caddy.no-caddyfile".into(),
            message: format!("{} does not exist, so no Caddy site can be checked", sys.path(&spec.caddyfile).display()),
            location: None,
            remedy: Some("install caddy, or set `caddyfile` in [caddy] to the file it serves".into()),
        });
        return Ok(rp);
    };
    for (_, s) in &o.sites {
        rp.findings.extend(s.findings.iter().filter(|_| s.selected).cloned());
    }
    if let Sites::List(l) = &spec.sites {
        for a in l.iter().filter(|a| !o.sites.iter().any(|(_, s)| s.names.contains(&a.value))) {
            rp.findings.push(Finding {
                id: "caddy.unknown-site".into(),
                message: format!("the profile names site {} but {} has no such site", a.value, o.path),
                location: Some(a.at.to_string()),
                remedy: Some("write the address exactly as in the Caddyfile".into()),
            });
        }
    }
    for ov in spec.site.iter().filter(|ov| !o.sites.iter().any(|(_, s)| s.names.contains(&ov.address.value))) {
        rp.findings.push(Finding {
            id: "caddy.unknown-site".into(),
            message: format!("[[caddy.site]] {} matches no site address in {}", ov.address.value, o.path),
            location: Some(ov.address.at.to_string()),
            remedy: Some("write the address exactly as in the Caddyfile".into()),
        });
    }
    let edited = edit_file(&o, &mut rp.findings)?;
    let mut blocked = None;
    if edited.text != o.text {
        // The file parsed and expanded before the edit, so an edit that does not is harden's bug.
        let (blocks, _) =
            import::expand_str(&edited.text, Path::new(&o.path), sys, &env).map_err(|e| PlanError::Edit {
                file: o.path.clone(),
                message: format!("the edited file does not parse ({e}); this is a bug in harden"),
            })?;
        let checked = verify(&o, &blocks);
        drop_later(blocks);
        if let Err(e) = checked {
            blocked = Some(format!("harden's edit of {} would not give the profile's headers: {e}", o.path));
        }
        for (idx, (_, s)) in o.sites.iter().enumerate() {
            let mut c = header_changes(s);
            if c.is_empty() {
                if let Some(notes) = edited.site_edits.get(&idx) {
                    c.push(Change {
                        kind: ChangeKind::Change,
                        item: "caddy.site".into(),
                        summary: format!("{}: {}", s.addresses.join(", "), notes.join("; ")),
                        expected: None,
                        actual: None,
                    });
                }
            }
            rp.changes.extend(c);
        }
        if rp.changes.is_empty() {
            rp.changes.push(Change {
                kind: ChangeKind::Change,
                item: "caddy.snippet".into(),
                summary: format!("{}: rewrite harden's managed snippets", o.path),
                expected: None,
                actual: None,
            });
        }
        rp.views.push(View {
            title: o.path.clone(),
            before: o.text.clone(),
            after: edited.text.clone(),
            verbose: false,
        });
    }
    if !o.sites.iter().any(|(_, s)| s.selected) {
        rp.warnings.push(format!("{} has no site that the profile selects", o.path));
    }
    let write = (edited.text != o.text).then(|| FileWrite {
        path: o.path.clone(),
        content: edited.text.clone(),
        base_sha256: sha256_hex(o.text.as_bytes()),
        mode: 0o644,
    });
    if write.is_some()
        && !sys.is_live()
        && !(spec.reload == Reload::Api && o.admin.as_ref().is_some_and(|a| a != "off"))
    {
        rp.warnings
            .push(format!("--root is {}: apply writes the file only and does not reload caddy", sys.root().display()));
    }
    rp.actions = Actions::Caddy(CaddyActions {
        caddyfile: o.path.clone(),
        write,
        reload: spec.reload,
        admin: o.admin.clone(),
        blocked,
    });
    drop_later(o);
    Ok(rp)
}

/// Freeing a large syntax tree (a token owns its strings and trivia) takes a quarter of a plan
/// of thousands of sites; a short-lived command need not wait for it.
fn drop_later<T: Send + 'static>(value: T) {
    if std::thread::Builder::new().name("caddy-drop".into()).spawn(move || drop(value)).is_err() {
        // No thread: the value was moved into the failed closure and is dropped here.
    }
}
