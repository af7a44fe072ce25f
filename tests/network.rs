//! The pipeline's network against the sandbox, which enforces the paths in its data path
//! (`docs/network.md`): each scenario breaks or lays out the network as a real account would,
//! shows where `verify` (or `diff`) says it is blocked, then that `apply` opens it, `verify`
//! passes and a second `diff` is empty.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
mod common;

use aws_sdk_ec2::types::{Filter, RuleAction};
use common::{Sandbox, plan_copy, root};

const PLAN: &str = "plans/pinterest.toml";
const CLUSTER: &str = "pinterest-msk-cluster";
const CLIENT_GROUP: &str = "0a1b2c3d4e5f-kafka-client";
const RULE: &str = "0a1b2c3d4e5f-kafka-client-to-brokers";
const ENDPOINT: &str = "0a1b2c3d4e5f-connector-s3";
const CREATE: &str = "\n[msk.create]\nkafka_version = \"3.6.0\"\nbroker_count = 3\ninstance_type = \"kafka.m5.large\"\nstorage_gib = 100\n";

/// A sandbox whose cluster's brokers sit in the seed's usual layout: a VPC of their own with
/// private subnets, and one public subnet.
fn private_layout() -> Sandbox {
    let sandbox = Sandbox::start();
    let out = std::process::Command::new(root().join(".venv/bin/python"))
        .arg(root().join("scripts/sandbox_seed.py"))
        .args(["--endpoint", &sandbox.url, "cluster", CLUSTER, "us-east-1", "--layout", "private"])
        .output()
        .unwrap();
    assert!(out.status.success(), "seeding failed: {}", String::from_utf8_lossy(&out.stderr));
    sandbox
}

async fn ec2(sandbox: &Sandbox) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(&sandbox.sdk_config("us-east-1").await)
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// Applies, proves the data path and a converged diff.
fn converges(sandbox: &Sandbox, plan: &str) {
    sandbox.pinfra(&["apply", "-q", "--auto-approve", plan]).expect_code(0);
    verifies(sandbox, plan);
    sandbox.pinfra(&["diff", "-q", plan]).expect_code(0);
}

fn verifies(sandbox: &Sandbox, plan: &str) {
    let verify = sandbox.pinfra(&["verify", plan]);
    assert!(verify.code == 0, "verify failed:\n{}\n{}", verify.stdout, verify.stderr);
    assert!(verify.stdout.contains("verify: 3 of 3 topics passed every hop"), "{}", verify.stdout);
}

/// `verify` fails at `hop`, and the hop names `cause`.
fn fails_at(sandbox: &Sandbox, plan: &str, hop: &str, cause: &str) {
    let verify = sandbox.pinfra(&["verify", "--wait", "3", plan]);
    verify.expect_code(1);
    let line = verify.stdout.lines().find(|l| l.trim_start().starts_with(&format!("FAIL {hop}"))).unwrap_or_else(|| {
        panic!("no failed {hop} hop:\n{}", verify.stdout);
    });
    assert!(line.contains(cause), "the {hop} hop should name {cause:?}: {line}\n{}", verify.stdout);
}

/// pinfra's rule on the brokers' group and its S3 endpoint, as EC2 has them.
async fn pinfra_pieces(sandbox: &Sandbox) -> (Vec<(String, String)>, Vec<String>) {
    let ec2 = ec2(sandbox).await;
    let rules = ec2.describe_security_group_rules().filters(filter("tag:pinfra:plan", "pinterest")).send().await.unwrap();
    let rules = rules
        .security_group_rules()
        .iter()
        .map(|r| (r.security_group_rule_id().unwrap().to_owned(), r.group_id().unwrap().to_owned()))
        .collect();
    let endpoints = ec2.describe_vpc_endpoints().filters(filter("tag:Name", ENDPOINT)).send().await.unwrap();
    (rules, live_endpoints(&endpoints))
}

/// The endpoints not deleted (EC2 lists a deleted endpoint for a while, in state `deleted`).
fn live_endpoints(out: &aws_sdk_ec2::operation::describe_vpc_endpoints::DescribeVpcEndpointsOutput) -> Vec<String> {
    out.vpc_endpoints()
        .iter()
        .filter(|e| !matches!(e.state().map(|s| s.as_str().to_ascii_lowercase()).as_deref(), Some("deleted" | "deleting")))
        .map(|e| e.vpc_endpoint_id().unwrap().to_owned())
        .collect()
}

/// Removes pinfra's rule and endpoint by hand, as if the pipeline predated them.
async fn remove_pinfra_pieces(sandbox: &Sandbox) {
    let ec2 = ec2(sandbox).await;
    let (rules, endpoints) = pinfra_pieces(sandbox).await;
    for (rule, group) in rules {
        ec2.revoke_security_group_ingress().group_id(group).security_group_rule_ids(rule).send().await.unwrap();
    }
    if !endpoints.is_empty() {
        ec2.delete_vpc_endpoints().set_vpc_endpoint_ids(Some(endpoints)).send().await.unwrap();
    }
}

/// The route tables of the private layout's broker subnets.
async fn broker_route_tables(sandbox: &Sandbox) -> Vec<String> {
    let ec2 = ec2(sandbox).await;
    let tables = ec2.describe_route_tables().filters(filter("tag:Name", &format!("{CLUSTER}-private"))).send().await.unwrap();
    let ids: Vec<String> = tables.route_tables().iter().map(|t| t.route_table_id().unwrap().to_owned()).collect();
    assert!(!ids.is_empty(), "the private layout has a route table for its broker subnets");
    ids
}

async fn vpc_of_cidr(sandbox: &Sandbox, cidr: &str) -> String {
    let ec2 = ec2(sandbox).await;
    let subnets = ec2.describe_subnets().filters(filter("cidr-block", cidr)).send().await.unwrap();
    subnets.subnets()[0].vpc_id().unwrap().to_owned()
}

/// (a) A fresh account: pinfra creates the cluster in the default VPC, whose subnets route to
/// an internet gateway that connector workers (private addresses only) cannot use; the diff says
/// apply opens the brokers to the client and S3 to the connector, and it does.
#[test]
fn a_fresh_account_gets_the_brokers_rule_and_an_s3_endpoint() {
    let sandbox = Sandbox::start();
    sandbox.msk_settings(serde_json::json!({"cluster_delay_ms": 300}));
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_copy(dir.path(), PLAN, |t| t + CREATE);
    let plan = plan.to_str().unwrap();

    let diff = sandbox.pinfra(&["diff", "--json", plan]);
    diff.expect_code(2);
    let diff: serde_json::Value = serde_json::from_str(&diff.stdout).unwrap();
    let status = |key: &str| diff["network"]["paths"].as_array().unwrap().iter().find(|p| p["path"] == key).unwrap()["status"].clone();
    assert_eq!(status("client_to_brokers"), "opened by apply", "{}", diff["network"]);
    assert_eq!(status("connector_to_s3"), "opened by apply", "{}", diff["network"]);
    assert_eq!(status("connector_to_brokers"), "open", "the brokers' default group admits itself: {}", diff["network"]);
    let kinds: Vec<&str> = diff["changes"].as_array().unwrap().iter().map(|c| c["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"ec2_security_group_rule") && kinds.contains(&"ec2_vpc_endpoint"), "{kinds:?}");

    converges(&sandbox, plan);

    // Without the endpoint the sink writes nothing, and verify says why.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (_, endpoints) = runtime.block_on(pinfra_pieces(&sandbox));
    assert_eq!(endpoints.len(), 1);
    runtime.block_on(async { ec2(&sandbox).await.delete_vpc_endpoints().set_vpc_endpoint_ids(Some(endpoints)).send().await.unwrap() });
    fails_at(
        &sandbox,
        plan,
        "sink",
        "network path connector -> S3 is blocked: the connector's workers (no public address) cannot use internet gateway",
    );
    converges(&sandbox, plan);
}

/// (b) The seed's layout: private broker subnets in a VPC of their own with the brokers' own
/// group. The client goes into the public subnet; without pinfra's rule the REST proxy cannot
/// reach the brokers.
#[tokio::test(flavor = "multi_thread")]
async fn the_seeds_private_layout_needs_the_brokers_rule() {
    let sandbox = private_layout();
    converges(&sandbox, PLAN);
    let ec2 = ec2(&sandbox).await;
    let instances = ec2.describe_instances().filters(filter("tag:Name", "0a1b2c3d4e5f-kafka-client")).send().await.unwrap();
    let instance = &instances.reservations()[0].instances()[0];
    let public = ec2.describe_subnets().filters(filter("cidr-block", "10.20.101.0/24")).send().await.unwrap();
    assert_eq!(instance.subnet_id(), public.subnets()[0].subnet_id(), "the client is in the public subnet");
    assert!(instance.public_ip_address().is_some(), "with a public address");
    let (rules, endpoints) = pinfra_pieces(&sandbox).await;
    assert_eq!((rules.len(), endpoints.len()), (1, 1), "one rule on the brokers' group, one S3 endpoint");

    let (rule, group) = rules[0].clone();
    ec2.revoke_security_group_ingress().group_id(&group).security_group_rule_ids(&rule).send().await.unwrap();
    fails_at(&sandbox, PLAN, "proxy", &format!("security group {group} admits no inbound TCP 9098 from the Kafka client"));
    let diff = sandbox.pinfra(&["diff", PLAN]);
    diff.expect_code(2);
    assert!(diff.stdout.contains(&format!("+ ec2_security_group_rule \"{RULE}\" will be created")), "{}", diff.stdout);
    assert!(diff.stdout.contains("client -> brokers      TCP 9098  opened by apply"), "{}", diff.stdout);
    converges(&sandbox, PLAN);
}

/// (c) An S3 endpoint a person made already serves the connector's route tables: pinfra uses
/// it and makes none of its own.
#[tokio::test(flavor = "multi_thread")]
async fn an_existing_s3_endpoint_is_used_not_doubled() {
    let sandbox = private_layout();
    converges(&sandbox, PLAN);
    remove_pinfra_pieces(&sandbox).await;
    let ec2 = ec2(&sandbox).await;
    let vpc = vpc_of_cidr(&sandbox, "10.20.1.0/24").await;
    let theirs = ec2
        .create_vpc_endpoint()
        .vpc_id(&vpc)
        .service_name("com.amazonaws.us-east-1.s3")
        .set_route_table_ids(Some(broker_route_tables(&sandbox).await))
        .send()
        .await
        .unwrap();
    let theirs = theirs.vpc_endpoint().unwrap().vpc_endpoint_id().unwrap().to_owned();
    fails_at(&sandbox, PLAN, "proxy", "admits no inbound TCP 9098 from the Kafka client");

    let diff = sandbox.pinfra(&["diff", "--json", PLAN]);
    diff.expect_code(2);
    let kinds: Vec<String> = serde_json::from_str::<serde_json::Value>(&diff.stdout).unwrap()["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] != "no-op")
        .map(|c| c["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["ec2_security_group_rule"], "only the rule: the endpoint is theirs");
    let text = sandbox.pinfra(&["diff", PLAN]);
    assert!(text.stdout.contains(&format!("# S3 gateway endpoint {theirs} (not pinfra's) serves route table(s)")), "{}", text.stdout);
    converges(&sandbox, PLAN);
    let all = ec2.describe_vpc_endpoints().filters(filter("vpc-id", &vpc)).send().await.unwrap();
    assert_eq!(live_endpoints(&all), [theirs], "their endpoint, and no second one");
}

/// (d) A NAT gateway in the public subnet and a default route to it: the connector reaches S3
/// through it, so pinfra makes no endpoint.
#[tokio::test(flavor = "multi_thread")]
async fn a_nat_route_serves_the_connector_instead_of_an_endpoint() {
    let sandbox = private_layout();
    converges(&sandbox, PLAN);
    remove_pinfra_pieces(&sandbox).await;
    let ec2 = ec2(&sandbox).await;
    let public = ec2.describe_subnets().filters(filter("cidr-block", "10.20.101.0/24")).send().await.unwrap();
    let public = public.subnets()[0].subnet_id().unwrap().to_owned();
    let address = ec2.allocate_address().domain(aws_sdk_ec2::types::DomainType::Vpc).send().await.unwrap();
    let nat = ec2.create_nat_gateway().subnet_id(&public).allocation_id(address.allocation_id().unwrap()).send().await.unwrap();
    let nat = nat.nat_gateway().unwrap().nat_gateway_id().unwrap().to_owned();
    for table in broker_route_tables(&sandbox).await {
        ec2.create_route().route_table_id(table).destination_cidr_block("0.0.0.0/0").nat_gateway_id(&nat).send().await.unwrap();
    }
    fails_at(&sandbox, PLAN, "proxy", "admits no inbound TCP 9098 from the Kafka client");

    sandbox.pinfra(&["apply", "-q", "--auto-approve", PLAN]).expect_code(0);
    let (rules, endpoints) = pinfra_pieces(&sandbox).await;
    assert_eq!((rules.len(), endpoints.len()), (1, 0), "the rule again, and no endpoint: the NAT route serves S3");
    verifies(&sandbox, PLAN);
    sandbox.pinfra(&["diff", "-q", PLAN]).expect_code(0);
}

/// (e) A network ACL on the broker subnets denies 9098 ahead of its allow: pinfra does not own
/// it, so diff refuses and names the entry; once a person removes it, the pipeline verifies.
#[tokio::test(flavor = "multi_thread")]
async fn a_network_acl_denying_the_broker_port_is_refused_with_its_entry() {
    let sandbox = private_layout();
    converges(&sandbox, PLAN);
    let ec2 = ec2(&sandbox).await;
    let vpc = vpc_of_cidr(&sandbox, "10.20.1.0/24").await;
    let acl = ec2.create_network_acl().vpc_id(&vpc).send().await.unwrap();
    let acl = acl.network_acl().unwrap().network_acl_id().unwrap().to_owned();
    for egress in [false, true] {
        ec2.create_network_acl_entry()
            .network_acl_id(&acl)
            .rule_number(100)
            .protocol("-1")
            .rule_action(RuleAction::Allow)
            .egress(egress)
            .cidr_block("0.0.0.0/0")
            .send()
            .await
            .unwrap();
    }
    let deny = |egress| {
        ec2.create_network_acl_entry()
            .network_acl_id(&acl)
            .rule_number(90)
            .protocol("6")
            .port_range(aws_sdk_ec2::types::PortRange::builder().from(9098).to(9098).build())
            .rule_action(RuleAction::Deny)
            .egress(egress)
            .cidr_block("0.0.0.0/0")
    };
    deny(false).send().await.unwrap();
    // The broker subnets move to the new ACL.
    for cidr in ["10.20.1.0/24", "10.20.2.0/24", "10.20.3.0/24"] {
        let subnets = ec2.describe_subnets().filters(filter("cidr-block", cidr)).send().await.unwrap();
        let subnet = subnets.subnets()[0].subnet_id().unwrap();
        let acls = ec2.describe_network_acls().filters(filter("association.subnet-id", subnet)).send().await.unwrap();
        let association = acls.network_acls()[0]
            .associations()
            .iter()
            .find(|a| a.subnet_id() == Some(subnet))
            .and_then(|a| a.network_acl_association_id())
            .unwrap()
            .to_owned();
        ec2.replace_network_acl_association().association_id(association).network_acl_id(&acl).send().await.unwrap();
    }

    fails_at(&sandbox, PLAN, "proxy", &format!("network ACL {acl}"));
    let diff = sandbox.pinfra(&["diff", PLAN]);
    diff.expect_code(1);
    assert!(
        diff.stderr.contains("denies inbound TCP 9098 from the Kafka client (rule 90)") && diff.stderr.contains(&acl),
        "{}",
        diff.stderr
    );
    assert!(diff.stderr.contains("network path client -> brokers (TCP 9098) stays blocked"), "{}", diff.stderr);

    ec2.delete_network_acl_entry().network_acl_id(&acl).rule_number(90).egress(false).send().await.unwrap();
    converges(&sandbox, PLAN);
}

/// (f) A plan whose `vpc_id` is not the cluster's: the client could never reach the brokers,
/// so diff refuses with both VPCs named; without it the client goes into the cluster's VPC.
#[tokio::test(flavor = "multi_thread")]
async fn a_vpc_id_that_is_not_the_clusters_is_refused() {
    let sandbox = private_layout();
    let ec2 = ec2(&sandbox).await;
    let default = ec2.describe_vpcs().filters(filter("is-default", "true")).send().await.unwrap();
    let default = default.vpcs()[0].vpc_id().unwrap().to_owned();
    let cluster_vpc = vpc_of_cidr(&sandbox, "10.20.1.0/24").await;
    sandbox.reset_calls();
    let dir = tempfile::tempdir().unwrap();
    let elsewhere =
        plan_copy(dir.path(), PLAN, |t| t.replace("rest_proxy_port = 8082", &format!("rest_proxy_port = 8082\nvpc_id = \"{default}\"")));
    let diff = sandbox.pinfra(&["diff", elsewhere.to_str().unwrap()]);
    diff.expect_code(1);
    assert!(
        diff.stderr.contains(&format!("`[kafka_client] vpc_id` is {default}, but the cluster's brokers are in VPC {cluster_vpc}")),
        "{}",
        diff.stderr
    );
    assert_eq!(sandbox.writes(), Vec::<String>::new(), "nothing was changed");

    converges(&sandbox, PLAN);
    let groups = ec2.describe_security_groups().filters(filter("group-name", CLIENT_GROUP)).send().await.unwrap();
    assert_eq!(groups.security_groups()[0].vpc_id(), Some(cluster_vpc.as_str()), "the client's group is in the cluster's VPC");
}

/// Destroy removes pinfra's rule and endpoint and nothing else of the network.
#[tokio::test(flavor = "multi_thread")]
async fn destroy_removes_only_pinfras_rule_and_endpoint() {
    let sandbox = private_layout();
    sandbox.pinfra(&["apply", "-q", "--auto-approve", PLAN]).expect_code(0);
    let ec2 = ec2(&sandbox).await;
    let vpc = vpc_of_cidr(&sandbox, "10.20.1.0/24").await;
    let brokers = ec2.describe_security_groups().filters(filter("group-name", &format!("{CLUSTER}-brokers"))).send().await.unwrap();
    let brokers = brokers.security_groups()[0].group_id().unwrap().to_owned();
    let rules_before = ec2.describe_security_group_rules().filters(filter("group-id", &brokers)).send().await.unwrap();
    let before = rules_before.security_group_rules().len();

    sandbox.pinfra(&["destroy", "-q", "--auto-approve", PLAN]).expect_code(0);
    let (rules, endpoints) = pinfra_pieces(&sandbox).await;
    assert_eq!((rules.len(), endpoints.len()), (0, 0));
    let rules_after = ec2.describe_security_group_rules().filters(filter("group-id", &brokers)).send().await.unwrap();
    assert_eq!(rules_after.security_group_rules().len(), before - 1, "only pinfra's rule went");
    let endpoints = ec2.describe_vpc_endpoints().filters(filter("vpc-id", &vpc)).send().await.unwrap();
    assert_eq!(live_endpoints(&endpoints), Vec::<String>::new());
}

/// Environments on one cluster share the brokers' route tables, and AWS lets one S3 gateway
/// endpoint serve a route table: the first environment's endpoint serves the second's
/// connector, so destroying the first keeps it (and says why) while the second still verifies.
#[tokio::test(flavor = "multi_thread")]
async fn destroying_one_environment_keeps_the_endpoint_another_uses() {
    let sandbox = private_layout();
    sandbox.pinfra(&["apply", "-q", "--auto-approve", PLAN]).expect_code(0);
    let dir = tempfile::tempdir().unwrap();
    let second = plan_copy(dir.path(), PLAN, |t| t.replace("0a1b2c3d4e5f", "1b2c3d4e5f6a").replace("name = \"dev\"", "name = \"staging\""));
    let second = second.to_str().unwrap();
    let diff = sandbox.pinfra(&["diff", "--json", second]);
    diff.expect_code(2);
    let diff: serde_json::Value = serde_json::from_str(&diff.stdout).unwrap();
    assert!(!diff["changes"].as_array().unwrap().iter().any(|c| c["kind"] == "ec2_vpc_endpoint"), "the first one's endpoint serves it");
    converges(&sandbox, second);

    let destroy = sandbox.pinfra(&["destroy", "--auto-approve", PLAN]);
    destroy.expect_code(0);
    assert!(destroy.stdout.contains("it also carries S3 traffic of connector(s) 1b2c3d4e5f6a-connector"), "{}", destroy.stdout);
    let (_, endpoints) = pinfra_pieces(&sandbox).await;
    assert_eq!(endpoints.len(), 1, "kept");
    verifies(&sandbox, second);
}
