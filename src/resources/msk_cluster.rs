//! The existing MSK cluster the pipeline uses, looked up by name or ARN, and checked: the topic
//! API needs a Provisioned cluster on Kafka 3.6 or later, ACTIVE, and the pipeline needs IAM
//! client authentication. pinfra reads the cluster but does not create, change or delete it.
//!
//! The cluster is found once per run by [`discover`], together with the topics under the plan's
//! prefix, before the other resources are observed: those lookups are sequential by nature
//! (the topics need the cluster's ARN), everything after them is parallel.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_kafka::types::{Cluster, ClusterState, ClusterType};

use crate::aws::{Aws, AwsError, Classify};
use crate::engine::{Change, FieldChange, Inputs, Kind, Outputs, ResourceError, ResourceId, Tags, Value};
use crate::plan::{ClusterRef, Plan};

/// The kind name.
pub const KIND: &str = "msk_cluster";
/// The output carrying the cluster ARN.
pub const OUTPUT_ARN: &str = "arn";
/// The output carrying the SASL/IAM bootstrap broker string.
pub const OUTPUT_BOOTSTRAP: &str = "bootstrap_brokers_sasl_iam";
/// The output carrying the ZooKeeper connection string, for clusters that have one.
pub const OUTPUT_ZOOKEEPER: &str = "zookeeper_connect";

/// What MSK says about the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterInfo {
    /// ARN.
    pub arn: String,
    /// State, such as `ACTIVE` or `CREATING`.
    pub state: String,
    /// Whether it is a Provisioned cluster (the topic API does not serve Serverless ones).
    pub provisioned: bool,
    /// Kafka version, such as `3.6.0`.
    pub kafka_version: Option<String>,
    /// Whether SASL/IAM client authentication is on.
    pub iam_auth: bool,
    /// Number of brokers (bounds the replication factor).
    pub broker_count: Option<i32>,
    /// ZooKeeper connection string, if the cluster has one.
    pub zookeeper: Option<String>,
    /// SASL/IAM bootstrap brokers; read only for an ACTIVE cluster.
    pub bootstrap_sasl_iam: Option<String>,
}

impl ClusterInfo {
    fn from_cluster(cluster: &Cluster) -> Self {
        let provisioned = cluster.provisioned();
        ClusterInfo {
            arn: cluster.cluster_arn().unwrap_or_default().to_owned(),
            state: cluster.state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
            provisioned: cluster.cluster_type() != Some(&ClusterType::Serverless) && cluster.serverless().is_none(),
            kafka_version: provisioned.and_then(|p| p.current_broker_software_info()).and_then(|s| s.kafka_version()).map(str::to_owned),
            iam_auth: provisioned
                .and_then(|p| p.client_authentication())
                .and_then(|a| a.sasl())
                .and_then(|s| s.iam())
                .and_then(|i| i.enabled())
                .unwrap_or(false),
            broker_count: provisioned.and_then(|p| p.number_of_broker_nodes()),
            zookeeper: provisioned.and_then(|p| p.zookeeper_connect_string()).filter(|z| !z.is_empty()).map(str::to_owned),
            bootstrap_sasl_iam: None,
        }
    }

    /// Every reason the pipeline cannot use this cluster, in words a user can act on.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.state != ClusterState::Active.as_str() {
            problems.push(format!("it is {}, not ACTIVE", self.state));
        }
        if !self.provisioned {
            problems.push("it is Serverless; the MSK topic API needs a Provisioned cluster".to_owned());
        } else if !self.kafka_version.as_deref().is_some_and(version_at_least_3_6) {
            problems.push(format!(
                "it runs Kafka {}; the MSK topic API needs 3.6.0 or later",
                self.kafka_version.as_deref().unwrap_or("of an unknown version")
            ));
        }
        if !self.iam_auth {
            problems.push("IAM client authentication is off; the Kafka client and MSK Connect authenticate with IAM".to_owned());
        }
        problems
    }
}

/// Whether a Kafka version string (`3.6.0`, `3.7.x`, `3.8.x.kraft`) is 3.6 or later.
pub fn version_at_least_3_6(version: &str) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= (3, 6),
        (Some(major), None) => major > 3,
        _ => false,
    }
}

/// A topic as ListTopics reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSummary {
    /// ARN.
    pub arn: String,
    /// Partitions.
    pub partitions: i32,
    /// Replication factor.
    pub replication_factor: i32,
}

/// The cluster and the topics under the plan's prefix, read once per run.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    /// The cluster, if it exists.
    pub cluster: Option<ClusterInfo>,
    /// The topics whose names start with the plan's prefix, when the cluster can be asked.
    pub topics: Option<BTreeMap<String, TopicSummary>>,
}

/// Finds the cluster and, if it can serve the topic API, lists the topics under the plan's
/// prefix (every page).
pub async fn discover(aws: &Aws, plan: &Plan) -> Result<Discovery, AwsError> {
    let Some(mut cluster) = find(aws, &plan.msk.cluster).await? else {
        return Ok(Discovery::default());
    };
    if !cluster.problems().is_empty() {
        return Ok(Discovery { cluster: Some(cluster), topics: None });
    }
    let planned: Vec<&str> = plan.topics.iter().map(|t| t.name.as_str()).collect();
    let (bootstrap, topics) = tokio::join!(
        aws.kafka.get_bootstrap_brokers().cluster_arn(&cluster.arn).send(),
        list_topics(aws, &cluster.arn, &plan.msk.topic_prefix, &planned),
    );
    cluster.bootstrap_sasl_iam = bootstrap.or_aws("kafka:GetBootstrapBrokers")?.bootstrap_broker_string_sasl_iam().map(str::to_owned);
    Ok(Discovery { cluster: Some(cluster), topics: Some(topics?) })
}

async fn find(aws: &Aws, cluster: &ClusterRef) -> Result<Option<ClusterInfo>, AwsError> {
    match cluster {
        ClusterRef::Arn(arn) => match aws.kafka.describe_cluster_v2().cluster_arn(arn).send().await.or_aws("kafka:DescribeClusterV2") {
            Ok(out) => Ok(out.cluster_info().map(ClusterInfo::from_cluster)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        },
        ClusterRef::Name(name) => {
            let mut token: Option<String> = None;
            loop {
                let page = aws
                    .kafka
                    .list_clusters_v2()
                    .cluster_name_filter(name)
                    .set_next_token(token.take())
                    .send()
                    .await
                    .or_aws("kafka:ListClustersV2")?;
                // The filter matches prefixes: keep the exact name only.
                if let Some(found) = page.cluster_info_list().iter().find(|c| c.cluster_name() == Some(name.as_str())) {
                    return Ok(Some(ClusterInfo::from_cluster(found)));
                }
                match page.next_token {
                    Some(next) if !next.is_empty() => token = Some(next),
                    _ => return Ok(None),
                }
            }
        }
    }
}

/// Lists the topics whose names start with `prefix` (all of them when it is empty), following
/// every page. Planned topics outside the prefix are listed with one more filtered call each.
async fn list_topics(aws: &Aws, cluster_arn: &str, prefix: &str, planned: &[&str]) -> Result<BTreeMap<String, TopicSummary>, AwsError> {
    let mut filters: Vec<&str> = vec![prefix];
    filters.extend(planned.iter().filter(|t| !t.starts_with(prefix)));
    let mut topics = BTreeMap::new();
    for filter in filters {
        let mut pages = aws
            .kafka
            .list_topics()
            .cluster_arn(cluster_arn)
            .set_topic_name_filter((!filter.is_empty()).then(|| filter.to_owned()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for topic in page.or_aws("kafka:ListTopics")?.topics() {
                let Some(name) = topic.topic_name() else { continue };
                if !name.starts_with(filter) {
                    continue;
                }
                topics.insert(
                    name.to_owned(),
                    TopicSummary {
                        arn: topic.topic_arn().unwrap_or_default().to_owned(),
                        partitions: topic.partition_count().unwrap_or_default(),
                        replication_factor: topic.replication_factor().unwrap_or_default(),
                    },
                );
            }
        }
    }
    Ok(topics)
}

/// The cluster as the plan names it.
#[derive(Debug, Clone)]
pub struct MskCluster {
    /// Name or ARN.
    pub cluster: ClusterRef,
    /// What [`discover`] found.
    pub discovery: Arc<Discovery>,
}

impl Kind for MskCluster {
    type Desired = ();
    type Live = ClusterInfo;

    fn id(&self) -> ResourceId {
        ResourceId::new(KIND, self.cluster.name())
    }

    fn read_only(&self) -> bool {
        true
    }

    async fn observe(&self, _aws: &Aws) -> Result<Option<ClusterInfo>, AwsError> {
        Ok(self.discovery.cluster.clone())
    }

    fn desired(&self, _inputs: &Inputs) {}

    fn diff(_desired: &(), live: Option<&ClusterInfo>) -> Result<Vec<FieldChange>, ResourceError> {
        let problems = live.map(ClusterInfo::problems).unwrap_or_default();
        if problems.is_empty() {
            Ok(Vec::new())
        } else {
            Err(ResourceError::refused(
                format!("the pipeline cannot use this cluster: {}", problems.join("; ")),
                "wait until the cluster is ACTIVE, or name a Provisioned cluster on Kafka 3.6 or later with IAM authentication in [msk] cluster",
            ))
        }
    }

    fn live_tags(_live: &ClusterInfo) -> Option<&Tags> {
        None
    }

    fn outputs(&self, live: &ClusterInfo) -> Outputs {
        let mut outputs = Outputs::from([(OUTPUT_ARN, Value::of(live.arn.clone())), ("state", Value::of(live.state.clone()))]);
        if let Some(bootstrap) = &live.bootstrap_sasl_iam {
            outputs.insert(OUTPUT_BOOTSTRAP, Value::of(bootstrap.clone()));
        }
        if let Some(zookeeper) = &live.zookeeper {
            outputs.insert(OUTPUT_ZOOKEEPER, Value::of(zookeeper.clone()));
        }
        outputs
    }

    async fn apply(&self, _aws: &Aws, _desired: &(), live: Option<&ClusterInfo>, _change: &Change) -> Result<Outputs, ResourceError> {
        // Read-only: the engine never asks for a change, so this only reports what exists.
        live.map(|l| self.outputs(l))
            .ok_or_else(|| ResourceError::refused(format!("{} does not exist", self.id()), "create the cluster first"))
    }

    async fn delete(&self, _aws: &Aws, _live: &ClusterInfo) -> Result<(), ResourceError> {
        Err(ResourceError::refused(format!("{} is not pinfra's to delete", self.id()), "delete the cluster in the MSK console"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy() -> ClusterInfo {
        ClusterInfo {
            arn: "arn:aws:kafka:us-east-1:123456789012:cluster/c/u".into(),
            state: "ACTIVE".into(),
            provisioned: true,
            kafka_version: Some("3.6.0".into()),
            iam_auth: true,
            broker_count: Some(3),
            zookeeper: None,
            bootstrap_sasl_iam: None,
        }
    }

    #[test]
    fn versions() {
        for (version, ok) in [
            ("3.6.0", true),
            ("3.7.x", true),
            ("3.8.x.kraft", true),
            ("4.0.x.kraft", true),
            ("3.5.1", false),
            ("2.8.1", false),
            ("x", false),
        ] {
            assert_eq!(version_at_least_3_6(version), ok, "{version}");
        }
    }

    #[test]
    fn checks() {
        assert_eq!(healthy().problems(), Vec::<String>::new());
        let cases: Vec<(fn(&mut ClusterInfo), &str)> = vec![
            (|c| c.state = "CREATING".into(), "it is CREATING, not ACTIVE"),
            (|c| c.kafka_version = Some("2.8.1".into()), "it runs Kafka 2.8.1; the MSK topic API needs 3.6.0 or later"),
            (|c| c.provisioned = false, "it is Serverless; the MSK topic API needs a Provisioned cluster"),
            (|c| c.iam_auth = false, "IAM client authentication is off; the Kafka client and MSK Connect authenticate with IAM"),
        ];
        for (break_it, problem) in cases {
            let mut cluster = healthy();
            break_it(&mut cluster);
            assert_eq!(cluster.problems(), vec![problem.to_owned()]);
            let error = MskCluster::diff(&(), Some(&cluster)).unwrap_err().to_string();
            assert!(error.contains(problem), "{error}");
        }
    }
}
