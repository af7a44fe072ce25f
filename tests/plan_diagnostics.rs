//! Golden tests of plan diagnostics: every file in `tests/plans/invalid/` is checked and the
//! rendered errors (file:line:col, snippet, hint) are compared with its snapshot in
//! `tests/snapshots/`. `INSTA_UPDATE=always cargo test` rewrites them; review the diff.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
use pinfra::diagnostics::SourceFile;

#[test]
fn invalid_plans() {
    insta::glob!("plans/invalid/*.toml", |path| {
        let text = std::fs::read_to_string(path).expect("read plan");
        let parsed = pinfra::plan::parse(&text);
        assert!(parsed.plan.is_none(), "{} should be invalid", path.display());
        assert!(parsed.diagnostics.has_errors());
        let name = format!("invalid/{}", path.file_name().and_then(|n| n.to_str()).unwrap_or_default());
        insta::assert_snapshot!(SourceFile { name: &name, text: &text }.render_plain(&parsed.diagnostics));
    });
}

/// The secrets of `tests/plans/invalid/*.toml`: none may appear in any rendered diagnostic.
const SECRETS: [&str; 6] = [
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "hunter2",
    "s3cr3t-T0ken",
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ",
    "deploy:",
];

/// PF003 left the line of a credential out, but another error on that line (a reserved tag
/// key, a private key pasted as the public one, a URL with a password) printed the snippet
/// with the secret in it. Masking is the renderer's now: no diagnostic shows one.
#[test]
fn no_diagnostic_prints_a_secret_on_its_line() {
    insta::glob!("plans/invalid/*.toml", |path| {
        let text = std::fs::read_to_string(path).expect("read plan");
        let parsed = pinfra::plan::parse(&text);
        let shown = SourceFile { name: "plan.toml", text: &text }.render_plain(&parsed.diagnostics);
        for secret in SECRETS {
            assert!(!shown.contains(secret), "{}: `{secret}` is printed:\n{shown}", path.display());
        }
    });
}

/// A plan's own bytes reached the terminal in every snippet: a raw ESC or BEL (TOML refuses
/// them, and the syntax error printed the line as it was) could clear the screen or retitle the
/// window. Every rendered diagnostic is free of control characters but its line breaks.
#[test]
fn no_diagnostic_prints_a_control_character() {
    let raw = "[environment]\nname = \"dev\u{1b}]0;pwned\u{7}\"\u{1b}[2J\n# \u{1b}[1A\u{1b}[2K+ forged\nregion = \"us-east-1\"\n";
    let mut plans = vec![("raw.toml".to_owned(), raw.to_owned())];
    insta::glob!("plans/invalid/*.toml", |path| {
        plans.push((path.display().to_string(), std::fs::read_to_string(path).expect("read plan")));
    });
    for (name, text) in plans {
        let parsed = pinfra::plan::parse(&text);
        assert!(parsed.diagnostics.has_errors(), "{name}");
        let shown = SourceFile { name: "plan.toml", text: &text }.render_plain(&parsed.diagnostics);
        let unsafe_char = shown.chars().find(|c| *c != '\n' && pinfra::terminal::is_unsafe(*c));
        assert_eq!(unsafe_char, None, "{name}:\n{shown}");
    }
    let shown = SourceFile { name: "raw.toml", text: raw }.render_plain(&pinfra::plan::parse(raw).diagnostics);
    assert!(shown.contains("\\e"), "shown escaped: {shown}");
}
