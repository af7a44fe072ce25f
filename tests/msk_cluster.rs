//! A cluster pinfra creates and updates itself (`[msk.create]`), against the sandbox's MSK.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
mod common;

use common::{Sandbox, plan_copy};

const PLAN: &str = "plans/pinterest.toml";
const CREATE: &str = "\n[msk.create]\nkafka_version = \"3.6.0\"\nbroker_count = 3\ninstance_type = \"kafka.m5.large\"\nstorage_gib = 100\n";

fn cluster_writes(sandbox: &Sandbox) -> Vec<String> {
    sandbox
        .calls()
        .into_iter()
        .filter(|(service, op, mutating)| *mutating && service == "kafka" && !op.contains("/topics"))
        .map(|(_, op, _)| {
            let method = op.split(' ').next().unwrap_or_default().to_owned();
            let last = op.rsplit('/').next().unwrap_or_default().split('?').next().unwrap_or_default().to_owned();
            format!("{method} {last}")
        })
        .collect()
}

#[test]
fn a_new_environment_gets_its_cluster_then_its_topics() {
    let sandbox = Sandbox::start();
    sandbox.msk_settings(serde_json::json!({"cluster_delay_ms": 500}));
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = plan_copy(dir.path(), PLAN, |t| t + CREATE);
    let plan = plan.to_str().unwrap();

    let diff = sandbox.pinfra(&["diff", "--json", plan]);
    diff.expect_code(2);
    let diff: serde_json::Value = serde_json::from_str(&diff.stdout).unwrap();
    let cluster = diff["changes"].as_array().unwrap().iter().find(|c| c["kind"] == "msk_cluster").expect("cluster in the diff");
    assert_eq!(cluster["action"], "create");
    let subnets = cluster["fields"].as_array().unwrap().iter().find(|f| f["path"] == "subnets").expect("subnets");
    assert_eq!(subnets["new"].as_array().map(Vec::len), Some(3), "three default-VPC subnets: {subnets}");
    // The role's policy needs the cluster's ARN: known only after apply.
    let role = diff["changes"].as_array().unwrap().iter().find(|c| c["kind"] == "iam_role").unwrap();
    assert!(role["fields"].as_array().unwrap().iter().any(|f| f["path"] == "policy" && f["known_after_apply"] == true), "{role}");

    let apply = sandbox.pinfra(&["apply", "--auto-approve", plan]);
    apply.expect_code(0);
    assert!(apply.stdout.contains("bootstrap_brokers_sasl_iam = b-1."), "{}", apply.stdout);
    sandbox.reset_calls();
    let again = sandbox.pinfra(&["apply", "--auto-approve", plan]);
    again.expect_code(0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    assert_eq!(cluster_writes(&sandbox), Vec::<String>::new());
}

#[test]
fn storage_and_broker_count_grow_in_place_one_update_at_a_time() {
    let sandbox = Sandbox::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = plan_copy(dir.path(), PLAN, |t| t + CREATE);
    sandbox.pinfra(&["apply", "--auto-approve", plan.to_str().unwrap()]).expect_code(0);

    let bigger = plan_copy(dir.path(), PLAN, |t| {
        t + &CREATE.replace("storage_gib = 100", "storage_gib = 200").replace("broker_count = 3", "broker_count = 6")
    });
    let bigger = bigger.to_str().unwrap();
    let diff = sandbox.pinfra(&["diff", bigger]);
    diff.expect_code(2);
    assert!(diff.stdout.contains("broker_count: 3 -> 6"), "{}", diff.stdout);
    assert!(diff.stdout.contains("storage_gib: 100 -> 200"), "{}", diff.stdout);
    sandbox.reset_calls();
    sandbox.pinfra(&["apply", "--auto-approve", bigger]).expect_code(0);
    assert_eq!(cluster_writes(&sandbox), ["PUT storage", "PUT count"]);
    sandbox.pinfra(&["diff", bigger]).expect_code(0);
}

#[test]
fn changes_msk_cannot_make_in_place_are_refused() {
    let sandbox = Sandbox::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = plan_copy(dir.path(), PLAN, |t| t + CREATE);
    sandbox.pinfra(&["apply", "--auto-approve", plan.to_str().unwrap()]).expect_code(0);
    for (edit, message) in [
        (
            ("kafka_version = \"3.6.0\"", "kafka_version = \"3.7.x\""),
            "MSK cannot change it to 3.7.x in place, and pinfra never replaces a cluster",
        ),
        (("broker_count = 3", "broker_count = 2"), "MSK cannot remove brokers"),
        (("storage_gib = 100", "storage_gib = 50"), "MSK cannot shrink storage"),
    ] {
        let changed = plan_copy(dir.path(), PLAN, |t| t + &CREATE.replace(edit.0, edit.1));
        let diff = sandbox.pinfra(&["diff", changed.to_str().unwrap()]);
        diff.expect_code(1);
        assert!(diff.stderr.contains(message), "{}", diff.stderr);
    }
}

#[test]
fn destroy_deletes_a_cluster_pinfra_created() {
    let sandbox = Sandbox::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = plan_copy(dir.path(), PLAN, |t| t + CREATE);
    let plan = plan.to_str().unwrap();
    sandbox.pinfra(&["apply", "--auto-approve", plan]).expect_code(0);
    let destroy = sandbox.pinfra(&["destroy", "--auto-approve", plan]);
    destroy.expect_code(0);
    assert!(destroy.stdout.contains("- msk_cluster \"pinterest-msk-cluster\" will be deleted"), "{}", destroy.stdout);
    let diff = sandbox.pinfra(&["diff", "--json", plan]);
    let diff: serde_json::Value = serde_json::from_str(&diff.stdout).unwrap();
    // Twelve resources, and in the default VPC the brokers' rule and the S3 endpoint.
    assert_eq!(diff["summary"]["create"], 14, "everything is gone: {diff:#}");
}
