//! `pinfra import` against a pipeline built the way the seed built it: by raw API calls, as a
//! person clicks through the console (`scripts/sandbox_seed.py handbuilt`), not by pinfra. The
//! plan it writes must reproduce what it found: the next diff shows adopt only (never create,
//! replace or delete), the adopting apply launches and replaces nothing, and a diff after it is
//! empty.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
mod common;

use std::process::Command;

use common::{Sandbox, root, write_plugin_zip};

const USER_ID: &str = "7e8f9a0b1c2d";
const CLUSTER: &str = "pinterest-msk-cluster";

/// Builds the hand-made pipeline into `sandbox` and returns what the seeder printed (JSON).
fn hand_build(sandbox: &Sandbox, dir: &std::path::Path) -> serde_json::Value {
    sandbox.seed_cluster(CLUSTER, "us-east-1");
    let zip = dir.join("confluentinc-kafka-connect-s3-10.0.3.zip");
    write_plugin_zip(&zip, &[]);
    let out = Command::new(root().join(".venv/bin/python"))
        .arg(root().join("scripts/sandbox_seed.py"))
        .args(["--endpoint", &sandbox.url, "handbuilt", USER_ID, "--cluster", CLUSTER, "--zip"])
        .arg(&zip)
        .output()
        .unwrap();
    assert!(out.status.success(), "the hand-built pipeline could not be made: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("the seeder prints its ids as JSON")
}

/// A sandbox with the hand-built pipeline imported into `imported.toml` and adopted by an apply.
fn adopted() -> (Sandbox, tempfile::TempDir, std::path::PathBuf) {
    let sandbox = Sandbox::start();
    let dir = tempfile::tempdir().unwrap();
    hand_build(&sandbox, dir.path());
    let plan = dir.path().join("imported.toml");
    let plan_arg = plan.to_str().unwrap();
    sandbox.pinfra(&["--region", "us-east-1", "import", "--user-id", USER_ID, "--out", plan_arg]).expect_code(0);
    sandbox.pinfra(&["apply", "-q", "--auto-approve", plan_arg]).expect_code(0);
    (sandbox, dir, plan)
}

fn diff_json(sandbox: &Sandbox, plan: &str) -> (i32, serde_json::Value) {
    let run = sandbox.pinfra(&["diff", "--json", plan]);
    (run.code, serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("diff --json is JSON ({e}):\n{}\n{}", run.stdout, run.stderr)))
}

#[test]
fn a_hand_built_pipeline_is_imported_and_then_only_adopted() {
    let sandbox = Sandbox::start();
    let dir = tempfile::tempdir().unwrap();
    let made = hand_build(&sandbox, dir.path());
    let plan = dir.path().join("imported.toml");
    let plan_arg = plan.to_str().unwrap();

    sandbox.reset_calls();
    let import = sandbox.pinfra(&["--region", "us-east-1", "import", "--user-id", USER_ID, "--out", plan_arg]);
    import.expect_code(0);
    assert!(sandbox.writes().is_empty(), "import only reads: {:?}", sandbox.writes());
    let report = &import.stdout;
    for expected in [
        "connector has tasks.max=3 (pinfra's default 1)",
        "is a t2.micro (pinfra's default t3.micro)",
        "root volume of 8 GiB",
        "unencrypted root volume",
        "uses the key pair `7e8f9a0b1c2d-key-pair`",
        "security group is `launch-wizard-1`",
        "keeps its own policies (msk-s3-access)",
        "plugin `7e8f9a0b1c2d-plugin` is used as it is",
        "throttles at 10000 requests/s, burst 5000",
        "deployment made by hand",
    ] {
        assert!(report.contains(expected), "the report lists `{expected}`:\n{report}");
    }
    assert!(!report.contains("not found"), "everything was found:\n{report}");
    let text = std::fs::read_to_string(&plan).unwrap();
    assert!(text.contains("existing = \"{user_id}-plugin\""), "{text}");
    // Editor support: the plan names the schema written beside it.
    assert_eq!(text.lines().next(), Some(pinfra::plan::schema::DIRECTIVE));
    let schema = std::fs::read_to_string(dir.path().join(pinfra::plan::schema::FILE_NAME)).unwrap();
    assert_eq!(schema, pinfra::plan::schema::text());
    sandbox.pinfra(&["validate", plan_arg]).expect_code(0);

    // The next diff: every resource adopted, nothing created, replaced, updated or deleted.
    let (code, diff) = diff_json(&sandbox, plan_arg);
    assert_eq!(code, 2, "adopting is a change");
    let changes = diff["changes"].as_array().unwrap();
    let mut adopted: Vec<String> = Vec::new();
    for change in changes {
        let (id, action) = (change["address"].as_str().unwrap_or_default(), change["action"].as_str().unwrap_or_default());
        assert!(action == "adopt" || action == "no-op", "{id}: {action}, expected adopt: {change:#}");
        if action == "no-op" {
            continue;
        }
        adopted.push(id.to_owned());
        for field in change["fields"].as_array().unwrap() {
            let path = field["path"].as_str().unwrap();
            // Tags are what adopting writes; the REST API's hand-made deployment is redeployed (the
            // report says so): pinfra cannot compare a deployment it did not fingerprint.
            let allowed = path.starts_with("tags.") || (id.starts_with("apigateway_rest_api") && path == "deployment");
            assert!(allowed, "{id} changes `{path}` beyond adopting: {field:#}");
        }
    }
    for kind in [
        "s3_bucket",
        "iam_role",
        "iam_instance_profile",
        "ec2_security_group",
        "ec2_instance",
        "msk_connect_plugin",
        "msk_connector",
        "apigateway_rest_api",
    ] {
        assert!(adopted.iter().any(|id| id.starts_with(kind)), "{kind} is adopted: {adopted:?}");
    }

    // The adopting apply tags and redeploys; it launches, creates and deletes nothing.
    sandbox.reset_calls();
    sandbox.pinfra(&["apply", "-q", "--auto-approve", plan_arg]).expect_code(0);
    let writes = sandbox.writes();
    let forbidden = ["Create", "Run", "Delete", "Terminate", "Put", "Update", "Modify", "Authorize", "Revoke", "Attach"];
    for call in &writes {
        let operation = call.split_once(':').map_or(call.as_str(), |(_, op)| op);
        let tagging = operation.starts_with("Tag") || operation == "CreateTags" || operation == "PutBucketTagging";
        let allowed = tagging || operation == "CreateDeployment" || operation == "UpdateStage";
        assert!(allowed || !forbidden.iter().any(|f| operation.starts_with(f)), "the adopting apply made {call}: {writes:?}");
    }
    let (code, diff) = diff_json(&sandbox, plan_arg);
    assert_eq!(code, 0, "converged after adopting: {diff:#}");

    // The resources are the hand-made ones, not new ones.
    let output = sandbox.pinfra(&["output", "--json", plan_arg]);
    output.expect_code(0);
    let outputs: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(outputs["instance_id"], made["instance_id"], "{outputs:#}");
    assert_eq!(outputs["connector_arn"], made["connector_arn"], "{outputs:#}");
}

#[test]
fn import_never_overwrites_and_names_what_is_missing() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let dir = tempfile::tempdir().unwrap();
    let taken = dir.path().join("taken.toml");
    std::fs::write(&taken, "# mine\n").unwrap();
    let run = sandbox.pinfra(&["--region", "us-east-1", "import", "--user-id", USER_ID, "--out", taken.to_str().unwrap()]);
    run.expect_code(1);
    assert!(run.stderr.contains("never overwrites"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&taken).unwrap(), "# mine\n");

    // Nothing built yet: the plan is the seed's defaults, and the report says what apply creates.
    let plan = dir.path().join("empty.toml");
    let run = sandbox.pinfra(&["--region", "us-east-1", "import", "--user-id", USER_ID, "--out", plan.to_str().unwrap()]);
    run.expect_code(0);
    for missing in ["the role `7e8f9a0b1c2d-ec2-access-role`", "the bucket", "the Kafka client instance", "the connector", "the REST API"] {
        assert!(run.stdout.contains(missing), "reported missing: {missing}\n{}", run.stdout);
    }
    // The plan names the plugin zip that apply would upload; with it beside the plan, it is valid.
    write_plugin_zip(&dir.path().join("artifacts/confluentinc-kafka-connect-s3-10.0.3.zip"), &[]);
    sandbox.pinfra(&["validate", plan.to_str().unwrap()]).expect_code(0);

    // Two clusters and no --cluster: which one is asked for.
    sandbox.seed_cluster("another-cluster", "us-east-1");
    let run =
        sandbox.pinfra(&["--region", "us-east-1", "import", "--user-id", USER_ID, "--out", dir.path().join("x.toml").to_str().unwrap()]);
    run.expect_code(1);
    assert!(run.stderr.contains("2 MSK clusters") && run.stderr.contains("--cluster"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn destroy_keeps_an_adopted_plugin_another_connector_runs() {
    let (sandbox, _dir, plan) = adopted();
    let plan_arg = plan.to_str().unwrap();

    // A second, hand-made connector outside the plan runs the same plugin.
    let client = sandbox.kafkaconnect().await;
    let listed = client.list_connectors().send().await.unwrap();
    let arn = listed.connectors().first().and_then(|c| c.connector_arn()).unwrap().to_owned();
    let mine = client.describe_connector().connector_arn(arn).send().await.unwrap();
    let cluster = mine.kafka_cluster().and_then(|k| k.apache_kafka_cluster()).unwrap();
    let vpc = cluster.vpc().unwrap();
    let plugin_arn = mine.plugins().first().and_then(|p| p.custom_plugin()).and_then(|c| c.custom_plugin_arn()).unwrap().to_owned();
    use aws_sdk_kafkaconnect::types as t;
    client
        .create_connector()
        .connector_name("someone-elses-connector")
        .kafka_connect_version(mine.kafka_connect_version().unwrap())
        .service_execution_role_arn(mine.service_execution_role_arn().unwrap())
        .set_connector_configuration(mine.connector_configuration().cloned())
        .capacity(
            t::Capacity::builder().provisioned_capacity(t::ProvisionedCapacity::builder().mcu_count(1).worker_count(1).build()).build(),
        )
        .kafka_cluster(
            t::KafkaCluster::builder()
                .apache_kafka_cluster(
                    t::ApacheKafkaCluster::builder()
                        .bootstrap_servers(cluster.bootstrap_servers().unwrap())
                        .vpc(
                            t::Vpc::builder()
                                .set_subnets(Some(vpc.subnets().to_vec()))
                                .set_security_groups(Some(vpc.security_groups().to_vec()))
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .kafka_cluster_client_authentication(
            t::KafkaClusterClientAuthentication::builder()
                .authentication_type(t::KafkaClusterClientAuthenticationType::Iam)
                .build()
                .unwrap(),
        )
        .kafka_cluster_encryption_in_transit(
            t::KafkaClusterEncryptionInTransit::builder().encryption_type(t::KafkaClusterEncryptionInTransitType::Tls).build().unwrap(),
        )
        .plugins(
            t::Plugin::builder()
                .custom_plugin(t::CustomPlugin::builder().custom_plugin_arn(&plugin_arn).revision(1).build().unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap();

    let destroy = sandbox.pinfra(&["destroy", "--auto-approve", plan_arg]);
    let all = format!("{}\n{}", destroy.stdout, destroy.stderr);
    assert!(all.contains("still used by connector someone-elses-connector"), "the plugin is kept, and said so:\n{all}");
    let plugins = client.list_custom_plugins().send().await.unwrap();
    assert!(plugins.custom_plugins().iter().any(|p| p.custom_plugin_arn() == Some(plugin_arn.as_str())), "the plugin is still there");
}

#[tokio::test(flavor = "multi_thread")]
async fn giving_the_adopted_plugin_a_zip_moves_the_connector_and_retires_the_hand_made_plugin() {
    let (sandbox, dir, plan) = adopted();
    let plan_arg = plan.to_str().unwrap();

    // The next step the guide suggests: let pinfra manage the zip.
    write_plugin_zip(&dir.path().join("sink.zip"), &[]);
    let text = std::fs::read_to_string(&plan).unwrap().replace("existing = \"{user_id}-plugin\"", "source = \"sink.zip\"");
    std::fs::write(&plan, text).unwrap();
    sandbox.pinfra(&["apply", "-q", "--auto-approve", plan_arg]).expect_code(0);
    sandbox.pinfra(&["diff", "-q", plan_arg]).expect_code(0);

    let client = sandbox.kafkaconnect().await;
    let names: Vec<String> =
        client.list_custom_plugins().send().await.unwrap().custom_plugins().iter().filter_map(|p| p.name().map(str::to_owned)).collect();
    assert_eq!(names.len(), 1, "one plugin left: {names:?}");
    let hashed = names[0].strip_prefix(&format!("{USER_ID}-plugin-")).unwrap_or_default();
    assert_eq!(hashed.len(), 12, "the content-addressed one: {names:?}");
}

/// EC2 attaches the root volume of an instance launched with no block device mappings at the
/// AMI's root device (what DescribeInstances reports as `RootDeviceName`); the sandbox used to
/// attach it elsewhere, and import then blocked the adoption ("its root volume cannot be read").
#[tokio::test(flavor = "multi_thread")]
async fn an_instance_launched_without_block_device_mappings_is_imported() {
    use aws_sdk_ec2::types::{Filter, IamInstanceProfileSpecification, InstanceType, ResourceType, Tag, TagSpecification};
    let sandbox = Sandbox::start();
    let dir = tempfile::tempdir().unwrap();
    hand_build(&sandbox, dir.path());
    let ec2 = aws_sdk_ec2::Client::new(&sandbox.sdk_config("us-east-1").await);
    let name = format!("{USER_ID}-kafka-client");
    let found = ec2.describe_instances().filters(Filter::builder().name("tag:Name").values(&name).build()).send().await.unwrap();
    let old = found.reservations()[0].instances()[0].clone();
    ec2.terminate_instances().instance_ids(old.instance_id().unwrap()).send().await.unwrap();
    // The same instance launched with the API's defaults: no BlockDeviceMappings.
    let launched = ec2
        .run_instances()
        .image_id(old.image_id().unwrap())
        .instance_type(InstanceType::T2Micro)
        .min_count(1)
        .max_count(1)
        .set_key_name(old.key_name().map(str::to_owned))
        .subnet_id(old.subnet_id().unwrap())
        .set_security_group_ids(Some(old.security_groups().iter().filter_map(|g| g.group_id()).map(str::to_owned).collect()))
        .iam_instance_profile(IamInstanceProfileSpecification::builder().name(format!("{USER_ID}-ec2-access-role")).build())
        .tag_specifications(
            TagSpecification::builder().resource_type(ResourceType::Instance).tags(Tag::builder().key("Name").value(&name).build()).build(),
        )
        .send()
        .await
        .unwrap();
    let instance = &launched.instances()[0];
    let root = instance.root_device_name().unwrap();
    assert!(instance.block_device_mappings().iter().any(|m| m.device_name() == Some(root)), "the root volume is at {root}");

    let plan = dir.path().join("imported.toml");
    let import = sandbox.pinfra(&["--region", "us-east-1", "import", "--user-id", USER_ID, "--out", plan.to_str().unwrap()]);
    import.expect_code(0);
    assert!(!import.stdout.contains("root volume cannot be read"), "{}", import.stdout);
}
