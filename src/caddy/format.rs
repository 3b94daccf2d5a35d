//! A formatter whose output is identical to `caddy fmt` of Caddy 2.6.2.
//!
//! Caddy 2.6.2 formats characters, not tokens: it does not know heredocs, backticks or quoted
//! braces, and later versions changed those cases. Matching 2.6.2 exactly matters because
//! `caddy adapt` warns "input is not formatted" when `fmt(x) != x`, and that is the Caddy the
//! servers we harden run.

/// State of the character scanner; each field mirrors one fact Caddy's formatter tracks.
struct Formatter {
    out: String,
    /// The last character written (NUL before any).
    last: char,
    nesting: usize,
    /// At the start of an output line (nothing but indentation may follow).
    line_start: bool,
}

impl Formatter {
    fn write(&mut self, ch: char) {
        self.out.push(ch);
        self.last = ch;
    }

    fn indent(&mut self) {
        for _ in 0..self.nesting {
            self.write('\t');
        }
    }

    fn newline(&mut self) {
        self.write('\n');
        self.line_start = true;
    }
}

/// Formats a Caddyfile as `caddy fmt` (2.6.2) does.
pub fn format(input: &str) -> String {
    let mut f = Formatter { out: String::with_capacity(input.len()), last: '\0', nesting: 0, line_start: true };
    // Whether the previous character was whitespace; the start of input counts as space.
    let mut space = true;
    // A `{` was seen and is either written already or waiting to see what follows it.
    let mut open_brace = false;
    let mut open_brace_written = false;
    // There was a space (not a line start) before that `{`.
    let mut open_brace_space = false;
    let mut newlines = 0usize;
    let (mut comment, mut quoted, mut escaped) = (false, false, false);

    for ch in input.trim().chars() {
        if comment {
            if ch == '\n' {
                comment = false;
                space = true;
                f.newline();
            } else {
                f.write(ch);
            }
            continue;
        }
        if !escaped && ch == '\\' {
            if space {
                f.write(' ');
                space = false;
            }
            f.write(ch);
            escaped = true;
            continue;
        }
        if escaped {
            f.write(ch);
            escaped = false;
            continue;
        }
        if quoted {
            if ch == '"' {
                quoted = false;
            }
            f.write(ch);
            continue;
        }
        if space && ch == '"' {
            quoted = true;
        }
        if ch.is_whitespace() {
            space = true;
            if ch == '\n' {
                newlines += 1;
            }
            continue;
        }
        let space_prior = space;
        space = false;

        if ch == '#' {
            comment = true;
        }

        // A `{` followed by whitespace opens a block: write it now, on the line it ends.
        if open_brace && space_prior && !open_brace_written {
            if f.nesting == 0 && f.last == '}' {
                f.newline();
                f.newline();
            }
            open_brace = false;
            if f.line_start {
                f.indent();
            } else if !open_brace_space {
                f.write(' ');
            }
            f.write('{');
            open_brace_written = true;
            f.newline();
            newlines = 0;
            // Caddy caps indentation at ten levels.
            if f.nesting < 10 {
                f.nesting += 1;
            }
        }

        if ch == '{' {
            open_brace = true;
            open_brace_written = false;
            open_brace_space = space_prior && !f.line_start;
            if open_brace_space {
                f.write(' ');
            }
            continue;
        }
        if ch == '}' && (space_prior || !open_brace) {
            if f.last != '\n' {
                f.newline();
            }
            f.nesting = f.nesting.saturating_sub(1);
            f.indent();
            f.write('}');
            newlines = 0;
            continue;
        }

        // Keep at most one blank line.
        for _ in 0..newlines.min(2) {
            f.newline();
        }
        newlines = 0;
        if f.line_start {
            f.indent();
        }
        if f.nesting == 0 && f.last == '}' && f.line_start {
            f.newline();
            f.newline();
        }
        if !f.line_start && space_prior {
            f.write(' ');
        }
        // A `{` glued to this character was part of a token like `{host}`.
        if open_brace && !open_brace_written {
            f.write('{');
            open_brace_written = true;
        }
        f.write(ch);
        f.line_start = false;
    }

    let mut result = f.out.trim().to_string();
    result.push('\n');
    result
}

/// Whether the text is exactly what `caddy fmt` (2.6.2) prints.
pub fn is_formatted(input: &str) -> bool {
    format(input) == input
}

/// Whether `caddy adapt` (2.6.2) takes the text for formatted: it compares with CRLF line ends
/// read as LF, so a CRLF file laid out as `caddy fmt` would lay it out gets no warning
/// (checked with the installed caddy: lone LF lines in a CRLF file do not count either).
pub fn adapts_as_formatted(input: &str) -> bool {
    if input.contains('\r') {
        let lf = input.replace("\r\n", "\n");
        format(&lf) == lf
    } else {
        is_formatted(input)
    }
}

/// [`format`] that keeps the file's line ends: an LF file is formatted as it is, a CRLF file as
/// LF and then CRLF again, and one that mixes them is returned unchanged (formatting would
/// change the ends of lines it does not otherwise touch).
pub fn format_keeping_line_ends(input: &str) -> String {
    let crlf = input.matches("\r\n").count();
    if crlf == 0 {
        format(input)
    } else if crlf == input.matches('\n').count() {
        format(&input.replace("\r\n", "\n")).replace('\n', "\r\n")
    } else {
        input.to_string()
    }
}
