//! The shipped plan's Markdown diff (`diff --format markdown`), golden-tested: what a pull
//! request shows for a pipeline made from nothing. The sandbox's generated ids (the cluster's
//! UUID and host names, subnets, route tables) and the user-data's digest, which holds the
//! brokers' names, are filtered out. `INSTA_UPDATE=always cargo test --test markdown_diff` rewrites the snapshot.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
mod common;

use common::Sandbox;

#[test]
fn the_shipped_plans_markdown_diff() {
    let sandbox = Sandbox::with_cluster("pinterest-msk-cluster");
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("step-summary.md");
    let run = sandbox
        .pinfra_with(&["diff", "--format", "markdown", "plans/pinterest.toml"], &[("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())]);
    run.expect_code(2);
    assert_eq!(std::fs::read_to_string(&summary).unwrap(), run.stdout, "the step summary gets the same page");
    insta::with_settings!({filters => vec![
        (r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-[0-9]+", "[cluster-uuid]"),
        (r"\b(subnet|rtb|sg|vpc|vpce|acl|igw)-[0-9a-f]{8,17}\b", "$1-[id]"),
        (r"\b[0-9a-f]{64}\b", "[sha256]"),
        // The brokers' host names: `b-1.<cluster>.<random>.c2.kafka.<region>.amazonaws.com`.
        (r"\.[a-z0-9]{6}\.c[0-9]+\.kafka\.", ".[id].c[n].kafka."),
    ]}, {
        insta::assert_snapshot!(run.stdout);
    });
}
