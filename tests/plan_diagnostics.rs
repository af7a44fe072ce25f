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
