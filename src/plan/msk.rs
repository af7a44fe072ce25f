//! The `[msk]` section: the cluster the pipeline uses, by name or ARN, its topic prefix, and
//! `[msk.create]`, the Provisioned cluster pinfra creates.

use super::interpolate::Variables;
use super::reader::{SpannedString, Table};
use super::{Environment, check, name, report, rules};
use crate::diagnostics::{Diagnostic, Diagnostics};

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

pub(super) fn read_msk(
    d: &mut Diagnostics,
    mut table: Table<'_, '_>,
    environment: Option<&Environment>,
    vars: Option<&Variables<'_>>,
) -> Option<Msk> {
    let cluster = table.required_string(d, "cluster", "\"pinterest-msk-cluster\"");
    let prefix = table.string(d, "topic_prefix");
    let create_table = table.table(d, "create");
    table.finish(d);
    // An empty prefix would make every topic on the cluster the plan's, for `--prune` and
    // `destroy` to delete: refused.
    let topic_prefix = name(d, prefix, super::defaults::TOPIC_PREFIX, vars, "topic prefix", rules::topic_prefix);
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
