//! The EC2 Kafka client instance: launched with the user-data `pinfra render` writes, IMDSv2,
//! an encrypted root volume, the role's instance profile; replaced when its user-data changes,
//! resized in place, never launched twice.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
mod common;

use base64::Engine as _;
use common::{Sandbox, plan_copy};

const PLAN: &str = "plans/pinterest.toml";
const NAME: &str = "0a1b2c3d4e5f-kafka-client";

async fn instances(sandbox: &Sandbox) -> Vec<aws_sdk_ec2::types::Instance> {
    let ec2 = aws_sdk_ec2::Client::new(&sandbox.sdk_config("us-east-1").await);
    let out = ec2
        .describe_instances()
        .filters(aws_sdk_ec2::types::Filter::builder().name("tag:Name").values(NAME).build())
        .filters(
            aws_sdk_ec2::types::Filter::builder().name("instance-state-name").values("pending").values("running").values("stopped").build(),
        )
        .send()
        .await
        .expect("describe instances");
    out.reservations().iter().flat_map(|r| r.instances().to_vec()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_instance_runs_the_rendered_user_data_with_imdsv2_and_an_encrypted_volume() {
    let sandbox = Sandbox::with_cluster("pinterest-msk-cluster");
    sandbox.pinfra(&["apply", "--auto-approve", PLAN]).expect_code(0);
    let running = instances(&sandbox).await;
    assert_eq!(running.len(), 1);
    let instance = &running[0];
    assert!(instance.iam_instance_profile().and_then(|p| p.arn()).unwrap_or_default().ends_with("/0a1b2c3d4e5f-ec2-access-role"));
    assert_eq!(instance.metadata_options().and_then(|m| m.http_tokens()).map(|t| t.as_str()), Some("required"));

    let ec2 = aws_sdk_ec2::Client::new(&sandbox.sdk_config("us-east-1").await);
    let root = instance.block_device_mappings().iter().find_map(|m| m.ebs().and_then(|e| e.volume_id())).expect("root volume");
    let volume = ec2.describe_volumes().volume_ids(root).send().await.expect("volume");
    assert_eq!(volume.volumes()[0].encrypted(), Some(true));
    assert_eq!(volume.volumes()[0].size(), Some(20));

    let attribute = ec2
        .describe_instance_attribute()
        .instance_id(instance.instance_id().unwrap())
        .attribute(aws_sdk_ec2::types::InstanceAttributeName::UserData)
        .send()
        .await
        .expect("user data");
    let user_data = base64::engine::general_purpose::STANDARD.decode(attribute.user_data().and_then(|u| u.value()).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    sandbox.pinfra(&["render", "--out", dir.path().to_str().unwrap(), PLAN]).expect_code(0);
    assert_eq!(user_data, std::fs::read(dir.path().join("user-data.sh")).unwrap(), "the instance's user-data is render's, byte for byte");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_version_change_replaces_the_instance_and_says_why() {
    let sandbox = Sandbox::with_cluster("pinterest-msk-cluster");
    sandbox.pinfra(&["apply", "--auto-approve", PLAN]).expect_code(0);
    let before = instances(&sandbox).await[0].instance_id().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_copy(dir.path(), PLAN, |t| t.replace("confluent_version = \"7.6.1\"", "confluent_version = \"7.7.0\""));
    let plan = plan.to_str().unwrap();
    let diff = sandbox.pinfra(&["diff", plan]);
    diff.expect_code(2);
    assert!(diff.stdout.contains(&format!("± ec2_instance \"{NAME}\" must be replaced")), "{}", diff.stdout);
    assert!(diff.stdout.contains("# replaced because user_data_sha256 cannot change in place"), "{}", diff.stdout);
    sandbox.pinfra(&["apply", "--auto-approve", plan]).expect_code(0);
    let after = instances(&sandbox).await;
    assert_eq!(after.len(), 1, "the old instance is terminated");
    assert_ne!(after[0].instance_id().unwrap(), before);
    sandbox.pinfra(&["diff", plan]).expect_code(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_instance_type_change_is_made_in_place() {
    let sandbox = Sandbox::with_cluster("pinterest-msk-cluster");
    sandbox.pinfra(&["apply", "--auto-approve", PLAN]).expect_code(0);
    let before = instances(&sandbox).await[0].instance_id().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_copy(dir.path(), PLAN, |t| t.replace("rest_proxy_port = 8082", "rest_proxy_port = 8082\ninstance_type = \"t3.small\""));
    let plan = plan.to_str().unwrap();
    let diff = sandbox.pinfra(&["diff", plan]);
    diff.expect_code(2);
    assert!(diff.stdout.contains(&format!("~ ec2_instance \"{NAME}\" will be updated in place")), "{}", diff.stdout);
    assert!(
        diff.stdout.contains("# the instance type changes in place: the instance is stopped, resized and started again"),
        "{}",
        diff.stdout
    );
    assert!(diff.stdout.contains("route.integration:") && diff.stdout.contains("(known after apply)"), "{}", diff.stdout);
    sandbox.reset_calls();
    sandbox.pinfra(&["apply", "--auto-approve", plan]).expect_code(0);
    let writes: Vec<String> = sandbox.writes().into_iter().map(|w| w.split_once(':').map_or(w.clone(), |(_, op)| op.to_owned())).collect();
    // A started instance has a new public DNS name, so the REST API's integration follows it
    // and is deployed (the diff showed it as known after apply).
    assert_eq!(&writes[..3], ["StopInstances", "ModifyInstanceAttribute", "StartInstances"]);
    let api: Vec<&str> = writes[3..].iter().map(|w| w.split(' ').next().unwrap_or_default()).collect();
    assert_eq!(api, ["PUT", "POST", "PATCH"], "integration, deployment, stage: {writes:?}");
    let after = instances(&sandbox).await;
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].instance_id().unwrap(), before);
    assert_eq!(after[0].instance_type().map(|t| t.as_str()), Some("t3.small"));
    sandbox.pinfra(&["diff", plan]).expect_code(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_launch_whose_answer_is_lost_does_not_start_a_second_instance() {
    let sandbox = Sandbox::with_cluster("pinterest-msk-cluster");
    // RunInstances takes effect, then the answer is lost twice: the SDK sends it again with the
    // same ClientToken, and EC2 answers with the instance it already launched.
    sandbox.arm_fault_after("ec2", "RunInstances", 503, "ServiceUnavailable", 2);
    sandbox.pinfra(&["apply", "--auto-approve", PLAN]).expect_code(0);
    let launched = sandbox.calls().into_iter().filter(|(_, op, _)| op == "RunInstances").count();
    assert_eq!(launched, 3, "the launch was sent three times");
    assert_eq!(instances(&sandbox).await.len(), 1);
    sandbox.pinfra(&["diff", PLAN]).expect_code(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn going_back_to_an_earlier_configuration_launches_a_new_instance() {
    // EC2 remembers a ClientToken after its instance is terminated: going back to configuration
    // A after B would be answered with A's terminated instance.
    let sandbox = Sandbox::with_cluster("pinterest-msk-cluster");
    sandbox.pinfra(&["apply", "--auto-approve", PLAN]).expect_code(0);
    let first = instances(&sandbox).await[0].instance_id().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let other = plan_copy(dir.path(), PLAN, |t| t.replace("confluent_version = \"7.6.1\"", "confluent_version = \"7.7.0\""));
    sandbox.pinfra(&["apply", "--auto-approve", other.to_str().unwrap()]).expect_code(0);
    sandbox.pinfra(&["apply", "--auto-approve", PLAN]).expect_code(0);
    let now = instances(&sandbox).await;
    assert_eq!(now.len(), 1);
    assert_ne!(now[0].instance_id().unwrap(), first, "a new instance, not the terminated first one");
    assert_eq!(now[0].state().and_then(|s| s.name()).map(|n| n.as_str()), Some("running"));
    sandbox.pinfra(&["diff", PLAN]).expect_code(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ssh_public_key_is_imported_and_given_to_the_instance() {
    let sandbox = Sandbox::with_cluster("pinterest-msk-cluster");
    let dir = tempfile::tempdir().unwrap();
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGVhwZCaYk1Jv0wE0c2bUmg5J5mEhO4dXhjTq7cFYf2S test@pinfra";
    let plan = plan_copy(dir.path(), PLAN, |t| {
        t.replace("rest_proxy_port = 8082", &format!("rest_proxy_port = 8082\nssh_public_key = \"{key}\""))
    });
    let plan = plan.to_str().unwrap();
    sandbox.pinfra(&["apply", "--auto-approve", plan]).expect_code(0);
    let running = instances(&sandbox).await;
    assert_eq!(running[0].key_name(), Some(NAME));
    sandbox.pinfra(&["diff", plan]).expect_code(0);

    // A private key is refused before anything is sent.
    let private = plan_copy(dir.path(), PLAN, |t| {
        t.replace("rest_proxy_port = 8082", "rest_proxy_port = 8082\nssh_public_key = \"-----BEGIN OPENSSH PRIVATE KEY-----\"")
    });
    let refused = sandbox.pinfra(&["validate", private.to_str().unwrap()]);
    refused.expect_code(1);
    assert!(refused.stderr.contains("this is a private key"), "{}", refused.stderr);
}

/// `pinfra output` used to print `instance_public_dns = ` (an empty value) for a stopped
/// instance, which has no public address: now it says why there is none.
#[tokio::test(flavor = "multi_thread")]
async fn output_says_a_stopped_instance_has_no_public_address_instead_of_an_empty_value() {
    let sandbox = Sandbox::with_cluster("pinterest-msk-cluster");
    sandbox.pinfra(&["apply", "--auto-approve", PLAN]).expect_code(0);
    let id = instances(&sandbox).await[0].instance_id().unwrap().to_owned();
    let ec2 = aws_sdk_ec2::Client::new(&sandbox.sdk_config("us-east-1").await);
    ec2.stop_instances().instance_ids(&id).send().await.expect("stop");
    for _ in 0..100 {
        let state = instances(&sandbox).await[0].state().and_then(|s| s.name()).map(|n| n.as_str().to_owned());
        if state.as_deref() == Some("stopped") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    let output = sandbox.pinfra(&["output", PLAN]);
    output.expect_code(0);
    let why = "(none: the instance is stopped; `pinfra apply` starts it)";
    for name in ["instance_public_dns", "instance_public_ip", "instance_ssh"] {
        assert!(output.stdout.contains(&format!("\n{name} = {why}\n")), "{name}:\n{}", output.stdout);
    }
    assert!(!output.stdout.lines().any(|l| l.ends_with(" = ")), "no empty value:\n{}", output.stdout);
    let json: serde_json::Value = serde_json::from_str(&sandbox.pinfra(&["output", "--json", PLAN]).stdout).unwrap();
    assert_eq!(json["instance_public_dns"], serde_json::Value::Null);
    assert_eq!(json["instance_id"], serde_json::Value::from(id));
}
