//! Text that reaches a terminal. Names, tags and messages come from the plan and from AWS, and
//! an ESC, BEL or newline in them could clear the screen, retitle the window or forge a line in
//! a diff someone reviews. Every human-readable output shows them escaped, through [`escape`]
//! (one value, one line) or [`escape_lines`] (a message pinfra composed of several lines).
//! JSON output needs neither: serde escapes control characters.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal raw: C0 and C1 controls, DEL, and the bidirectional
/// overrides and isolates that reorder what is shown ("Trojan Source", CVE-2021-42574), and the
/// line and paragraph separators some terminals break lines at.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{2028}' | '\u{2029}')
}

/// One value, shown on one line: every unsafe character escaped (`\e` for ESC, `\n`, `\r`,
/// `\t`, `\x07` for other C0 controls and DEL, `\u{9b}` for the rest).
pub fn escape(text: &str) -> Cow<'_, str> {
    escape_except(text, |_| false)
}

/// A message of several lines: as [`escape`], but its line breaks stay line breaks.
pub fn escape_lines(text: &str) -> Cow<'_, str> {
    escape_except(text, |c| c == '\n')
}

fn escape_except(text: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(|c| is_unsafe(c) && !keep(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !is_unsafe(c) || keep(c) {
            out.push(c);
        } else {
            push_escaped(&mut out, c);
        }
    }
    Cow::Owned(out)
}

/// Appends the escaped form of one unsafe character.
pub fn push_escaped(out: &mut String, c: char) {
    match c {
        '\u{1b}' => out.push_str("\\e"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x80 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_escaped() {
        assert_eq!(escape("team\u{1b}]0;pwned\u{7}\u{1b}[2J"), "team\\e]0;pwned\\x07\\e[2J");
        assert_eq!(escape("a\nb\r\tc\u{7f}\u{9b}"), "a\\nb\\r\\tc\\x7f\\u{9b}");
        assert_eq!(escape("admin\u{202e}txt.exe"), "admin\\u{202e}txt.exe");
        assert_eq!(escape_lines("one\ntwo\u{1b}[1A"), "one\ntwo\\e[1A");
    }

    #[test]
    fn plain_text_is_not_copied() {
        assert!(matches!(escape("user-0a1b-bucket: é ü 日本"), Cow::Borrowed(_)));
    }
}
