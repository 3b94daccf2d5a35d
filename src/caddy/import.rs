//! `import`: snippets, files and globs, argument substitution, cycle detection, and loading a
//! Caddyfile with its imports from a filesystem root.
//!
//! Caddy splices imported tokens into the stream in place of the import line and keeps parsing;
//! we do the same in the expanding parser. All paths are logical (as Caddy would see them, e.g.
//! `/etc/caddy/Caddyfile`) and every read, listing and directory check goes through
//! [`System`], which maps them under `--root` and resolves symlinks inside it, so an import of
//! an absolute symlink in a test root never reads the host's file.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::system::{SysError, System};

use super::error::{ErrorKind, ParseError};
use super::lexer::{substitute_env, tokenize, Token};
use super::parser::{err, parse_fragment, parse_str, syntax, Parser};
use super::tree::{BlockKind, Document, Item, Segment, ServerBlock};

/// Safety net against exponential expansion (snippets importing snippets several times over;
/// Caddy has none, and a cycle is caught earlier). A multi-tenant file of N site files, each
/// importing harden's snippet, makes 2N imports, so the limit is far above any real layout.
pub(super) const MAX_IMPORTS: usize = 1_000_000;

/// A Caddyfile with its imports.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The main file, lossless and unexpanded.
    pub main: Document,
    /// Every imported file, lossless and unexpanded, in the order first imported; a file
    /// first imported inside a block is a [`BlockKind::Fragment`] of directives.
    pub imported: Vec<Document>,
    /// The configuration as Caddy sees it: env substituted, imports spliced in, snippet
    /// definitions dropped. Tokens keep the file and line they come from.
    pub blocks: Vec<ServerBlock>,
    /// Every file an import line matched, once per match (empty files included).
    pub uses: Vec<ImportUse>,
}

/// One file matched by one import line: harden edits an imported file only when it is
/// imported exactly once, at the top level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportUse {
    /// Logical path of the imported file.
    pub file: String,
    /// `file:line` of the import line.
    pub at: String,
    /// 0 for a top-level import; more when imported inside a block.
    pub nesting: usize,
}

/// Texts that replace files' contents during expansion (logical path to text), so that an
/// edited set of files can be checked before any of it is written.
pub type Overlay = HashMap<String, String>;

/// Reads `path` (a logical path; relative means relative to `/`) through `sys`, with `env`
/// for `{$VAR}` substitution, and expands its imports.
pub fn load(sys: &System, path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Loaded, ParseError> {
    let logical = clean(&Path::new("/").join(path).to_string_lossy());
    let file = PathBuf::from(&logical);
    let text = read_text(sys, &logical).map_err(|message| {
        ParseError::new(
            crate::error::Location { file: file.clone(), line: 0, column: 0 },
            ErrorKind::Io { path: logical.clone(), message },
        )
    })?;
    // The lossless tree and the expansion are independent readings of the same text.
    let (main, expanded) =
        super::par::join(|| parse_str(&text, &file), || expand(&text, &file, sys, env, &Overlay::new(), true));
    // The expansion's error first: it is the one Caddy, which parses as it expands, reports.
    let (blocks, imported, uses) = expanded?;
    let main = main?;
    Ok(Loaded { main, imported, blocks, uses })
}

/// Expands `src` (the text of logical file `file`) as Caddy does; returns the server blocks and
/// the lossless trees of the files it imported.
pub fn expand_str(
    src: &str,
    file: &Path,
    sys: &System,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Vec<ServerBlock>, Vec<Document>), ParseError> {
    expand_overlay(src, file, sys, env, &Overlay::new())
}

/// [`expand_str`], reading imported files from `overlay` first.
pub fn expand_overlay(
    src: &str,
    file: &Path,
    sys: &System,
    env: &dyn Fn(&str) -> Option<String>,
    overlay: &Overlay,
) -> Result<(Vec<ServerBlock>, Vec<Document>), ParseError> {
    expand(src, file, sys, env, overlay, true).map(|(blocks, files, _)| (blocks, files))
}

/// The reference expansion, for tests of the reuse of snippet expansions: every import is
/// spliced and parsed in place. Returns the server blocks and every import use.
pub fn expand_spliced(
    src: &str,
    file: &Path,
    sys: &System,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Vec<ServerBlock>, Vec<ImportUse>), ParseError> {
    expand(src, file, sys, env, &Overlay::new(), false).map(|(blocks, _, uses)| (blocks, uses))
}

/// `{$VAR}` lookup.
pub(super) type Env<'a> = dyn Fn(&str) -> Option<String> + 'a;

type Expansion = (Vec<ServerBlock>, Vec<Document>, Vec<ImportUse>);

fn expand(
    src: &str,
    file: &Path,
    sys: &System,
    env: &dyn Fn(&str) -> Option<String>,
    overlay: &Overlay,
    reuse: bool,
) -> Result<Expansion, ParseError> {
    let new_expander = || Expander {
        sys: Some(sys),
        env: Some(env),
        overlay,
        uses: Vec::new(),
        snippets: HashMap::new(),
        edges: HashMap::new(),
        next_origin: 1,
        imports: 0,
        files: Vec::new(),
        parsed: HashSet::new(),
        memo: HashMap::new(),
        reuse,
    };
    let substituted = substitute_env(src, env);
    let tokens = tokenize(&substituted, file)?.tokens;
    let mut exp = new_expander();
    let mut blocks = if !reuse {
        Parser::new(tokens, Some(&mut exp)).parse_all()?
    } else if let Some(blocks) = super::split::parse_all(tokens, &mut exp)? {
        blocks
    } else {
        // A part of a split parse failed: one thread, for the error it names first.
        exp = new_expander();
        Parser::new(tokenize(&substituted, file)?.tokens, Some(&mut exp)).parse_all()?
    };
    // Like Caddy, snippet definitions are not part of the configuration once expanded.
    blocks.retain(|b| !matches!(b.kind, BlockKind::Snippet(_)));
    Ok((blocks, exp.files, exp.uses))
}

pub(super) struct Expander<'a> {
    /// None while expanding a part of the file on another thread (see [`super::split`]),
    /// which imports snippets only.
    pub(super) sys: Option<&'a System>,
    pub(super) env: Option<&'a Env<'a>>,
    pub(super) overlay: &'a Overlay,
    pub(super) uses: Vec<ImportUse>,
    pub(super) snippets: HashMap<String, Vec<Token>>,
    /// Import graph: node (file, or `file:snippet`) to the nodes it imports.
    pub(super) edges: HashMap<String, HashSet<String>>,
    pub(super) next_origin: u32,
    pub(super) imports: usize,
    pub(super) files: Vec<Document>,
    /// Logical paths of the files in `files`.
    pub(super) parsed: HashSet<String>,
    /// Snippets imported inside blocks without arguments or a block, by name: their expansion
    /// is the same every time, so it is parsed once and copied (a file where every site
    /// imports harden's snippet would otherwise parse that snippet once per site).
    pub(super) memo: HashMap<String, Memo>,
    /// False for the reference expansion ([`expand_spliced`]).
    pub(super) reuse: bool,
}

#[derive(Clone)]
pub(super) enum Memo {
    /// The parsed segments, and how many imports their expansion made.
    Segments(Vec<Segment>, usize),
    /// Its expansion imports files, whose every use must be recorded: spliced each time.
    Inline,
}

impl Expander<'_> {
    /// Counts `n` imports against [`MAX_IMPORTS`].
    pub(super) fn count_import(&mut self, at: &Token, n: usize) -> Result<(), ParseError> {
        self.imports += n;
        if self.imports > MAX_IMPORTS {
            return Err(syntax(at, format!("more than {MAX_IMPORTS} imports; is a snippet importing itself?")));
        }
        Ok(())
    }

    pub(super) fn define_snippet(&mut self, name: &str, block: &ServerBlock) -> Result<(), ParseError> {
        if self.snippets.contains_key(name) {
            if let Some(k) = block.keys.first() {
                return Err(syntax(
                    k,
                    format!("redeclaration of previously declared snippet {name}; rename one of them"),
                ));
            }
        }
        let snippet: Arc<str> = Arc::from(name);
        let mut tokens = Vec::new();
        for seg in &block.body {
            tokens.extend(seg.to_tokens());
        }
        for t in &mut tokens {
            t.snippet = Some(snippet.clone());
        }
        self.snippets.insert(name.to_string(), tokens);
        Ok(())
    }

    fn reaches(&self, from: &str, to: &str) -> bool {
        let mut seen = HashSet::new();
        let mut stack = vec![from.to_string()];
        while let Some(n) = stack.pop() {
            if n == to {
                return true;
            }
            if seen.insert(n.clone()) {
                stack.extend(self.edges.get(&n).into_iter().flatten().cloned());
            }
        }
        false
    }

    fn add_edge(&mut self, at: &Token, from: &str, to: &str) -> Result<(), ParseError> {
        // An edge already in the graph was checked when it was added, and any later edge that
        // closes a cycle through it is caught when that one is added.
        if self.edges.get(from).is_some_and(|l| l.contains(to)) {
            return Ok(());
        }
        if self.reaches(to, from) {
            return Err(err(at, ErrorKind::ImportCycle { from: from.to_string(), to: to.to_string() }));
        }
        self.edges.entry(from.to_string()).or_default().insert(to.to_string());
        Ok(())
    }

    /// Tokens of the files matching `pattern`, imported from the file of `at`.
    fn import_files(
        &mut self,
        at: &Token,
        pattern: &str,
        nesting: usize,
    ) -> Result<(Vec<Token>, Vec<String>), ParseError> {
        let logical = if pattern.starts_with('/') {
            clean(pattern)
        } else {
            let dir = at.file.parent().unwrap_or(Path::new("/"));
            clean(&format!("{}/{pattern}", dir.to_string_lossy()))
        };
        if logical.matches('*').count() > 1
            || logical.matches('?').count() > 1
            || (logical.contains('[') && logical.contains(']'))
        {
            return Err(syntax(
                at,
                format!("glob pattern may only contain one wildcard (*), but has others: {logical}"),
            ));
        }
        let (Some(sys), Some(env)) = (self.sys, self.env) else {
            return Err(syntax(at, format!("cannot import {pattern} here; this is a bug in harden")));
        };
        let wild = logical.contains(['*', '?']);
        let matches = glob(sys, &logical).map_err(|(path, message)| err(at, ErrorKind::Io { path, message }))?;
        if matches.is_empty() && !wild {
            return Err(err(at, ErrorKind::ImportNotFound(pattern.to_string())));
        }
        let mut tokens = Vec::new();
        for m in &matches {
            if sys.is_dir(m) {
                return Err(syntax(at, format!("could not import {m}: is a directory")));
            }
            // A FIFO or device would block the read (and Caddy with it) or never end.
            if !sys.is_file(m) {
                return Err(syntax(at, format!("could not import {m}: not a regular file")));
            }
            self.uses.push(ImportUse { file: m.clone(), at: at.location().to_string(), nesting });
            let text = match self.overlay.get(m) {
                Some(t) => t.clone(),
                None => read_text(sys, m).map_err(|message| err(at, ErrorKind::Io { path: m.clone(), message }))?,
            };
            if text.trim().is_empty() {
                continue;
            }
            let file = Path::new(m);
            // A set, not a scan of `files`: a multi-tenant layout imports thousands of files.
            if self.parsed.insert(m.clone()) {
                // A file imported inside a block holds directives, not server blocks.
                let doc = if nesting == 0 { parse_str(&text, file)? } else { parse_fragment(&text, file)? };
                self.files.push(doc);
            }
            let lexed = tokenize(&substitute_env(&text, env), file)?;
            tokens.extend(lexed.tokens);
        }
        Ok((tokens, matches))
    }

    /// Copies imported tokens for one splice: fresh origins, `{args[...]}`, `{block}`.
    fn instantiate(&mut self, imported: Vec<Token>, ctx: &ImportContext, nesting: usize) -> Vec<Token> {
        // Old origin to new; a splice has few origins, so a list beats a hash map.
        let mut origins: Vec<(u32, u32)> = Vec::new();
        let mut out: Vec<Token> = Vec::with_capacity(imported.len());
        let (mut maybe_snippet, mut maybe_snippet_id) = (false, false);
        let mut index = 0usize;
        let mut nest = nesting as i64;
        for (i, mut tok) in imported.into_iter().enumerate() {
            tok.origin = match origins.iter().find(|(old, _)| *old == tok.origin) {
                Some(&(_, new)) => new,
                None => {
                    self.next_origin += 1;
                    origins.push((tok.origin, self.next_origin));
                    self.next_origin
                }
            };
            // Inside a snippet defined by a file imported at the top level, arguments are
            // left for the snippet's own imports (Caddy's rule).
            if !maybe_snippet && nest == 0 {
                let new_line = i == 0 || out.last().is_none_or(|l| l.next_is_on_new_line(&tok));
                index = if new_line { 0 } else { index + 1 };
                if index == 0 && tok.text.len() >= 3 && tok.text.starts_with('(') && tok.text.ends_with(')') {
                    maybe_snippet_id = true;
                }
            }
            if tok.is_open_brace() {
                nest += 1;
                if index == 1 && maybe_snippet_id && nest == 1 {
                    maybe_snippet = true;
                    maybe_snippet_id = false;
                }
            } else if tok.is_close_brace() {
                nest -= 1;
                if nest == 0 && maybe_snippet {
                    maybe_snippet = false;
                }
            }
            let block_ref = if tok.text == "{block}" {
                Some(ctx.block.clone())
            } else {
                tok.text
                    .strip_prefix("{blocks.")
                    .and_then(|k| k.strip_suffix('}'))
                    .map(|key| ctx.blocks.get(key).cloned().unwrap_or_default())
            };
            if let Some(tokens) = block_ref {
                if maybe_snippet {
                    out.push(tok);
                } else {
                    out.extend(tokens);
                }
                continue;
            }
            if maybe_snippet {
                out.push(tok);
                continue;
            }
            if let Some(range) = variadic(&tok.text, ctx.args.len()) {
                for arg in &ctx.args[range] {
                    let mut t = tok.clone();
                    t.text = arg.as_str().into();
                    out.push(t);
                }
            } else {
                if tok.text.contains('{') {
                    tok.text = replace_args(&tok.text, &ctx.args).into();
                }
                out.push(tok);
            }
        }
        out
    }
}

/// What an import line passes to the imported tokens.
struct ImportContext {
    args: Vec<String>,
    /// Tokens of the import's `{ ... }` block, without the braces (`{block}`).
    block: Vec<Token>,
    /// `{blocks.NAME}`: per first token of each block line, the rest of that line and its block.
    blocks: HashMap<String, Vec<Token>>,
}

impl Parser<'_, '_> {
    /// Replaces the import line at the cursor with the tokens it imports; or, for a snippet
    /// inside a block whose expansion is known (see [`Expander::memo`]), returns its segments.
    pub(super) fn expand_import(&mut self, nesting: usize) -> Result<Option<Vec<Segment>>, ParseError> {
        // After the splice the parser reads the imported tokens as if they stood where the
        // import line was, so the token before that line is the previous one again.
        let before = self.prev.clone();
        let Some(import_tok) = self.bump() else { return Ok(None) };
        let same_line = |p: &Self| {
            p.peek().is_some_and(|t| p.prev.as_ref().is_some_and(|q| !q.next_is_on_new_line(t)) && !t.is_open_brace())
        };
        if !same_line(self) {
            return Err(syntax(&import_tok, "import needs a file path, glob or snippet name".to_string()));
        }
        let pattern = self.bump().map(|t| t.text).unwrap_or_default();
        if pattern.is_empty() {
            return Err(syntax(&import_tok, "import requires a non-empty file path".to_string()));
        }
        let mut args = Vec::new();
        while same_line(self) {
            args.extend(self.bump().map(|t| t.text.to_string()));
        }
        let block = self.import_block()?;
        let ctx = ImportContext { blocks: block_mapping(&block), block, args };

        let Some(exp) = self.expander.as_deref_mut() else {
            return Err(syntax(&import_tok, "import expansion needs a loader".to_string()));
        };
        exp.count_import(&import_tok, 1)?;
        // The tokens of imported files; None for a snippet, whose tokens are copied only when
        // they are spliced or parsed, not on reuse.
        let (files, nodes) = match exp.snippets.get(pattern.as_str()) {
            Some(tokens) => {
                let node = tokens.first().map(|t| format!("{}:{pattern}", t.file.display())).into_iter().collect();
                (None, node)
            }
            None => {
                let (tokens, nodes) = exp.import_files(&import_tok, &pattern, nesting)?;
                (Some(tokens), nodes)
            }
        };
        let mut from = import_tok.file.display().to_string();
        if let Some(s) = &import_tok.snippet {
            from = format!("{from}:{s}");
        }
        for to in &nodes {
            exp.add_edge(&import_tok, &from, to)?;
        }
        // Without arguments or a block, a snippet's tokens read the same at every import.
        let reusable = exp.reuse
            && nesting > 0
            && ctx.args.is_empty()
            && ctx.block.is_empty()
            && files.is_none()
            && !matches!(exp.memo.get(pattern.as_str()), Some(Memo::Inline));
        if let Some(Memo::Segments(segs, imports)) = exp.memo.get(pattern.as_str()).filter(|_| reusable) {
            let (segs, imports) = (segs.clone(), *imports);
            exp.count_import(&import_tok, imports)?;
            self.prev = last_end(&segs).or(before);
            return Ok(Some(segs));
        }
        let imported = match files {
            Some(tokens) => tokens,
            None => exp.snippets.get(pattern.as_str()).cloned().unwrap_or_default(),
        };
        let copies = exp.instantiate(imported, &ctx, nesting);
        if !reusable {
            self.toks.extend(copies.into_iter().rev());
            self.prev = before;
            return Ok(None);
        }
        // First use: parse the copies on their own. Their tokens have an origin of their own,
        // so no line of theirs joins the text around the import, and parsing them apart from
        // it gives the segments parsing them in place would.
        let (uses, imports) = (exp.uses.len(), exp.imports);
        let mut sub = Parser::new(copies, self.expander.take());
        let parsed = sub.body_to_end();
        self.expander = sub.expander.take();
        let segs = parsed?;
        if let Some(exp) = self.expander.as_deref_mut() {
            let memo =
                if exp.uses.len() == uses { Memo::Segments(segs.clone(), exp.imports - imports) } else { Memo::Inline };
            exp.memo.insert(pattern.to_string(), memo);
        }
        self.prev = last_end(&segs).or(before);
        Ok(Some(segs))
    }

    /// The `{ ... }` after an import's arguments, if any, without its braces.
    fn import_block(&mut self) -> Result<Vec<Token>, ParseError> {
        let opens = self
            .peek()
            .is_some_and(|t| t.is_open_brace() && self.prev.as_ref().is_some_and(|p| !p.next_is_on_new_line(t)));
        if !opens {
            return Ok(Vec::new());
        }
        let Some(open) = self.bump() else { return Ok(Vec::new()) };
        let mut depth = 1;
        let mut tokens = Vec::new();
        while let Some(t) = self.bump() {
            if t.is_close_brace() {
                depth -= 1;
                if depth == 0 {
                    return Ok(tokens);
                }
            } else if t.is_open_brace() {
                depth += 1;
            }
            tokens.push(t);
        }
        Err(err(&open, ErrorKind::UnclosedBrace))
    }
}

/// Where the last of `segs` ends, for the line check of the token after them.
fn last_end(segs: &[Segment]) -> Option<super::lexer::TokenEnd> {
    match segs.last()?.items.last()? {
        Item::Token(t) => Some(t.end()),
        Item::Block(b) => Some(b.close.end()),
    }
}

/// `{blocks.NAME}` values: for each line at the top of the import block, its first token names
/// the rest of the line plus the inside of the block it opens.
fn block_mapping(block: &[Token]) -> HashMap<String, Vec<Token>> {
    let mut map = HashMap::new();
    let mut i = 0;
    while i < block.len() {
        let key = block[i].text.to_string();
        let mut value = Vec::new();
        i += 1;
        while i < block.len() && !block[i - 1].next_is_on_new_line(&block[i]) && !block[i].is_open_brace() {
            value.push(block[i].clone());
            i += 1;
        }
        if i < block.len() && block[i].is_open_brace() && !block[i - 1].next_is_on_new_line(&block[i]) {
            let mut depth = 1;
            i += 1;
            while i < block.len() {
                if block[i].is_open_brace() {
                    depth += 1;
                } else if block[i].is_close_brace() {
                    depth -= 1;
                    if depth == 0 {
                        i += 1;
                        break;
                    }
                }
                value.push(block[i].clone());
                i += 1;
            }
        }
        map.insert(key, value);
    }
    map
}

/// `{args[a:b]}` as a whole token: the range of arguments it stands for.
fn variadic(text: &str, count: usize) -> Option<std::ops::Range<usize>> {
    let inner = text.strip_prefix("{args[")?.strip_suffix("]}")?;
    let (a, b) = inner.split_once(':')?;
    if a.contains('}') || b.contains('{') {
        return None;
    }
    let start = if a.is_empty() { 0 } else { a.parse().ok()? };
    let end = if b.is_empty() { count } else { b.parse().ok()? };
    (start <= end && end <= count).then_some(start..end)
}

/// Replaces `{args[N]}` (and the deprecated `{args.N}`) with known arguments; other
/// placeholders stay as written.
fn replace_args(text: &str, args: &[String]) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|c| open + c) else {
            break;
        };
        let key = &rest[open + 1..close];
        let index = key
            .strip_prefix("args[")
            .and_then(|k| k.strip_suffix(']'))
            .or_else(|| key.strip_prefix("args."))
            .and_then(|n| n.parse::<usize>().ok());
        out.push_str(&rest[..open]);
        match index.and_then(|n| args.get(n)) {
            Some(v) => out.push_str(v),
            None => out.push_str(&rest[open..=close]),
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// The text of a logical file, or the reason it cannot be read (the OS's words, as before
/// reads went through `System`; the permission message says to use sudo).
fn read_text(sys: &System, logical: &str) -> Result<String, String> {
    let bytes = match sys.read(logical) {
        Ok(Some(b)) => b,
        Ok(None) => return Err(std::io::Error::from_raw_os_error(nix::libc::ENOENT).to_string()),
        // The error names the logical path already; the host path would only repeat it.
        Err(SysError::Permission { .. }) => return Err("permission denied; run harden with sudo".into()),
        Err(SysError::Read { source, .. }) => return Err(source.to_string()),
        Err(e) => return Err(e.to_string()),
    };
    String::from_utf8(bytes).map_err(|_| "not valid UTF-8; save the file as UTF-8".to_string())
}

/// Lexical path cleaning like Go's `filepath.Clean` for absolute paths.
fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            _ => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Files matching a logical pattern with at most one `*` or `?`, sorted; like Go's
/// `filepath.Glob`, plus Caddy's rule that a leading `*` in the last part skips dotfiles.
/// A directory that does not exist (or is no directory) matches nothing, like
/// `filepath.Glob`; one harden may not list is an error (the directory and why), not an empty match: a plan run without the
/// rights to read the sites must not call them in sync.
fn glob(sys: &System, pattern: &str) -> Result<Vec<String>, (String, String)> {
    let segs: Vec<&str> = pattern.split('/').collect();
    let Some(w) = segs.iter().position(|s| s.contains(['*', '?'])) else {
        return Ok(if sys.exists(pattern) { vec![pattern.to_string()] } else { Vec::new() });
    };
    let dir = segs[..w].join("/");
    let entries = match sys.list_dir(&dir) {
        Ok(Some(entries)) => entries,
        Err(SysError::Permission { .. }) => return Err((dir, "permission denied; run harden with sudo".into())),
        // Not a directory, or gone: nothing matches.
        Ok(None) | Err(_) => return Ok(Vec::new()),
    };
    let tail = segs[w + 1..].join("/");
    let skip_hidden = w == segs.len() - 1 && segs[w].starts_with('*');
    let mut out: Vec<String> = entries
        .into_iter()
        .filter(|name| wildcard_match(segs[w].as_bytes(), name.as_bytes()))
        .filter(|name| !(skip_hidden && name.starts_with('.')))
        .map(|name| {
            let mut p = format!("{dir}/{name}");
            if !tail.is_empty() {
                p = format!("{p}/{tail}");
            }
            p
        })
        .filter(|p| sys.exists(p))
        .collect();
    out.sort();
    Ok(out)
}

fn wildcard_match(pat: &[u8], name: &[u8]) -> bool {
    match pat.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|i| wildcard_match(rest, &name[i..])),
        Some((b'?', rest)) => !name.is_empty() && wildcard_match(rest, &name[1..]),
        Some((c, rest)) => name.first() == Some(c) && wildcard_match(rest, &name[1..]),
    }
}
