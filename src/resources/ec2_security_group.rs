//! The EC2 Kafka client's security group: the REST proxy port open to the planned sources,
//! SSH closed unless the plan lists sources. Ingress rules are compared as a set and changed in
//! place (authorize what is missing, revoke what is extra).

use std::collections::BTreeSet;
use std::sync::Arc;

use aws_sdk_ec2::operation::describe_security_groups::builders::DescribeSecurityGroupsFluentBuilder;
use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, ResourceType, SecurityGroup, Tag, TagSpecification};
use serde_json::Value as Json;

use crate::aws::ec2_tags;
use crate::aws::{Aws, AwsError, Classify};
use crate::engine::{Change, FieldChange, Fields, Inputs, Kind, Outputs, ResourceError, ResourceId, Tags, Value};

/// The kind name.
pub const KIND: &str = "ec2_security_group";

/// One ingress rule: TCP `port` from `cidr`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rule {
    /// TCP port.
    pub port: u16,
    /// Source CIDR block.
    pub cidr: String,
}

impl Rule {
    fn json(&self) -> Json {
        Json::String(format!("tcp/{} from {}", self.port, self.cidr))
    }
}

/// The security group as the plan declares it.
#[derive(Debug, Clone)]
pub struct Ec2SecurityGroup {
    /// Group name.
    pub name: String,
    /// The plan's VPC (`[kafka_client] vpc_id`).
    pub vpc_id: Option<String>,
    /// The brokers' VPC as the run read it: the group goes there, a plan's `vpc_id` that differs
    /// is refused, and a group in it is observed from that read. `None` (nothing read): the
    /// plan's VPC, else the default VPC.
    pub network: Option<Arc<crate::network::Network>>,
    /// The brokers' subnets, to name them in a refusal.
    pub broker_subnets: Vec<String>,
    /// Ingress rules.
    pub ingress: BTreeSet<Rule>,
    /// Tags, ownership included.
    pub tags: Tags,
}

/// What the plan wants.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    ingress: BTreeSet<Rule>,
    tags: Tags,
    /// Why the group cannot go where the plan says.
    misplaced: Option<String>,
}

/// What EC2 has.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    id: String,
    vpc_id: String,
    /// TCP single-port rules from CIDR blocks; other kinds of rules (port ranges, other
    /// groups as sources) are not pinfra's and are left alone.
    ingress: BTreeSet<Rule>,
    tags: Tags,
}

fn permission(rule: &Rule) -> IpPermission {
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(i32::from(rule.port))
        .to_port(i32::from(rule.port))
        .ip_ranges(IpRange::builder().cidr_ip(&rule.cidr).description("pinfra").build())
        .build()
}

/// A security group as a person left it: every IPv4 ingress rule, also those pinfra leaves alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Group id.
    pub id: String,
    /// Group name.
    pub name: String,
    /// Its VPC.
    pub vpc_id: Option<String>,
    /// Ingress rules: (protocol, from port, to port, IPv4 CIDR), one per CIDR.
    pub ingress: Vec<(String, i32, i32, String)>,
    /// Ingress rules from other security groups, IPv6 ranges or prefix lists.
    pub other_ingress: usize,
}

/// The first group DescribeSecurityGroups answers to `request`.
async fn first_group(request: DescribeSecurityGroupsFluentBuilder) -> Result<Option<SecurityGroup>, AwsError> {
    Ok(request.send().await.or_aws("ec2:DescribeSecurityGroups")?.security_groups().first().cloned())
}

/// The security group `id` (DescribeSecurityGroups), or `None`: how `import` reads the group a
/// person gave the Kafka client, whatever its name.
pub async fn find_by_id(aws: &Aws, id: &str) -> Result<Option<Found>, AwsError> {
    let Some(group) = first_group(aws.ec2.describe_security_groups().group_ids(id)).await? else { return Ok(None) };
    let mut ingress = Vec::new();
    let mut other_ingress = 0;
    for permission in group.ip_permissions() {
        let protocol = permission.ip_protocol().unwrap_or_default().to_owned();
        let (from, to) = (permission.from_port().unwrap_or(-1), permission.to_port().unwrap_or(-1));
        other_ingress += permission.user_id_group_pairs().len() + permission.ipv6_ranges().len() + permission.prefix_list_ids().len();
        for range in permission.ip_ranges() {
            if let Some(cidr) = range.cidr_ip() {
                ingress.push((protocol.clone(), from, to, cidr.to_owned()));
            }
        }
    }
    Ok(Some(Found {
        id: id.to_owned(),
        name: group.group_name().unwrap_or_default().to_owned(),
        vpc_id: group.vpc_id().map(str::to_owned),
        ingress,
        other_ingress,
    }))
}

impl Ec2SecurityGroup {
    async fn vpc(&self, aws: &Aws) -> Result<Option<String>, AwsError> {
        match (&self.vpc_id, &self.network) {
            (Some(vpc), _) => Ok(Some(vpc.clone())),
            (None, Some(network)) => Ok(Some(network.vpc_id.clone())),
            (None, None) => crate::network::default_vpc(aws).await,
        }
    }
}

impl Kind for Ec2SecurityGroup {
    type Desired = Desired;
    type Live = Live;

    fn id(&self) -> ResourceId {
        ResourceId::new(KIND, &self.name)
    }

    async fn observe(&self, aws: &Aws) -> Result<Option<Live>, AwsError> {
        let Some(vpc) = self.vpc(aws).await? else { return Ok(None) };
        if let Some(network) = self.network.as_ref().filter(|n| n.vpc_id == vpc) {
            // Read whole this run (rules and tags): no second DescribeSecurityGroups.
            return Ok(network.group_named(&self.name).map(|g| {
                let ingress = g
                    .ingress
                    .iter()
                    .filter_map(|r| match (&r.peer, r.protocol.as_str(), r.from_port == r.to_port) {
                        (crate::network::Peer::Cidr(cidr), "tcp", true) => {
                            Some(Rule { port: u16::try_from(r.from_port).ok()?, cidr: cidr.to_string() })
                        }
                        _ => None,
                    })
                    .collect();
                Live { id: g.id.clone(), vpc_id: vpc.clone(), ingress, tags: g.tags.clone() }
            }));
        }
        let request = aws
            .ec2
            .describe_security_groups()
            .filters(Filter::builder().name("group-name").values(&self.name).build())
            .filters(Filter::builder().name("vpc-id").values(&vpc).build());
        let Some(group) = first_group(request).await? else { return Ok(None) };
        let mut ingress = BTreeSet::new();
        for permission in group.ip_permissions() {
            let single_tcp = permission.ip_protocol() == Some("tcp") && permission.from_port() == permission.to_port();
            let port = permission.from_port().and_then(|p| u16::try_from(p).ok());
            for range in permission.ip_ranges() {
                if let (true, Some(port), Some(cidr)) = (single_tcp, port, range.cidr_ip()) {
                    ingress.insert(Rule { port, cidr: cidr.to_owned() });
                }
            }
        }
        Ok(Some(Live { id: group.group_id().unwrap_or_default().to_owned(), vpc_id: vpc, ingress, tags: ec2_tags::from_ec2(group.tags()) }))
    }

    fn desired(&self, _inputs: &Inputs) -> Desired {
        let misplaced = match (&self.vpc_id, &self.network) {
            (Some(planned), Some(network)) if *planned != network.vpc_id => Some(format!(
                "`[kafka_client] vpc_id` is {planned}, but the cluster's brokers are in VPC {} (subnets {}): the Kafka client must be in the brokers' VPC to reach them",
                network.vpc_id,
                self.broker_subnets.join(", ")
            )),
            _ => None,
        };
        Desired { ingress: self.ingress.clone(), tags: self.tags.clone(), misplaced }
    }

    fn diff(desired: &Desired, live: Option<&Live>) -> Result<Vec<FieldChange>, ResourceError> {
        if let Some(reason) = &desired.misplaced {
            return Err(ResourceError::refused(
                reason.clone(),
                "remove `vpc_id` from [kafka_client] (the client then goes into the cluster's VPC), or set it to the cluster's VPC",
            ));
        }
        let mut fields = Fields::new(live.is_none());
        let list = |rules: &BTreeSet<Rule>| Json::Array(rules.iter().map(Rule::json).collect());
        fields.known("ingress", list(&desired.ingress), live.map(|l| list(&l.ingress)), false);
        fields.tags("tags", &desired.tags, live.map(|l| &l.tags));
        Ok(fields.finish())
    }

    const OUTPUTS: &'static [&'static str] = &["id", "vpc_id"];

    fn live_tags(live: &Live) -> Option<&Tags> {
        Some(&live.tags)
    }

    fn outputs(&self, live: &Live) -> Outputs {
        Outputs::from([("id", Value::of(live.id.clone())), ("vpc_id", Value::of(live.vpc_id.clone()))])
    }

    async fn apply(&self, aws: &Aws, desired: &Desired, live: Option<&Live>, change: &Change) -> Result<Outputs, ResourceError> {
        let tags: Vec<Tag> = ec2_tags::to_ec2(&desired.tags);
        let (id, vpc, have) = match live {
            Some(live) => {
                if change.touches("tags") {
                    aws.ec2.create_tags().resources(&live.id).set_tags(Some(tags)).send().await.or_aws("ec2:CreateTags")?;
                }
                (live.id.clone(), live.vpc_id.clone(), live.ingress.clone())
            }
            None => {
                let Some(vpc) = self.vpc(aws).await? else {
                    return Err(ResourceError::refused("the region has no default VPC", "set `[kafka_client] vpc_id`"));
                };
                let created = aws
                    .ec2
                    .create_security_group()
                    .group_name(&self.name)
                    .description("Kafka client and REST proxy of a pinfra pipeline")
                    .vpc_id(&vpc)
                    .tag_specifications(TagSpecification::builder().resource_type(ResourceType::SecurityGroup).set_tags(Some(tags)).build())
                    .send()
                    .await
                    .or_aws("ec2:CreateSecurityGroup")?;
                (created.group_id().unwrap_or_default().to_owned(), vpc, BTreeSet::new())
            }
        };
        let missing: Vec<IpPermission> = desired.ingress.difference(&have).map(permission).collect();
        let extra: Vec<IpPermission> = have.difference(&desired.ingress).map(permission).collect();
        if !missing.is_empty() {
            match aws
                .ec2
                .authorize_security_group_ingress()
                .group_id(&id)
                .set_ip_permissions(Some(missing))
                .send()
                .await
                .or_aws("ec2:AuthorizeSecurityGroupIngress")
            {
                // Added by an interrupted earlier run.
                Err(e) if e.is_code(&["InvalidPermission.Duplicate"]) => {}
                other => {
                    other?;
                }
            }
        }
        if !extra.is_empty() {
            aws.ec2
                .revoke_security_group_ingress()
                .group_id(&id)
                .set_ip_permissions(Some(extra))
                .send()
                .await
                .or_aws("ec2:RevokeSecurityGroupIngress")?;
        }
        Ok(Outputs::from([("id", Value::of(id)), ("vpc_id", Value::of(vpc))]))
    }

    async fn delete(&self, aws: &Aws, live: &Live) -> Result<(), ResourceError> {
        match aws.ec2.delete_security_group().group_id(&live.id).send().await.or_aws("ec2:DeleteSecurityGroup") {
            Err(e) if !e.is_code(&["InvalidGroup.NotFound"]) => Err(e.into()),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(list: &[(u16, &str)]) -> BTreeSet<Rule> {
        list.iter().map(|(port, cidr)| Rule { port: *port, cidr: (*cidr).to_owned() }).collect()
    }

    fn live(ingress: &[(u16, &str)]) -> Live {
        Live { id: "sg-1".into(), vpc_id: "vpc-1".into(), ingress: rules(ingress), tags: Tags::from([("pinfra:env".into(), "dev".into())]) }
    }

    #[test]
    fn ingress_is_compared_as_a_set() {
        let desired = Desired {
            ingress: rules(&[(8082, "0.0.0.0/0"), (22, "203.0.113.0/24")]),
            tags: Tags::from([("pinfra:env".into(), "dev".into())]),
            misplaced: None,
        };
        let cases: Vec<(&str, Option<Live>, Vec<&str>)> = vec![
            ("create", None, vec!["ingress", "tags.pinfra:env"]),
            ("same rules, other order", Some(live(&[(22, "203.0.113.0/24"), (8082, "0.0.0.0/0")])), vec![]),
            ("a rule missing", Some(live(&[(8082, "0.0.0.0/0")])), vec!["ingress"]),
            ("an extra rule", Some(live(&[(8082, "0.0.0.0/0"), (22, "203.0.113.0/24"), (22, "0.0.0.0/0")])), vec!["ingress"]),
        ];
        for (name, live, expected) in cases {
            let changes = Ec2SecurityGroup::diff(&desired, live.as_ref()).unwrap();
            assert_eq!(changes.iter().map(|c| c.path.as_str()).collect::<Vec<_>>(), expected, "{name}");
        }
    }
}
