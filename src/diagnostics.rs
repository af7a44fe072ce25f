//! Diagnostics about a plan file: an error or warning that points at a span of the source,
//! with an optional hint, rendered with a source snippet (`file:line:col`).
//!
//! Every check of a plan pushes into a [`Diagnostics`] list instead of returning early, so a
//! run reports all of its problems together.
//!
//! What is printed is never the raw source: [`SourceFile`] renders every diagnostic against the
//! text with each secret-looking value masked ([`crate::secrets`]) and each control character
//! escaped ([`crate::terminal`]), and masks and escapes messages, labels and hints the same way.
//! So no rule has to remember that its line may hold a credential or an ESC. Nor a megabyte:
//! the snippet is an excerpt of that text with long lines cut around the span, and quoted values
//! in messages are cut too ([`excerpt`]).

mod excerpt;

use std::ops::Range;

use codespan_reporting::diagnostic::{Diagnostic as Report, Label, Severity as ReportSeverity};
use codespan_reporting::term::termcolor::{ColorChoice, StandardStream};
use codespan_reporting::term::{self, Config};
use excerpt::Excerpt;

/// How bad a finding is: errors stop the run, warnings are shown and the run goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The plan cannot be used.
    Error,
    /// The plan works, but probably not as intended, or not safely.
    Warning,
}

/// One finding about the plan, anchored at a byte range of its source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// A stable rule id for findings users may want to look up (for example `PF001`).
    pub code: Option<&'static str>,
    /// One line saying what is wrong.
    pub message: String,
    /// Where in the source it is; `None` for findings about the file as a whole.
    pub span: Option<Range<usize>>,
    /// A short label printed under the span.
    pub label: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn error(message: impl Into<String>, span: Option<Range<usize>>) -> Self {
        Self { severity: Severity::Error, code: None, message: message.into(), span, label: String::new(), hint: None }
    }

    /// A warning at `span`.
    pub fn warning(message: impl Into<String>, span: Option<Range<usize>>) -> Self {
        Self { severity: Severity::Warning, ..Self::error(message, span) }
    }

    /// Adds the label printed under the span.
    #[must_use]
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// Adds a `hint:` line.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a rule id.
    #[must_use]
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }
}

/// The findings of one run, in the order they were found.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics(Vec<Diagnostic>);

impl Diagnostics {
    /// Records a finding.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
    }

    /// Whether any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }

    /// Number of errors.
    pub fn error_count(&self) -> usize {
        self.0.iter().filter(|d| d.severity == Severity::Error).count()
    }

    /// All findings, sorted by position in the file (file-wide ones first).
    pub fn sorted(&self) -> Vec<&Diagnostic> {
        let mut all: Vec<&Diagnostic> = self.0.iter().collect();
        all.sort_by_key(|d| (d.span.as_ref().map(|s| s.start), d.severity));
        all
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Only the findings `keep` accepts.
    #[must_use]
    pub fn filtered(&self, mut keep: impl FnMut(&Diagnostic) -> bool) -> Self {
        Self(self.0.iter().filter(|d| keep(d)).cloned().collect())
    }
}

/// Renders diagnostics against the source they refer to.
#[derive(Debug)]
pub struct SourceFile<'a> {
    /// The name shown to the user (the path as given on the command line).
    pub name: &'a str,
    /// The file's text.
    pub text: &'a str,
}

impl SourceFile<'_> {
    /// Each diagnostic as a report, with the excerpt of the shown text its snippet is drawn
    /// from (long lines cut around the span), handed to `emit`.
    fn each_report(&self, diagnostics: &Diagnostics, mut emit: impl FnMut(&Excerpt<'_>, &Report<()>)) {
        let shown = Shown::of(self.text);
        let name = crate::terminal::escape(self.name);
        let origin = |at| shown.origin(at);
        // Masked first, then cut: a cut could leave a secret's prefix that no longer looks like one.
        let text = |t: &str| excerpt::bounded(&shown.hide(t));
        for d in diagnostics.sorted() {
            let severity = match d.severity {
                Severity::Error => ReportSeverity::Error,
                Severity::Warning => ReportSeverity::Warning,
            };
            let span = d.span.as_ref().map(|span| {
                let span = clamp(span.clone(), self.text.len());
                shown.start(span.start)..shown.end(span.end)
            });
            let excerpt = Excerpt::new(&name, &shown.text, self.text, &origin, span.as_ref());
            let mut report = Report::new(severity).with_message(text(&d.message));
            if let Some(code) = d.code {
                report = report.with_code(code);
            }
            if let Some(span) = &span {
                report = report.with_labels(vec![Label::primary((), excerpt.map(span)).with_message(text(&d.label))]);
            }
            if let Some(hint) = &d.hint {
                report = report.with_notes(vec![format!("hint: {}", text(hint))]);
            }
            emit(&excerpt, &report);
        }
    }

    /// Renders to a string without colour (for tests and for non-terminal output).
    pub fn render_plain(&self, diagnostics: &Diagnostics) -> String {
        let config = Config::default();
        let mut out = String::new();
        self.each_report(diagnostics, |excerpt, report| {
            // Rendering into a string only fails for a span outside the file, which `clamp`
            // rules out.
            let _ = term::emit_to_string(&mut out, &config, excerpt, report);
        });
        out
    }

    /// Renders to stderr, in colour when `color` is set.
    pub fn emit(&self, diagnostics: &Diagnostics, color: bool) {
        let choice = if color { ColorChoice::Auto } else { ColorChoice::Never };
        let mut stream = StandardStream::stderr(choice);
        let config = Config::default();
        self.each_report(diagnostics, |excerpt, report| {
            // Writing to stderr only fails if stderr is gone; nothing useful is left to do then.
            let _ = term::emit_to_write_style(&mut stream, &config, excerpt, report);
        });
    }
}

/// A plan's text as a terminal may show it: secret-looking values masked, control characters
/// escaped; with the edits made, to carry spans of the file over to it.
#[derive(Debug)]
struct Shown {
    text: String,
    /// (range in the file, range in `text`) of each replaced piece, in order.
    edits: Vec<(Range<usize>, Range<usize>)>,
    /// The secrets found, to hide them in messages too.
    secrets: Vec<String>,
}

impl Shown {
    fn of(source: &str) -> Self {
        let secret_ranges = crate::secrets::find(source);
        let mut shown = Shown { text: String::with_capacity(source.len()), edits: Vec::new(), secrets: Vec::new() };
        let replace = |shown: &mut Shown, from: Range<usize>, with: &str| {
            let start = shown.text.len();
            shown.text.push_str(with);
            shown.edits.push((from, start..shown.text.len()));
        };
        let mut secrets = secret_ranges.iter().peekable();
        let mut at = 0;
        while at < source.len() {
            if let Some(secret) = secrets.next_if(|r| r.start == at) {
                let value = &source[secret.clone()];
                shown.secrets.push(value.to_owned());
                replace(&mut shown, secret.clone(), &crate::secrets::masked(value));
                at = secret.end;
                continue;
            }
            let Some(c) = source[at..].chars().next() else { break };
            let next = at + c.len_utf8();
            // Line structure stays: `\n`, `\t` and the `\r` of a CRLF are the file's layout.
            let layout = c == '\n' || c == '\t' || (c == '\r' && source[next..].starts_with('\n'));
            if crate::terminal::is_unsafe(c) && !layout {
                let mut escaped = String::new();
                crate::terminal::push_escaped(&mut escaped, c);
                replace(&mut shown, at..next, &escaped);
            } else {
                shown.text.push(c);
            }
            at = next;
        }
        shown
    }

    /// Where a span starting at `offset` of the file starts in the shown text.
    fn start(&self, offset: usize) -> usize {
        self.map(offset, true)
    }

    /// Where a span ending at `offset` of the file ends in the shown text.
    fn end(&self, offset: usize) -> usize {
        self.map(offset, false)
    }

    fn map(&self, offset: usize, start: bool) -> usize {
        let mut shift: isize = 0;
        for (from, to) in &self.edits {
            let inside = if start { from.contains(&offset) } else { from.start < offset && offset < from.end };
            if inside {
                return if start { to.start } else { to.end };
            }
            if offset < from.end {
                break;
            }
            shift = to.end.cast_signed() - from.end.cast_signed();
        }
        offset.saturating_add_signed(shift).min(self.text.len())
    }

    /// Where a byte of the shown text came from in the file (a masked or escaped piece: its
    /// start).
    fn origin(&self, shown: usize) -> usize {
        let mut shift: isize = 0;
        for (from, to) in &self.edits {
            if to.contains(&shown) {
                return from.start;
            }
            if shown < to.start {
                break;
            }
            shift = from.end.cast_signed() - to.end.cast_signed();
        }
        shown.saturating_add_signed(shift)
    }

    /// A message, label or hint as shown: the file's secrets and anything secret-looking
    /// masked, control characters escaped (line breaks kept).
    fn hide(&self, text: &str) -> String {
        let mut out = crate::secrets::mask(text);
        for secret in &self.secrets {
            if secret.trim().len() >= 4 {
                out = out.replace(secret.as_str(), crate::secrets::MASK);
            }
        }
        crate::terminal::escape_lines(&out).into_owned()
    }
}

/// Keeps a span inside the text (an empty span at the end is allowed).
fn clamp(span: Range<usize>, len: usize) -> Range<usize> {
    let start = span.start.min(len);
    let end = span.end.clamp(start, len);
    start..end
}

/// The closest of `candidates` to `unknown`, if one is close enough to be a likely typo.
pub fn closest<'a>(unknown: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(unknown, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_suggests_typos_only() {
        assert_eq!(closest("nmae", ["name", "region"]), Some("name"));
        assert_eq!(closest("versionning", ["versioning", "encryption"]), Some("versioning"));
        assert_eq!(closest("zzz", ["name", "region"]), None);
    }

    #[test]
    fn spans_are_carried_over_masked_and_escaped_text() {
        let source = "a = \"AKIAIOSFODNN7EXAMPLE\"\nb = \"x\u{1b}y\"\nc = 1\n";
        let shown = Shown::of(source);
        assert_eq!(shown.text, "a = \"********\"\nb = \"x\\ey\"\nc = 1\n");
        let c = source.find("c = 1").unwrap_or_default();
        assert_eq!(&shown.text[shown.start(c)..shown.end(c + 5)], "c = 1");
        let key = source.find("AKIA").unwrap_or_default();
        assert_eq!(&shown.text[shown.start(key)..shown.end(key + 20)], "********");
        assert_eq!(&shown.text[shown.start(key + 3)..shown.end(key + 5)], "********", "a span inside a secret covers its mask");
        assert_eq!(shown.origin(shown.start(c)), c);
        assert_eq!(shown.origin(shown.start(key) + 3), key);
        let esc = source.find('\u{1b}').unwrap_or_default();
        assert_eq!(&shown.text[shown.start(esc - 1)..shown.end(esc + 2)], "x\\ey");
    }

    /// A masked value before a span on the same line must not move the column of
    /// `file:line:col` away from where the editor finds it.
    #[test]
    fn columns_are_the_files_own() {
        let text = "k = { \"secret_x\" = \"hunter2hunter2\", \"\u{1b}\" = 1 }\n";
        let mut d = Diagnostics::default();
        let at = text.find("\"\u{1b}\"").unwrap_or_default();
        d.push(Diagnostic::error("bad key", Some(at..at + 3)));
        let out = SourceFile { name: "p.toml", text }.render_plain(&d);
        assert!(out.contains(&format!("p.toml:1:{}", at + 1)), "{out}");
        assert!(!out.contains("hunter2") && !out.contains('\u{1b}'), "{out}");
    }

    #[test]
    fn out_of_range_spans_do_not_panic() {
        assert_eq!(clamp(5..10, 3), 3..3);
        assert_eq!(clamp(1..2, 3), 1..2);
    }
}
