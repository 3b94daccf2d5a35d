//! Errors of reading a Caddyfile: what went wrong, in which file and on which line.

use crate::error::Location;

use super::lexer::{LexError, LexErrorKind};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {kind}")]
pub struct ParseError {
    pub location: Location,
    pub kind: ErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    #[error("unterminated quoted string; add the closing quote")]
    UnterminatedQuote,
    #[error("{0}")]
    Heredoc(String),
    #[error("'{{' opened here is never closed; add a matching '}}'")]
    UnclosedBrace,
    #[error("unexpected '}}' with no matching '{{'; remove it or open a block before it")]
    UnmatchedClose,
    #[error("'{{' must be the last token on its line; move what follows it to the next line")]
    BraceNotAtEndOfLine,
    #[error("'{{' cannot start a directive line; put it at the end of the line it belongs to")]
    BraceOnNewLine,
    #[error("import cycle: {from} imports {to}, which leads back to it; remove one of these imports")]
    ImportCycle { from: String, to: String },
    #[error("file to import not found: {0}; create it or correct the import path")]
    ImportNotFound(String),
    #[error("cannot read {path}: {message}")]
    Io { path: String, message: String },
    #[error("{0}")]
    Syntax(String),
}

impl ParseError {
    pub fn new(location: Location, kind: ErrorKind) -> Self {
        ParseError { location, kind }
    }
}

impl From<LexError> for ParseError {
    fn from(e: LexError) -> Self {
        let kind = match e.kind {
            LexErrorKind::UnterminatedQuote => ErrorKind::UnterminatedQuote,
            LexErrorKind::Heredoc => ErrorKind::Heredoc(e.message),
        };
        ParseError::new(e.location, kind)
    }
}
