//! The five paths of the pipeline, judged hop by hop on a [`Network`]: pure functions of what
//! was read, with the rules of `docs/network.md`.
//!
//! Each check walks the hops in order (same VPC, route, security groups, network ACLs) and stops
//! at the first that blocks, so the answer names one thing to fix. Where an address is not known
//! (a connector worker takes any address of its subnet; a client not launched yet), the whole
//! subnet's block stands for it: a rule must admit all of it.

use std::fmt;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::{AclEntry, Destination, Network, Peer, Route, RouteTable, Rule, Subnet, Target, host};

/// The ports a Linux host (the Kafka client, an MSK Connect worker) answers from: its
/// ephemeral range, `net.ipv4.ip_local_port_range`.
pub const EPHEMERAL_LINUX: (u16, u16) = (32768, 60999);
/// The ports anything else may use (API Gateway): the range AWS's network ACL guide recommends.
pub const EPHEMERAL_ANY: (u16, u16) = (1024, 65535);
/// HTTPS, for S3 and the user-data's downloads.
pub const HTTPS: u16 = 443;

/// One of the pipeline's paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Path {
    /// The Kafka client (REST proxy, CLI) to every broker.
    ClientToBrokers,
    /// MSK Connect workers to every broker.
    ConnectorToBrokers,
    /// MSK Connect workers to S3 in the Region.
    ConnectorToS3,
    /// API Gateway to the REST proxy's port, over the internet.
    ApiToProxy,
    /// The Kafka client to the internet on 443 (the user-data's downloads).
    ClientToInternet,
}

impl Path {
    /// Its name in the diff, `verify` and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Path::ClientToBrokers => "client -> brokers",
            Path::ConnectorToBrokers => "connector -> brokers",
            Path::ConnectorToS3 => "connector -> S3",
            Path::ApiToProxy => "API Gateway -> proxy",
            Path::ClientToInternet => "client -> internet",
        }
    }

    /// Its key in JSON.
    pub fn key(self) -> &'static str {
        match self {
            Path::ClientToBrokers => "client_to_brokers",
            Path::ConnectorToBrokers => "connector_to_brokers",
            Path::ConnectorToS3 => "connector_to_s3",
            Path::ApiToProxy => "api_to_proxy",
            Path::ClientToInternet => "client_to_internet",
        }
    }
}

/// The hop that blocks a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    /// What blocks, such as `security group sg-0abc` or `network ACL acl-0def`.
    pub hop: String,
    /// Why, in a sentence.
    pub reason: String,
    /// What to do.
    pub hint: String,
    /// False when the hop may still let the traffic through: a rule admits some addresses of
    /// the internet, which may hold API Gateway's or S3's published ranges.
    pub certain: bool,
}

impl fmt::Display for Blocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

fn blocked(hop: impl Into<String>, reason: impl Into<String>, hint: impl Into<String>) -> Blocked {
    Blocked { hop: hop.into(), reason: reason.into(), hint: hint.into(), certain: true }
}

/// One end of a path inside the VPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// How to name it in a sentence: "the Kafka client", "the brokers".
    pub what: String,
    /// Its subnets (brokers and workers are in each of them).
    pub subnets: Vec<String>,
    /// Its security groups.
    pub groups: Vec<String>,
    /// Its private address, when known (one subnet only).
    pub address: Option<Ipv4Addr>,
    /// Whether it has a public address.
    pub public_ip: bool,
}

/// What the paths join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipeline {
    /// The Kafka client; `None` before it is placed.
    pub client: Option<Place>,
    /// The brokers.
    pub brokers: Place,
    /// The brokers' port for the client's authentication (9098 for SASL/IAM).
    pub broker_port: u16,
    /// The connector's workers, with `[connect]`.
    pub connector: Option<Place>,
    /// The REST proxy's port, with `[api]`.
    pub proxy_port: Option<u16>,
}

/// A path and what was found of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathReport {
    /// Which path.
    pub path: Path,
    /// The TCP port it needs.
    pub port: u16,
    /// `Ok` when open.
    pub verdict: Result<(), Blocked>,
}

/// Judges every path the pipeline has.
pub fn check(net: &Network, pipeline: &Pipeline) -> Vec<PathReport> {
    let mut reports = Vec::new();
    let unplaced = || blocked("the Kafka client", "the Kafka client has no place in the VPC yet", "apply the plan");
    let client = pipeline.client.as_ref();
    reports.push(PathReport {
        path: Path::ClientToBrokers,
        port: pipeline.broker_port,
        verdict: client.map_or_else(|| Err(unplaced()), |c| in_vpc(net, c, &pipeline.brokers, pipeline.broker_port)),
    });
    if let Some(connector) = &pipeline.connector {
        reports.push(PathReport {
            path: Path::ConnectorToBrokers,
            port: pipeline.broker_port,
            verdict: in_vpc(net, connector, &pipeline.brokers, pipeline.broker_port),
        });
        reports.push(PathReport { path: Path::ConnectorToS3, port: HTTPS, verdict: outbound(net, connector, HTTPS, true) });
    }
    if let Some(port) = pipeline.proxy_port {
        reports.push(PathReport {
            path: Path::ApiToProxy,
            port,
            verdict: client.map_or_else(|| Err(unplaced()), |c| from_internet(net, c, port)),
        });
    }
    reports.push(PathReport {
        path: Path::ClientToInternet,
        port: HTTPS,
        verdict: client.map_or_else(|| Err(unplaced()), |c| outbound(net, c, HTTPS, false)),
    });
    reports
}

/// The subnets of the VPC a new Kafka client can be placed in, in the order one is picked: each
/// routes `0.0.0.0/0` to an internet gateway attached to the VPC (a public address is requested
/// at launch), sorted by availability zone, then id.
pub fn public_subnets(net: &Network) -> Vec<&Subnet> {
    let mut subnets: Vec<&Subnet> = net.subnets.values().filter(|s| routes_to_internet_gateway(net, &s.id)).collect();
    subnets.sort_by(|a, b| (&a.zone, &a.id).cmp(&(&b.zone, &b.id)));
    subnets
}

/// Whether `subnet`'s route table sends `0.0.0.0/0` to an internet gateway attached to the VPC.
pub fn routes_to_internet_gateway(net: &Network, subnet: &str) -> bool {
    let Some(table) = net.route_table(subnet) else { return false };
    matches!(default_route(&table.routes), Some(Route { target: Target::InternetGateway(igw), blackhole: false, .. })
        if net.internet_gateways.contains(igw))
}

/// Where the Kafka client goes: the plan's subnet (which must be in the VPC), else the first
/// [`public_subnets`] entry.
pub fn place_client(net: &Network, planned: Option<&str>) -> Result<String, Blocked> {
    if let Some(subnet) = planned {
        return if net.subnets.contains_key(subnet) {
            Ok(subnet.to_owned())
        } else {
            Err(blocked(
                format!("subnet {subnet}"),
                format!("subnet {subnet} is not in the cluster's VPC {} (its subnets: {})", net.vpc_id, subnet_list(net)),
                "set `[kafka_client] subnet_id` to a subnet of the cluster's VPC that is routed to an internet gateway, or remove it",
            ))
        };
    }
    public_subnets(net).first().map(|s| s.id.clone()).ok_or_else(|| {
        blocked(
            format!("VPC {}", net.vpc_id),
            format!(
                "no subnet of the cluster's VPC {} routes 0.0.0.0/0 to an internet gateway (its subnets: {}), so API Gateway cannot reach a Kafka client there",
                net.vpc_id,
                subnet_list(net)
            ),
            "add a public subnet (a route table with 0.0.0.0/0 to an attached internet gateway) to the VPC, then set `[kafka_client] subnet_id` or apply again",
        )
    })
}

fn subnet_list(net: &Network) -> String {
    if net.subnets.is_empty() { "none".to_owned() } else { net.subnets.keys().cloned().collect::<Vec<_>>().join(", ") }
}

/// The route for the whole internet, `0.0.0.0/0`, if the table has one.
fn default_route(routes: &[Route]) -> Option<&Route> {
    routes.iter().find(|r| matches!(r.destination, Destination::Cidr(c) if c.prefix_len() == 0))
}

/// The block standing for `place` in `subnet`: its address, else the whole subnet.
fn block(net: &Network, place: &Place, subnet: &str) -> Result<Ipv4Net, Blocked> {
    match (place.address, net.subnet_block(subnet)) {
        (Some(address), _) if place.subnets.len() == 1 => Ok(host(address)),
        (_, Some(block)) => Ok(block),
        (_, None) => Err(blocked(
            format!("subnet {subnet}"),
            format!("{}'s subnet {subnet} is not in VPC {}", place.what, net.vpc_id),
            "peering and transit gateways are not followed: put both ends in one VPC",
        )),
    }
}

/// A peer as a rule or an ACL entry sees it.
#[derive(Debug, Clone, Copy)]
enum Far<'a> {
    /// Hosts of a block, members of some groups.
    Hosts { block: Ipv4Net, groups: &'a [String] },
    /// The internet: only rules for all of it (`0.0.0.0/0`) count.
    Internet,
    /// S3: the internet, or S3's prefix lists.
    S3 { prefix_lists: &'a [&'a str] },
}

impl Far<'_> {
    fn describe(&self, what: &str) -> String {
        match self {
            Far::Hosts { .. } => what.to_owned(),
            Far::Internet => "the internet (0.0.0.0/0)".to_owned(),
            Far::S3 { .. } => "S3 (0.0.0.0/0 or S3's prefix list)".to_owned(),
        }
    }
}

fn is_tcp(protocol: &str) -> bool {
    matches!(protocol, "tcp" | "6" | "-1")
}

fn rule_admits(rule: &Rule, port: u16, far: Far<'_>) -> bool {
    let ports = rule.protocol == "-1" || (rule.from_port <= i32::from(port) && i32::from(port) <= rule.to_port);
    let peer = match (&rule.peer, far) {
        (Peer::Cidr(c), Far::Hosts { block, .. }) => c.contains(&block),
        (Peer::Group(g), Far::Hosts { groups, .. }) => groups.contains(g),
        (Peer::Cidr(c), Far::Internet | Far::S3 { .. }) => c.prefix_len() == 0,
        (Peer::PrefixList(pl), Far::S3 { prefix_lists }) => prefix_lists.contains(&pl.as_str()),
        _ => false,
    };
    is_tcp(&rule.protocol) && ports && peer
}

/// Whether any of `groups` has a rule (egress or ingress) admitting TCP `port` with `far`.
fn groups_admit(net: &Network, place: &Place, egress: bool, port: u16, far: Far<'_>, far_what: &str) -> Result<(), Blocked> {
    let admits = place.groups.iter().filter_map(|g| net.groups.get(g)).any(|g| {
        let rules = if egress { &g.egress } else { &g.ingress };
        rules.iter().any(|r| rule_admits(r, port, far))
    });
    if admits {
        return Ok(());
    }
    let groups = if place.groups.is_empty() { "(none)".to_owned() } else { place.groups.join(", ") };
    let (direction, preposition) = if egress { ("outbound", "to") } else { ("inbound", "from") };
    // Towards the internet a rule for some of its addresses may hold the service's published
    // ranges (ip-ranges.json): that cannot be judged here.
    let partial = matches!(far, Far::Internet | Far::S3 { .. })
        && place.groups.iter().filter_map(|g| net.groups.get(g)).any(|g| {
            let rules = if egress { &g.egress } else { &g.ingress };
            rules.iter().any(|r| {
                let widened = Rule { peer: Peer::Cidr(Ipv4Net::default()), ..r.clone() };
                matches!(r.peer, Peer::Cidr(_)) && rule_admits(&widened, port, far)
            })
        });
    let mut found = blocked(
        format!("security group {groups}"),
        format!("{}'s security group {groups} admits no {direction} TCP {port} {preposition} {}", place.what, far.describe(far_what)),
        format!("add an {direction} rule for TCP {port} {preposition} {} to {groups}", far.describe(far_what)),
    );
    if partial {
        found.certain = false;
        found.reason = format!(
            "{}'s security group {groups} admits {direction} TCP {port} only {preposition} some addresses, which may not hold {}'s",
            place.what, far_what
        );
        found.hint = format!("unless those are {far_what}'s published ranges (ip-ranges.json), allow 0.0.0.0/0");
    }
    Err(found)
}

/// A network ACL's verdict on traffic: `Ok`, or the entry that denies it.
fn acl_admits(net: &Network, subnet: &str, egress: bool, ports: (u16, u16), far: Far<'_>, far_what: &str) -> Result<(), Blocked> {
    let Some(acl) = net.acl(subnet) else { return Ok(()) };
    let mut entries: Vec<&AclEntry> = acl.entries.iter().filter(|e| e.egress == egress).collect();
    entries.sort_by_key(|e| e.number);
    let direction = if egress { "outbound" } else { "inbound" };
    let preposition = if egress { "to" } else { "from" };
    let range = if ports.0 == ports.1 { format!("TCP {}", ports.0) } else { format!("TCP {}-{}", ports.0, ports.1) };
    let deny = |rule: String| {
        blocked(
            format!("network ACL {}", acl.id),
            format!(
                "network ACL {} of subnet {subnet} denies {direction} {range} {preposition} {} ({rule})",
                acl.id,
                far.describe(far_what)
            ),
            format!(
                "allow {direction} {range} {preposition} {} in {} ahead of that entry (network ACLs are stateless: the return traffic needs its own entry)",
                far.describe(far_what),
                acl.id
            ),
        )
    };
    for entry in entries {
        if !is_tcp(&entry.protocol) {
            continue;
        }
        let (port_meets, port_holds) = match entry.ports {
            None => (true, true),
            Some((from, to)) => (from <= ports.1 && ports.0 <= to, from <= ports.0 && ports.1 <= to),
        };
        let (peer_meets, peer_holds) = match far {
            Far::Hosts { block, .. } => {
                let meets = entry.cidr.contains(&block.network()) || block.contains(&entry.cidr.network());
                (meets, entry.cidr.contains(&block))
            }
            Far::Internet | Far::S3 { .. } => (entry.cidr.prefix_len() == 0, entry.cidr.prefix_len() == 0),
        };
        if !(port_meets && peer_meets) {
            continue;
        }
        if !entry.allow {
            return Err(deny(if entry.number >= 32767 { "its last entry, *".to_owned() } else { format!("rule {}", entry.number) }));
        }
        if port_holds && peer_holds {
            return Ok(());
        }
        // An allow for part of the traffic: the rest is decided further down.
    }
    Err(deny("its last entry, *".to_owned()))
}

/// A path inside the VPC: every subnet of `from` to every subnet of `to` on TCP `port`.
fn in_vpc(net: &Network, from: &Place, to: &Place, port: u16) -> Result<(), Blocked> {
    for source in &from.subnets {
        for target in &to.subnets {
            // Same VPC: both subnets were read from it. The local route carries the rest.
            let (source_block, target_block) = (block(net, from, source)?, block(net, to, target)?);
            let source_far = Far::Hosts { block: source_block, groups: &from.groups };
            let target_far = Far::Hosts { block: target_block, groups: &to.groups };
            groups_admit(net, from, true, port, target_far, &to.what)?;
            groups_admit(net, to, false, port, source_far, &from.what)?;
            // Network ACLs guard a subnet's edge, not traffic inside one subnet.
            if source != target {
                acl_admits(net, source, true, (port, port), target_far, &to.what)?;
                acl_admits(net, target, false, (port, port), source_far, &from.what)?;
                acl_admits(net, target, true, EPHEMERAL_LINUX, source_far, &from.what)?;
                acl_admits(net, source, false, EPHEMERAL_LINUX, target_far, &to.what)?;
            }
        }
    }
    Ok(())
}

/// From every subnet of `from` out of the VPC on TCP `port`: to S3 (`s3`), else the internet.
fn outbound(net: &Network, from: &Place, port: u16, s3: bool) -> Result<(), Blocked> {
    let prefix_lists = net.s3_prefix_lists();
    let far = if s3 { Far::S3 { prefix_lists: &prefix_lists } } else { Far::Internet };
    let what = if s3 { "S3" } else { "the internet" };
    for subnet in &from.subnets {
        block(net, from, subnet)?;
        route_out(net, from, subnet, s3)?;
        groups_admit(net, from, true, port, far, what)?;
        // Network ACLs see S3's addresses: each of its blocks, when they were read.
        let cidrs = destinations(net, s3);
        let peers: Vec<Far<'_>> =
            if cidrs == [Ipv4Net::default()] { vec![far] } else { cidrs.iter().map(|c| Far::Hosts { block: *c, groups: &[] }).collect() };
        for peer in peers {
            acl_admits(net, subnet, true, (port, port), peer, what)?;
            acl_admits(net, subnet, false, EPHEMERAL_LINUX, peer, what)?;
        }
    }
    Ok(())
}

/// The blocks a path out of the VPC must carry: S3's prefix-list CIDRs (when read), else the
/// whole internet.
fn destinations(net: &Network, s3: bool) -> Vec<Ipv4Net> {
    match (&net.s3_prefix_list, s3) {
        (Some(list), true) if !list.cidrs.is_empty() => list.cidrs.clone(),
        _ => vec![Ipv4Net::default()],
    }
}

/// The route out of `subnet` for each destination block: the most specific route that holds
/// it, where an S3 gateway endpoint's prefix-list route counts with the length of the block
/// (the internet: it beats `0.0.0.0/0`) and a CIDR route of the same length wins. A CIDR route
/// must go to an attached internet gateway (with a public address) or an available NAT gateway
/// in a public subnet.
fn route_out(net: &Network, from: &Place, subnet: &str, s3: bool) -> Result<(), Blocked> {
    let Some(table) = net.route_table(subnet) else {
        return Err(blocked(
            format!("subnet {subnet}"),
            format!("subnet {subnet} has no route table and the VPC no main one"),
            "associate a route table",
        ));
    };
    let hop = format!("route table {}", table.id);
    let endpoint = if s3 { net.s3_endpoint_of(&table.id) } else { None };
    // The endpoint's own list of route tables is what decides: EC2 adds its prefix-list route
    // to each table on its own, so a read that raced a new endpoint (another environment's, made
    // a moment ago) can see the endpoint before its route. The route is then taken as there.
    let added = endpoint.map(|e| Route {
        destination: Destination::PrefixList(String::new()),
        target: Target::Endpoint(e.id.clone()),
        blackhole: false,
    });
    let endpoint_route = endpoint.and_then(|e| table.routes.iter().find(|r| r.target == Target::Endpoint(e.id.clone()))).or(added.as_ref());
    let hint = if s3 {
        "add an S3 gateway endpoint for this route table (pinfra makes one when none serves it), or a 0.0.0.0/0 route to a NAT gateway"
    } else {
        "add a 0.0.0.0/0 route to an internet gateway (with a public address) or a NAT gateway"
    };
    for block in destinations(net, s3) {
        let cidr_route = table
            .routes
            .iter()
            .filter_map(|r| match r.destination {
                Destination::Cidr(c) if c.contains(&block) => Some((c.prefix_len(), r)),
                _ => None,
            })
            .max_by_key(|(len, _)| *len);
        let route = match (endpoint_route, cidr_route) {
            (Some(e), Some((len, r))) => {
                if len >= block.prefix_len() && block.prefix_len() > 0 {
                    r
                } else {
                    e
                }
            }
            (Some(e), None) => e,
            (None, Some((_, r))) => r,
            (None, None) => {
                let missing = if s3 {
                    format!(
                        "route table {} of subnet {subnet} has no route to S3: no S3 gateway endpoint serves it and it has no default route to a NAT gateway{}",
                        table.id,
                        if from.public_ip { " or an internet gateway" } else { "" }
                    )
                } else {
                    format!("route table {} of subnet {subnet} has no route to the internet (0.0.0.0/0)", table.id)
                };
                return Err(blocked(hop, missing, hint));
            }
        };
        judge_route(net, from, subnet, table, route, block, s3, hint)?;
    }
    Ok(())
}

/// Whether `route`, the one chosen for `block`, carries the traffic.
#[allow(clippy::too_many_arguments)]
fn judge_route(
    net: &Network,
    from: &Place,
    subnet: &str,
    table: &RouteTable,
    route: &Route,
    block: Ipv4Net,
    s3: bool,
    hint: &str,
) -> Result<(), Blocked> {
    let hop = format!("route table {}", table.id);
    if route.blackhole {
        return Err(blocked(hop, format!("route table {}'s route for {block} is a blackhole", table.id), hint));
    }
    match &route.target {
        Target::Endpoint(_) if s3 => Ok(()),
        Target::InternetGateway(igw) if !net.internet_gateways.contains(igw) => Err(blocked(
            hop,
            format!("route table {} sends {block} to {igw}, which is not attached to VPC {}", table.id, net.vpc_id),
            "attach the internet gateway to the VPC",
        )),
        Target::InternetGateway(igw) if !from.public_ip => Err(blocked(
            format!("subnet {subnet}"),
            format!("{} (no public address) cannot use internet gateway {igw}", from.what),
            if s3 {
                "MSK Connect workers have private addresses only: add an S3 gateway endpoint for this route table, or route 0.0.0.0/0 to a NAT gateway"
            } else {
                "give the instance a public address (pinfra requests one at launch), or route 0.0.0.0/0 to a NAT gateway"
            },
        )),
        Target::InternetGateway(_) => Ok(()),
        Target::NatGateway(nat) => match net.nat_gateways.iter().find(|n| &n.id == nat) {
            Some(n) if n.available && routes_to_internet_gateway(net, &n.subnet) => Ok(()),
            Some(n) if n.available => Err(blocked(
                format!("NAT gateway {nat}"),
                format!("NAT gateway {nat} sits in subnet {}, which does not route 0.0.0.0/0 to an internet gateway", n.subnet),
                "a NAT gateway must be in a public subnet",
            )),
            _ => Err(blocked(
                format!("NAT gateway {nat}"),
                format!("NAT gateway {nat} of route table {} is not available", table.id),
                "replace the NAT gateway, or point the route at an available one",
            )),
        },
        other => Err(blocked(
            hop,
            format!("route table {} sends {block} to {}, which pinfra does not follow", table.id, target_name(other)),
            hint,
        )),
    }
}

fn target_name(target: &Target) -> &str {
    match target {
        Target::Local => "local",
        Target::InternetGateway(id) | Target::NatGateway(id) | Target::Endpoint(id) | Target::Other(id) => id,
    }
}

/// From the internet (API Gateway, which has no fixed addresses) to `to` on TCP `port`.
fn from_internet(net: &Network, to: &Place, port: u16) -> Result<(), Blocked> {
    for subnet in &to.subnets {
        block(net, to, subnet)?;
        if !routes_to_internet_gateway(net, subnet) {
            let table = net.route_table(subnet).map_or("(none)", |t| t.id.as_str());
            return Err(blocked(
                format!("route table {table}"),
                format!(
                    "route table {table} of subnet {subnet} does not route 0.0.0.0/0 to an internet gateway, so API Gateway cannot reach {}",
                    to.what
                ),
                "place the Kafka client in a public subnet (`[kafka_client] subnet_id`)",
            ));
        }
        if !to.public_ip {
            return Err(blocked(
                format!("subnet {subnet}"),
                format!("{} (no public address) cannot be reached by API Gateway", to.what),
                "the instance needs a public address: pinfra requests one at launch; replace the instance",
            ));
        }
        groups_admit(net, to, false, port, Far::Internet, "API Gateway")?;
        acl_admits(net, subnet, false, (port, port), Far::Internet, "API Gateway")?;
        acl_admits(net, subnet, true, EPHEMERAL_ANY, Far::Internet, "API Gateway")?;
    }
    Ok(())
}
