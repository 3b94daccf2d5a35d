//! The Caddyfile: lossless lexing, parsing with imports, and `caddy fmt`-identical formatting.
pub mod error;
pub mod format;
pub mod headers;
pub mod import;
pub mod lexer;
pub mod parser;
pub mod tree;

pub use error::{ErrorKind, ParseError};
pub use import::{expand_str, load, Loaded};
pub use lexer::{substitute_env, tokenize, LexError, LexErrorKind, Lexed, Quote, Token, Trivia, TriviaKind};
pub use parser::{parse_fragment, parse_str};
pub use tree::{Block, BlockKind, Document, Item, Segment, ServerBlock};
