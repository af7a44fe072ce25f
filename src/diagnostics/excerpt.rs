//! Bounded diagnostics: a plan can hold a value of megabytes on one line, and a diagnostic must
//! not echo it (once in the message, once in an expansion note, once in the snippet). Quoted
//! values in messages are cut, and the snippet is drawn from an excerpt of the shown text (the
//! file with secrets masked and control characters escaped) whose long lines are cut around the
//! span, with `…` where text was left out. The `file:line:col` still counts in the real file.

use std::ops::Range;

use codespan_reporting::files::{Error, Files, Location};

/// The widest source line a snippet shows, in bytes (cut at a character boundary).
const LINE_WIDTH: usize = 240;
/// How much of a long line a snippet shows before the span.
const BEFORE_SPAN: usize = 80;
/// The longest `quoted` value a message, label or hint shows, in characters.
const QUOTED_WIDTH: usize = 60;
/// The longest message, label or hint, in characters.
const MESSAGE_WIDTH: usize = 1000;
const ELLIPSIS: &str = "…";

/// `text` with every `quoted` value longer than [`QUOTED_WIDTH`] cut, and the whole cut at
/// [`MESSAGE_WIDTH`].
pub(super) fn bounded(text: &str) -> String {
    let mut out = String::new();
    for (i, part) in text.split('`').enumerate() {
        if i > 0 {
            out.push('`');
        }
        // Odd parts are between backticks.
        if i % 2 == 1 && part.chars().count() > QUOTED_WIDTH {
            out.extend(part.chars().take(QUOTED_WIDTH));
            out.push_str(ELLIPSIS);
        } else {
            out.push_str(part);
        }
    }
    if out.chars().count() > MESSAGE_WIDTH {
        out = out.chars().take(MESSAGE_WIDTH).collect();
        out.push_str(ELLIPSIS);
    }
    out
}

/// One run of the excerpt: text kept from the source, or an ellipsis standing for a cut.
#[derive(Debug)]
struct Piece {
    /// Where it is in the excerpt.
    short: Range<usize>,
    /// What it stands for in the source.
    source: Range<usize>,
    /// A cut (`…`), not a copy.
    cut: bool,
}

/// The text as a snippet of one diagnostic shows it.
pub(super) struct Excerpt<'a> {
    name: &'a str,
    /// The file, where locations are counted.
    file: &'a str,
    /// Where an offset of the text that was cut came from in the file.
    origin: &'a dyn Fn(usize) -> usize,
    text: String,
    pieces: Vec<Piece>,
    line_starts: Vec<usize>,
}

impl<'a> Excerpt<'a> {
    /// The excerpt of `source` (the file as shown; `origin` maps its offsets back to `file`) for
    /// a diagnostic at `span` (of `source`): every line longer than [`LINE_WIDTH`] is cut, the
    /// span's first line around the span's start, the others after their beginning.
    pub(super) fn new(
        name: &'a str,
        source: &'a str,
        file: &'a str,
        origin: &'a dyn Fn(usize) -> usize,
        span: Option<&Range<usize>>,
    ) -> Self {
        let mut text = String::with_capacity(source.len().min(64 * 1024));
        let mut pieces = Vec::new();
        let mut keep = |text: &mut String, range: Range<usize>, cut: bool| {
            if range.is_empty() {
                return;
            }
            let start = text.len();
            text.push_str(if cut { ELLIPSIS } else { &source[range.clone()] });
            pieces.push(Piece { short: start..text.len(), source: range, cut });
        };
        let mut line_start = 0;
        for line in source.split_inclusive('\n') {
            let end = line_start + line.trim_end_matches('\n').len();
            let next = line_start + line.len();
            if end - line_start <= LINE_WIDTH {
                keep(&mut text, line_start..next, false);
            } else {
                let focus = span.map(|s| s.start).filter(|s| (line_start..=end).contains(s)).unwrap_or(line_start);
                let from = floor_boundary(source, focus.saturating_sub(BEFORE_SPAN).max(line_start));
                let to = ceil_boundary(source, (from + LINE_WIDTH).min(end));
                keep(&mut text, line_start..from, true);
                keep(&mut text, from..to, false);
                keep(&mut text, to..end, true);
                keep(&mut text, end..next, false);
            }
            line_start = next;
        }
        let line_starts = codespan_reporting::files::line_starts(&text).collect();
        Self { name, file, origin, text, pieces, line_starts }
    }

    /// Where `span` of the source is in the excerpt; a cut end covers its ellipsis.
    pub(super) fn map(&self, span: &Range<usize>) -> Range<usize> {
        let at = |offset: usize, end: bool| {
            for piece in &self.pieces {
                if piece.source.contains(&offset) || (end && piece.source.end == offset) {
                    return match (piece.cut, end) {
                        (false, _) => piece.short.start + (offset - piece.source.start),
                        (true, false) => piece.short.start,
                        (true, true) => piece.short.end,
                    };
                }
            }
            self.text.len()
        };
        let start = at(span.start, false);
        start..at(span.end, true).max(start)
    }

    /// The file offset an excerpt offset stands for.
    fn unmap(&self, offset: usize) -> usize {
        let source = self.pieces.iter().find(|p| p.short.contains(&offset)).map_or_else(
            || self.pieces.last().map_or(0, |p| p.source.end),
            |p| if p.cut { p.source.start } else { p.source.start + (offset - p.short.start) },
        );
        (self.origin)(source).min(self.file.len())
    }
}

fn floor_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn ceil_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at += 1;
    }
    at
}

impl<'a> Files<'a> for Excerpt<'_> {
    type FileId = ();
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, (): ()) -> Result<&'a str, Error> {
        Ok(self.name)
    }

    fn source(&'a self, (): ()) -> Result<&'a str, Error> {
        Ok(&self.text)
    }

    fn line_index(&'a self, (): (), byte_index: usize) -> Result<usize, Error> {
        Ok(self.line_starts.binary_search(&byte_index).unwrap_or_else(|next| next - 1))
    }

    fn line_range(&'a self, (): (), line_index: usize) -> Result<Range<usize>, Error> {
        let start = *self.line_starts.get(line_index).ok_or(Error::LineTooLarge { given: line_index, max: self.line_starts.len() - 1 })?;
        let end = self.line_starts.get(line_index + 1).copied().unwrap_or(self.text.len());
        Ok(start..end)
    }

    /// Counted in the source, not in the excerpt: the column of a value after a cut is its real
    /// one.
    fn location(&'a self, (): (), byte_index: usize) -> Result<Location, Error> {
        let offset = floor_boundary(self.file, self.unmap(byte_index));
        let line_start = self.file[..offset].rfind('\n').map_or(0, |i| i + 1);
        Ok(Location {
            line_number: self.file[..line_start].matches('\n').count() + 1,
            column_number: self.file[line_start..offset].chars().count() + 1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_quoted_values_are_cut_and_the_rest_is_kept() {
        let value = "x".repeat(1000);
        let message = bounded(&format!("topic name `{value}` contains `/` (`{{user_id}}/{value}`)"));
        assert_eq!(message, format!("topic name `{}…` contains `/` (`{{user_id}}/{}…`)", "x".repeat(60), "x".repeat(50)));
        assert_eq!(bounded("short `value`"), "short `value`");
    }

    #[test]
    fn a_long_line_is_cut_around_the_span_and_locations_stay_the_sources() {
        let source = format!("a = 1\nname = \"{}\" # é{}\nb = 2\n", "y".repeat(500), "z".repeat(500));
        let first = source.find('y').unwrap();
        let span = first..first + 1;
        let excerpt = Excerpt::new("plan.toml", &source, &source, &|at| at, Some(&span));
        assert!(excerpt.text.len() < 300, "{}", excerpt.text);
        assert!(excerpt.text.starts_with("a = 1\nname = \"yyy"), "{}", excerpt.text);
        assert!(excerpt.text.ends_with("…\nb = 2\n"), "{}", excerpt.text);
        let short = excerpt.map(&span);
        assert_eq!(&excerpt.text[short.clone()], "y");
        assert_eq!(excerpt.location((), short.start).unwrap(), Location { line_number: 2, column_number: 9 });
        // A span far into the line: the excerpt starts with a cut, the column is the real one.
        let far = source.find('é').unwrap();
        let excerpt = Excerpt::new("plan.toml", &source, &source, &|at| at, Some(&(far..far + 2)));
        let short = excerpt.map(&(far..far + 2));
        assert_eq!(&excerpt.text[short.clone()], "é");
        assert_eq!(excerpt.location((), short.start).unwrap(), Location { line_number: 2, column_number: 513 });
        // A span that runs past the cut ends on the ellipsis.
        let whole = 12..source.find(" #").unwrap();
        let excerpt = Excerpt::new("plan.toml", &source, &source, &|at| at, Some(&whole));
        assert!(excerpt.text[excerpt.map(&whole)].ends_with('…'));
    }
}
