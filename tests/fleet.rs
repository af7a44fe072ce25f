//! A fleet: a cohort of environments on one shared cluster, applied, diffed and destroyed in one
//! run each (`--all-envs`, `--env a,b`), with one environment broken on purpose.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
mod common;

use common::{Sandbox, plan_copy};

const PLAN: &str = "plans/pinterest.toml";
const CLUSTER: &str = "pinterest-msk-cluster";

/// pinfra paces its calls by AWS's quotas (`src/aws/pacing.rs`); at the real rates 20
/// DeleteRestApi calls alone take ten minutes. The sandbox enforces the same quotas with its time
/// 100 times faster, and pinfra is told so.
const SCALE: (&str, &str) = ("PINFRA_TIME_SCALE", "100");

/// A sandbox with the seed's cluster that throttles as AWS does, 100 times faster.
fn throttling_sandbox() -> Sandbox {
    let sandbox = Sandbox::start_with(&["--quotas", "on", "--time-scale", "100"]);
    sandbox.seed_cluster(CLUSTER, "us-east-1");
    sandbox
}

/// The sandbox's throttling answers so far, by `service:Operation`.
fn throttled(sandbox: &Sandbox) -> serde_json::Value {
    let quotas: serde_json::Value = serde_json::from_str(&sandbox.control("GET", "/_sandbox/quotas", None)).unwrap();
    assert_eq!(quotas["enabled"], true, "{quotas}");
    quotas["throttled"].clone()
}

/// No throttling error reached the user.
fn none_surfaced(stderr: &str) {
    for code in ["TooManyRequests", "RequestLimitExceeded", "Throttling", "Rate exceeded"] {
        assert!(!stderr.contains(code), "{code} surfaced:\n{stderr}");
    }
}

/// The base environment plus 19 cohort members: 20 environments.
fn cohort() -> Vec<String> {
    (0..19).map(|i| format!("{:012x}", 0x1b2c_3d4e_5f00_u64 + i)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cohort_of_twenty_applies_with_one_failing_alone_converges_and_destroys_whole() {
    let sandbox = throttling_sandbox();
    let ids = cohort();
    let dir = tempfile::tempdir().unwrap();
    let list = ids.iter().map(|id| format!("\"{id}\"")).collect::<Vec<_>>().join(", ");
    // verify leaves records in the buckets: destroy empties them.
    let plan = plan_copy(dir.path(), PLAN, |t| {
        format!("{}\n[cohort]\nuser_ids = [{list}]\n", t.replace("force_destroy = false", "force_destroy = true"))
    });
    let plan = plan.to_str().unwrap();

    // One environment is broken on purpose: its bucket's name is taken by another plan.
    let broken = &ids[7];
    let s3 = sandbox.s3("us-east-1").await;
    let taken = format!("user-{broken}-bucket");
    s3.create_bucket().bucket(&taken).send().await.unwrap();
    let tag = |k: &str, v: &str| aws_sdk_s3::types::Tag::builder().key(k).value(v).build().unwrap();
    let tagging =
        aws_sdk_s3::types::Tagging::builder().tag_set(tag("pinfra:plan", "other")).tag_set(tag("pinfra:env", "x")).build().unwrap();
    s3.put_bucket_tagging().bucket(&taken).tagging(tagging).send().await.unwrap();

    let apply = sandbox.pinfra_with(&["apply", "-q", "--all-envs", "--auto-approve", plan], &[SCALE]);
    apply.expect_code(1);
    none_surfaced(&apply.stderr);
    assert!(apply.stderr.contains(&format!("apply failed for 1 of 20 environments: {broken}")), "{}", apply.stderr);
    let line = |out: &str, env: &str| out.lines().find(|l| l.starts_with(&format!("{env} "))).unwrap_or_default().to_owned();
    let failed = line(&apply.stdout, broken);
    assert!(failed.contains("FAILED") && failed.contains("belongs to plan `other`"), "{failed}\n{}", apply.stdout);
    for env in std::iter::once("dev").chain(ids.iter().map(String::as_str)).filter(|e| e != broken) {
        assert!(line(&apply.stdout, env).contains("applied"), "{env}: {}", apply.stdout);
    }
    assert!(apply.stdout.contains("20 environments in") && apply.stdout.contains("19 applied, 1 failed"), "{}", apply.stdout);

    // A record goes through two of them, the base and a cohort member, end to end.
    let verify = sandbox.pinfra_with(&["verify", "--env", &format!("dev,{}", ids[0]), plan], &[SCALE]);
    verify.expect_code(0);
    assert!(verify.stdout.contains("verify: 2 environments in") && verify.stdout.contains(": 2 passed"), "{}", verify.stdout);

    // The other 19 converged: a second diff of them is empty.
    let others: Vec<&str> = std::iter::once("dev").chain(ids.iter().map(String::as_str)).filter(|e| e != broken).collect();
    let diff = sandbox.pinfra_with(&["diff", "--env", &others.join(","), plan], &[SCALE]);
    diff.expect_code(0);
    none_surfaced(&diff.stderr);
    assert!(diff.stdout.contains("19 environments in") && diff.stdout.contains(": 19 up to date"), "{}", diff.stdout);

    // Fixed, the next apply converges the broken one too, and a second diff of all 20 is empty.
    s3.delete_bucket_tagging().bucket(&taken).send().await.unwrap();
    s3.delete_bucket().bucket(&taken).send().await.unwrap();
    let apply = sandbox.pinfra_with(&["apply", "-q", "--all-envs", "--auto-approve", plan], &[SCALE]);
    apply.expect_code(0);
    none_surfaced(&apply.stderr);
    assert!(apply.stdout.contains(": 19 up to date, 1 applied") || apply.stdout.contains(": 1 applied, 19 up to date"), "{}", apply.stdout);
    let diff = sandbox.pinfra_with(&["diff", "--all-envs", plan], &[SCALE]);
    diff.expect_code(0);
    assert!(diff.stdout.contains(": 20 up to date"), "{}", diff.stdout);

    // Destroy of all 20 leaves nothing: not a REST API, not the S3 endpoint the connectors
    // shared (kept while another still used it).
    let destroy = sandbox.pinfra_with(&["destroy", "-q", "--all-envs", "--auto-approve", plan], &[SCALE]);
    destroy.expect_code(0);
    none_surfaced(&destroy.stderr);
    assert!(destroy.stdout.contains(": 20 destroyed"), "{}", destroy.stdout);
    let config = sandbox.sdk_config("us-east-1").await;
    let apis = aws_sdk_apigateway::Client::new(&config).get_rest_apis().send().await.unwrap();
    assert_eq!(apis.items().len(), 0, "{:?}", apis.items().iter().map(|a| a.name()).collect::<Vec<_>>());
    let endpoints = aws_sdk_ec2::Client::new(&config).describe_vpc_endpoints().send().await.unwrap();
    let left: Vec<_> = endpoints
        .vpc_endpoints()
        .iter()
        .filter(|e| e.tags().iter().any(|t| t.key() == Some("pinfra:plan")))
        .map(|e| (e.vpc_endpoint_id().unwrap_or_default(), e.state().map(|s| s.as_str().to_owned()), e.tags().to_vec()))
        .collect();
    assert!(left.iter().all(|(_, state, _)| matches!(state.as_deref(), Some("deleted" | "deleting"))), "{left:?}");
    let diff = sandbox.pinfra_with(&["diff", "--all-envs", plan], &[SCALE]);
    diff.expect_code(2);
    assert!(diff.stdout.contains(": 20 with changes"), "{}", diff.stdout);
    // Paced as the sandbox throttles, few calls if any met a throttle (a retry absorbed each).
    eprintln!("throttling answers the sandbox sent: {}", throttled(&sandbox));
}

#[test]
fn an_environment_list_naming_an_unknown_environment_is_refused_before_any_call() {
    let sandbox = Sandbox::start();
    let run = sandbox.pinfra_with(&["diff", "--env", "dev,nope,staging", PLAN], &[SCALE]);
    run.expect_code(1);
    assert!(run.stderr.contains("error: the plan has no environment nope, staging"), "{}", run.stderr);
    assert!(run.stderr.contains("hint: its environments: dev"), "{}", run.stderr);
    assert!(sandbox.calls().is_empty(), "{:?}", sandbox.calls());
}

#[tokio::test(flavor = "multi_thread")]
async fn json_fleet_runs_give_one_document_and_progress_lines() {
    let sandbox = throttling_sandbox();
    let dir = tempfile::tempdir().unwrap();
    let member = "1b2c3d4e5f99";
    let plan = plan_copy(dir.path(), PLAN, |t| format!("{t}\n[cohort]\nuser_ids = [\"{member}\"]\n"));
    let plan = plan.to_str().unwrap();
    let document = |stdout: &str| -> serde_json::Value { serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}")) };

    // --json needs --auto-approve (no question in JSON), and several environments.
    sandbox.pinfra(&["apply", "--all-envs", "--json", plan]).expect_code(1);
    let one = sandbox.pinfra(&["apply", "--json", "--auto-approve", plan]);
    one.expect_code(1);
    assert!(one.stderr.contains("reports a run over several environments"), "{}", one.stderr);

    let diff = sandbox.pinfra_with(&["diff", "--all-envs", "--json", plan], &[SCALE]);
    diff.expect_code(2);
    let diffs = document(&diff.stdout);
    assert_eq!(diffs["command"], "diff");
    assert_eq!(diffs["environments"][1]["name"], member);
    assert_eq!(diffs["environments"][1]["result"], "changes");
    assert_eq!(diffs["diffs"][1]["diff"]["environment"], member, "{diffs}");

    let apply = sandbox.pinfra_with(&["apply", "--all-envs", "--json", "--auto-approve", plan], &[SCALE]);
    apply.expect_code(0);
    none_surfaced(&apply.stderr);
    let result = document(&apply.stdout);
    let results: Vec<&str> = result["environments"].as_array().unwrap().iter().map(|e| e["result"].as_str().unwrap()).collect();
    assert_eq!(results, ["applied", "applied"], "{result}");
    // Every progress line on stderr is one JSON object naming its environment.
    let events: Vec<serde_json::Value> =
        apply.stderr.lines().filter(|l| l.starts_with('{')).map(|l| serde_json::from_str(l).unwrap()).collect();
    let finished = events.iter().filter(|e| e["event"] == "finished" && e["env"] == member).count();
    assert!(finished >= 10, "{}", apply.stderr);
    // A call that waits its turn under a quota says which operation and for how long.
    let well_formed = |e: &serde_json::Value| match e["event"].as_str() {
        Some("note") => e["message"].is_string(),
        Some("paced") => e["operation"].is_string() && e["seconds"].is_f64() && e["env"].is_string(),
        _ => e["resource"].is_string(),
    };
    assert!(events.iter().all(well_formed), "{}", apply.stderr);

    let converged = sandbox.pinfra_with(&["diff", "--all-envs", "--json", plan], &[SCALE]);
    converged.expect_code(0);
    let destroy = sandbox.pinfra_with(&["destroy", "--all-envs", "--json", "--auto-approve", plan], &[SCALE]);
    destroy.expect_code(0);
    let results: Vec<String> =
        document(&destroy.stdout)["environments"].as_array().unwrap().iter().map(|e| e["result"].to_string()).collect();
    assert_eq!(results, ["\"destroyed\"", "\"destroyed\""]);
}
