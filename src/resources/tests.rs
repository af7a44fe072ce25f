//! Golden files of the whole diff the real registry and kinds plan for `plans/pinterest.toml`
//! (its AMI pinned), from fixture observations instead of AWS (`Engine::observed_from`, with
//! the fixtures of `s3_bucket::Live` and `msk_topic::Live`), printed by `engine::render::text`.
//! The files are insta snapshots in `src/resources/snapshots/`; review a change with
//! `cargo insta review`, or rewrite them with `INSTA_UPDATE=always`.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use super::discovery::{ClusterInfo, ConnectListing, Discovery, TopicSummary};
use super::{Context, Options, msk_cluster, msk_topic, s3_bucket};
use crate::artifact::{Artifact, Origin};
use crate::engine::render::{Style, text};
use crate::engine::{Engine, ResourceError, ResourceId, Tags};
use crate::retry::Poll;

/// The seed's cluster as MSK describes it: ACTIVE, Provisioned, Kafka 3.6.0, IAM auth.
fn cluster() -> ClusterInfo {
    ClusterInfo {
        arn: "arn:aws:kafka:us-east-1:123456789012:cluster/pinterest-msk-cluster/0a1b2c3d-4e5f-6789-abcd-ef0123456789-2".into(),
        state: "ACTIVE".into(),
        provisioned: true,
        kafka_version: Some("3.6.0".into()),
        iam_auth: true,
        broker_count: Some(3),
        zookeeper: None,
        bootstrap_sasl_iam: Some(
            (1..=3).map(|b| format!("b-{b}.pinterest.abc123.c2.kafka.us-east-1.amazonaws.com:9098")).collect::<Vec<_>>().join(","),
        ),
        current_version: Some("K3AEGXETSR30VB".into()),
        instance_type: Some("kafka.m5.large".into()),
        storage_gib: Some(100),
        subnets: vec!["subnet-0a".into(), "subnet-0b".into(), "subnet-0c".into()],
        security_groups: vec!["sg-0brokers".into()],
        configuration: None,
        tls_in_transit: true,
        tags: Tags::new(),
        failure: None,
    }
}

/// A topic as AWS holds it: name, partitions, replication factor, configs.
type Topic = (&'static str, i32, i32, &'static [(&'static str, &'static str)]);

/// What AWS holds besides the cluster.
#[derive(Default)]
struct Account {
    /// The cluster; the seed's when `None`.
    cluster: Option<ClusterInfo>,
    /// The bucket, with these tags.
    bucket: Option<Tags>,
    /// The topics.
    topics: Vec<Topic>,
    /// `--prune`.
    prune: bool,
}

/// The seed's three topics as planned, and one more under the prefix.
const TOPICS: [Topic; 4] = [
    ("0a1b2c3d4e5f.pin", 3, 3, &[("retention.ms", "604800000")]),
    ("0a1b2c3d4e5f.geo", 3, 3, &[]),
    ("0a1b2c3d4e5f.user", 3, 3, &[]),
    ("0a1b2c3d4e5f.old", 1, 3, &[]),
];

fn tags(env: &str) -> Tags {
    Tags::from([("pinfra:plan".into(), "pinterest".into()), ("pinfra:env".into(), env.into()), ("team".into(), "data-engineering".into())])
}

/// The engine of `plans/pinterest.toml` (its AMI pinned) and what it observes in `account`.
fn observe(account: &Account) -> (Engine, crate::engine::Observed) {
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/plans/pinterest.toml")).unwrap();
    // An unpinned AMI is resolved while observing (SSM), which fixtures skip.
    let source = source.replacen("[kafka_client]\n", "[kafka_client]\nami = \"ami-0123456789abcdef0\"\n", 1);
    let plan = Arc::new(crate::plan::parse(&source).plan.unwrap());
    let cluster = account.cluster.clone().unwrap_or_else(cluster);
    let topic_arn = |name: &str| format!("arn:aws:kafka:us-east-1:123456789012:topic/pinterest-msk-cluster/0a1b/{name}");
    let listing = account
        .topics
        .iter()
        .map(|(name, partitions, replication_factor, _)| {
            let summary = TopicSummary { arn: topic_arn(name), partitions: *partitions, replication_factor: *replication_factor };
            ((*name).to_owned(), summary)
        })
        .collect();
    let discovery = Discovery {
        cluster: Some(cluster.clone()),
        topics: Some(listing),
        default_subnets: None,
        connect: Some(ConnectListing::default()),
        network: None,
    };
    let context = Context {
        discovery: Arc::new(discovery),
        templates: Arc::new(crate::render::Templates::load(None).unwrap()),
        options: Options {
            prune: account.prune,
            poll: Poll {
                first: Duration::from_millis(1),
                cap: Duration::from_millis(1),
                timeout: Duration::from_secs(1),
                report_every: Duration::ZERO,
            },
        },
        artifact: Some(Arc::new(Artifact {
            sha256: "0123456789abcdef".repeat(4),
            origin: Origin::File("plans/artifacts/confluentinc-kafka-connect-s3-10.0.3.zip".into()),
        })),
        endpoint: None,
    };
    let engine = Engine::new(super::for_plan(&plan, &context), super::ownership(&plan), 8).unwrap();
    let observed = engine.observed_from(|id| -> Option<Box<dyn Any + Send + Sync>> {
        match id.kind {
            msk_cluster::KIND => Some(Box::new(cluster.clone())),
            s3_bucket::KIND => account.bucket.clone().map(|tags| Box::new(s3_bucket::Live::fixture(tags)) as _),
            msk_topic::KIND => account.topics.iter().find(|t| t.0 == id.name).map(|(name, partitions, replication_factor, configs)| {
                Box::new(msk_topic::Live::fixture(&topic_arn(name), *partitions, *replication_factor, configs)) as _
            }),
            _ => None,
        }
    });
    (engine, observed)
}

/// Refusals as `diff` reports them.
fn refusals(failures: &[(ResourceId, ResourceError)]) -> String {
    failures.iter().map(|(id, e)| format!("error: {id}: {e}\n  hint: {}\n", e.hint().unwrap_or_default())).collect()
}

/// The diff `diff` prints for `account`.
fn diff(account: &Account) -> String {
    let (engine, observed) = observe(account);
    engine.plan(&observed).map_or_else(|failures| refusals(&failures), |planned| text(&planned, Style::default()))
}

/// What `destroy` would delete in `account`.
fn destroy(account: &Account) -> String {
    let (engine, observed) = observe(account);
    engine.plan_destroy(&observed).map_or_else(|failures| refusals(&failures), |planned| text(&planned, Style::default()))
}

/// The plan's diff where AWS has only `cluster`.
fn fresh_diff(cluster: ClusterInfo) -> String {
    diff(&Account { cluster: Some(cluster), ..Account::default() })
}

#[test]
fn fresh() {
    insta::assert_snapshot!(fresh_diff(cluster()));
}

/// A cluster the pipeline cannot use is refused, and nothing else is planned.
#[test]
fn a_cluster_without_iam_auth() {
    insta::assert_snapshot!(fresh_diff(ClusterInfo { iam_auth: false, ..cluster() }));
}

/// Another environment's bucket answers to the plan's name: refused, nothing planned.
#[test]
fn foreign() {
    let account = Account { bucket: Some(tags("prod")), topics: TOPICS[..3].to_vec(), ..Account::default() };
    insta::assert_snapshot!(diff(&account));
}

/// `--prune` with the bucket proving the claim: the unlisted topic is deleted, the planned
/// ones are as planned, the rest of the pipeline is still to create.
#[test]
fn prune() {
    let account = Account { bucket: Some(tags("dev")), topics: TOPICS.to_vec(), prune: true, ..Account::default() };
    insta::assert_snapshot!(diff(&account));
}

/// `destroy` where the bucket carries the plan's tags: the topics go too, first.
#[test]
fn destroy_proven() {
    let account = Account { bucket: Some(tags("dev")), topics: TOPICS.to_vec(), ..Account::default() };
    insta::assert_snapshot!(destroy(&account));
}

/// `destroy` where the bucket was made by hand: nothing proves the topics are the plan's.
#[test]
fn destroy_unproven() {
    let handmade = Tags::from([("team".into(), "data-engineering".into())]);
    let account = Account { bucket: Some(handmade), topics: TOPICS.to_vec(), ..Account::default() };
    insta::assert_snapshot!(destroy(&account));
}
