//! The API Gateway REST API and `pinfra verify` against the sandbox's data path: execute-api
//! route (deployment snapshots), stand-in REST proxy on the instance, emulated S3 sink.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
mod common;

use common::{Sandbox, plan_copy};

const PLAN: &str = "plans/pinterest.toml";
const CLUSTER: &str = "pinterest-msk-cluster";
const API: &str = "0a1b2c3d4e5f-api";

fn applied(sandbox: &Sandbox, plan: &str) {
    sandbox.pinfra(&["apply", "-q", "--auto-approve", plan]).expect_code(0);
    sandbox.pinfra(&["diff", "-q", plan]).expect_code(0);
}

#[test]
fn apply_then_verify_sends_a_record_through_every_hop() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let apply = sandbox.pinfra(&["apply", "--auto-approve", PLAN]);
    apply.expect_code(0);
    assert!(apply.stdout.contains("invoke_url = http://127.0.0.1:"), "{}", apply.stdout);
    sandbox.pinfra(&["diff", PLAN]).expect_code(0);

    let verify = sandbox.pinfra(&["verify", PLAN]);
    verify.expect_code(0);
    assert!(verify.stdout.contains("verify: 3 of 3 topics passed every hop"), "{}", verify.stdout);
    for topic in ["pin", "geo", "user"] {
        let key = format!("s3://user-0a1b2c3d4e5f-bucket/topics/0a1b2c3d4e5f.{topic}/partition=");
        assert!(verify.stdout.contains(&key), "{topic}: {}", verify.stdout);
    }
    assert_eq!(verify.stdout.matches("  ok   proxy accepted at partition").count(), 3, "{}", verify.stdout);
    // Running it again sends new records and finds them again (not the old objects).
    sandbox.pinfra(&["verify", PLAN]).expect_code(0);
}

#[test]
fn a_new_proxy_port_updates_the_integration_redeploys_and_verify_passes() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_copy(dir.path(), PLAN, |t| t);
    let plan = plan.to_str().unwrap();
    applied(&sandbox, plan);

    let plan = plan_copy(dir.path(), PLAN, |t| t.replace("rest_proxy_port = 8082", "rest_proxy_port = 8090"));
    let plan = plan.to_str().unwrap();
    let diff = sandbox.pinfra(&["diff", plan]);
    diff.expect_code(2);
    assert!(diff.stdout.contains(&format!("~ apigateway_rest_api \"{API}\" will be updated in place")), "{}", diff.stdout);
    assert!(diff.stdout.contains("route.integration"), "{}", diff.stdout);
    assert!(diff.stdout.contains("deployment: "), "a redeploy: {}", diff.stdout);
    assert!(diff.stdout.contains("a new deployment makes the route live"), "{}", diff.stdout);

    sandbox.reset_calls();
    applied(&sandbox, plan);
    let deployments = sandbox.calls().into_iter().filter(|(s, o, _)| s == "apigateway" && o.ends_with("/deployments")).count();
    assert_eq!(deployments, 1, "one new deployment");
    let verify = sandbox.pinfra(&["verify", plan]);
    verify.expect_code(0);
    assert!(verify.stdout.contains("verify: 3 of 3 topics passed every hop"), "{}", verify.stdout);
}

#[test]
fn with_the_proxy_stopped_verify_fails_and_names_the_proxy_hop() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    applied(&sandbox, PLAN);
    sandbox.control("POST", "/_sandbox/restproxy/stop", Some(&serde_json::json!({})));
    let verify = sandbox.pinfra(&["verify", "--wait", "5", PLAN]);
    verify.expect_code(1);
    assert_eq!(verify.stdout.matches("  FAIL proxy ").count(), 3, "{}", verify.stdout);
    assert!(verify.stdout.contains("  ok   api "), "the gateway itself answered: {}", verify.stdout);
    assert!(verify.stdout.contains("sudo systemctl status kafka-rest"), "{}", verify.stdout);
    assert!(verify.stderr.contains("verify failed for 0a1b2c3d4e5f.pin (proxy)"), "{}", verify.stderr);
}

#[test]
fn a_topic_the_connector_does_not_read_fails_the_sink_hop() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_copy(dir.path(), PLAN, |t| t.replace(r"topics_regex = '{user_id}\..*'", "topics_regex = \"{user_id}\\\\.(pin|geo)\""));
    let plan = plan.to_str().unwrap();
    applied(&sandbox, plan);
    let verify = sandbox.pinfra(&["verify", "--wait", "3", plan]);
    verify.expect_code(1);
    assert!(verify.stdout.contains("verify: 2 of 3 topics passed every hop"), "{}", verify.stdout);
    assert!(verify.stdout.contains("  FAIL sink "), "{}", verify.stdout);
    assert!(verify.stdout.contains("does not match `0a1b2c3d4e5f.user`"), "{}", verify.stdout);
    assert!(verify.stderr.contains("verify failed for 0a1b2c3d4e5f.user (sink)"), "{}", verify.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_key_is_required_made_and_used_by_verify_but_never_printed() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_copy(dir.path(), PLAN, |t| t.replace("stage = \"dev\"", "stage = \"dev\"\napi_key_required = true"));
    let plan = plan.to_str().unwrap();
    let apply = sandbox.pinfra(&["apply", "--auto-approve", plan]);
    apply.expect_code(0);
    sandbox.pinfra(&["diff", "-q", plan]).expect_code(0);
    let invoke_url = apply.stdout.lines().find_map(|l| l.strip_prefix("invoke_url = ")).unwrap().to_owned();

    // Without the key, API Gateway refuses the call.
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let refused = agent
        .post(&format!("{invoke_url}/topics/0a1b2c3d4e5f.pin"))
        .header("Content-Type", "application/vnd.kafka.json.v2+json")
        .send(r#"{"records":[{"value":{"x":1}}]}"#)
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);

    let verify = sandbox.pinfra(&["verify", "-vv", plan]);
    verify.expect_code(0);
    let apigateway = aws_sdk_apigateway::Client::new(&sandbox.sdk_config("us-east-1").await);
    let keys = apigateway.get_api_keys().include_values(true).send().await.unwrap();
    let value = keys.items().iter().find(|k| k.name() == Some("0a1b2c3d4e5f-api-key")).and_then(|k| k.value()).unwrap().to_owned();
    assert!(!verify.stdout.contains(&value) && !verify.stderr.contains(&value), "the key is a secret");
}

/// An API made outside the console is EDGE by default; API Gateway changes an endpoint type in
/// place (UpdateRestApi on `/endpointConfiguration/types/EDGE`), so pinfra converts it and keeps
/// its id, its invoke URL's API and its stage, instead of deleting it.
#[tokio::test(flavor = "multi_thread")]
async fn an_edge_api_is_made_regional_in_place_not_replaced() {
    use aws_sdk_apigateway::types::{Op, PatchOperation};
    let sandbox = Sandbox::with_cluster(CLUSTER);
    applied(&sandbox, PLAN);
    let apigateway = aws_sdk_apigateway::Client::new(&sandbox.sdk_config("us-east-1").await);
    let apis = apigateway.get_rest_apis().send().await.unwrap();
    let id = apis.items().iter().find(|a| a.name() == Some(API)).and_then(|a| a.id()).unwrap().to_owned();
    let to_edge = PatchOperation::builder().op(Op::Replace).path("/endpointConfiguration/types/REGIONAL").value("EDGE").build();
    apigateway.update_rest_api().rest_api_id(&id).patch_operations(to_edge).send().await.unwrap();

    let diff = sandbox.pinfra(&["diff", PLAN]);
    diff.expect_code(2);
    assert!(diff.stdout.contains(&format!("~ apigateway_rest_api \"{API}\" will be updated in place")), "{}", diff.stdout);
    assert!(diff.stdout.contains("endpoint: \"EDGE\" -> \"REGIONAL\""), "{}", diff.stdout);

    sandbox.reset_calls();
    applied(&sandbox, PLAN);
    let writes: Vec<String> = sandbox.calls().into_iter().filter(|(s, _, m)| s == "apigateway" && *m).map(|(_, o, _)| o).collect();
    assert_eq!(writes, [format!("PATCH /restapis/{id}")], "one UpdateRestApi, nothing deleted or created");
    let api = apigateway.get_rest_api().rest_api_id(&id).send().await.unwrap();
    let types: Vec<&str> = api.endpoint_configuration().map(|e| e.types().iter().map(|t| t.as_str()).collect()).unwrap_or_default();
    assert_eq!(types, ["REGIONAL"]);
}

/// Turning `api_key_required` on for an API that exists ended with `apigateway:UpdateMethod:
/// HTTP 500:` (the sandbox had no UpdateMethod, so the transition was never run). Now: on, the
/// method requires a key, the key and usage plan are made, calls without the key are refused;
/// off again, the method takes calls without a key and pinfra's key and usage plan are gone.
/// Each apply ends in a converged diff.
#[tokio::test(flavor = "multi_thread")]
async fn api_key_required_can_be_turned_on_and_off_for_an_existing_api() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_copy(dir.path(), PLAN, |t| t);
    let plan = plan.to_str().unwrap();
    applied(&sandbox, plan);
    let apigateway = aws_sdk_apigateway::Client::new(&sandbox.sdk_config("us-east-1").await);
    let key_and_plan = || async {
        let keys = apigateway.get_api_keys().send().await.unwrap();
        let plans = apigateway.get_usage_plans().send().await.unwrap();
        (
            keys.items().iter().any(|k| k.name() == Some("0a1b2c3d4e5f-api-key")),
            plans.items().iter().any(|p| p.name() == Some("0a1b2c3d4e5f-api-plan")),
        )
    };
    let status_without_key = |invoke_url: &str| {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        agent
            .post(&format!("{invoke_url}/topics/0a1b2c3d4e5f.pin"))
            .header("Content-Type", "application/vnd.kafka.json.v2+json")
            .send(r#"{"records":[{"value":{"x":1}}]}"#)
            .unwrap()
            .status()
            .as_u16()
    };
    let output = sandbox.pinfra(&["output", plan]);
    let invoke_url = output.stdout.lines().find_map(|l| l.strip_prefix("invoke_url = ")).unwrap().to_owned();
    assert_ne!(status_without_key(&invoke_url), 403);

    let on = plan_copy(dir.path(), PLAN, |t| t.replace("stage = \"dev\"", "stage = \"dev\"\napi_key_required = true"));
    let on = on.to_str().unwrap();
    let diff = sandbox.pinfra(&["diff", on]);
    diff.expect_code(2);
    assert!(diff.stdout.contains("route.api_key_required: false -> true"), "{}", diff.stdout);
    let apply = sandbox.pinfra(&["apply", "--auto-approve", on]);
    apply.expect_code(0);
    assert!(!apply.stderr.contains("HTTP 500"), "{}", apply.stderr);
    sandbox.pinfra(&["diff", "-q", on]).expect_code(0);
    assert_eq!(key_and_plan().await, (true, true));
    assert_eq!(status_without_key(&invoke_url), 403, "the deployed method requires a key");

    let off = plan_copy(dir.path(), PLAN, |t| t);
    let off = off.to_str().unwrap();
    let diff = sandbox.pinfra(&["diff", off]);
    diff.expect_code(2);
    assert!(diff.stdout.contains("route.api_key_required: true -> false"), "{}", diff.stdout);
    assert!(diff.stdout.contains("api_key"), "the key and its usage plan go: {}", diff.stdout);
    applied(&sandbox, off);
    assert_eq!(key_and_plan().await, (false, false));
    assert_ne!(status_without_key(&invoke_url), 403, "the deployed method takes calls without a key again");
}
