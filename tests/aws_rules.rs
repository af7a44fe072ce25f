//! Rules AWS enforces that pinfra and its sandbox once both got wrong, so no test could see
//! them (issue "defects that the code and the sandbox share"). The sandbox now enforces each
//! rule as AWS does; each test is named after what broke, and failed on the code before its fix.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
mod common;

use common::{Sandbox, plan_copy};

const PLAN: &str = "plans/pinterest.toml";
const CLUSTER: &str = "pinterest-msk-cluster";
const BUCKET: &str = "user-0a1b2c3d4e5f-bucket";

/// Kafka producers from 3.0 on are idempotent by default (KAFKA-13598), the Kafka CLI on the
/// client among them, and MSK implies `WriteDataIdempotently` only when `WriteData` covers
/// every topic ("Create authorization policies"); pinfra scopes topics by prefix, so the
/// role must grant it on the cluster, or every idempotent produce is refused.
#[test]
fn an_idempotent_producer_may_produce_with_the_roles_topic_scoped_grants() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    sandbox.control("POST", "/_sandbox/authz/settings", Some(&serde_json::json!({"enforce": true, "idempotent_producer": true})));
    sandbox.pinfra(&["apply", "-q", "--auto-approve", PLAN]).expect_code(0);
    let verify = sandbox.pinfra(&["verify", PLAN]);
    assert!(verify.code == 0, "verify failed:\n{}\n{}", verify.stdout, verify.stderr);
    assert!(verify.stdout.contains("verify: 3 of 3 topics passed every hop"), "{}", verify.stdout);
}

/// API Gateway refuses DeleteUsagePlan while the plan lists API stages (BadRequestException,
/// "Cannot delete Usage Plan ... because there are API Stages associated with it";
/// aws/aws-sdk-js #3841): destroy takes the stage out first.
#[tokio::test(flavor = "multi_thread")]
async fn destroy_with_an_api_key_takes_the_stage_out_of_the_usage_plan_first() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_copy(dir.path(), PLAN, |t| t.replace("stage = \"dev\"", "stage = \"dev\"\napi_key_required = true"));
    let plan = plan.to_str().unwrap();
    sandbox.pinfra(&["apply", "-q", "--auto-approve", plan]).expect_code(0);
    let destroy = sandbox.pinfra(&["destroy", "--auto-approve", plan]);
    assert!(destroy.code == 0, "destroy failed:\n{}\n{}", destroy.stdout, destroy.stderr);
    let apigateway = aws_sdk_apigateway::Client::new(&sandbox.sdk_config("us-east-1").await);
    let plans = apigateway.get_usage_plans().send().await.unwrap();
    assert_eq!(plans.items().len(), 0, "the usage plan is gone");
    let keys = apigateway.get_api_keys().send().await.unwrap();
    assert_eq!(keys.items().len(), 0, "and its key");
}

/// DeleteObjects answers 200 with an error per key it refused (Object Lock, a missing
/// permission). `force_destroy` used to list and delete again forever; it now names the keys
/// and stops.
#[tokio::test(flavor = "multi_thread")]
async fn force_destroy_names_the_keys_s3_refuses_and_stops() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_copy(dir.path(), PLAN, |t| t.replace("force_destroy = false", "force_destroy = true"));
    let plan = plan.to_str().unwrap();
    sandbox.pinfra(&["apply", "-q", "--auto-approve", plan]).expect_code(0);
    let s3 = sandbox.s3("us-east-1").await;
    for key in ["locked/record.json", "free/record.json"] {
        s3.put_object().bucket(BUCKET).key(key).body(b"{}".to_vec().into()).send().await.unwrap();
    }
    sandbox.control(
        "POST",
        "/_sandbox/s3/refuse-delete",
        Some(&serde_json::json!({"bucket": BUCKET, "prefix": "locked/", "code": "AccessDenied", "message": "Access Denied"})),
    );
    let destroy = sandbox.pinfra(&["destroy", "--auto-approve", plan]);
    destroy.expect_code(1);
    assert!(
        destroy
            .stderr
            .contains(&format!("S3 refused to delete 1 object(s) of bucket {BUCKET}: locked/record.json (AccessDenied: Access Denied)")),
        "{}",
        destroy.stderr
    );
    let left = s3.list_objects_v2().bucket(BUCKET).send().await.unwrap();
    let keys: Vec<&str> = left.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["locked/record.json"], "everything else was deleted");
}
