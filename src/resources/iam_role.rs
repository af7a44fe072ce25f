//! The IAM role shared by the EC2 Kafka client and the MSK Connect connector, with its inline
//! least-privilege policy.
//!
//! Trust and policy are compared semantically ([`super::policy`]). On a role whose policies
//! pinfra manages, its inline policy ([`POLICY_NAME`]) is the only grant: any other inline or
//! attached policy is drift, shown and removed; with `manage_policies = false` pinfra manages
//! only the role's tags and leaves every policy alone.

use serde_json::{Value as Json, json};

use super::msk_cluster;
use super::policy::{canonical, decode};
use crate::aws::{Aws, AwsError, CallResult, Classify};
use crate::engine::{Change, FieldChange, Fields, Inputs, Kind, Outputs, ResourceError, ResourceId, Tags, Value};
use crate::retry::{Backoff, retry};

/// The kind name.
pub const KIND: &str = "iam_role";
/// The inline policy pinfra manages on the role.
pub const POLICY_NAME: &str = "pinfra-pipeline";

/// The role as the plan declares it.
#[derive(Debug, Clone)]
pub struct IamRole {
    /// Role name.
    pub name: String,
    /// Bucket the connector writes to.
    pub bucket: String,
    /// The plan's topic prefix (`<user_id>.`; also of its consumer groups), and planned topics
    /// outside it.
    pub topics: TopicScope,
    /// The cluster resource whose ARN scopes the policy.
    pub cluster: ResourceId,
    /// The plan's connector, whose consumer group is `connect-<name>`.
    pub connector: Option<String>,
    /// Whether pinfra manages the trust policy and its inline policy on an existing role
    /// (`[role] manage_policies`); a role pinfra creates always gets them.
    pub manage_policies: bool,
    /// The bucket's customer managed KMS key (SSE-KMS), which the sink must be able to use.
    pub kms_key: Option<String>,
    /// Tags, ownership included.
    pub tags: Tags,
}

/// Which topics the role may use: everything under the plan's prefix, and the planned topics
/// outside it by name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TopicScope {
    /// The plan's topic prefix.
    pub prefix: String,
    /// Planned topics that do not start with the prefix.
    pub others: Vec<String>,
}

/// What the plan wants.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// Unknown until the account is known (from the cluster's ARN).
    trust: Value,
    /// Unknown until the cluster's ARN is known.
    policy: Value,
    manage_policies: bool,
    tags: Tags,
}

/// What IAM has.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    arn: String,
    trust: Option<Json>,
    policy: Option<Json>,
    /// Inline policies other than pinfra's, by name.
    other_inline: Vec<String>,
    /// Attached managed policies, by ARN.
    attached: Vec<String>,
    tags: Tags,
}

/// Trust for the principals that assume the role in the seed's pipeline: EC2 (the Kafka
/// client) and MSK Connect; and, once the role exists, the role itself, because the Kafka
/// client's `client.properties` names the role in `awsRoleArn` and IAM lets a role assume
/// itself only when its trust policy says so.
pub fn trust_policy(self_arn: Option<&str>) -> Json {
    let mut statements = vec![json!({
        "Effect": "Allow",
        "Principal": {"Service": ["ec2.amazonaws.com", "kafkaconnect.amazonaws.com"]},
        "Action": "sts:AssumeRole"
    })];
    if let Some(arn) = self_arn {
        statements.push(json!({"Effect": "Allow", "Principal": {"AWS": arn}, "Action": "sts:AssumeRole"}));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// The partition of an ARN (`aws` when it cannot be read).
fn arn_partition(arn: &str) -> &str {
    arn.split(':').nth(1).filter(|p| p.starts_with("aws")).unwrap_or("aws")
}

/// The role's own ARN, from the account in another ARN of the plan (the cluster's).
fn role_arn_in_account_of(other_arn: &str, role: &str) -> Option<String> {
    let mut parts = other_arn.split(':');
    let (Some("arn"), Some(partition), _, _, Some(account)) = (parts.next(), parts.next(), parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    (!account.is_empty()).then(|| format!("arn:{partition}:iam::{account}:role/{role}"))
}

/// The least-privilege policy: the cluster, the plan's topics and groups, MSK Connect's internal
/// topics and groups, and the bucket. No `*` resource.
pub fn pipeline_policy(cluster_arn: &str, bucket: &str, topics: &TopicScope, connector: Option<&str>) -> Json {
    // The bucket's ARN is in the cluster's partition (`aws-cn`, `aws-us-gov`, ...).
    let partition = arn_partition(cluster_arn);
    let scoped = |kind: &str, name: &str| cluster_arn.replacen(":cluster/", &format!(":{kind}/"), 1) + "/" + name;
    let mut topic_arns = vec![scoped("topic", &format!("{}*", topics.prefix)), scoped("topic", "__amazon_msk_connect_*")];
    topic_arns.extend(topics.others.iter().map(|t| scoped("topic", t)));
    // The Kafka client's consumer groups live under the plan's prefix, which ends in a
    // delimiter (`rules::topic_prefix`): `0a1b.*` is not `0a1b2.*`. The sink's group is its own.
    let mut groups = vec![scoped("group", &format!("{}*", topics.prefix)), scoped("group", "__amazon_msk_connect_*")];
    if let Some(name) = connector {
        groups.push(scoped("group", &format!("connect-{name}")));
    }
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                // Producers from Kafka 3.0 on are idempotent by default (KAFKA-13598): the REST
                // proxy's needs WriteDataIdempotently on the cluster, which MSK implies only
                // when WriteData covers every topic ("Create authorization policies").
                "Sid": "ConnectToCluster",
                "Effect": "Allow",
                "Action": ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster", "kafka-cluster:WriteDataIdempotently"],
                "Resource": [cluster_arn]
            },
            {
                "Sid": "PipelineTopics",
                "Effect": "Allow",
                "Action": [
                    "kafka-cluster:CreateTopic", "kafka-cluster:DescribeTopic", "kafka-cluster:DescribeTopicDynamicConfiguration",
                    "kafka-cluster:ReadData", "kafka-cluster:WriteData"
                ],
                "Resource": topic_arns
            },
            {
                "Sid": "PipelineGroups",
                "Effect": "Allow",
                "Action": ["kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup"],
                "Resource": groups
            },
            {
                "Sid": "SinkBucket",
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
                "Resource": [format!("arn:{partition}:s3:::{bucket}")]
            },
            {
                "Sid": "SinkObjects",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
                "Resource": [format!("arn:{partition}:s3:::{bucket}/*")]
            }
        ]
    })
}

/// What the Kafka client (the REST proxy and the CLI, idempotent producers since Kafka 3.0)
/// needs of the role to produce to and consume from `topics`: MSK developer guide, "Common use
/// cases for client authorization".
pub fn client_needs(cluster_arn: &str, topics: &[&str]) -> Vec<(&'static str, String)> {
    let scoped = |kind: &str, name: &str| cluster_arn.replacen(":cluster/", &format!(":{kind}/"), 1) + "/" + name;
    let mut needs = vec![
        ("kafka-cluster:Connect", cluster_arn.to_owned()),
        ("kafka-cluster:DescribeCluster", cluster_arn.to_owned()),
        ("kafka-cluster:WriteDataIdempotently", cluster_arn.to_owned()),
    ];
    for topic in topics {
        for action in ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData", "kafka-cluster:ReadData"] {
            needs.push((action, scoped("topic", topic)));
        }
    }
    needs
}

/// With SSE-KMS under a customer managed key, the sink's PutObject and multipart uploads need
/// `kms:GenerateDataKey` and `kms:Decrypt` on that key (S3 User Guide, "Using server-side
/// encryption with AWS KMS keys": permissions for uploads and multipart uploads); granted on
/// that key alone. An AWS managed key (`aws/s3`) needs no grant.
pub fn with_bucket_key(mut policy: Json, kms_key: Option<&str>) -> Json {
    if let (Some(key), Some(statements)) = (kms_key, policy["Statement"].as_array_mut()) {
        statements.push(json!({
            "Sid": "SinkBucketKey",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": [key]
        }));
    }
    policy
}

/// What writing to a bucket encrypted under `kms_key` needs of the role (see [`with_bucket_key`]).
pub fn bucket_key_needs(kms_key: Option<&str>) -> Vec<(&'static str, String)> {
    kms_key.map(|key| vec![("kms:GenerateDataKey", key.to_owned()), ("kms:Decrypt", key.to_owned())]).unwrap_or_default()
}

/// What the S3 sink connector needs of the role, in the words of IAM: `(action, resource)`.
pub fn connector_needs(cluster_arn: &str, bucket: &str, topics: &[&str], connector: &str) -> Vec<(&'static str, String)> {
    let partition = arn_partition(cluster_arn);
    let scoped = |kind: &str, name: &str| cluster_arn.replacen(":cluster/", &format!(":{kind}/"), 1) + "/" + name;
    let mut needs = vec![("kafka-cluster:Connect", cluster_arn.to_owned()), ("kafka-cluster:DescribeCluster", cluster_arn.to_owned())];
    for topic in topics {
        needs.push(("kafka-cluster:DescribeTopic", scoped("topic", topic)));
        needs.push(("kafka-cluster:ReadData", scoped("topic", topic)));
    }
    // MSK Connect keeps offsets, configs and status in internal topics of its own.
    let internal = scoped("topic", &format!("__amazon_msk_connect_offsets_{connector}"));
    for action in ["kafka-cluster:CreateTopic", "kafka-cluster:DescribeTopic", "kafka-cluster:ReadData", "kafka-cluster:WriteData"] {
        needs.push((action, internal.clone()));
    }
    for group in [format!("connect-{connector}"), format!("__amazon_msk_connect_{connector}")] {
        needs.push(("kafka-cluster:AlterGroup", scoped("group", &group)));
        needs.push(("kafka-cluster:DescribeGroup", scoped("group", &group)));
    }
    for action in ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"] {
        needs.push((action, format!("arn:{partition}:s3:::{bucket}")));
    }
    for action in ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"] {
        needs.push((
            action,
            format!("arn:{partition}:s3:::{bucket}/topics/{}/partition=0/object.json", topics.first().copied().unwrap_or("topic")),
        ));
    }
    needs
}

/// IAM's wildcard match: `*` any run of characters, `?` one character; case-sensitive, as IAM
/// compares resources (actions are compared case-insensitively by the caller).
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn strings(value: &Json) -> Vec<&str> {
    match value {
        Json::String(s) => vec![s.as_str()],
        Json::Array(items) => items.iter().filter_map(Json::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The needs that no `Allow` statement of `policy` grants (statements with conditions or
/// `NotAction`/`NotResource` are not counted as granting anything).
pub fn missing_grants(policy: &Json, needs: &[(&'static str, String)]) -> Vec<String> {
    let statements: Vec<&Json> = match &policy["Statement"] {
        Json::Array(items) => items.iter().collect(),
        single @ Json::Object(_) => vec![single],
        _ => Vec::new(),
    };
    let grants = |action: &str, resource: &str| {
        statements.iter().any(|s| {
            s["Effect"] == "Allow"
                && s.get("Condition").is_none()
                && strings(&s["Action"]).iter().any(|a| glob(&a.to_ascii_lowercase(), &action.to_ascii_lowercase()))
                && strings(&s["Resource"]).iter().any(|r| glob(r, resource))
        })
    };
    needs
        .iter()
        .filter(|(action, resource)| !grants(action, resource))
        .map(|(action, resource)| format!("{action} on {resource}"))
        .collect()
}

/// Whether `trust` lets `service` assume the role.
pub fn trusts_service(trust: &Json, service: &str) -> bool {
    match &trust["Statement"] {
        Json::Array(items) => items.iter().any(|s| {
            s["Effect"] == "Allow"
                && strings(&s["Action"]).contains(&"sts:AssumeRole")
                && strings(&s["Principal"]["Service"]).contains(&service)
        }),
        _ => false,
    }
}

pub fn iam_tags(tags: &Tags) -> Vec<aws_sdk_iam::types::Tag> {
    tags.iter().filter_map(|(k, v)| aws_sdk_iam::types::Tag::builder().key(k).value(v).build().ok()).collect()
}

/// Tags of an IAM resource as a map.
pub fn tag_map(tags: &[aws_sdk_iam::types::Tag]) -> Tags {
    tags.iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect()
}

/// Whether an IAM error is the propagation delay after a create.
pub fn is_propagating(error: &AwsError) -> bool {
    error.is_code(&["NoSuchEntity"])
}

/// A role as a person left it: its tags and its policies by name, without the document of
/// pinfra's own policy (what `import` needs to say whether pinfra may manage the policies).
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Its name.
    pub name: String,
    /// Its tags.
    pub tags: Tags,
    /// Inline policies, by name (pinfra's [`POLICY_NAME`] among them, if it has it).
    pub inline: Vec<String>,
    /// Attached managed policies, by ARN.
    pub attached: Vec<String>,
}

impl Found {
    /// Whether it has pinfra's inline policy.
    pub fn has_pinfra_policy(&self) -> bool {
        self.inline.iter().any(|p| p == POLICY_NAME)
    }

    /// Its other policies: inline names, then attached ARNs.
    pub fn other_policies(&self) -> Vec<String> {
        self.inline.iter().filter(|p| *p != POLICY_NAME).chain(&self.attached).cloned().collect()
    }
}

/// The role `name` (GetRole, then its inline and attached policies side by side), or `None`:
/// the reads of [`Kind::observe`] but pinfra's policy document.
pub async fn find(aws: &Aws, name: &str) -> Result<Option<Found>, AwsError> {
    let Some(role) = get_role(aws, name).await? else { return Ok(None) };
    let (inline, attached) = policy_names(aws, name).await;
    Ok(Some(Found { name: name.to_owned(), tags: tag_map(role.tags()), inline: inline?, attached: attached? }))
}

/// GetRole: the role `name`, or `None`.
async fn get_role(aws: &Aws, name: &str) -> Result<Option<aws_sdk_iam::types::Role>, AwsError> {
    match aws.iam.get_role().role_name(name).send().await.or_aws("iam:GetRole") {
        Ok(out) => Ok(Some(out.role.ok_or_else(|| AwsError::Other { operation: "iam:GetRole", detail: "answer without a role".into() })?)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// The role's inline policy names and attached policy ARNs, read side by side.
async fn policy_names(aws: &Aws, role: &str) -> (CallResult<Vec<String>>, CallResult<Vec<String>>) {
    tokio::join!(list_inline(aws, role), list_attached(aws, role))
}

/// The role's inline policies, by name, every page.
async fn list_inline(aws: &Aws, role: &str) -> CallResult<Vec<String>> {
    let mut names = Vec::new();
    let mut pages = aws.iam.list_role_policies().role_name(role).into_paginator().send();
    while let Some(page) = pages.next().await {
        names.extend(page.or_aws("iam:ListRolePolicies")?.policy_names().iter().cloned());
    }
    Ok(names)
}

/// The role's attached managed policies, by ARN, every page.
async fn list_attached(aws: &Aws, role: &str) -> CallResult<Vec<String>> {
    let mut arns = Vec::new();
    let mut pages = aws.iam.list_attached_role_policies().role_name(role).into_paginator().send();
    while let Some(page) = pages.next().await {
        arns.extend(
            page.or_aws("iam:ListAttachedRolePolicies")?.attached_policies().iter().filter_map(|p| p.policy_arn()).map(str::to_owned),
        );
    }
    Ok(arns)
}

async fn delete_inline(aws: &Aws, role: &str, name: &str) -> CallResult<()> {
    match aws.iam.delete_role_policy().role_name(role).policy_name(name).send().await.or_aws("iam:DeleteRolePolicy") {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

async fn detach(aws: &Aws, role: &str, arn: &str) -> CallResult<()> {
    match aws.iam.detach_role_policy().role_name(role).policy_arn(arn).send().await.or_aws("iam:DetachRolePolicy") {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Removes what the change lists as privilege drift: inline policies other than pinfra's and
/// attached managed policies.
async fn remove_drift(aws: &Aws, role: &str, live: &Live, change: &Change) -> CallResult<()> {
    if change.touches("other_inline_policies") {
        for name in &live.other_inline {
            delete_inline(aws, role, name).await?;
        }
    }
    if change.touches("attached_policies") {
        for arn in &live.attached {
            detach(aws, role, arn).await?;
        }
    }
    Ok(())
}

impl IamRole {
    async fn put_policy(&self, aws: &Aws, policy: &Json) -> CallResult<()> {
        let document = policy.to_string();
        retry(Backoff::IAM_PROPAGATION, "iam:PutRolePolicy", is_propagating, || async {
            aws.iam
                .put_role_policy()
                .role_name(&self.name)
                .policy_name(POLICY_NAME)
                .policy_document(&document)
                .send()
                .await
                .or_aws("iam:PutRolePolicy")
        })
        .await?;
        Ok(())
    }
}

impl Kind for IamRole {
    type Desired = Desired;
    type Live = Live;

    fn id(&self) -> ResourceId {
        ResourceId::new(KIND, &self.name)
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        vec![self.cluster.clone()]
    }

    async fn observe(&self, aws: &Aws) -> Result<Option<Live>, AwsError> {
        // All four side by side, one round trip: the policy reads need only the role's name. When
        // the role is missing, theirs are NoSuchEntity answers, not looked at.
        let (role, policy, (inline, attached)) = tokio::join!(
            get_role(aws, &self.name),
            aws.iam.get_role_policy().role_name(&self.name).policy_name(POLICY_NAME).send(),
            policy_names(aws, &self.name)
        );
        let Some(role) = role? else { return Ok(None) };
        let policy = match policy.or_aws("iam:GetRolePolicy") {
            Ok(out) => decode(out.policy_document()),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e),
        };
        let other_inline = inline?.into_iter().filter(|name| name != POLICY_NAME).collect();
        Ok(Some(Live {
            trust: role.assume_role_policy_document().and_then(decode),
            tags: tag_map(role.tags()),
            arn: role.arn,
            policy,
            other_inline,
            attached: attached?,
        }))
    }

    /// A role's ARN is fixed by its name and account (CreateRole with the default path `/`), so
    /// a role deleted by hand and re-created changes nothing for what uses its ARN (the
    /// instance's user-data, the connector).
    fn outputs_on_create(&self, inputs: &Inputs) -> Outputs {
        let mut outputs = Outputs::from([("name", Value::of(self.name.clone()))]);
        if let Some(arn) = inputs.string(&self.cluster, msk_cluster::OUTPUT_ARN).and_then(|arn| role_arn_in_account_of(&arn, &self.name)) {
            outputs.insert("arn", Value::of(arn));
        }
        outputs
    }

    fn desired(&self, inputs: &Inputs) -> Desired {
        let policy = match inputs.string(&self.cluster, msk_cluster::OUTPUT_ARN) {
            Some(arn) => Value::Known(with_bucket_key(
                pipeline_policy(&arn, &self.bucket, &self.topics, self.connector.as_deref()),
                self.kms_key.as_deref(),
            )),
            None => Value::Unknown,
        };
        let trust = match inputs.string(&self.cluster, msk_cluster::OUTPUT_ARN).and_then(|arn| role_arn_in_account_of(&arn, &self.name)) {
            Some(arn) => Value::Known(trust_policy(Some(&arn))),
            None => Value::Unknown,
        };
        Desired { trust, policy, manage_policies: self.manage_policies, tags: self.tags.clone() }
    }

    fn diff(desired: &Desired, live: Option<&Live>) -> Result<Vec<FieldChange>, ResourceError> {
        // Both sides in canonical form: IAM may answer with another order or shape.
        let canonical_value = |v: &Value| match v {
            Value::Known(document) => Value::Known(canonical(document)),
            Value::Unknown => Value::Unknown,
        };
        let mut fields = Fields::new(live.is_none());
        // An adopted role whose policies are its own: only its tags are pinfra's.
        if desired.manage_policies || live.is_none() {
            // The role names itself by its live ARN, which carries its path (`role/service-role/x`
            // for a role made elsewhere); the plan only knows the account.
            let trust = match (&desired.trust, live) {
                (Value::Known(_), Some(l)) => Value::Known(trust_policy(Some(&l.arn))),
                (trust, _) => trust.clone(),
            };
            fields.field("trust", canonical_value(&trust), live.and_then(|l| l.trust.as_ref()).map(canonical), false);
            fields.field("policy", canonical_value(&desired.policy), live.and_then(|l| l.policy.as_ref()).map(canonical), false);
            // pinfra's policy is the role's only grant: anything added by hand is privilege
            // drift, removed on apply.
            if let Some(live) = live.filter(|l| !l.other_inline.is_empty()) {
                fields.known("other_inline_policies", json!([]), Some(json!(live.other_inline)), false);
            }
            if let Some(live) = live.filter(|l| !l.attached.is_empty()) {
                fields.known("attached_policies", json!([]), Some(json!(live.attached)), false);
            }
        }
        fields.tags("tags", &desired.tags, live.map(|l| &l.tags));
        Ok(fields.finish())
    }

    fn explain(fields: &[FieldChange]) -> Option<String> {
        fields.iter().any(|f| f.path == "other_inline_policies" || f.path == "attached_policies").then(|| {
            "privilege drift: policies added by hand are removed, pinfra's policy is the role's only grant (`[role] manage_policies = false` keeps them)".to_owned()
        })
    }

    const OUTPUTS: &'static [&'static str] = &["arn", "name"];

    fn live_tags(live: &Live) -> Option<&Tags> {
        Some(&live.tags)
    }

    fn outputs(&self, live: &Live) -> Outputs {
        Outputs::from([("arn", Value::of(live.arn.clone())), ("name", Value::of(self.name.clone()))])
    }

    async fn apply(&self, aws: &Aws, desired: &Desired, live: Option<&Live>, change: &Change) -> Result<Outputs, ResourceError> {
        if let Some(live) = live {
            remove_drift(aws, &self.name, live, change).await?;
        }
        if let Some(live) = live
            && !change.touches("trust")
            && !change.touches("policy")
        {
            if change.touches("tags") {
                aws.iam.tag_role().role_name(&self.name).set_tags(Some(iam_tags(&desired.tags))).send().await.or_aws("iam:TagRole")?;
            }
            return Ok(Outputs::from([("arn", Value::of(live.arn.clone())), ("name", Value::of(self.name.clone()))]));
        }
        let (Value::Known(policy), Value::Known(_)) = (&desired.policy, &desired.trust) else {
            return Err(ResourceError::refused(
                format!("the policy of {} depends on a value that is still unknown", self.id()),
                "apply again",
            ));
        };
        let arn = match live {
            Some(live) => {
                if change.touches("trust") {
                    aws.iam
                        .update_assume_role_policy()
                        .role_name(&self.name)
                        .policy_document(trust_policy(Some(&live.arn)).to_string())
                        .send()
                        .await
                        .or_aws("iam:UpdateAssumeRolePolicy")?;
                }
                if change.touches("tags") {
                    aws.iam.tag_role().role_name(&self.name).set_tags(Some(iam_tags(&desired.tags))).send().await.or_aws("iam:TagRole")?;
                }
                live.arn.clone()
            }
            None => {
                let created = aws
                    .iam
                    .create_role()
                    .role_name(&self.name)
                    // Without itself: a role cannot be named as a principal before it exists.
                    .assume_role_policy_document(trust_policy(None).to_string())
                    .description("Kafka client and MSK Connect role of a pinfra pipeline")
                    .set_tags(Some(iam_tags(&desired.tags)))
                    .send()
                    .await
                    .or_aws("iam:CreateRole");
                match created {
                    Ok(out) => out.role.map(|r| r.arn).unwrap_or_default(),
                    // Created by an interrupted earlier run between its observe and now: converge.
                    Err(e) if e.is_code(&["EntityAlreadyExists"]) => {
                        aws.iam
                            .tag_role()
                            .role_name(&self.name)
                            .set_tags(Some(iam_tags(&desired.tags)))
                            .send()
                            .await
                            .or_aws("iam:TagRole")?;
                        aws.iam.get_role().role_name(&self.name).send().await.or_aws("iam:GetRole")?.role.map(|r| r.arn).unwrap_or_default()
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        // The role's own trust and its policy are independent: side by side, one round trip.
        let trust = async {
            if live.is_none() {
                // Now that the role exists, let it assume itself. IAM may not know the new role
                // as a principal for a moment.
                let document = trust_policy(Some(&arn)).to_string();
                let propagating = |e: &AwsError| e.is_code(&["MalformedPolicyDocument"]) && e.to_string().contains("rincipal");
                retry(Backoff::IAM_PROPAGATION, "iam:UpdateAssumeRolePolicy", propagating, || async {
                    aws.iam
                        .update_assume_role_policy()
                        .role_name(&self.name)
                        .policy_document(&document)
                        .send()
                        .await
                        .or_aws("iam:UpdateAssumeRolePolicy")
                })
                .await?;
            }
            Ok::<_, ResourceError>(())
        };
        let inline = async {
            if live.is_none() || change.touches("policy") {
                self.put_policy(aws, policy).await?;
            }
            Ok::<_, ResourceError>(())
        };
        tokio::try_join!(trust, inline)?;
        Ok(Outputs::from([("arn", Value::of(arn)), ("name", Value::of(self.name.clone()))]))
    }

    async fn delete(&self, aws: &Aws, _live: &Live) -> Result<(), ResourceError> {
        // IAM refuses to delete a role that is still in an instance profile (one pinfra did not
        // own and so left in place, say).
        let profiles =
            aws.iam.list_instance_profiles_for_role().role_name(&self.name).send().await.or_aws("iam:ListInstanceProfilesForRole")?;
        for profile in profiles.instance_profiles() {
            aws.iam
                .remove_role_from_instance_profile()
                .instance_profile_name(profile.instance_profile_name())
                .role_name(&self.name)
                .send()
                .await
                .or_aws("iam:RemoveRoleFromInstanceProfile")?;
        }
        for name in list_inline(aws, &self.name).await? {
            delete_inline(aws, &self.name, &name).await?;
        }
        for arn in list_attached(aws, &self.name).await? {
            detach(aws, &self.name, &arn).await?;
        }
        match aws.iam.delete_role().role_name(&self.name).send().await.or_aws("iam:DeleteRole") {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests;
