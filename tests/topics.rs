//! MSK topics through the topic API, against the sandbox's emulation of it (async states,
//! MSK's errors, stale answers).

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
mod common;

use common::{Sandbox, plan_copy};
use std::time::Instant;

const PLAN: &str = "plans/pinterest.toml";
const CLUSTER: &str = "pinterest-msk-cluster";
const PIN: &str = "0a1b2c3d4e5f.pin";

/// The topic API writes made since the last reset, as `POST` (create), `PUT <topic>` (update)
/// and `DELETE <topic>`.
fn topic_writes(sandbox: &Sandbox) -> Vec<String> {
    sandbox
        .calls()
        .into_iter()
        .filter(|(service, op, mutating)| *mutating && service == "kafka" && op.contains("/topics"))
        .map(|(_, op, _)| {
            let method = op.split(' ').next().unwrap_or_default();
            let topic = op.rsplit_once("/topics").map(|(_, rest)| rest.trim_start_matches('/')).unwrap_or_default();
            format!("{method} {topic}").trim_end().to_owned()
        })
        .collect()
}

fn diff_json(sandbox: &Sandbox, plan: &str) -> serde_json::Value {
    let run = sandbox.pinfra(&["diff", "--json", plan]);
    assert!(run.code == 0 || run.code == 2, "diff failed: {}", run.stderr);
    serde_json::from_str(&run.stdout).expect("JSON")
}

fn change<'a>(diff: &'a serde_json::Value, topic: &str) -> &'a serde_json::Value {
    diff["changes"].as_array().unwrap().iter().find(|c| c["address"] == format!("msk_topic \"{topic}\"")).expect("topic in diff")
}

/// Applies the shipped plan, then returns a temp dir holding an edited copy of it.
fn applied_then_edited(sandbox: &Sandbox, edit: impl FnOnce(String) -> String) -> (tempfile::TempDir, String) {
    sandbox.pinfra(&["apply", "--auto-approve", PLAN]).expect_code(0);
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = plan_copy(dir.path(), PLAN, edit).to_str().unwrap().to_owned();
    (dir, plan)
}

#[test]
fn the_seed_topics_are_created_with_their_configs_and_a_rerun_changes_nothing() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let diff = diff_json(&sandbox, PLAN);
    let pin = change(&diff, PIN);
    assert_eq!(pin["action"], "create");
    let fields: Vec<&str> = pin["fields"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(fields, ["partitions", "replication_factor", "configs.retention.ms"]);

    sandbox.pinfra(&["apply", "--auto-approve", PLAN]).expect_code(0);
    // DescribeTopic returns the server's defaults beside the plan's key: only the plan's count.
    sandbox.reset_calls();
    sandbox.pinfra(&["apply", "--auto-approve", PLAN]).expect_code(0);
    assert_eq!(topic_writes(&sandbox), Vec::<String>::new());
    let output = sandbox.pinfra(&["output", "--json", PLAN]);
    let outputs: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(outputs["topics"], serde_json::json!(["0a1b2c3d4e5f.pin", "0a1b2c3d4e5f.geo", "0a1b2c3d4e5f.user"]));
    assert!(outputs["bootstrap_brokers_sasl_iam"].as_str().unwrap().contains(":9098"), "{outputs}");
}

#[test]
fn a_partition_increase_is_made_in_place() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let (_dir, plan) = applied_then_edited(&sandbox, |t| t.replacen("partitions = 3", "partitions = 6", 1));
    let diff = diff_json(&sandbox, &plan);
    let pin = change(&diff, PIN);
    assert_eq!(pin["action"], "update");
    assert_eq!(
        pin["fields"],
        serde_json::json!([{"path": "partitions", "old": 3, "new": 6, "known_after_apply": false, "forces_replace": false}])
    );
    sandbox.reset_calls();
    sandbox.pinfra(&["apply", "--auto-approve", &plan]).expect_code(0);
    assert_eq!(topic_writes(&sandbox), [format!("PUT {PIN}")]);
    sandbox.pinfra(&["diff", &plan]).expect_code(0);
}

#[test]
fn partitions_and_configs_go_in_separate_update_calls() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let (_dir, plan) = applied_then_edited(&sandbox, |t| {
        t.replacen("partitions = 3", "partitions = 4", 1).replace("\"retention.ms\" = \"604800000\"", "\"retention.ms\" = \"86400000\"")
    });
    sandbox.reset_calls();
    // The sandbox rejects both in one call, as MSK does; two calls succeed.
    sandbox.pinfra(&["apply", "--auto-approve", &plan]).expect_code(0);
    assert_eq!(topic_writes(&sandbox), [format!("PUT {PIN}"), format!("PUT {PIN}")]);
    sandbox.pinfra(&["diff", &plan]).expect_code(0);
}

#[test]
fn a_partition_decrease_is_refused_at_diff_time() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let (_dir, plan) = applied_then_edited(&sandbox, |t| t.replacen("partitions = 3", "partitions = 2", 1));
    sandbox.reset_calls();
    let diff = sandbox.pinfra(&["diff", &plan]);
    diff.expect_code(1);
    assert!(diff.stderr.contains(&format!("topic `{PIN}` has 3 partitions; Kafka cannot reduce them to 2")), "{}", diff.stderr);
    assert!(diff.stderr.contains("hint: set `partitions` to 3 or more"), "{}", diff.stderr);
    let apply = sandbox.pinfra(&["apply", "--auto-approve", &plan]);
    apply.expect_code(1);
    assert_eq!(topic_writes(&sandbox), Vec::<String>::new(), "nothing is attempted");
}

#[test]
fn a_replication_factor_change_is_refused_unless_recreate_is_allowed() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let (dir, plan) = applied_then_edited(&sandbox, |t| t.replacen("replication_factor = 3", "replication_factor = 2", 1));
    let diff = sandbox.pinfra(&["diff", &plan]);
    diff.expect_code(1);
    assert!(diff.stderr.contains("MSK cannot change it to 2 in place"), "{}", diff.stderr);
    assert!(diff.stderr.contains("allow_recreate = true"), "{}", diff.stderr);

    let plan = plan_copy(dir.path(), PLAN, |t| t.replacen("replication_factor = 3", "replication_factor = 2\nallow_recreate = true", 1));
    let plan = plan.to_str().unwrap();
    let diff = diff_json(&sandbox, plan);
    let pin = change(&diff, PIN);
    assert_eq!(pin["action"], "replace");
    assert_eq!(pin["replace_reasons"], serde_json::json!(["replication_factor"]));
    sandbox.reset_calls();
    sandbox.pinfra(&["apply", "--auto-approve", plan]).expect_code(0);
    assert_eq!(topic_writes(&sandbox), [format!("DELETE {PIN}"), "POST".to_owned()], "delete, then create");
    sandbox.pinfra(&["diff", plan]).expect_code(0);
}

#[test]
fn unlisted_topics_under_the_prefix_are_reported_and_pruned_only_on_request() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let (_dir, plan) =
        applied_then_edited(&sandbox, |t| t.replace("[[topics]]\nname = \"{user_id}.user\"\npartitions = 3\nreplication_factor = 3\n", ""));
    let diff = sandbox.pinfra(&["diff", &plan]);
    diff.expect_code(0);
    assert!(diff.stdout.contains("= msk_topic \"0a1b2c3d4e5f.user\" is left alone"), "{}", diff.stdout);
    assert!(diff.stdout.contains("`--prune` deletes it"), "{}", diff.stdout);
    sandbox.pinfra(&["apply", "--auto-approve", &plan]).expect_code(0);

    let pruned = sandbox.pinfra(&["diff", "--prune", &plan]);
    pruned.expect_code(2);
    assert!(pruned.stdout.contains("- msk_topic \"0a1b2c3d4e5f.user\" will be deleted"), "{}", pruned.stdout);
    sandbox.reset_calls();
    sandbox.pinfra(&["apply", "--auto-approve", "--prune", &plan]).expect_code(0);
    assert_eq!(topic_writes(&sandbox), ["DELETE 0a1b2c3d4e5f.user"]);
    sandbox.pinfra(&["diff", &plan]).expect_code(0);
}

#[test]
fn destroy_deletes_the_plans_topics() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    sandbox.pinfra(&["apply", "--auto-approve", PLAN]).expect_code(0);
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = plan_copy(dir.path(), PLAN, |t| t.replace("force_destroy = false", "force_destroy = true"));
    sandbox.reset_calls();
    sandbox.pinfra(&["destroy", "--auto-approve", plan.to_str().unwrap()]).expect_code(0);
    let mut deleted = topic_writes(&sandbox);
    deleted.sort();
    assert_eq!(deleted, ["DELETE 0a1b2c3d4e5f.geo", "DELETE 0a1b2c3d4e5f.pin", "DELETE 0a1b2c3d4e5f.user"]);
    let diff = diff_json(&sandbox, PLAN);
    // The plan's resources, the brokers' rule and the S3 endpoint among them.
    assert_eq!(diff["summary"]["create"], 13, "{diff:#}");
}

#[test]
fn stale_answers_are_waited_out() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    // For 1.5 s after each change, MSK's answers show the state before it.
    sandbox.msk_settings(serde_json::json!({"stale_ms": 1500}));
    let started = Instant::now();
    sandbox.pinfra(&["apply", "--auto-approve", PLAN]).expect_code(0);
    assert!(started.elapsed().as_millis() >= 1500, "apply returned before MSK's answers caught up");
    // Right after apply, the topics are seen as created: no second create.
    sandbox.pinfra(&["diff", PLAN]).expect_code(0);
}

#[test]
fn the_topic_api_needs_an_active_cluster() {
    let sandbox = Sandbox::start();
    sandbox.msk_settings(serde_json::json!({"cluster_delay_ms": 600_000}));
    sandbox.seed_cluster(CLUSTER, "us-east-1");
    let diff = sandbox.pinfra(&["diff", PLAN]);
    diff.expect_code(1);
    assert!(diff.stderr.contains("the pipeline cannot use this cluster: it is CREATING, not ACTIVE"), "{}", diff.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn old_kafka_and_missing_iam_auth_are_reported_together() {
    let sandbox = Sandbox::start();
    let kafka = aws_sdk_kafka::Client::new(&sandbox.sdk_config("us-east-1").await);
    kafka
        .create_cluster()
        .cluster_name(CLUSTER)
        .kafka_version("2.8.1")
        .number_of_broker_nodes(3)
        .broker_node_group_info(
            aws_sdk_kafka::types::BrokerNodeGroupInfo::builder()
                .instance_type("kafka.m5.large")
                .client_subnets("subnet-1")
                .client_subnets("subnet-2")
                .client_subnets("subnet-3")
                .build(),
        )
        .send()
        .await
        .expect("create cluster");
    let diff = sandbox.pinfra(&["diff", PLAN]);
    diff.expect_code(1);
    assert!(
        diff.stderr.contains("it runs Kafka 2.8.1; the MSK topic API needs 3.6.0 or later; IAM client authentication is off"),
        "{}",
        diff.stderr
    );
}

#[test]
fn hundreds_of_topics_are_listed_across_pages() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    // Creation speed is not what this test is about.
    sandbox.msk_settings(serde_json::json!({"topic_delay_ms": 0}));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut extra = String::new();
    for i in 0..250 {
        extra.push_str(&format!("\n[[topics]]\nname = \"{{user_id}}.load-{i:03}\"\npartitions = 1\nreplication_factor = 2\n"));
    }
    let plan = plan_copy(dir.path(), PLAN, |t| t + &extra);
    let plan = plan.to_str().unwrap();
    sandbox.pinfra(&["apply", "--auto-approve", plan]).expect_code(0);
    sandbox.reset_calls();
    let diff = sandbox.pinfra(&["diff", plan]);
    diff.expect_code(0);
    assert!(diff.stdout.starts_with("No changes. 263 resources are up to date.\n\nNetwork paths (VPC vpc-"), "{}", diff.stdout);
    let listings =
        sandbox.calls().into_iter().filter(|(s, op, _)| s == "kafka" && op.starts_with("GET") && op.contains("/topics?")).count();
    assert_eq!(listings, 3, "253 topics in pages of 100");
}
