//! Lossless Caddyfile lexer.
//!
//! Token values follow Caddy's lexer (2.6 to 2.11): whitespace separates tokens, `#` starts a
//! comment only where a token could start, double quotes escape only `\"`, backticks are literal,
//! heredocs `<<MARKER` (2.7+), backslash-newline continues a line, a BOM is dropped and `\r` is
//! ignored. Unlike Caddy, every byte of the input is kept: each token carries its raw text and the
//! trivia (spaces, newlines, comments, continuations) that precede it, so concatenating
//! [`Lexed::to_source`] gives the input back byte for byte.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use compact_str::CompactString;

use crate::error::Location;

/// How a token was written; quoting decides whether `{` and `}` are structural.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quote {
    None,
    Double,
    Backtick,
    Heredoc,
}

/// What a piece of non-token text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriviaKind {
    /// Spaces, tabs, `\r` and other non-newline whitespace.
    Space,
    Newline,
    /// `#` to the end of the line, without the newline.
    Comment,
    /// A backslash before a newline (the newline is a separate piece).
    Continuation,
    /// The byte order mark at the start of the file.
    Bom,
    /// Anything else between tokens (a stray backslash before whitespace).
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trivia {
    pub kind: TriviaKind,
    pub text: String,
    pub span: Range<usize>,
}

/// One token: its value as Caddy sees it, its raw bytes, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The value after unquoting (what Caddy's `Token.Text` holds).
    pub text: CompactString,
    /// The bytes of the token in the source, quotes and heredoc markers included.
    pub raw: CompactString,
    /// Byte range of `raw` in the source file.
    pub span: Range<usize>,
    /// 1-based line where the token starts, counted as Caddy counts it.
    pub line: usize,
    pub quote: Quote,
    pub heredoc_marker: Option<String>,
    /// The text between the previous token (or the start of the file) and this one: spaces,
    /// newlines, comments, continuations. Kept whole (inline when short) so a token costs no
    /// allocation in the common case; [`Token::trivia`] splits it into pieces.
    pub leading: CompactString,
    /// The file the token was read from.
    pub file: Arc<Path>,
    /// Set on tokens copied out of a snippet definition, to name import-graph nodes.
    pub snippet: Option<Arc<str>>,
    /// Tokens with different origins are never on the same line (each import splice gets a
    /// fresh origin), mirroring Caddy's comparison of file and import chain.
    pub origin: u32,
}

impl Token {
    /// The leading text split into trivia pieces, with their byte spans in the source.
    pub fn trivia(&self) -> Vec<Trivia> {
        split_trivia(&self.leading, self.span.start - self.leading.len())
    }

    pub fn is_open_brace(&self) -> bool {
        self.quote == Quote::None && self.text == "{"
    }

    pub fn is_close_brace(&self) -> bool {
        self.quote == Quote::None && self.text == "}"
    }

    pub fn location(&self) -> Location {
        Location { file: self.file.to_path_buf(), line: self.line, column: 0 }
    }

    /// Line breaks the token itself spans, as Caddy counts them for "is next on a new line".
    pub fn line_breaks(&self) -> usize {
        let n = self.text.matches('\n').count();
        if self.quote == Quote::Heredoc {
            // The opening marker line and the stripped final newline are not in `text`.
            n + 2
        } else {
            n
        }
    }

    /// Whether `next` starts on a later line than this token ends.
    pub fn next_is_on_new_line(&self, next: &Token) -> bool {
        self.end().next_is_on_new_line(next)
    }

    /// Where the token ends, which is all the parser keeps of the token it read last.
    pub fn end(&self) -> TokenEnd {
        TokenEnd { origin: self.origin, file: self.file.clone(), line: self.line + self.line_breaks() }
    }
}

/// The end of a token: enough to tell whether the next token starts a new line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenEnd {
    origin: u32,
    file: Arc<Path>,
    line: usize,
}

impl TokenEnd {
    pub fn next_is_on_new_line(&self, next: &Token) -> bool {
        if self.origin != next.origin || !(Arc::ptr_eq(&self.file, &next.file) || self.file == next.file) {
            return true;
        }
        self.line < next.line
    }
}

/// The result of lexing one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lexed {
    pub tokens: Vec<Token>,
    /// Trivia after the last token.
    pub trailing: Vec<Trivia>,
}

impl Lexed {
    /// The exact input text.
    pub fn to_source(&self) -> String {
        let mut out = String::new();
        for t in &self.tokens {
            out.push_str(&t.leading);
            out.push_str(&t.raw);
        }
        push_trivia(&mut out, &self.trailing);
        out
    }
}

pub(crate) fn push_trivia(out: &mut String, trivia: &[Trivia]) {
    for t in trivia {
        out.push_str(&t.text);
    }
}

/// A lexing error, with the line Caddy would report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct LexError {
    pub location: Location,
    pub kind: LexErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LexErrorKind {
    UnterminatedQuote,
    Heredoc,
}

/// Substitutes `{$VAR}` and `{$VAR:default}` on raw text, as Caddy does before lexing: also
/// inside quotes and comments, and without rescanning substituted values. An unset variable
/// without default becomes the empty string.
pub fn substitute_env(input: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(begin) = rest.find("{$") {
        let after = &rest[begin + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        out.push_str(&rest[..begin]);
        if name.is_empty() {
            out.push_str("{$}");
        } else {
            let (var, default) = match name.split_once(':') {
                Some((v, d)) => (v, Some(d)),
                None => (name, None),
            };
            let value = lookup(var).or_else(|| default.map(str::to_string));
            out.push_str(&value.unwrap_or_default());
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Splits `gap`, which starts at byte `base` of the file, into trivia pieces.
pub(crate) fn split_trivia(gap: &str, base: usize) -> Vec<Trivia> {
    let mut out = Vec::new();
    let mut i = 0;
    let bytes = gap.as_bytes();
    while i < gap.len() {
        let start = i;
        let kind = if base + i == 0 && gap.starts_with('\u{feff}') {
            i += '\u{feff}'.len_utf8();
            TriviaKind::Bom
        } else if bytes[i] == b'\n' {
            i += 1;
            TriviaKind::Newline
        } else if bytes[i] == b'#' {
            i = gap[i..].find('\n').map_or(gap.len(), |n| i + n);
            // A Windows line ending's `\r` belongs with the newline, not the comment.
            if gap[start..i].ends_with('\r') {
                i -= 1;
            }
            TriviaKind::Comment
        } else if bytes[i] == b'\\' {
            i += 1;
            if gap[i..].trim_start_matches('\r').starts_with('\n') {
                TriviaKind::Continuation
            } else {
                TriviaKind::Other
            }
        } else {
            let run: usize = gap[i..].chars().take_while(|c| c.is_whitespace() && *c != '\n').map(char::len_utf8).sum();
            if run > 0 {
                i += run;
                TriviaKind::Space
            } else {
                // Not whitespace and not a known piece: keep it as one char.
                i += gap[i..].chars().next().map_or(1, char::len_utf8);
                TriviaKind::Other
            }
        };
        out.push(Trivia { kind, text: gap[start..i].to_string(), span: base + start..base + i });
    }
    out
}

/// The offset of the next `\n` at or after `from`, or the end.
fn memchr_newline(bytes: &[u8], from: usize) -> usize {
    bytes[from..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |n| from + n)
}

/// Lexes one file; `file` names the tokens' origin in errors and import resolution.
pub fn tokenize(input: &str, file: &Path) -> Result<Lexed, LexError> {
    Lexer::new(input, Arc::from(file)).run()
}

struct Lexer<'a> {
    src: &'a str,
    /// Byte offset of the next char.
    pos: usize,
    line: usize,
    skipped: usize,
    file: Arc<Path>,
    /// End byte of the last token; trivia starts here.
    gap_start: usize,
}

fn is_marker(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl<'a> Lexer<'a> {
    fn new(src: &'a str, file: Arc<Path>) -> Self {
        Lexer { src, pos: 0, line: 1, skipped: 0, file, gap_start: 0 }
    }

    fn err(&self, line: usize, message: String) -> LexError {
        let kind =
            if message.starts_with("unterminated") { LexErrorKind::UnterminatedQuote } else { LexErrorKind::Heredoc };
        LexError { kind, location: Location { file: self.file.to_path_buf(), line, column: 0 }, message }
    }

    fn run(mut self) -> Result<Lexed, LexError> {
        let mut tokens = Vec::new();
        if self.src.starts_with('\u{feff}') {
            self.pos = '\u{feff}'.len_utf8();
        }
        while let Some(tok) = self.next_token()? {
            tokens.push(tok);
        }
        let trailing = split_trivia(&self.src[self.gap_start..], self.gap_start);
        Ok(Lexed { tokens, trailing })
    }

    /// One token. Plain tokens (ASCII, no quote, escape or heredoc) take a byte-scanning fast
    /// path; anything else goes through the full state machine.
    fn next_token(&mut self) -> Result<Option<Token>, LexError> {
        self.skip_plain_trivia();
        if let Some(tok) = self.plain_token() {
            return Ok(Some(tok));
        }
        self.next_token_slow()
    }

    /// Skips ASCII spaces, newlines and comments before a token, counting lines as the state
    /// machine does; stops at anything else (including a backslash or non-ASCII space).
    fn skip_plain_trivia(&mut self) {
        let bytes = self.src.as_bytes();
        while let Some(&b) = bytes.get(self.pos) {
            match b {
                b' ' | b'\t' | b'\r' | b'\x0b' | b'\x0c' => self.pos += 1,
                b'\n' => {
                    self.line += 1 + self.skipped;
                    self.skipped = 0;
                    self.pos += 1;
                }
                b'#' => self.pos = memchr_newline(bytes, self.pos),
                _ => return,
            }
        }
    }

    /// A token of ASCII bytes that are not whitespace, `\`, and do not start with a quote,
    /// backtick or `<`, ended by whitespace or the end of input: its text is its raw bytes.
    fn plain_token(&mut self) -> Option<Token> {
        let bytes = self.src.as_bytes();
        let start = self.pos;
        let first = *bytes.get(start)?;
        if matches!(first, b'"' | b'`' | b'<' | b'\\' | b'#') || !first.is_ascii() {
            return None;
        }
        let mut end = start;
        while let Some(&b) = bytes.get(end) {
            // Caddy drops a `\r` inside a token rather than ending it: the state machine's case.
            if b == b'\\' || b == b'\r' || !b.is_ascii() {
                return None;
            }
            if b.is_ascii_whitespace() || b == b'\x0b' {
                break;
            }
            end += 1;
        }
        self.pos = end;
        let text = CompactString::from(&self.src[start..end]);
        Some(self.make(Some(start), end, text, self.line, Quote::None, None))
    }

    /// One token, mirroring Caddy's `lexer.next` state machine.
    fn next_token_slow(&mut self) -> Result<Option<Token>, LexError> {
        let mut val = String::new();
        let mut val_len = 0usize; // in chars, for the `<<` checks
        let (mut comment, mut quoted, mut bt_quoted) = (false, false, false);
        let (mut in_heredoc, mut heredoc_escaped, mut escaped) = (false, false, false);
        let mut escape_at = 0usize; // byte offset of the pending backslash
        let mut marker = String::new();
        let mut start: Option<usize> = None;
        let mut tok_line = self.line;

        loop {
            let off = self.pos;
            let Some(ch) = self.src[off..].chars().next() else {
                if quoted || bt_quoted {
                    return Err(self.err(tok_line, "unterminated quoted string; add the closing quote".to_string()));
                }
                if in_heredoc {
                    return Err(self.err(
                        self.line + self.skipped,
                        format!(
                            "incomplete heredoc <<{marker} on line #{}, expected ending marker {marker}",
                            self.line + self.skipped
                        ),
                    ));
                }
                if val_len > 0 {
                    return Ok(Some(self.make(start, self.src.len(), val, tok_line, Quote::None, None)));
                }
                return Ok(None);
            };
            self.pos += ch.len_utf8();
            let next_off = self.pos;

            if !quoted && !bt_quoted && !in_heredoc && !heredoc_escaped && val_len > 1 && val.starts_with("<<") {
                if ch == ' ' {
                    return Ok(Some(self.make(start, off, val, tok_line, Quote::None, None)));
                }
                if ch == '\r' {
                    continue;
                }
                if ch == '\n' {
                    if val_len == 2 {
                        return Err(self.err(self.line, format!("missing opening heredoc marker on line #{}; must contain only alphanumeric characters, dashes and underscores; got empty string", self.line)));
                    }
                    if val.starts_with("<<<") {
                        return Err(self.err(
                            self.line,
                            format!("too many '<' for heredoc on line #{}; only use two, for example <<END", self.line),
                        ));
                    }
                    marker = val[2..].to_string();
                    if !is_marker(&marker) {
                        return Err(self.err(self.line, format!("heredoc marker on line #{} must contain only alphanumeric characters, dashes and underscores; got '{marker}'", self.line)));
                    }
                    in_heredoc = true;
                    self.skipped += 1;
                    val.clear();
                    val_len = 0;
                    continue;
                }
                val.push(ch);
                val_len += 1;
                continue;
            }

            if in_heredoc {
                val.push(ch);
                val_len += 1;
                if ch == '\n' {
                    self.skipped += 1;
                }
                if val.ends_with(marker.as_str()) {
                    let text = self.finish_heredoc(&val, &marker)?;
                    self.line += self.skipped;
                    self.skipped = 0;
                    let m = Some(marker);
                    return Ok(Some(self.make(start, next_off, text, tok_line, Quote::Heredoc, m)));
                }
                continue;
            }

            if !escaped && !bt_quoted && ch == '\\' {
                escaped = true;
                escape_at = off;
                continue;
            }

            if quoted || bt_quoted {
                if quoted && escaped {
                    if ch != '"' {
                        val.push('\\');
                    }
                    escaped = false;
                } else if (quoted && ch == '"') || (bt_quoted && ch == '`') {
                    let q = if quoted { Quote::Double } else { Quote::Backtick };
                    return Ok(Some(self.make(start, next_off, val, tok_line, q, None)));
                }
                if ch == '\n' {
                    self.line += 1 + self.skipped;
                    self.skipped = 0;
                }
                val.push(ch);
                val_len += 1;
                continue;
            }

            if ch.is_whitespace() {
                if ch == '\r' {
                    continue;
                }
                if ch == '\n' {
                    if escaped {
                        self.skipped += 1;
                        escaped = false;
                    } else {
                        self.line += 1 + self.skipped;
                        self.skipped = 0;
                    }
                    comment = false;
                }
                if val_len > 0 {
                    return Ok(Some(self.make(start, off, val, tok_line, Quote::None, None)));
                }
                continue;
            }

            if ch == '#' && val_len == 0 {
                comment = true;
            }
            if comment {
                continue;
            }

            if val_len == 0 && start.is_none() {
                tok_line = self.line;
                start = Some(if escaped { escape_at } else { off });
                if ch == '"' {
                    quoted = true;
                    continue;
                }
                if ch == '`' {
                    bt_quoted = true;
                    continue;
                }
            }

            if escaped {
                // `\<<` is an escaped heredoc start: a plain token.
                if ch == '<' {
                    heredoc_escaped = true;
                } else {
                    val.push('\\');
                    val_len += 1;
                }
                escaped = false;
            }
            val.push(ch);
            val_len += 1;
        }
    }

    fn make(
        &mut self,
        start: Option<usize>,
        end: usize,
        text: impl Into<CompactString>,
        line: usize,
        quote: Quote,
        heredoc_marker: Option<String>,
    ) -> Token {
        let start = start.unwrap_or(end);
        let leading = CompactString::from(&self.src[self.gap_start..start]);
        self.gap_start = end;
        Token {
            text: text.into(),
            raw: CompactString::from(&self.src[start..end]),
            span: start..end,
            line,
            quote,
            heredoc_marker,
            leading,
            file: self.file.clone(),
            snippet: None,
            origin: 0,
        }
    }

    /// Strips the closing marker's indentation from every heredoc line, as Caddy does.
    fn finish_heredoc(&self, val: &str, marker: &str) -> Result<String, LexError> {
        let last_nl = val.rfind('\n');
        let (body, pad) = match last_nl {
            Some(n) => (&val[..n + 1], &val[n + 1..val.len() - marker.len()]),
            None => ("", &val[..val.len() - marker.len()]),
        };
        let lines: Vec<&str> = body.split('\n').collect();
        let mut out = String::new();
        for (i, line) in lines[..lines.len() - 1].iter().enumerate() {
            if line.is_empty() || *line == "\r" {
                out.push('\n');
                continue;
            }
            let Some(rest) = line.strip_prefix(pad) else {
                let shown = line.trim_end_matches(['\r', '\n']);
                return Err(self.err(
                    self.line + i + 1,
                    format!("mismatched leading whitespace in heredoc <<{marker} on line #{} [{shown}], expected whitespace [{pad}] to match the closing marker", self.line + i + 1),
                ));
            };
            out.push_str(&rest.replace('\r', ""));
            out.push('\n');
        }
        if out.ends_with('\n') {
            out.pop();
        }
        Ok(out)
    }
}
