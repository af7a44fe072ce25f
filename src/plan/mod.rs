//! The plan: one TOML file that declares the whole pipeline of one environment.
//!
//! [`parse`] turns the file's text into a typed, fully interpolated [`Plan`], or into
//! diagnostics that point at the offending source. A plan with errors never reaches AWS.
//! The format is documented in `docs/plan.md`.

pub mod api;
pub mod connect;
mod interpolate;
mod reader;
pub mod rules;

use std::collections::BTreeMap;
use std::ops::Range;

use toml::de::{DeTable, DeValue};

use crate::diagnostics::{Diagnostic, Diagnostics};
pub use api::ApiSpec;
pub use connect::{ArtifactSource, Capacity, ConnectSpec, ConnectorSpec, LogDelivery, PluginSpec, SEED_SINK_CONFIG};
use interpolate::Variables;
use reader::{SpannedString, Table};
use rules::Invalid;

/// Everything one environment of the pipeline consists of, with every name resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Where and for whom the pipeline runs.
    pub environment: Environment,
    /// The MSK cluster the pipeline uses.
    pub msk: Msk,
    /// The IAM role shared by the EC2 client and the connector.
    pub role: RoleSpec,
    /// The bucket the sink connector writes to.
    pub bucket: BucketSpec,
    /// The pipeline's topics.
    pub topics: Vec<TopicSpec>,
    /// The software of the EC2 Kafka client and REST proxy.
    pub kafka_client: KafkaClientSpec,
    /// `[connect]`: the S3 sink as an MSK Connect plugin and connector; `None` without it.
    pub connect: Option<ConnectSpec>,
    /// `[api]`: the API Gateway REST API in front of the REST proxy; `None` without it.
    pub api: Option<ApiSpec>,
}

/// The `[kafka_client]` section: versions and download URLs of what the EC2 Kafka client runs.
/// Every value ends up in a shell script, so each is checked to hold no shell syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaClientSpec {
    /// Apache Kafka version of the CLI, such as `3.6.0`.
    pub kafka_version: String,
    /// Scala build of the Kafka tarball, such as `2.13`.
    pub scala_version: String,
    /// aws-msk-iam-auth version, such as `2.2.0`.
    pub msk_iam_auth_version: String,
    /// Confluent Platform version for the REST proxy, such as `7.6.1`.
    pub confluent_version: String,
    /// Port of the REST proxy.
    pub rest_proxy_port: u16,
    /// Where the Kafka tarball is downloaded from.
    pub kafka_url: String,
    /// Where the aws-msk-iam-auth jar is downloaded from.
    pub msk_iam_auth_url: String,
    /// Where the Confluent Platform tarball is downloaded from.
    pub confluent_url: String,
    /// Name of the client's security group; default `{user_id}-kafka-client`.
    pub security_group: String,
    /// The VPC of the security group and the instance; `None`: the cluster's VPC (it must be
    /// the cluster's: `diff` refuses another).
    pub vpc_id: Option<String>,
    /// The subnet the instance is launched into; `None`: the first subnet of the cluster's VPC
    /// routed to an internet gateway (`docs/network.md`).
    pub subnet_id: Option<String>,
    /// CIDR blocks that may reach the REST proxy port; default `0.0.0.0/0` (API Gateway calls
    /// it over the internet in the seed's design).
    pub proxy_sources: Vec<String>,
    /// CIDR blocks that may reach SSH (port 22); default none.
    pub ssh_sources: Vec<String>,
    /// The instance's `Name` tag, by which pinfra finds it; default `{user_id}-kafka-client`.
    pub instance_name: String,
    /// EC2 instance type; default `t3.micro`.
    pub instance_type: String,
    /// A pinned AMI; `None`: the latest Amazon Linux 2023 from the public SSM parameter.
    pub ami: Option<String>,
    /// Size of the root volume, in GiB; default 20.
    pub root_volume_gib: i32,
    /// Whether an existing instance's root volume must be encrypted; default true. False (to
    /// adopt an instance made without encryption, warning PF004) only stops requiring it: a new
    /// instance is always encrypted.
    pub root_volume_encrypted: bool,
    /// Whether an existing instance must require IMDSv2 tokens; default true. False (to adopt an
    /// instance that allows IMDSv1, warning PF005) only stops requiring it: a new instance always
    /// requires them, and a hardened one is never weakened.
    pub imdsv2: bool,
    /// Whether pinfra manages the instance's user-data; default true. False for an instance set
    /// up by other means (by hand over SSH, as in the seed): its user-data is not compared, so a
    /// different one never replaces it (a new instance still gets pinfra's).
    pub manage_user_data: bool,
    /// Security groups the instance has besides the plan's own, by id (made elsewhere: pinfra
    /// neither creates nor changes them, it only keeps them on the instance).
    pub extra_security_groups: Vec<String>,
    /// Whether `ssh_key_name` names a key pair that exists already (`ssh_key_name` given without
    /// `ssh_public_key`): the instance is launched with it and compared against it.
    pub ssh_key_existing: bool,
    /// An SSH public key to import as the instance's key pair; pinfra never creates or writes
    /// private keys.
    pub ssh_public_key: Option<String>,
    /// Name of that key pair; default `{user_id}-kafka-client`.
    pub ssh_key_name: String,
}

/// One `[[topics]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    /// Topic name, placeholders expanded.
    pub name: String,
    /// Partition count; can only grow.
    pub partitions: i32,
    /// Replication factor; cannot change in place.
    pub replication_factor: i32,
    /// Topic configs the plan manages; other keys are left to the cluster.
    pub configs: BTreeMap<String, String>,
    /// Whether a replication factor change may delete and re-create the topic (losing its data).
    pub allow_recreate: bool,
}

/// The topics of the seed, used when the plan has no `[[topics]]`.
pub const SEED_TOPICS: [&str; 3] = ["{user_id}.pin", "{user_id}.geo", "{user_id}.user"];

/// The `[environment]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    /// Environment name (`dev`, `staging`); the `pinfra:env` tag and `{env}`.
    pub name: String,
    /// Which pipeline this is; the `pinfra:plan` tag.
    pub project: String,
    /// AWS region of every resource.
    pub region: String,
    /// The user id the seed's names derive from; `{user_id}`.
    pub user_id: String,
    /// Tags added to every taggable resource.
    pub tags: BTreeMap<String, String>,
}

/// The `[msk]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msk {
    /// The existing cluster, by name or ARN.
    pub cluster: ClusterRef,
    /// Topics on the cluster with this prefix belong to the plan: those not in it are reported,
    /// and deleted by `destroy` or `--prune`. Default `{user_id}.`.
    pub topic_prefix: String,
    /// `[msk.create]`: pinfra creates and manages the cluster; `None`: it exists already and is
    /// only read.
    pub create: Option<ClusterSpec>,
}

/// A Provisioned cluster pinfra creates (`[msk.create]`): IAM authentication and TLS in transit
/// always.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSpec {
    /// Kafka version, 3.6 or later (the topic API needs it).
    pub kafka_version: String,
    /// Number of brokers; a multiple of the number of subnets.
    pub broker_count: i32,
    /// Broker instance type, such as `kafka.m5.large`.
    pub instance_type: String,
    /// EBS storage per broker, in GiB.
    pub storage_gib: i32,
    /// Client subnets; empty: the default VPC's default subnets.
    pub subnets: Vec<String>,
    /// Security groups; empty: the VPC's default security group.
    pub security_groups: Vec<String>,
    /// A custom MSK configuration and its revision.
    pub configuration: Option<(String, i64)>,
}

/// How the plan names its MSK cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterRef {
    /// By cluster name, looked up in the plan's region.
    Name(String),
    /// By full ARN.
    Arn(String),
}

impl ClusterRef {
    /// The cluster's name, whichever way it was given.
    pub fn name(&self) -> &str {
        match self {
            ClusterRef::Name(name) => name,
            // Validated at parse time: `...:cluster/<name>/<uuid>`.
            ClusterRef::Arn(arn) => arn.rsplit('/').nth(1).unwrap_or(arn),
        }
    }
}

/// The `[role]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSpec {
    /// Role name; default `{user_id}-ec2-access-role` as in the seed.
    pub name: String,
    /// Instance profile name; default: the role's name, as the console does.
    pub instance_profile: String,
    /// Whether pinfra manages the role's trust policy and its inline policy; default true.
    /// False for an adopted role whose policies were made by hand: only its tags are managed.
    pub manage_policies: bool,
}

/// The `[bucket]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketSpec {
    /// Bucket name; default `user-{user_id}-bucket` as in the seed.
    pub name: String,
    /// Whether object versioning is on.
    pub versioning: bool,
    /// Default encryption of new objects.
    pub encryption: Encryption,
    /// Whether `destroy` may delete a bucket that still holds objects.
    pub force_destroy: bool,
}

/// Default bucket encryption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encryption {
    /// SSE-S3 (`AES256`).
    SseS3,
    /// SSE-KMS with the given key, or the AWS managed key when `None`.
    SseKms(Option<String>),
}

/// The result of reading a plan: the plan if it has no errors, and every finding.
#[derive(Debug)]
pub struct Parsed {
    /// `Some` unless a diagnostic is an error.
    pub plan: Option<Plan>,
    /// Errors and warnings, all of them.
    pub diagnostics: Diagnostics,
}

/// Reads a plan from its text, for its base environment. Never panics, whatever the input.
pub fn parse(text: &str) -> Parsed {
    parse_env(text, None)
}

/// The environments a plan declares: its base (`[environment] name`) first, then every
/// `[environments.<name>]`, in file order. Empty when the text is not a readable plan.
pub fn environments(text: &str) -> Vec<String> {
    let (document, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        return Vec::new();
    }
    let root = document.get_ref();
    let mut names: Vec<String> = base_environment(text).into_iter().collect();
    if let Some(DeValue::Table(envs)) = root.get("environments").map(toml::Spanned::get_ref) {
        names.extend(envs.iter().map(|(k, _)| k.get_ref().to_string()).filter(|n| !names.contains(n)).collect::<Vec<_>>());
    }
    names
}

/// The base environment's name (`[environment] name`), if the text gives one.
pub fn base_environment(text: &str) -> Option<String> {
    let (document, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        return None;
    }
    match document.get_ref().get("environment").map(toml::Spanned::get_ref) {
        Some(DeValue::Table(t)) => match t.get("name").map(toml::Spanned::get_ref) {
            Some(DeValue::String(name)) => Some(name.to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// Deep-merges `overlay` into `base`: tables key by key, anything else replaced.
fn merge<'i>(base: &mut DeTable<'i>, overlay: &DeTable<'i>) {
    for (key, value) in overlay.iter() {
        let merged = match (base.get_mut(key.get_ref().as_ref()), value.get_ref()) {
            (Some(existing), DeValue::Table(over)) => match existing.get_mut() {
                DeValue::Table(inner) => {
                    merge(inner, over);
                    true
                }
                _ => false,
            },
            _ => false,
        };
        if !merged {
            base.insert(key.clone(), value.clone());
        }
    }
}

/// Reads a plan for environment `env` (`None`: the base environment). `[environments.<env>]`
/// holds partial sections (`[environments.staging.environment]`, `[environments.staging.kafka_client]`,
/// ...) merged over the base ones; the environment's name is its key.
pub fn parse_env(text: &str, env: Option<&str>) -> Parsed {
    let mut d = Diagnostics::default();
    let (document, syntax_errors) = DeTable::parse_recoverable(text);
    for error in &syntax_errors {
        d.push(
            Diagnostic::error(format!("TOML syntax error: {}", error.message().trim()), error.span())
                .with_label("here")
                .with_hint("see docs/plan.md for the plan format"),
        );
    }
    if !syntax_errors.is_empty() {
        return Parsed { plan: None, diagnostics: d };
    }
    let mut root = document.into_inner();
    let overlays = match root.remove("environments").map(toml::Spanned::into_inner) {
        None => None,
        Some(DeValue::Table(envs)) => Some(envs),
        Some(_) => {
            d.push(
                Diagnostic::error("`environments` must be a table of environments", None)
                    .with_hint("write `[environments.staging.environment]` with what differs from the base plan"),
            );
            return Parsed { plan: None, diagnostics: d };
        }
    };
    let base_name = environments(text).into_iter().next();
    if let Some((key, _)) = overlays.as_ref().and_then(|o| o.iter().find(|(k, _)| Some(k.get_ref().as_ref()) == base_name.as_deref())) {
        let base = key.get_ref();
        d.push(
            Diagnostic::error(
                format!("`[environments.{base}]` names the base environment `{base}`, so it would never be read"),
                Some(key.span()),
            )
            .with_label("the base environment's name")
            .with_hint(format!(
                "the base environment `{base}` is the top-level sections: put these settings there, or give this environment another name"
            )),
        );
        return Parsed { plan: None, diagnostics: d };
    }
    if let Some(wanted) = env.filter(|e| Some(*e) != base_name.as_deref()) {
        let Some((key, overlay)) = overlays.as_ref().and_then(|o| o.iter().find(|(k, _)| k.get_ref().as_ref() == wanted)) else {
            let known = environments(text);
            d.push(
                Diagnostic::error(format!("the plan has no environment `{wanted}`"), None)
                    .with_hint(format!("its environments: {}; add `[environments.{wanted}.environment]` to declare it", known.join(", "))),
            );
            return Parsed { plan: None, diagnostics: d };
        };
        match overlay.get_ref() {
            DeValue::Table(over) => {
                for (section, value) in over.iter() {
                    if !matches!(value.get_ref(), DeValue::Table(_) | DeValue::Array(_)) {
                        d.push(
                            Diagnostic::error(
                                format!("`environments.{wanted}.{}` must be a section", section.get_ref()),
                                Some(section.span()),
                            )
                            .with_label("not a section")
                            .with_hint(format!("put environment keys under `[environments.{wanted}.environment]`")),
                        );
                    }
                }
                merge(&mut root, over);
                // The environment's name is its key.
                let name = DeValue::String(std::borrow::Cow::Owned(wanted.to_owned()));
                if let Some(DeValue::Table(environment)) = root.get_mut("environment").map(toml::Spanned::get_mut) {
                    environment
                        .insert(toml::Spanned::new(key.span(), std::borrow::Cow::Borrowed("name")), toml::Spanned::new(key.span(), name));
                }
            }
            _ => {
                d.push(
                    Diagnostic::error(format!("`environments.{wanted}` must be a table"), Some(key.span()))
                        .with_label("not a table")
                        .with_hint(format!("write `[environments.{wanted}.environment]` with what differs")),
                );
                return Parsed { plan: None, diagnostics: d };
            }
        }
    }
    let plan = read(&mut d, &root);
    find_secrets(&mut d, text);
    let plan = if d.has_errors() { None } else { plan };
    Parsed { plan, diagnostics: d }
}

/// PF003: AWS access keys have no place in a plan (it is shared and committed); the connector
/// and the Kafka client authenticate with the plan's IAM role.
fn find_secrets(d: &mut Diagnostics, text: &str) {
    static KEY_ID: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b").ok());
    static SECRET_KEY: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"(?i)["']?[a-z0-9_.\-]*(?:secret[_.\-]?access[_.\-]?key|aws[_.\-]secret)[a-z0-9_.\-]*["']?\s*="#).ok()
    });
    let hint = "remove it and rotate it: the connector and the Kafka client use the plan's IAM role; credentials for pinfra itself come from AWS_PROFILE or the environment";
    // The snippet shows the line with the key masked (`diagnostics::SourceFile` masks every
    // secret-looking value, whichever diagnostic prints it).
    for found in KEY_ID.iter().flat_map(|r| r.find_iter(text)) {
        d.push(
            Diagnostic::error("an AWS access key id is written in the plan", Some(found.range()))
                .with_label("an access key id")
                .with_code("PF003")
                .with_hint(hint),
        );
    }
    for found in SECRET_KEY.iter().flat_map(|r| r.find_iter(text)) {
        let key = found.as_str().trim_end_matches('=').trim_end();
        d.push(
            Diagnostic::error("an AWS secret access key is set in the plan", Some(found.start()..found.start() + key.len()))
                .with_label("a secret access key")
                .with_code("PF003")
                .with_hint(hint),
        );
    }
}

fn report(d: &mut Diagnostics, span: Range<usize>, label: &str, invalid: Invalid) {
    let mut diagnostic = Diagnostic::error(invalid.reason, Some(span)).with_label(label);
    if let Some(hint) = invalid.hint {
        diagnostic = diagnostic.with_hint(hint);
    }
    d.push(diagnostic);
}

/// Runs a rule on a value and reports a failure at the value's span.
fn check(d: &mut Diagnostics, value: &SpannedString, label: &str, rule: impl FnOnce(&str) -> Result<(), Invalid>) -> bool {
    match rule(value.get_ref()) {
        Ok(()) => true,
        Err(invalid) => {
            report(d, value.span(), label, invalid);
            false
        }
    }
}

fn read(d: &mut Diagnostics, document: &DeTable<'_>) -> Option<Plan> {
    let mut root = Table::root(document);
    let environment = read_environment(d, &mut root);
    let msk_table = root.table(d, "msk");
    let role_table = root.table(d, "role");
    let bucket_table = root.table(d, "bucket");
    let topic_tables = root.array_of_tables(d, "topics");
    let client_table = root.table(d, "kafka_client");
    let connect_table = root.table(d, "connect");
    let api_table = root.table(d, "api");
    root.finish(d);

    // Without a valid environment the names cannot be expanded, but the rest of each section is
    // still checked, so that one run reports every error.
    let vars = environment.as_ref().map(|e| Variables {
        pairs: vec![
            ("user_id", e.user_id.as_str()),
            ("env", e.name.as_str()),
            ("region", e.region.as_str()),
            ("project", e.project.as_str()),
        ],
    });
    let msk = match msk_table {
        Some(table) => read_msk(d, table, environment.as_ref(), vars.as_ref()),
        None => {
            d.push(
                Diagnostic::error("missing required section `[msk]`", Some(0..0))
                    .with_label("the plan needs an MSK cluster")
                    .with_hint("add `[msk]` with `cluster = \"<cluster name or ARN>\"`"),
            );
            None
        }
    };
    let role = read_role(d, role_table, vars.as_ref());
    let bucket = read_bucket(d, bucket_table, vars.as_ref());
    let topics = read_topics(d, topic_tables, vars.as_ref());
    let kafka_client = read_kafka_client(d, client_table, vars.as_ref());
    let connect = connect_table.map(|t| {
        let cx = connect::Context {
            vars: vars.as_ref(),
            topic_prefix: msk.as_ref().map(|m| m.topic_prefix.as_str()),
            bucket: bucket.as_ref().map(|b| b.name.as_str()),
            region: environment.as_ref().map(|e| e.region.as_str()),
        };
        connect::read_connect(d, t, &cx)
    });
    let connect = match connect {
        Some(spec) => Some(spec?),
        None => None,
    };
    let api = match api_table.map(|t| api::read_api(d, t, vars.as_ref())) {
        Some(spec) => Some(spec?),
        None => None,
    };
    if let (Some(connect), Some(topics), Some(msk)) = (&connect, &topics, &msk) {
        check_topics_regex(d, &connect.connector, topics, &msk.topic_prefix);
    }
    Some(Plan {
        msk: msk?,
        role: role?,
        bucket: bucket?,
        topics: topics?,
        kafka_client: kafka_client?,
        environment: environment?,
        connect,
        api,
    })
}

/// The connector must read at least one of the plan's topics: a regex that matches none is a
/// sink that silently moves nothing.
fn check_topics_regex(d: &mut Diagnostics, connector: &ConnectorSpec, topics: &[TopicSpec], prefix: &str) {
    let Some(pattern) = connector.config.get("topics.regex") else { return };
    let span = connector.topics_regex_span.clone().unwrap_or(0..0);
    // The role grants `<prefix>*` and the planned topics outside it by name: a regex that can
    // match more reads topics the grant does not cover (or, on a role made by hand, would).
    let others: Vec<&str> = topics.iter().map(|t| t.name.as_str()).filter(|t| !t.starts_with(prefix)).collect();
    if let Some(why) = connect::escapes_prefix(pattern, prefix, &others) {
        d.push(
            Diagnostic::warning(
                format!("the connector's topics regex `{pattern}` is wider than the plan's topics: {why}"),
                Some(span.clone()),
            )
            .with_code("PF006")
            .with_label("wider than the topic prefix")
            .with_hint(format!(
                "start it with the escaped prefix, such as `{}.*`; the role grants only `{prefix}*`",
                regex::escape(prefix)
            )),
        );
    }
    match connect::topics_matching(pattern, topics.iter().map(|t| t.name.as_str())) {
        Err(reason) => d.push(
            Diagnostic::error(format!("`{pattern}` is not a valid topics regex: {reason}"), Some(span))
                .with_label("topics regex")
                .with_hint("Kafka Connect takes a Java regular expression that must match whole topic names, such as `{user_id}\\..*`"),
        ),
        Ok(matched) if matched.is_empty() => d.push(
            Diagnostic::error(format!("the connector's topics regex `{pattern}` matches none of the plan's topics"), Some(span))
                .with_label("matches nothing")
                .with_hint(format!(
                    "the plan's topics are {}; the regex must match a whole name",
                    topics.iter().map(|t| format!("`{}`", t.name)).collect::<Vec<_>>().join(", ")
                )),
        ),
        Ok(_) => {}
    }
}

fn read_environment(d: &mut Diagnostics, root: &mut Table<'_, '_>) -> Option<Environment> {
    let Some(mut table) = root.table(d, "environment") else {
        d.push(
            Diagnostic::error("missing required section `[environment]`", Some(0..0))
                .with_label("the plan needs an environment")
                .with_hint("add `[environment]` with `name`, `region` and `user_id`"),
        );
        return None;
    };
    let name = table.required_string(d, "name", "\"dev\"");
    let project = table.string(d, "project");
    let region = table.required_string(d, "region", "\"us-east-1\"");
    let user_id = table.required_string(d, "user_id", "\"0a1b2c3d4e5f\"");
    let tag_entries = table.string_map(d, "tags");
    table.finish(d);

    let name_ok = name.as_ref().is_some_and(|n| check(d, n, "environment name", |v| rules::identifier("environment name", v, 20)));
    let project_ok = project.as_ref().is_none_or(|p| check(d, p, "project name", |v| rules::identifier("project", v, 32)));
    let region_ok = region.as_ref().is_some_and(|r| check(d, r, "region", rules::region));
    let user_ok = user_id.as_ref().is_some_and(|u| check(d, u, "user id", |v| rules::identifier("user_id", v, 32)));
    let mut tags = BTreeMap::new();
    for (key, (key_span, value)) in tag_entries {
        if let Err(invalid) = rules::tag(&key, value.get_ref()) {
            report(d, key_span.span(), "tag", invalid);
        }
        tags.insert(key, value.into_inner());
    }
    if !(name_ok && project_ok && region_ok && user_ok) {
        return None;
    }
    Some(Environment {
        name: name?.into_inner(),
        project: project.map_or_else(|| "pipeline".to_owned(), |p| p.into_inner()),
        region: region?.into_inner(),
        user_id: user_id?.into_inner(),
        tags,
    })
}

fn read_msk(d: &mut Diagnostics, mut table: Table<'_, '_>, environment: Option<&Environment>, vars: Option<&Variables<'_>>) -> Option<Msk> {
    let cluster = table.required_string(d, "cluster", "\"pinterest-msk-cluster\"");
    let prefix = table.string(d, "topic_prefix");
    let create_table = table.table(d, "create");
    table.finish(d);
    // An empty prefix would make every topic on the cluster the plan's, for `--prune` and
    // `destroy` to delete: refused.
    let topic_prefix = name(d, prefix, "{user_id}.", vars, "topic prefix", rules::topic_prefix);
    let create = create_table.map(|t| read_cluster_spec(d, t));
    let cluster = cluster?;
    if create.is_some() && cluster.get_ref().starts_with("arn:") {
        d.push(
            Diagnostic::error("a cluster pinfra creates is named, not given by ARN", Some(cluster.span()))
                .with_label("an ARN")
                .with_hint("give the new cluster's name here; its ARN is known once it exists"),
        );
        return None;
    }
    let cluster = read_cluster(d, cluster, environment);
    let create = match create {
        Some(spec) => Some(spec?),
        None => None,
    };
    Some(Msk { cluster: cluster?, topic_prefix: topic_prefix?, create })
}

fn read_cluster_spec(d: &mut Diagnostics, mut t: Table<'_, '_>) -> Option<ClusterSpec> {
    let version = t.string(d, "kafka_version");
    let broker_count = t.integer(d, "broker_count", 1..=30);
    let instance_type = t.string(d, "instance_type");
    let storage = t.integer(d, "storage_gib", 1..=16_384);
    let subnets = t.string_list(d, "subnets");
    let security_groups = t.string_list(d, "security_groups");
    let configuration_arn = t.string(d, "configuration_arn");
    let configuration_revision = t.integer(d, "configuration_revision", 1..=i64::MAX);
    t.finish(d);
    let mut ok = true;
    let kafka_version = version.as_ref().map_or_else(|| "3.6.0".to_owned(), |v| v.get_ref().clone());
    if let Some(v) = &version
        && !rules::kafka_version_at_least_3_6(v.get_ref())
    {
        d.push(
            Diagnostic::error(format!("Kafka {} is too old for the MSK topic API", v.get_ref()), Some(v.span()))
                .with_label("needs 3.6.0 or later")
                .with_hint("use `kafka_version = \"3.6.0\"` or later"),
        );
        ok = false;
    }
    if let Some(i) = &instance_type
        && !i.get_ref().starts_with("kafka.")
    {
        d.push(
            Diagnostic::error(format!("`{}` is not an MSK broker type", i.get_ref()), Some(i.span()))
                .with_label("broker type")
                .with_hint("MSK broker types start with `kafka.`, such as `kafka.m5.large` or `kafka.t3.small`"),
        );
        ok = false;
    }
    let instance_type = instance_type.map_or_else(|| "kafka.m5.large".to_owned(), toml::Spanned::into_inner);
    for (list, prefix) in [(&subnets, "subnet"), (&security_groups, "sg")] {
        for item in list {
            ok &= check(d, item, &format!("{prefix} id"), |v| rules::ec2_id(v, prefix));
        }
    }
    let broker_count_value = broker_count.as_ref().map_or(3, |b| *b.get_ref());
    if !subnets.is_empty() && broker_count_value % i64::try_from(subnets.len()).unwrap_or(1) != 0 {
        d.push(
            Diagnostic::error(
                format!("{broker_count_value} brokers cannot be spread evenly over {} subnets", subnets.len()),
                broker_count.as_ref().map(toml::Spanned::span).or_else(|| subnets.first().map(toml::Spanned::span)),
            )
            .with_label("broker count")
            .with_hint("MSK needs the broker count to be a multiple of the number of client subnets"),
        );
        ok = false;
    }
    let mut distinct: Vec<&String> = subnets.iter().map(toml::Spanned::get_ref).collect();
    distinct.sort();
    distinct.dedup();
    if distinct.len() != subnets.len() {
        d.push(
            Diagnostic::error("a subnet is listed twice", subnets.first().map(toml::Spanned::span))
                .with_label("subnets")
                .with_hint("list each subnet once"),
        );
        ok = false;
    }
    if subnets.len() > 3 {
        d.push(
            Diagnostic::error(
                format!("MSK takes two or three client subnets, not {}", subnets.len()),
                subnets.get(3).map(toml::Spanned::span),
            )
            .with_label("too many")
            .with_hint("list two or three subnets in different availability zones"),
        );
        ok = false;
    }
    if subnets.len() == 1 {
        d.push(
            Diagnostic::error("MSK needs at least two client subnets", subnets.first().map(toml::Spanned::span))
                .with_label("one subnet")
                .with_hint("list two or three subnets in different availability zones"),
        );
        ok = false;
    }
    let configuration = match (configuration_arn, configuration_revision) {
        (Some(arn), Some(revision)) => match rules::arn(arn.get_ref(), "kafka") {
            Ok(_) => Some((arn.into_inner(), *revision.get_ref())),
            Err(invalid) => {
                report(d, arn.span(), "configuration ARN", invalid);
                ok = false;
                None
            }
        },
        (None, None) => None,
        (Some(arn), None) => {
            d.push(
                Diagnostic::error("`configuration_arn` needs `configuration_revision`", Some(arn.span()))
                    .with_label("no revision")
                    .with_hint("add `configuration_revision = 1`"),
            );
            ok = false;
            None
        }
        (None, Some(revision)) => {
            d.push(
                Diagnostic::error("`configuration_revision` needs `configuration_arn`", Some(revision.span()))
                    .with_label("no configuration")
                    .with_hint("add the configuration's ARN"),
            );
            ok = false;
            None
        }
    };
    ok.then(|| ClusterSpec {
        kafka_version,
        broker_count: i32::try_from(broker_count_value).unwrap_or(3),
        instance_type,
        storage_gib: storage.map_or(100, |s| i32::try_from(*s.get_ref()).unwrap_or(100)),
        subnets: subnets.into_iter().map(toml::Spanned::into_inner).collect(),
        security_groups: security_groups.into_iter().map(toml::Spanned::into_inner).collect(),
        configuration,
    })
}

fn read_cluster(d: &mut Diagnostics, cluster: SpannedString, environment: Option<&Environment>) -> Option<ClusterRef> {
    let value = cluster.get_ref();
    if value.starts_with("arn:") {
        match rules::cluster_arn(value) {
            Ok(arn) => {
                if let Some(env) = environment
                    && arn.region != env.region
                {
                    d.push(
                        Diagnostic::error(format!("the cluster is in {} but the environment is in {}", arn.region, env.region), Some(cluster.span()))
                            .with_label("cluster region")
                            .with_hint("MSK Connect and the topic API need the cluster in the environment's region; fix `[environment] region` or the ARN"),
                    );
                    return None;
                }
                Some(ClusterRef::Arn(value.clone()))
            }
            Err(invalid) => {
                report(d, cluster.span(), "cluster ARN", invalid);
                None
            }
        }
    } else if check(d, &cluster, "cluster name", rules::cluster_name) {
        Some(ClusterRef::Name(value.clone()))
    } else {
        None
    }
}

/// Expands a name template (or the default) and checks it with `rule`.
fn name(
    d: &mut Diagnostics,
    given: Option<SpannedString>,
    default: &str,
    vars: Option<&Variables<'_>>,
    label: &str,
    rule: impl FnOnce(&str) -> Result<(), Invalid>,
) -> Option<String> {
    let vars = vars?;
    let (template, span) = match &given {
        Some(s) => (s.get_ref().as_str(), s.span()),
        None => (default, 0..0),
    };
    let expanded = match vars.expand(template) {
        Ok(expanded) => expanded,
        Err(invalid) => {
            report(d, span, label, invalid);
            return None;
        }
    };
    match rule(&expanded) {
        Ok(()) => Some(expanded),
        Err(mut invalid) => {
            // The expansion is worth showing for a name of sensible length; a long one is in the
            // snippet already, and a diagnostic echoes a value once.
            if template != expanded && template.chars().count() <= 60 {
                invalid.reason = format!("{} (`{template}` expands to `{expanded}`)", invalid.reason);
            }
            let label = if given.is_some() { label.to_owned() } else { format!("default {label} `{template}`") };
            report(d, span, &label, invalid);
            None
        }
    }
}

fn read_role(d: &mut Diagnostics, table: Option<Table<'_, '_>>, vars: Option<&Variables<'_>>) -> Option<RoleSpec> {
    let (role_name, profile, manage_policies) = match table {
        Some(mut t) => {
            let fields = (t.string(d, "name"), t.string(d, "instance_profile"), t.bool(d, "manage_policies"));
            t.finish(d);
            fields
        }
        None => (None, None, None),
    };
    // Both names are checked before either failure ends the section: every error is reported.
    let role_name = name(d, role_name, "{user_id}-ec2-access-role", vars, "role name", |n| rules::iam_name(n, 64));
    let instance_profile = match profile {
        Some(p) => name(d, Some(p), "", vars, "instance profile name", |n| rules::iam_name(n, 128)),
        None => role_name.clone(),
    };
    Some(RoleSpec {
        name: role_name?,
        instance_profile: instance_profile?,
        manage_policies: manage_policies.is_none_or(toml::Spanned::into_inner),
    })
}

fn read_bucket(d: &mut Diagnostics, table: Option<Table<'_, '_>>, vars: Option<&Variables<'_>>) -> Option<BucketSpec> {
    let Some(mut t) = table else {
        let bucket_name = name(d, None, "user-{user_id}-bucket", vars, "bucket name", rules::bucket_name)?;
        return Some(BucketSpec { name: bucket_name, versioning: false, encryption: Encryption::SseS3, force_destroy: false });
    };
    let given_name = t.string(d, "name");
    let versioning = t.bool(d, "versioning");
    let encryption = t.string(d, "encryption");
    let kms_key = t.string(d, "kms_key_arn");
    let force_destroy = t.bool(d, "force_destroy");
    t.finish(d);

    let bucket_name = name(d, given_name, "user-{user_id}-bucket", vars, "bucket name", rules::bucket_name);
    let encryption = match encryption.as_ref().map(|e| e.get_ref().as_str()) {
        None | Some("sse-s3") => {
            if let Some(key) = &kms_key {
                d.push(
                    Diagnostic::error("`kms_key_arn` is set but encryption is not `sse-kms`", Some(key.span()))
                        .with_label("unused key")
                        .with_hint("add `encryption = \"sse-kms\"` or remove `kms_key_arn`"),
                );
            }
            Some(Encryption::SseS3)
        }
        Some("sse-kms") => match kms_key {
            Some(key) => match rules::arn(key.get_ref(), "kms") {
                Ok(_) => Some(Encryption::SseKms(Some(key.into_inner()))),
                Err(invalid) => {
                    report(d, key.span(), "KMS key ARN", invalid);
                    None
                }
            },
            None => Some(Encryption::SseKms(None)),
        },
        Some(other) => {
            let mut diagnostic = Diagnostic::error(format!("unknown encryption `{other}`"), encryption.as_ref().map(toml::Spanned::span))
                .with_label("expected `sse-s3` or `sse-kms`");
            diagnostic = match crate::diagnostics::closest(other, ["sse-s3", "sse-kms"]) {
                Some(s) => diagnostic.with_hint(format!("did you mean `{s}`?")),
                None => diagnostic.with_hint("use `sse-s3` (S3-managed keys) or `sse-kms` (KMS)"),
            };
            d.push(diagnostic);
            None
        }
    };
    Some(BucketSpec {
        name: bucket_name?,
        versioning: versioning.is_some_and(|v| *v.get_ref()),
        encryption: encryption?,
        force_destroy: force_destroy.is_some_and(|v| *v.get_ref()),
    })
}

fn read_topics(d: &mut Diagnostics, tables: Option<Vec<Table<'_, '_>>>, vars: Option<&Variables<'_>>) -> Option<Vec<TopicSpec>> {
    let Some(tables) = tables else {
        // No `[[topics]]` at all: the seed's three topics.
        let vars = vars?;
        return SEED_TOPICS
            .iter()
            .map(|t| {
                let name = vars.expand(t).ok()?;
                Some(TopicSpec { name, partitions: 3, replication_factor: 3, configs: BTreeMap::new(), allow_recreate: false })
            })
            .collect();
    };
    let mut topics = Vec::new();
    // Kafka treats `.` and `_` alike when it checks a new topic's name against the others
    // (`Topic.hasCollision`): by that form, the first name declared.
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut ok = true;
    for mut t in tables {
        let given = t.required_string(d, "name", "\"{user_id}.pin\"");
        let partitions = t.integer(d, "partitions", 1..=200_000);
        let replication_factor = t.integer(d, "replication_factor", 1..=32);
        let configs = t.scalar_map(d, "configs");
        let allow_recreate = t.bool(d, "allow_recreate");
        t.finish(d);
        let span = given.as_ref().map(toml::Spanned::span);
        let Some(topic_name) = given.and_then(|g| name(d, Some(g), "", vars, "topic name", rules::topic_name)) else {
            ok = false;
            continue;
        };
        let span = span.unwrap_or(0..0);
        match seen.get(&topic_name.replace('.', "_")) {
            Some(first) if *first == topic_name => {
                d.push(
                    Diagnostic::error(format!("topic `{topic_name}` is declared twice"), Some(span))
                        .with_label("second declaration")
                        .with_hint("remove one of the two `[[topics]]` entries (names are compared after placeholders are expanded)"),
                );
                ok = false;
                continue;
            }
            Some(first) => {
                d.push(
                    Diagnostic::error(format!("topic `{topic_name}` collides with topic `{first}`: they differ only by `.` and `_`"), Some(span))
                        .with_label("collides with an earlier topic")
                        .with_hint("Kafka refuses a topic whose name differs from another's only by `.` versus `_` (they share metric names); rename one of them"),
                );
                ok = false;
                continue;
            }
            None => {}
        }
        seen.insert(topic_name.replace('.', "_"), topic_name.clone());
        topics.push(TopicSpec {
            name: topic_name,
            partitions: partitions.map_or(3, |p| i32::try_from(*p.get_ref()).unwrap_or(i32::MAX)),
            replication_factor: replication_factor.map_or(3, |r| i32::try_from(*r.get_ref()).unwrap_or(i32::MAX)),
            configs: configs.into_iter().map(|(k, (_, v))| (k, v.into_inner())).collect(),
            allow_recreate: allow_recreate.is_some_and(|a| *a.get_ref()),
        });
    }
    ok.then_some(topics)
}

fn read_kafka_client(d: &mut Diagnostics, table: Option<Table<'_, '_>>, vars: Option<&Variables<'_>>) -> Option<KafkaClientSpec> {
    let mut values: BTreeMap<&'static str, Option<SpannedString>> = BTreeMap::new();
    let mut port = None;
    let (mut group, mut vpc, mut subnet, mut ssh_sources) = (None, None, None, Vec::new());
    let (mut instance_name, mut instance_type, mut ami, mut root_volume) = (None, None, None, None);
    let (mut ssh_public_key, mut ssh_key_name) = (None, None);
    let (mut encrypted, mut imdsv2, mut manage_user_data) = (None, None, None);
    let mut extra_groups = Vec::new();
    let mut proxy_sources: Option<Vec<SpannedString>> = None;
    if let Some(mut t) = table {
        for key in [
            "kafka_version",
            "scala_version",
            "msk_iam_auth_version",
            "confluent_version",
            "kafka_url",
            "msk_iam_auth_url",
            "confluent_url",
        ] {
            values.insert(key, t.string(d, key));
        }
        port = t.integer(d, "rest_proxy_port", 1..=65_535);
        group = t.string(d, "security_group");
        vpc = t.string(d, "vpc_id");
        subnet = t.string(d, "subnet_id");
        let present = t.has("proxy_sources");
        let list = t.string_list(d, "proxy_sources");
        proxy_sources = present.then_some(list);
        ssh_sources = t.string_list(d, "ssh_sources");
        instance_name = t.string(d, "instance_name");
        instance_type = t.string(d, "instance_type");
        ami = t.string(d, "ami");
        root_volume = t.integer(d, "root_volume_gib", 8..=16_384);
        ssh_public_key = t.string(d, "ssh_public_key");
        ssh_key_name = t.string(d, "ssh_key_name");
        encrypted = t.bool(d, "root_volume_encrypted");
        imdsv2 = t.bool(d, "imdsv2");
        manage_user_data = t.bool(d, "manage_user_data");
        extra_groups = t.string_list(d, "extra_security_groups");
        t.finish(d);
    }
    if let Some(flag) = encrypted.as_ref().filter(|f| !*f.get_ref()) {
        d.push(
            Diagnostic::warning("pinfra does not require the Kafka client's root volume to be encrypted", Some(flag.span()))
                .with_code("PF004")
                .with_label("unencrypted allowed")
                .with_hint("drop it once the instance can be replaced (pinfra launches every new instance encrypted)"),
        );
    }
    if let Some(flag) = imdsv2.as_ref().filter(|f| !*f.get_ref()) {
        d.push(
            Diagnostic::warning("pinfra does not require the Kafka client to use IMDSv2 (IMDSv1 is allowed)", Some(flag.span()))
                .with_code("PF005")
                .with_label("IMDSv1 allowed")
                .with_hint("drop it: IMDSv2 blocks the SSRF-style credential theft IMDSv1 allows, and it changes in place"),
        );
    }
    let ssh_key_existing = ssh_public_key.is_none() && ssh_key_name.is_some();
    // Every bad id is reported, not just the first.
    let checked: Vec<bool> = extra_groups.iter().map(|g| check(d, g, "security group id", |id| rules::ec2_id(id, "sg"))).collect();
    let extra_groups_ok = checked.iter().all(|ok| *ok);
    let key_ok = ssh_public_key.as_ref().is_none_or(|k| check(d, k, "SSH public key", rules::ssh_public_key));
    let ssh_key_name = name(d, ssh_key_name, "{user_id}-kafka-client", vars, "key pair name", |n| {
        if n.is_empty() || n.len() > 255 || !n.is_ascii() {
            Err(Invalid { reason: format!("`{n}` is not a valid key pair name"), hint: Some("1-255 ASCII characters".into()) })
        } else {
            rules::printable("the key pair name", n)
        }
    });
    // The instance's `Name` tag: a tag value.
    let instance_name = name(d, instance_name, "{user_id}-kafka-client", vars, "instance name", |n| {
        if n.is_empty() || n.chars().count() > 255 {
            Err(Invalid { reason: "instance names are 1-255 characters".into(), hint: None })
        } else {
            rules::tag_value("the instance name (its `Name` tag)", n)
        }
    });
    let type_ok = instance_type.as_ref().is_none_or(|t| check(d, t, "instance type", rules::instance_type));
    let ami_ok = ami.as_ref().is_none_or(|a| check(d, a, "AMI id", |id| rules::ec2_id(id, "ami")));
    let security_group = name(d, group, "{user_id}-kafka-client", vars, "security group name", rules::security_group_name);
    let vpc_ok = vpc.as_ref().is_none_or(|v| check(d, v, "VPC id", |id| rules::ec2_id(id, "vpc")))
        & subnet.as_ref().is_none_or(|s| check(d, s, "subnet id", |id| rules::ec2_id(id, "subnet")));
    let port_value = port.as_ref().map_or(8082, |p| *p.get_ref());
    let mut cidrs_ok = true;
    let mut cidrs = |d: &mut Diagnostics, list: &[SpannedString], port: i64, what: &str, world_hint: &str| -> Vec<String> {
        let mut out = Vec::new();
        let mut nets = Vec::new();
        for cidr in list {
            match rules::cidr(cidr.get_ref()) {
                Ok(net) => {
                    nets.push(net);
                    if net.prefix_len() == 0 {
                        // SSH open to the world is an error (PF002); the proxy's port a warning
                        // (PF001: the seed's design has API Gateway call it over the internet).
                        let message = format!("{what} (port {port}) is open to the whole internet");
                        let diagnostic = if port == 22 {
                            cidrs_ok = false;
                            Diagnostic::error(message, Some(cidr.span())).with_code("PF002")
                        } else {
                            Diagnostic::warning(message, Some(cidr.span())).with_code("PF001")
                        };
                        d.push(diagnostic.with_label("0.0.0.0/0").with_hint(world_hint.to_owned()));
                    }
                    out.push(net.to_string());
                }
                Err(invalid) => {
                    report(d, cidr.span(), "CIDR block", invalid);
                    cidrs_ok = false;
                }
            }
        }
        // Judged together: `0.0.0.0/1` and `128.0.0.0/1` are the whole internet too.
        let world = ipnet::Ipv4Net::default();
        if !nets.contains(&world)
            && ipnet::Ipv4Net::aggregate(&nets).contains(&world)
            && let Some(first) = list.first()
        {
            let message = format!("{what} (port {port}) is open to the whole internet: together, these blocks cover 0.0.0.0/0");
            let diagnostic = if port == 22 {
                cidrs_ok = false;
                Diagnostic::error(message, Some(first.span())).with_code("PF002")
            } else {
                Diagnostic::warning(message, Some(first.span())).with_code("PF001")
            };
            d.push(diagnostic.with_label("with the others, 0.0.0.0/0").with_hint(world_hint.to_owned()));
        }
        out
    };
    let proxy_sources = match proxy_sources {
        Some(list) => cidrs(d, &list, port_value, "the REST proxy", "list only the addresses that must call it"),
        None => {
            // The seed's design: API Gateway reaches the proxy over the internet.
            d.push(
                Diagnostic::warning(format!("the REST proxy (port {port_value}) is open to the whole internet by default"), None)
                    .with_code("PF001")
                    .with_hint("set `[kafka_client] proxy_sources` to the addresses that must call it (API Gateway's, or your own)"),
            );
            vec!["0.0.0.0/0".to_owned()]
        }
    };
    let ssh_sources = cidrs(d, &ssh_sources, 22, "SSH", "allow SSH from your own address only, or use SSM Session Manager instead");
    let cidrs_ok = cidrs_ok;
    let mut ok = vpc_ok && cidrs_ok && type_ok && ami_ok && key_ok && extra_groups_ok;
    let mut value = |key: &'static str, default: String, rule: fn(&str) -> Result<(), Invalid>| match values.get(key).cloned().flatten() {
        Some(given) => {
            ok &= check(d, &given, key, rule);
            given.into_inner()
        }
        None => default,
    };
    let kafka_version = value("kafka_version", "3.6.0".into(), rules::version);
    let scala_version = value("scala_version", "2.13".into(), rules::version);
    let msk_iam_auth_version = value("msk_iam_auth_version", "2.2.0".into(), rules::version);
    let confluent_version = value("confluent_version", "7.6.1".into(), rules::version);
    let confluent_line: String = confluent_version.split('.').take(2).collect::<Vec<_>>().join(".");
    let kafka_url = value(
        "kafka_url",
        format!("https://archive.apache.org/dist/kafka/{kafka_version}/kafka_{scala_version}-{kafka_version}.tgz"),
        rules::https_url,
    );
    let msk_iam_auth_url = value(
        "msk_iam_auth_url",
        format!(
            "https://github.com/aws/aws-msk-iam-auth/releases/download/v{msk_iam_auth_version}/aws-msk-iam-auth-{msk_iam_auth_version}-all.jar"
        ),
        rules::https_url,
    );
    let confluent_url = value(
        "confluent_url",
        format!("https://packages.confluent.io/archive/{confluent_line}/confluent-{confluent_version}.tar.gz"),
        rules::https_url,
    );
    let rest_proxy_port = u16::try_from(port_value).unwrap_or(8082);
    let security_group = security_group?;
    let instance_name = instance_name?;
    let ssh_key_name = ssh_key_name?;
    ok.then_some(KafkaClientSpec {
        ssh_public_key: ssh_public_key.map(|k| k.into_inner().trim().to_owned()),
        ssh_key_name,
        instance_name,
        instance_type: instance_type.map_or_else(|| "t3.micro".to_owned(), toml::Spanned::into_inner),
        ami: ami.map(toml::Spanned::into_inner),
        root_volume_gib: root_volume.map_or(20, |v| i32::try_from(*v.get_ref()).unwrap_or(20)),
        root_volume_encrypted: encrypted.is_none_or(toml::Spanned::into_inner),
        imdsv2: imdsv2.is_none_or(toml::Spanned::into_inner),
        manage_user_data: manage_user_data.is_none_or(toml::Spanned::into_inner),
        ssh_key_existing,
        extra_security_groups: extra_groups.into_iter().map(toml::Spanned::into_inner).collect(),
        security_group,
        vpc_id: vpc.map(toml::Spanned::into_inner),
        subnet_id: subnet.map(toml::Spanned::into_inner),
        proxy_sources,
        ssh_sources,
        kafka_version,
        scala_version,
        msk_iam_auth_version,
        confluent_version,
        rest_proxy_port,
        kafka_url,
        msk_iam_auth_url,
        confluent_url,
    })
}

#[cfg(test)]
mod tests;
