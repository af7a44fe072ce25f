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
