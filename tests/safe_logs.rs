//! Logs that are safe to keep: the whole pipeline at `-vvv`, with known credentials and an API
//! key, prints none of them on stdout or stderr (`src/logging.rs`).

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
mod common;

use common::{Run, Sandbox, plan_copy};

const PLAN: &str = "plans/pinterest.toml";
const CLUSTER: &str = "pinterest-msk-cluster";
/// Credentials as a session gives them; the sandbox checks neither.
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSAFELOGSKEY";
const SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjEHsafeLogsSessionToken0123456789abcdef";

#[tokio::test(flavor = "multi_thread")]
async fn the_whole_pipeline_at_vvv_prints_no_secret() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let dir = tempfile::tempdir().unwrap();
    // verify leaves records in the bucket: destroy deletes them.
    let plan = plan_copy(dir.path(), PLAN, |t| {
        t.replace("stage = \"dev\"", "stage = \"dev\"\napi_key_required = true").replace("force_destroy = false", "force_destroy = true")
    });
    let plan = plan.to_str().unwrap();
    let out = dir.path().join("rendered");
    let credentials = [("AWS_SECRET_ACCESS_KEY", SECRET_KEY), ("AWS_SESSION_TOKEN", SESSION_TOKEN)];
    let run = |args: &[&str]| -> Run {
        let run = sandbox.pinfra_with(&[&["-vvv"], args].concat(), &credentials);
        run.expect_code(0);
        run
    };
    let mut runs = vec![
        ("apply", run(&["apply", "--auto-approve", plan])),
        ("diff", run(&["diff", plan])),
        ("output", run(&["output", plan])),
        ("verify", run(&["verify", plan])),
        ("render", run(&["render", plan, "--out", out.to_str().unwrap()])),
    ];
    let apigateway = aws_sdk_apigateway::Client::new(&sandbox.sdk_config("us-east-1").await);
    let keys = apigateway.get_api_keys().include_values(true).send().await.unwrap();
    let key = keys.items().iter().find(|k| k.name() == Some("0a1b2c3d4e5f-api-key")).and_then(|k| k.value()).unwrap().to_owned();
    runs.push(("destroy", run(&["destroy", "--auto-approve", plan])));

    // The logs are there, at trace: the SDK's answers, and the key's among them, masked.
    let apply = &runs[0].1;
    assert!(apply.stderr.contains("output_or_error=") && apply.stderr.contains("CreateApiKeyOutput"), "no trace lines");
    assert!(apply.stderr.contains(r#"value: Some("********")"#), "the key's value, masked");
    assert!(runs[3].1.stdout.contains("3 of 3 topics passed every hop"), "verify used the key: {}", runs[3].1.stdout);
    for (command, run) in &runs {
        for (what, secret) in [("the API key", key.as_str()), ("the secret access key", SECRET_KEY), ("the session token", SESSION_TOKEN)] {
            assert!(!run.stdout.contains(secret), "`{command} -vvv` printed {what} on stdout");
            assert!(!run.stderr.contains(secret), "`{command} -vvv` printed {what} on stderr");
        }
        assert!(!run.stderr.contains('\u{1b}'), "`{command} -vvv`: colour codes in a log that is not a terminal");
    }
}
