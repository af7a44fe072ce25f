//! The network the pipeline runs in, as one round of EC2 `Describe*` calls reads it, and the
//! pure check of the five paths the pipeline needs (`docs/network.md`).
//!
//! pinfra does not own the VPC, its subnets, route tables, gateways or network ACLs. It reads
//! them once per run ([`read`]), places the Kafka client ([`paths::place_client`]), and judges
//! each path hop by hop ([`paths`]): a path is open, or the first hop that blocks it is named in
//! words a person can act on. The sandbox's data path enforces the same rules
//! (`scripts/sandbox_ext/network.py`), so "open" here is "data flows" there.

pub mod paths;
mod read;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

pub use paths::{Blocked, Path, PathReport, Pipeline, Place};
pub use read::{default_vpc, read};

use crate::engine::Tags;

/// A subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet {
    /// `subnet-…`.
    pub id: String,
    /// Its IPv4 block.
    pub cidr: Ipv4Net,
    /// Its availability zone.
    pub zone: String,
    /// Whether instances launched into it get a public address by default.
    pub map_public_ip: bool,
}

/// Where a route sends traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Inside the VPC.
    Local,
    /// An internet gateway, `igw-…`.
    InternetGateway(String),
    /// A NAT gateway, `nat-…`.
    NatGateway(String),
    /// A gateway endpoint, `vpce-…`.
    Endpoint(String),
    /// Anything else (peering, transit gateway, an instance, an interface): not followed.
    Other(String),
}

/// What a route covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// An IPv4 block.
    Cidr(Ipv4Net),
    /// A prefix list, `pl-…` (an S3 gateway endpoint's).
    PrefixList(String),
}

/// One route of a route table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// What it covers.
    pub destination: Destination,
    /// Where it sends it.
    pub target: Target,
    /// A route whose target is gone carries nothing.
    pub blackhole: bool,
}

/// A route table and the subnets it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTable {
    /// `rtb-…`.
    pub id: String,
    /// The VPC's main table serves every subnet without an explicit association.
    pub main: bool,
    /// Subnets explicitly associated.
    pub subnets: Vec<String>,
    /// Its routes.
    pub routes: Vec<Route>,
}

/// A NAT gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatGateway {
    /// `nat-…`.
    pub id: String,
    /// The subnet it sits in (which must route to an internet gateway).
    pub subnet: String,
    /// Only an `available` NAT gateway carries traffic.
    pub available: bool,
}

/// A VPC endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `vpce-…`.
    pub id: String,
    /// Such as `com.amazonaws.us-east-1.s3`.
    pub service: String,
    /// A gateway endpoint (routes through route tables), not an interface endpoint.
    pub gateway: bool,
    /// The route tables it serves.
    pub route_tables: Vec<String>,
    /// Its tags.
    pub tags: Tags,
}

impl Endpoint {
    /// Whether it is an S3 gateway endpoint of the Region.
    pub fn is_s3_gateway(&self, region: &str) -> bool {
        self.gateway && self.service == s3_service(region)
    }
}

/// The S3 gateway endpoint service of a Region.
pub fn s3_service(region: &str) -> String {
    format!("com.amazonaws.{region}.s3")
}

/// The other end of a security-group rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// An IPv4 block.
    Cidr(Ipv4Net),
    /// Members of a security group, `sg-…`.
    Group(String),
    /// A prefix list, `pl-…`.
    PrefixList(String),
}

/// One security-group rule, one peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// `tcp`, `udp`, `icmp`, a number, or `-1` for all.
    pub protocol: String,
    /// First port (ignored for `-1`).
    pub from_port: i32,
    /// Last port.
    pub to_port: i32,
    /// The other end.
    pub peer: Peer,
}

/// A security group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityGroup {
    /// `sg-…`.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Inbound rules.
    pub ingress: Vec<Rule>,
    /// Outbound rules.
    pub egress: Vec<Rule>,
    /// Its tags.
    pub tags: Tags,
}

/// One network-ACL entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclEntry {
    /// Rule number: entries are evaluated from the lowest.
    pub number: i32,
    /// Outbound (true) or inbound.
    pub egress: bool,
    /// `6` (TCP), `-1` (all), or another protocol number.
    pub protocol: String,
    /// Port range, for TCP and UDP entries.
    pub ports: Option<(u16, u16)>,
    /// The peer's block.
    pub cidr: Ipv4Net,
    /// Allow or deny.
    pub allow: bool,
}

/// A network ACL and the subnets it guards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkAcl {
    /// `acl-…`.
    pub id: String,
    /// The VPC's default ACL guards every subnet without an explicit association.
    pub default: bool,
    /// Subnets explicitly associated.
    pub subnets: Vec<String>,
    /// Its entries, both directions.
    pub entries: Vec<AclEntry>,
}

/// One VPC as it was read: everything a path can cross.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Network {
    /// The Region (the S3 endpoint service is named after it).
    pub region: String,
    /// `vpc-…`.
    pub vpc_id: String,
    /// Its subnets, by id.
    pub subnets: BTreeMap<String, Subnet>,
    /// Its route tables.
    pub route_tables: Vec<RouteTable>,
    /// Internet gateways attached to it.
    pub internet_gateways: Vec<String>,
    /// Its NAT gateways.
    pub nat_gateways: Vec<NatGateway>,
    /// Its VPC endpoints.
    pub endpoints: Vec<Endpoint>,
    /// Its security groups, by id.
    pub groups: BTreeMap<String, SecurityGroup>,
    /// Its network ACLs.
    pub acls: Vec<NetworkAcl>,
    /// The Region's S3 prefix list (DescribePrefixLists), when it was read.
    pub s3_prefix_list: Option<PrefixList>,
}

/// An AWS-managed prefix list: a service's addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixList {
    /// `pl-…`.
    pub id: String,
    /// Its IPv4 blocks.
    pub cidrs: Vec<Ipv4Net>,
}

impl Network {
    /// The route table serving `subnet`: its explicit association, else the VPC's main table.
    pub fn route_table(&self, subnet: &str) -> Option<&RouteTable> {
        self.route_tables.iter().find(|t| t.subnets.iter().any(|s| s == subnet)).or_else(|| self.route_tables.iter().find(|t| t.main))
    }

    /// The network ACL guarding `subnet`: its explicit association, else the VPC's default.
    pub fn acl(&self, subnet: &str) -> Option<&NetworkAcl> {
        self.acls.iter().find(|a| a.subnets.iter().any(|s| s == subnet)).or_else(|| self.acls.iter().find(|a| a.default))
    }

    /// The security group named `name`.
    pub fn group_named(&self, name: &str) -> Option<&SecurityGroup> {
        self.groups.values().find(|g| g.name == name)
    }

    /// The S3 gateway endpoint serving route table `table`, if any.
    pub fn s3_endpoint_of(&self, table: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.is_s3_gateway(&self.region) && e.route_tables.iter().any(|t| t == table))
    }

    /// S3's prefix lists (`pl-…`): the one DescribePrefixLists names, and those the routes to S3
    /// gateway endpoints point at.
    pub fn s3_prefix_lists(&self) -> Vec<&str> {
        let endpoints: Vec<&str> = self.endpoints.iter().filter(|e| e.is_s3_gateway(&self.region)).map(|e| e.id.as_str()).collect();
        let mut lists: Vec<&str> = self
            .route_tables
            .iter()
            .flat_map(|t| &t.routes)
            .filter_map(|r| match (&r.destination, &r.target) {
                (Destination::PrefixList(pl), Target::Endpoint(e)) if endpoints.contains(&e.as_str()) => Some(pl.as_str()),
                _ => None,
            })
            .collect();
        lists.extend(self.s3_prefix_list.as_ref().map(|l| l.id.as_str()));
        lists.sort_unstable();
        lists.dedup();
        lists
    }

    /// An address of `subnet`'s block, when nothing more precise is known.
    pub fn subnet_block(&self, subnet: &str) -> Option<Ipv4Net> {
        self.subnets.get(subnet).map(|s| s.cidr)
    }
}

/// An address as a one-address block.
pub fn host(address: Ipv4Addr) -> Ipv4Net {
    Ipv4Net::new(address, 32).unwrap_or_default()
}
