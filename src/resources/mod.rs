//! Every resource kind pinfra manages, one module each, and [`for_plan`], the one ordered list
//! that turns a plan into the engine's nodes.

pub mod apigateway_rest_api;
pub mod discovery;
pub mod ec2_instance;
pub mod ec2_key_pair;
pub mod ec2_security_group;
pub mod ec2_security_group_rule;
pub mod ec2_vpc_endpoint;
pub mod iam_instance_profile;
pub mod iam_role;
pub mod limits;
pub mod msk_cluster;
pub mod msk_connect_plugin;
pub mod msk_connector;
pub mod msk_topic;
pub mod network_check;
pub mod policy;
pub mod s3_bucket;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::engine::{Node, Outputs, Ownership, ResourceId, Tags, Value};
use crate::plan::Plan;
use crate::retry::Poll;
pub use discovery::{Discovery, discover};

/// Choices that are not part of the plan.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Delete topics under the plan's prefix that the plan does not list.
    pub prune: bool,
    /// How to wait for asynchronous state changes.
    pub poll: Poll,
}

/// What the registry needs beside the plan.
#[derive(Debug, Clone)]
pub struct Context {
    /// What [`discover`] found.
    pub discovery: Arc<Discovery>,
    /// The templates of the Kafka client's user-data.
    pub templates: Arc<crate::render::Templates>,
    /// Choices that are not part of the plan.
    pub options: Options,
    /// The connector's plugin zip, resolved (with `[connect]` only).
    pub artifact: Option<Arc<crate::artifact::Artifact>>,
    /// The custom AWS endpoint, if any (invoke URLs on the sandbox differ from AWS's).
    pub endpoint: Option<String>,
}

/// The ownership tags of a plan.
pub fn ownership(plan: &Plan) -> Ownership {
    Ownership { plan: plan.environment.project.clone(), env: plan.environment.name.clone() }
}

/// The resources of `plan`, in registry order (the engine orders them by dependency), given what
/// [`discover`] found.
pub fn for_plan(plan: &Arc<Plan>, context: &Context) -> Vec<Box<dyn Node>> {
    let (discovery, options) = (&context.discovery, context.options);
    let mut tags: Tags = plan.environment.tags.clone();
    tags.extend(ownership(plan).tags());
    let cluster = msk_cluster::MskCluster {
        cluster: plan.msk.cluster.clone(),
        spec: plan.msk.create.clone(),
        tags: tags.clone(),
        discovery: Arc::clone(discovery),
        poll: options.poll,
    };
    let cluster_id = ResourceId::new(msk_cluster::KIND, plan.msk.cluster.name());
    let topic = |name: &str, spec| -> Box<dyn Node> {
        Box::new(msk_topic::MskTopic {
            name: name.to_owned(),
            spec,
            prune: options.prune,
            planned_brokers: plan.msk.create.as_ref().map(|c| c.broker_count),
            cluster: cluster_id.clone(),
            discovery: Arc::clone(discovery),
            poll: options.poll,
        })
    };
    let planned: Vec<Box<dyn Node>> = plan.topics.iter().map(|t| topic(&t.name, Some(t.clone()))).collect();
    // Topics under the plan's prefix that the plan does not list: reported, pruned on request.
    let unlisted: Vec<Box<dyn Node>> = discovery
        .topics
        .iter()
        .flatten()
        .filter(|(name, _)| name.starts_with(&plan.msk.topic_prefix) && !plan.topics.iter().any(|t| &t.name == *name))
        .map(|(name, _)| topic(name, None))
        .collect();
    let mut nodes: Vec<Box<dyn Node>> = vec![
        Box::new(cluster),
        Box::new(s3_bucket::S3Bucket { spec: plan.bucket.clone(), region: plan.environment.region.clone(), tags: tags.clone() }),
        Box::new(iam_role::IamRole {
            name: plan.role.name.clone(),
            bucket: plan.bucket.name.clone(),
            topics: iam_role::TopicScope {
                prefix: plan.msk.topic_prefix.clone(),
                others: plan.topics.iter().filter(|t| !t.name.starts_with(&plan.msk.topic_prefix)).map(|t| t.name.clone()).collect(),
            },
            cluster: cluster_id,
            connector: plan.connect.as_ref().map(|c| c.connector.name.clone()),
            manage_policies: plan.role.manage_policies,
            kms_key: bucket_key(plan),
            tags: tags.clone(),
        }),
        Box::new(iam_instance_profile::IamInstanceProfile {
            name: plan.role.instance_profile.clone(),
            role: plan.role.name.clone(),
            tags: tags.clone(),
        }),
    ];
    let client = &plan.kafka_client;
    let ingress = client
        .proxy_sources
        .iter()
        .map(|cidr| ec2_security_group::Rule { port: client.rest_proxy_port, cidr: cidr.clone() })
        .chain(client.ssh_sources.iter().map(|cidr| ec2_security_group::Rule { port: 22, cidr: cidr.clone() }))
        .collect();
    let network = discovery.network.as_ref();
    nodes.push(Box::new(ec2_security_group::Ec2SecurityGroup {
        name: client.security_group.clone(),
        vpc_id: client.vpc_id.clone(),
        network: network.cloned(),
        broker_subnets: brokers(discovery, plan).0,
        ingress,
        tags: tags.clone(),
    }));
    if let Some(public_key) = &client.ssh_public_key {
        nodes.push(Box::new(ec2_key_pair::Ec2KeyPair {
            name: client.ssh_key_name.clone(),
            public_key: public_key.clone(),
            tags: tags.clone(),
        }));
    }
    let placement = ec2_instance::Placement::in_network(network.map(AsRef::as_ref), client.subnet_id.as_deref());
    nodes.push(Box::new(ec2_instance::Ec2Instance::new(
        Arc::clone(plan),
        Arc::clone(&context.templates),
        tags.clone(),
        options.poll,
        placement,
    )));
    nodes.extend(network_nodes(plan, discovery, &tags));
    nodes.extend(planned);
    nodes.extend(unlisted);
    if let Some(api) = &plan.api {
        nodes.push(Box::new(apigateway_rest_api::ApigatewayRestApi {
            spec: api.clone(),
            port: plan.kafka_client.rest_proxy_port,
            instance: ResourceId::new(ec2_instance::KIND, &plan.kafka_client.instance_name),
            tags: tags.clone(),
            region: plan.environment.region.clone(),
            endpoint: context.endpoint.clone(),
        }));
    }
    if let Some(connect) = &plan.connect {
        nodes.extend(connect_nodes(plan, connect, context.artifact.as_ref(), context, &tags));
    }
    nodes
}

/// The brokers' subnets and security groups: the cluster's, or for a cluster pinfra creates,
/// the planned ones. Without groups MSK puts the VPC's default group on the brokers
/// (CreateCluster, `BrokerNodeGroupInfo.SecurityGroups`).
pub fn brokers(discovery: &Discovery, plan: &Plan) -> (Vec<String>, Vec<String>) {
    let (subnets, groups) = match (&discovery.cluster, &plan.msk.create) {
        (Some(cluster), _) => (cluster.subnets.clone(), cluster.security_groups.clone()),
        (None, Some(spec)) => {
            (discovery::choose_subnets(spec, discovery.default_subnets.as_deref()).unwrap_or_default(), spec.security_groups.clone())
        }
        (None, None) => (Vec::new(), Vec::new()),
    };
    let groups = match (groups.is_empty(), &discovery.network) {
        (true, Some(network)) => network.group_named("default").map(|g| vec![g.id.clone()]).unwrap_or_default(),
        _ => groups,
    };
    (subnets, groups)
}

/// The connector's subnets and security groups: the plan's, else the brokers'.
pub fn connector_placement(discovery: &Discovery, plan: &Plan) -> Option<(Vec<String>, Vec<String>)> {
    let connector = &plan.connect.as_ref()?.connector;
    let (subnets, groups) = brokers(discovery, plan);
    let or = |planned: &Vec<String>, brokers: Vec<String>| if planned.is_empty() { brokers } else { planned.clone() };
    Some((or(&connector.subnets, subnets), or(&connector.security_groups, groups)))
}

/// What pinfra adds to a network it does not own (`docs/network.md`): the brokers' group admits
/// the client's group (and the connector's own group, when it has one) on 9098, and an S3
/// gateway endpoint serves the connector's route tables that have no way to S3. Nothing without
/// a network read.
fn network_nodes(plan: &Plan, discovery: &Discovery, tags: &Tags) -> Vec<Box<dyn Node>> {
    let Some(network) = &discovery.network else { return Vec::new() };
    let (_, broker_groups) = brokers(discovery, plan);
    let Some(group) = broker_groups.first().filter(|g| network.groups.contains_key(*g)) else { return Vec::new() };
    let client = &plan.kafka_client.security_group;
    let rule = |name: String, source| ec2_security_group_rule::Ec2SecurityGroupRule {
        name,
        group: group.clone(),
        source,
        port: ec2_security_group_rule::IAM_BROKER_PORT,
        tags: tags.clone(),
    };
    let mut nodes: Vec<Box<dyn Node>> = vec![Box::new(rule(
        format!("{client}-to-brokers"),
        ec2_security_group_rule::Source::Managed {
            node: ResourceId::new(ec2_security_group::KIND, client),
            known: network.group_named(client).map(|g| g.id.clone()),
        },
    ))];
    if let (Some(connect), Some((subnets, groups))) = (&plan.connect, connector_placement(discovery, plan)) {
        // The connector's own groups (not the brokers'): the brokers must admit them too.
        if let Some(own) = groups.first().filter(|g| !broker_groups.contains(*g)) {
            nodes.push(Box::new(rule(
                format!("{}-to-brokers", connect.connector.name),
                ec2_security_group_rule::Source::Group(own.clone()),
            )));
        }
        let others: Vec<(String, Vec<String>)> = discovery
            .connect
            .iter()
            .flat_map(|l| &l.connectors)
            .filter(|c| c.name != connect.connector.name && c.state != "DELETING")
            .map(|c| (c.name.clone(), c.subnets.clone()))
            .collect();
        let endpoint =
            ec2_vpc_endpoint::Ec2VpcEndpoint::plan(&ec2_vpc_endpoint::name_for(&connect.connector.name), network, &subnets, &others, tags);
        nodes.extend(endpoint.map(|e| Box::new(e) as Box<dyn Node>));
    }
    nodes
}

/// The current plugin, every older plugin of the plan's base name (to clean up), and the
/// connector. Without a zip (`existing`), the plugin is the one of that name, and there are no
/// older ones.
fn connect_nodes(
    plan: &Plan,
    connect: &crate::plan::ConnectSpec,
    artifact: Option<&Arc<crate::artifact::Artifact>>,
    context: &Context,
    tags: &Tags,
) -> Vec<Box<dyn Node>> {
    let existing = connect.plugin.source == crate::plan::ArtifactSource::Existing;
    if !existing && artifact.is_none() {
        // A zip plan whose zip was not resolved (no caller does this): no plugin to plan.
        return Vec::new();
    }
    let current = artifact.map_or_else(|| connect.plugin.name.clone(), |a| msk_connect_plugin::plugin_name(&connect.plugin.name, a));
    let connector_id = ResourceId::new(msk_connector::KIND, &connect.connector.name);
    let bucket_id = ResourceId::new(s3_bucket::KIND, &plan.bucket.name);
    let plugin = |name: &str, artifact: Option<Arc<crate::artifact::Artifact>>| msk_connect_plugin::MskConnectPlugin {
        name: name.to_owned(),
        key: format!("{}{}-{}.zip", connect.plugin.key_prefix, connect.plugin.name, artifact.as_ref().map_or("", |a| a.sha256.as_str())),
        artifact,
        existing: false,
        connector_class: connect.connector.config.get("connector.class").cloned(),
        bucket: bucket_id.clone(),
        connector: connector_id.clone(),
        tags: tags.clone(),
        discovery: Arc::clone(&context.discovery),
        region: plan.environment.region.clone(),
        poll: context.options.poll,
    };
    let older: Vec<msk_connect_plugin::MskConnectPlugin> = context
        .discovery
        .connect
        .iter()
        .flat_map(|listing| &listing.plugins)
        .filter(|p| p.name != current && !existing)
        .map(|p| plugin(&p.name, None))
        .collect();
    let connector = msk_connector::MskConnector {
        spec: connect.connector.clone(),
        bucket: plan.bucket.name.clone(),
        plugin: ResourceId::new(msk_connect_plugin::KIND, &current),
        old_plugins: older.iter().map(|p| ResourceId::new(msk_connect_plugin::KIND, &p.name)).collect(),
        role: ResourceId::new(iam_role::KIND, &plan.role.name),
        cluster: ResourceId::new(msk_cluster::KIND, plan.msk.cluster.name()),
        tags: tags.clone(),
        discovery: Arc::clone(&context.discovery),
        poll: context.options.poll,
    };
    let current_plugin = msk_connect_plugin::MskConnectPlugin { existing, ..plugin(&current, artifact.map(Arc::clone)) };
    let mut nodes: Vec<Box<dyn Node>> = vec![Box::new(current_plugin), Box::new(connector)];
    nodes.extend(older.into_iter().map(|p| Box::new(p) as Box<dyn Node>));
    nodes
}

/// One value `pinfra output` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamedOutput {
    /// The value.
    Known(serde_json::Value),
    /// Its resource does not exist yet.
    NotCreated,
    /// Its resource exists but has no such value now; why (`the instance is stopped`).
    Unavailable(String),
}

/// The outputs users see (`pinfra output`), by stable name, from the outputs of existing
/// resources. Resources that do not exist yet show as not created; the instance's public
/// address, which a stopped instance (or one without a public address) does not have, as
/// unavailable with the reason, never as an empty value.
pub fn named_outputs(plan: &Plan, live: &BTreeMap<ResourceId, Outputs>) -> BTreeMap<&'static str, NamedOutput> {
    let get = |kind: &'static str, name: &str, key: &str| {
        live.get(&ResourceId::new(kind, name)).and_then(|o| o.get(key)).cloned().unwrap_or(Value::Unknown)
    };
    let client = &plan.kafka_client;
    let instance = |key: &str| get(ec2_instance::KIND, &client.instance_name, key);
    let no_address = || match instance(ec2_instance::OUTPUT_STATE) {
        Value::Known(serde_json::Value::String(state)) if !state.is_empty() && state != "running" => {
            format!("the instance is {state}; `pinfra apply` starts it")
        }
        _ => "the instance has no public address".to_owned(),
    };
    let address = |key: &str| match instance(key) {
        Value::Known(serde_json::Value::String(s)) if s.is_empty() => NamedOutput::Unavailable(no_address()),
        value => NamedOutput::from(value),
    };
    BTreeMap::from([
        ("cluster_arn", get(msk_cluster::KIND, plan.msk.cluster.name(), msk_cluster::OUTPUT_ARN).into()),
        ("bootstrap_brokers_sasl_iam", get(msk_cluster::KIND, plan.msk.cluster.name(), msk_cluster::OUTPUT_BOOTSTRAP).into()),
        ("topics", {
            let names: Vec<serde_json::Value> = plan
                .topics
                .iter()
                .filter(|t| live.contains_key(&ResourceId::new(msk_topic::KIND, &t.name)))
                .map(|t| serde_json::Value::String(t.name.clone()))
                .collect();
            NamedOutput::Known(serde_json::Value::from(names))
        }),
        ("bucket_name", get(s3_bucket::KIND, &plan.bucket.name, "name").into()),
        ("bucket_arn", get(s3_bucket::KIND, &plan.bucket.name, "arn").into()),
        ("role_name", get(iam_role::KIND, &plan.role.name, "name").into()),
        ("security_group_id", get(ec2_security_group::KIND, &client.security_group, "id").into()),
        ("instance_id", instance("id").into()),
        ("instance_public_dns", address("public_dns")),
        ("instance_public_ip", address("public_ip")),
        (
            "instance_ssh",
            match address("public_dns") {
                NamedOutput::Known(serde_json::Value::String(dns)) if client.ssh_public_key.is_some() && !client.ssh_sources.is_empty() => {
                    NamedOutput::Known(format!("ssh -i <your private key> ec2-user@{dns}").into())
                }
                NamedOutput::Known(_) => NamedOutput::Known(
                    "no SSH: set [kafka_client] ssh_public_key and ssh_sources (your address) to reach the instance".into(),
                ),
                other => other,
            },
        ),
        ("role_arn", get(iam_role::KIND, &plan.role.name, "arn").into()),
        (
            "invoke_url",
            plan.api.as_ref().map_or(NamedOutput::Known(serde_json::Value::Null), |a| {
                get(apigateway_rest_api::KIND, &a.name, apigateway_rest_api::OUTPUT_INVOKE_URL).into()
            }),
        ),
        (
            "connector_arn",
            plan.connect
                .as_ref()
                .map_or(NamedOutput::Known(serde_json::Value::Null), |c| get(msk_connector::KIND, &c.connector.name, "arn").into()),
        ),
        (
            "connector_state",
            plan.connect
                .as_ref()
                .map_or(NamedOutput::Known(serde_json::Value::Null), |c| get(msk_connector::KIND, &c.connector.name, "state").into()),
        ),
        ("instance_profile_name", get(iam_instance_profile::KIND, &plan.role.instance_profile, "name").into()),
        ("instance_profile_arn", get(iam_instance_profile::KIND, &plan.role.instance_profile, "arn").into()),
    ])
}

impl From<Value> for NamedOutput {
    fn from(value: Value) -> Self {
        match value {
            Value::Known(v) => NamedOutput::Known(v),
            Value::Unknown => NamedOutput::NotCreated,
        }
    }
}

/// What `validate` finds about the connector against the rest of the plan.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ConnectFindings {
    /// Facts worth showing (which topics the regex selects).
    pub notes: Vec<String>,
    /// Reasons the connector cannot work.
    pub problems: Vec<Problem>,
}

/// A reason the connector cannot work, and what to do about it when pinfra knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub hint: Option<String>,
}

impl From<String> for Problem {
    fn from(message: String) -> Self {
        Self { message, hint: None }
    }
}

/// Cross-checks the connector against the plan, without AWS: the topics its regex selects, the
/// bucket it writes to, and the role pinfra gives it (trust for MSK Connect, and a policy that
/// grants every Kafka and S3 action the sink needs on those topics and that bucket).
pub fn connect_checks(plan: &Plan) -> ConnectFindings {
    let mut findings = ConnectFindings::default();
    if plan.role.manage_policies {
        // The Kafka client produces to and reads from every planned topic.
        let (cluster_arn, scope) = checked_scope(plan);
        let policy = iam_role::pipeline_policy(&cluster_arn, &plan.bucket.name, &scope, None);
        let topics: Vec<&str> = plan.topics.iter().map(|t| t.name.as_str()).collect();
        for missing in iam_role::missing_grants(&policy, &iam_role::client_needs(&cluster_arn, &topics)) {
            findings.problems.push(format!("the role `{}` would not grant the Kafka client {missing}", plan.role.name).into());
        }
    }
    let Some(connect) = &plan.connect else { return findings };
    let connector = &connect.connector;
    let pattern = connector.config.get("topics.regex").cloned().unwrap_or_default();
    let matched = crate::plan::connect::topics_matching(&pattern, plan.topics.iter().map(|t| t.name.as_str())).unwrap_or_default();
    findings.notes.push(format!("connector `{}` reads topics.regex `{pattern}`: matches {}", connector.name, matched.join(", ")));
    let bucket = connector.config.get("s3.bucket.name").cloned().unwrap_or_default();
    if bucket != plan.bucket.name {
        findings.problems.push(Problem {
            message: format!(
                "the connector writes to bucket `{bucket}` (config `s3.bucket.name`), which is not the plan's bucket `{}`",
                plan.bucket.name
            ),
            hint: Some(format!(
                "set `[bucket] name = \"{bucket}\"` so that pinfra manages it (an existing bucket is adopted), or drop the override"
            )),
        });
    }
    if !plan.role.manage_policies {
        findings.notes.push(format!(
            "role `{}` keeps its own policies (`manage_policies = false`): pinfra does not check what they grant the connector",
            plan.role.name
        ));
        return findings;
    }
    let (cluster_arn, scope) = checked_scope(plan);
    let policy = iam_role::with_bucket_key(
        iam_role::pipeline_policy(&cluster_arn, &plan.bucket.name, &scope, Some(&connector.name)),
        bucket_key(plan).as_deref(),
    );
    let mut needs = iam_role::connector_needs(&cluster_arn, &bucket, &matched, &connector.name);
    if bucket == plan.bucket.name {
        needs.extend(iam_role::bucket_key_needs(bucket_key(plan).as_deref()));
    }
    for missing in iam_role::missing_grants(&policy, &needs) {
        findings.problems.push(format!("the role `{}` would not grant the connector {missing}", plan.role.name).into());
    }
    findings
}

/// The bucket's customer managed KMS key, with SSE-KMS.
fn bucket_key(plan: &Plan) -> Option<String> {
    match &plan.bucket.encryption {
        crate::plan::Encryption::SseKms(key) => key.clone(),
        crate::plan::Encryption::SseS3 => None,
    }
}

/// The cluster ARN and topic scope the policy checks work with.
fn checked_scope(plan: &Plan) -> (String, iam_role::TopicScope) {
    let cluster_arn = match &plan.msk.cluster {
        crate::plan::ClusterRef::Arn(arn) => arn.clone(),
        // The account and the cluster's id are known only to AWS; the check does not depend on them.
        crate::plan::ClusterRef::Name(name) => {
            format!("arn:aws:kafka:{}:000000000000:cluster/{name}/00000000-0000-0000-0000-000000000000-1", plan.environment.region)
        }
    };
    let scope = iam_role::TopicScope {
        prefix: plan.msk.topic_prefix.clone(),
        others: plan.topics.iter().filter(|t| !t.name.starts_with(&plan.msk.topic_prefix)).map(|t| t.name.clone()).collect(),
    };
    (cluster_arn, scope)
}

/// The names a plan gives to resources whose names must be unique, with where they must be
/// unique: `(kind, scope, name)`; the scope is the account for IAM and S3, else the region.
pub fn unique_names(plan: &Plan) -> Vec<(&'static str, String, String)> {
    let region = plan.environment.region.clone();
    let client = &plan.kafka_client;
    let mut names = vec![
        (iam_role::KIND, "account".to_owned(), plan.role.name.clone()),
        (iam_instance_profile::KIND, "account".to_owned(), plan.role.instance_profile.clone()),
        (s3_bucket::KIND, "account".to_owned(), plan.bucket.name.clone()),
        (ec2_security_group::KIND, region.clone(), client.security_group.clone()),
        (ec2_instance::KIND, region.clone(), client.instance_name.clone()),
    ];
    if client.ssh_public_key.is_some() {
        names.push((ec2_key_pair::KIND, region.clone(), client.ssh_key_name.clone()));
    }
    if let Some(connect) = &plan.connect {
        names.push((msk_connect_plugin::KIND, region.clone(), connect.plugin.name.clone()));
        names.push((msk_connector::KIND, region.clone(), connect.connector.name.clone()));
    }
    if let Some(api) = &plan.api {
        names.push((apigateway_rest_api::KIND, region.clone(), api.name.clone()));
    }
    // Topics share the cluster: the same topic name (or prefix) in two environments of one
    // cluster is one topic.
    let cluster = format!("{region}/{}", plan.msk.cluster.name());
    names.extend(plan.topics.iter().map(|t| (msk_topic::KIND, cluster.clone(), t.name.clone())));
    names.push(("topic_prefix", cluster, plan.msk.topic_prefix.clone()));
    names
}

/// Every resource name two of `plans` (environments of one plan) share, as a sentence each.
pub fn name_clashes(plans: &[Plan]) -> Vec<String> {
    let mut seen: BTreeMap<(&'static str, String, String), String> = BTreeMap::new();
    let mut clashes = Vec::new();
    for plan in plans {
        for key in unique_names(plan) {
            match seen.get(&key) {
                Some(other) if *other != plan.environment.name => clashes.push(format!(
                    "environments `{other}` and `{}` both name the {} `{}`",
                    plan.environment.name,
                    key.0.replace('_', " "),
                    key.2
                )),
                Some(_) => {}
                None => {
                    seen.insert(key, plan.environment.name.clone());
                }
            }
        }
    }
    clashes
}
