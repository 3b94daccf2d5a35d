//! Parses a token stream into server blocks, following Caddy's `parse.go` rules.
//!
//! Two modes share this code: lossless (imports stay as `import` segments, for printing and
//! editing one file) and expanding (imports are spliced into the token stream where they occur,
//! as Caddy does, for the meaning of the configuration). See `import.rs` for the splicing.

use std::path::Path;
use std::sync::Arc;

use super::error::{ErrorKind, ParseError};
use super::import::Expander;
use super::lexer::{tokenize, Token, TokenEnd};
use super::tree::{Block, BlockKind, Document, Item, Segment, ServerBlock};

/// Parses one file without expanding imports; printing the result gives `src` back.
pub fn parse_str(src: &str, file: &Path) -> Result<Document, ParseError> {
    let lexed = tokenize(src, file)?;
    let mut p = Parser::new(lexed.tokens, None);
    let blocks = p.parse_all()?;
    Ok(Document { file: Arc::from(file), blocks, trailing: lexed.trailing })
}

/// Parses a file of directives (one imported inside a site block) without expanding imports:
/// the document has one [`BlockKind::Fragment`] block holding the lines.
pub fn parse_fragment(src: &str, file: &Path) -> Result<Document, ParseError> {
    let lexed = tokenize(src, file)?;
    let mut p = Parser::new(lexed.tokens, None);
    let mut body = Vec::new();
    while let Some(t) = p.peek() {
        if t.is_close_brace() {
            return Err(err(t, ErrorKind::UnmatchedClose));
        }
        body.push(p.segment()?);
    }
    let blocks = vec![ServerBlock { kind: BlockKind::Fragment, keys: Vec::new(), open: None, body, close: None }];
    Ok(Document { file: Arc::from(file), blocks, trailing: lexed.trailing })
}

pub(super) struct Parser<'e, 'a> {
    /// The tokens not read yet, in reverse order (the next one is last), so that an import
    /// puts its tokens in front by pushing them: a splice in the middle of one long vector
    /// would move the whole rest of the file for every import.
    pub(super) toks: Vec<Token>,
    /// The token read last (Caddy compares lines with it).
    pub(super) prev: Option<TokenEnd>,
    pub(super) expander: Option<&'e mut Expander<'a>>,
    /// False while reading a snippet or named-route body, which Caddy keeps unexpanded.
    pub(super) expanding: bool,
}

/// Whether a directive position holds what can only be a site address (directive names have
/// no dots, colons or slashes).
fn looks_like_address(text: &str) -> bool {
    !text.starts_with('@') && !text.contains("{$") && (text.contains(['.', ':', '/']) || text == "localhost")
}

pub(super) fn err(t: &Token, kind: ErrorKind) -> ParseError {
    ParseError::new(t.location(), kind)
}

pub(super) fn syntax(t: &Token, msg: String) -> ParseError {
    err(t, ErrorKind::Syntax(msg))
}

impl<'e, 'a> Parser<'e, 'a> {
    pub(super) fn new(toks: Vec<Token>, expander: Option<&'e mut Expander<'a>>) -> Self {
        let expanding = expander.is_some();
        let mut toks = toks;
        toks.reverse();
        Parser { toks, prev: None, expander, expanding }
    }

    pub(super) fn peek(&self) -> Option<&Token> {
        self.toks.last()
    }

    pub(super) fn bump(&mut self) -> Option<Token> {
        let t = self.toks.pop();
        if let Some(t) = &t {
            self.prev = Some(t.end());
        }
        t
    }

    /// Whether the next token starts a new line relative to the one before it.
    fn at_line_start(&self) -> bool {
        match (self.prev.as_ref(), self.peek()) {
            (None, _) => true,
            (Some(prev), Some(cur)) => prev.next_is_on_new_line(cur),
            (Some(_), None) => false,
        }
    }

    fn at_import(&self) -> bool {
        self.expanding && self.peek().is_some_and(|t| t.text == "import") && self.at_line_start()
    }

    pub(super) fn parse_all(&mut self) -> Result<Vec<ServerBlock>, ParseError> {
        let mut blocks = Vec::new();
        while let Some(t) = self.peek() {
            if t.text == "import" && self.at_line_start() {
                if self.expanding {
                    self.expand_import(0)?;
                    continue;
                }
                let seg = self.segment()?;
                blocks.push(ServerBlock {
                    kind: BlockKind::Import,
                    keys: Vec::new(),
                    open: None,
                    body: vec![seg],
                    close: None,
                });
                continue;
            }
            blocks.push(self.server_block()?);
        }
        Ok(blocks)
    }

    fn server_block(&mut self) -> Result<ServerBlock, ParseError> {
        let keys = self.keys()?;
        let kind = match keys.as_slice() {
            [] => BlockKind::Global,
            [k] if k.text.starts_with("&(") && k.text.ends_with(')') && k.text.len() > 3 => {
                BlockKind::NamedRoute(k.text[2..k.text.len() - 1].to_string())
            }
            [k] if k.text.starts_with('(') && k.text.ends_with(')') && k.text.len() > 2 => {
                BlockKind::Snippet(k.text[1..k.text.len() - 1].to_string())
            }
            _ => BlockKind::Site,
        };
        let raw_body = matches!(kind, BlockKind::Snippet(_) | BlockKind::NamedRoute(_));
        if self.peek().is_some_and(Token::is_open_brace) {
            let Some(open) = self.bump() else { unreachable!("peeked an open brace") };
            let was = self.expanding;
            self.expanding = was && !raw_body;
            let result = self.body_until_close(&open);
            self.expanding = was;
            let (body, close) = result?;
            let block = ServerBlock { kind, keys, open: Some(open), body, close: Some(close) };
            if let (BlockKind::Snippet(name), Some(exp)) = (&block.kind, self.expander.as_deref_mut()) {
                if self.expanding {
                    exp.define_snippet(name, &block)?;
                }
            }
            return Ok(block);
        }
        if let (true, Some(k)) = (raw_body, keys.first()) {
            return Err(syntax(k, format!("{} needs a '{{ ... }}' block on the same line", k.text)));
        }
        // The single-site form: no braces, the rest of the file is the site's body.
        let mut body = Vec::new();
        while let Some(t) = self.peek() {
            if t.is_close_brace() {
                return Err(err(t, ErrorKind::UnmatchedClose));
            }
            if self.at_import() {
                if let Some(segs) = self.expand_import(1)? {
                    body.extend(segs);
                }
                continue;
            }
            let seg = self.segment()?;
            // Caddy takes a later `other.site {` for an unknown directive of this site; say so
            // here, with the line, instead of treating it as part of the brace-less site.
            // Only once expanded: an unexpanded `{$VAR}` line can stand for anything.
            let second = seg.first().filter(|t| self.expanding && seg.block().is_some() && looks_like_address(&t.text));
            if let Some(t) = second {
                return Err(syntax(
                    t,
                    format!("{} looks like a second site, but the site before it is written without braces; put each site's directives in {{ ... }}", t.text),
                ));
            }
            body.push(seg);
        }
        Ok(ServerBlock { kind, keys, open: None, body, close: None })
    }

    /// Site addresses up to `{` or the end of the line (a trailing comma continues the list).
    fn keys(&mut self) -> Result<Vec<Token>, ParseError> {
        let mut keys = Vec::new();
        let mut expecting_another = false;
        while let Some(t) = self.peek() {
            if t.is_open_brace() {
                if expecting_another {
                    return Err(syntax(
                        t,
                        "expected another site address after ',' but found '{'; remove the extra comma".to_string(),
                    ));
                }
                break;
            }
            if !keys.is_empty() && !expecting_another && self.at_line_start() {
                break;
            }
            if t.text == "import" && self.at_import() && !keys.is_empty() {
                // Caddy splices an import inside a key list too.
                self.expand_import(0)?;
                continue;
            }
            if t.is_close_brace() {
                return Err(err(t, ErrorKind::UnmatchedClose));
            }
            if t.text.starts_with('@') {
                return Err(syntax(
                    t,
                    format!(
                        "request matchers may not be defined globally, they must be in a site block; found {}",
                        t.text
                    ),
                ));
            }
            if t.quote == super::lexer::Quote::None && t.text.ends_with('{') {
                return Err(err(t, ErrorKind::BraceNotAtEndOfLine));
            }
            let value = t.text.strip_suffix(',').unwrap_or(&t.text);
            if !t.text.is_empty() {
                expecting_another = t.text.ends_with(',');
            }
            if value.contains(',') {
                return Err(syntax(
                    t,
                    format!("site addresses cannot contain a comma: '{}'; put a space after the comma", t.text),
                ));
            }
            if let Some(tok) = self.bump() {
                keys.push(tok);
            }
        }
        if expecting_another && self.peek().is_none() {
            if let Some(last) = keys.last() {
                return Err(syntax(
                    last,
                    "the file ends after a ',' in the site addresses; add the address or remove the comma".to_string(),
                ));
            }
        }
        Ok(keys)
    }

    /// Segments until the `}` matching `open`, which is consumed and returned.
    fn body_until_close(&mut self, open: &Token) -> Result<(Vec<Segment>, Token), ParseError> {
        let mut body = Vec::new();
        loop {
            let Some(t) = self.peek() else {
                return Err(err(open, ErrorKind::UnclosedBrace));
            };
            if t.is_close_brace() {
                let Some(close) = self.bump() else { unreachable!("peeked a close brace") };
                return Ok((body, close));
            }
            if self.expanding && t.text == "import" {
                if let Some(segs) = self.expand_import(1)? {
                    body.extend(segs);
                }
                continue;
            }
            body.push(self.segment()?);
        }
    }

    /// Segments until the tokens run out: the body of a snippet expanded on its own (see
    /// `expand_import`). Its tokens are balanced, so a `}` here is an error.
    pub(super) fn body_to_end(&mut self) -> Result<Vec<Segment>, ParseError> {
        let mut body = Vec::new();
        while let Some(t) = self.peek() {
            if t.is_close_brace() {
                return Err(err(t, ErrorKind::UnmatchedClose));
            }
            if self.expanding && t.text == "import" {
                if let Some(segs) = self.expand_import(1)? {
                    body.extend(segs);
                }
                continue;
            }
            body.push(self.segment()?);
        }
        Ok(body)
    }

    /// A directive line with the blocks it opens.
    fn segment(&mut self) -> Result<Segment, ParseError> {
        let Some(first) = self.bump() else { unreachable!("segment() is called with a token ahead") };
        if first.is_open_brace() {
            return Err(err(&first, ErrorKind::BraceOnNewLine));
        }
        let mut items = vec![Item::Token(first)];
        while let Some(t) = self.peek() {
            if self.at_line_start() || t.is_close_brace() {
                break;
            }
            let Some(tok) = self.bump() else { break };
            if tok.is_open_brace() {
                if let Some(next) = self.peek() {
                    if !tok.next_is_on_new_line(next) {
                        return Err(err(&tok, ErrorKind::BraceNotAtEndOfLine));
                    }
                }
                let (body, close) = self.body_until_close(&tok)?;
                items.push(Item::Block(Box::new(Block { open: tok, body, close })));
            } else {
                items.push(Item::Token(tok));
            }
        }
        Ok(Segment { items })
    }
}
