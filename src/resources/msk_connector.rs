//! The MSK Connect connector that runs the S3 sink: every record of the plan's topics goes to
//! the bucket.
//!
//! What MSK Connect allows, and so what this kind does:
//! - UpdateConnector takes `currentVersion` and *either* a capacity *or* a connector
//!   configuration; an unchanged capacity is rejected. So capacity and configuration go in
//!   separate calls, each only when it changed, each with the version the previous one left.
//! - An update is an operation: it is polled with DescribeConnectorOperation until
//!   UPDATE_COMPLETE; UPDATE_FAILED and every ROLLBACK state are failures, with AWS's reason.
//!   Afterwards the configuration is read back and compared, so an update reported as done
//!   that changed nothing is a failure, not a success (terraform-provider-aws #47004, #48199).
//! - Everything else (plugin, role, cluster, network, authentication, encryption, Kafka Connect
//!   version, log delivery) cannot change: the connector is replaced, and since its name is
//!   fixed, that is delete, wait until gone, create.
//! - A new role may be rejected for a while (IAM propagation): CreateConnector is retried on
//!   that error only.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_kafkaconnect::operation::describe_connector::DescribeConnectorOutput;
use aws_sdk_kafkaconnect::types::{
    ApacheKafkaCluster, AutoScaling, AutoScalingUpdate, Capacity as SdkCapacity, CapacityUpdate, CloudWatchLogsLogDelivery, CustomPlugin,
    KafkaCluster, KafkaClusterClientAuthentication, KafkaClusterClientAuthenticationType, KafkaClusterEncryptionInTransit,
    KafkaClusterEncryptionInTransitType, LogDelivery, Plugin, ProvisionedCapacity, ProvisionedCapacityUpdate, S3LogDelivery, ScaleInPolicy,
    ScaleInPolicyUpdate, ScaleOutPolicy, ScaleOutPolicyUpdate, Vpc, WorkerLogDelivery,
};
use serde_json::{Value as Json, json};

use super::discovery::Discovery;
use super::msk_cluster;
use super::msk_connect_plugin;
use crate::aws::{Aws, AwsError, Classify};
use crate::engine::{Action, Change, FieldChange, Fields, Inputs, Kind, Outputs, ResourceError, ResourceId, Tags, Value};
use crate::plan::{Capacity, ConnectorSpec};
use crate::retry::{Backoff, Pace, Poll, Seen, WaitError, poll_until, retry};

/// The kind name.
pub const KIND: &str = "msk_connector";

/// The fields that cannot change in place.
const IMMUTABLE: [&str; 9] = [
    "plugin",
    "service_execution_role",
    "kafka_connect_version",
    "bootstrap_servers",
    "subnets",
    "security_groups",
    "authentication",
    "encryption_in_transit",
    "log_delivery",
];

/// The connector as the plan declares it.
#[derive(Debug, Clone)]
pub struct MskConnector {
    /// Name, configuration, capacity, network, logs.
    pub spec: ConnectorSpec,
    /// The plan's bucket (S3 log delivery goes there).
    pub bucket: String,
    /// The current custom plugin.
    pub plugin: ResourceId,
    /// Older plugins of the plan: destroyed after the connector.
    pub old_plugins: Vec<ResourceId>,
    /// The role the connector runs as.
    pub role: ResourceId,
    /// The cluster it reads from.
    pub cluster: ResourceId,
    /// Tags, ownership included.
    pub tags: Tags,
    /// What discovery found (the cluster's network).
    pub discovery: Arc<Discovery>,
    /// How to wait for connector states and operations.
    pub poll: Poll,
}

/// What the plan wants.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    immutable: BTreeMap<&'static str, Value>,
    /// The cluster's SASL/IAM bootstrap string as MSK gives it (for CreateConnector); the diff
    /// compares `immutable["bootstrap_servers"]`, the brokers' cluster, instead.
    bootstrap: Option<String>,
    capacity: Json,
    capacity_spec: Capacity,
    config: BTreeMap<String, String>,
    tags: Tags,
}

/// What MSK Connect has.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Live {
    arn: String,
    state: String,
    current_version: String,
    immutable: BTreeMap<&'static str, Json>,
    capacity: Json,
    config: BTreeMap<String, String>,
    tags: Tags,
    /// Why it FAILED, if it did.
    failure: Option<String>,
}

fn capacity_json(capacity: &Capacity) -> Json {
    match *capacity {
        Capacity::Provisioned { mcu_count, workers } => json!({"provisioned": {"mcu_count": mcu_count, "workers": workers}}),
        Capacity::AutoScaling { mcu_count, min_workers, max_workers, scale_in_cpu, scale_out_cpu, max_tasks } => {
            let mut auto = json!({
                "mcu_count": mcu_count, "min_workers": min_workers, "max_workers": max_workers,
                "scale_in_cpu": scale_in_cpu, "scale_out_cpu": scale_out_cpu,
            });
            if let Some(max_tasks) = max_tasks {
                auto["max_tasks"] = json!(max_tasks);
            }
            json!({"autoscaling": auto})
        }
    }
}

fn logs_json(spec: &ConnectorSpec, bucket: &str) -> Json {
    let mut logs = serde_json::Map::new();
    if let Some(group) = &spec.logs.log_group {
        logs.insert("cloudwatch".into(), json!(group));
    }
    if let Some(prefix) = &spec.logs.bucket_prefix {
        logs.insert("s3".into(), json!(format!("{bucket}/{prefix}")));
    }
    Json::Object(logs)
}

/// What a bootstrap string says about the cluster, as a stable value: its brokers' distinct
/// `<cluster domain>:<port>` suffixes, sorted. MSK answers the brokers in any order (and a subset
/// for bigger clusters), so comparing the raw string would replace the connector at random.
fn brokers_cluster(bootstrap: &str) -> String {
    let mut domains: Vec<&str> =
        bootstrap.split(',').map(str::trim).filter(|b| !b.is_empty()).map(|b| b.split_once('.').map_or(b, |(_, rest)| rest)).collect();
    domains.sort_unstable();
    domains.dedup();
    domains.join(",")
}

fn sorted(mut list: Vec<String>) -> Json {
    list.sort();
    json!(list)
}

fn sdk_error(operation: &'static str) -> impl Fn(aws_smithy_types::error::operation::BuildError) -> AwsError {
    move |e| AwsError::Other { operation, detail: e.to_string() }
}

/// Whether CreateConnector failed because the service cannot assume a role that was just made.
fn is_role_propagating(error: &AwsError) -> bool {
    let AwsError::Service { code, message, .. } = error else { return false };
    let message = message.to_ascii_lowercase();
    code == "BadRequestException" && (message.contains("role") || message.contains("assume"))
}

/// The ARN of the connector named `name`, or `None` (ListConnectors, every page).
pub async fn connector_arn(aws: &Aws, name: &str) -> Result<Option<String>, AwsError> {
    let mut token = None;
    loop {
        let page = aws
            .kafkaconnect
            .list_connectors()
            .connector_name_prefix(name)
            .set_next_token(token)
            .send()
            .await
            .or_aws("kafkaconnect:ListConnectors")?;
        if let Some(arn) = page.connectors().iter().find(|c| c.connector_name() == Some(name)).and_then(|c| c.connector_arn()) {
            return Ok(Some(arn.to_owned()));
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(None);
        }
    }
}

/// DescribeConnector: the connector `arn` as MSK Connect has it, or `None` when it is gone.
async fn describe_connector(aws: &Aws, arn: &str) -> Result<Option<DescribeConnectorOutput>, AwsError> {
    match aws.kafkaconnect.describe_connector().connector_arn(arn).send().await.or_aws("kafkaconnect:DescribeConnector") {
        Ok(out) => Ok(Some(out)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// The connector named `name` as a person left it (ListConnectors, then DescribeConnector), or
/// `None`: the reads of [`Kind::observe`] but its tags, whole, for `import` to read every
/// setting the plan can keep.
pub async fn find(aws: &Aws, name: &str) -> Result<Option<DescribeConnectorOutput>, AwsError> {
    match connector_arn(aws, name).await? {
        Some(arn) => describe_connector(aws, &arn).await,
        None => Ok(None),
    }
}

impl MskConnector {
    fn name(&self) -> &str {
        &self.spec.name
    }

    /// The connector `arn` (DescribeConnector), with its tags beside it (ListTagsForResource, in
    /// the same round trip) when `with_tags`: observe needs them for ownership, a wait's polls
    /// do not (their `Live::tags` is empty).
    async fn describe(&self, aws: &Aws, arn: &str, with_tags: bool) -> Result<Option<Live>, AwsError> {
        let tags = async {
            if !with_tags {
                return Ok(Some(Tags::new()));
            }
            match aws.kafkaconnect.list_tags_for_resource().resource_arn(arn).send().await.or_aws("kafkaconnect:ListTagsForResource") {
                Ok(out) => Ok(Some(out.tags().map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default())),
                // Deleted between the listing and now (it was DELETING): gone.
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(e),
            }
        };
        let (out, tags) = tokio::join!(describe_connector(aws, arn), tags);
        let (Some(out), Some(tags)) = (out?, tags?) else { return Ok(None) };
        let mut immutable = BTreeMap::new();
        let plugin = out.plugins().iter().filter_map(|p| p.custom_plugin().and_then(|c| c.custom_plugin_arn())).next().unwrap_or_default();
        immutable.insert("plugin", json!(plugin));
        immutable.insert("service_execution_role", json!(out.service_execution_role_arn().unwrap_or_default()));
        immutable.insert("kafka_connect_version", json!(out.kafka_connect_version().unwrap_or_default()));
        let cluster = out.kafka_cluster().and_then(|k| k.apache_kafka_cluster());
        immutable.insert("bootstrap_servers", json!(brokers_cluster(cluster.and_then(|c| c.bootstrap_servers()).unwrap_or_default())));
        let vpc = cluster.and_then(|c| c.vpc());
        immutable.insert("subnets", sorted(vpc.map(|v| v.subnets().to_vec()).unwrap_or_default()));
        immutable.insert("security_groups", sorted(vpc.map(|v| v.security_groups().to_vec()).unwrap_or_default()));
        immutable.insert(
            "authentication",
            json!(out.kafka_cluster_client_authentication().and_then(|a| a.authentication_type()).map_or("NONE", |t| t.as_str())),
        );
        immutable.insert(
            "encryption_in_transit",
            json!(out.kafka_cluster_encryption_in_transit().and_then(|e| e.encryption_type()).map_or("PLAINTEXT", |t| t.as_str())),
        );
        let mut logs = serde_json::Map::new();
        if let Some(worker) = out.log_delivery().and_then(|l| l.worker_log_delivery()) {
            if let Some(cw) = worker.cloud_watch_logs().filter(|c| c.enabled()) {
                logs.insert("cloudwatch".into(), json!(cw.log_group().unwrap_or_default()));
            }
            if let Some(s3) = worker.s3().filter(|s| s.enabled()) {
                logs.insert("s3".into(), json!(format!("{}/{}", s3.bucket().unwrap_or_default(), s3.prefix().unwrap_or_default())));
            }
        }
        immutable.insert("log_delivery", Json::Object(logs));
        let capacity = match out.capacity() {
            Some(c) if c.auto_scaling().is_some() => {
                let a = c.auto_scaling().expect("checked");
                let mut auto = json!({
                    "mcu_count": a.mcu_count(), "min_workers": a.min_worker_count(), "max_workers": a.max_worker_count(),
                    "scale_in_cpu": a.scale_in_policy().map_or(0, |p| p.cpu_utilization_percentage()),
                    "scale_out_cpu": a.scale_out_policy().map_or(0, |p| p.cpu_utilization_percentage()),
                });
                if a.max_autoscaling_task_count() > 0 {
                    auto["max_tasks"] = json!(a.max_autoscaling_task_count());
                }
                json!({ "autoscaling": auto })
            }
            Some(c) => {
                let p = c.provisioned_capacity();
                json!({"provisioned": {"mcu_count": p.map_or(0, |p| p.mcu_count()), "workers": p.map_or(0, |p| p.worker_count())}})
            }
            None => Json::Null,
        };
        Ok(Some(Live {
            arn: arn.to_owned(),
            state: out.connector_state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
            current_version: out.current_version().unwrap_or_default().to_owned(),
            immutable,
            capacity,
            config: out.connector_configuration().map(|c| c.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default(),
            tags,
            failure: out.state_description().map(|d| format!("{}: {}", d.code().unwrap_or("error"), d.message().unwrap_or(""))),
        }))
    }

    /// The connector's ARN by name, or `None`.
    async fn find(&self, aws: &Aws) -> Result<Option<String>, AwsError> {
        connector_arn(aws, self.name()).await
    }

    /// Waits until the connector is RUNNING (seen twice); FAILED is an error with AWS's reason.
    async fn wait_running(&self, aws: &Aws, arn: &str) -> Result<Live, ResourceError> {
        let what = format!("connector {} to be RUNNING", self.name());
        poll_until(self.poll, Pace::Minutes, &what, 2, || async {
            match self.describe(aws, arn, false).await? {
                Some(live) if live.state == "RUNNING" => Ok(Seen::Done(live)),
                Some(live) if live.state == "FAILED" => Err(ResourceError::refused(
                    format!("connector {} FAILED: {}", self.name(), live.failure.unwrap_or_else(|| "MSK Connect gave no reason".into())),
                    "fix the cause (role, network, configuration), then apply again: a FAILED connector is replaced",
                )),
                Some(live) => Ok(Seen::Pending(live.state)),
                None => Ok(Seen::Pending("not found yet".into())),
            }
        })
        .await
        .map_err(wait_error)
    }

    async fn wait_gone(&self, aws: &Aws, arn: &str) -> Result<(), ResourceError> {
        let what = format!("connector {} to be deleted", self.name());
        poll_until(self.poll, Pace::Minutes, &what, 2, || async {
            Ok::<_, ResourceError>(match self.describe(aws, arn, false).await? {
                None => Seen::Done(()),
                Some(live) => Seen::Pending(live.state),
            })
        })
        .await
        .map_err(wait_error)
    }

    /// Polls an update operation to its end: UPDATE_COMPLETE, or a failure with AWS's reason.
    async fn wait_operation(&self, aws: &Aws, operation_arn: &str, what: &str) -> Result<(), ResourceError> {
        let waiting = format!("the {what} update of connector {}", self.name());
        poll_until(self.poll, Pace::Minutes, &waiting, 1, || async {
            let out = aws
                .kafkaconnect
                .describe_connector_operation()
                .connector_operation_arn(operation_arn)
                .send()
                .await
                .or_aws("kafkaconnect:DescribeConnectorOperation")?;
            let state = out.connector_operation_state().map(|s| s.as_str().to_owned()).unwrap_or_default();
            match state.as_str() {
                "UPDATE_COMPLETE" => Ok(Seen::Done(())),
                "UPDATE_FAILED" | "ROLLBACK_IN_PROGRESS" | "ROLLBACK_FAILED" | "ROLLBACK_COMPLETE" => {
                    let reason = out
                        .error_info()
                        .map(|e| format!("{}: {}", e.code().unwrap_or("error"), e.message().unwrap_or("")))
                        .unwrap_or_else(|| "MSK Connect gave no reason".into());
                    Err(ResourceError::refused(
                        format!("the {what} update of connector {} ended in {state}: {reason}", self.name()),
                        "the connector keeps its previous settings; fix the cause and apply again",
                    ))
                }
                _ => Ok(Seen::Pending(state)),
            }
        })
        .await
        .map_err(wait_error)
    }

    async fn create(&self, aws: &Aws, desired: &Desired) -> Result<Live, ResourceError> {
        let known = |key: &str| match desired.immutable.get(key) {
            Some(Value::Known(v)) => Ok(v.clone()),
            _ => Err(ResourceError::refused(
                format!("the connector's {key} is not known yet"),
                "apply again once the resources it depends on exist",
            )),
        };
        let strings = |v: Json| -> Vec<String> {
            v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect()).unwrap_or_default()
        };
        let text = |v: Json| v.as_str().unwrap_or_default().to_owned();
        let operation = "kafkaconnect:CreateConnector";
        let (plugin, role, version) =
            (text(known("plugin")?), text(known("service_execution_role")?), text(known("kafka_connect_version")?));
        let (bootstrap, subnets, groups) = (
            desired.bootstrap.clone().ok_or_else(|| {
                ResourceError::refused("the cluster's bootstrap brokers are not known yet", "apply again once the cluster is ACTIVE")
            })?,
            strings(known("subnets")?),
            strings(known("security_groups")?),
        );
        let vpc = Vpc::builder().set_subnets(Some(subnets)).set_security_groups(Some(groups)).build().map_err(sdk_error(operation))?;
        let cluster = ApacheKafkaCluster::builder().bootstrap_servers(bootstrap).vpc(vpc).build().map_err(sdk_error(operation))?;
        let auth = KafkaClusterClientAuthentication::builder()
            .authentication_type(KafkaClusterClientAuthenticationType::Iam)
            .build()
            .map_err(sdk_error(operation))?;
        let encryption = KafkaClusterEncryptionInTransit::builder()
            .encryption_type(KafkaClusterEncryptionInTransitType::Tls)
            .build()
            .map_err(sdk_error(operation))?;
        let custom = CustomPlugin::builder().custom_plugin_arn(plugin).revision(1).build().map_err(sdk_error(operation))?;
        let capacity = match desired.capacity_spec {
            Capacity::Provisioned { mcu_count, workers } => SdkCapacity::builder()
                .provisioned_capacity(ProvisionedCapacity::builder().mcu_count(mcu_count).worker_count(workers).build()),
            Capacity::AutoScaling { mcu_count, min_workers, max_workers, scale_in_cpu, scale_out_cpu, max_tasks } => SdkCapacity::builder()
                .auto_scaling(
                    AutoScaling::builder()
                        .mcu_count(mcu_count)
                        .min_worker_count(min_workers)
                        .max_worker_count(max_workers)
                        .scale_in_policy(ScaleInPolicy::builder().cpu_utilization_percentage(scale_in_cpu).build())
                        .scale_out_policy(ScaleOutPolicy::builder().cpu_utilization_percentage(scale_out_cpu).build())
                        .set_max_autoscaling_task_count(max_tasks)
                        .build(),
                ),
        }
        .build();
        let mut workers_logs = WorkerLogDelivery::builder();
        if let Some(group) = &self.spec.logs.log_group {
            workers_logs = workers_logs.cloud_watch_logs(CloudWatchLogsLogDelivery::builder().enabled(true).log_group(group).build());
        }
        if let Some(prefix) = &self.spec.logs.bucket_prefix {
            workers_logs = workers_logs.s3(S3LogDelivery::builder().enabled(true).bucket(&self.bucket).prefix(prefix).build());
        }
        let arn = retry(Backoff::IAM_PROPAGATION, operation, is_role_propagating, || async {
            let mut call = aws
                .kafkaconnect
                .create_connector()
                .connector_name(self.name())
                .kafka_connect_version(&version)
                .kafka_cluster(KafkaCluster::builder().apache_kafka_cluster(cluster.clone()).build())
                .kafka_cluster_client_authentication(auth.clone())
                .kafka_cluster_encryption_in_transit(encryption.clone())
                .plugins(Plugin::builder().custom_plugin(custom.clone()).build())
                .service_execution_role_arn(&role)
                .capacity(capacity.clone())
                .set_connector_configuration(Some(desired.config.clone().into_iter().collect()))
                .set_tags(Some(desired.tags.clone().into_iter().collect()));
            if self.spec.logs != crate::plan::LogDelivery::default() {
                call = call.log_delivery(LogDelivery::builder().worker_log_delivery(workers_logs.clone().build()).build());
            }
            match call.send().await.or_aws(operation) {
                Ok(out) => Ok(out.connector_arn().unwrap_or_default().to_owned()),
                // Created by an interrupted earlier run: go on with that one.
                Err(e) if e.is_code(&["ConflictException"]) => match self.find(aws).await? {
                    Some(arn) => Ok(arn),
                    None => Err(e),
                },
                Err(e) => Err(e),
            }
        })
        .await?;
        self.wait_running(aws, &arn).await
    }

    async fn remove(&self, aws: &Aws, live: &Live) -> Result<(), ResourceError> {
        if live.state != "DELETING" {
            let mut call = aws.kafkaconnect.delete_connector().connector_arn(&live.arn);
            if !live.current_version.is_empty() {
                call = call.current_version(&live.current_version);
            }
            match call.send().await.or_aws("kafkaconnect:DeleteConnector") {
                Err(e) if !e.is_not_found() => return Err(e.into()),
                _ => {}
            }
        }
        self.wait_gone(aws, &live.arn).await
    }

    /// Changes capacity and/or configuration in place: one call each, only what changed, each
    /// waited for and the result read back.
    async fn update(&self, aws: &Aws, desired: &Desired, live: &Live) -> Result<Live, ResourceError> {
        let mut live = if live.state == "RUNNING" { live.clone() } else { self.wait_running(aws, &live.arn).await? };
        if live.capacity != desired.capacity {
            let update = match desired.capacity_spec {
                Capacity::Provisioned { mcu_count, workers } => CapacityUpdate::builder()
                    .provisioned_capacity(ProvisionedCapacityUpdate::builder().mcu_count(mcu_count).worker_count(workers).build()),
                Capacity::AutoScaling { mcu_count, min_workers, max_workers, scale_in_cpu, scale_out_cpu, max_tasks } => {
                    CapacityUpdate::builder().auto_scaling(
                        AutoScalingUpdate::builder()
                            .mcu_count(mcu_count)
                            .min_worker_count(min_workers)
                            .max_worker_count(max_workers)
                            .scale_in_policy(ScaleInPolicyUpdate::builder().cpu_utilization_percentage(scale_in_cpu).build())
                            .scale_out_policy(ScaleOutPolicyUpdate::builder().cpu_utilization_percentage(scale_out_cpu).build())
                            .set_max_autoscaling_task_count(max_tasks)
                            .build(),
                    )
                }
            }
            .build();
            let out = aws
                .kafkaconnect
                .update_connector()
                .connector_arn(&live.arn)
                .current_version(&live.current_version)
                .capacity(update)
                .send()
                .await
                .or_aws("kafkaconnect:UpdateConnector")?;
            self.wait_operation(aws, out.connector_operation_arn().unwrap_or_default(), "capacity").await?;
            live = self.wait_running(aws, &live.arn).await?;
            if live.capacity != desired.capacity {
                return Err(ResourceError::refused(
                    format!(
                        "MSK Connect reported the capacity update of connector {} complete, but it reads back as {}",
                        self.name(),
                        live.capacity
                    ),
                    "look at the connector's operations in the MSK Connect console; apply again to retry",
                ));
            }
        }
        if live.config != desired.config {
            let out = aws
                .kafkaconnect
                .update_connector()
                .connector_arn(&live.arn)
                .current_version(&live.current_version)
                .set_connector_configuration(Some(desired.config.clone().into_iter().collect()))
                .send()
                .await
                .or_aws("kafkaconnect:UpdateConnector")?;
            self.wait_operation(aws, out.connector_operation_arn().unwrap_or_default(), "configuration").await?;
            live = self.wait_running(aws, &live.arn).await?;
            let differing: Vec<&str> = desired
                .config
                .keys()
                .chain(live.config.keys())
                .filter(|k| desired.config.get(*k) != live.config.get(*k))
                .map(String::as_str)
                .collect();
            if !differing.is_empty() {
                return Err(ResourceError::refused(
                    format!(
                        "MSK Connect reported the configuration update of connector {} complete, but {} still differ",
                        self.name(),
                        differing.join(", ")
                    ),
                    "look at the connector's operations in the MSK Connect console; apply again to retry",
                ));
            }
        }
        Ok(live)
    }
}

fn wait_error(error: WaitError<ResourceError>) -> ResourceError {
    msk_connect_plugin::connect_wait_error(error, "connector")
}

impl Kind for MskConnector {
    type Desired = Desired;
    type Live = Live;

    fn id(&self) -> ResourceId {
        ResourceId::new(KIND, self.name())
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        vec![self.plugin.clone(), self.role.clone(), self.cluster.clone()]
    }

    fn destroy_depends_on(&self) -> Vec<ResourceId> {
        let mut deps = self.depends_on();
        deps.extend(self.old_plugins.iter().cloned());
        deps
    }

    async fn observe(&self, aws: &Aws) -> Result<Option<Live>, AwsError> {
        // Discovery listed every connector of the Region a moment ago: no ListConnectors of our
        // own (one call and one round trip fewer per environment).
        let arn = match &self.discovery.connect {
            Some(listing) => listing.connectors.iter().find(|c| c.name == self.name() && !c.arn.is_empty()).map(|c| c.arn.clone()),
            None => self.find(aws).await?,
        };
        match arn {
            Some(arn) => self.describe(aws, &arn, true).await,
            None => Ok(None),
        }
    }

    fn desired(&self, inputs: &Inputs) -> Desired {
        let from_cluster = |key: &str, planned: &[String], discovered: Option<Vec<String>>| -> Value {
            if !planned.is_empty() {
                return Value::Known(sorted(planned.to_vec()));
            }
            match inputs.get(&self.cluster, key) {
                Value::Known(Json::Array(items)) => {
                    Value::Known(sorted(items.into_iter().filter_map(|i| i.as_str().map(str::to_owned)).collect()))
                }
                _ => discovered.map_or(Value::Unknown, |d| Value::Known(sorted(d))),
            }
        };
        let cluster = self.discovery.cluster.as_ref();
        let immutable = BTreeMap::from([
            ("plugin", inputs.get(&self.plugin, msk_connect_plugin::OUTPUT_ARN)),
            ("service_execution_role", inputs.get(&self.role, "arn")),
            ("kafka_connect_version", Value::of(self.spec.kafka_connect_version.clone())),
            (
                "bootstrap_servers",
                match inputs.get(&self.cluster, msk_cluster::OUTPUT_BOOTSTRAP) {
                    Value::Known(Json::String(s)) => Value::of(brokers_cluster(&s)),
                    other => other,
                },
            ),
            ("subnets", from_cluster(msk_cluster::OUTPUT_SUBNETS, &self.spec.subnets, cluster.map(|c| c.subnets.clone()))),
            (
                "security_groups",
                from_cluster(msk_cluster::OUTPUT_SECURITY_GROUPS, &self.spec.security_groups, cluster.map(|c| c.security_groups.clone())),
            ),
            ("authentication", Value::of("IAM")),
            ("encryption_in_transit", Value::of("TLS")),
            ("log_delivery", Value::Known(logs_json(&self.spec, &self.bucket))),
        ]);
        Desired {
            immutable,
            bootstrap: inputs.string(&self.cluster, msk_cluster::OUTPUT_BOOTSTRAP),
            capacity: capacity_json(&self.spec.capacity),
            capacity_spec: self.spec.capacity,
            config: self.spec.config.clone(),
            tags: self.tags.clone(),
        }
    }

    fn diff(desired: &Desired, live: Option<&Live>) -> Result<Vec<FieldChange>, ResourceError> {
        let mut fields = Fields::new(live.is_none());
        if let Some(live) = live
            && live.state == "FAILED"
        {
            // A FAILED connector cannot be updated or recovered: it is replaced.
            fields.known("state", "RUNNING", Some(json!(live.state)), true);
        }
        for key in IMMUTABLE {
            let want = desired.immutable.get(key).cloned().unwrap_or(Value::Unknown);
            fields.field(key, want, live.map(|l| l.immutable.get(key).cloned().unwrap_or(Json::Null)), true);
        }
        fields.known("capacity", desired.capacity.clone(), live.map(|l| l.capacity.clone()), false);
        for (key, value) in &desired.config {
            fields.known(&format!("config.{key}"), value.clone(), live.and_then(|l| l.config.get(key)).map(|v| json!(v)), false);
        }
        let mut changes = fields.finish();
        if let Some(live) = live {
            // Keys set on the live connector that the plan does not have go away with the update
            // (the configuration is replaced whole).
            for (key, value) in &live.config {
                if !desired.config.contains_key(key) {
                    changes.push(FieldChange { path: format!("config.{key}"), old: Some(json!(value)), new: None, forces_replace: false });
                }
            }
        }
        let mut tags = Fields::new(live.is_none());
        tags.tags("tags", &desired.tags, live.map(|l| &l.tags));
        changes.extend(tags.finish());
        Ok(changes)
    }

    fn explain(fields: &[FieldChange]) -> Option<String> {
        let capacity = fields.iter().any(|f| f.path == "capacity" && f.old.is_some());
        let config = fields.iter().any(|f| f.path.starts_with("config.") && (f.old.is_some() || f.new.is_none()));
        (capacity && config && !fields.iter().any(|f| f.forces_replace))
            .then(|| "capacity and configuration are changed by two UpdateConnector calls, one after the other".to_owned())
    }

    const OUTPUTS: &'static [&'static str] = &["arn", "name", "state"];

    fn live_tags(live: &Live) -> Option<&Tags> {
        Some(&live.tags)
    }

    fn outputs(&self, live: &Live) -> Outputs {
        Outputs::from([("arn", Value::of(live.arn.clone())), ("name", Value::of(self.name())), ("state", Value::of(live.state.clone()))])
    }

    async fn apply(&self, aws: &Aws, desired: &Desired, live: Option<&Live>, change: &Change) -> Result<Outputs, ResourceError> {
        let live = match (live, change.action) {
            (None, _) => self.create(aws, desired).await?,
            (Some(live), Action::Replace) => {
                self.remove(aws, live).await?;
                self.create(aws, desired).await?
            }
            (Some(live), _) => {
                let updated = self.update(aws, desired, live).await?;
                if change.touches("tags") {
                    msk_connect_plugin::tag(aws, &live.arn, &desired.tags).await?;
                }
                updated
            }
        };
        Ok(self.outputs(&live))
    }

    async fn delete(&self, aws: &Aws, live: &Live) -> Result<(), ResourceError> {
        self.remove(aws, live).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired() -> Desired {
        Desired {
            immutable: IMMUTABLE.iter().map(|k| (*k, Value::of(format!("{k}-value")))).collect(),
            bootstrap: Some("b-1.c.kafka:9098".into()),
            capacity: capacity_json(&Capacity::Provisioned { mcu_count: 1, workers: 1 }),
            capacity_spec: Capacity::Provisioned { mcu_count: 1, workers: 1 },
            config: BTreeMap::from([("flush.size".into(), "1".into()), ("topics.regex".into(), "u.*".into())]),
            tags: Tags::from([("pinfra:env".into(), "dev".into())]),
        }
    }

    fn converged() -> Live {
        let d = desired();
        Live {
            arn: "arn".into(),
            state: "RUNNING".into(),
            current_version: "v1".into(),
            immutable: d
                .immutable
                .iter()
                .map(|(k, v)| {
                    (
                        *k,
                        match v {
                            Value::Known(j) => j.clone(),
                            Value::Unknown => Json::Null,
                        },
                    )
                })
                .collect(),
            capacity: d.capacity.clone(),
            config: d.config.clone(),
            tags: d.tags.clone(),
            failure: None,
        }
    }

    fn paths(live: &Live) -> Vec<(String, bool)> {
        MskConnector::diff(&desired(), Some(live)).unwrap().into_iter().map(|f| (f.path, f.forces_replace)).collect()
    }

    #[test]
    fn converged_is_empty() {
        assert!(paths(&converged()).is_empty());
    }

    #[test]
    fn every_immutable_field_forces_replacement() {
        for key in IMMUTABLE {
            let mut live = converged();
            live.immutable.insert(key, json!("something else"));
            assert_eq!(paths(&live), [(key.to_owned(), true)], "{key}");
        }
    }

    #[test]
    fn configuration_and_capacity_change_in_place() {
        let mut live = converged();
        live.config.insert("flush.size".into(), "100".into());
        live.config.insert("extra".into(), "x".into());
        live.capacity = capacity_json(&Capacity::Provisioned { mcu_count: 1, workers: 2 });
        let changes = MskConnector::diff(&desired(), Some(&live)).unwrap();
        let got: Vec<(&str, bool, bool)> = changes.iter().map(|f| (f.path.as_str(), f.forces_replace, f.new.is_none())).collect();
        assert_eq!(got, [("capacity", false, false), ("config.flush.size", false, false), ("config.extra", false, true)]);
        assert!(MskConnector::explain(&changes).unwrap().contains("two UpdateConnector calls"));
    }

    #[test]
    fn a_failed_connector_is_replaced() {
        let mut live = converged();
        live.state = "FAILED".into();
        assert_eq!(paths(&live), [("state".to_owned(), true)]);
    }

    #[test]
    fn unknown_inputs_are_known_after_apply() {
        let mut d = desired();
        d.immutable.insert("plugin", Value::Unknown);
        let changes = MskConnector::diff(&d, Some(&converged())).unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].new, Some(Value::Unknown));
        assert!(changes[0].forces_replace);
    }

    #[test]
    fn create_lists_every_field() {
        let changes = MskConnector::diff(&desired(), None).unwrap();
        assert_eq!(changes.len(), IMMUTABLE.len() + 1 + 2 + 1);
        assert!(changes.iter().all(|c| !c.forces_replace));
    }

    #[test]
    fn broker_order_and_subset_are_not_a_change() {
        let a = "b-1.c1.x.c2.kafka.us-east-1.amazonaws.com:9098,b-2.c1.x.c2.kafka.us-east-1.amazonaws.com:9098";
        let b = "b-3.c1.x.c2.kafka.us-east-1.amazonaws.com:9098,b-1.c1.x.c2.kafka.us-east-1.amazonaws.com:9098";
        assert_eq!(brokers_cluster(a), brokers_cluster(b));
        assert_ne!(brokers_cluster(a), brokers_cluster("b-1.other.y.c2.kafka.us-east-1.amazonaws.com:9098"));
    }

    #[test]
    fn role_propagation_is_recognised() {
        let e = |code: &str, message: &str| AwsError::Service {
            operation: "kafkaconnect:CreateConnector",
            code: code.into(),
            message: message.into(),
            status: 400,
        };
        assert!(is_role_propagating(&e("BadRequestException", "The service execution role cannot be assumed")));
        assert!(!is_role_propagating(&e("BadRequestException", "Invalid bootstrap servers")));
        assert!(!is_role_propagating(&e("ConflictException", "role")));
    }
}
