//! Errors shared across modules.
use std::path::PathBuf;

/// A position in a file, for messages of the form `file:line:col`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Paths are UTF-8 in practice; `display()` is for the rest (and slower).
        match self.file.to_str() {
            Some(p) => f.write_str(p)?,
            None => write!(f, "{}", self.file.display())?,
        }
        if self.line == 0 {
            Ok(())
        } else if self.column > 0 {
            write!(f, ":{}:{}", self.line, self.column)
        } else {
            write!(f, ":{}", self.line)
        }
    }
}

/// 1-based line and column of a byte offset in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(before.len(), |i| before.len() - i - 1) + 1;
    (line, col)
}
