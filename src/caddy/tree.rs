//! The Caddyfile syntax tree. Nodes own their tokens, and tokens own their leading trivia, so
//! printing a tree that was not edited gives back the source byte for byte.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use super::lexer::{push_trivia, Token, Trivia};

/// One parsed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub file: Arc<Path>,
    pub blocks: Vec<ServerBlock>,
    /// Trivia after the last token (final comments and newlines).
    pub trailing: Vec<Trivia>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockKind {
    /// The keyless `{ ... }` block (global options when it comes first).
    Global,
    Site,
    /// `(name) { ... }`; the name is without parentheses.
    Snippet(String),
    /// `&(name) { ... }` (Caddy 2.8+).
    NamedRoute(String),
    /// The directives of a file imported inside a block (see `parse_fragment`).
    Fragment,
    /// A top-level `import` line, kept unexpanded in a lossless tree; its only segment is the
    /// import line.
    Import,
}

/// A top-level block: keys, then either `{ body }` or (single-site form) a brace-less body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerBlock {
    pub kind: BlockKind,
    /// Key tokens as written; a trailing comma stays in the token (see [`ServerBlock::addresses`]).
    pub keys: Vec<Token>,
    pub open: Option<Token>,
    pub body: Vec<Segment>,
    pub close: Option<Token>,
}

/// A directive line: the directive, its arguments and any `{ ... }` blocks opened on that line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Token(Token),
    Block(Box<Block>),
}

/// A nested `{ ... }` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub open: Token,
    pub body: Vec<Segment>,
    pub close: Token,
}

impl Document {
    /// The source text, printed from the tree.
    pub fn to_source(&self) -> String {
        let mut out = String::new();
        for b in &self.blocks {
            b.print(&mut out);
        }
        push_trivia(&mut out, &self.trailing);
        out
    }

    /// Every token in source order.
    pub fn tokens(&self) -> Vec<&Token> {
        let mut out = Vec::new();
        for b in &self.blocks {
            b.collect_tokens(&mut out);
        }
        out
    }
}

impl ServerBlock {
    /// Site addresses without the separating commas.
    pub fn addresses(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| k.text.strip_suffix(',').unwrap_or(&k.text).to_string())
            .filter(|k| !k.is_empty())
            .collect()
    }

    /// Byte range in its file (meaningful for blocks of a single file).
    pub fn span(&self) -> Range<usize> {
        match (self.first_token(), self.last_token()) {
            (Some(a), Some(b)) => a.span.start..b.span.end,
            _ => 0..0,
        }
    }

    /// Line of the first token.
    pub fn line(&self) -> usize {
        self.first_token().map_or(0, |t| t.line)
    }

    fn first_token(&self) -> Option<&Token> {
        self.keys
            .first()
            .or(self.open.as_ref())
            .or_else(|| self.body.iter().find_map(Segment::first_token))
            .or(self.close.as_ref())
    }

    fn last_token(&self) -> Option<&Token> {
        self.close
            .as_ref()
            .or_else(|| self.body.iter().rev().find_map(Segment::last_token))
            .or(self.open.as_ref())
            .or(self.keys.last())
    }

    pub fn collect_tokens<'a>(&'a self, out: &mut Vec<&'a Token>) {
        out.extend(self.keys.iter());
        out.extend(self.open.iter());
        for s in &self.body {
            s.collect_tokens(out);
        }
        out.extend(self.close.iter());
    }

    pub fn print(&self, out: &mut String) {
        for t in &self.keys {
            print_token(out, t);
        }
        if let Some(t) = &self.open {
            print_token(out, t);
        }
        for s in &self.body {
            s.print(out);
        }
        if let Some(t) = &self.close {
            print_token(out, t);
        }
    }
}

fn print_token(out: &mut String, t: &Token) {
    out.push_str(&t.leading);
    out.push_str(&t.raw);
}

impl Segment {
    /// The first token (the directive name, or a matcher definition `@name`).
    pub fn first(&self) -> Option<&Token> {
        match self.items.first() {
            Some(Item::Token(t)) => Some(t),
            _ => None,
        }
    }

    pub fn directive(&self) -> &str {
        self.first().map_or("", |t| t.text.as_str())
    }

    pub fn line(&self) -> usize {
        self.first().map_or(0, |t| t.line)
    }

    /// Arguments on the directive line, before any block.
    pub fn args(&self) -> Vec<&Token> {
        self.items
            .iter()
            .skip(1)
            .map_while(|i| match i {
                Item::Token(t) => Some(t),
                Item::Block(_) => None,
            })
            .collect()
    }

    /// The first nested block, if the line opens one.
    pub fn block(&self) -> Option<&Block> {
        self.items.iter().find_map(|i| match i {
            Item::Block(b) => Some(&**b),
            Item::Token(_) => None,
        })
    }

    /// The matcher token, when the first argument is one (`*`, a path, or `@name`).
    pub fn matcher(&self) -> Option<&Token> {
        let Some(Item::Token(first)) = self.items.get(1) else { return None };
        let t = first.text.as_str();
        (t == "*" || t.starts_with('/') || t.starts_with('@')).then_some(first)
    }

    /// Whether this line defines a named matcher (`@name ...`).
    pub fn is_matcher_definition(&self) -> bool {
        self.directive().starts_with('@')
    }

    pub fn span(&self) -> Range<usize> {
        match (self.first_token(), self.last_token()) {
            (Some(a), Some(b)) => a.span.start..b.span.end,
            _ => 0..0,
        }
    }

    fn first_token(&self) -> Option<&Token> {
        self.items.first().map(|i| match i {
            Item::Token(t) => t,
            Item::Block(b) => &b.open,
        })
    }

    fn last_token(&self) -> Option<&Token> {
        self.items.last().map(|i| match i {
            Item::Token(t) => t,
            Item::Block(b) => &b.close,
        })
    }

    /// Whether any token, nested blocks included, satisfies `f`.
    pub fn any_token(&self, f: &impl Fn(&Token) -> bool) -> bool {
        self.items.iter().any(|i| match i {
            Item::Token(t) => f(t),
            Item::Block(b) => f(&b.open) || b.body.iter().any(|s| s.any_token(f)) || f(&b.close),
        })
    }

    pub fn collect_tokens<'a>(&'a self, out: &mut Vec<&'a Token>) {
        for i in &self.items {
            match i {
                Item::Token(t) => out.push(t),
                Item::Block(b) => b.collect_tokens(out),
            }
        }
    }

    /// All tokens, owned, in order (snippet bodies and import blocks are kept this way).
    pub fn to_tokens(&self) -> Vec<Token> {
        let mut toks = Vec::new();
        self.collect_tokens(&mut toks);
        toks.into_iter().cloned().collect()
    }

    pub fn print(&self, out: &mut String) {
        for i in &self.items {
            match i {
                Item::Token(t) => print_token(out, t),
                Item::Block(b) => b.print(out),
            }
        }
    }
}

impl Block {
    pub fn span(&self) -> Range<usize> {
        self.open.span.start..self.close.span.end
    }

    pub fn collect_tokens<'a>(&'a self, out: &mut Vec<&'a Token>) {
        out.push(&self.open);
        for s in &self.body {
            s.collect_tokens(out);
        }
        out.push(&self.close);
    }

    pub fn print(&self, out: &mut String) {
        print_token(out, &self.open);
        for s in &self.body {
            s.print(out);
        }
        print_token(out, &self.close);
    }
}
