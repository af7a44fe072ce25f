//! A Kafka topic on the pipeline's cluster, through the MSK topic API (no network path to the
//! brokers needed).
//!
//! The rules that decide the shape, from MSK's API: partitions can only grow (a decrease is
//! refused here, at diff time); the replication factor cannot change in place (refused, or
//! delete-and-create with `allow_recreate`); one UpdateTopic call changes partitions *or*
//! configs, never both; answers can be stale for about a minute, so a state is trusted only
//! when seen twice in a row; only the config keys the plan declares are compared, since
//! DescribeTopic returns the server's defaults too.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value as Json;

use super::discovery::Discovery;
use super::msk_cluster;
use crate::aws::{Aws, AwsError, Classify};
use crate::engine::{Change, FieldChange, Fields, Inputs, Kind, Outputs, Presence, ResourceError, ResourceId, Tags, Value};
use crate::plan::TopicSpec;
use crate::retry::{Pace, Poll, Seen, WaitError, poll_until};

/// The kind name.
pub const KIND: &str = "msk_topic";

/// How many times in a row a state must be seen before it is believed.
const CONFIRMATIONS: u32 = 2;

/// Encodes topic configs as MSK takes them: base64 of a JSON object (as Terraform sends them).
pub fn encode_configs(configs: &BTreeMap<String, String>) -> String {
    BASE64.encode(serde_json::to_string(configs).unwrap_or_default())
}

/// Decodes topic configs as MSK returns them: base64 of a JSON object, or of Java properties
/// lines (`key=value`, as the MSK guide's example shows). `None` if it is neither.
pub fn decode_configs(encoded: &str) -> Option<BTreeMap<String, String>> {
    let bytes = BASE64.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    if text.trim_start().starts_with('{') {
        let object: serde_json::Map<String, Json> = serde_json::from_str(&text).ok()?;
        return Some(
            object
                .into_iter()
                .map(|(k, v)| {
                    let value = match v {
                        Json::String(s) => s,
                        other => other.to_string(),
                    };
                    (k, value)
                })
                .collect(),
        );
    }
    let mut configs = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let (key, value) = line.split_once(['=', ':'])?;
        configs.insert(key.trim().to_owned(), value.trim().to_owned());
    }
    Some(configs)
}

/// One topic: planned, or found under the plan's prefix without being planned.
#[derive(Debug, Clone)]
pub struct MskTopic {
    /// Topic name.
    pub name: String,
    /// What the plan declares; `None` for a topic the plan does not list.
    pub spec: Option<TopicSpec>,
    /// For an unlisted topic: delete it (`--prune`) instead of only reporting it.
    pub prune: bool,
    /// The broker count of a cluster pinfra creates (the live count wins once it exists).
    pub planned_brokers: Option<i32>,
    /// The cluster resource.
    pub cluster: ResourceId,
    /// What [`msk_cluster::discover`] found.
    pub discovery: Arc<Discovery>,
    /// How to wait for topic states.
    pub poll: Poll,
}

/// What the plan wants.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    spec: Option<TopicSpec>,
    cluster_arn: Option<String>,
    broker_count: Option<i32>,
}

/// What MSK has.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    arn: String,
    partitions: i32,
    replication_factor: i32,
    /// Read (with DescribeTopic) only when the plan declares configs for the topic.
    configs: Option<BTreeMap<String, String>>,
}

#[cfg(test)]
impl Live {
    /// A topic as MSK describes it, for fixtures (the engine's planner goldens).
    pub(crate) fn fixture(arn: &str, partitions: i32, replication_factor: i32, configs: &[(&str, &str)]) -> Self {
        let configs = configs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Live { arn: arn.to_owned(), partitions, replication_factor, configs: Some(configs) }
    }
}

impl MskTopic {
    fn cluster_arn(&self) -> Option<&str> {
        self.discovery.cluster.as_ref().map(|c| c.arn.as_str())
    }

    /// DescribeTopic's status and partitions, or `None` when MSK says the topic does not exist.
    async fn describe(&self, aws: &Aws, cluster_arn: &str) -> Result<Option<(String, i32)>, AwsError> {
        match aws.kafka.describe_topic().cluster_arn(cluster_arn).topic_name(&self.name).send().await.or_aws("kafka:DescribeTopic") {
            Ok(out) => {
                Ok(Some((out.status().map(|s| s.as_str().to_owned()).unwrap_or_default(), out.partition_count().unwrap_or_default())))
            }
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Waits until the topic is ACTIVE (with at least `partitions`), seen twice in a row.
    async fn wait_active(&self, aws: &Aws, cluster_arn: &str, partitions: i32) -> Result<(), ResourceError> {
        let what = format!("topic {} to be ACTIVE", self.name);
        poll_until(self.poll, Pace::Seconds, &what, CONFIRMATIONS, || async {
            Ok(match self.describe(aws, cluster_arn).await? {
                Some((status, count)) if status == "ACTIVE" && count >= partitions => Seen::Done(()),
                Some((status, count)) => Seen::Pending(format!("{status}, {count} partitions")),
                // Just created: the answer may still be stale.
                None => Seen::Pending("not found yet".to_owned()),
            })
        })
        .await
        .map_err(wait_error)
    }

    /// Waits until MSK no longer knows the topic, seen twice in a row.
    async fn wait_gone(&self, aws: &Aws, cluster_arn: &str) -> Result<(), ResourceError> {
        let what = format!("topic {} to be deleted", self.name);
        poll_until(self.poll, Pace::Seconds, &what, CONFIRMATIONS, || async {
            Ok(match self.describe(aws, cluster_arn).await? {
                None => Seen::Done(()),
                Some((status, _)) => Seen::Pending(status),
            })
        })
        .await
        .map_err(wait_error)
    }

    async fn create(&self, aws: &Aws, cluster_arn: &str, spec: &TopicSpec) -> Result<(), ResourceError> {
        let send = || {
            let mut create = aws
                .kafka
                .create_topic()
                .cluster_arn(cluster_arn)
                .topic_name(&self.name)
                .partition_count(spec.partitions)
                .replication_factor(spec.replication_factor);
            if !spec.configs.is_empty() {
                create = create.configs(encode_configs(&spec.configs));
            }
            async move { create.send().await.or_aws("kafka:CreateTopic") }
        };
        match send().await {
            Ok(_) => {}
            // The name is taken: by a topic being deleted (a replacement, or a prune by another
            // run), which must be gone first; or by our own create from an interrupted earlier
            // run, which is waited for like this one.
            Err(e) if e.is_code(&["TopicExistsException", "ConflictException"]) => match self.describe(aws, cluster_arn).await? {
                Some((status, _)) if status == "DELETING" => {
                    self.wait_gone(aws, cluster_arn).await?;
                    send().await?;
                }
                // Someone else's topic, or ours with other settings: say so rather than report
                // a create that did not happen as done.
                Some((_, partitions)) if partitions != spec.partitions => {
                    return Err(ResourceError::refused(
                        format!(
                            "topic {} appeared while pinfra was creating it, with {partitions} partitions instead of {}",
                            self.name, spec.partitions
                        ),
                        "run `pinfra diff` to see the topic as it is, then apply again",
                    ));
                }
                _ => {}
            },
            Err(e) => return Err(e.into()),
        }
        self.wait_active(aws, cluster_arn, spec.partitions).await
    }

    async fn remove(&self, aws: &Aws, cluster_arn: &str) -> Result<(), ResourceError> {
        match aws.kafka.delete_topic().cluster_arn(cluster_arn).topic_name(&self.name).send().await.or_aws("kafka:DeleteTopic") {
            Err(e) if !e.is_not_found() => return Err(e.into()),
            _ => {}
        }
        self.wait_gone(aws, cluster_arn).await
    }
}

fn wait_error(error: WaitError<AwsError>) -> ResourceError {
    match error {
        WaitError::Failed(e) => e.into(),
        timeout @ WaitError::Timeout { .. } => {
            ResourceError::refused(timeout.to_string(), "raise --timeout, or check the cluster in the MSK console")
        }
    }
}

impl Kind for MskTopic {
    type Desired = Desired;
    type Live = Live;

    fn id(&self) -> ResourceId {
        ResourceId::new(KIND, &self.name)
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        vec![self.cluster.clone()]
    }

    fn presence(&self) -> Presence {
        match (&self.spec, self.prune) {
            (Some(_), _) => Presence::Wanted,
            (None, true) => Presence::Unwanted,
            (None, false) => {
                Presence::Unmanaged("on the cluster under the plan's topic prefix but not in the plan: kept (`--prune` deletes it)")
            }
        }
    }

    fn owned_without_tags(&self) -> bool {
        // Topics carry no tags: the plan naming a topic, or the plan's prefix, makes it the plan's.
        true
    }

    async fn observe(&self, aws: &Aws) -> Result<Option<Live>, AwsError> {
        let Some(listing) = &self.discovery.topics else { return Ok(None) };
        let Some(summary) = listing.get(&self.name) else { return Ok(None) };
        let mut live = Live {
            arn: summary.arn.clone(),
            partitions: summary.partitions,
            replication_factor: summary.replication_factor,
            configs: None,
        };
        // DescribeTopic only where there are configs to compare: a converged diff of topics
        // without configs costs the listing alone.
        if let (Some(spec), Some(cluster_arn)) = (&self.spec, self.cluster_arn())
            && !spec.configs.is_empty()
        {
            match aws.kafka.describe_topic().cluster_arn(cluster_arn).topic_name(&self.name).send().await.or_aws("kafka:DescribeTopic") {
                Ok(out) => {
                    live.configs = match out.configs() {
                        None => Some(BTreeMap::new()),
                        Some(encoded) => Some(decode_configs(encoded).ok_or_else(|| AwsError::Other {
                            operation: "kafka:DescribeTopic",
                            detail: format!("the configs of topic {} are neither base64 JSON nor base64 properties", self.name),
                        })?),
                    }
                }
                // Listed a moment ago, gone now (stale listing or a concurrent delete).
                Err(e) if e.is_not_found() => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        Ok(Some(live))
    }

    fn desired(&self, inputs: &Inputs) -> Desired {
        Desired {
            spec: self.spec.clone(),
            cluster_arn: inputs.string(&self.cluster, msk_cluster::OUTPUT_ARN),
            broker_count: self.discovery.cluster.as_ref().and_then(|c| c.broker_count).or(self.planned_brokers),
        }
    }

    fn diff(desired: &Desired, live: Option<&Live>) -> Result<Vec<FieldChange>, ResourceError> {
        let Some(spec) = &desired.spec else { return Ok(Vec::new()) };
        if let Some(brokers) = desired.broker_count
            && spec.replication_factor > brokers
        {
            return Err(ResourceError::refused(
                format!("replication factor {} is more than the cluster's {brokers} brokers", spec.replication_factor),
                format!("set `replication_factor` to at most {brokers}"),
            ));
        }
        let mut fields = Fields::new(live.is_none());
        if let Some(live) = live {
            if spec.partitions < live.partitions {
                return Err(ResourceError::refused(
                    format!("topic `{}` has {} partitions; Kafka cannot reduce them to {}", spec.name, live.partitions, spec.partitions),
                    format!("set `partitions` to {} or more (or create a new topic)", live.partitions),
                ));
            }
            if spec.replication_factor != live.replication_factor && !spec.allow_recreate {
                return Err(ResourceError::refused(
                    format!(
                        "topic `{}` has replication factor {}; MSK cannot change it to {} in place",
                        spec.name, live.replication_factor, spec.replication_factor
                    ),
                    "keep the replication factor, or set `allow_recreate = true` on the topic to delete and re-create it (its records are lost)",
                ));
            }
        }
        fields.known("partitions", spec.partitions, live.map(|l| Json::from(l.partitions)), false);
        fields.known("replication_factor", spec.replication_factor, live.map(|l| Json::from(l.replication_factor)), true);
        for (key, value) in &spec.configs {
            let have = live.and_then(|l| l.configs.as_ref()).and_then(|c| c.get(key)).map(|v| Json::String(v.clone()));
            fields.known(&format!("configs.{key}"), value.clone(), have, false);
        }
        Ok(fields.finish())
    }

    const OUTPUTS: &'static [&'static str] = &["arn", "name"];

    fn live_tags(_live: &Live) -> Option<&Tags> {
        None
    }

    fn outputs(&self, live: &Live) -> Outputs {
        Outputs::from([("arn", Value::of(live.arn.clone())), ("name", Value::of(self.name.clone()))])
    }

    async fn apply(&self, aws: &Aws, desired: &Desired, live: Option<&Live>, change: &Change) -> Result<Outputs, ResourceError> {
        let Some(cluster_arn) = desired.cluster_arn.as_deref() else {
            return Err(ResourceError::refused(
                format!("the cluster of {} is not known", self.id()),
                "apply again once the cluster exists",
            ));
        };
        let Some(spec) = &desired.spec else {
            // Not in the plan and pruned: the engine routes deletes to `delete`; nothing to do.
            return Ok(Outputs::new());
        };
        match live {
            None => self.create(aws, cluster_arn, spec).await?,
            Some(_) if change.action == crate::engine::Action::Replace => {
                self.remove(aws, cluster_arn).await?;
                self.create(aws, cluster_arn, spec).await?;
            }
            Some(live) => {
                // Partitions and configs never go in one UpdateTopic call; each waits for ACTIVE.
                if change.touches("partitions") {
                    aws.kafka
                        .update_topic()
                        .cluster_arn(cluster_arn)
                        .topic_name(&self.name)
                        .partition_count(spec.partitions)
                        .send()
                        .await
                        .or_aws("kafka:UpdateTopic")?;
                    self.wait_active(aws, cluster_arn, spec.partitions).await?;
                }
                if change.touches("configs") {
                    aws.kafka
                        .update_topic()
                        .cluster_arn(cluster_arn)
                        .topic_name(&self.name)
                        .configs(encode_configs(&spec.configs))
                        .send()
                        .await
                        .or_aws("kafka:UpdateTopic")?;
                    self.wait_active(aws, cluster_arn, spec.partitions.max(live.partitions)).await?;
                }
            }
        }
        let arn = live.map(|l| l.arn.clone()).unwrap_or_else(|| cluster_arn.replacen(":cluster/", ":topic/", 1) + "/" + &self.name);
        Ok(Outputs::from([("arn", Value::of(arn)), ("name", Value::of(self.name.clone()))]))
    }

    async fn delete(&self, aws: &Aws, _live: &Live) -> Result<(), ResourceError> {
        let Some(cluster_arn) = self.cluster_arn() else { return Ok(()) };
        self.remove(aws, cluster_arn).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(partitions: i32, replication_factor: i32, configs: &[(&str, &str)]) -> TopicSpec {
        TopicSpec {
            name: "0a1b.pin".into(),
            partitions,
            replication_factor,
            configs: configs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            allow_recreate: false,
        }
    }

    fn desired(spec: TopicSpec) -> Desired {
        Desired { spec: Some(spec), cluster_arn: Some("arn:aws:kafka:us-east-1:123456789012:cluster/c/u".into()), broker_count: Some(3) }
    }

    fn live(partitions: i32, replication_factor: i32, configs: &[(&str, &str)]) -> Live {
        Live {
            arn: "arn".into(),
            partitions,
            replication_factor,
            configs: Some(configs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()),
        }
    }

    #[test]
    fn configs_round_trip_as_json() {
        let configs: BTreeMap<String, String> = [("retention.ms".to_owned(), "604800000".to_owned())].into();
        let encoded = encode_configs(&configs);
        assert_eq!(BASE64.decode(&encoded).unwrap(), br#"{"retention.ms":"604800000"}"#);
        assert_eq!(decode_configs(&encoded), Some(configs));
    }

    #[test]
    fn configs_are_read_as_properties_too() {
        // The shape of the MSK guide's DescribeTopic example: properties lines with defaults.
        let properties = "cleanup.policy=delete\nretention.ms = 604800000\n# comment\n\nmin.insync.replicas:2\n";
        let decoded = decode_configs(&BASE64.encode(properties)).unwrap();
        assert_eq!(decoded.get("cleanup.policy").map(String::as_str), Some("delete"));
        assert_eq!(decoded.get("retention.ms").map(String::as_str), Some("604800000"));
        assert_eq!(decoded.get("min.insync.replicas").map(String::as_str), Some("2"));
        // JSON with non-string values.
        let json = decode_configs(&BASE64.encode(r#"{"retention.ms": 1000, "compact": true}"#)).unwrap();
        assert_eq!(json.get("retention.ms").map(String::as_str), Some("1000"));
        assert_eq!(json.get("compact").map(String::as_str), Some("true"));
        assert_eq!(decode_configs("not base64!"), None);
        assert_eq!(decode_configs(&BASE64.encode("no separator here")), None);
    }

    #[test]
    fn diff_table() {
        let retention = [("retention.ms", "604800000")];
        let cases: Vec<(&str, TopicSpec, Option<Live>, Vec<&str>)> = vec![
            ("create lists every field", spec(3, 3, &retention), None, vec!["partitions", "replication_factor", "configs.retention.ms"]),
            ("converged", spec(3, 3, &[]), Some(live(3, 3, &[])), vec![]),
            (
                "server defaults are not changes",
                spec(3, 3, &retention),
                Some(live(3, 3, &[("retention.ms", "604800000"), ("cleanup.policy", "delete")])),
                vec![],
            ),
            ("partition increase", spec(6, 3, &[]), Some(live(3, 3, &[])), vec!["partitions"]),
            ("config change", spec(3, 3, &retention), Some(live(3, 3, &[("retention.ms", "1")])), vec!["configs.retention.ms"]),
            ("both", spec(6, 3, &retention), Some(live(3, 3, &[])), vec!["partitions", "configs.retention.ms"]),
        ];
        for (name, spec, live, expected) in cases {
            let changes = MskTopic::diff(&desired(spec), live.as_ref()).expect(name);
            assert_eq!(changes.iter().map(|c| c.path.as_str()).collect::<Vec<_>>(), expected, "{name}");
            assert!(changes.iter().all(|c| !c.forces_replace), "{name}");
        }
    }

    #[test]
    fn refusals() {
        let decrease = MskTopic::diff(&desired(spec(2, 3, &[])), Some(&live(3, 3, &[]))).unwrap_err();
        assert!(decrease.to_string().contains("has 3 partitions; Kafka cannot reduce them to 2"), "{decrease}");
        let replication = MskTopic::diff(&desired(spec(3, 2, &[])), Some(&live(3, 3, &[]))).unwrap_err();
        assert!(replication.to_string().contains("cannot change it to 2 in place"), "{replication}");
        assert!(replication.hint().unwrap().contains("allow_recreate"));
        let too_many = MskTopic::diff(&desired(spec(3, 4, &[])), None).unwrap_err();
        assert!(too_many.to_string().contains("more than the cluster's 3 brokers"), "{too_many}");
    }

    #[test]
    fn allow_recreate_turns_a_replication_change_into_a_replacement() {
        let mut wanted = spec(3, 2, &[]);
        wanted.allow_recreate = true;
        let changes = MskTopic::diff(&desired(wanted), Some(&live(3, 3, &[]))).unwrap();
        assert_eq!(changes.len(), 1);
        assert!(changes[0].forces_replace);
        assert_eq!(changes[0].path, "replication_factor");
    }
}
