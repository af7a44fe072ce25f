//! One round of EC2 reads, all filtered by the VPC and made side by side, into a [`Network`].

use aws_sdk_ec2::types::{Filter, IpPermission, NatGatewayState, RouteState, RuleAction, VpcEndpointType};
use ipnet::Ipv4Net;

use super::{
    AclEntry, Destination, Endpoint, NatGateway, Network, NetworkAcl, Peer, Route, RouteTable, Rule, SecurityGroup, Subnet, Target,
};
use crate::aws::ec2_tags;
use crate::aws::{Aws, AwsError, Classify};

/// Every item of every page of a paginated EC2 `Describe*` call.
macro_rules! every_page {
    ($request:expr, $operation:literal, $items:ident) => {
        async {
            let mut pages = $request.into_paginator().send();
            let mut all = Vec::new();
            while let Some(page) = pages.next().await {
                all.extend(page.or_aws($operation)?.$items().iter().cloned());
            }
            Ok::<_, AwsError>(all)
        }
    };
}

fn vpc_filter(name: &str, vpc: &str) -> Filter {
    Filter::builder().name(name).values(vpc).build()
}

fn cidr(text: Option<&str>) -> Option<Ipv4Net> {
    text.and_then(|t| t.parse().ok())
}

/// Reads the VPC of `subnets` (the brokers'), `None` when none of them exists: the Region's
/// subnets first (one listing finds the VPC and its subnets at once), then its route tables,
/// internet and NAT gateways, endpoints, security groups and network ACLs, and the Region's S3
/// prefix list, in seven calls made at once.
pub async fn read(aws: &Aws, region: &str, subnets: &[String]) -> Result<Option<Network>, AwsError> {
    if subnets.is_empty() {
        return Ok(None);
    }
    let ec2 = &aws.ec2;
    let all = every_page!(ec2.describe_subnets(), "ec2:DescribeSubnets", subnets).await?;
    let vpc = all.iter().find(|s| s.subnet_id().is_some_and(|id| subnets.iter().any(|b| b == id))).and_then(|s| s.vpc_id());
    let Some(vpc_id) = vpc.map(str::to_owned) else { return Ok(None) };
    let vpc_id = vpc_id.as_str();
    let (tables, gateways, nats, endpoints, groups, acls, prefix_lists) = tokio::join!(
        every_page!(ec2.describe_route_tables().filters(vpc_filter("vpc-id", vpc_id)), "ec2:DescribeRouteTables", route_tables),
        every_page!(
            ec2.describe_internet_gateways().filters(vpc_filter("attachment.vpc-id", vpc_id)),
            "ec2:DescribeInternetGateways",
            internet_gateways
        ),
        every_page!(ec2.describe_nat_gateways().filter(vpc_filter("vpc-id", vpc_id)), "ec2:DescribeNatGateways", nat_gateways),
        every_page!(ec2.describe_vpc_endpoints().filters(vpc_filter("vpc-id", vpc_id)), "ec2:DescribeVpcEndpoints", vpc_endpoints),
        every_page!(ec2.describe_security_groups().filters(vpc_filter("vpc-id", vpc_id)), "ec2:DescribeSecurityGroups", security_groups),
        every_page!(ec2.describe_network_acls().filters(vpc_filter("vpc-id", vpc_id)), "ec2:DescribeNetworkAcls", network_acls),
        every_page!(
            ec2.describe_prefix_lists().filters(vpc_filter("prefix-list-name", &super::s3_service(region))),
            "ec2:DescribePrefixLists",
            prefix_lists
        ),
    );
    let s3_prefix_list = prefix_lists?.first().map(|l| super::PrefixList {
        id: l.prefix_list_id().unwrap_or_default().to_owned(),
        cidrs: l.cidrs().iter().filter_map(|c| c.parse().ok()).collect(),
    });
    let subnets = all
        .iter()
        .filter(|s| s.vpc_id() == Some(vpc_id))
        .filter_map(|s| {
            let id = s.subnet_id()?.to_owned();
            let subnet = Subnet {
                id: id.clone(),
                cidr: cidr(s.cidr_block())?,
                zone: s.availability_zone().unwrap_or_default().to_owned(),
                map_public_ip: s.map_public_ip_on_launch().unwrap_or(false),
            };
            Some((id, subnet))
        })
        .collect();
    let route_tables = tables?
        .iter()
        .map(|t| RouteTable {
            id: t.route_table_id().unwrap_or_default().to_owned(),
            main: t.associations().iter().any(|a| a.main() == Some(true)),
            subnets: t.associations().iter().filter_map(|a| a.subnet_id()).map(str::to_owned).collect(),
            routes: t.routes().iter().filter_map(route).collect(),
        })
        .collect();
    let internet_gateways = gateways?
        .iter()
        .filter(|g| g.attachments().iter().any(|a| a.vpc_id() == Some(vpc_id)))
        .filter_map(|g| g.internet_gateway_id().map(str::to_owned))
        .collect();
    let nat_gateways = nats?
        .iter()
        .map(|n| NatGateway {
            id: n.nat_gateway_id().unwrap_or_default().to_owned(),
            subnet: n.subnet_id().unwrap_or_default().to_owned(),
            available: n.state() == Some(&NatGatewayState::Available),
        })
        .collect();
    let endpoints = endpoints?
        .iter()
        .filter(|e| !matches!(e.state().map(|s| s.as_str()), Some("deleted" | "deleting" | "failed" | "rejected" | "Deleted" | "Deleting")))
        .map(|e| Endpoint {
            id: e.vpc_endpoint_id().unwrap_or_default().to_owned(),
            service: e.service_name().unwrap_or_default().to_owned(),
            gateway: e.vpc_endpoint_type() == Some(&VpcEndpointType::Gateway),
            route_tables: e.route_table_ids().to_vec(),
            tags: ec2_tags::from_ec2(e.tags()),
        })
        .collect();
    let groups = groups?
        .iter()
        .map(|g| {
            let id = g.group_id().unwrap_or_default().to_owned();
            let group = SecurityGroup {
                id: id.clone(),
                name: g.group_name().unwrap_or_default().to_owned(),
                ingress: g.ip_permissions().iter().flat_map(rules).collect(),
                egress: g.ip_permissions_egress().iter().flat_map(rules).collect(),
                tags: ec2_tags::from_ec2(g.tags()),
            };
            (id, group)
        })
        .collect();
    let acls = acls?
        .iter()
        .map(|a| NetworkAcl {
            id: a.network_acl_id().unwrap_or_default().to_owned(),
            default: a.is_default().unwrap_or(false),
            subnets: a.associations().iter().filter_map(|s| s.subnet_id()).map(str::to_owned).collect(),
            entries: a
                .entries()
                .iter()
                .filter_map(|e| {
                    Some(AclEntry {
                        number: e.rule_number()?,
                        egress: e.egress().unwrap_or(false),
                        protocol: e.protocol().unwrap_or("-1").to_owned(),
                        ports: e.port_range().and_then(|p| Some((u16::try_from(p.from()?).ok()?, u16::try_from(p.to()?).ok()?))),
                        // IPv6 entries have no IPv4 block: they guard none of these paths.
                        cidr: cidr(e.cidr_block())?,
                        allow: e.rule_action() == Some(&RuleAction::Allow),
                    })
                })
                .collect(),
        })
        .collect();
    Ok(Some(Network {
        region: region.to_owned(),
        vpc_id: vpc_id.to_owned(),
        subnets,
        route_tables,
        internet_gateways,
        nat_gateways,
        endpoints,
        groups,
        acls,
        s3_prefix_list,
    }))
}

fn route(r: &aws_sdk_ec2::types::Route) -> Option<Route> {
    let destination = match (cidr(r.destination_cidr_block()), r.destination_prefix_list_id()) {
        (Some(block), _) => Destination::Cidr(block),
        (None, Some(list)) => Destination::PrefixList(list.to_owned()),
        // IPv6 routes carry none of these paths.
        (None, None) => return None,
    };
    let target = match (r.gateway_id(), r.nat_gateway_id()) {
        (Some("local"), _) => Target::Local,
        (Some(id), _) if id.starts_with("igw-") => Target::InternetGateway(id.to_owned()),
        (Some(id), _) if id.starts_with("vpce-") => Target::Endpoint(id.to_owned()),
        (_, Some(nat)) => Target::NatGateway(nat.to_owned()),
        (Some(other), _) => Target::Other(other.to_owned()),
        (None, None) => Target::Other(
            [r.transit_gateway_id(), r.vpc_peering_connection_id(), r.network_interface_id(), r.instance_id()]
                .into_iter()
                .flatten()
                .next()
                .unwrap_or("another target")
                .to_owned(),
        ),
    };
    Some(Route { destination, target, blackhole: r.state() == Some(&RouteState::Blackhole) })
}

/// One rule per peer of an `IpPermission`.
fn rules(permission: &IpPermission) -> Vec<Rule> {
    let protocol = permission.ip_protocol().unwrap_or("-1").to_owned();
    let (from_port, to_port) = (permission.from_port().unwrap_or(-1), permission.to_port().unwrap_or(-1));
    let rule = |peer| Rule { protocol: protocol.clone(), from_port, to_port, peer };
    let cidrs = permission.ip_ranges().iter().filter_map(|r| cidr(r.cidr_ip())).map(Peer::Cidr);
    let groups = permission.user_id_group_pairs().iter().filter_map(|p| p.group_id()).map(|g| Peer::Group(g.to_owned()));
    let lists = permission.prefix_list_ids().iter().filter_map(|p| p.prefix_list_id()).map(|l| Peer::PrefixList(l.to_owned()));
    cidrs.chain(groups).chain(lists).map(rule).collect()
}

/// The region's default VPC, if it has one.
pub async fn default_vpc(aws: &Aws) -> Result<Option<String>, AwsError> {
    let vpcs = aws
        .ec2
        .describe_vpcs()
        .filters(Filter::builder().name("is-default").values("true").build())
        .send()
        .await
        .or_aws("ec2:DescribeVpcs")?;
    Ok(vpcs.vpcs().first().and_then(|v| v.vpc_id()).map(str::to_owned))
}
