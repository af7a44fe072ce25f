//! Drift that a by-name diff cannot see: grants added by hand to the role pinfra owns, and an
//! instance profile made again under the same name (same ARN, another id).

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
mod common;

use common::{Sandbox, plan_copy};

const PLAN: &str = "plans/pinterest.toml";
const CLUSTER: &str = "pinterest-msk-cluster";
const ROLE: &str = "0a1b2c3d4e5f-ec2-access-role";
const INSTANCE: &str = "0a1b2c3d4e5f-kafka-client";
const ADMIN: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

fn diff_json(sandbox: &Sandbox, plan: &str) -> serde_json::Value {
    let run = sandbox.pinfra(&["diff", "--json", plan]);
    assert!(run.code == 0 || run.code == 2, "diff failed: {}", run.stderr);
    serde_json::from_str(&run.stdout).expect("diff --json is JSON")
}

fn change<'a>(diff: &'a serde_json::Value, address: &str) -> &'a serde_json::Value {
    diff["changes"].as_array().unwrap().iter().find(|c| c["address"] == address).unwrap_or_else(|| panic!("{address} in {diff:#}"))
}

/// Grants `*` on `*` to the role, inline and through an attached customer managed policy.
async fn escalate(iam: &aws_sdk_iam::Client) -> String {
    iam.put_role_policy().role_name(ROLE).policy_name("admin").policy_document(ADMIN).send().await.unwrap();
    let policy = iam.create_policy().policy_name("hand-admin").policy_document(ADMIN).send().await.unwrap();
    let arn = policy.policy().and_then(|p| p.arn()).unwrap().to_owned();
    iam.attach_role_policy().role_name(ROLE).policy_arn(&arn).send().await.unwrap();
    arn
}

#[tokio::test(flavor = "multi_thread")]
async fn privilege_drift_on_a_role_pinfra_owns_is_shown_and_removed() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    sandbox.pinfra(&["apply", "-q", "--auto-approve", PLAN]).expect_code(0);
    let iam = sandbox.iam().await;
    let arn = escalate(&iam).await;

    let diff = sandbox.pinfra(&["diff", PLAN]);
    diff.expect_code(2);
    assert!(diff.stdout.contains("other_inline_policies"), "{}", diff.stdout);
    assert!(diff.stdout.contains(&arn), "{}", diff.stdout);
    assert!(diff.stdout.contains("privilege drift"), "{}", diff.stdout);

    sandbox.pinfra(&["apply", "-q", "--auto-approve", PLAN]).expect_code(0);
    let inline = iam.list_role_policies().role_name(ROLE).send().await.unwrap();
    assert_eq!(inline.policy_names(), ["pinfra-pipeline"]);
    let attached = iam.list_attached_role_policies().role_name(ROLE).send().await.unwrap();
    assert!(attached.attached_policies().is_empty(), "{attached:?}");
    sandbox.pinfra(&["diff", PLAN]).expect_code(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_role_whose_policies_are_its_own_keeps_them() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_copy(dir.path(), PLAN, |t| t.replacen("[role]\n", "[role]\nmanage_policies = false\n", 1));
    let plan = plan.to_str().unwrap();
    sandbox.pinfra(&["apply", "-q", "--auto-approve", plan]).expect_code(0);
    let iam = sandbox.iam().await;
    escalate(&iam).await;
    sandbox.pinfra(&["diff", plan]).expect_code(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recreated_instance_profile_is_associated_again_in_place() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    sandbox.pinfra(&["apply", "-q", "--auto-approve", PLAN]).expect_code(0);
    let iam = sandbox.iam().await;
    // Deleted by hand; the instance is still associated with it.
    iam.remove_role_from_instance_profile().instance_profile_name(ROLE).role_name(ROLE).send().await.unwrap();
    iam.delete_instance_profile().instance_profile_name(ROLE).send().await.unwrap();

    let diff = diff_json(&sandbox, PLAN);
    assert_eq!(change(&diff, &format!("iam_instance_profile \"{ROLE}\""))["action"], "create");
    let instance = change(&diff, &format!("ec2_instance \"{INSTANCE}\""));
    assert_eq!(instance["action"], "update", "{instance:#}");

    sandbox.reset_calls();
    sandbox.pinfra(&["apply", "-q", "--auto-approve", PLAN]).expect_code(0);
    let writes = sandbox.writes();
    assert!(writes.iter().any(|w| w.contains("ReplaceIamInstanceProfileAssociation")), "{writes:?}");
    assert!(!writes.iter().any(|w| w.contains("RunInstances") || w.contains("TerminateInstances")), "{writes:?}");

    let profile = iam.get_instance_profile().instance_profile_name(ROLE).send().await.unwrap();
    let profile_id = profile.instance_profile().unwrap().instance_profile_id().to_owned();
    let ec2 = aws_sdk_ec2::Client::new(&sandbox.sdk_config("us-east-1").await);
    let described = ec2.describe_instances().send().await.unwrap();
    let associated: Vec<String> = described
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .filter(|i| i.state().and_then(|s| s.name()).is_some_and(|s| s.as_str() == "running"))
        .filter_map(|i| i.iam_instance_profile().and_then(|p| p.id()).map(str::to_owned))
        .collect();
    assert_eq!(associated, [profile_id], "the instance has the new profile, so credentials again");
    sandbox.pinfra(&["diff", PLAN]).expect_code(0);
}
