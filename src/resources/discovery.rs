//! The run-wide read that comes before every resource's own: the MSK cluster (by name or
//! ARN), the topics under the plan's prefix, the default VPC's subnets for a cluster pinfra
//! creates, the plan's custom plugins and the region's connectors, and the brokers' VPC read
//! whole. Those lookups are sequential by nature (the topics need the cluster's ARN);
//! everything after them is parallel.
//!
//! The kinds read from it ([`Discovery`]); it depends on no kind, so there is no circle.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_kafka::types::{ClientBroker, Cluster, ClusterState, ClusterType};

use crate::aws::{Aws, AwsError, Classify};
use crate::engine::Tags;
use crate::plan::{ClusterRef, ClusterSpec, Plan, rules};

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
    /// The version token updates must name.
    pub current_version: Option<String>,
    /// Broker instance type.
    pub instance_type: Option<String>,
    /// EBS storage per broker, in GiB.
    pub storage_gib: Option<i32>,
    /// Client subnets.
    pub subnets: Vec<String>,
    /// Security groups.
    pub security_groups: Vec<String>,
    /// Custom configuration ARN and revision.
    pub configuration: Option<(String, i64)>,
    /// TLS between clients and brokers.
    pub tls_in_transit: bool,
    /// Tags.
    pub tags: Tags,
    /// Why the cluster failed, when it did.
    pub failure: Option<String>,
}

impl ClusterInfo {
    /// From DescribeClusterV2 or ListClustersV2.
    pub fn from_cluster(cluster: &Cluster) -> Self {
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
            current_version: cluster.current_version().map(str::to_owned),
            instance_type: provisioned.and_then(|p| p.broker_node_group_info()).and_then(|b| b.instance_type()).map(str::to_owned),
            storage_gib: provisioned
                .and_then(|p| p.broker_node_group_info())
                .and_then(|b| b.storage_info())
                .and_then(|s| s.ebs_storage_info())
                .and_then(|e| e.volume_size()),
            subnets: provisioned.and_then(|p| p.broker_node_group_info()).map(|b| b.client_subnets().to_vec()).unwrap_or_default(),
            security_groups: provisioned.and_then(|p| p.broker_node_group_info()).map(|b| b.security_groups().to_vec()).unwrap_or_default(),
            configuration: provisioned
                .and_then(|p| p.current_broker_software_info())
                .and_then(|s| Some((s.configuration_arn()?.to_owned(), s.configuration_revision()?))),
            tls_in_transit: provisioned
                .and_then(|p| p.encryption_info())
                .and_then(|e| e.encryption_in_transit())
                .and_then(|t| t.client_broker())
                .is_none_or(|c| *c == ClientBroker::Tls),
            tags: cluster.tags().map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default(),
            failure: cluster.state_info().and_then(|i| i.message()).map(str::to_owned),
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
        } else if !self.kafka_version.as_deref().is_some_and(rules::kafka_version_at_least_3_6) {
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
    /// For a cluster pinfra creates without planned subnets: the default VPC's default
    /// subnets (`None` when there is no default VPC).
    pub default_subnets: Option<Vec<String>>,
    /// With `[connect]`: the plan's custom plugins (every revision of the zip) and the
    /// connectors that use them.
    pub connect: Option<ConnectListing>,
    /// The brokers' VPC, read whole (`None` when the brokers' subnets cannot be found).
    pub network: Option<Arc<crate::network::Network>>,
}

/// Finds the cluster and, if it can serve the topic API, lists the topics under the plan's
/// prefix (every page).
pub async fn discover(aws: &Aws, plan: &Plan) -> Result<Discovery, AwsError> {
    let needs_subnets = plan.msk.create.as_ref().is_some_and(|c| c.subnets.is_empty());
    // The cluster, its brokers, the default subnets, the connectors and the brokers' VPC are the
    // same for every environment of a run: read once per round (`aws::shared`).
    let cluster_ref = &plan.msk.cluster;
    let (cluster, default_subnets, connect) = tokio::join!(
        aws.shared.get_or_read(format!("kafka:cluster {cluster_ref:?}"), || find(aws, cluster_ref)),
        async {
            if needs_subnets {
                aws.shared.get_or_read("ec2:default subnets".into(), || default_subnets(aws)).await.map(Some)
            } else {
                Ok(None)
            }
        },
        async {
            match &plan.connect {
                Some(spec) => {
                    let exact = spec.plugin.source == crate::plan::ArtifactSource::Existing;
                    list_connect(aws, &spec.plugin.name, exact).await.map(Some)
                }
                None => Ok(None),
            }
        },
    );
    let default_subnets = default_subnets?;
    let connect = connect?;
    let cluster = cluster?;
    let broker_subnets = match (&cluster, &plan.msk.create) {
        (Some(cluster), _) => cluster.subnets.clone(),
        (None, Some(spec)) => choose_subnets(spec, default_subnets.as_deref()).unwrap_or_default(),
        (None, None) => Vec::new(),
    };
    let network = aws.shared.get_or_read(format!("ec2:network {broker_subnets:?}"), || async {
        crate::network::read(aws, &plan.environment.region, &broker_subnets).await.map(|n| n.map(Arc::new))
    });
    let Some(mut cluster) = cluster else {
        return Ok(Discovery { default_subnets, connect, network: network.await?, ..Discovery::default() });
    };
    if !cluster.problems().is_empty() {
        return Ok(Discovery { cluster: Some(cluster), topics: None, default_subnets, connect, network: network.await? });
    }
    let planned: Vec<&str> = plan.topics.iter().map(|t| t.name.as_str()).collect();
    let arn = cluster.arn.clone();
    let bootstrap = aws.shared.get_or_read(format!("kafka:GetBootstrapBrokers {arn}"), || async {
        let out = aws.kafka.get_bootstrap_brokers().cluster_arn(&arn).send().await.or_aws("kafka:GetBootstrapBrokers")?;
        Ok::<_, AwsError>(out.bootstrap_broker_string_sasl_iam().map(str::to_owned))
    });
    let (bootstrap, topics, network) = tokio::join!(bootstrap, list_topics(aws, &cluster.arn, &plan.msk.topic_prefix, &planned), network,);
    cluster.bootstrap_sasl_iam = bootstrap?;
    Ok(Discovery { cluster: Some(cluster), topics: Some(topics?), default_subnets, connect, network: network? })
}

/// The default VPC's default subnets, one per availability zone, sorted; empty without a
/// default VPC.
async fn default_subnets(aws: &Aws) -> Result<Vec<String>, AwsError> {
    use aws_sdk_ec2::types::Filter;
    let Some(vpc) = crate::network::default_vpc(aws).await? else { return Ok(Vec::new()) };
    let subnets = aws
        .ec2
        .describe_subnets()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .filters(Filter::builder().name("default-for-az").values("true").build())
        .send()
        .await
        .or_aws("ec2:DescribeSubnets")?;
    let mut by_zone: Vec<(String, String)> =
        subnets.subnets().iter().filter_map(|s| Some((s.availability_zone()?.to_owned(), s.subnet_id()?.to_owned()))).collect();
    by_zone.sort();
    Ok(by_zone.into_iter().map(|(_, id)| id).collect())
}

/// The subnets a new cluster gets: the planned ones, or as many default subnets (three or two)
/// as divide the broker count, which MSK requires.
pub fn choose_subnets(spec: &ClusterSpec, defaults: Option<&[String]>) -> Option<Vec<String>> {
    if !spec.subnets.is_empty() {
        return Some(spec.subnets.clone());
    }
    let defaults = defaults?;
    [3usize, 2]
        .into_iter()
        .find(|n| defaults.len() >= *n && spec.broker_count % i32::try_from(*n).unwrap_or(1) == 0)
        .map(|n| defaults[..n].to_vec())
}

/// The names of the Region's MSK clusters (ListClustersV2, every page): how `import` picks the
/// cluster when it is not named.
pub async fn cluster_names(aws: &Aws) -> Result<Vec<String>, AwsError> {
    let mut names = Vec::new();
    let mut pages = aws.kafka.list_clusters_v2().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.or_aws("kafka:ListClustersV2")?;
        names.extend(page.cluster_info_list().iter().filter_map(|c| c.cluster_name()).map(str::to_owned));
    }
    Ok(names)
}

/// The cluster by name (exact, through the prefix filter) or ARN; `None` if it does not exist.
pub async fn find(aws: &Aws, cluster: &ClusterRef) -> Result<Option<ClusterInfo>, AwsError> {
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

/// One custom plugin, as ListCustomPlugins reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginSummary {
    /// Name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// CREATING | CREATE_FAILED | ACTIVE | UPDATING | UPDATE_FAILED | DELETING.
    pub state: String,
    /// `s3://bucket/key` of its latest revision.
    pub location: Option<String>,
}

/// One connector, as ListConnectors reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorSummary {
    /// Name.
    pub name: String,
    /// ARN: how the connector's own read goes straight to DescribeConnector.
    pub arn: String,
    /// State, such as RUNNING or DELETING.
    pub state: String,
    /// ARNs of the custom plugins it runs.
    pub plugins: Vec<String>,
    /// The subnets its workers run in.
    pub subnets: Vec<String>,
}

/// The plan's custom plugins and every connector in the region (to know who uses a plugin).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectListing {
    /// Plugins whose names start with `<base name>-`.
    pub plugins: Vec<PluginSummary>,
    /// Every connector.
    pub connectors: Vec<ConnectorSummary>,
}

impl ConnectListing {
    /// The connectors (other than `except`) that use `plugin_arn` and are not being deleted.
    pub fn users(&self, plugin_arn: &str, except: &str) -> Vec<String> {
        self.connectors
            .iter()
            .filter(|c| c.name != except && c.state != "DELETING" && c.plugins.iter().any(|p| p == plugin_arn))
            .map(|c| c.name.clone())
            .collect()
    }
}

/// Lists the plugins named `<base>-<12 hex>` and `<base>` itself (an `existing` plugin the plan
/// named before it gave a zip: an older plugin now), or with `exact` only `<base>`, and every
/// connector, all pages.
pub async fn list_connect(aws: &Aws, base: &str, exact: bool) -> Result<ConnectListing, AwsError> {
    let prefix = base.to_owned();
    let plugins = async {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = aws
                .kafkaconnect
                .list_custom_plugins()
                .name_prefix(&prefix)
                .set_next_token(token)
                .send()
                .await
                .or_aws("kafkaconnect:ListCustomPlugins")?;
            for p in page.custom_plugins() {
                let (Some(name), Some(arn)) = (p.name(), p.custom_plugin_arn()) else { continue };
                // The prefix filter is a prefix: `a-plugin-x` also matches base `a-plugin-x`'s
                // neighbours; keep exactly `<base>` and `<base>-<12 hex>`.
                let Some(rest) = name.strip_prefix(&prefix) else { continue };
                let hashed = rest.strip_prefix('-').is_some_and(|h| h.len() == 12 && h.chars().all(|c| c.is_ascii_hexdigit()));
                let wanted = rest.is_empty() || (hashed && !exact);
                if !wanted {
                    continue;
                }
                let location = p
                    .latest_revision()
                    .and_then(|r| r.location())
                    .and_then(|l| l.s3_location())
                    .map(|s| format!("{}/{}", s.bucket_arn().unwrap_or_default(), s.file_key().unwrap_or_default()));
                out.push(PluginSummary {
                    name: name.to_owned(),
                    arn: arn.to_owned(),
                    state: p.custom_plugin_state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
                    location,
                });
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                return Ok::<_, AwsError>(out);
            }
        }
    };
    let connectors = aws.shared.get_or_read("kafkaconnect:ListConnectors".into(), || list_connectors(aws));
    let (plugins, connectors) = tokio::join!(plugins, connectors);
    Ok(ConnectListing { plugins: plugins?, connectors: connectors? })
}

/// Every connector of the Region (ListConnectors, every page).
async fn list_connectors(aws: &Aws) -> Result<Vec<ConnectorSummary>, AwsError> {
    {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = aws.kafkaconnect.list_connectors().set_next_token(token).send().await.or_aws("kafkaconnect:ListConnectors")?;
            for c in page.connectors() {
                out.push(ConnectorSummary {
                    name: c.connector_name().unwrap_or_default().to_owned(),
                    arn: c.connector_arn().unwrap_or_default().to_owned(),
                    state: c.connector_state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
                    plugins: c
                        .plugins()
                        .iter()
                        .filter_map(|p| p.custom_plugin().and_then(|c| c.custom_plugin_arn()).map(str::to_owned))
                        .collect(),
                    subnets: c
                        .kafka_cluster()
                        .and_then(|k| k.apache_kafka_cluster())
                        .and_then(|a| a.vpc())
                        .map(|v| v.subnets().to_vec())
                        .unwrap_or_default(),
                });
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                return Ok::<_, AwsError>(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_ignore_the_plans_connector_and_deleting_ones() {
        let listing = ConnectListing {
            plugins: Vec::new(),
            connectors: vec![
                ConnectorSummary {
                    name: "mine".into(),
                    arn: "a1".into(),
                    state: "RUNNING".into(),
                    plugins: vec!["p".into()],
                    subnets: vec![],
                },
                ConnectorSummary {
                    name: "going".into(),
                    arn: "a2".into(),
                    state: "DELETING".into(),
                    plugins: vec!["p".into()],
                    subnets: vec![],
                },
                ConnectorSummary {
                    name: "other".into(),
                    arn: "a3".into(),
                    state: "RUNNING".into(),
                    plugins: vec!["p".into(), "q".into()],
                    subnets: vec![],
                },
                ConnectorSummary {
                    name: "unrelated".into(),
                    arn: "a4".into(),
                    state: "RUNNING".into(),
                    plugins: vec!["q".into()],
                    subnets: vec![],
                },
            ],
        };
        assert_eq!(listing.users("p", "mine"), ["other"]);
    }
}
