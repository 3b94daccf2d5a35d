//! Plan the Caddy security headers: observe the Caddyfile, compute what each selected site
//! must send, and the minimal edits that make it so.
//!
//! Design: one managed snippet per distinct header set (`(harden_security_headers)` and
//! variants), each a single deferred `header { ... defer }` block, imported on the first line
//! of every selected site. Deferred operations run when the response is written, after
//! `reverse_proxy` has copied the upstream's headers, so the profile's values win and are
//! sent once. The user's own unconditional `header` lines for the same fields are removed
//! (not left beside ours); everything else in the file stays byte for byte.
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::edit::{self, end_before_cr, import_at, line_end_of, Splice, SNIPPET_PREFIX};
use super::files::{self, args_placeholder, env, Source};
use super::headers::{site_headers, EffectiveHeader, HeaderDirective, SiteHeaders};
use super::site::{address_is_https, address_key, parse_address, site_is_https, AddressKey};
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
    /// The main file first, then the imported files harden edits; each checked against the
    /// sha256 it was planned from.
    #[serde(default)]
    pub writes: Vec<FileWrite>,
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

/// The profile's site addresses, matched against a site's as Caddy reads them (see
/// [`same_address`]): `s.example.com` in the profile names a site written
/// `https://s.example.com`. Each address is known by its position in the profile's list.
struct Named(HashMap<AddressKey, Vec<usize>>);

impl Named {
    fn new<'a>(addresses: impl IntoIterator<Item = &'a str>) -> Named {
        let mut by_key: HashMap<AddressKey, Vec<usize>> = HashMap::new();
        for (i, a) in addresses.into_iter().enumerate() {
            by_key.entry(address_key(a)).or_default().push(i);
        }
        Named(by_key)
    }

    /// The positions of the addresses that name one of `names`, in order.
    fn matching(&self, names: &[String]) -> Vec<usize> {
        if self.0.is_empty() {
            return Vec::new();
        }
        let mut hits: Vec<usize> =
            names.iter().filter_map(|n| self.0.get(&address_key(n))).flatten().copied().collect();
        hits.sort_unstable();
        hits.dedup();
        hits
    }

    fn any(&self, names: &[String]) -> bool {
        !self.0.is_empty() && names.iter().any(|n| self.0.contains_key(&address_key(n)))
    }
}

/// The headers a site must send and the ones it must not.
pub type Desired = (BTreeMap<String, String>, Vec<String>);

/// What the profile asks of a site (HSTS dropped on plain HTTP), and the fields it manages.
fn desired_for(spec: &CaddySpec, names: &[String], https: bool) -> (Arc<Desired>, Arc<BTreeSet<String>>) {
    let (mut set, remove) = spec.desired(names);
    let managed: BTreeSet<String> = set.keys().chain(remove.iter()).map(|k| k.to_ascii_lowercase()).collect();
    if !https {
        set.remove(HSTS);
    }
    (Arc::new((set, remove)), Arc::new(managed))
}

/// One site of the expanded configuration with everything the plan decides about it.
pub struct SiteFacts {
    pub addresses: Vec<String>,
    pub location: String,
    pub https: bool,
    pub selected: bool,
    pub headers: SiteHeaders,
    /// Desired set and removals (HSTS already dropped on plain-HTTP sites).
    pub desired: Option<Arc<Desired>>,
    /// Fields harden manages on this site (the profile's, HSTS included even where dropped).
    pub managed: Arc<BTreeSet<String>>,
    /// The `[[caddy.site]]` entries (positions in the profile) that name one of its addresses.
    pub overrides: Vec<usize>,
    /// Written in a file harden may edit (the main file, or a file imported once at the top
    /// level), without `{args[...]}` in its address or managed header lines.
    pub editable: bool,
    /// Why not, when it is not.
    pub not_editable: Option<String>,
    /// Its file (index into [`Observed::files`]) and block in that file's lossless tree.
    pub block: Option<(usize, usize)>,
    /// Its addresses as Caddy sees them and as written in the file (before `{$VAR}`).
    pub names: Vec<String>,
    pub findings: Vec<Finding>,
    /// Advice about fields the profile does not manage (never drift).
    pub warnings: Vec<String>,
}

/// The Caddyfile as observed: lossless main file, expanded sites with their facts.
pub struct Observed {
    pub path: String,
    pub text: String,
    pub loaded: import::Loaded,
    /// The main file, then each imported file in the order of `loaded.imported`.
    pub files: Vec<Source>,
    pub sites: Vec<(usize, SiteFacts)>,
    pub admin: Option<String>,
    pub auto_https_off: bool,
    /// Whether the main file is as `caddy fmt` prints it (found beside the parse).
    pub main_formatted: bool,
}

impl Observed {
    /// The lossless tree of file `f` of [`Observed::files`].
    fn doc(&self, f: usize) -> &super::Document {
        if f == 0 {
            &self.loaded.main
        } else {
            &self.loaded.imported[f - 1]
        }
    }
}

fn global_option<'a>(blocks: &'a [ServerBlock], name: &str) -> Option<&'a Segment> {
    blocks.iter().filter(|b| b.kind == BlockKind::Global).flat_map(|b| b.body.iter()).find(|s| s.directive() == name)
}

/// Reads and interprets the Caddyfile; `spec` None means observe only (show).
pub fn observe(sys: &System, path: &str, spec: Option<&CaddySpec>) -> Result<Option<Observed>, PlanError> {
    let Some(text) = sys.read_text(path)? else { return Ok(None) };
    let (main_formatted, loaded) =
        super::par::join(|| format::adapts_as_formatted(&text), || import::load(sys, Path::new(path), &env));
    let loaded = loaded?;
    let headers = site_headers(&loaded.blocks)?;
    let admin = global_option(&loaded.blocks, "admin").and_then(|s| s.args().first().map(|t| t.text.to_string()));
    let auto_https_off =
        global_option(&loaded.blocks, "auto_https").is_some_and(|s| s.args().first().is_some_and(|t| t.text == "off"));
    let version = match spec.and_then(|s| s.version.as_ref()) {
        Some(v) => version::parse(&v.value),
        None => version::installed(sys),
    };
    let srcs = files::sources(path, &text, &loaded);
    // Sites of each file by file and line of their first key, to pair expanded and lossless blocks.
    let docs = std::iter::once(&loaded.main).chain(&loaded.imported);
    let by_line: std::collections::HashMap<(&str, usize), (usize, usize)> = srcs
        .iter()
        .zip(docs)
        .enumerate()
        .flat_map(|(f, (src, doc))| {
            doc.blocks
                .iter()
                .enumerate()
                .filter(|(_, m)| m.kind == BlockKind::Site)
                .filter_map(move |(j, m)| m.keys.first().map(|k| ((src.path.as_str(), k.line), (f, j))))
        })
        .collect();
    let lossless =
        |(f, j): (usize, usize)| if f == 0 { &loaded.main.blocks[j] } else { &loaded.imported[f - 1].blocks[j] };
    let site_blocks = loaded.blocks.iter().enumerate().filter(|(_, b)| b.kind == BlockKind::Site);
    let items: Vec<((usize, &ServerBlock), SiteHeaders)> = site_blocks.zip(headers).collect();
    // Caddy refuses an address defined by two site blocks (a file imported twice, a symlinked
    // tenant file); a plan of such a configuration would call it in sync.
    let mut defined: std::collections::HashMap<&str, String> = std::collections::HashMap::new();
    for ((_, b), h) in &items {
        let Some(key) = b.keys.first() else { continue };
        for a in &h.addresses {
            if let Some(first) = defined.insert(a.as_str(), key.location().to_string()) {
                return Err(PlanError::Parse(super::ParseError::new(
                    key.location(),
                    super::ErrorKind::Syntax(format!(
                        "ambiguous site definition: {a} is also defined at {first}; Caddy refuses this configuration"
                    )),
                )));
            }
        }
    }
    let listed = Named::new(match spec.map(|s| &s.sites) {
        Some(Sites::List(l)) => l.iter().map(|a| a.value.as_str()).collect(),
        _ => Vec::new(),
    });
    let overriding = Named::new(spec.iter().flat_map(|s| s.site.iter()).map(|o| o.address.value.as_str()));
    let shared: Vec<(Arc<Desired>, Arc<BTreeSet<String>>)> =
        spec.map(|s| [true, false].map(|https| desired_for(s, &[], https)).to_vec()).unwrap_or_default();
    // Each site's facts depend only on the site: computed over the CPUs.
    let sites = super::par::map_into(items, |((i, b), h)| {
        let addresses = h.addresses.clone();
        let has_tls = b.body.iter().any(|s| s.directive() == "tls");
        let https = site_is_https(&addresses, has_tls, auto_https_off);
        let location = b.keys.first().map(|k| k.location().to_string()).unwrap_or_default();
        let block = b.keys.first().and_then(|k| by_line.get(&(&*k.file.to_string_lossy(), k.line)).copied());
        // The profile may name a site as Caddy sees it or as written (`{$DOMAIN}`).
        let mut names = addresses.clone();
        names.extend(block.map(|fj| lossless(fj).addresses()).unwrap_or_default());
        let selected = match spec.map(|s| &s.sites) {
            None => false,
            Some(Sites::All) => true,
            Some(Sites::List(_)) => listed.any(&names),
        };
        let overrides = overriding.matching(&names);
        let (desired, managed) = match spec.filter(|_| selected) {
            // Most sites have no override: they share the profile's sets.
            Some(_) if overrides.is_empty() => {
                let (d, m) = if https { &shared[0] } else { &shared[1] };
                (Some(d.clone()), m.clone())
            }
            Some(s) => {
                let (d, m) = desired_for(s, &names, https);
                (Some(d), m)
            }
            None => (None, Arc::default()),
        };
        let plain: Vec<&String> =
            addresses.iter().filter(|a| !address_is_https(&parse_address(a), has_tls, auto_https_off)).collect();
        let wants_hsts = desired.is_some() && managed.contains(&HSTS.to_ascii_lowercase());
        let mut mixed = Vec::new();
        if wants_hsts && !https && plain.len() < addresses.len() {
            mixed.push(Finding {
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
        let not_editable = match block {
            None => Some(format!("site {} is not written in a file of its own", addresses.join(", "))),
            Some((f, _)) if srcs[f].why_not.is_some() => srcs[f].why_not.clone(),
            Some(fj) => args_placeholder(lossless(fj), &managed)
                .map(|at| format!("{at} uses {{args[...]}}, so what it says depends on the import line")),
        };
        let editable = not_editable.is_none();
        let traps = traps::site_findings(b, &h, https, version, &managed);
        let mut findings = traps.findings;
        findings.extend(mixed);
        let facts = SiteFacts {
            addresses,
            location,
            https,
            selected,
            headers: h,
            desired,
            managed,
            overrides,
            editable,
            not_editable,
            block,
            names,
            findings,
            warnings: traps.warnings,
        };
        (i, facts)
    });
    Ok(Some(Observed {
        path: path.to_string(),
        text,
        loaded,
        files: srcs,
        sites,
        admin,
        auto_https_off,
        main_formatted,
    }))
}

/// The field a header line operates on, lowercased, without its `+ - ? >` prefix.
fn line_field(name: &str) -> String {
    name.strip_suffix(':').unwrap_or(name).trim_start_matches(['+', '-', '?', '>']).to_ascii_lowercase()
}

fn is_conditional(seg: &Segment) -> bool {
    seg.matcher().is_some_and(|m| m.text != "*")
}

/// The fields a `header` segment sets, each with the line (the directive or a line of its
/// block) that names it.
pub(super) fn header_fields(seg: &Segment) -> Vec<(&Segment, String)> {
    let skip = usize::from(seg.matcher().is_some());
    let mut fields: Vec<(&Segment, String)> = Vec::new();
    if let Some(f) = seg.args().get(skip) {
        fields.push((seg, line_field(&f.text)));
    }
    for l in seg.block().map(|b| b.body.as_slice()).unwrap_or_default() {
        if l.directive() != "defer" {
            fields.push((l, line_field(l.directive())));
        }
    }
    fields
}

/// Removals of the user's unconditional header lines for managed fields in one site body;
/// conditional ones are reported instead.
fn conflicting_lines(
    src: &str,
    body: &[Segment],
    managed: &BTreeSet<String>,
    splices: &mut Vec<Splice>,
    findings: &mut Vec<Finding>,
) {
    for seg in body {
        match seg.directive() {
            "header" => {
                let args = seg.args();
                let fields = header_fields(seg);
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
                } else {
                    for (l, _) in hits {
                        splices.push(Splice { range: edit::line_range(src, l.span()), text: String::new() });
                    }
                }
            }
            "handle" | "handle_path" | "route" if !is_conditional(seg) => {
                if let Some(b) = seg.block() {
                    conflicting_lines(src, &b.body, managed, splices, findings);
                }
            }
            _ => {}
        }
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

/// The files after harden's edits (per file of [`Observed::files`], None when unchanged), and
/// per-site notes of what changed.
struct Edited {
    texts: Vec<Option<String>>,
    site_edits: BTreeMap<usize, Vec<String>>,
}

fn edit_file(o: &Observed, findings: &mut Vec<Finding>) -> Result<Edited, PlanError> {
    let src = &o.text;
    let doc = &o.loaded.main;
    let nl = line_end_of(src);
    // Each file's line end, found once: scanning a file per site is quadratic.
    let line_ends: Vec<&str> = o.files.iter().map(|f| line_end_of(&f.text)).collect();
    let mut splices: Vec<Vec<Splice>> = vec![Vec::new(); o.files.len()];
    let mut site_edits: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    // Distinct header sets get one snippet each, named by what they are for.
    let mut snippets: Vec<(String, String)> = Vec::new();
    // The header set of each snippet, parallel to `snippets`: sites are matched by their set,
    // so a snippet's text is written once, not once per site.
    let mut snippet_sets: Vec<(&BTreeMap<String, String>, &Vec<String>)> = Vec::new();
    let mut snippet_of: BTreeMap<usize, String> = BTreeMap::new();
    let base = o.sites.iter().find_map(|(_, s)| s.desired.as_deref().filter(|_| s.https && s.overrides.is_empty()));
    for (idx, (_, s)) in o.sites.iter().enumerate() {
        let Some((set, remove)) = s.desired.as_deref() else { continue };
        if set.is_empty() && remove.is_empty() || !s.editable {
            continue;
        }
        let text_for = |name: &str| edit::snippet(name, set, remove).replace('\n', nl);
        let existing = snippet_sets.iter().position(|(a, b)| *a == set && *b == remove);
        let name = match existing {
            Some(i) => snippets[i].0.clone(),
            None => {
                let name = if !snippets.iter().any(|(n, _)| n == SNIPPET_PREFIX)
                    && base.is_some_and(|(bs, br)| bs == set && br == remove)
                {
                    SNIPPET_PREFIX.to_string()
                } else if !s.https && !snippets.iter().any(|(n, _)| n == &format!("{SNIPPET_PREFIX}_http")) {
                    format!("{SNIPPET_PREFIX}_http")
                } else {
                    edit::snippet_name_for(&s.addresses[0], |n| snippets.iter().any(|(m, _)| m == n))
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
    // They must come before the first top-level import: a site in an imported file can only
    // use a snippet defined earlier in the token stream.
    let first_import = doc.blocks.iter().find(|b| b.kind == BlockKind::Import).map(|b| b.span().start);
    let misplaced = managed_now.first().zip(first_import).is_some_and(|(b, i)| b.span().start > i);
    if now_texts != new_texts || misplaced {
        for b in &managed_now {
            splices[0].push(Splice { range: edit::block_range(src, b.span()), text: String::new() });
        }
        if !new_texts.is_empty() {
            let joined = new_texts.join(&format!("{nl}{nl}"));
            let splice = match managed_now.first().filter(|_| !misplaced) {
                Some(b) => {
                    let r = edit::block_range(src, b.span());
                    Splice { range: r.start..r.start, text: format!("{joined}{nl}{nl}") }
                }
                None => match doc.blocks.iter().find(|b| b.kind == BlockKind::Global).and_then(|g| g.close.as_ref()) {
                    Some(close) if doc.blocks.first().is_some_and(|b| b.kind == BlockKind::Global) => {
                        let at = end_before_cr(src, close.span.end);
                        Splice { range: at..at, text: format!("{nl}{nl}{joined}") }
                    }
                    _ => {
                        // A byte order mark stays the first bytes of the file: Caddy drops it only
                        // there, and anywhere else it becomes part of the next site's address.
                        let at = if src.starts_with('\u{feff}') { '\u{feff}'.len_utf8() } else { 0 };
                        Splice { range: at..at, text: format!("{joined}{nl}{nl}") }
                    }
                },
            };
            splices[0].push(splice);
        }
    }
    // Each site: its import line, and the user's lines for managed fields, in its own file.
    for (idx, (_, s)) in o.sites.iter().enumerate() {
        let want = snippet_of.get(&idx);
        let Some((f, j)) = s.block.filter(|_| s.editable) else {
            // A site the operator fixed by hand (say, imported harden's snippet) is in sync.
            let unmet = s.selected.then(|| satisfies(s, &outcome(&s.headers)).err()).flatten();
            if let (Some(why), Some(unmet)) = (s.not_editable.as_ref(), unmet) {
                findings.push(Finding {
                    id: "caddy.site-not-editable".into(),
                    message: format!("site {} is not edited ({why}): {unmet}", s.addresses.join(", ")),
                    location: Some(s.location.clone()),
                    remedy: Some(format!("give the site a file of its own that is imported once at the top level; or, once an apply has defined the snippet, add `import {SNIPPET_PREFIX}` to the site yourself")),
                });
            }
            continue;
        };
        let src = &o.files[f].text;
        let m = &o.doc(f).blocks[j];
        let fnl = line_ends[f];
        let imports: Vec<&Segment> = m
            .body
            .iter()
            .filter(|seg| {
                seg.directive() == "import" && seg.args().first().is_some_and(|a| a.text.starts_with(SNIPPET_PREFIX))
            })
            .collect();
        let notes = site_edits.entry(idx).or_default();
        let keep = imports.first().filter(|seg| {
            let a = seg.args();
            a.len() == 1 && Some(a[0].text.as_str()) == want.map(String::as_str)
        });
        for seg in &imports {
            if keep.map(|k| std::ptr::eq(*k, *seg)) != Some(true) {
                splices[f].push(Splice { range: edit::line_range(src, seg.span()), text: String::new() });
                notes.push(format!("remove `import {}`", seg.args()[0].text));
            }
        }
        if let (None, Some(name)) = (keep, want) {
            let (at, indent) = import_at(src, m);
            // The new line ends as the line it follows did (a file may mix line ends).
            let own = if src[at..].starts_with("\r\n") {
                "\r\n"
            } else if src[at..].starts_with('\n') {
                "\n"
            } else {
                fnl
            };
            splices[f].push(Splice { range: at..at, text: format!("{own}{indent}import {name}") });
            notes.push(format!("import {name}"));
        }
        if s.selected {
            let before = splices[f].len();
            conflicting_lines(src, &m.body, &s.managed, &mut splices[f], findings);
            if splices[f].len() > before {
                notes.push(format!(
                    "remove {} line(s) of its own for headers the profile manages",
                    splices[f].len() - before
                ));
            }
        }
    }
    // Headers for managed fields that harden cannot edit (snippets, imported fragments).
    // A brace-less site runs to the end of its file.
    let lines_of = |b: &ServerBlock| b.line()..=b.close.as_ref().map_or(usize::MAX, |c| c.line);
    let ours: Vec<_> = managed_now.iter().map(|b| lines_of(b)).collect();
    // Per file, sorted by first line (blocks are in file order): found by binary search.
    let mut site_lines: BTreeMap<&str, Vec<_>> = BTreeMap::new();
    for (f, j) in o.sites.iter().filter_map(|(_, s)| s.block.filter(|_| s.editable)) {
        site_lines.entry(o.files[f].path.as_str()).or_default().push(lines_of(&o.doc(f).blocks[j]));
    }
    for lines in site_lines.values_mut() {
        lines.sort_by_key(|r| *r.start());
    }
    let in_site_block = |file: &str, line: usize| {
        site_lines.get(file).is_some_and(|v| {
            let i = v.partition_point(|r| *r.start() <= line);
            i > 0 && v[i - 1].contains(&line)
        })
    };
    for (_, s) in o.sites.iter().filter(|(_, s)| s.selected && s.editable) {
        for d in &s.headers.directives {
            let file = d.location.file.to_string_lossy();
            let line = d.location.line;
            // Lines in an edited site block were handled above; ours are ours.
            let in_main = file == o.path;
            if in_main && ours.iter().any(|r| r.contains(&line)) || in_site_block(&file, line) {
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
    let mut texts = Vec::new();
    for (f, (file, splices)) in o.files.iter().zip(&splices).enumerate() {
        if splices.is_empty() {
            texts.push(None);
            continue;
        }
        let src = &file.text;
        let bad = |message: String| PlanError::Edit { file: file.path.clone(), message };
        let (mut text, joins) = edit::apply_with_joins(src, splices).map_err(bad)?;
        // A file `caddy adapt` takes for formatted must stay so: our removals can leave a run of
        // blank lines that fmt would collapse. Formatting a formatted file plus our edits
        // changes only the edited places, and only where a removal meets a blank line or
        // closes a block, so the whole file is formatted only then. A CRLF file is formatted
        // as LF and keeps its CRLF line ends; one that mixes line ends is left as it is.
        let formatted = if f == 0 { o.main_formatted } else { format::adapts_as_formatted(src) };
        if formatted && edit::fmt_may_change(&text, &joins) {
            text = format::format_keeping_line_ends(&text);
        }
        texts.push(Some(text).filter(|t| t != src));
    }
    site_edits.retain(|_, v| !v.is_empty());
    Ok(Edited { texts, site_edits })
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

/// What a site's headers come to: the effective fields and the deletions (computed once per
/// site, since every check below needs both).
struct Outcome {
    eff: BTreeMap<String, EffectiveHeader>,
    gone: Vec<String>,
}

fn outcome(h: &SiteHeaders) -> Outcome {
    Outcome { eff: h.effective(), gone: removed(h) }
}

/// Whether an unconditional deferred delete removes `name` on this site.
fn deletes(o: &Outcome, name: &str) -> bool {
    o.gone.iter().any(|p| p.eq_ignore_ascii_case(name) || p == "*")
}

/// Header-level differences a site's edit makes: the profile's fields against the current
/// effective headers, and every other field whose value the edit changes or drops (`after` is
/// the site's headers in the edited files), so that no removal goes unlisted.
fn header_changes(s: &SiteFacts, before: &Outcome, after: &Outcome) -> Vec<Change> {
    let site = s.addresses.join(", ");
    let eff = &before.eff;
    let mut out = side_effects(s, &site, before, after);
    // A site harden cannot edit is a finding, not a change apply would fail to make.
    let Some((set, remove)) = s.desired.as_deref().filter(|_| s.editable) else { return out };
    for (k, v) in set {
        match eff.get(&k.to_ascii_lowercase()) {
            None => out.push(header_change(
                ChangeKind::Add,
                &site,
                k,
                [site.as_str(), ": add ", k, ": ", v].concat(),
                Some(v.clone()),
                None,
            )),
            Some(e) if e.values.len() != 1 || e.values[0] != *v || !e.replacements.is_empty() => {
                out.push(header_change(
                    ChangeKind::Change,
                    &site,
                    k,
                    [&site, ": ", k, ": ", v, " (now ", &e.values.join(", "), " from ", &e.set_at.to_string(), ")"]
                        .concat(),
                    Some(v.clone()),
                    Some(e.values.join(", ")),
                ))
            }
            Some(_) => {}
        }
    }
    for r in remove {
        if !deletes(before, r) {
            out.push(header_change(ChangeKind::Remove, &site, r, [site.as_str(), ": remove ", r].concat(), None, None));
        }
    }
    if !s.https {
        if let Some(e) = eff.get(&HSTS.to_ascii_lowercase()) {
            if s.managed.contains(&HSTS.to_ascii_lowercase()) {
                out.push(header_change(
                    ChangeKind::Remove,
                    &site,
                    HSTS,
                    format!("{site}: remove {HSTS} (plain HTTP; set at {})", e.set_at),
                    None,
                    Some(e.values.join(", ")),
                ));
            }
        }
    }
    out
}

/// A change to one header of a site.
fn header_change(
    kind: ChangeKind,
    site: &str,
    header: &str,
    summary: String,
    expected: Option<String>,
    actual: Option<String>,
) -> Change {
    Change { labels: labels(site, Some(header)), kind, item: "caddy.header".into(), summary, expected, actual }
}

/// The `site` (and `header`) a change is about, for JSON output.
fn labels(site: &str, header: Option<&str>) -> BTreeMap<std::borrow::Cow<'static, str>, String> {
    let mut out = BTreeMap::new();
    out.insert("site".into(), site.to_string());
    if let Some(h) = header {
        out.insert("header".into(), h.to_string());
    }
    out
}

/// Fields outside the profile's set whose effective value the edit changes or drops (a site
/// that is no longer selected, or a header the profile no longer names).
fn side_effects(s: &SiteFacts, site: &str, before_all: &Outcome, after_all: &Outcome) -> Vec<Change> {
    let (before, now) = (&before_all.eff, &after_all.eff);
    let covered = |k: &str| {
        let in_set =
            s.desired.as_deref().is_some_and(|(set, _)| s.editable && set.keys().any(|f| f.eq_ignore_ascii_case(k)));
        let hsts_off = !s.https && k == HSTS.to_ascii_lowercase() && s.managed.contains(k);
        in_set || hsts_off
    };
    let mut out = Vec::new();
    for (k, e) in before.iter().filter(|(k, _)| !covered(k)) {
        match now.get(k) {
            None => out.push(header_change(
                ChangeKind::Remove,
                site,
                &e.name,
                format!("{site}: stop sending {} (now {} from {})", e.name, e.values.join(", "), e.set_at),
                None,
                Some(e.values.join(", ")),
            )),
            Some(a) if a.values != e.values => out.push(header_change(
                ChangeKind::Change,
                site,
                &e.name,
                format!("{site}: {}: {} (now {} from {})", e.name, a.values.join(", "), e.values.join(", "), e.set_at),
                Some(a.values.join(", ")),
                Some(e.values.join(", ")),
            )),
            Some(_) => {}
        }
    }
    for (_, a) in now.iter().filter(|(k, _)| !covered(k) && !before.contains_key(*k)) {
        out.push(header_change(
            ChangeKind::Add,
            site,
            &a.name,
            format!("{site}: add {}: {}", a.name, a.values.join(", ")),
            Some(a.values.join(", ")),
            None,
        ));
    }
    // Deletions (`-Server`) the edit stops making, say on a site no longer selected.
    let wanted = |g: &str| {
        s.desired.as_deref().is_some_and(|(_, remove)| s.editable && remove.iter().any(|r| r.eq_ignore_ascii_case(g)))
    };
    for g in before_all.gone.iter().filter(|g| !wanted(g) && !deletes(after_all, g)) {
        out.push(header_change(ChangeKind::Change, site, g, format!("{site}: stop removing {g}"), None, None));
    }
    out
}

/// Checks that the edited files give every selected site exactly the profile's headers: the
/// edited main file is expanded with the edited imported files in place of those on disk.
/// Per site of the edited files: the self-check's verdict and the changes to list.
type Judged = (Result<(), String>, Vec<Change>);

fn judge(o: &Observed, after: &[SiteHeaders]) -> Vec<Judged> {
    let pairs: Vec<(&SiteFacts, Option<&SiteHeaders>)> =
        o.sites.iter().enumerate().map(|(i, (_, s))| (s, after.get(i))).collect();
    super::par::map(&pairs, |(s, h)| {
        let none = SiteHeaders { addresses: Vec::new(), directives: Vec::new() };
        let h = h.unwrap_or(&none);
        let (before, now) = (outcome(&s.headers), outcome(h));
        (verify_site(s, h, &now), header_changes(s, &before, &now))
    })
}

fn verify_site(s: &SiteFacts, h: &SiteHeaders, now: &Outcome) -> Result<(), String> {
    // An edit must never change where a site answers (a misplaced byte order mark would).
    if h.addresses != s.addresses {
        return Err(format!("site {} would answer at {}", s.addresses.join(", "), h.addresses.join(", ")));
    }
    // Sites harden cannot edit are reported as findings, not checked here.
    if s.editable {
        satisfies(s, now).map_err(|e| format!("site {}: {e}", s.addresses.join(", ")))
    } else {
        Ok(())
    }
}

/// Whether headers `h` give site `s` exactly the profile's fields (`Err` says which does not).
fn satisfies(s: &SiteFacts, h: &Outcome) -> Result<(), String> {
    let Some((set, remove)) = s.desired.as_deref() else { return Ok(()) };
    let eff = &h.eff;
    for (k, v) in set {
        let got = eff.get(&k.to_ascii_lowercase()).map_or(&[][..], |e| e.values.as_slice());
        if got.len() != 1 || got[0] != *v {
            return Err(format!("{k} would be {got:?}, not {v:?}"));
        }
    }
    for r in remove {
        if !deletes(h, r) {
            return Err(format!("{r} would not be removed"));
        }
    }
    if !s.https && s.managed.contains(&HSTS.to_ascii_lowercase()) && eff.contains_key(&HSTS.to_ascii_lowercase()) {
        return Err(format!("it is plain HTTP but would still send {HSTS}"));
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
    // Phase times for `-vv`: where a slow plan spends its time.
    let t0 = std::time::Instant::now();
    let tick =
        |phase: &str| tracing::debug!("caddy plan: {phase} done at {:.1} ms", t0.elapsed().as_secs_f64() * 1000.0);
    let Some(o) = observe(sys, &spec.caddyfile, Some(spec))? else {
        rp.findings.push(Finding {
            id: "caddy.no-caddyfile".into(),
            message: format!("{} does not exist, so no Caddy site can be checked", sys.path(&spec.caddyfile).display()),
            location: None,
            remedy: Some("install caddy, or set `caddyfile` in [caddy] to the file it serves".into()),
        });
        return Ok(rp);
    };
    // Two `[[caddy.site]]` entries that name one site (say `s.example.com` and
    // `s.example.com:443`): the later one wins, which the profile should not leave to chance.
    let mut reported = HashSet::new();
    for (_, s) in o.sites.iter().filter(|(_, s)| s.selected && s.overrides.len() > 1) {
        if reported.insert(&s.overrides) {
            let at: Vec<String> = s
                .overrides
                .iter()
                .map(|&i| format!("{} ({})", spec.site[i].address.at, spec.site[i].address.value))
                .collect();
            rp.findings.push(Finding {
                id: "caddy.override-conflict".into(),
                message: format!(
                    "[[caddy.site]] entries at {} all name site {}; the last one's headers win where they differ",
                    at.join(", "),
                    s.addresses.join(", ")
                ),
                location: Some(spec.site[s.overrides[0]].address.at.to_string()),
                remedy: Some("keep one [[caddy.site]] entry per site".into()),
            });
        }
    }
    // A site file imported twice expands to two copies with the same findings.
    let (mut seen, mut seen_w) = (HashSet::new(), HashSet::new());
    for (_, s) in o.sites.iter().filter(|(_, s)| s.selected) {
        rp.findings.extend(s.findings.iter().filter(|f| seen.insert(*f)).cloned());
        rp.warnings.extend(s.warnings.iter().filter(|w| seen_w.insert(*w)).cloned());
    }
    // Every site's addresses, for the profile's addresses that match none.
    let named_in_profile = matches!(spec.sites, Sites::List(_)) || !spec.site.is_empty();
    let known =
        Named::new(o.sites.iter().filter(|_| named_in_profile).flat_map(|(_, s)| s.names.iter().map(String::as_str)));
    if let Sites::List(l) = &spec.sites {
        for a in l.iter().filter(|a| !known.any(std::slice::from_ref(&a.value))) {
            rp.findings.push(Finding {
                id: "caddy.unknown-site".into(),
                message: format!("the profile names site {} but {} has no such site", a.value, o.path),
                location: Some(a.at.to_string()),
                remedy: Some("write the address exactly as in the Caddyfile".into()),
            });
        }
    }
    for ov in spec.site.iter().filter(|ov| !known.any(std::slice::from_ref(&ov.address.value))) {
        rp.findings.push(Finding {
            id: "caddy.unknown-site".into(),
            message: format!("[[caddy.site]] {} matches no site address in {}", ov.address.value, o.path),
            location: Some(ov.address.at.to_string()),
            remedy: Some("write the address exactly as in the Caddyfile".into()),
        });
    }
    tick("observe");
    let edited = edit_file(&o, &mut rp.findings)?;
    tick("edits");
    let mut blocked = None;
    let mut writes = Vec::new();
    let bug = |file: &str, e: &dyn std::fmt::Display| PlanError::Edit {
        file: file.to_string(),
        message: format!("the edited file does not parse ({e}); this is a bug in harden"),
    };
    for (i, (file, text)) in o.files.iter().zip(&edited.texts).enumerate() {
        let Some(text) = text else { continue };
        // The main file is parsed by the expansion below; imported files are checked alone.
        if i > 0 {
            super::parse_str(text, Path::new(&file.path)).map_err(|e| bug(&file.path, &e))?;
        }
        rp.views.push(View {
            title: file.path.clone(),
            before: file.text.clone(),
            after: text.clone(),
            verbose: false,
        });
        writes.push(FileWrite {
            path: file.path.clone(),
            content: text.clone(),
            base_sha256: sha256_hex(file.text.as_bytes()),
            mode: 0o644,
        });
    }
    if !writes.is_empty() {
        // The edited main file expanded with the edited imported files in place of those on
        // disk; it expanded before the edit, so an edit that does not is harden's bug.
        let main = edited.texts[0].as_deref().unwrap_or(&o.text);
        let overlay = files::overlay(&o.files, &edited.texts);
        let (blocks, _) =
            import::expand_overlay(main, Path::new(&o.path), sys, &env, &overlay).map_err(|e| bug(&o.path, &e))?;
        tick("self-check expansion");
        let after = site_headers(&blocks).map_err(|e| bug(&o.path, &e))?;
        tick("self-check headers");
        drop_later(blocks);
        let judged = judge(&o, &after);
        tick("self-check and changes");
        let checked = if after.len() != o.sites.len() {
            Err(format!("the edit changed the number of sites from {} to {}", o.sites.len(), after.len()))
        } else {
            judged.iter().find_map(|(v, _)| v.clone().err()).map_or(Ok(()), Err)
        };
        if let Err(e) = checked {
            let names: Vec<&str> = writes.iter().map(|w| w.path.as_str()).collect();
            blocked = Some(format!("harden's edit of {} would not give the profile's headers: {e}", names.join(", ")));
        }
        drop_later(after);
        for (idx, (_, mut c)) in judged.into_iter().enumerate() {
            let s = &o.sites[idx].1;
            if c.is_empty() {
                if let Some(notes) = edited.site_edits.get(&idx) {
                    c.push(Change {
                        labels: labels(&s.addresses.join(", "), None),
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
                labels: Default::default(),
                kind: ChangeKind::Change,
                item: "caddy.snippet".into(),
                summary: format!("{}: rewrite harden's managed snippets", o.path),
                expected: None,
                actual: None,
            });
        }
    }
    if !o.sites.iter().any(|(_, s)| s.selected) {
        rp.warnings.push(format!("{} has no site that the profile selects", o.path));
    }
    // Only a live root, or an API reload at an address the file names, reloads.
    let reloads = sys.is_live() || spec.reload == Reload::Api && o.admin.as_ref().is_some_and(|a| a != "off");
    if !writes.is_empty() && !reloads {
        rp.warnings
            .push(format!("--root is {}: apply writes the file only and does not reload caddy", sys.root().display()));
    }
    // Under --root an API reload still reaches whatever listens at that address on this host.
    if !writes.is_empty() && reloads && !sys.is_live() {
        rp.warnings.push(format!(
            "--root is {}, but reload = \"api\" and {} names the admin API at {}: apply reloads the caddy listening there on this machine",
            sys.root().display(),
            o.path,
            o.admin.as_deref().unwrap_or_default()
        ));
    }
    // Said at plan time, not only after the write: this profile can never reload this caddy.
    if !writes.is_empty() && spec.reload == Reload::Api && o.admin.as_deref() == Some("off") {
        rp.warnings.push(format!(
            "reload = \"api\" but {} turns the admin API off (`admin off`): apply will write the files and not reload caddy; use reload = \"systemd\" or \"auto\"",
            o.path
        ));
    }
    tick("plan");
    rp.actions = Actions::Caddy(CaddyActions {
        caddyfile: o.path.clone(),
        writes,
        reload: spec.reload,
        admin: o.admin.clone(),
        blocked,
    });
    drop_later(o);
    Ok(rp)
}

/// Freeing a large syntax tree (a token owns its strings and trivia) takes a quarter of a plan
/// of thousands of sites. A one-shot command leaves it to the exit; the agent frees it on a
/// thread of its own.
fn drop_later<T: Send + 'static>(value: T) {
    if crate::system::one_shot() {
        std::mem::forget(value);
        return;
    }
    if std::thread::Builder::new().name("caddy-drop".into()).spawn(move || drop(value)).is_err() {
        // No thread: the value was moved into the failed closure and is dropped here.
    }
}
