//! The Caddyfile: lossless lexing, parsing with imports, and `caddy fmt`-identical formatting.
pub mod lexer;

pub use lexer::{substitute_env, tokenize, LexError, Lexed, Quote, Token, Trivia, TriviaKind};
