//! Diagnostics about a plan file: an error or warning that points at a span of the source,
//! with an optional hint, rendered with a source snippet (`file:line:col`).
//!
//! Every check of a plan pushes into a [`Diagnostics`] list instead of returning early, so a
//! run reports all of its problems together.

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
    /// Each diagnostic as a report, with the excerpt of the source its snippet is drawn from
    /// (long lines cut around the span: a megabyte value is not echoed), and every message,
    /// label and hint cut the same way.
    fn reports(&self, diagnostics: &Diagnostics) -> Vec<(Excerpt<'_>, Report<()>)> {
        diagnostics
            .sorted()
            .into_iter()
            .map(|d| {
                let severity = match d.severity {
                    Severity::Error => ReportSeverity::Error,
                    Severity::Warning => ReportSeverity::Warning,
                };
                let span = d.span.as_ref().map(|span| clamp(span.clone(), self.text.len()));
                let excerpt = Excerpt::new(self.name, self.text, span.as_ref());
                let mut report = Report::new(severity).with_message(excerpt::bounded(&d.message));
                if let Some(code) = d.code {
                    report = report.with_code(code);
                }
                if let Some(span) = &span {
                    report = report.with_labels(vec![Label::primary((), excerpt.map(span)).with_message(excerpt::bounded(&d.label))]);
                }
                if let Some(hint) = &d.hint {
                    report = report.with_notes(vec![format!("hint: {}", excerpt::bounded(hint))]);
                }
                (excerpt, report)
            })
            .collect()
    }

    /// Renders to a string without colour (for tests and for non-terminal output).
    pub fn render_plain(&self, diagnostics: &Diagnostics) -> String {
        let config = Config::default();
        let mut out = String::new();
        for (excerpt, report) in self.reports(diagnostics) {
            // Rendering into a string only fails for a span outside the file, which `clamp`
            // rules out.
            let _ = term::emit_to_string(&mut out, &config, &excerpt, &report);
        }
        out
    }

    /// Renders to stderr, in colour when `color` is set.
    pub fn emit(&self, diagnostics: &Diagnostics, color: bool) {
        let choice = if color { ColorChoice::Auto } else { ColorChoice::Never };
        let mut stream = StandardStream::stderr(choice);
        let config = Config::default();
        for (excerpt, report) in self.reports(diagnostics) {
            // Writing to stderr only fails if stderr is gone; nothing useful is left to do then.
            let _ = term::emit_to_write_style(&mut stream, &config, &excerpt, &report);
        }
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
    fn out_of_range_spans_do_not_panic() {
        assert_eq!(clamp(5..10, 3), 3..3);
        assert_eq!(clamp(1..2, 3), 1..2);
    }
}
