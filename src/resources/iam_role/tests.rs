//! Unit tests of `iam_role`: the pure diff, the policy documents, and error paths through
//! aws-smithy-mocks.

use super::*;
use crate::engine::Action;

const CLUSTER: &str = "arn:aws:kafka:us-east-1:123456789012:cluster/pinterest-msk-cluster/abc-1";
const SELF: &str = "arn:aws:iam::123456789012:role/r";

#[test]
fn the_role_trusts_itself_once_the_account_is_known() {
    assert_eq!(role_arn_in_account_of(CLUSTER, "r").as_deref(), Some(SELF));
    assert_eq!(role_arn_in_account_of("not-an-arn", "r"), None);
    let trust = trust_policy(Some(SELF)).to_string();
    assert!(trust.contains(&format!("{{\"AWS\":\"{SELF}\"}}")), "{trust}");
    assert!(!trust_policy(None).to_string().contains("\"AWS\""));
}

fn scope() -> TopicScope {
    TopicScope { prefix: "0a1b.".into(), others: vec!["shared-events".into()] }
}

fn desired(policy: Value) -> Desired {
    Desired {
        trust: Value::Known(trust_policy(Some(SELF))),
        policy,
        manage_policies: true,
        tags: Tags::from([("pinfra:env".into(), "dev".into())]),
    }
}

fn live() -> Live {
    Live {
        arn: "arn:aws:iam::123456789012:role/r".into(),
        trust: Some(trust_policy(Some(SELF))),
        policy: Some(pipeline_policy(CLUSTER, "user-0a1b-bucket", &scope(), None)),
        other_inline: Vec::new(),
        attached: Vec::new(),
        tags: Tags::from([("pinfra:env".into(), "dev".into())]),
    }
}

fn other_bucket_unmanaged() -> Value {
    Value::Known(pipeline_policy(CLUSTER, "other-bucket", &scope(), None))
}

fn paths(changes: &[FieldChange]) -> Vec<&str> {
    changes.iter().map(|c| c.path.as_str()).collect()
}

#[test]
fn diff_table() {
    let policy = Value::Known(pipeline_policy(CLUSTER, "user-0a1b-bucket", &scope(), None));
    let other_bucket = Value::Known(pipeline_policy(CLUSTER, "other-bucket", &scope(), None));
    let mut untagged = live();
    untagged.tags.clear();
    let mut reordered = live();
    // Same meaning, different order: IAM's own answer can look like this.
    if let Some(Json::Array(statements)) = reordered.policy.as_mut().and_then(|p| p.get_mut("Statement")) {
        statements.reverse();
    }
    let escalated =
        Live { other_inline: vec!["admin".into()], attached: vec!["arn:aws:iam::aws:policy/AdministratorAccess".into()], ..live() };
    let cases: Vec<(&str, Desired, Option<Live>, Vec<&str>)> = vec![
        (
            "privilege drift: other inline and attached policies",
            desired(policy.clone()),
            Some(escalated.clone()),
            vec!["other_inline_policies", "attached_policies"],
        ),
        (
            "policies not managed: drift is the role's own",
            Desired { manage_policies: false, ..desired(policy.clone()) },
            Some(escalated),
            vec![],
        ),
        ("create lists every field", desired(policy.clone()), None, vec!["trust", "policy", "tags.pinfra:env"]),
        ("converged", desired(policy.clone()), Some(live()), vec![]),
        ("statement order is not a change", desired(policy.clone()), Some(reordered), vec![]),
        ("policy change", desired(other_bucket), Some(live()), vec!["policy"]),
        ("unknown policy is a change", desired(Value::Unknown), Some(live()), vec!["policy"]),
        ("missing tag", desired(policy.clone()), Some(untagged.clone()), vec!["tags.pinfra:env"]),
        (
            "policies not managed: only tags",
            Desired { manage_policies: false, ..desired(other_bucket_unmanaged()) },
            Some(untagged),
            vec!["tags.pinfra:env"],
        ),
        (
            "policies not managed, but a new role gets them",
            Desired { manage_policies: false, ..desired(policy) },
            None,
            vec!["trust", "policy", "tags.pinfra:env"],
        ),
    ];
    for (name, desired, live, expected) in cases {
        let changes = IamRole::diff(&desired, live.as_ref()).expect(name);
        assert_eq!(paths(&changes), expected, "{name}");
        assert!(changes.iter().all(|c| !c.forces_replace), "{name}: nothing on a role forces replacement");
    }
    let _ = Action::NoOp;
}

/// A role made elsewhere under a path (`role/service-role/r`) names itself by that ARN; the
/// plan's account-derived `role/r` is not a principal IAM knows, so the update was refused
/// as if IAM were still propagating the role, and failed after about 30 s.
#[test]
fn a_role_under_a_path_trusts_itself_by_its_live_arn() {
    let with_path = "arn:aws:iam::123456789012:role/service-role/r";
    let desired = Desired {
        trust: Value::Known(trust_policy(Some(SELF))),
        policy: Value::Known(json!({})),
        manage_policies: true,
        tags: Tags::new(),
    };
    let live = Live {
        arn: with_path.into(),
        trust: Some(trust_policy(Some(with_path))),
        policy: Some(json!({})),
        other_inline: Vec::new(),
        attached: Vec::new(),
        tags: Tags::new(),
    };
    let changes = IamRole::diff(&desired, Some(&live)).expect("diff");
    assert!(changes.iter().all(|c| c.path != "trust"), "{changes:?}");
    let stale = Live { trust: Some(trust_policy(Some(SELF))), ..live };
    let changes = IamRole::diff(&desired, Some(&stale)).expect("diff");
    let trust = changes.iter().find(|c| c.path == "trust").expect("the path-less principal is corrected");
    assert!(format!("{:?}", trust.new).contains("role/service-role/r"), "{trust:?}");
}

/// S3 ARNs were written `arn:aws:s3:::`, which names no bucket in China or GovCloud.
#[test]
fn the_buckets_arn_is_in_the_clusters_partition() {
    let china = "arn:aws-cn:kafka:cn-north-1:123456789012:cluster/c/abc-1";
    let text = pipeline_policy(china, "b", &scope(), None).to_string();
    assert!(text.contains("arn:aws-cn:s3:::b/*") && !text.contains("arn:aws:"), "{text}");
    assert!(connector_needs(china, "b", &["0a1b.pin"], "c").iter().all(|(_, r)| r.starts_with("arn:aws-cn:")));
}

#[test]
fn policy_is_scoped_with_no_wildcard_resource() {
    let policy = pipeline_policy(CLUSTER, "user-0a1b-bucket", &scope(), None);
    let text = policy.to_string();
    assert!(text.contains("arn:aws:kafka:us-east-1:123456789012:topic/pinterest-msk-cluster/abc-1/0a1b.*"), "{text}");
    assert!(text.contains("arn:aws:kafka:us-east-1:123456789012:topic/pinterest-msk-cluster/abc-1/shared-events\""), "{text}");
    assert!(text.contains("arn:aws:s3:::user-0a1b-bucket/*"));
    for statement in policy["Statement"].as_array().unwrap() {
        for resource in statement["Resource"].as_array().unwrap() {
            assert_ne!(resource, "*");
        }
    }
}

/// Topic-scoped WriteData implies no WriteDataIdempotently, which every idempotent producer
/// (Kafka 3.0 and later, the REST proxy) needs: without it every produce is refused.
#[test]
fn producing_needs_write_data_idempotently_on_the_cluster() {
    let policy = pipeline_policy(CLUSTER, "user-0a1b-bucket", &scope(), None);
    assert_eq!(missing_grants(&policy, &client_needs(CLUSTER, &["0a1b.pin", "shared-events"])), Vec::<String>::new());
    let mut without = policy.clone();
    without["Statement"][0]["Action"] = json!(["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"]);
    assert_eq!(
        missing_grants(&without, &client_needs(CLUSTER, &["0a1b.pin"])),
        [format!("kafka-cluster:WriteDataIdempotently on {CLUSTER}")]
    );
}

/// A bucket under a customer managed KMS key: the sink's uploads need GenerateDataKey and
/// Decrypt on that key, which the role lacked while validate called it sufficient.
#[test]
fn a_customer_kms_key_is_granted_to_the_sink_on_that_key_alone() {
    let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let needs = bucket_key_needs(Some(key));
    let plain = pipeline_policy(CLUSTER, "user-0a1b-bucket", &scope(), None);
    assert_eq!(missing_grants(&plain, &needs), [format!("kms:GenerateDataKey on {key}"), format!("kms:Decrypt on {key}")]);
    let granted = with_bucket_key(plain.clone(), Some(key));
    assert_eq!(missing_grants(&granted, &needs), Vec::<String>::new());
    let other = "arn:aws:kms:us-east-1:123456789012:key/ffffffff-12ab-34cd-56ef-1234567890ab";
    assert_eq!(missing_grants(&granted, &bucket_key_needs(Some(other))).len(), 2, "that key alone");
    assert_eq!(with_bucket_key(plain.clone(), None), plain, "an AWS managed key needs no grant");
}

/// The grants were `group/…/<user_id>*` and `connect-<user_id>*`: the user id `0a1b` got
/// the groups of the user id `0a1b2`.
#[test]
fn a_user_id_that_prefixes_another_gets_none_of_its_topics_or_groups() {
    let policy = pipeline_policy(CLUSTER, "user-0a1b-bucket", &scope(), Some("0a1b-connector"));
    let scoped = |kind: &str, name: &str| CLUSTER.replacen(":cluster/", &format!(":{kind}/"), 1) + "/" + name;
    let theirs = [
        ("kafka-cluster:ReadData", scoped("topic", "0a1b2.pin")),
        ("kafka-cluster:AlterGroup", scoped("group", "0a1b2.readers")),
        ("kafka-cluster:AlterGroup", scoped("group", "0a1b2-readers")),
        ("kafka-cluster:AlterGroup", scoped("group", "connect-0a1b2-connector")),
    ];
    assert_eq!(missing_grants(&policy, &theirs).len(), theirs.len(), "{policy:#}");
    let ours = [
        ("kafka-cluster:ReadData", scoped("topic", "0a1b.pin")),
        ("kafka-cluster:AlterGroup", scoped("group", "0a1b.readers")),
        ("kafka-cluster:AlterGroup", scoped("group", "connect-0a1b-connector")),
    ];
    assert_eq!(missing_grants(&policy, &ours), Vec::<String>::new());
}

#[test]
fn the_policy_grants_what_the_connector_needs() {
    let needs = connector_needs(CLUSTER, "user-0a1b-bucket", &["0a1b.pin", "shared-events"], "0a1b-connector");
    let policy = pipeline_policy(CLUSTER, "user-0a1b-bucket", &scope(), Some("0a1b-connector"));
    assert_eq!(missing_grants(&policy, &needs), Vec::<String>::new());
    // A connector named outside the user id gets its own group, and nothing else is missed.
    let needs = connector_needs(CLUSTER, "user-0a1b-bucket", &["0a1b.pin"], "sink");
    assert_eq!(missing_grants(&pipeline_policy(CLUSTER, "user-0a1b-bucket", &scope(), Some("sink")), &needs), Vec::<String>::new());
    assert_eq!(
        missing_grants(&policy, &needs),
        [
            "kafka-cluster:AlterGroup on arn:aws:kafka:us-east-1:123456789012:group/pinterest-msk-cluster/abc-1/connect-sink",
            "kafka-cluster:DescribeGroup on arn:aws:kafka:us-east-1:123456789012:group/pinterest-msk-cluster/abc-1/connect-sink"
        ]
    );
    // Another bucket, or a topic outside the scope, is not granted.
    let elsewhere = connector_needs(CLUSTER, "other-bucket", &["other.topic"], "0a1b-connector");
    let missing = missing_grants(&policy, &elsewhere);
    assert!(missing.iter().any(|m| m.starts_with("s3:PutObject on arn:aws:s3:::other-bucket/")), "{missing:?}");
    assert!(missing.iter().any(|m| m.starts_with("kafka-cluster:ReadData on ") && m.ends_with("/other.topic")), "{missing:?}");
    assert!(trusts_service(&trust_policy(None), "kafkaconnect.amazonaws.com"));
    assert!(!trusts_service(&json!({"Statement": []}), "kafkaconnect.amazonaws.com"));
}

#[test]
fn globs() {
    assert!(glob("a*", "abc"));
    assert!(glob("a*c", "abbbc"));
    assert!(glob("a?c", "abc"));
    assert!(!glob("a?c", "ac"));
    assert!(!glob("abc", "abcd"));
    assert!(glob("*", ""));
}

fn role() -> IamRole {
    IamRole {
        name: "r".into(),
        bucket: "b".into(),
        topics: TopicScope::default(),
        cluster: ResourceId::new(msk_cluster::KIND, "c"),
        connector: None,
        manage_policies: true,
        kms_key: None,
        tags: Tags::new(),
    }
}

fn no_such_entity() -> aws_sdk_iam::operation::put_role_policy::PutRolePolicyError {
    use aws_smithy_types::error::ErrorMetadata;
    aws_sdk_iam::operation::put_role_policy::PutRolePolicyError::NoSuchEntityException(
        aws_sdk_iam::types::error::NoSuchEntityException::builder()
            .message("The role with name r cannot be found.")
            .meta(ErrorMetadata::builder().code("NoSuchEntity").message("The role with name r cannot be found.").build())
            .build(),
    )
}

// IAM's eventual consistency cannot be produced by the sandbox: a role just created answers
// NoSuchEntity for a while. The policy put must wait it out, boundedly.
#[tokio::test]
async fn put_policy_waits_out_iam_propagation() {
    use aws_sdk_iam::operation::put_role_policy::PutRolePolicyOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    let rule = mock!(aws_sdk_iam::Client::put_role_policy)
        .sequence()
        .error(no_such_entity)
        .times(2)
        .output(|| PutRolePolicyOutput::builder().build())
        .build();
    let iam = mock_client!(aws_sdk_iam, RuleMode::Sequential, [&rule]);
    role().put_policy(&Aws::with_iam(iam), &json!({"Version": "2012-10-17"})).await.expect("succeeds once IAM has caught up");
    assert_eq!(rule.num_calls(), 3);
}

// Answers no real IAM gives, which the sandbox cannot send either: whatever AWS (or a proxy
// in between) answers, pinfra reports an error and never panics.
#[tokio::test]
async fn unexpected_answers_are_errors_not_panics() {
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    for (status, body) in [
        (500, "<html>upstream proxy error</html>"),
        (200, "not xml at all"),
        (400, "<ErrorResponse><Error><Code></Code></Error></ErrorResponse>"),
        (200, ""),
        (403, "{\"message\": \"json where xml was expected\"}"),
    ] {
        let answer = move || {
            aws_smithy_runtime_api::client::orchestrator::HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body))
        };
        // The policy reads go beside GetRole, and get the same answer.
        let rule = mock!(aws_sdk_iam::Client::get_role).then_http_response(answer);
        let policy = mock!(aws_sdk_iam::Client::get_role_policy).then_http_response(answer);
        let inline = mock!(aws_sdk_iam::Client::list_role_policies).then_http_response(answer);
        let attached = mock!(aws_sdk_iam::Client::list_attached_role_policies).then_http_response(answer);
        let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&rule, &policy, &inline, &attached]);
        let result = role().observe(&Aws::with_iam(iam)).await;
        let error = result.expect_err(&format!("HTTP {status} {body:?} is an error"));
        assert!(error.to_string().starts_with("iam:GetRole"), "{error}");
    }
}

#[tokio::test]
async fn other_errors_are_not_retried() {
    use aws_sdk_iam::operation::put_role_policy::PutRolePolicyError;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;
    let rule = mock!(aws_sdk_iam::Client::put_role_policy)
        .then_error(|| PutRolePolicyError::generic(ErrorMetadata::builder().code("MalformedPolicyDocument").message("bad").build()));
    let iam = mock_client!(aws_sdk_iam, RuleMode::Sequential, [&rule]);
    let error = role().put_policy(&Aws::with_iam(iam), &json!({})).await.expect_err("a malformed policy is final");
    assert!(error.is_code(&["MalformedPolicyDocument"]), "{error}");
    assert_eq!(rule.num_calls(), 1);
}
