//! A YAML tree that keeps the line of every node (yaml-rust2 events + markers), so the
//! declared model can say `file:line` and syntax errors point at the right place.
use crate::backup::error::{BackupError, Result};
use std::collections::HashMap;
use std::path::Path;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    /// A scalar as written; `quoted` scalars are never null/bool.
    Str {
        text: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    /// 1-based line of the node's first character.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

impl Node {
    /// The value for `key` in a mapping; falls back to `<<:` merge keys.
    pub fn get(&self, key: &str) -> Option<&Node> {
        let Value::Map(entries) = &self.value else {
            return None;
        };
        if let Some((_, v)) = entries.iter().find(|(k, _)| k.as_str() == Some(key)) {
            return Some(v);
        }
        entries.iter().filter(|(k, _)| k.as_str() == Some("<<")).find_map(|(_, v)| v.get(key))
    }

    /// A scalar's text (null gives `None`).
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str { text, .. } => Some(text),
            _ => None,
        }
    }

    pub fn entries(&self) -> &[(Node, Node)] {
        match &self.value {
            Value::Map(e) => e,
            _ => &[],
        }
    }

    pub fn items(&self) -> &[Node] {
        match &self.value {
            Value::Seq(s) => s,
            _ => &[],
        }
    }

    pub fn is_map(&self) -> bool {
        matches!(self.value, Value::Map(_))
    }
}

enum Frame {
    Seq(Node, usize),
    /// mapping node, anchor, pending key
    Map(Node, usize, Option<Node>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    doc: Option<Node>,
    docs_done: usize,
    /// first problem found while building (duplicate key)
    problem: Option<(usize, usize, String)>,
}

impl Builder {
    fn push_value(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                if self.docs_done == 0 && self.doc.is_none() {
                    self.doc = Some(node);
                }
            }
            Some(Frame::Seq(seq, _)) => {
                if let Value::Seq(v) = &mut seq.value {
                    v.push(node);
                }
            }
            Some(Frame::Map(map, _, pending)) => match pending.take() {
                None => *pending = Some(node),
                Some(key) => {
                    if let Value::Map(v) = &mut map.value {
                        let dup = key.as_str().is_some()
                            && v.iter().any(|(k, _)| k.as_str() == key.as_str() && key.as_str() != Some("<<"));
                        if dup && self.problem.is_none() {
                            let name = key.as_str().unwrap_or_default().to_string();
                            self.problem = Some((key.line, key.col, format!("duplicate key {name:?}")));
                        }
                        v.push((key, node));
                    }
                }
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let (line, col) = (mark.line(), mark.col() + 1);
        match ev {
            Event::Scalar(text, style, anchor, _tag) => {
                let quoted = style != TScalarStyle::Plain;
                let null = !quoted && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL");
                let value = if null { Value::Null } else { Value::Str { text, quoted } };
                self.push_value(Node { value, line, col }, anchor);
            }
            Event::SequenceStart(anchor, _) => {
                self.stack.push(Frame::Seq(Node { value: Value::Seq(Vec::new()), line, col }, anchor))
            }
            Event::MappingStart(anchor, _) => {
                self.stack.push(Frame::Map(Node { value: Value::Map(Vec::new()), line, col }, anchor, None))
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(Frame::Seq(n, a) | Frame::Map(n, a, _)) = self.stack.pop() {
                    self.push_value(n, a);
                }
            }
            Event::Alias(id) => {
                let node = self.anchors.get(&id).cloned().unwrap_or(Node { value: Value::Null, line, col });
                self.push_value(node, 0);
            }
            Event::DocumentEnd => self.docs_done += 1,
            _ => {}
        }
    }
}

/// Parse the first document of `text`; an empty file gives `Ok(None)`.
pub fn parse_yaml(file: &Path, text: &str) -> Result<Option<Node>> {
    let mut b = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut b, false).map_err(|e| {
        let m = e.marker();
        BackupError::syntax(
            file,
            m.line(),
            m.col() + 1,
            format!("invalid YAML: {}", e.info()),
            "fix the YAML syntax at this position (indentation, quotes, ':' after keys)",
        )
    })?;
    if let Some((line, col, what)) = b.problem {
        return Err(BackupError::syntax(
            file,
            line,
            col,
            what,
            "remove one of the duplicate keys; the tool would reject or silently pick one",
        ));
    }
    Ok(b.doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_lines_and_resolves_aliases() {
        let text = "a:\n  b: 'x'\n  c: &anc\n    - 1\n    - ~\nd: *anc\n";
        let n = parse_yaml(Path::new("/f.yaml"), text).unwrap().unwrap();
        let b = n.get("a").unwrap().get("b").unwrap();
        assert_eq!((b.as_str(), b.line), (Some("x"), 2));
        assert_eq!(n.get("d").unwrap().items().len(), 2);
        assert_eq!(n.get("a").unwrap().get("c").unwrap().items()[1].value, Value::Null);
        assert_eq!(n.get("d").unwrap().line, 4, "alias points at its anchor's node");
    }

    #[test]
    fn syntax_errors_and_duplicates_have_lines() {
        let err = parse_yaml(Path::new("/etc/borgmatic/config.yaml"), "a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        let at = err.location().unwrap();
        assert!(at.line >= 2, "{err}");
        assert!(err.to_string().starts_with("/etc/borgmatic/config.yaml:"), "{err}");
        let err = parse_yaml(Path::new("/f"), "a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(err.location().unwrap().line, 3);
        assert!(parse_yaml(Path::new("/f"), "").unwrap().is_none());
    }
}
