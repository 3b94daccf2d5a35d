//! An expansion split over the CPUs: after the last snippet definition and top-level import,
//! a file's site blocks depend only on the snippets defined before them, so runs of sites are
//! parsed on threads of their own, each with a copy of the expander's state. The check after
//! an edit expands every site of a large file again; on one thread that is the longest step
//! of a plan.
//!
//! Only plain layouts are split: every top-level block is `keys {` on one line through its
//! matching `}`, and the sites import nothing but snippets (reading files needs the
//! [`System`](crate::system::System), which stays on the calling thread). Anything else is
//! parsed on one thread as before. When any part fails, or the parts together pass the import
//! limit, the caller parses the whole file again on one thread, so an error names exactly
//! what the one-thread parse names first.

use std::collections::{HashMap, HashSet};

use super::error::ParseError;
use super::import::{Expander, Overlay, MAX_IMPORTS};
use super::lexer::{Token, TokenEnd};
use super::parser::Parser;
use super::tree::ServerBlock;

/// Fewer sites than this are parsed on the calling thread.
const MIN_SITES: usize = 512;

/// Nor are sites that expand to more tokens than this (5,000 sites with harden's snippet come
/// to about 200,000).
const MAX_TOKENS: usize = 4_000_000;

/// Parses `tokens` (a whole file) as [`Parser::parse_all`] does, splitting its sites over the
/// CPUs when the layout allows. `Ok(None)`: a part failed; parse the file on one thread with a
/// fresh expander for the exact error.
pub(super) fn parse_all(tokens: Vec<Token>, exp: &mut Expander) -> Result<Option<Vec<ServerBlock>>, ParseError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    let Some(blocks) = top_level_blocks(&tokens).filter(|_| threads > 1) else {
        return Parser::new(tokens, Some(exp)).parse_all().map(Some);
    };
    let prefix_end = blocks.iter().rposition(|b| !b.site).map_or(0, |i| blocks[i].end);
    let sites: Vec<&Block> = blocks.iter().filter(|b| b.start >= prefix_end).collect();
    if sites.len() < MIN_SITES {
        return Parser::new(tokens, Some(exp)).parse_all().map(Some);
    }
    let mut tokens = tokens;
    let rest = tokens.split_off(prefix_end);
    let mut head = Parser::new(tokens, Some(&mut *exp));
    let mut out = head.parse_all()?;
    let prev = head.prev.take();
    drop(head);
    // The sites may import only snippets, and those only snippets, all defined by now. A huge
    // expansion is bound by memory, not the CPU: more threads only make it slower.
    let size = expanded_size(&rest, &exp.snippets, &mut HashMap::new(), &mut HashSet::new());
    if size.is_none_or(|n| n > MAX_TOKENS) {
        let mut tail = Parser::new(rest, Some(exp));
        tail.prev = prev;
        out.extend(tail.parse_all()?);
        return Ok(Some(out));
    }
    let parts = split_parts(rest, &sites, prefix_end, threads, prev);
    // Each part numbers its import splices in a range of its own.
    let stride = (u32::MAX - exp.next_origin) / parts.len() as u32;
    let state = State { snippets: &exp.snippets, edges: &exp.edges, overlay: exp.overlay };
    let base = exp.next_origin;
    let inputs: Vec<(u32, Part)> = parts.into_iter().enumerate().map(|(k, p)| (base + k as u32 * stride, p)).collect();
    let results = super::par::each_on_a_thread(inputs, |(origin, part)| state.parse(origin, part));
    // A part's error may come after the place where the one-thread parse stops (say, at the
    // import limit, which it counts across parts), so any failure means parsing again.
    let total: usize =
        results.iter().map(|r| r.as_ref().map_or(usize::MAX, |d| d.imports)).fold(0, usize::saturating_add);
    if exp.imports.saturating_add(total) > MAX_IMPORTS {
        return Ok(None);
    }
    for r in results {
        let Ok(done) = r else { return Ok(None) };
        for (from, to) in done.edges {
            exp.edges.entry(from).or_default().extend(to);
        }
        exp.next_origin = exp.next_origin.max(done.next_origin);
        exp.imports += done.imports;
        out.extend(done.blocks);
    }
    Ok(Some(out))
}

/// A top-level block: token range, and whether it is a site (not a global options block,
/// snippet, named route or import line).
struct Block {
    start: usize,
    end: usize,
    site: bool,
}

/// The top-level blocks when every one is an import line or `keys {` ... `}` with the keys
/// and the `{` on one line; None for any other layout (brace-less sites, address lists over
/// several lines, unbalanced braces), which the one-thread parse handles and reports.
fn top_level_blocks(tokens: &[Token]) -> Option<Vec<Block>> {
    let same_line = |i: usize| i > 0 && !tokens[i - 1].next_is_on_new_line(&tokens[i]);
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let start = i;
        if tokens[i].text == "import" {
            i += 1;
            while i < tokens.len() && same_line(i) {
                if tokens[i].is_open_brace() || tokens[i].is_close_brace() {
                    return None;
                }
                i += 1;
            }
            out.push(Block { start, end: i, site: false });
            continue;
        }
        while i < tokens.len() && !tokens[i].is_open_brace() {
            if tokens[i].is_close_brace() || i > start && !same_line(i) {
                return None;
            }
            i += 1;
        }
        if i == tokens.len() || i > start && !same_line(i) {
            return None;
        }
        let mut depth = 0usize;
        loop {
            let t = tokens.get(i)?;
            if t.is_open_brace() {
                depth += 1;
            } else if t.is_close_brace() {
                depth -= 1;
            }
            i += 1;
            if depth == 0 {
                break;
            }
        }
        let key = &tokens[start].text;
        let site = !tokens[start].is_open_brace() && !key.starts_with('(') && !key.starts_with("&(");
        out.push(Block { start, end: i, site });
    }
    Some(out)
}

/// How many tokens `tokens` expand to, when every `import` in them, and in the snippets they
/// name, names a snippet defined already (None otherwise, or on a cycle, which the one-thread
/// parse reports). Any token `import` counts, wherever it stands: a false alarm only means
/// one thread. `sizes` keeps each snippet's expanded size.
fn expanded_size<'s>(
    tokens: &[Token],
    snippets: &'s HashMap<String, Vec<Token>>,
    sizes: &mut HashMap<&'s str, usize>,
    open: &mut HashSet<&'s str>,
) -> Option<usize> {
    let mut total = tokens.len();
    for (i, t) in tokens.iter().enumerate() {
        if t.text != "import" {
            continue;
        }
        // An import without a name on its line is an error the parser reports.
        let Some(name) = tokens.get(i + 1).filter(|n| !t.next_is_on_new_line(n)).map(|n| n.text.as_str()) else {
            continue;
        };
        let (key, body) = snippets.get_key_value(name)?;
        let size = match sizes.get(key.as_str()) {
            Some(&n) => n,
            None => {
                if !open.insert(key.as_str()) {
                    return None;
                }
                let n = expanded_size(body, snippets, sizes, open)?;
                open.remove(key.as_str());
                sizes.insert(key.as_str(), n);
                n
            }
        };
        total = total.saturating_add(size);
    }
    Some(total)
}

/// One run of sites for a thread, with the token before it (for the parser's line check).
struct Part {
    tokens: Vec<Token>,
    prev: Option<TokenEnd>,
}

/// Cuts `rest` (the tokens from `offset` on) into about `n` runs of whole site blocks.
fn split_parts(rest: Vec<Token>, sites: &[&Block], offset: usize, n: usize, prev: Option<TokenEnd>) -> Vec<Part> {
    let per = sites.len().div_ceil(n);
    let cuts: Vec<usize> = sites.iter().step_by(per).skip(1).map(|b| b.start - offset).collect();
    let mut parts = Vec::new();
    let mut rest = rest;
    let mut prev = prev;
    for &cut in cuts.iter().rev() {
        let tail = rest.split_off(cut);
        parts.push(tail);
    }
    parts.push(rest);
    parts.reverse();
    parts
        .into_iter()
        .map(|tokens| {
            let p = Part { prev: prev.clone(), tokens };
            prev = p.tokens.last().map(Token::end);
            p
        })
        .collect()
}

/// What a thread needs of the expander: read-only, so each part works on its own copy.
#[derive(Clone, Copy)]
struct State<'s> {
    snippets: &'s HashMap<String, Vec<Token>>,
    edges: &'s HashMap<String, HashSet<String>>,
    overlay: &'s Overlay,
}

struct Parsed {
    blocks: Vec<ServerBlock>,
    edges: HashMap<String, HashSet<String>>,
    imports: usize,
    next_origin: u32,
}

impl State<'_> {
    fn parse(self, origin: u32, part: Part) -> Result<Parsed, ParseError> {
        let mut exp = Expander {
            sys: None,
            env: None,
            overlay: self.overlay,
            uses: Vec::new(),
            snippets: self.snippets.clone(),
            edges: self.edges.clone(),
            next_origin: origin,
            imports: 0,
            files: Vec::new(),
            parsed: HashSet::new(),
            memo: HashMap::new(),
            // Only an expansion that reuses snippets is split.
            reuse: true,
        };
        let mut p = Parser::new(part.tokens, Some(&mut exp));
        p.prev = part.prev;
        let blocks = p.parse_all()?;
        drop(p);
        Ok(Parsed { blocks, edges: exp.edges, imports: exp.imports, next_origin: exp.next_origin })
    }
}
