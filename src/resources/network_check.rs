//! The pipeline's five paths on the network it was read from: as they are now, and as `apply`
//! leaves them (with the client's group, its rules, the brokers' rule and the S3 endpoint that
//! the plan owns put in as planned). `diff` shows both and refuses a path that stays blocked;
//! `verify` shows them before it sends a record.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde_json::{Value as Json, json};

use super::{Discovery, brokers, connector_placement, ec2_instance, ec2_security_group_rule, ec2_vpc_endpoint};
use crate::engine::{Outputs, Presence, ResourceId, Value};
use crate::network::paths::{Blocked, Path, Pipeline, Place, check};
use crate::network::{Destination, Endpoint, Network, Peer, Route, Rule, SecurityGroup, Target};
use crate::plan::Plan;

/// One path, now and after apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathCheck {
    /// Which path.
    pub path: Path,
    /// Its TCP port.
    pub port: u16,
    /// As the network is now.
    pub now: Result<(), Blocked>,
    /// As `apply` leaves it.
    pub after_apply: Result<(), Blocked>,
}

impl PathCheck {
    /// `open`, `opened by apply`, `blocked` or `unverified`.
    pub fn status(&self) -> &'static str {
        match (&self.now, &self.after_apply) {
            (Ok(()), Ok(())) => "open",
            (Err(_), Ok(())) => "opened by apply",
            (_, Err(b)) if b.certain => "blocked",
            (_, Err(_)) => "unverified",
        }
    }
}

/// Every path of the pipeline on its VPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkCheck {
    /// The brokers' VPC.
    pub vpc: String,
    /// The paths, in `Path` order.
    pub paths: Vec<PathCheck>,
    /// What pinfra leaves to others on the way (an S3 endpoint it does not own).
    pub notes: Vec<String>,
}

impl NetworkCheck {
    /// The paths that stay blocked after apply (what only a change to the network or the plan
    /// can open).
    pub fn blocked(&self) -> impl Iterator<Item = (&PathCheck, &Blocked)> {
        self.paths.iter().filter_map(|p| p.after_apply.as_ref().err().filter(|b| b.certain).map(|b| (p, b)))
    }

    /// The paths as lines of text, for the diff (`after_apply`) or for `verify` (now).
    pub fn text(&self, now: bool) -> String {
        let open = |p: &PathCheck| if now { p.now.is_ok() } else { p.now.is_ok() && p.after_apply.is_ok() };
        let mut text = if self.paths.iter().all(open) {
            format!("Network paths (VPC {}): all {} open.\n", self.vpc, self.paths.len())
        } else {
            format!("Network paths (VPC {}):\n", self.vpc)
        };
        for note in &self.notes {
            let _ = writeln!(text, "  # {note}");
        }
        if self.paths.iter().all(open) {
            return text;
        }
        for p in &self.paths {
            let verdict = if now { &p.now } else { &p.after_apply };
            let status = match (now, verdict) {
                (true, Ok(())) => "open",
                (true, Err(b)) if b.certain => "blocked",
                (true, Err(_)) => "unverified",
                (false, _) => p.status(),
            };
            let _ = write!(text, "  {:<22} TCP {:<5} {status}", p.path.name(), p.port);
            match verdict {
                Err(b) => {
                    let _ = writeln!(text, ": {}", b.reason);
                    let _ = writeln!(text, "  {:<32} hint: {}", "", b.hint);
                }
                Ok(()) => text.push('\n'),
            }
        }
        text
    }

    /// The paths as JSON (`diff --json`, `verify --json`).
    pub fn json(&self) -> Json {
        let verdict = |v: &Result<(), Blocked>| match v {
            Ok(()) => json!({"open": true}),
            Err(b) => json!({"open": false, "certain": b.certain, "hop": b.hop, "reason": b.reason, "hint": b.hint}),
        };
        json!({
            "vpc": self.vpc,
            "notes": self.notes,
            "paths": self.paths.iter().map(|p| json!({
                "path": p.path.key(),
                "port": p.port,
                "status": p.status(),
                "now": verdict(&p.now),
                "after_apply": verdict(&p.after_apply),
            })).collect::<Vec<_>>(),
        })
    }
}

/// The placeholder id of the client's group before it exists.
fn new_group(name: &str) -> String {
    format!("(new group {name})")
}

fn string(outputs: Option<&Outputs>, key: &str) -> Option<String> {
    match outputs?.get(key)? {
        Value::Known(Json::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// Checks the paths, `None` when the brokers' network was not read. `outputs` are the observed
/// resources'; `relaunched` says whether apply launches the instance anew (created or replaced).
pub fn check_network(
    plan: &Plan,
    discovery: &Discovery,
    outputs: &BTreeMap<ResourceId, Outputs>,
    relaunched: bool,
) -> Option<NetworkCheck> {
    let net = discovery.network.as_ref()?;
    let client = &plan.kafka_client;
    let (broker_subnets, broker_groups) = brokers(discovery, plan);
    let place = |what: &str, subnets: Vec<String>, groups: Vec<String>| Place {
        what: what.to_owned(),
        subnets,
        groups,
        address: None,
        public_ip: false,
    };
    let client_group = net.group_named(&client.security_group).map_or_else(|| new_group(&client.security_group), |g| g.id.clone());
    let client_groups: Vec<String> = std::iter::once(client_group.clone()).chain(client.extra_security_groups.iter().cloned()).collect();
    let instance = outputs.get(&ResourceId::new(ec2_instance::KIND, &client.instance_name));
    let live_client = string(instance, ec2_instance::OUTPUT_SUBNET).map(|subnet| Place {
        what: "the Kafka client".to_owned(),
        subnets: vec![subnet],
        groups: client_groups.clone(),
        address: string(instance, ec2_instance::OUTPUT_PRIVATE_IP).and_then(|a| a.parse::<Ipv4Addr>().ok()),
        public_ip: string(instance, "public_ip").is_some(),
    });
    let pipeline = Pipeline {
        client: live_client.clone(),
        brokers: place("the brokers", broker_subnets, broker_groups.clone()),
        broker_port: ec2_security_group_rule::IAM_BROKER_PORT,
        connector: connector_placement(discovery, plan).map(|(subnets, groups)| place("the connector's workers", subnets, groups)),
        proxy_port: plan.api.as_ref().map(|_| client.rest_proxy_port),
    };
    let now = check(net, &pipeline);

    let projected = project(plan, discovery, net, &client_group, &broker_groups);
    let planned_client = match ec2_instance::Placement::in_network(Some(net), client.subnet_id.as_deref()) {
        ec2_instance::Placement::Subnet { subnet, .. } => Some(Place {
            what: "the Kafka client".to_owned(),
            subnets: vec![subnet],
            groups: client_groups,
            address: None,
            public_ip: true,
        }),
        ec2_instance::Placement::Default | ec2_instance::Placement::Refused { .. } => None,
    };
    let after_client = if relaunched { planned_client } else { live_client.or(planned_client) };
    let after = check(&projected, &Pipeline { client: after_client, ..pipeline });
    let paths = now
        .into_iter()
        .zip(after)
        .map(|(now, after)| PathCheck { path: now.path, port: now.port, now: now.verdict, after_apply: after.verdict })
        .collect();
    let notes = others_endpoints(plan, discovery, net);
    Some(NetworkCheck { vpc: net.vpc_id.clone(), paths, notes })
}

/// The S3 gateway endpoints someone else owns that serve the connector's route tables: pinfra
/// leaves them as they are and makes none there.
fn others_endpoints(plan: &Plan, discovery: &Discovery, net: &Network) -> Vec<String> {
    let (Some(connect), Some((subnets, _))) = (&plan.connect, connector_placement(discovery, plan)) else { return Vec::new() };
    let ours = ec2_vpc_endpoint::name_for(&connect.connector.name);
    let mut tables: Vec<&str> = subnets.iter().filter_map(|s| net.route_table(s)).map(|t| t.id.as_str()).collect();
    tables.sort_unstable();
    tables.dedup();
    net.endpoints
        .iter()
        .filter(|e| e.is_s3_gateway(&net.region) && e.tags.get("Name") != Some(&ours))
        .filter_map(|e| {
            let served: Vec<&str> = tables.iter().copied().filter(|t| e.route_tables.iter().any(|r| r == t)).collect();
            (!served.is_empty())
                .then(|| format!("S3 gateway endpoint {} (not pinfra's) serves route table(s) {}: left as it is", e.id, served.join(", ")))
        })
        .collect()
}

/// The network as `apply` leaves it: the client's group with its planned ingress, the brokers'
/// rules, the S3 endpoint.
fn project(plan: &Plan, discovery: &Discovery, net: &Network, client_group: &str, broker_groups: &[String]) -> Network {
    let mut projected = net.clone();
    let client = &plan.kafka_client;
    let planned_ingress =
        client.proxy_sources.iter().map(|c| (client.rest_proxy_port, c)).chain(client.ssh_sources.iter().map(|c| (22, c))).filter_map(
            |(port, cidr)| {
                Some(Rule {
                    protocol: "tcp".into(),
                    from_port: i32::from(port),
                    to_port: i32::from(port),
                    peer: Peer::Cidr(cidr.parse::<Ipv4Net>().ok()?),
                })
            },
        );
    let group = projected.groups.entry(client_group.to_owned()).or_insert_with(|| SecurityGroup {
        id: client_group.to_owned(),
        name: client.security_group.clone(),
        ingress: Vec::new(),
        // A new group's default egress: everything, anywhere.
        egress: vec![Rule { protocol: "-1".into(), from_port: -1, to_port: -1, peer: Peer::Cidr(Ipv4Net::default()) }],
        tags: Default::default(),
    });
    // pinfra owns the group's single-port TCP rules from CIDR blocks (`ec2_security_group`).
    group.ingress.retain(|r| !(r.protocol == "tcp" && r.from_port == r.to_port && matches!(r.peer, Peer::Cidr(_))));
    group.ingress.extend(planned_ingress);
    let broker_rule = |source: &str| Rule {
        protocol: "tcp".into(),
        from_port: i32::from(ec2_security_group_rule::IAM_BROKER_PORT),
        to_port: i32::from(ec2_security_group_rule::IAM_BROKER_PORT),
        peer: Peer::Group(source.to_owned()),
    };
    let connector = connector_placement(discovery, plan);
    if let Some(brokers) = broker_groups.first().and_then(|g| projected.groups.get_mut(g)) {
        brokers.ingress.push(broker_rule(client_group));
        if let Some(own) = connector.as_ref().and_then(|(_, groups)| groups.first()).filter(|g| !broker_groups.contains(*g)) {
            brokers.ingress.push(broker_rule(own));
        }
    }
    if let (Some(connect), Some((subnets, _))) = (&plan.connect, &connector) {
        let name = ec2_vpc_endpoint::name_for(&connect.connector.name);
        if let Some(endpoint) = ec2_vpc_endpoint::Ec2VpcEndpoint::plan(&name, net, subnets, &[], &Default::default())
            && endpoint.presence == Presence::Wanted
        {
            let id = net
                .endpoints
                .iter()
                .find(|e| e.tags.get("Name") == Some(&name))
                .map_or_else(|| format!("(new endpoint {name})"), |e| e.id.clone());
            let list = net.s3_prefix_lists().first().map_or_else(|| "(S3's prefix list)".to_owned(), |l| (*l).to_owned());
            projected.endpoints.retain(|e| e.id != id);
            projected.endpoints.push(Endpoint {
                id: id.clone(),
                service: crate::network::s3_service(&net.region),
                gateway: true,
                route_tables: endpoint.route_tables.iter().cloned().collect(),
                tags: Default::default(),
            });
            for table in projected.route_tables.iter_mut().filter(|t| endpoint.route_tables.contains(&t.id)) {
                if !table.routes.iter().any(|r| r.target == Target::Endpoint(id.clone())) {
                    table.routes.push(Route {
                        destination: Destination::PrefixList(list.clone()),
                        target: Target::Endpoint(id.clone()),
                        blackhole: false,
                    });
                }
            }
        }
    }
    projected
}
