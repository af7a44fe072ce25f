//! The MSK cluster the pipeline uses, looked up by name or ARN, and checked: the topic API needs
//! a Provisioned cluster on Kafka 3.6 or later, ACTIVE, and the pipeline needs IAM client
//! authentication.
//!
//! Without `[msk.create]` the cluster exists already and is only read. With it, pinfra creates
//! a Provisioned cluster (IAM authentication, TLS in transit) and applies the in-place updates
//! MSK supports: more storage, more brokers, another broker type, another configuration. Any
//! other change is refused with the reason: pinfra never replaces a cluster, whose data would go
//! with it.
//!
//! The cluster is found once per run by [`super::discovery::discover`], together with the
//! topics under the plan's prefix, before the other resources are observed.

use std::sync::Arc;

use aws_sdk_kafka::types::{
    BrokerEbsVolumeInfo, BrokerNodeGroupInfo, ClientAuthentication, ClientBroker, ConfigurationInfo, EbsStorageInfo, EncryptionInTransit,
    EncryptionInfo, Iam, ProvisionedRequest, Sasl, StorageInfo, Unauthenticated,
};
use serde_json::Value as Json;

use super::discovery::{ClusterInfo, Discovery, choose_subnets, find};
use crate::aws::{Aws, AwsError, Classify};
use crate::engine::{Change, FieldChange, Fields, Inputs, Kind, Outputs, ResourceError, ResourceId, Tags, Value};
use crate::plan::{ClusterRef, ClusterSpec};
use crate::retry::{Pace, Poll, Seen, WaitError, poll_until};

/// The kind name.
pub const KIND: &str = "msk_cluster";
/// The output carrying the cluster ARN.
pub const OUTPUT_ARN: &str = "arn";
/// The output carrying the SASL/IAM bootstrap broker string.
pub const OUTPUT_BOOTSTRAP: &str = "bootstrap_brokers_sasl_iam";
/// The output carrying the ZooKeeper connection string, for clusters that have one.
pub const OUTPUT_ZOOKEEPER: &str = "zookeeper_connect";
/// The output carrying the brokers' client subnets (a JSON array).
pub const OUTPUT_SUBNETS: &str = "subnets";
/// The output carrying the brokers' security groups (a JSON array).
pub const OUTPUT_SECURITY_GROUPS: &str = "security_groups";

/// The cluster as the plan names it.
#[derive(Debug, Clone)]
pub struct MskCluster {
    /// Name or ARN.
    pub cluster: ClusterRef,
    /// `[msk.create]`: the cluster pinfra creates and manages; `None`: only read.
    pub spec: Option<ClusterSpec>,
    /// Tags of a cluster pinfra creates, ownership included.
    pub tags: Tags,
    /// What [`discover`] found.
    pub discovery: Arc<Discovery>,
    /// How to wait for the cluster.
    pub poll: Poll,
}

/// What the plan wants of the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    spec: Option<ClusterSpec>,
    /// The subnets a new cluster gets (`None`: none could be found).
    subnets: Option<Vec<String>>,
    tags: Tags,
}

/// Fields MSK cannot change in place; pinfra refuses rather than replace a cluster.
fn refuse_change(field: &str, live: &str, wanted: &str) -> ResourceError {
    ResourceError::refused(
        format!("the cluster's {field} is {live}; MSK cannot change it to {wanted} in place, and pinfra never replaces a cluster"),
        "keep the live value in [msk.create], or create a new cluster under another name and move the pipeline to it",
    )
}

impl MskCluster {
    async fn describe(&self, aws: &Aws, arn: &str) -> Result<Option<ClusterInfo>, AwsError> {
        match aws.kafka.describe_cluster_v2().cluster_arn(arn).send().await.or_aws("kafka:DescribeClusterV2") {
            Ok(out) => Ok(out.cluster_info().map(ClusterInfo::from_cluster)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Waits until the cluster is ACTIVE, seen twice in a row; a FAILED cluster is an error with
    /// MSK's reason.
    async fn wait_active(&self, aws: &Aws, arn: &str) -> Result<ClusterInfo, ResourceError> {
        let what = format!("cluster {} to be ACTIVE", self.cluster.name());
        poll_until(self.poll, Pace::Minutes, &what, 2, || async {
            match self.describe(aws, arn).await? {
                Some(info) if info.state == "ACTIVE" => Ok(Seen::Done(info)),
                Some(info) if info.state == "FAILED" => {
                    Err(WaitFailure::Failed(info.failure.unwrap_or_else(|| "no reason given".to_owned())))
                }
                Some(info) => Ok(Seen::Pending(info.state)),
                None => Ok(Seen::Pending("not found yet".to_owned())),
            }
        })
        .await
        .map_err(|e| match e {
            WaitError::Failed(WaitFailure::Aws(e)) => e.into(),
            WaitError::Failed(WaitFailure::Failed(reason)) => ResourceError::refused(
                format!("MSK reports the cluster FAILED: {reason}"),
                "see the cluster's events in the MSK console; delete it before applying again",
            ),
            timeout @ WaitError::Timeout { .. } => {
                ResourceError::refused(timeout.to_string(), "raise --timeout: a new cluster takes 20 minutes or more")
            }
        })
    }

    async fn create(&self, aws: &Aws, spec: &ClusterSpec, subnets: &[String], tags: &Tags) -> Result<String, ResourceError> {
        let mut group = BrokerNodeGroupInfo::builder()
            .instance_type(&spec.instance_type)
            .set_client_subnets(Some(subnets.to_vec()))
            .storage_info(StorageInfo::builder().ebs_storage_info(EbsStorageInfo::builder().volume_size(spec.storage_gib).build()).build());
        if !spec.security_groups.is_empty() {
            group = group.set_security_groups(Some(spec.security_groups.clone()));
        }
        let mut provisioned = ProvisionedRequest::builder()
            .broker_node_group_info(group.build())
            .kafka_version(&spec.kafka_version)
            .number_of_broker_nodes(spec.broker_count)
            .client_authentication(
                ClientAuthentication::builder()
                    .sasl(Sasl::builder().iam(Iam::builder().enabled(true).build()).build())
                    .unauthenticated(Unauthenticated::builder().enabled(false).build())
                    .build(),
            )
            .encryption_info(
                EncryptionInfo::builder()
                    .encryption_in_transit(EncryptionInTransit::builder().client_broker(ClientBroker::Tls).in_cluster(true).build())
                    .build(),
            );
        if let Some((arn, revision)) = &spec.configuration {
            provisioned = provisioned.configuration_info(ConfigurationInfo::builder().arn(arn).revision(*revision).build());
        }
        let created = aws
            .kafka
            .create_cluster_v2()
            .cluster_name(self.cluster.name())
            .provisioned(provisioned.build())
            .set_tags(Some(tags.clone().into_iter().collect()))
            .send()
            .await
            .or_aws("kafka:CreateClusterV2");
        match created {
            Ok(out) => Ok(out.cluster_arn().unwrap_or_default().to_owned()),
            // Created by an interrupted earlier run: find it and wait for it.
            Err(e) if e.is_code(&["ConflictException"]) => Ok(find(aws, &self.cluster)
                .await?
                .map(|c| c.arn)
                .ok_or_else(|| ResourceError::refused(format!("{} exists but cannot be found", self.id()), "run the command again"))?),
            Err(e) => Err(e.into()),
        }
    }

    /// One in-place update, then the wait for ACTIVE it needs; returns the cluster after it.
    async fn update(&self, aws: &Aws, info: ClusterInfo, change: &Change, spec: &ClusterSpec) -> Result<ClusterInfo, ResourceError> {
        let mut info = info;
        let version = |info: &ClusterInfo| info.current_version.clone().unwrap_or_default();
        if change.touches("storage_gib") {
            let volume = BrokerEbsVolumeInfo::builder().kafka_broker_node_id("All").volume_size_gb(spec.storage_gib).build();
            aws.kafka
                .update_broker_storage()
                .cluster_arn(&info.arn)
                .current_version(version(&info))
                .target_broker_ebs_volume_info(volume)
                .send()
                .await
                .or_aws("kafka:UpdateBrokerStorage")?;
            info = self.wait_active(aws, &info.arn).await?;
        }
        if change.touches("broker_count") {
            aws.kafka
                .update_broker_count()
                .cluster_arn(&info.arn)
                .current_version(version(&info))
                .target_number_of_broker_nodes(spec.broker_count)
                .send()
                .await
                .or_aws("kafka:UpdateBrokerCount")?;
            info = self.wait_active(aws, &info.arn).await?;
        }
        if change.touches("instance_type") {
            aws.kafka
                .update_broker_type()
                .cluster_arn(&info.arn)
                .current_version(version(&info))
                .target_instance_type(&spec.instance_type)
                .send()
                .await
                .or_aws("kafka:UpdateBrokerType")?;
            info = self.wait_active(aws, &info.arn).await?;
        }
        if change.touches("configuration")
            && let Some((arn, revision)) = &spec.configuration
        {
            let configuration = ConfigurationInfo::builder().arn(arn).revision(*revision).build();
            aws.kafka
                .update_cluster_configuration()
                .cluster_arn(&info.arn)
                .current_version(version(&info))
                .configuration_info(configuration)
                .send()
                .await
                .or_aws("kafka:UpdateClusterConfiguration")?;
            info = self.wait_active(aws, &info.arn).await?;
        }
        Ok(info)
    }
}

/// Why waiting for a cluster stopped early.
#[derive(Debug, thiserror::Error)]
enum WaitFailure {
    /// A read failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// MSK reports the cluster FAILED, with this reason.
    #[error("the cluster FAILED: {0}")]
    Failed(String),
}

impl Kind for MskCluster {
    type Desired = Desired;
    type Live = ClusterInfo;

    fn id(&self) -> ResourceId {
        ResourceId::new(KIND, self.cluster.name())
    }

    fn read_only(&self) -> bool {
        self.spec.is_none()
    }

    async fn observe(&self, _aws: &Aws) -> Result<Option<ClusterInfo>, AwsError> {
        Ok(self.discovery.cluster.clone())
    }

    fn desired(&self, _inputs: &Inputs) -> Desired {
        let subnets = self.spec.as_ref().and_then(|spec| choose_subnets(spec, self.discovery.default_subnets.as_deref()));
        Desired { spec: self.spec.clone(), subnets, tags: self.tags.clone() }
    }

    fn diff(desired: &Desired, live: Option<&ClusterInfo>) -> Result<Vec<FieldChange>, ResourceError> {
        let Some(spec) = &desired.spec else {
            // An existing cluster, only read: it must be usable.
            let problems = live.map(ClusterInfo::problems).unwrap_or_default();
            return if problems.is_empty() {
                Ok(Vec::new())
            } else {
                Err(ResourceError::refused(
                    format!("the pipeline cannot use this cluster: {}", problems.join("; ")),
                    "wait until the cluster is ACTIVE, or name a Provisioned cluster on Kafka 3.6 or later with IAM authentication in [msk] cluster",
                ))
            };
        };
        let subnets = match (&desired.subnets, live) {
            (Some(subnets), _) => subnets.clone(),
            (None, Some(live)) => live.subnets.clone(),
            (None, None) => {
                return Err(ResourceError::refused(
                    "no subnets for the new cluster: the plan lists none and the region has no default VPC with two or three default subnets that divide the broker count",
                    "list `subnets` in [msk.create]",
                ));
            }
        };
        let subnets = &subnets;
        if let Some(live) = live {
            if live.kafka_version.as_deref() != Some(spec.kafka_version.as_str()) {
                return Err(refuse_change("Kafka version", live.kafka_version.as_deref().unwrap_or("unknown"), &spec.kafka_version));
            }
            let sorted = |v: &[String]| {
                let mut v = v.to_vec();
                v.sort();
                v
            };
            if !spec.subnets.is_empty() && sorted(&live.subnets) != sorted(subnets) {
                return Err(refuse_change("subnet list", &live.subnets.join(","), &subnets.join(",")));
            }
            if !spec.security_groups.is_empty() && sorted(&live.security_groups) != sorted(&spec.security_groups) {
                return Err(refuse_change("security group list", &live.security_groups.join(","), &spec.security_groups.join(",")));
            }
            if !live.iam_auth || !live.tls_in_transit {
                return Err(refuse_change("client authentication or encryption", "not IAM with TLS", "IAM with TLS"));
            }
            if let Some(count) = live.broker_count
                && spec.broker_count < count
            {
                return Err(ResourceError::refused(
                    format!("the cluster has {count} brokers; MSK cannot remove brokers (plan: {})", spec.broker_count),
                    format!("set `broker_count` to {count} or more"),
                ));
            }
            if let Some(size) = live.storage_gib
                && spec.storage_gib < size
            {
                return Err(ResourceError::refused(
                    format!("the cluster's brokers have {size} GiB; MSK cannot shrink storage (plan: {})", spec.storage_gib),
                    format!("set `storage_gib` to {size} or more"),
                ));
            }
        }
        let mut fields = Fields::new(live.is_none());
        let configuration = |c: &Option<(String, i64)>| {
            c.as_ref().map_or(Json::Null, |(arn, revision)| serde_json::json!({"arn": arn, "revision": revision}))
        };
        fields.known("kafka_version", spec.kafka_version.clone(), live.map(|l| Json::from(l.kafka_version.clone())), false);
        fields.known("broker_count", spec.broker_count, live.map(|l| Json::from(l.broker_count)), false);
        fields.known("instance_type", spec.instance_type.clone(), live.map(|l| Json::from(l.instance_type.clone())), false);
        fields.known("storage_gib", spec.storage_gib, live.map(|l| Json::from(l.storage_gib)), false);
        if live.is_none() {
            fields.known("subnets", subnets.clone(), None, false);
            fields.known("client_authentication", "IAM, TLS in transit", None, false);
        }
        if let Some(live) = live
            && !live.subnets.is_empty()
            && spec.broker_count % i32::try_from(live.subnets.len()).unwrap_or(1) != 0
        {
            return Err(ResourceError::refused(
                format!("{} brokers cannot be spread evenly over the cluster's {} subnets", spec.broker_count, live.subnets.len()),
                "MSK needs the broker count to be a multiple of the number of client subnets",
            ));
        }
        if let Some(live) = live
            && live.state != "ACTIVE"
        {
            // Left CREATING or UPDATING by an interrupted run: apply waits for it.
            fields.known("state", "ACTIVE", Some(Json::from(live.state.clone())), false);
        }
        if spec.configuration.is_some() {
            fields.known("configuration", configuration(&spec.configuration), live.map(|l| configuration(&l.configuration)), false);
        }
        fields.tags("tags", &desired.tags, live.map(|l| &l.tags));
        Ok(fields.finish())
    }

    const OUTPUTS: &'static [&'static str] =
        &[OUTPUT_ARN, "state", OUTPUT_BOOTSTRAP, OUTPUT_ZOOKEEPER, OUTPUT_SUBNETS, OUTPUT_SECURITY_GROUPS];

    fn live_tags(live: &ClusterInfo) -> Option<&Tags> {
        Some(&live.tags)
    }

    fn outputs(&self, live: &ClusterInfo) -> Outputs {
        let mut outputs = Outputs::from([(OUTPUT_ARN, Value::of(live.arn.clone())), ("state", Value::of(live.state.clone()))]);
        if let Some(bootstrap) = &live.bootstrap_sasl_iam {
            outputs.insert(OUTPUT_BOOTSTRAP, Value::of(bootstrap.clone()));
        }
        if let Some(zookeeper) = &live.zookeeper {
            outputs.insert(OUTPUT_ZOOKEEPER, Value::of(zookeeper.clone()));
        }
        if !live.subnets.is_empty() {
            outputs.insert(OUTPUT_SUBNETS, Value::of(live.subnets.clone()));
            outputs.insert(OUTPUT_SECURITY_GROUPS, Value::of(live.security_groups.clone()));
        }
        outputs
    }

    async fn apply(&self, aws: &Aws, desired: &Desired, live: Option<&ClusterInfo>, change: &Change) -> Result<Outputs, ResourceError> {
        let subnets = desired.subnets.clone().or_else(|| live.map(|l| l.subnets.clone()));
        let (Some(spec), Some(subnets)) = (&desired.spec, &subnets) else {
            // Read-only: the engine never asks for a change, so this only reports what exists.
            return live
                .map(|l| self.outputs(l))
                .ok_or_else(|| ResourceError::refused(format!("{} does not exist", self.id()), "create the cluster first"));
        };
        let arn = match live {
            Some(live) => live.arn.clone(),
            None => self.create(aws, spec, subnets, &desired.tags).await?,
        };
        // A new cluster, or one an interrupted run left UPDATING: wait until it takes updates.
        let mut info = self.wait_active(aws, &arn).await?;
        if live.is_some() {
            info = self.update(aws, info, change, spec).await?;
            if change.touches("tags") {
                aws.kafka
                    .tag_resource()
                    .resource_arn(&arn)
                    .set_tags(Some(desired.tags.clone().into_iter().collect()))
                    .send()
                    .await
                    .or_aws("kafka:TagResource")?;
            }
        }
        info.bootstrap_sasl_iam = aws
            .kafka
            .get_bootstrap_brokers()
            .cluster_arn(&arn)
            .send()
            .await
            .or_aws("kafka:GetBootstrapBrokers")?
            .bootstrap_broker_string_sasl_iam()
            .map(str::to_owned);
        Ok(self.outputs(&info))
    }

    async fn delete(&self, aws: &Aws, live: &ClusterInfo) -> Result<(), ResourceError> {
        if self.spec.is_none() {
            return Err(ResourceError::refused(
                format!("{} is not pinfra's to delete", self.id()),
                "delete the cluster in the MSK console",
            ));
        }
        if live.state == "UPDATING" || live.state == "CREATING" {
            // MSK refuses to delete a cluster in the middle of an operation.
            self.wait_active(aws, &live.arn).await?;
        }
        match aws.kafka.delete_cluster().cluster_arn(&live.arn).send().await.or_aws("kafka:DeleteCluster") {
            Err(e) if !e.is_not_found() => return Err(e.into()),
            _ => {}
        }
        let what = format!("cluster {} to be deleted", self.cluster.name());
        poll_until(self.poll, Pace::Minutes, &what, 2, || async {
            Ok::<_, AwsError>(match self.describe(aws, &live.arn).await? {
                None => Seen::Done(()),
                Some(info) => Seen::Pending(info.state),
            })
        })
        .await
        .map_err(|e| match e {
            WaitError::Failed(e) => e.into(),
            timeout @ WaitError::Timeout { .. } => ResourceError::refused(timeout.to_string(), "raise --timeout"),
        })
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
            current_version: Some("K1".into()),
            instance_type: Some("kafka.m5.large".into()),
            storage_gib: Some(100),
            subnets: vec!["subnet-0000000a".into(), "subnet-0000000b".into(), "subnet-0000000c".into()],
            security_groups: vec![],
            configuration: None,
            tls_in_transit: true,
            tags: Tags::from([("pinfra:env".into(), "dev".into())]),
            failure: None,
        }
    }

    fn spec() -> ClusterSpec {
        ClusterSpec {
            kafka_version: "3.6.0".into(),
            broker_count: 3,
            instance_type: "kafka.m5.large".into(),
            storage_gib: 100,
            subnets: vec![],
            security_groups: vec![],
            configuration: None,
        }
    }

    fn managed(spec: ClusterSpec) -> Desired {
        let defaults: Vec<String> = vec!["subnet-0000000a".into(), "subnet-0000000b".into(), "subnet-0000000c".into()];
        Desired {
            subnets: choose_subnets(&spec, Some(&defaults)),
            spec: Some(spec),
            tags: Tags::from([("pinfra:env".into(), "dev".into())]),
        }
    }

    #[test]
    #[allow(clippy::type_complexity)] // a table of test cases
    fn checks_of_an_existing_cluster() {
        let read_only = Desired { spec: None, subnets: None, tags: Tags::new() };
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
            let error = MskCluster::diff(&read_only, Some(&cluster)).unwrap_err().to_string();
            assert!(error.contains(problem), "{error}");
        }
    }

    #[test]
    fn subnets_for_a_new_cluster() {
        let defaults: Vec<String> = (0..4).map(|i| format!("subnet-000000{i:02}")).collect();
        assert_eq!(choose_subnets(&spec(), Some(&defaults)).map(|s| s.len()), Some(3));
        let mut four = spec();
        four.broker_count = 4;
        assert_eq!(choose_subnets(&four, Some(&defaults)).map(|s| s.len()), Some(2));
        assert_eq!(choose_subnets(&spec(), Some(&defaults[..1])), None);
        assert_eq!(choose_subnets(&spec(), None), None);
        let mut planned = spec();
        planned.subnets = vec!["subnet-aaaaaaaa".into(), "subnet-bbbbbbbb".into(), "subnet-cccccccc".into()];
        assert_eq!(choose_subnets(&planned, None), Some(planned.subnets.clone()));
    }

    #[test]
    fn managed_diff_table() {
        let with = |f: fn(&mut ClusterSpec)| {
            let mut s = spec();
            f(&mut s);
            managed(s)
        };
        let cases: Vec<(&str, Desired, Option<ClusterInfo>, Vec<&str>)> = vec![
            (
                "create",
                managed(spec()),
                None,
                vec![
                    "kafka_version",
                    "broker_count",
                    "instance_type",
                    "storage_gib",
                    "subnets",
                    "client_authentication",
                    "tags.pinfra:env",
                ],
            ),
            ("converged", managed(spec()), Some(healthy()), vec![]),
            ("more storage", with(|s| s.storage_gib = 200), Some(healthy()), vec!["storage_gib"]),
            ("more brokers", with(|s| s.broker_count = 6), Some(healthy()), vec!["broker_count"]),
            ("broker type", with(|s| s.instance_type = "kafka.m7g.large".into()), Some(healthy()), vec!["instance_type"]),
            (
                "configuration",
                with(|s| s.configuration = Some(("arn:aws:kafka:us-east-1:123456789012:configuration/c/u".into(), 2))),
                Some(healthy()),
                vec!["configuration"],
            ),
        ];
        for (name, desired, live, expected) in cases {
            let changes = MskCluster::diff(&desired, live.as_ref()).expect(name);
            assert_eq!(changes.iter().map(|c| c.path.as_str()).collect::<Vec<_>>(), expected, "{name}");
        }
    }

    #[test]
    fn managed_refusals() {
        let refused = |desired: Desired| MskCluster::diff(&desired, Some(&healthy())).unwrap_err().to_string();
        let mut fewer = spec();
        fewer.broker_count = 2;
        assert!(refused(managed(fewer)).contains("MSK cannot remove brokers"));
        let mut smaller = spec();
        smaller.storage_gib = 50;
        assert!(refused(managed(smaller)).contains("MSK cannot shrink storage"));
        let mut upgrade = spec();
        upgrade.kafka_version = "3.7.x".into();
        assert!(
            refused(managed(upgrade))
                .contains("Kafka version is 3.6.0; MSK cannot change it to 3.7.x in place, and pinfra never replaces a cluster")
        );
        let mut moved = spec();
        moved.subnets = vec!["subnet-dddddddd".into(), "subnet-eeeeeeee".into(), "subnet-ffffffff".into()];
        assert!(refused(managed(moved)).contains("subnet list"));
        let no_subnets = Desired { spec: Some(spec()), subnets: None, tags: Tags::new() };
        assert!(MskCluster::diff(&no_subnets, None).unwrap_err().to_string().contains("no subnets for the new cluster"));
    }
}
