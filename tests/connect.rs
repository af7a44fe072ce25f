//! MSK Connect against the sandbox's kafkaconnect service: the S3 sink's custom plugin
//! (content-addressed, checked before upload, cleaned up) and its connector (created, updated in
//! place one call at a time and read back, replaced, failures reported as failures).

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{SHIPPED_ARTIFACT, Sandbox, plan_copy, write_plugin_zip};

const PLAN: &str = "plans/pinterest.toml";
const CLUSTER: &str = "pinterest-msk-cluster";
const CONNECTOR: &str = "0a1b2c3d4e5f-connector";
const BUCKET: &str = "user-0a1b2c3d4e5f-bucket";

fn mutating(sandbox: &Sandbox) -> Vec<String> {
    sandbox.writes()
}

fn connect_writes(sandbox: &Sandbox) -> Vec<String> {
    mutating(sandbox).into_iter().filter(|c| c.starts_with("kafkaconnect:")).collect()
}

/// The connector as MSK Connect describes it.
async fn describe(sandbox: &Sandbox) -> aws_sdk_kafkaconnect::operation::describe_connector::DescribeConnectorOutput {
    let client = sandbox.kafkaconnect().await;
    let list = client.list_connectors().connector_name_prefix(CONNECTOR).send().await.unwrap();
    let arn = list.connectors().iter().find(|c| c.connector_name() == Some(CONNECTOR)).and_then(|c| c.connector_arn()).unwrap().to_owned();
    client.describe_connector().connector_arn(arn).send().await.unwrap()
}

async fn plugin_names(sandbox: &Sandbox) -> Vec<String> {
    let client = sandbox.kafkaconnect().await;
    let mut names: Vec<String> =
        client.list_custom_plugins().send().await.unwrap().custom_plugins().iter().filter_map(|p| p.name().map(str::to_owned)).collect();
    names.sort();
    names
}

async fn plugin_objects(sandbox: &Sandbox) -> Vec<String> {
    let s3 = sandbox.s3("us-east-1").await;
    let listing = s3.list_objects_v2().bucket(BUCKET).prefix("pinfra/plugins/").send().await.unwrap();
    listing.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect()
}

fn applied(sandbox: &Sandbox, plan: &str) {
    sandbox.pinfra(&["apply", "-q", "--auto-approve", plan]).expect_code(0);
    sandbox.pinfra(&["diff", "-q", plan]).expect_code(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_connector_is_created_as_the_seed_built_it_and_a_rerun_changes_nothing() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let apply = sandbox.pinfra(&["apply", "--auto-approve", PLAN]);
    apply.expect_code(0);
    assert!(apply.stdout.contains("connector_state = RUNNING"), "{}", apply.stdout);

    let connector = describe(&sandbox).await;
    let config = connector.connector_configuration().unwrap();
    assert_eq!(config["connector.class"], "io.confluent.connect.s3.S3SinkConnector");
    assert_eq!(config["topics.regex"], "0a1b2c3d4e5f\\..*");
    assert_eq!(config["s3.bucket.name"], BUCKET);
    assert_eq!(config["flush.size"], "1");
    assert_eq!(connector.service_execution_role_arn(), Some("arn:aws:iam::123456789012:role/0a1b2c3d4e5f-ec2-access-role"));
    assert_eq!(connector.kafka_cluster_client_authentication().and_then(|a| a.authentication_type()).map(|t| t.as_str()), Some("IAM"));
    assert_eq!(connector.kafka_cluster_encryption_in_transit().and_then(|e| e.encryption_type()).map(|t| t.as_str()), Some("TLS"));
    let bootstrap = connector.kafka_cluster().and_then(|k| k.apache_kafka_cluster()).and_then(|a| a.bootstrap_servers()).unwrap();
    assert!(bootstrap.contains(":9098"), "the SASL/IAM brokers: {bootstrap}");
    let vpc = connector.kafka_cluster().and_then(|k| k.apache_kafka_cluster()).and_then(|a| a.vpc()).unwrap();
    assert_eq!(vpc.subnets().len(), 3, "the cluster's broker subnets");

    let plugins = plugin_names(&sandbox).await;
    assert_eq!(plugins.len(), 1);
    assert!(plugins[0].starts_with("0a1b2c3d4e5f-plugin-") && plugins[0].len() == "0a1b2c3d4e5f-plugin-".len() + 12, "{plugins:?}");
    let objects = plugin_objects(&sandbox).await;
    assert_eq!(objects.len(), 1, "the zip, under its content hash: {objects:?}");
    assert!(objects[0].ends_with(".zip") && objects[0].contains(&plugins[0]["0a1b2c3d4e5f-plugin-".len()..]), "{objects:?}");

    sandbox.reset_calls();
    sandbox.pinfra(&["apply", "--auto-approve", PLAN]).expect_code(0);
    assert_eq!(mutating(&sandbox), Vec::<String>::new(), "a converged apply must not write");
    sandbox.pinfra(&["diff", PLAN]).expect_code(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_configuration_change_is_one_update_and_is_read_back() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_copy(dir.path(), PLAN, |t| t);
    applied(&sandbox, plan.to_str().unwrap());

    let plan = plan_copy(dir.path(), PLAN, |t| {
        t.replace(
            "kafka_connect_version = \"2.7.1\"",
            "kafka_connect_version = \"2.7.1\"\nconfig = { \"flush.size\" = 10, \"rotate.interval.ms\" = \"60000\" }",
        )
    });
    let plan = plan.to_str().unwrap();
    let diff = sandbox.pinfra(&["diff", plan]);
    diff.expect_code(2);
    assert!(diff.stdout.contains(&format!("~ msk_connector \"{CONNECTOR}\" will be updated in place")), "{}", diff.stdout);
    assert!(diff.stdout.contains("config.flush.size: \"1\" -> \"10\""), "{}", diff.stdout);
    assert!(diff.stdout.contains("config.rotate.interval.ms = \"60000\""), "{}", diff.stdout);

    sandbox.reset_calls();
    sandbox.pinfra(&["apply", "-q", "--auto-approve", plan]).expect_code(0);
    let writes = connect_writes(&sandbox);
    assert_eq!(writes.len(), 1, "one UpdateConnector, nothing else: {writes:?}");
    assert!(writes[0].starts_with("kafkaconnect:PUT /v1/connectors/"), "{writes:?}");
    let config = describe(&sandbox).await.connector_configuration().unwrap().clone();
    assert_eq!(config["flush.size"], "10");
    assert_eq!(config["rotate.interval.ms"], "60000");
    sandbox.pinfra(&["diff", plan]).expect_code(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn capacity_and_configuration_go_in_separate_calls_and_unchanged_capacity_is_never_sent() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_copy(dir.path(), PLAN, |t| t);
    applied(&sandbox, plan.to_str().unwrap());

    // Capacity alone: one call (the sandbox, like MSK Connect, rejects an unchanged capacity, so a
    // configuration-only update that also sent the capacity would fail).
    let plan = plan_copy(dir.path(), PLAN, |t| t.replace("workers = 1", "workers = 2"));
    sandbox.reset_calls();
    applied(&sandbox, plan.to_str().unwrap());
    assert_eq!(connect_writes(&sandbox).len(), 1, "{:?}", connect_writes(&sandbox));
    let capacity = describe(&sandbox).await.capacity().and_then(|c| c.provisioned_capacity()).map(|p| p.worker_count());
    assert_eq!(capacity, Some(2));

    // Both: two calls, one after the other, each with the version the previous one left.
    let plan = plan_copy(dir.path(), PLAN, |t| {
        t.replace("workers = 1", "workers = 3")
            .replace("kafka_connect_version = \"2.7.1\"", "kafka_connect_version = \"2.7.1\"\nconfig = { \"tasks.max\" = \"2\" }")
    });
    let plan = plan.to_str().unwrap();
    let diff = sandbox.pinfra(&["diff", plan]);
    assert!(diff.stdout.contains("two UpdateConnector calls"), "{}", diff.stdout);
    sandbox.reset_calls();
    applied(&sandbox, plan);
    assert_eq!(connect_writes(&sandbox).len(), 2, "{:?}", connect_writes(&sandbox));
    let connector = describe(&sandbox).await;
    assert_eq!(connector.capacity().and_then(|c| c.provisioned_capacity()).map(|p| p.worker_count()), Some(3));
    assert_eq!(connector.connector_configuration().unwrap()["tasks.max"], "2");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_immutable_change_replaces_the_connector_delete_first() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_copy(dir.path(), PLAN, |t| t);
    applied(&sandbox, plan.to_str().unwrap());
    let before = describe(&sandbox).await.connector_arn().unwrap().to_owned();

    let plan = plan_copy(dir.path(), PLAN, |t| t.replace("kafka_connect_version = \"2.7.1\"", "kafka_connect_version = \"3.7.x\""));
    let plan = plan.to_str().unwrap();
    let diff = sandbox.pinfra(&["diff", plan]);
    diff.expect_code(2);
    assert!(diff.stdout.contains(&format!("± msk_connector \"{CONNECTOR}\" must be replaced")), "{}", diff.stdout);
    assert!(diff.stdout.contains("kafka_connect_version: \"2.7.1\" -> \"3.7.x\"   # forces replacement"), "{}", diff.stdout);

    sandbox.reset_calls();
    applied(&sandbox, plan);
    let writes = connect_writes(&sandbox);
    let delete = writes.iter().position(|w| w.starts_with("kafkaconnect:DELETE /v1/connectors/")).expect("deleted");
    let create = writes.iter().position(|w| w == "kafkaconnect:POST /v1/connectors").expect("created");
    assert!(delete < create, "the name is fixed: delete, then create: {writes:?}");
    let after = describe(&sandbox).await;
    assert_ne!(after.connector_arn().unwrap(), before);
    assert_eq!(after.kafka_connect_version(), Some("3.7.x"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_plugin_zip_makes_a_new_plugin_and_the_old_one_is_cleaned_up() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_copy(dir.path(), PLAN, |t| t);
    let plan = plan.to_str().unwrap();
    applied(&sandbox, plan);
    let old = plugin_names(&sandbox).await;

    write_plugin_zip(&dir.path().join(SHIPPED_ARTIFACT), &["--marker", "10.0.4"]);
    let diff = sandbox.pinfra(&["diff", plan]);
    diff.expect_code(2);
    assert!(diff.stdout.contains(&format!("- msk_connect_plugin \"{}\" will be deleted", old[0])), "{}", diff.stdout);
    assert!(diff.stdout.contains("# replaced because plugin cannot change in place"), "{}", diff.stdout);
    assert!(diff.stdout.contains("Plan: 1 to create, 1 to replace, 1 to delete"), "{}", diff.stdout);

    applied(&sandbox, plan);
    let new = plugin_names(&sandbox).await;
    assert_eq!(new.len(), 1, "the old plugin is gone: {new:?}");
    assert_ne!(new, old);
    let connector = describe(&sandbox).await;
    let uses = connector.plugins()[0].custom_plugin().and_then(|c| c.custom_plugin_arn()).unwrap();
    assert!(uses.contains(&format!("/{}/", new[0])), "{uses}");
    assert_eq!(plugin_objects(&sandbox).await.len(), 1, "the old zip went with its plugin");
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_updates_are_failures_with_aws_reason_and_the_diff_stays() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_copy(dir.path(), PLAN, |t| t);
    applied(&sandbox, plan.to_str().unwrap());

    let plan = plan_copy(dir.path(), PLAN, |t| {
        t.replace("kafka_connect_version = \"2.7.1\"", "kafka_connect_version = \"2.7.1\"\nconfig = { \"flush.size\" = \"100\" }")
    });
    let plan = plan.to_str().unwrap();
    for state in ["UPDATE_FAILED", "ROLLBACK_COMPLETE"] {
        sandbox.fail_next_connector("update", state, "ConnectorConfigurationInvalid", "flush.size is refused by the worker");
        let apply = sandbox.pinfra(&["apply", "-q", "--auto-approve", plan]);
        apply.expect_code(1);
        assert!(
            apply.stderr.contains(&format!("ended in {state}: ConnectorConfigurationInvalid: flush.size is refused")),
            "{}",
            apply.stderr
        );
        assert!(!apply.stderr.contains("Apply complete"), "{}", apply.stderr);
        let diff = sandbox.pinfra(&["diff", "-q", plan]);
        diff.expect_code(2);
        assert!(diff.stdout.contains("config.flush.size: \"1\" -> \"100\""), "the change is still to be made: {}", diff.stdout);
    }
    // Without the fault, the same apply converges.
    applied(&sandbox, plan);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_create_names_aws_reason_and_the_next_apply_replaces_it() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    sandbox.fail_next_connector("create", "FAILED", "InvalidInput", "the workers cannot reach the cluster");
    let apply = sandbox.pinfra(&["apply", "-q", "--auto-approve", PLAN]);
    apply.expect_code(1);
    assert!(apply.stderr.contains("FAILED: InvalidInput: the workers cannot reach the cluster"), "{}", apply.stderr);
    let diff = sandbox.pinfra(&["diff", PLAN]);
    diff.expect_code(2);
    assert!(diff.stdout.contains("state: \"FAILED\" -> \"RUNNING\"   # forces replacement"), "{}", diff.stdout);
    applied(&sandbox, PLAN);
}

#[tokio::test(flavor = "multi_thread")]
async fn destroy_deletes_the_connector_before_any_plugin_even_an_old_one_left_behind() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_copy(dir.path(), PLAN, |t| t);
    let plan = plan.to_str().unwrap();
    applied(&sandbox, plan);
    // A new zip whose replacement fails half-way: the connector is gone and re-created on the new
    // plugin, but the old plugin's deletion is refused, so both plugins remain.
    write_plugin_zip(&dir.path().join(SHIPPED_ARTIFACT), &["--marker", "next"]);
    sandbox.arm_fault("kafkaconnect", Some("DELETE /v1/custom-plugins/*"), None, 500, "InternalServerErrorException", 100);
    let failed = sandbox.pinfra(&["apply", "--auto-approve", plan]);
    failed.expect_code(1);
    sandbox.clear_faults();
    assert_eq!(plugin_names(&sandbox).await.len(), 2);

    let destroy = sandbox.pinfra(&["destroy", "--auto-approve", plan]);
    destroy.expect_code(0);
    let order: Vec<&str> = destroy.stderr.lines().filter(|l| l.contains(": deleted")).collect();
    let connector = order.iter().position(|l| l.contains("msk_connector")).expect("connector deleted");
    assert!(order.iter().filter(|l| l.contains("msk_connect_plugin")).count() == 2, "{order:?}");
    assert!(order.iter().position(|l| l.contains("msk_connect_plugin")).unwrap() > connector, "{order:?}");
    assert!(plugin_names(&sandbox).await.is_empty());
}

#[test]
fn a_broken_zip_is_refused_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_copy(dir.path(), PLAN, |t| t);
    let plan = plan.to_str().unwrap();
    let zip = dir.path().join(SHIPPED_ARTIFACT);
    for (variant, says) in [("not-zip", "not a zip archive"), ("no-jar", "holds no .jar file"), ("no-class", "holds the connector class")] {
        write_plugin_zip(&zip, &["--variant", variant]);
        let run = common::pinfra_command(&["validate", plan]).output().map(common::Run::from).unwrap();
        run.expect_code(1);
        assert!(run.stderr.contains(says), "{variant}: {}", run.stderr);
        assert!(run.stderr.contains("plan.toml:") && run.stderr.contains("source = "), "points at the key: {}", run.stderr);
        assert!(run.stderr.contains("hint:"), "{}", run.stderr);
    }
    std::fs::remove_file(&zip).unwrap();
    let run = common::pinfra_command(&["validate", plan]).output().map(common::Run::from).unwrap();
    run.expect_code(1);
    assert!(run.stderr.contains("cannot read the plugin zip") && run.stderr.contains("Confluent Hub"), "{}", run.stderr);
}

#[test]
fn validate_shows_which_topics_the_regex_selects_and_refuses_one_that_selects_none() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_copy(dir.path(), PLAN, |t| t);
    let run = common::pinfra_command(&["validate", plan.to_str().unwrap()]).output().map(common::Run::from).unwrap();
    run.expect_code(0);
    assert!(run.stderr.contains("matches 0a1b2c3d4e5f.pin, 0a1b2c3d4e5f.geo, 0a1b2c3d4e5f.user"), "{}", run.stderr);

    let plan = plan_copy(dir.path(), PLAN, |t| t.replace(r"topics_regex = '{user_id}\..*'", "topics_regex = \"{user_id}\\\\.clicks\""));
    let run = common::pinfra_command(&["validate", plan.to_str().unwrap()]).output().map(common::Run::from).unwrap();
    run.expect_code(1);
    assert!(run.stderr.contains("matches none of the plan's topics"), "{}", run.stderr);

    let plan = plan_copy(dir.path(), PLAN, |t| {
        t.replace(
            "kafka_connect_version = \"2.7.1\"",
            "kafka_connect_version = \"2.7.1\"\nconfig = { \"s3.bucket.name\" = \"someone-elses\" }",
        )
    });
    let run = common::pinfra_command(&["validate", plan.to_str().unwrap()]).output().map(common::Run::from).unwrap();
    run.expect_code(1);
    assert!(run.stderr.contains("not the plan's bucket"), "{}", run.stderr);
    assert!(run.stderr.contains("would not grant the connector s3:PutObject on arn:aws:s3:::someone-elses/"), "{}", run.stderr);
}

/// Serves `body` on a loopback port for every GET, counting requests.
fn serve(body: Vec<u8>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/confluentinc-kafka-connect-s3-10.0.3.zip", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(20) {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            counter.fetch_add(1, Ordering::SeqCst);
            let head =
                format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/zip\r\nConnection: close\r\n\r\n", body.len());
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    (url, hits)
}

fn sha256_of(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap().to_owned()
}

#[test]
fn a_pinned_download_is_verified_then_cached() {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("download.zip");
    write_plugin_zip(&zip, &["--marker", "downloaded"]);
    let sha = sha256_of(&zip);
    let (url, hits) = serve(std::fs::read(&zip).unwrap());
    let cache = dir.path().join("cache");
    let cache_env = [("PINFRA_CACHE_DIR", cache.to_str().unwrap())];
    let with_source = |sha: &str| {
        let sha = sha.to_owned();
        let url = url.clone();
        plan_copy(dir.path(), PLAN, move |t| {
            t.replace("source = \"artifacts/confluentinc-kafka-connect-s3-10.0.3.zip\"", &format!("url = \"{url}\"\nsha256 = \"{sha}\""))
        })
    };

    // A wrong pin: downloaded, refused, nothing cached, no plugin.
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let wrong = with_source(&"0".repeat(64));
    let apply = sandbox.pinfra_with(&["apply", "-q", "--auto-approve", wrong.to_str().unwrap()], &cache_env);
    apply.expect_code(1);
    assert!(apply.stderr.contains(&format!("has SHA-256 {sha}, but the plan pins 0000")), "{}", apply.stderr);
    assert!(!cache.join("plugins").join(format!("{sha}.zip")).exists());

    let plan = with_source(&sha);
    let plan = plan.to_str().unwrap();
    let before = hits.load(Ordering::SeqCst);
    sandbox.pinfra_with(&["apply", "-q", "--auto-approve", plan], &cache_env).expect_code(0);
    assert_eq!(hits.load(Ordering::SeqCst), before + 1, "downloaded once");
    assert!(cache.join("plugins").join(format!("{sha}.zip")).exists(), "and cached");
    assert!(plugin_names_blocking(&sandbox).iter().any(|n| n.ends_with(&sha[..12])));

    // Another environment from the same cache: no second download.
    let fresh = Sandbox::with_cluster(CLUSTER);
    fresh.pinfra_with(&["apply", "-q", "--auto-approve", plan], &cache_env).expect_code(0);
    assert_eq!(hits.load(Ordering::SeqCst), before + 1, "served from the cache");
}

fn plugin_names_blocking(sandbox: &Sandbox) -> Vec<String> {
    tokio::runtime::Runtime::new().unwrap().block_on(plugin_names(sandbox))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_wait_says_it_is_still_waiting() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    sandbox.control("POST", "/_sandbox/kafkaconnect/settings", Some(&serde_json::json!({"connector_delay_ms": 1500})));
    let apply = sandbox.pinfra_with(&["apply", "--auto-approve", PLAN], &[("PINFRA_WAIT_REPORT_MS", "400")]);
    apply.expect_code(0);
    let reports: Vec<&str> = apply.stderr.lines().filter(|l| l.contains("... still waiting for connector")).collect();
    assert!(!reports.is_empty(), "{}", apply.stderr);
    assert!(reports.iter().all(|l| l.contains("CREATING") && l.ends_with(" of 30m")), "state and timeout: {reports:?}");
    // Quiet means quiet.
    sandbox.pinfra(&["destroy", "-q", "--auto-approve", PLAN]).expect_code(0);
    let quiet = sandbox.pinfra_with(&["apply", "-q", "--auto-approve", PLAN], &[("PINFRA_WAIT_REPORT_MS", "400")]);
    quiet.expect_code(0);
    assert!(!quiet.stderr.contains("still waiting"), "{}", quiet.stderr);
}
