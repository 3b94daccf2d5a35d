//! The traps that make a header silently absent or doubled, as findings with file:line.
use std::collections::BTreeSet;

use super::headers::SiteHeaders;
use super::lexer::Token;
use super::spec::HSTS;
use super::tree::{Segment, ServerBlock};
use crate::plan::Finding;

fn finding(id: &str, t: &Token, message: String, remedy: &str) -> Finding {
    Finding { id: id.into(), message, location: Some(t.location().to_string()), remedy: Some(remedy.into()) }
}

/// Every segment of a body, nested blocks included.
fn walk<'a>(body: &'a [Segment], out: &mut Vec<&'a Segment>) {
    for s in body {
        out.push(s);
        if let Some(b) = s.block() {
            walk(&b.body, out);
        }
    }
}

fn has_reverse_proxy(body: &[Segment]) -> bool {
    let mut all = Vec::new();
    walk(body, &mut all);
    all.iter().any(|s| s.directive() == "reverse_proxy")
}

/// Tokens of a header line (`header ...`, or a line of a header block) after the directive.
fn stray_token(line: &Segment) -> Option<&Token> {
    let args = line.args();
    args.iter().skip(1).find(|t| t.leading.is_empty()).copied()
}

/// What a site's traps come to: findings (the profile's headers would be wrong) and warnings
/// (advice about headers the profile does not manage, which must not make `check` fail).
#[derive(Debug, Default)]
pub struct Traps {
    pub findings: Vec<Finding>,
    pub warnings: Vec<String>,
}

/// Findings for one site: `site` is the expanded block, `h` its header model, `managed` the
/// fields (lowercase) the profile sets or removes on it.
pub fn site_findings(
    site: &ServerBlock,
    h: &SiteHeaders,
    https: bool,
    version: Option<(u32, u32, u32)>,
    managed: &BTreeSet<String>,
) -> Traps {
    let mut warnings = Vec::new();
    let mut out = Vec::new();
    let name = h.addresses.join(", ");
    let mut segs = Vec::new();
    walk(&site.body, &mut segs);
    let before_2_7 = version.is_some_and(|v| v < (2, 7, 0));
    for seg in segs.iter().filter(|s| s.directive() == "header") {
        let mut lines: Vec<&Segment> = vec![seg];
        if let Some(b) = seg.block() {
            lines.extend(b.body.iter());
        }
        for (i, line) in lines.iter().enumerate() {
            // A quoted value followed without a space by `;` (or anything) is one more argument:
            // `header F "v";` becomes a regex replacement of `v` by `;`, and F is never set.
            let stray = if i == 0 {
                line.args()
                    .iter()
                    .skip(usize::from(seg.matcher().is_some()))
                    .skip(1)
                    .find(|t| t.leading.is_empty())
                    .copied()
            } else {
                stray_token(line)
            };
            if let Some(t) = stray {
                out.push(finding(
                    "caddy.stray-token",
                    t,
                    format!("site {name}: `{}` is glued to the value before it, so Caddy reads a regex replacement instead of setting the header", t.raw),
                    "remove the stray token (a Caddyfile needs no `;` at the end of a line)",
                ));
            }
            let field = if i == 0 {
                line.args().get(usize::from(seg.matcher().is_some())).map(|t| t.text.as_str())
            } else {
                Some(line.directive())
            };
            if before_2_7 {
                if let (Some(f), Some(t)) = (field.filter(|f| f.starts_with('>')), line.first()) {
                    out.push(finding(
                        "caddy.syntax-version",
                        t,
                        format!("site {name}: `{f}` (deferred set) needs Caddy 2.7; the installed Caddy sets a header literally named `{f}`"),
                        "use a `header { ... defer }` block instead",
                    ));
                }
                if let (true, Some(b)) = (i > 0, line.block()) {
                    out.push(finding(
                        "caddy.syntax-version",
                        &b.open,
                        format!("site {name}: a nested block in `header` (`{} {{`) needs Caddy 2.7; the installed Caddy reads its lines as header names", line.directive()),
                        "remove the nested block or upgrade Caddy",
                    ));
                }
            }
        }
    }
    if has_reverse_proxy(&site.body) {
        for d in &h.directives {
            // `?Field` needs the final response, so Caddy runs it deferred anyway.
            for op in d.handlers.iter().filter(|o| !o.deferred && o.require_absent.is_empty()) {
                for f in op.set.keys().chain(op.add.keys()) {
                    let message = format!("site {name}: `header {f}` is not deferred and runs before reverse_proxy, so an upstream's own {f} is sent beside it");
                    // A field the profile manages: a finding that apply's edit resolves (it
                    // removes the line); any other field is advice, never drift.
                    if managed.contains(&f.to_ascii_lowercase()) {
                        out.push(Finding {
                            id: "caddy.header-before-proxy".into(),
                            message,
                            location: Some(d.location.to_string()),
                            remedy: Some("put it in a `header { ... defer }` block (harden's managed snippet does this for the headers it manages)".into()),
                        });
                    } else {
                        warnings
                            .push(format!("{} ({}; put it in a `header {{ ... defer }}` block)", message, d.location));
                    }
                }
            }
        }
    }
    if !https {
        if let Some(e) = h.effective().get(&HSTS.to_ascii_lowercase()) {
            out.push(Finding {
                id: "caddy.hsts-plain-http".into(),
                message: format!(
                    "site {name} is served over plain HTTP but sends {HSTS}, which RFC 6797 forbids there"
                ),
                location: Some(e.set_at.to_string()),
                remedy: Some(format!("remove {HSTS} from this site; set it on the HTTPS site only")),
            });
        }
    }
    Traps { findings: out, warnings }
}
