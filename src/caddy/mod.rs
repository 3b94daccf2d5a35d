//! The Caddyfile (lossless lexing, parsing with imports, `caddy fmt`-identical formatting) and
//! the Caddy security-headers resource (spec, plan, apply, show).
pub mod apply;
pub mod edit;
pub mod error;
pub mod files;
pub mod format;
pub mod headers;
pub mod import;
pub mod lexer;
pub mod par;
pub mod parser;
pub mod plan;
pub mod show;
pub mod site;
pub mod spec;
mod split;
pub mod traps;
pub mod tree;
pub mod version;

pub use error::{ErrorKind, ParseError};
pub use import::{expand_str, load, Loaded};
pub use lexer::{substitute_env, tokenize, LexError, LexErrorKind, Lexed, Quote, Token, Trivia, TriviaKind};
pub use parser::{parse_fragment, parse_str};
pub use tree::{Block, BlockKind, Document, Item, Segment, ServerBlock};
