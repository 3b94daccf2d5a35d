//! Text edits on one Caddyfile: byte-range splices computed from the lossless tree, so every
//! byte outside an edited range is written back as it was, where inserted lines go, and the
//! managed snippet text.
use std::collections::BTreeMap;
use std::ops::Range;

use super::tree::ServerBlock;

/// Prefix of every snippet harden manages; anything else in the file belongs to the user.
pub const SNIPPET_PREFIX: &str = "harden_security_headers";

/// One replacement of `range` by `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Splice {
    pub range: Range<usize>,
    pub text: String,
}

/// Applies non-overlapping splices (in any order) to `src`.
pub fn apply(src: &str, splices: &[Splice]) -> Result<String, String> {
    apply_with_joins(src, splices).map(|(out, _)| out)
}

/// [`apply`], plus the offsets in the result where a removal closed up the text around it.
pub fn apply_with_joins(src: &str, splices: &[Splice]) -> Result<(String, Vec<usize>), String> {
    let mut sorted: Vec<&Splice> = splices.iter().collect();
    sorted.sort_by_key(|s| (s.range.start, s.range.end));
    let mut out = String::with_capacity(src.len() + 256);
    let mut joins = Vec::new();
    let mut at = 0;
    for s in sorted {
        if s.range.start < at {
            return Err(format!("overlapping edits at byte {}", s.range.start));
        }
        out.push_str(&src[at..s.range.start]);
        out.push_str(&s.text);
        if s.text.is_empty() && !s.range.is_empty() {
            joins.push(out.len());
        }
        at = s.range.end;
    }
    out.push_str(&src[at..]);
    Ok((out, joins))
}

/// Whether `caddy fmt` could change `text`, a formatted file after splices whose removals
/// closed up at `joins`. Removed lines are whole segments, so the lines left keep their
/// nesting and indentation; only the lines meeting at a join can break fmt's rules (a blank
/// line doubled, or left at the start or end of a block or file, an emptied block). Anything
/// other than two ordinary lines meeting at a line start counts as a possible change.
pub fn fmt_may_change(text: &str, joins: &[usize]) -> bool {
    joins.iter().any(|&p| {
        if p == 0 || p >= text.len() || text.as_bytes()[p - 1] != b'\n' {
            return true;
        }
        let before = text[..p - 1].rsplit('\n').next().unwrap_or("").trim();
        let after = text[p..].split('\n').next().unwrap_or("").trim();
        before.is_empty() || after.is_empty() || before.ends_with('{') && after.starts_with('}')
    })
}

/// The whole lines that `span` occupies: from the start of its first line (when only
/// whitespace precedes it) through the newline that ends its last line, trailing comment
/// included, since a comment on a removed line speaks about that line.
pub fn line_range(src: &str, span: Range<usize>) -> Range<usize> {
    let line_start = src[..span.start].rfind('\n').map_or(0, |i| i + 1);
    let start = if src[line_start..span.start].trim().is_empty() { line_start } else { span.start };
    let end = src[span.end..].find('\n').map_or(src.len(), |i| span.end + i + 1);
    start..end
}

/// Like [`line_range`], plus one blank line after it, for top-level blocks that `caddy fmt`
/// separates with a blank line.
pub fn block_range(src: &str, span: Range<usize>) -> Range<usize> {
    let r = line_range(src, span);
    let blank = ["\n", "\r\n"].into_iter().find(|nl| src[r.end..].starts_with(nl));
    let end = r.end + blank.map_or(0, str::len);
    r.start..end
}

/// A header value as one Caddyfile token: bare when that is unambiguous, else double-quoted
/// (inside double quotes only `\"` is an escape).
pub fn quote(v: &str) -> String {
    let plain = !v.is_empty()
        && !v.contains(|c: char| c.is_whitespace() || c == '"' || c == '`' || c == '{' || c == '}' || c == '\\')
        && !v.starts_with(['#', '<']);
    if plain {
        v.to_string()
    } else {
        format!("\"{}\"", v.replace('"', "\\\""))
    }
}

/// The managed snippet: one deferred `header` block, so its values are applied when the
/// response is written, after `reverse_proxy` copied the upstream's headers, and win.
pub fn snippet(name: &str, set: &BTreeMap<String, String>, remove: &[String]) -> String {
    let mut s = format!(
        "({name}) {{\n\t# Managed by harden: changes here are overwritten; edit the profile instead.\n\theader {{\n"
    );
    for (k, v) in set {
        s += &format!("\t\t{k} {}\n", quote(v));
    }
    for r in remove {
        s += &format!("\t\t-{r}\n");
    }
    s += "\t\tdefer\n\t}\n}";
    s
}

/// A snippet name from a site address: letters and digits kept, the rest `_`. Addresses such
/// as `a-b.example.com` and `a_b.example.com` read alike, so when the readable name is `taken`
/// already the first 8 hex digits of the exact address's sha256 are added: the same sites in
/// the same order get the same names in every plan.
pub fn snippet_name_for(address: &str, taken: impl Fn(&str) -> bool) -> String {
    let tail: String =
        address.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    let name = format!("{SNIPPET_PREFIX}_{}", tail.trim_matches('_'));
    if !taken(&name) {
        return name;
    }
    format!("{name}_{}", &crate::system::sha256_hex(address.as_bytes())[..8])
}

/// Where to insert after a token: before the `\r` a CRLF line leaves at the token's end.
pub fn end_before_cr(src: &str, end: usize) -> usize {
    if src[..end].ends_with('\r') {
        end - 1
    } else {
        end
    }
}

/// The indentation of a block's first line; `default` when there is none to copy.
pub fn indent_of(block: &ServerBlock, default: &str) -> String {
    let Some(first) = block.body.first().and_then(|s| s.first()) else { return default.into() };
    let text = first.leading.as_str();
    let tail = text.rsplit('\n').next().unwrap_or("");
    if tail.is_empty() || !tail.trim().is_empty() {
        default.into()
    } else {
        tail.to_string()
    }
}

/// The line ends a file uses; new lines follow them (CRLF files stay CRLF).
pub fn line_end_of(src: &str) -> &'static str {
    if src.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    }
}

/// Where an `import` line goes: after the site's `{`, or, in the brace-less single-site form,
/// at the end of the address line (a comment there stays with the address).
pub fn import_at(src: &str, m: &ServerBlock) -> (usize, String) {
    match (&m.open, m.keys.last()) {
        (Some(open), _) => (end_before_cr(src, open.span.end), indent_of(m, "\t")),
        (None, Some(k)) => {
            let eol = src[k.span.end..].find('\n').map_or(src.len(), |i| k.span.end + i);
            (end_before_cr(src, eol), indent_of(m, ""))
        }
        (None, None) => (0, String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splices_and_line_ranges() {
        let src = "a {\n\tb x # note\n\tc\n}\n";
        let b = src.find('b').unwrap();
        let r = line_range(src, b..b + 3);
        assert_eq!(&src[r.clone()], "\tb x # note\n");
        assert_eq!(apply(src, &[Splice { range: r, text: String::new() }]).unwrap(), "a {\n\tc\n}\n");
        assert!(
            apply(src, &[Splice { range: 0..3, text: "x".into() }, Splice { range: 2..4, text: "y".into() }]).is_err()
        );
    }

    #[test]
    fn fmt_is_needed_only_where_removals_meet_blank_lines_or_close_a_block() {
        let fmt_clean = |src: &str, removed: &str| {
            let at = src.find(removed).unwrap();
            let (out, joins) =
                apply_with_joins(src, &[Splice { range: at..at + removed.len(), text: String::new() }]).unwrap();
            let may = fmt_may_change(&out, &joins);
            // Whenever it says no change is possible, the formatter agrees.
            if !may {
                assert_eq!(super::super::format::format(&out), out, "{out:?}");
            }
            may
        };
        assert!(!fmt_clean("a {\n\tb\n\tc\n\td\n}\n", "\tc\n"));
        assert!(!fmt_clean("a {\n\tb\n\tc\n}\n", "\tb\n"));
        assert!(fmt_clean("a {\n\tb\n\n\tc\n\n\td\n}\n", "\tc\n"), "two blank lines meet");
        assert!(fmt_clean("a {\n\tb\n\n\tc\n}\n", "\tc\n"), "blank line before the close");
        assert!(fmt_clean("a {\n\tb\n}\n", "\tb\n"), "emptied block");
        assert!(fmt_clean("a {\n\tb x\n}\n", " x"), "inside a line");
        assert!(fmt_clean("a\nb\n", "b\n"), "end of file");
    }

    #[test]
    fn quotes_values_that_need_it() {
        assert_eq!(quote("nosniff"), "nosniff");
        assert_eq!(quote("max-age=1; includeSubDomains"), "\"max-age=1; includeSubDomains\"");
        assert_eq!(quote("a\"b"), "\"a\\\"b\"");
        assert_eq!(quote("#x"), "\"#x\"");
        assert_eq!(
            snippet_name_for("https://odoo.example.com:443", |_| false),
            "harden_security_headers_https___odoo_example_com_443"
        );
        let a = snippet_name_for("a-b.example.com", |_| false);
        let b = snippet_name_for("a_b.example.com", |n| n == a);
        assert_eq!(a, "harden_security_headers_a_b_example_com");
        assert!(b.starts_with(&format!("{a}_")) && b.len() == a.len() + 9, "{b}");
        assert_eq!(b, snippet_name_for("a_b.example.com", |n| n == a), "stable");
    }
}
