//! Secret-looking values in text pinfra shows: a plan's source in a diagnostic's snippet, a
//! message, a URL in an error. [`find`] says where they are, [`mask`] hides them. The plan
//! renderer (`diagnostics`) masks every snippet with it, so no diagnostic, whatever its rule,
//! prints a credential that sits on its line.
//!
//! Values pinfra knows are secret wherever they appear (an API key's value once read, the
//! credentials in the environment) are [`remember`]ed: [`mask_known`] hides them in any text,
//! and every log line goes through it (`logging`).
//!
//! What counts: AWS access key ids (`AKIA…`/`ASIA…`), 40-character secret access keys, PEM
//! private keys (the body, between its markers), the string value of a key whose name says
//! `password`, `passwd`, `secret`, `token`, `credential` or `private_key`, and a URL's user
//! name and password (`https://user:password@host`).

use std::ops::Range;
use std::sync::{LazyLock, PoisonError, RwLock};

use regex::Regex;

/// What a masked value is shown as.
pub const MASK: &str = "********";

fn regex(pattern: &str) -> Option<Regex> {
    Regex::new(pattern).ok()
}

// No word boundaries: masking more than PF003 reports is harmless, and a key id run into other
// text (`AKIA…ꭰ`, two keys back to back) is still a key id.
static KEY_ID: LazyLock<Option<Regex>> = LazyLock::new(|| regex(r"(?:AKIA|ASIA)[A-Z0-9]{16}"));
static SECRET_KEY_SHAPE: LazyLock<Option<Regex>> = LazyLock::new(|| regex(r"[A-Za-z0-9/+]{40,}"));
static PEM_PRIVATE: LazyLock<Option<Regex>> = LazyLock::new(|| regex(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----"));
static PEM_END: LazyLock<Option<Regex>> = LazyLock::new(|| regex(r"-----END [A-Z0-9 ]*PRIVATE KEY-----"));
static SECRET_NAMED: LazyLock<Option<Regex>> = LazyLock::new(|| {
    regex(
        r#"(?i)[a-z0-9_.\-]*(?:password|passwd|secret|token|credential|private[_.\-]?key)[a-z0-9_.\-]*["']?\s*[=:]\s*(?:"((?:[^"\\\n]|\\.)*)"|'([^'\n]*)')"#,
    )
});
static URL_USERINFO: LazyLock<Option<Regex>> = LazyLock::new(|| regex(r#"[A-Za-z][A-Za-z0-9+.\-]*://([^/?#@\s"'<>]+)@"#));

/// The byte ranges of `text` that hold secret-looking values, sorted, not overlapping.
pub fn find(text: &str) -> Vec<Range<usize>> {
    let mut found: Vec<Range<usize>> = Vec::new();
    found.extend(KEY_ID.iter().flat_map(|r| r.find_iter(text)).map(|m| m.range()));
    // A secret access key is 40 characters of base64; a longer run is something else (an SSH
    // public key's body), and one of a single case or without digits is a word or a hash.
    for m in SECRET_KEY_SHAPE.iter().flat_map(|r| r.find_iter(text)) {
        let s = m.as_str();
        let mixed = s.chars().any(|c| c.is_ascii_uppercase())
            && s.chars().any(|c| c.is_ascii_lowercase())
            && s.chars().any(|c| c.is_ascii_digit() || c == '/' || c == '+');
        if s.len() == 40 && mixed && !text[m.end()..].starts_with('=') {
            found.push(m.range());
        }
    }
    for begin in PEM_PRIVATE.iter().flat_map(|r| r.find_iter(text)) {
        let rest = &text[begin.end()..];
        // The body ends at the END marker, or else where the value's quotes close.
        let end = PEM_END.iter().find_map(|r| r.find(rest)).map(|m| m.start()).or_else(|| rest.find(['"', '\''])).unwrap_or(rest.len());
        found.push(begin.end()..begin.end() + end);
    }
    for caps in SECRET_NAMED.iter().flat_map(|r| r.captures_iter(text)) {
        if let Some(value) = caps.get(1).or_else(|| caps.get(2)) {
            found.push(value.range());
        }
    }
    for caps in URL_USERINFO.iter().flat_map(|r| r.captures_iter(text)) {
        if let Some(userinfo) = caps.get(1) {
            found.push(userinfo.range());
        }
    }
    merge(found)
}

fn merge(mut ranges: Vec<Range<usize>>) -> Vec<Range<usize>> {
    ranges.retain(|r| !r.is_empty());
    ranges.sort_by_key(|r| (r.start, r.end));
    let mut out: Vec<Range<usize>> = Vec::new();
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

/// The masked form of a secret: [`MASK`] for each of its lines, so that a multi-line private
/// key keeps its line count (and the lines after it their numbers).
pub fn masked(secret: &str) -> String {
    secret.split('\n').map(|line| if line.trim().is_empty() { line } else { MASK }).collect::<Vec<_>>().join("\n")
}

/// `text` with every secret-looking value masked.
pub fn mask(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for range in find(text) {
        out.push_str(&text[at..range.start]);
        out.push_str(&masked(&text[range.clone()]));
        at = range.end;
    }
    out.push_str(&text[at..]);
    out
}

/// The values [`remember`]ed: longest first, so that one inside another is not left half shown.
static KNOWN: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Values shorter than this are not remembered: masking every `abc` in a log would hide more
/// than it protects, and no secret pinfra handles is that short.
const SHORTEST_KNOWN: usize = 8;

/// Remembers `value` as a secret for the rest of the process: [`mask_known`] hides it.
pub fn remember(value: &str) {
    if value.len() < SHORTEST_KNOWN {
        return;
    }
    let mut known = KNOWN.write().unwrap_or_else(PoisonError::into_inner);
    if !known.iter().any(|k| k == value) {
        known.push(value.to_owned());
        known.sort_by_key(|k| std::cmp::Reverse(k.len()));
    }
}

/// `text` with every [`remember`]ed value replaced by [`MASK`].
pub fn mask_known(text: &str) -> String {
    let known = KNOWN.read().unwrap_or_else(PoisonError::into_inner);
    let mut out = text.to_owned();
    for value in known.iter() {
        if out.contains(value.as_str()) {
            out = out.replace(value.as_str(), MASK);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_secret_is_masked() {
        let cases = [
            ("owner = \"AKIAIOSFODNN7EXAMPLE\"", "owner = \"********\""),
            // Found by the renderer's property test: `\b` is Unicode-aware, so a key id run
            // into a letter was not masked.
            ("AKIAIOSFODNN7EXAMPLE\u{ab70}", "********\u{ab70}"),
            ("k = \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"", "k = \"********\""),
            ("\"aws.secret.access.key\" = \"hunter2\"", "\"aws.secret.access.key\" = \"********\""),
            ("db_password = 'hunter2'", "db_password = '********'"),
            ("url = \"https://alice:hunter2@example.com/a.zip\"", "url = \"https://********@example.com/a.zip\""),
            (
                "k = \"-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXk\\n-----END OPENSSH PRIVATE KEY-----\"",
                "k = \"-----BEGIN OPENSSH PRIVATE KEY-----********-----END OPENSSH PRIVATE KEY-----\"",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(mask(text), want, "{text}");
        }
    }

    #[test]
    fn a_multi_line_private_key_keeps_its_line_count() {
        let text = "k = \"\"\"\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY-----\n\"\"\"\nnext = 1\n";
        let shown = mask(text);
        assert_eq!(shown.lines().count(), text.lines().count());
        assert!(!shown.contains("MIIEow") && !shown.contains("IBAAK"), "{shown}");
        assert!(shown.ends_with("next = 1\n"));
    }

    #[test]
    fn ordinary_values_are_left_alone() {
        for text in [
            "ssh_public_key = \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm0ZXN0a2V5Zm9ydGhlc2FuZGJveHRlc3Rz you@host\"",
            "sha256 = \"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"",
            "url = \"https://archive.apache.org/dist/kafka/3.6.0/kafka_2.13-3.6.0.tgz\"",
            "api_key_required = true",
            "name = \"user-0a1b2c3d4e5f-bucket\"",
        ] {
            assert_eq!(mask(text), text);
        }
    }

    #[test]
    fn remembered_values_are_masked_anywhere_and_short_ones_are_not_remembered() {
        remember("k3yV4lue-remembered-by-a-test");
        remember("abc");
        let shown = mask_known("x-api-key: k3yV4lue-remembered-by-a-test, abc");
        assert_eq!(shown, "x-api-key: ********, abc");
    }
}
