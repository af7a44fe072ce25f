//! Ownership against colliding plans (`docs/RELIABILITY.md`, "Ownership"): topics carry no tags,
//! so only the plan's tagged resources prove that the topics its names find are its own.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
mod common;

use std::process::Command;

use common::{Sandbox, plan_copy, root, write_plugin_zip};

const PLAN: &str = "plans/pinterest.toml";
const CLUSTER: &str = "pinterest-msk-cluster";

/// The smallest plan of `docs/plan.md`: the same user id and cluster as `plans/pinterest.toml`,
/// but the default project, `pipeline`.
const SMALLEST: &str = r#"[environment]
name = "dev"
region = "us-east-1"
user_id = "0a1b2c3d4e5f"

[msk]
cluster = "pinterest-msk-cluster"
"#;

/// The topic API's deletions made since the last reset.
fn topic_deletions(sandbox: &Sandbox) -> Vec<String> {
    sandbox
        .calls()
        .into_iter()
        .filter(|(service, op, mutating)| *mutating && service == "kafka" && op.starts_with("DELETE") && op.contains("/topics"))
        .map(|(_, op, _)| op)
        .collect()
}

#[test]
fn destroy_of_a_colliding_plan_deletes_no_topics() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    sandbox.pinfra(&["apply", "-q", "--auto-approve", PLAN]).expect_code(0);
    let dir = tempfile::tempdir().unwrap();
    let smallest = dir.path().join("smallest.toml");
    std::fs::write(&smallest, SMALLEST).unwrap();
    let smallest = smallest.to_str().unwrap();

    let diff = sandbox.pinfra(&["diff", smallest]);
    diff.expect_code(1);
    assert!(diff.stderr.contains("belongs to plan `pinterest`"), "{}", diff.stderr);

    sandbox.reset_calls();
    let destroy = sandbox.pinfra(&["destroy", "--auto-approve", smallest]);
    destroy.expect_code(1);
    assert!(destroy.stderr.contains("belongs to plan `pinterest`, environment `dev`"), "{}", destroy.stderr);
    assert!(destroy.stderr.contains("cannot destroy"), "{}", destroy.stderr);
    assert!(!destroy.stderr.contains("Destroy complete"), "{}", destroy.stderr);
    assert_eq!(sandbox.writes(), Vec::<String>::new(), "a refused destroy writes nothing, not even a lock");
    // The other plan is as it left it.
    sandbox.pinfra(&["diff", PLAN]).expect_code(0);
}

#[test]
fn destroy_of_a_plan_that_never_applied_keeps_the_topics_its_names_find() {
    // The pipeline built by hand, as the seed did: nothing carries pinfra's tags, so nothing
    // proves the topics under the prefix are the plan's.
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("plugin.zip");
    write_plugin_zip(&zip, &[]);
    let seeded = Command::new(root().join(".venv/bin/python"))
        .arg(root().join("scripts/sandbox_seed.py"))
        .args(["--endpoint", &sandbox.url, "handbuilt", "0a1b2c3d4e5f", "--cluster", CLUSTER, "--zip"])
        .arg(&zip)
        .output()
        .unwrap();
    assert!(seeded.status.success(), "{}", String::from_utf8_lossy(&seeded.stderr));

    sandbox.reset_calls();
    let destroy = sandbox.pinfra(&["destroy", "--auto-approve", PLAN]);
    destroy.expect_code(0);
    assert_eq!(topic_deletions(&sandbox), Vec::<String>::new());
    assert!(destroy.stdout.contains("no resource of this plan carries its tags"), "{}", destroy.stdout);
    assert_eq!(sandbox.writes(), Vec::<String>::new(), "nothing hand-built is deleted");
}

#[test]
fn a_failed_topic_deletion_keeps_the_tagged_resources_that_prove_the_claim() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_copy(dir.path(), PLAN, |t| t.replace("force_destroy = false", "force_destroy = true"));
    let plan = plan.to_str().unwrap();
    sandbox.pinfra(&["apply", "-q", "--auto-approve", plan]).expect_code(0);

    sandbox.arm_fault("kafka", Some("DELETE /v1/clusters/*"), None, 500, "InternalServerErrorException", 30);
    let failed = sandbox.pinfra(&["destroy", "--auto-approve", plan]);
    failed.expect_code(1);
    assert!(failed.stderr.contains("must be first"), "the tagged resources wait for the topics: {}", failed.stderr);
    sandbox.clear_faults();
    // The role is still there, so the next destroy still proves the topics are the plan's.
    let again = sandbox.pinfra(&["destroy", "--auto-approve", plan]);
    again.expect_code(0);
    assert!(again.stdout.contains("msk_topic \"0a1b2c3d4e5f.pin\" will be deleted"), "{}", again.stdout);
    let diff: serde_json::Value = serde_json::from_str(&sandbox.pinfra(&["diff", "--json", plan]).stdout).unwrap();
    assert_eq!(diff["summary"]["delete"], 0, "{diff:#}");
    assert_eq!(diff["summary"]["update"], 0, "everything is gone: {diff:#}");
}

#[test]
fn import_of_a_pipeline_pinfra_manages_writes_that_plans_names() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    sandbox.pinfra(&["apply", "-q", "--auto-approve", PLAN]).expect_code(0);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("imported.toml");
    let out_arg = out.to_str().unwrap();
    let import = sandbox.pinfra(&["--region", "us-east-1", "import", "--user-id", "0a1b2c3d4e5f", "--out", out_arg]);
    import.expect_code(0);
    assert!(import.stderr.contains("pinfra's already (plan `pinterest`, environment `dev`)"), "{}", import.stderr);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("project = \"pinterest\""), "{text}");
    // The plan written is that plan: its diff claims nothing of another's.
    let diff = sandbox.pinfra(&["diff", out_arg]);
    assert!(!diff.stderr.contains("belongs to plan"), "{}", diff.stderr);

    // Asking for another project is refused, and writes nothing.
    let other = dir.path().join("other.toml");
    let refused = sandbox.pinfra(&[
        "--region",
        "us-east-1",
        "import",
        "--user-id",
        "0a1b2c3d4e5f",
        "--project",
        "x",
        "--out",
        other.to_str().unwrap(),
    ]);
    refused.expect_code(1);
    assert!(refused.stderr.contains("--project x names another"), "{}", refused.stderr);
    assert!(!other.exists());
}
