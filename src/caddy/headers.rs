//! Response headers set by `header` directives, per site, as Caddy 2.6.2 configures them.
//!
//! The model mirrors the JSON `caddy adapt` produces (one or two headers handlers per
//! directive, in route order), so it can be checked against Caddy itself, and it keeps the
//! file and line of every directive so a finding can point at the line to edit.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use crate::error::Location;

use super::tree::{BlockKind, Segment, ServerBlock};

/// Route directive order of Caddy 2.6.2 (`httpcaddyfile.directiveOrder`); the `order` global
/// option is not applied.
const DIRECTIVE_ORDER: &[&str] = &[
    "tracing",
    "map",
    "vars",
    "root",
    "skip_log",
    "header",
    "copy_response_headers",
    "request_body",
    "redir",
    "method",
    "rewrite",
    "uri",
    "try_files",
    "basicauth",
    "forward_auth",
    "request_header",
    "encode",
    "push",
    "templates",
    "handle",
    "handle_path",
    "route",
    "abort",
    "error",
    "copy_response",
    "respond",
    "metrics",
    "reverse_proxy",
    "php_fastcgi",
    "file_server",
    "acme_server",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    pub search_regexp: String,
    pub replace: String,
}

/// One headers handler: the `response` object of `{"handler": "headers"}` in Caddy's JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderOps {
    /// Canonical field name to values (`header F v`, `?F v`).
    pub set: BTreeMap<String, Vec<String>>,
    /// `+F v`.
    pub add: BTreeMap<String, Vec<String>>,
    /// `-F` (a `*` at either end is a wildcard).
    pub delete: Vec<String>,
    /// `F search replace`.
    pub replace: BTreeMap<String, Vec<Replacement>>,
    /// `?F`: the handler applies only if none of these fields is in the response.
    pub require_absent: Vec<String>,
    /// Applied when the response is written, after the handlers behind it.
    pub deferred: bool,
}

impl HeaderOps {
    fn is_empty(&self) -> bool {
        *self == HeaderOps::default()
    }

    /// Applies one `field value [replacement]` operation, as Caddy's `applyHeaderOp`.
    fn apply(&mut self, field: &str, value: &str, replacement: Option<&str>) {
        if let Some(name) = field.strip_prefix('+') {
            self.add.entry(canonical(name)).or_default().push(value.to_string());
        } else if let Some(name) = field.strip_prefix('-') {
            self.delete.push(name.to_string());
            self.deferred = true;
        } else if let Some(name) = field.strip_prefix('?') {
            if !self.require_absent.iter().any(|n| n == name) {
                self.require_absent.push(name.to_string());
            }
            self.set.insert(canonical(name), vec![value.to_string()]);
        } else if let Some(replace) = replacement.filter(|r| !r.is_empty()) {
            let name = field.trim_start_matches(['+', '-', '?']).to_string();
            self.replace
                .entry(name)
                .or_default()
                .push(Replacement { search_regexp: value.to_string(), replace: replace.to_string() });
        } else {
            self.set.insert(canonical(field), vec![value.to_string()]);
        }
    }
}

/// How a directive's requests are selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher {
    /// A path matcher token like `/api/*`.
    Path(String),
    /// A named matcher `@name` defined in the site.
    Named(String),
}

/// One `header` directive after import expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderDirective {
    /// Where the directive is written (the imported file for snippets and imports).
    pub location: Location,
    pub matcher: Option<Matcher>,
    /// Enclosing route blocks, outermost first.
    pub within: Vec<Container>,
    /// The handlers Caddy builds: block lines with `?` go to a second handler.
    pub handlers: Vec<HeaderOps>,
}

/// A route block around a directive: `handle`, `handle_path`, `route` or `handle_errors`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub directive: String,
    /// The block's matcher token, if any (`*` counts as none).
    pub matcher: Option<String>,
    pub location: Location,
}

impl std::fmt::Display for Container {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.matcher {
            Some(m) => write!(f, "{} {m}", self.directive),
            None => f.write_str(&self.directive),
        }
    }
}

/// The header directives of one site, in the order Caddy runs them (error routes last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteHeaders {
    pub addresses: Vec<String>,
    /// Shared: a snippet imported by many sites is one directive (see [`Parsed`]).
    pub directives: Vec<Arc<HeaderDirective>>,
}

/// A header's final value on a response that no matcher selects, with who set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveHeader {
    pub name: String,
    pub values: Vec<String>,
    pub set_at: Location,
    /// Regex replacements that would apply to the value (not evaluated here).
    pub replacements: Vec<Replacement>,
}

/// A `header` directive Caddy would reject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct HeaderError {
    pub location: Location,
    pub message: String,
}

/// Header directives of every site in expanded server blocks (see [`super::load`]).
pub fn site_headers(blocks: &[ServerBlock]) -> Result<Vec<SiteHeaders>, HeaderError> {
    let sites: Vec<&ServerBlock> = blocks.iter().filter(|b| b.kind == BlockKind::Site).collect();
    let parsed = Parsed::default();
    super::par::map(&sites, |b| headers_of(b, &parsed)).into_iter().collect()
}

/// `header` directives of snippets already parsed in this expansion, by where their first
/// token was spliced: its file, byte offset and splice number (`origin`). Within one
/// expansion those name one instance of the snippet's text, which the expander copies
/// verbatim into every block that imports it without arguments, so its directive is parsed
/// once. Only directives outside route blocks are kept (their `within` is empty).
#[derive(Default)]
struct Parsed(Mutex<HashMap<(usize, usize, u32), Arc<HeaderDirective>>>);

impl Parsed {
    fn key(seg: &Segment) -> Option<(usize, usize, u32)> {
        let t = seg.first()?;
        t.snippet.as_ref()?;
        Some((Arc::as_ptr(&t.file) as *const u8 as usize, t.span.start, t.origin))
    }
}

fn headers_of(b: &ServerBlock, parsed: &Parsed) -> Result<SiteHeaders, HeaderError> {
    let named = named_paths(&b.body);
    let mut directives = collect(&b.body, &named, &[], true, parsed)?;
    for seg in b.body.iter().filter(|s| s.directive() == "handle_errors") {
        if let Some(block) = seg.block() {
            directives.extend(collect(&block.body, &named, &[container(seg)], true, parsed)?);
        }
    }
    Ok(SiteHeaders { addresses: b.addresses(), directives })
}

impl SiteHeaders {
    /// Headers on a normal (non-error) response to a request no matcher selects, before the
    /// final handler adds its own: non-deferred handlers in order, then deferred ones from the
    /// last to the first (each wraps the writer of the ones before it).
    pub fn effective(&self) -> BTreeMap<String, EffectiveHeader> {
        let unconditional: Vec<(&HeaderDirective, &HeaderOps)> = self
            .directives
            .iter()
            .map(|d| &**d)
            .filter(|d| d.matcher.is_none())
            .filter(|d| d.within.iter().all(|c| c.matcher.is_none() && c.directive != "handle_errors"))
            .flat_map(|d| d.handlers.iter().map(move |h| (d, h)))
            .collect();
        let mut state = BTreeMap::new();
        let (now, later): (Vec<_>, Vec<_>) =
            unconditional.into_iter().partition(|(_, h)| !h.deferred && h.require_absent.is_empty());
        for (d, h) in now.into_iter().chain(later.into_iter().rev()) {
            apply_effective(&mut state, d, h);
        }
        state
    }
}

fn apply_effective(state: &mut BTreeMap<String, EffectiveHeader>, d: &HeaderDirective, h: &HeaderOps) {
    if h.require_absent.iter().any(|f| state.contains_key(&f.to_ascii_lowercase())) {
        return;
    }
    let entry = |name: &str| EffectiveHeader {
        name: name.to_string(),
        values: Vec::new(),
        set_at: d.location.clone(),
        replacements: Vec::new(),
    };
    for (name, values) in &h.add {
        let e = state.entry(name.to_ascii_lowercase()).or_insert_with(|| entry(name));
        e.values.extend(values.iter().cloned());
        e.set_at = d.location.clone();
    }
    for (name, values) in &h.set {
        let mut e = entry(name);
        e.values = values.clone();
        state.insert(name.to_ascii_lowercase(), e);
    }
    for pattern in &h.delete {
        let p = pattern.to_ascii_lowercase();
        state.retain(|k, _| !wildcard_eq(&p, k));
    }
    for (name, reps) in &h.replace {
        if let Some(e) = state.get_mut(&name.to_ascii_lowercase()) {
            e.replacements.extend(reps.iter().cloned());
        }
    }
}

/// Caddy's delete: `*` at the start or end of the field is a wildcard.
fn wildcard_eq(pattern: &str, name: &str) -> bool {
    match (pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
        _ if pattern == "*" => true,
        (Some(suffix), _) => name.ends_with(suffix.trim_end_matches('*')),
        (None, Some(prefix)) => name.starts_with(prefix),
        (None, None) => pattern == name,
    }
}

/// Single-path named matchers, for Caddy's path-length ordering: name to its `path` values.
fn named_paths(body: &[Segment]) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for seg in body.iter().filter(|s| s.is_matcher_definition()) {
        let paths = out.entry(seg.directive().to_string()).or_default();
        let args = seg.args();
        if args.first().is_some_and(|a| a.text == "path") {
            paths.extend(args[1..].iter().map(|a| a.text.to_string()));
        }
        if let Some(block) = seg.block() {
            for line in block.body.iter().filter(|l| l.directive() == "path") {
                paths.extend(line.args().iter().map(|a| a.text.to_string()));
            }
        }
    }
    out
}

fn container(seg: &Segment) -> Container {
    Container {
        directive: seg.directive().to_string(),
        matcher: seg.matcher().filter(|m| m.text != "*").map(|m| m.text.to_string()),
        location: seg.first().map_or_else(no_location, |t| t.location()),
    }
}

fn no_location() -> Location {
    Location { file: Default::default(), line: 0, column: 0 }
}

/// A route's sort facts: directive position, whether it has a matcher, single-path length.
fn route_key(seg: &Segment, named: &HashMap<String, Vec<String>>) -> (usize, bool, usize) {
    let pos = DIRECTIVE_ORDER.iter().position(|d| *d == seg.directive()).unwrap_or(0);
    let m = seg.matcher().filter(|m| m.text != "*");
    let paths: Vec<String> = match m {
        Some(t) if t.text.starts_with('/') => vec![t.text.to_string()],
        Some(t) => named.get(t.text.as_str()).cloned().unwrap_or_default(),
        None => Vec::new(),
    };
    let path_len = if paths.len() == 1 { paths[0].len() } else { 0 };
    (pos, m.is_some(), path_len)
}

/// Caddy's `sortRoutes` comparison: directive order, then specificity within a directive.
fn route_less(dir: &str, a: (usize, bool, usize), b: (usize, bool, usize)) -> bool {
    if a.0 != b.0 {
        return a.0 < b.0;
    }
    if dir == "vars" {
        if a.2 > 0 && b.2 > 0 {
            return a.2 < b.2;
        }
        return !a.1 && b.1;
    }
    if a.2 > 0 && b.2 > 0 {
        return a.2 > b.2;
    }
    a.1 && !b.1
}

fn collect(
    body: &[Segment],
    named: &HashMap<String, Vec<String>>,
    within: &[Container],
    sort: bool,
    parsed: &Parsed,
) -> Result<Vec<Arc<HeaderDirective>>, HeaderError> {
    let mut routes: Vec<&Segment> = body.iter().filter(|s| DIRECTIVE_ORDER.contains(&s.directive())).collect();
    if sort {
        // Stable, like Go's sort.SliceStable with the same comparison.
        routes.sort_by(|a, b| {
            let (ka, kb) = (route_key(a, named), route_key(b, named));
            if route_less(a.directive(), ka, kb) {
                std::cmp::Ordering::Less
            } else if route_less(b.directive(), kb, ka) {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        });
    }
    let mut out = Vec::new();
    for seg in routes {
        match seg.directive() {
            "header" => {
                let key = Parsed::key(seg).filter(|_| within.is_empty());
                let known = key.and_then(|k| parsed.0.lock().ok()?.get(&k).cloned());
                match known {
                    Some(d) => out.push(d),
                    None => {
                        if let Some(d) = parse_header(seg, within)?.map(Arc::new) {
                            if let (Some(k), Ok(mut map)) = (key, parsed.0.lock()) {
                                map.insert(k, d.clone());
                            }
                            out.push(d);
                        }
                    }
                }
            }
            "handle" | "handle_path" | "route" => {
                if let Some(block) = seg.block() {
                    let mut inner = within.to_vec();
                    inner.push(container(seg));
                    let mut scoped = named.clone();
                    scoped.extend(named_paths(&block.body));
                    out.extend(collect(&block.body, &scoped, &inner, seg.directive() != "route", parsed)?);
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Parses one `header` directive as Caddy 2.6.2's `headers.parseCaddyfile`.
fn parse_header(seg: &Segment, within: &[Container]) -> Result<Option<HeaderDirective>, HeaderError> {
    let location = seg.first().map_or_else(no_location, |t| t.location());
    let fail = |message: String| HeaderError { location: location.clone(), message };
    let mut args: Vec<&str> = seg.args().iter().map(|t| t.text.as_str()).collect();
    let matcher = match seg.matcher() {
        Some(m) => {
            args.remove(0);
            match m.text.as_str() {
                "*" => None,
                t if t.starts_with('@') => Some(Matcher::Named(t.to_string())),
                t => Some(Matcher::Path(t.to_string())),
            }
        }
        None => None,
    };
    let mut main = HeaderOps::default();
    let mut with_require = HeaderOps::default();
    if let Some(field) = args.first() {
        if args.len() > 3 {
            return Err(fail(format!("header {field}: too many arguments; quote a value that contains spaces")));
        }
        main.apply(field, args.get(1).copied().unwrap_or(""), args.get(2).copied());
    }
    if let Some(block) = seg.block() {
        let mut lines = Vec::new();
        flatten_lines(&block.body, &mut lines);
        for (field, vals) in lines {
            if field == "defer" {
                main.deferred = true;
                continue;
            }
            if !args.is_empty() {
                return Err(fail(
                    "cannot specify headers in both arguments and block; move them into the block".to_string(),
                ));
            }
            let field = field.strip_suffix(':').unwrap_or(field);
            let target = if field.starts_with('?') { &mut with_require } else { &mut main };
            target.apply(field, vals.first().copied().unwrap_or(""), vals.get(1).copied());
        }
    }
    let handlers: Vec<HeaderOps> = [main, with_require].into_iter().filter(|h| !h.is_empty()).collect();
    if handlers.is_empty() {
        return Ok(None);
    }
    Ok(Some(HeaderDirective { location, matcher, within: within.to_vec(), handlers }))
}

/// The lines of a `header` block as Caddy 2.6.2 reads them: every line is `field [value
/// [replacement]]`, and a nested block (newer syntax such as `match { ... }`) is read as the
/// fields `{`, its lines, and `}`, which 2.6.2 then sets as literal header names.
fn flatten_lines<'a>(body: &'a [Segment], out: &mut Vec<(&'a str, Vec<&'a str>)>) {
    for line in body {
        let vals = line.args().iter().map(|t| t.text.as_str()).collect();
        out.push((line.directive(), vals));
        if let Some(block) = line.block() {
            out.push(("{", Vec::new()));
            flatten_lines(&block.body, out);
            out.push(("}", Vec::new()));
        }
    }
}

/// Go's `textproto.CanonicalMIMEHeaderKey`: `x-frame-options` becomes `X-Frame-Options`;
/// a name with characters outside an HTTP token is left as written.
pub fn canonical(name: &str) -> String {
    let token_char = |b: u8| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
            )
    };
    if name.is_empty() || !name.bytes().all(token_char) {
        return name.to_string();
    }
    let mut upper = true;
    let mut bytes = name.as_bytes().to_vec();
    for b in &mut bytes {
        let was = *b;
        *b = if upper { was.to_ascii_uppercase() } else { was.to_ascii_lowercase() };
        upper = was == b'-';
    }
    // Token characters are ASCII, and so is every byte written.
    String::from_utf8(bytes).unwrap_or_else(|_| name.to_string())
}
