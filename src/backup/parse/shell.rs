//! Shell-style word splitting, enough for env values, systemd `Environment=` and
//! `ExecStart=` lines and borgmatic/restic password commands.

/// Why a line could not be split; the column is 1-based within the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitError {
    pub column: usize,
    pub what: &'static str,
}

/// Split `s` into words: whitespace separates, `'...'` is literal, `"..."` allows
/// `\"`, `\\`, `\$`; a backslash outside quotes escapes the next character.
pub fn split_words(s: &str) -> Result<Vec<String>, SplitError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some((_, '\'')) => break,
                        Some((_, ch)) => cur.push(ch),
                        None => return Err(unterminated(i, "single")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, ch @ ('"' | '\\' | '$' | '`'))) => cur.push(ch),
                            Some((_, ch)) => {
                                cur.push('\\');
                                cur.push(ch);
                            }
                            None => return Err(unterminated(i, "double")),
                        },
                        Some((_, ch)) => cur.push(ch),
                        None => return Err(unterminated(i, "double")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some((_, ch)) = chars.next() {
                    cur.push(ch);
                }
            }
            _ => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

fn unterminated(byte: usize, kind: &'static str) -> SplitError {
    SplitError {
        column: byte + 1,
        what: if kind == "single" { "unterminated single quote" } else { "unterminated double quote" },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_quotes_and_escapes() {
        assert_eq!(split_words(r#"a 'b c' "d \"e\"" f\ g"#).unwrap(), vec!["a", "b c", "d \"e\"", "f g"]);
        assert_eq!(split_words("x 'y").unwrap_err().column, 3);
        assert_eq!(split_words("").unwrap(), Vec::<String>::new());
    }
}
