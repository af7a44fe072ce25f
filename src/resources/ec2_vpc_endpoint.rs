//! The S3 gateway endpoint pinfra makes when the connector's subnets have no way to S3.
//!
//! MSK Connect workers get private addresses only (MSK Connect developer guide, "Connecting
//! from connectors"), so their subnets' route tables need an S3 gateway endpoint or a default
//! route to a NAT gateway before the S3 sink can write. When some have neither, pinfra makes one
//! gateway endpoint, tagged, serving exactly those route tables; it never modifies an endpoint
//! it does not own. A route table can be served by one S3 gateway endpoint only (VPC user guide,
//! "Gateway endpoints for Amazon S3"), so the tables another endpoint serves are left to it.
//! Which tables the endpoint serves is decided once per run, from the network (see
//! [`Ec2VpcEndpoint::plan`]).

use std::collections::BTreeSet;

use aws_sdk_ec2::types::{ResourceType, TagSpecification, VpcEndpointType};
use serde_json::Value as Json;

use crate::aws::ec2_tags;
use crate::aws::{Aws, AwsError, Classify};
use crate::engine::{Change, FieldChange, Fields, Inputs, Kind, Outputs, Presence, ResourceError, ResourceId, Tags, Value};
use crate::network::{Network, Target, s3_service};

/// The kind name.
pub const KIND: &str = "ec2_vpc_endpoint";

/// The endpoint as the plan implies it.
#[derive(Debug, Clone)]
pub struct Ec2VpcEndpoint {
    /// Its `Name` tag, by which pinfra finds it.
    pub name: String,
    /// The VPC.
    pub vpc: String,
    /// The Region (the service is named after it).
    pub region: String,
    /// The route tables it serves.
    pub route_tables: BTreeSet<String>,
    /// Whether it is still needed.
    pub presence: Presence,
    /// Tags, ownership and `Name` included.
    pub tags: Tags,
    /// The endpoint as the run's network read found it (the read is the observation).
    pub found: Option<Live>,
}

/// What the plan wants.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    route_tables: BTreeSet<String>,
    tags: Tags,
}

/// What EC2 has.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    id: String,
    route_tables: BTreeSet<String>,
    tags: Tags,
    /// Other plans' connectors whose subnets it serves (environments sharing a cluster share
    /// its route tables, and one endpoint serves them all).
    serves: Vec<String>,
}

/// Whether the route table's default route reaches an available NAT gateway.
fn has_nat_route(network: &Network, table: &str) -> bool {
    network.route_tables.iter().filter(|t| t.id == table).flat_map(|t| &t.routes).any(|r| {
        !r.blackhole
            && matches!(r.destination, crate::network::Destination::Cidr(c) if c.prefix_len() == 0)
            && matches!(&r.target, Target::NatGateway(n) if network.nat_gateways.iter().any(|g| &g.id == n && g.available))
    })
}

/// The `Name` of the endpoint pinfra makes for a connector.
pub fn name_for(connector: &str) -> String {
    format!("{connector}-s3")
}

impl Ec2VpcEndpoint {
    /// The endpoint for the connector's `subnets`, or `None` when none is needed: the route
    /// tables that have no other S3 gateway endpoint and no NAT route, plus those ours already
    /// serves among them (kept, never churned). An endpoint of ours no longer needed is deleted.
    /// `connectors` are every connector of the Region but this plan's (by name and subnets), to
    /// keep an endpoint that serves them too.
    pub fn plan(name: &str, network: &Network, subnets: &[String], connectors: &[(String, Vec<String>)], tags: &Tags) -> Option<Self> {
        let ours = |e: &&crate::network::Endpoint| e.tags.get("Name").map(String::as_str) == Some(name) && e.is_s3_gateway(&network.region);
        let existing = network.endpoints.iter().find(ours);
        let tables: BTreeSet<String> = subnets.iter().filter_map(|s| network.route_table(s)).map(|t| t.id.clone()).collect();
        let route_tables: BTreeSet<String> = tables
            .into_iter()
            .filter(|t| match network.s3_endpoint_of(t) {
                Some(endpoint) => existing.is_some_and(|e| e.id == endpoint.id),
                None => !has_nat_route(network, t),
            })
            .collect();
        if route_tables.is_empty() && existing.is_none() {
            return None;
        }
        let mut tags = tags.clone();
        tags.insert("Name".to_owned(), name.to_owned());
        Some(Ec2VpcEndpoint {
            found: existing.map(|e| Live {
                id: e.id.clone(),
                route_tables: e.route_tables.iter().cloned().collect(),
                tags: e.tags.clone(),
                serves: connectors
                    .iter()
                    .filter(|(_, subnets)| subnets.iter().filter_map(|s| network.route_table(s)).any(|t| e.route_tables.contains(&t.id)))
                    .map(|(connector, _)| connector.clone())
                    .collect(),
            }),
            name: name.to_owned(),
            vpc: network.vpc_id.clone(),
            region: network.region.clone(),
            presence: if route_tables.is_empty() { Presence::Unwanted } else { Presence::Wanted },
            route_tables,
            tags,
        })
    }
}

/// What a create came to.
enum Created {
    /// Our endpoint, by id.
    Ours(String),
    /// None was needed any more: another S3 gateway endpoint serves every table, made
    /// meanwhile by another environment sharing the cluster's route tables.
    ServedBy(String),
}

impl Ec2VpcEndpoint {
    /// Creates the endpoint for `tables`. Environments that share a cluster share its route
    /// tables, and a route table takes one S3 gateway endpoint only, so two environments applied
    /// at once race for them: the loser's CreateVpcEndpoint fails with `RouteAlreadyExists`.
    /// It then reads which tables another endpoint now serves, and makes ours for the rest, or
    /// none.
    async fn create(&self, aws: &Aws, tables: &BTreeSet<String>, tags: Vec<aws_sdk_ec2::types::Tag>) -> Result<Created, ResourceError> {
        let mut tables = tables.clone();
        for attempt in 0..3 {
            // The token makes a retried create return the same endpoint; another set of tables
            // is another request.
            let token = match attempt {
                0 => format!("pinfra-{}-{}", self.vpc, self.name),
                n => format!("pinfra-{}-{}-{n}", self.vpc, self.name),
            };
            let token: String = token.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(64).collect();
            let created = aws
                .ec2
                .create_vpc_endpoint()
                .vpc_id(&self.vpc)
                .service_name(s3_service(&self.region))
                .vpc_endpoint_type(VpcEndpointType::Gateway)
                .set_route_table_ids(Some(tables.iter().cloned().collect()))
                .client_token(token)
                .tag_specifications(
                    TagSpecification::builder().resource_type(ResourceType::VpcEndpoint).set_tags(Some(tags.clone())).build(),
                )
                .send()
                .await
                .or_aws("ec2:CreateVpcEndpoint");
            match created {
                Ok(created) => {
                    return Ok(Created::Ours(created.vpc_endpoint().and_then(|e| e.vpc_endpoint_id()).unwrap_or_default().to_owned()));
                }
                Err(error) if error.is_code(&["RouteAlreadyExists"]) => {
                    let served = self.served_by_others(aws).await?;
                    let other = tables.iter().find_map(|t| served.iter().find(|(table, _)| table == t)).map(|(_, e)| e.clone());
                    tables.retain(|t| !served.iter().any(|(table, _)| table == t));
                    match other {
                        Some(other) if tables.is_empty() => return Ok(Created::ServedBy(other)),
                        Some(_) => {}
                        None => return Err(error.into()),
                    }
                }
                Err(error) => return Err(error.into()),
            }
        }
        Err(ResourceError::refused(
            format!("the route tables of VPC {} kept gaining S3 endpoints while pinfra made its own", self.vpc),
            "run `pinfra apply` again: the next run sees which endpoint serves which table",
        ))
    }

    /// `(route table, endpoint)` for every route table an S3 gateway endpoint of the VPC serves.
    async fn served_by_others(&self, aws: &Aws) -> Result<Vec<(String, String)>, ResourceError> {
        let out = aws
            .ec2
            .describe_vpc_endpoints()
            .filters(aws_sdk_ec2::types::Filter::builder().name("vpc-id").values(&self.vpc).build())
            .send()
            .await
            .or_aws("ec2:DescribeVpcEndpoints")?;
        Ok(out
            .vpc_endpoints()
            .iter()
            .filter(|e| {
                e.vpc_endpoint_type() == Some(&VpcEndpointType::Gateway) && e.service_name() == Some(s3_service(&self.region).as_str())
            })
            .filter(|e| !matches!(e.state(), Some(aws_sdk_ec2::types::State::Deleted | aws_sdk_ec2::types::State::Deleting)))
            .flat_map(|e| e.route_table_ids().iter().map(move |t| (t.clone(), e.vpc_endpoint_id().unwrap_or_default().to_owned())))
            .collect())
    }
}

impl Kind for Ec2VpcEndpoint {
    type Desired = Desired;
    type Live = Live;

    fn id(&self) -> ResourceId {
        ResourceId::new(KIND, &self.name)
    }

    fn presence(&self) -> Presence {
        self.presence
    }

    fn keep_unwanted(live: &Live) -> Option<String> {
        (!live.serves.is_empty()).then(|| format!("it also carries S3 traffic of connector(s) {}", live.serves.join(", ")))
    }

    async fn observe(&self, _aws: &Aws) -> Result<Option<Live>, AwsError> {
        // The brokers' VPC was read whole this run (its endpoints with their tags and route
        // tables): no second DescribeVpcEndpoints.
        Ok(self.found.clone())
    }

    fn desired(&self, _inputs: &Inputs) -> Desired {
        Desired { route_tables: self.route_tables.clone(), tags: self.tags.clone() }
    }

    fn diff(desired: &Desired, live: Option<&Live>) -> Result<Vec<FieldChange>, ResourceError> {
        let mut fields = Fields::new(live.is_none());
        let list = |tables: &BTreeSet<String>| Json::from(tables.iter().cloned().collect::<Vec<_>>());
        fields.known("route_tables", list(&desired.route_tables), live.map(|l| list(&l.route_tables)), false);
        fields.tags("tags", &desired.tags, live.map(|l| &l.tags));
        Ok(fields.finish())
    }

    const OUTPUTS: &'static [&'static str] = &["id"];

    fn live_tags(live: &Live) -> Option<&Tags> {
        Some(&live.tags)
    }

    fn outputs(&self, live: &Live) -> Outputs {
        Outputs::from([("id", Value::of(live.id.clone()))])
    }

    async fn apply(&self, aws: &Aws, desired: &Desired, live: Option<&Live>, change: &Change) -> Result<Outputs, ResourceError> {
        let tags = ec2_tags::to_ec2(&desired.tags);
        let id = match live {
            None => match self.create(aws, &desired.route_tables, tags).await? {
                Created::Ours(id) => id,
                // Another environment on the same cluster made one meanwhile: it serves them.
                Created::ServedBy(id) => return Ok(Outputs::from([("id", Value::of(id))])),
            },
            Some(live) => {
                if change.touches("tags") {
                    aws.ec2.create_tags().resources(&live.id).set_tags(Some(tags)).send().await.or_aws("ec2:CreateTags")?;
                }
                let add: Vec<String> = desired.route_tables.difference(&live.route_tables).cloned().collect();
                let remove: Vec<String> = live.route_tables.difference(&desired.route_tables).cloned().collect();
                if !add.is_empty() || !remove.is_empty() {
                    aws.ec2
                        .modify_vpc_endpoint()
                        .vpc_endpoint_id(&live.id)
                        .set_add_route_table_ids((!add.is_empty()).then_some(add))
                        .set_remove_route_table_ids((!remove.is_empty()).then_some(remove))
                        .send()
                        .await
                        .or_aws("ec2:ModifyVpcEndpoint")?;
                }
                live.id.clone()
            }
        };
        Ok(Outputs::from([("id", Value::of(id))]))
    }

    async fn delete(&self, aws: &Aws, live: &Live) -> Result<(), ResourceError> {
        let out = aws.ec2.delete_vpc_endpoints().vpc_endpoint_ids(&live.id).send().await.or_aws("ec2:DeleteVpcEndpoints")?;
        match out.unsuccessful().first() {
            Some(item) if item.error().and_then(|e| e.code()) != Some("InvalidVpcEndpoint.NotFound") => Err(ResourceError::refused(
                format!("EC2 did not delete {}: {}", live.id, item.error().and_then(|e| e.message()).unwrap_or("no reason given")),
                "look at the endpoint in the VPC console",
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::network::{Destination, Endpoint, NatGateway, Route, RouteTable, Subnet};

    fn network(tables: Vec<(&str, bool, Vec<&str>, Option<Target>)>, endpoints: Vec<(&str, &str, Vec<&str>)>) -> Network {
        let block = |i: usize| format!("10.0.{i}.0/24").parse().expect("block");
        let mut subnets = BTreeMap::new();
        for (i, name) in ["subnet-1", "subnet-2", "subnet-3"].into_iter().enumerate() {
            subnets.insert(name.to_owned(), Subnet { id: name.into(), cidr: block(i), zone: format!("z{i}"), map_public_ip: false });
        }
        Network {
            region: "us-east-1".into(),
            vpc_id: "vpc-1".into(),
            subnets,
            route_tables: tables
                .into_iter()
                .map(|(id, main, subnets, default)| RouteTable {
                    id: id.into(),
                    main,
                    subnets: subnets.into_iter().map(str::to_owned).collect(),
                    routes: default
                        .map(|target| Route { destination: Destination::Cidr("0.0.0.0/0".parse().expect("any")), target, blackhole: false })
                        .into_iter()
                        .collect(),
                })
                .collect(),
            nat_gateways: vec![NatGateway { id: "nat-1".into(), subnet: "subnet-3".into(), available: true }],
            endpoints: endpoints
                .into_iter()
                .map(|(id, name, tables)| Endpoint {
                    id: id.into(),
                    service: "com.amazonaws.us-east-1.s3".into(),
                    gateway: true,
                    route_tables: tables.into_iter().map(str::to_owned).collect(),
                    tags: Tags::from([("Name".to_owned(), name.to_owned())]),
                })
                .collect(),
            ..Network::default()
        }
    }

    fn planned(network: &Network) -> Option<(Vec<String>, Presence)> {
        let subnets = ["subnet-1".to_owned(), "subnet-2".to_owned()];
        Ec2VpcEndpoint::plan("e", network, &subnets, &[], &Tags::new()).map(|e| (e.route_tables.into_iter().collect(), e.presence))
    }

    #[test]
    fn an_endpoint_another_plans_connector_uses_is_kept() {
        let net = network(vec![("rtb-main", true, vec![], None)], vec![("vpce-ours", "e", vec!["rtb-main"])]);
        let others = [("their-connector".to_owned(), vec!["subnet-3".to_owned()])];
        let planned = Ec2VpcEndpoint::plan("e", &net, &["subnet-1".to_owned()], &others, &Tags::new()).expect("ours exists");
        let live = planned.found.expect("found in the read");
        assert_eq!(Ec2VpcEndpoint::keep_unwanted(&live), Some("it also carries S3 traffic of connector(s) their-connector".to_owned()));
        let alone = Ec2VpcEndpoint::plan("e", &net, &["subnet-1".to_owned()], &[], &Tags::new()).expect("ours exists");
        assert_eq!(Ec2VpcEndpoint::keep_unwanted(&alone.found.expect("found")), None);
    }

    #[test]
    fn the_endpoint_serves_only_the_route_tables_nothing_else_covers() {
        let strings = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        type Case = (&'static str, Network, Option<(Vec<String>, Presence)>);
        let cases: Vec<Case> = vec![
            (
                "no way to S3: both tables, the second one the implicit main table",
                network(vec![("rtb-1", false, vec!["subnet-1"], None), ("rtb-main", true, vec![], None)], vec![]),
                Some((strings(&["rtb-1", "rtb-main"]), Presence::Wanted)),
            ),
            (
                "a NAT route on one table",
                network(
                    vec![("rtb-1", false, vec!["subnet-1"], Some(Target::NatGateway("nat-1".into()))), ("rtb-main", true, vec![], None)],
                    vec![],
                ),
                Some((strings(&["rtb-main"]), Presence::Wanted)),
            ),
            (
                "another endpoint serves every table",
                network(vec![("rtb-main", true, vec![], None)], vec![("vpce-other", "someone", vec!["rtb-main"])]),
                None,
            ),
            (
                "ours serves one, another serves the other",
                network(
                    vec![("rtb-1", false, vec!["subnet-1"], None), ("rtb-main", true, vec![], None)],
                    vec![("vpce-ours", "e", vec!["rtb-1"]), ("vpce-other", "someone", vec!["rtb-main"])],
                ),
                Some((strings(&["rtb-1"]), Presence::Wanted)),
            ),
            (
                "ours is no longer needed: a NAT route now, and ours serves nothing else",
                network(vec![("rtb-main", true, vec![], Some(Target::NatGateway("nat-1".into())))], vec![("vpce-ours", "e", vec![])]),
                Some((vec![], Presence::Unwanted)),
            ),
        ];
        for (name, network, expected) in cases {
            assert_eq!(planned(&network), expected, "{name}");
        }
    }
}
