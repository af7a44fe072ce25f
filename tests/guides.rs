//! The guides in `docs/guides/` are sequences of commands; this runs every `sh` block of each,
//! in order, in an empty directory (the repository's `scripts/` and `.venv/` linked beside it,
//! the built `pinfra` on the `PATH`), so the guides stay true. A guide that fails shows its
//! output.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
mod common;

use std::path::Path;
use std::process::Command;

use common::root;

/// The `sh` blocks of a markdown file, in order.
fn sh_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), text) => {
                block.push_str(text);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

fn run_guide(name: &str) {
    common::ensure_shipped_artifact();
    let markdown = std::fs::read_to_string(root().join("docs/guides").join(name)).unwrap();
    let blocks = sh_blocks(&markdown);
    assert!(blocks.len() >= 3, "{name} has its commands in ```sh blocks");
    let dir = tempfile::tempdir().unwrap();
    for link in ["scripts", ".venv"] {
        std::os::unix::fs::symlink(root().join(link), dir.path().join(link)).unwrap();
    }
    let script = format!(
        "set -euo pipefail\ntrap './scripts/sandbox stop >/dev/null 2>&1 || true' EXIT\n{}",
        blocks.iter().enumerate().map(|(i, b)| format!("echo '### block {}' >&2\n{b}", i + 1)).collect::<String>()
    );
    let bin = Path::new(env!("CARGO_BIN_EXE_pinfra")).parent().unwrap();
    let mut command = Command::new("bash");
    command.arg("-c").arg(&script).current_dir(dir.path());
    for (key, _) in std::env::vars() {
        if key.starts_with("AWS_") || key.starts_with("PINFRA_") || key == "NO_COLOR" {
            command.env_remove(key);
        }
    }
    command
        .env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default()))
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("PINFRA_POLL_INTERVAL_MS", "50");
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "guide {name} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn zero_to_pipeline() {
    run_guide("zero-to-pipeline.md");
}

#[test]
fn add_an_environment() {
    run_guide("add-an-environment.md");
}

#[test]
fn blocks_are_found_in_order() {
    let md = "text\n```sh\na\nb\n```\n```text\nno\n```\n```sh\nc\n```\n";
    assert_eq!(sh_blocks(md), ["a\nb\n", "c\n"]);
}

#[test]
fn review_changes_in_ci() {
    run_guide("review-changes-in-ci.md");
}

#[test]
fn take_over_a_hand_built_pipeline() {
    run_guide("take-over-a-hand-built-pipeline.md");
}
