//! Integration tests: the real `pinfra` binary, the real AWS SDK, HTTP to the sandbox.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
mod common;

use common::{Sandbox, plan_copy};

const PLAN: &str = "plans/pinterest.toml";
const CLUSTER: &str = "pinterest-msk-cluster";
const ROLE: &str = "0a1b2c3d4e5f-ec2-access-role";
const BUCKET: &str = "user-0a1b2c3d4e5f-bucket";

fn mutating(sandbox: &Sandbox) -> Vec<String> {
    sandbox.writes()
}

fn diff_json(sandbox: &Sandbox, plan: &str) -> serde_json::Value {
    let run = sandbox.pinfra(&["diff", "--json", plan]);
    assert!(run.code == 0 || run.code == 2, "diff failed: {}", run.stderr);
    serde_json::from_str(&run.stdout).expect("diff --json is JSON")
}

#[test]
fn apply_from_empty_then_diff_shows_no_changes() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let diff = sandbox.pinfra(&["diff", PLAN]);
    diff.expect_code(2);
    assert!(diff.stdout.contains("Plan: 13 to create, 0 unchanged."), "{}", diff.stdout);

    let apply = sandbox.pinfra(&["apply", "--auto-approve", PLAN]);
    apply.expect_code(0);
    assert!(apply.stdout.contains(&format!("role_arn = arn:aws:iam::123456789012:role/{ROLE}")), "{}", apply.stdout);

    let diff = sandbox.pinfra(&["diff", PLAN]);
    diff.expect_code(0);
    let network = diff.stdout.lines().nth(2).unwrap_or_default();
    assert!(network.starts_with("Network paths (VPC vpc-") && network.ends_with("): all 5 open."), "{}", diff.stdout);
    assert!(diff.stdout.starts_with("No changes. 13 resources are up to date.\n\n"), "{}", diff.stdout);
}

#[test]
fn converged_apply_and_diff_make_no_mutating_calls() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    sandbox.pinfra(&["apply", "--auto-approve", PLAN]).expect_code(0);

    sandbox.reset_calls();
    sandbox.pinfra(&["apply", "--auto-approve", PLAN]).expect_code(0);
    assert_eq!(mutating(&sandbox), Vec::<String>::new(), "a converged apply must not write");
    let apply_calls = sandbox.calls().len();

    sandbox.reset_calls();
    sandbox.pinfra(&["diff", PLAN]).expect_code(0);
    let calls = sandbox.calls();
    assert!(calls.iter().all(|(_, _, m)| !m));
    // Every read once: no resource is read twice in one diff.
    let mut distinct = calls.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), calls.len(), "a read was made twice: {calls:?}");
    eprintln!("converged diff: {} calls; converged apply: {apply_calls} calls (diff + outputs)", calls.len());
}

#[test]
fn editing_one_field_shows_exactly_that_change_and_converges() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    sandbox.pinfra(&["apply", "--auto-approve", PLAN]).expect_code(0);

    let dir = tempfile::tempdir().expect("tempdir");
    let plan = plan_copy(dir.path(), PLAN, |t| t.replace("versioning = false", "versioning = true"));
    let plan = plan.to_str().expect("utf-8 path");
    let diff = diff_json(&sandbox, plan);
    let changed: Vec<&serde_json::Value> = diff["changes"].as_array().unwrap().iter().filter(|c| c["action"] != "no-op").collect();
    assert_eq!(changed.len(), 1, "{diff:#}");
    assert_eq!(changed[0]["address"], format!("s3_bucket \"{BUCKET}\""));
    assert_eq!(changed[0]["action"], "update");
    assert_eq!(
        changed[0]["fields"],
        serde_json::json!([{"path": "versioning", "old": "Disabled", "new": "Enabled", "known_after_apply": false, "forces_replace": false}])
    );

    sandbox.reset_calls();
    sandbox.pinfra(&["apply", "--auto-approve", plan]).expect_code(0);
    assert_eq!(mutating(&sandbox), vec![format!("s3:PUT /{BUCKET}/?versioning")]);
    sandbox.pinfra(&["diff", plan]).expect_code(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn destroy_removes_what_pinfra_owns_and_nothing_else() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let iam = sandbox.iam().await;
    let s3 = sandbox.s3("us-east-1").await;
    iam.create_role().role_name("unrelated-role").assume_role_policy_document("{}").send().await.expect("create unrelated role");
    s3.create_bucket().bucket("unrelated-bucket").send().await.expect("create unrelated bucket");

    sandbox.pinfra(&["apply", "--auto-approve", PLAN]).expect_code(0);
    s3.put_object().bucket(BUCKET).key("topics/x/partition=0/x+0+0.json").body(b"{}".to_vec().into()).send().await.expect("put object");

    // A bucket that still holds data is not deleted without force_destroy.
    let refused = sandbox.pinfra(&["destroy", "--auto-approve", PLAN]);
    refused.expect_code(1);
    assert!(refused.stderr.contains("still holds objects"), "{}", refused.stderr);
    assert!(refused.stderr.contains("force_destroy"), "{}", refused.stderr);

    let dir = tempfile::tempdir().expect("tempdir");
    let plan = plan_copy(dir.path(), PLAN, |t| t.replace("force_destroy = false", "force_destroy = true"));
    sandbox.pinfra(&["destroy", "--auto-approve", plan.to_str().unwrap()]).expect_code(0);

    assert!(iam.get_role().role_name(ROLE).send().await.is_err(), "role deleted");
    assert!(iam.get_instance_profile().instance_profile_name(ROLE).send().await.is_err(), "profile deleted");
    assert!(s3.head_bucket().bucket(BUCKET).send().await.is_err(), "bucket deleted");
    iam.get_role().role_name("unrelated-role").send().await.expect("the unrelated role survives");
    s3.head_bucket().bucket("unrelated-bucket").send().await.expect("the unrelated bucket survives");

    // The cluster is read, never deleted; a second destroy has nothing to do.
    let again = sandbox.pinfra(&["destroy", "--auto-approve", PLAN]);
    again.expect_code(0);
    assert!(again.stdout.contains("Nothing to destroy"), "{}", again.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn hand_built_resources_are_adopted_not_recreated() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    // Built the way the seed built them: by hand, without pinfra's tags.
    let s3 = sandbox.s3("us-east-1").await;
    s3.create_bucket().bucket(BUCKET).send().await.expect("create bucket by hand");
    let iam = sandbox.iam().await;
    let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    iam.create_role().role_name(ROLE).assume_role_policy_document(trust.to_string()).send().await.expect("create role by hand");

    let diff = diff_json(&sandbox, PLAN);
    let action = |address: &str| diff["changes"].as_array().unwrap().iter().find(|c| c["address"] == address).map(|c| c["action"].clone());
    assert_eq!(action(&format!("s3_bucket \"{BUCKET}\"")), Some("adopt".into()), "{diff:#}");
    assert_eq!(action(&format!("iam_role \"{ROLE}\"")), Some("adopt".into()), "{diff:#}");

    sandbox.reset_calls();
    sandbox.pinfra(&["apply", "--auto-approve", PLAN]).expect_code(0);
    let writes = mutating(&sandbox);
    assert!(
        !writes.iter().any(|w| w == "iam:CreateRole" || w == &format!("s3:PUT /{BUCKET}/")),
        "adopted resources were re-created: {writes:?}"
    );
    assert!(writes.contains(&"iam:TagRole".to_owned()), "{writes:?}");
    assert!(writes.contains(&"iam:UpdateAssumeRolePolicy".to_owned()), "the hand-built trust lacked kafkaconnect: {writes:?}");
    sandbox.pinfra(&["diff", PLAN]).expect_code(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resource_of_another_environment_is_refused() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let s3 = sandbox.s3("us-east-1").await;
    s3.create_bucket().bucket(BUCKET).send().await.expect("create bucket");
    let tag = |k: &str, v: &str| aws_sdk_s3::types::Tag::builder().key(k).value(v).build().unwrap();
    s3.put_bucket_tagging()
        .bucket(BUCKET)
        .tagging(
            aws_sdk_s3::types::Tagging::builder()
                .tag_set(tag("pinfra:plan", "pinterest"))
                .tag_set(tag("pinfra:env", "prod"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("tag bucket");
    let diff = sandbox.pinfra(&["diff", PLAN]);
    diff.expect_code(1);
    assert!(diff.stderr.contains("belongs to plan `pinterest`, environment `prod`"), "{}", diff.stderr);
    // Destroy refuses as diff does: the names collide, so nothing they find is surely this plan's.
    let destroy = sandbox.pinfra(&["destroy", "--auto-approve", PLAN]);
    destroy.expect_code(1);
    assert!(destroy.stderr.contains("cannot destroy"), "{}", destroy.stderr);
    s3.head_bucket().bucket(BUCKET).send().await.expect("another environment's bucket is never deleted");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_apply_reports_every_failure_and_the_next_apply_converges() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    // Two independent branches fail: the instance profile and the bucket's encryption.
    sandbox.arm_fault("iam", Some("CreateInstanceProfile"), None, 403, "AccessDenied", 1000);
    sandbox.arm_fault("s3", None, Some("encryption"), 403, "AccessDenied", 1000);
    let failed = sandbox.pinfra(&["apply", "--auto-approve", PLAN]);
    failed.expect_code(1);
    assert!(
        failed.stderr.contains(&format!("iam_instance_profile \"{ROLE}\": iam:CreateInstanceProfile: AccessDenied")),
        "{}",
        failed.stderr
    );
    assert!(failed.stderr.contains(&format!("s3_bucket \"{BUCKET}\": s3:PutBucketEncryption: AccessDenied")), "{}", failed.stderr);
    assert!(failed.stderr.contains("apply incomplete: 2 resources failed"), "{}", failed.stderr);
    // The instance waits for its profile, the REST API for the instance; the plugin for its
    // bucket, the connector for its plugin.
    assert!(failed.stderr.contains("4 resource(s) were not attempted"), "{}", failed.stderr);

    // The role, which did not depend on anything that failed, was created.
    let iam = sandbox.iam().await;
    iam.get_role().role_name(ROLE).send().await.expect("role created despite the other failures");

    sandbox.clear_faults();
    let diff = diff_json(&sandbox, PLAN);
    assert_eq!(diff["summary"]["create"], 5, "left to create: the profile, the instance, the API, the plugin and the connector: {diff:#}");
    assert_eq!(diff["summary"]["update"], 1, "the bucket's encryption is left to set: {diff:#}");
    sandbox.pinfra(&["apply", "--auto-approve", PLAN]).expect_code(0);
    sandbox.pinfra(&["diff", PLAN]).expect_code(0);
    let roles = iam.list_roles().send().await.expect("list roles");
    assert_eq!(roles.roles().iter().filter(|r| r.role_name() == ROLE).count(), 1);
}

#[test]
fn apply_without_a_terminal_needs_auto_approve_and_changes_nothing() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    sandbox.reset_calls();
    let apply = sandbox.pinfra(&["apply", PLAN]);
    apply.expect_code(1);
    assert!(apply.stderr.contains("stdin is not a terminal"), "{}", apply.stderr);
    assert!(apply.stdout.contains("Plan: 13 to create"), "the diff is shown first: {}", apply.stdout);
    assert_eq!(mutating(&sandbox), Vec::<String>::new());
}

#[test]
fn the_cluster_must_exist() {
    let sandbox = Sandbox::start();
    let diff = sandbox.pinfra(&["diff", PLAN]);
    diff.expect_code(1);
    assert!(diff.stderr.contains(&format!("msk_cluster \"{CLUSTER}\" does not exist")), "{}", diff.stderr);
}

#[test]
fn credentials_never_appear_in_output() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let apply = sandbox.pinfra_with(&["apply", "--auto-approve", "-vvv", PLAN], &[]);
    apply.expect_code(0);
    for stream in [&apply.stdout, &apply.stderr] {
        assert!(!stream.contains(common::SECRET_KEY), "the secret key was printed");
    }
    assert!(apply.stderr.len() > 1000, "-vvv logs the SDK's work, so this test looks at real debug output");
}

/// What AWS says reached the terminal raw: an error message holding ESC, BEL or a newline
/// could retitle the window, clear the screen or forge a line. It is printed escaped.
#[test]
fn control_characters_from_aws_reach_the_terminal_escaped() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let hostile = "\u{1b}]0;pwned\u{7}\u{1b}[2J\nerror: forged line";
    let fault = serde_json::json!({"service": "apigateway", "operation": "GET /restapis", "status": 400,
        "code": "BadRequestException", "message": hostile, "count": 10});
    sandbox.control("POST", "/_sandbox/faults", Some(&fault));
    for command in [&["diff", PLAN][..], &["apply", "--auto-approve", PLAN][..]] {
        let run = sandbox.pinfra(command);
        run.expect_code(1);
        for stream in [&run.stdout, &run.stderr] {
            assert!(!stream.contains(['\u{1b}', '\u{7}']), "{command:?}: raw control characters: {stream:?}");
            assert!(!stream.lines().any(|l| l.starts_with("error: forged line")), "{command:?}: a forged line: {stream}");
        }
        assert!(run.stderr.contains("BadRequestException: \\e]0;pwned\\x07\\e[2J\\nerror: forged line"), "{command:?}: {}", run.stderr);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bucket_outside_us_east_1_gets_its_location_constraint() {
    let sandbox = Sandbox::start();
    sandbox.seed_cluster(CLUSTER, "eu-west-1");
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = plan_copy(dir.path(), PLAN, |t| t.replace("region = \"us-east-1\"", "region = \"eu-west-1\""));
    let plan = plan.to_str().unwrap();
    sandbox.pinfra(&["apply", "--auto-approve", plan]).expect_code(0);
    let s3 = sandbox.s3("eu-west-1").await;
    let location = s3.get_bucket_location().bucket(BUCKET).send().await.expect("location");
    assert_eq!(location.location_constraint().map(|c| c.as_str()), Some("eu-west-1"));
    sandbox.pinfra(&["diff", plan]).expect_code(0);

    // The same name planned in another region is refused, not replaced: buckets cannot move.
    let elsewhere = plan_copy(dir.path(), PLAN, |t| t);
    sandbox.seed_cluster(CLUSTER, "us-east-1");
    let diff = sandbox.pinfra(&["diff", elsewhere.to_str().unwrap()]);
    diff.expect_code(1);
    assert!(diff.stderr.contains("bucket exists in eu-west-1 but the plan's region is us-east-1"), "{}", diff.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn security_group_rules_are_changed_in_place_as_a_set() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    sandbox.pinfra(&["apply", "--auto-approve", PLAN]).expect_code(0);
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = plan_copy(dir.path(), PLAN, |t| {
        t.replace(
            "rest_proxy_port = 8082",
            "rest_proxy_port = 8082\nproxy_sources = [\"198.51.100.0/24\"]\nssh_sources = [\"203.0.113.7/32\"]",
        )
    });
    let plan = plan.to_str().unwrap();
    let diff = sandbox.pinfra(&["diff", plan]);
    diff.expect_code(2);
    assert!(diff.stdout.contains("~ ec2_security_group \"0a1b2c3d4e5f-kafka-client\" will be updated in place"), "{}", diff.stdout);
    sandbox.reset_calls();
    sandbox.pinfra(&["apply", "--auto-approve", plan]).expect_code(0);
    let writes = mutating(&sandbox);
    assert_eq!(writes, ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"], "changed in place, not re-created");
    sandbox.pinfra(&["diff", plan]).expect_code(0);

    let ec2 = aws_sdk_ec2::Client::new(&sandbox.sdk_config("us-east-1").await);
    let groups = ec2
        .describe_security_groups()
        .filters(aws_sdk_ec2::types::Filter::builder().name("group-name").values("0a1b2c3d4e5f-kafka-client").build())
        .send()
        .await
        .expect("describe");
    let mut rules: Vec<String> = groups.security_groups()[0]
        .ip_permissions()
        .iter()
        .flat_map(|p| {
            p.ip_ranges().iter().map(move |r| format!("{}:{}", p.from_port().unwrap_or_default(), r.cidr_ip().unwrap_or_default()))
        })
        .collect();
    rules.sort();
    assert_eq!(rules, ["22:203.0.113.7/32", "8082:198.51.100.0/24"]);
}

/// MSK cluster ARNs are `cluster/<name>/<uuid>-<n>`, and the IAM resource ARNs of its topics and
/// groups derive from them (`topic/<name>/<uuid>-<n>/<topic>`). The sandbox used to answer
/// `cluster/<uuid>`, so a grant written from it would match nothing on AWS.
#[tokio::test(flavor = "multi_thread")]
async fn the_roles_topic_grants_name_the_cluster_as_msk_does() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    sandbox.pinfra(&["apply", "-q", "--auto-approve", PLAN]).expect_code(0);
    let kafka = aws_sdk_kafka::Client::new(&sandbox.sdk_config("us-east-1").await);
    let clusters = kafka.list_clusters_v2().send().await.expect("list clusters");
    let arn = clusters.cluster_info_list()[0].cluster_arn().expect("arn").to_owned();
    let (prefix, tail) = arn.split_once(":cluster/").expect("a cluster ARN");
    let (name, id) = tail.split_once('/').expect("cluster/<name>/<uuid>-<n>");
    assert_eq!(name, CLUSTER);
    assert!(id.rsplit_once('-').is_some_and(|(_, n)| n.parse::<u32>().is_ok()), "{arn}");
    let iam = sandbox.iam().await;
    let policy = iam.get_role_policy().role_name(ROLE).policy_name("pinfra-pipeline").send().await.expect("the role's policy");
    let document = percent_encoding::percent_decode_str(policy.policy_document()).decode_utf8_lossy().into_owned();
    assert!(document.contains(&format!("{prefix}:topic/{CLUSTER}/{id}/0a1b2c3d4e5f.")), "{document}");
}

#[test]
fn quiet_apply_and_destroy_print_only_data() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let apply = sandbox.pinfra(&["apply", "-q", "--auto-approve", PLAN]);
    apply.expect_code(0);
    assert_eq!(apply.stderr, "", "-q: only errors on stderr");
    let destroy = sandbox.pinfra(&["destroy", "-q", "--auto-approve", PLAN]);
    destroy.expect_code(0);
    assert_eq!(destroy.stderr, "", "-q: only errors on stderr");
}

#[test]
fn a_second_destroy_says_there_is_nothing_to_destroy() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    sandbox.pinfra(&["apply", "--auto-approve", PLAN]).expect_code(0);
    sandbox.pinfra(&["destroy", "--auto-approve", PLAN]).expect_code(0);
    let again = sandbox.pinfra(&["destroy", "--auto-approve", PLAN]);
    again.expect_code(0);
    assert_eq!(again.stdout, "Nothing to destroy: no resource of this plan exists.\n");
}

/// A role deleted by hand used to show the instance and the connector as replaced (the role's
/// ARN "known after apply"), but apply only re-created the role: its ARN is fixed by its name.
/// The diff now says what apply does.
#[tokio::test(flavor = "multi_thread")]
async fn a_role_deleted_by_hand_is_diffed_as_apply_re_creates_it_without_replacements() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    sandbox.pinfra(&["apply", "--auto-approve", PLAN]).expect_code(0);
    let iam = sandbox.iam().await;
    iam.remove_role_from_instance_profile().instance_profile_name(ROLE).role_name(ROLE).send().await.expect("remove from profile");
    for policy in iam.list_role_policies().role_name(ROLE).send().await.unwrap().policy_names() {
        iam.delete_role_policy().role_name(ROLE).policy_name(policy).send().await.unwrap();
    }
    iam.delete_role().role_name(ROLE).send().await.expect("delete role");

    let diff = sandbox.pinfra(&["diff", PLAN]);
    diff.expect_code(2);
    assert!(diff.stdout.contains(&format!("+ iam_role \"{ROLE}\" will be created")), "{}", diff.stdout);
    assert!(diff.stdout.contains(&format!("~ iam_instance_profile \"{ROLE}\" will be updated in place")), "{}", diff.stdout);
    assert!(!diff.stdout.contains("must be replaced"), "{}", diff.stdout);
    assert!(diff.stdout.contains("Plan: 1 to create, 1 to update, 11 unchanged."), "{}", diff.stdout);

    sandbox.reset_calls();
    sandbox.pinfra(&["apply", "--auto-approve", PLAN]).expect_code(0);
    assert_eq!(mutating(&sandbox), ["iam:CreateRole", "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:AddRoleToInstanceProfile"]);
    sandbox.pinfra(&["diff", PLAN]).expect_code(0);
}
