//! The per-account resource quotas a fleet can outgrow, checked from the plans alone, before any
//! call: `validate` and a fleet's `diff`/`apply` warn with the number needed and the quota. What
//! else the account holds counts too, and pinfra cannot see it offline: the warning is about what
//! the plan alone needs.

use std::collections::BTreeMap;
use std::fmt;

use crate::plan::{Capacity, Plan};

/// A documented quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Quota {
    /// What is counted, in the plural.
    what: &'static str,
    /// The default.
    value: u64,
    /// Whether AWS raises it on request.
    adjustable: bool,
    /// Per Region (`true`) or per account.
    regional: bool,
    /// Where AWS says so.
    source: &'static str,
}

const API_GATEWAY: &str = "API Gateway developer guide, \"Amazon API Gateway quotas\"";
const MSK_CONNECT: &str = "Amazon MSK developer guide, \"MSK Connect quotas\"";
const IAM: &str = "IAM user guide, \"IAM and AWS STS quotas\"";
const S3: &str = "Amazon S3 user guide, \"Bucket quotas, restrictions, and limitations\"";
const VPC: &str = "Amazon VPC user guide, \"Amazon VPC quotas\", security groups";

/// "Regional APIs per Region: 600, not adjustable".
const REST_APIS: Quota = Quota { what: "regional REST APIs", value: 600, adjustable: false, regional: true, source: API_GATEWAY };
/// "Usage plans per account per Region: 300, adjustable".
const USAGE_PLANS: Quota = Quota { what: "usage plans", value: 300, adjustable: true, regional: true, source: API_GATEWAY };
/// "API keys per account per Region: 10000, not adjustable".
const API_KEYS: Quota = Quota { what: "API keys", value: 10_000, adjustable: false, regional: true, source: API_GATEWAY };
/// "Up to 100 custom plugins".
const PLUGINS: Quota = Quota { what: "MSK Connect custom plugins", value: 100, adjustable: true, regional: true, source: MSK_CONNECT };
/// "Up to 60 connect workers"; an autoscaled connector counts at its maximum.
const WORKERS: Quota = Quota { what: "MSK Connect workers", value: 60, adjustable: true, regional: true, source: MSK_CONNECT };
/// "Roles in an AWS account: 1000 (up to 5000)".
const ROLES: Quota = Quota { what: "IAM roles", value: 1000, adjustable: true, regional: false, source: IAM };
/// "Instance profiles in an AWS account: 1000 (up to 5000)".
const PROFILES: Quota = Quota { what: "IAM instance profiles", value: 1000, adjustable: true, regional: false, source: IAM };
/// "By default, you can create up to 10,000 general purpose buckets per AWS account".
const BUCKETS: Quota = Quota { what: "S3 buckets", value: 10_000, adjustable: true, regional: false, source: S3 };

/// "Inbound or outbound rules per security group: 60, adjustable". Every environment on a
/// cluster adds one inbound rule to the brokers' group: TCP 9098 from its Kafka client's group.
const BROKER_GROUP_RULES: Quota =
    Quota { what: "inbound rules in the brokers' security group", value: 60, adjustable: true, regional: true, source: VPC };

/// A quota the plans alone would exceed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exceeded {
    quota: Quota,
    /// The Region, for a regional quota.
    region: Option<String>,
    /// The cluster, for a quota of its brokers' security group.
    cluster: Option<String>,
    /// How many the plans need.
    pub needed: u64,
}

impl fmt::Display for Exceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = &self.quota;
        let scope = match (&self.region, &self.cluster) {
            (Some(region), Some(cluster)) => format!("per security group (cluster {cluster} in {region})"),
            (Some(region), None) => format!("per account in {region}"),
            (None, _) => "per account".to_owned(),
        };
        write!(
            f,
            "the plan's environments need {} {}; AWS's quota is {} {scope} ({}, {})",
            self.needed,
            q.what,
            q.value,
            q.source,
            if q.adjustable {
                "adjustable: ask for an increase in Service Quotas first"
            } else {
                "fixed: spread the environments over Regions or accounts"
            }
        )
    }
}

/// The quotas `plans` (a fleet's environments) would exceed on their own.
pub fn check(plans: &[Plan]) -> Vec<Exceeded> {
    type Key = (&'static str, Option<String>, Option<String>);
    let mut needed: BTreeMap<Key, (Quota, u64)> = BTreeMap::new();
    let mut plugins = std::collections::BTreeSet::new();
    let mut add_to = |quota: Quota, region: &str, cluster: Option<&str>, n: u64| {
        let region = quota.regional.then(|| region.to_owned());
        needed.entry((quota.what, region, cluster.map(str::to_owned))).or_insert((quota, 0)).1 += n;
    };
    for plan in plans {
        let region = plan.environment.region.as_str();
        add_to(BROKER_GROUP_RULES, region, Some(plan.msk.cluster.name()), 1);
        let mut add = |quota: Quota, region: &str, n: u64| add_to(quota, region, None, n);
        add(ROLES, region, 1);
        add(PROFILES, region, 1);
        add(BUCKETS, region, 1);
        if let Some(api) = &plan.api {
            add(REST_APIS, region, 1);
            add(USAGE_PLANS, region, 1);
            add(API_KEYS, region, u64::from(api.api_key_required));
        }
        if let Some(connect) = &plan.connect {
            // Environments that name one plugin share it; an existing one is there already.
            let new_plugin = !matches!(connect.plugin.source, crate::plan::ArtifactSource::Existing);
            add(PLUGINS, region, u64::from(new_plugin && plugins.insert((region, connect.plugin.name.as_str()))));
            let workers = match connect.connector.capacity {
                Capacity::Provisioned { workers, .. } => workers,
                Capacity::AutoScaling { max_workers, .. } => max_workers,
            };
            add(WORKERS, region, u64::try_from(workers).unwrap_or(0));
        }
    }
    needed
        .into_iter()
        .filter(|(_, (quota, n))| *n > quota.value)
        .map(|((_, region, cluster), (quota, needed))| Exceeded { quota, region, cluster, needed })
        .collect()
}

/// vCPUs of the instance types pinfra's users pick for the Kafka client (EC2 user guide,
/// "Amazon EC2 instance types": T2, T3, T3a, T4g and M5 specifications); `None` for others.
fn vcpus(instance_type: &str) -> Option<u64> {
    let (family, size) = instance_type.split_once('.')?;
    let burstable = matches!(family, "t3" | "t3a" | "t4g");
    match (family, size) {
        ("t2", "nano" | "micro" | "small") => Some(1),
        ("t2", "medium" | "large") => Some(2),
        ("t2", "xlarge") => Some(4),
        ("t2", "2xlarge") => Some(8),
        (_, "nano" | "micro" | "small" | "medium" | "large") if burstable => Some(2),
        (_, "xlarge") if burstable => Some(4),
        (_, "2xlarge") if burstable => Some(8),
        ("m5" | "m6i" | "m7i", "large") => Some(2),
        ("m5" | "m6i" | "m7i", "xlarge") => Some(4),
        ("m5" | "m6i" | "m7i", "2xlarge") => Some(8),
        _ => None,
    }
}

/// What the Kafka clients need of the account's On-Demand vCPU quota, per Region, for a note:
/// that quota ("Running On-Demand Standard instances", L-1216C47A) differs per account, so it is
/// named, not compared.
pub fn vcpus_needed(plans: &[Plan]) -> BTreeMap<String, u64> {
    let mut needed = BTreeMap::new();
    for plan in plans {
        if let Some(n) = vcpus(&plan.kafka_client.instance_type) {
            *needed.entry(plan.environment.region.clone()).or_insert(0) += n;
        }
    }
    needed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plans(n: usize, edit: impl Fn(&str) -> String) -> Vec<Plan> {
        let text = edit(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/plans/pinterest.toml")).unwrap_or_default());
        (0..n)
            .map(|i| {
                let text = text.replace("0a1b2c3d4e5f", &format!("{i:012x}"));
                crate::plan::parse(&text).plan.unwrap_or_else(|| panic!("the shipped plan, user id {i}"))
            })
            .collect()
    }

    #[test]
    fn a_fleet_over_a_quota_is_told_the_number_needed_and_the_quota() {
        assert_eq!(check(&plans(60, |t| t.to_owned())), Vec::new(), "60 one-worker connectors fit");
        let found: Vec<String> = check(&plans(61, |t| t.to_owned())).iter().map(ToString::to_string).collect();
        assert_eq!(
            found,
            [
                "the plan's environments need 61 MSK Connect workers; AWS's quota is 60 per account in us-east-1 (Amazon MSK developer guide, \"MSK Connect quotas\", adjustable: ask for an increase in Service Quotas first)",
                "the plan's environments need 61 inbound rules in the brokers' security group; AWS's quota is 60 per security group (cluster pinterest-msk-cluster in us-east-1) (Amazon VPC user guide, \"Amazon VPC quotas\", security groups, adjustable: ask for an increase in Service Quotas first)"
            ]
        );
        let over = check(&plans(301, |t| t.to_owned()));
        let whats: Vec<(&str, u64)> = over.iter().map(|e| (e.quota.what, e.needed)).collect();
        assert_eq!(
            whats,
            [
                ("MSK Connect custom plugins", 301),
                ("MSK Connect workers", 301),
                ("inbound rules in the brokers' security group", 301),
                ("usage plans", 301)
            ]
        );
    }

    #[test]
    fn the_client_instances_vcpus_are_counted_per_region() {
        assert_eq!(vcpus_needed(&plans(3, |t| t.to_owned())), BTreeMap::from([("us-east-1".to_owned(), 6)]));
        assert_eq!(vcpus("t2.micro"), Some(1));
        assert_eq!(vcpus("x9.huge"), None);
    }
}
