//! Table-driven tests of the path check, one network per case, on the rules real networks trip
//! on (`docs/network.md`).

use std::collections::BTreeMap;

use super::paths::{Path, check, place_client, public_subnets};
use super::*;

fn cidr(text: &str) -> Ipv4Net {
    text.parse().expect("test CIDR")
}

fn rule(protocol: &str, ports: (i32, i32), peer: Peer) -> Rule {
    Rule { protocol: protocol.into(), from_port: ports.0, to_port: ports.1, peer }
}

fn all_out() -> Rule {
    rule("-1", (-1, -1), Peer::Cidr(cidr("0.0.0.0/0")))
}

fn entry(number: i32, egress: bool, ports: Option<(u16, u16)>, block: &str, allow: bool) -> AclEntry {
    AclEntry { number, egress, protocol: if ports.is_some() { "6" } else { "-1" }.into(), ports, cidr: cidr(block), allow }
}

fn open_acl(id: &str, default: bool, subnets: &[&str]) -> NetworkAcl {
    NetworkAcl {
        id: id.into(),
        default,
        subnets: subnets.iter().map(|s| (*s).to_owned()).collect(),
        entries: vec![
            entry(100, false, None, "0.0.0.0/0", true),
            entry(100, true, None, "0.0.0.0/0", true),
            entry(32767, false, None, "0.0.0.0/0", false),
            entry(32767, true, None, "0.0.0.0/0", false),
        ],
    }
}

fn route(destination: Destination, target: Target) -> Route {
    Route { destination, target, blackhole: false }
}

/// The seed's layout: private broker subnets on the main route table (local only), a public
/// subnet routed to an internet gateway, the brokers admitting themselves and the client on
/// 9098, an S3 gateway endpoint on the main table, network ACLs open.
fn seed_layout() -> Network {
    let subnet = |id: &str, block: &str, zone: &str| {
        (id.to_owned(), Subnet { id: id.into(), cidr: cidr(block), zone: zone.into(), map_public_ip: false })
    };
    let group = |id: &str, ingress: Vec<Rule>| {
        (id.to_owned(), SecurityGroup { id: id.into(), name: id.into(), ingress, egress: vec![all_out()], tags: Tags::new() })
    };
    Network {
        region: "us-east-1".into(),
        vpc_id: "vpc-1".into(),
        subnets: BTreeMap::from([
            subnet("subnet-b1", "10.0.1.0/24", "us-east-1a"),
            subnet("subnet-b2", "10.0.2.0/24", "us-east-1b"),
            subnet("subnet-pub", "10.0.101.0/24", "us-east-1a"),
        ]),
        route_tables: vec![
            RouteTable {
                id: "rtb-main".into(),
                main: true,
                subnets: vec![],
                routes: vec![
                    route(Destination::Cidr(cidr("10.0.0.0/16")), Target::Local),
                    route(Destination::PrefixList("pl-s3".into()), Target::Endpoint("vpce-s3".into())),
                ],
            },
            RouteTable {
                id: "rtb-pub".into(),
                main: false,
                subnets: vec!["subnet-pub".into()],
                routes: vec![
                    route(Destination::Cidr(cidr("10.0.0.0/16")), Target::Local),
                    route(Destination::Cidr(cidr("0.0.0.0/0")), Target::InternetGateway("igw-1".into())),
                ],
            },
        ],
        internet_gateways: vec!["igw-1".into()],
        nat_gateways: vec![],
        endpoints: vec![Endpoint {
            id: "vpce-s3".into(),
            service: "com.amazonaws.us-east-1.s3".into(),
            gateway: true,
            route_tables: vec!["rtb-main".into()],
            tags: Tags::new(),
        }],
        groups: BTreeMap::from([
            group(
                "sg-brokers",
                vec![
                    rule("tcp", (9098, 9098), Peer::Group("sg-brokers".into())),
                    rule("tcp", (9098, 9098), Peer::Group("sg-client".into())),
                ],
            ),
            group("sg-client", vec![rule("tcp", (8082, 8082), Peer::Cidr(cidr("0.0.0.0/0")))]),
        ]),
        acls: vec![open_acl("acl-default", true, &[])],
        s3_prefix_list: None,
    }
}

/// S3's prefix list as DescribePrefixLists gives it (two of its blocks).
fn s3_list() -> PrefixList {
    PrefixList { id: "pl-s3".into(), cidrs: vec![cidr("52.216.0.0/15"), cidr("3.5.0.0/19")] }
}

/// The seed layout without the endpoint, the broker subnets routed to a NAT gateway in the
/// public subnet.
fn through_nat(n: &mut Network) {
    n.endpoints.clear();
    n.route_tables[0].routes = vec![
        route(Destination::Cidr(cidr("10.0.0.0/16")), Target::Local),
        route(Destination::Cidr(cidr("0.0.0.0/0")), Target::NatGateway("nat-1".into())),
    ];
    n.nat_gateways.push(NatGateway { id: "nat-1".into(), subnet: "subnet-pub".into(), available: true });
}

fn pipeline() -> Pipeline {
    Pipeline {
        client: Some(Place {
            what: "the Kafka client".into(),
            subnets: vec!["subnet-pub".into()],
            groups: vec!["sg-client".into()],
            address: None,
            public_ip: true,
        }),
        brokers: Place {
            what: "the brokers".into(),
            subnets: vec!["subnet-b1".into(), "subnet-b2".into()],
            groups: vec!["sg-brokers".into()],
            address: None,
            public_ip: false,
        },
        broker_port: 9098,
        connector: Some(Place {
            what: "the connector's workers".into(),
            subnets: vec!["subnet-b1".into(), "subnet-b2".into()],
            groups: vec!["sg-brokers".into()],
            address: None,
            public_ip: false,
        }),
        proxy_port: Some(8082),
    }
}

/// What each path answers: `None` open, else the hop that blocks it.
fn verdicts(net: &Network, pipeline: &Pipeline) -> Vec<(Path, Option<String>)> {
    check(net, pipeline).into_iter().map(|r| (r.path, r.verdict.err().map(|b| b.hop))).collect()
}

fn blocked_at(net: &Network, pipeline: &Pipeline, path: Path) -> Option<Blocked> {
    check(net, pipeline).into_iter().find(|r| r.path == path).and_then(|r| r.verdict.err())
}

#[test]
fn the_seed_layout_with_an_endpoint_is_open_on_every_path() {
    let all_open: Vec<(Path, Option<String>)> =
        [Path::ClientToBrokers, Path::ConnectorToBrokers, Path::ConnectorToS3, Path::ApiToProxy, Path::ClientToInternet]
            .into_iter()
            .map(|p| (p, None))
            .collect();
    assert_eq!(verdicts(&seed_layout(), &pipeline()), all_open);
}

#[test]
fn each_rule_real_networks_trip_on_blocks_at_its_hop() {
    type Edit = fn(&mut Network, &mut Pipeline);
    let cases: Vec<(&str, Edit, Path, &str, &str)> = vec![
        (
            "a NACL deny ahead of an allow",
            |n, _| {
                let mut acl = open_acl("acl-brokers", false, &["subnet-b1", "subnet-b2"]);
                acl.entries.push(entry(90, false, Some((9098, 9098)), "0.0.0.0/0", false));
                n.acls.push(acl);
            },
            Path::ClientToBrokers,
            "network ACL acl-brokers",
            "denies inbound TCP 9098 from the Kafka client (rule 90)",
        ),
        (
            "the return path's ephemeral ports closed",
            |n, _| {
                n.acls.push(NetworkAcl {
                    id: "acl-pub".into(),
                    default: false,
                    subnets: vec!["subnet-pub".into()],
                    entries: vec![
                        entry(100, false, Some((8082, 8082)), "0.0.0.0/0", true),
                        entry(100, true, None, "0.0.0.0/0", true),
                        entry(32767, false, None, "0.0.0.0/0", false),
                    ],
                });
            },
            Path::ClientToBrokers,
            "network ACL acl-pub",
            "denies inbound TCP 32768-60999 from the brokers (its last entry, *)",
        ),
        (
            "the brokers admit the client's group, not its subnet's block",
            |n, p| {
                n.groups.get_mut("sg-brokers").expect("group").ingress.retain(|r| r.peer != Peer::Group("sg-client".into()));
                n.groups.get_mut("sg-brokers").expect("group").ingress.push(rule("tcp", (9098, 9098), Peer::Cidr(cidr("10.0.101.0/25"))));
                p.client.as_mut().expect("client").address = None;
            },
            Path::ClientToBrokers,
            "security group sg-brokers",
            "admits no inbound TCP 9098 from the Kafka client",
        ),
        (
            "no gateway endpoint and no NAT: workers have private addresses only",
            |n, _| {
                n.endpoints.clear();
                n.route_tables[0].routes.retain(|r| !matches!(r.target, Target::Endpoint(_)));
            },
            Path::ConnectorToS3,
            "route table rtb-main",
            "has no route to S3",
        ),
        (
            "a NAT gateway in a private subnet",
            |n, _| {
                n.endpoints.clear();
                n.route_tables[0].routes = vec![
                    route(Destination::Cidr(cidr("10.0.0.0/16")), Target::Local),
                    route(Destination::Cidr(cidr("0.0.0.0/0")), Target::NatGateway("nat-1".into())),
                ];
                n.nat_gateways.push(NatGateway { id: "nat-1".into(), subnet: "subnet-b1".into(), available: true });
            },
            Path::ConnectorToS3,
            "NAT gateway nat-1",
            "which does not route 0.0.0.0/0 to an internet gateway",
        ),
        (
            "egress only to S3's prefix list does not reach the internet",
            |n, _| {
                n.groups.get_mut("sg-client").expect("group").egress = vec![rule("tcp", (443, 443), Peer::PrefixList("pl-s3".into()))];
            },
            Path::ClientToInternet,
            "security group sg-client",
            "admits no outbound TCP 443 to the internet (0.0.0.0/0)",
        ),
        (
            "an internet peer matches 0.0.0.0/0 only",
            |n, _| {
                n.groups.get_mut("sg-client").expect("group").ingress = vec![rule("tcp", (8082, 8082), Peer::Cidr(cidr("203.0.113.0/24")))];
            },
            Path::ApiToProxy,
            "security group sg-client",
            "admits inbound TCP 8082 only from some addresses, which may not hold API Gateway's",
        ),
        (
            "no public address",
            |_, p| p.client.as_mut().expect("client").public_ip = false,
            Path::ApiToProxy,
            "subnet subnet-pub",
            "(no public address) cannot be reached by API Gateway",
        ),
        (
            "the client in a private subnet",
            |_, p| p.client.as_mut().expect("client").subnets = vec!["subnet-b1".into()],
            Path::ApiToProxy,
            "route table rtb-main",
            "does not route 0.0.0.0/0 to an internet gateway",
        ),
        (
            "a default route to a detached internet gateway",
            |n, _| n.internet_gateways.clear(),
            Path::ClientToInternet,
            "route table rtb-pub",
            "which is not attached to VPC vpc-1",
        ),
        (
            "a route to an internet gateway more specific than S3's prefix-list entry beats the endpoint",
            |n, _| {
                n.s3_prefix_list = Some(s3_list());
                n.route_tables[0].routes.push(route(Destination::Cidr(cidr("52.216.0.0/15")), Target::InternetGateway("igw-1".into())));
            },
            Path::ConnectorToS3,
            "subnet subnet-b1",
            "(no public address) cannot use internet gateway igw-1",
        ),
        (
            "a network ACL denying one of S3's blocks",
            |n, _| {
                n.s3_prefix_list = Some(s3_list());
                let mut acl = open_acl("acl-brokers", false, &["subnet-b1", "subnet-b2"]);
                acl.entries.push(entry(80, true, Some((443, 443)), "3.5.0.0/16", false));
                n.acls.push(acl);
            },
            Path::ConnectorToS3,
            "network ACL acl-brokers",
            "denies outbound TCP 443 to S3 (rule 80)",
        ),
        (
            "the connector's own groups, which the brokers do not admit",
            |n, p| {
                n.groups.insert(
                    "sg-conn".into(),
                    SecurityGroup {
                        id: "sg-conn".into(),
                        name: "conn".into(),
                        ingress: vec![],
                        egress: vec![all_out()],
                        tags: Tags::new(),
                    },
                );
                p.connector.as_mut().expect("connector").groups = vec!["sg-conn".into()];
            },
            Path::ConnectorToBrokers,
            "security group sg-brokers",
            "admits no inbound TCP 9098 from the connector's workers",
        ),
    ];
    for (name, edit, path, hop, reason) in cases {
        let (mut net, mut pipeline) = (seed_layout(), pipeline());
        edit(&mut net, &mut pipeline);
        let Some(blocked) = blocked_at(&net, &pipeline, path) else { panic!("{name}: {} should be blocked", path.name()) };
        assert_eq!(blocked.hop, hop, "{name}: {blocked:?}");
        assert!(blocked.reason.contains(reason), "{name}: {:?} should say {reason:?}", blocked.reason);
        // Only a rule for some internet addresses leaves the answer open.
        assert_eq!(blocked.certain, name != "an internet peer matches 0.0.0.0/0 only", "{name}");
    }
}

#[test]
fn each_repair_opens_its_path() {
    type Edit = fn(&mut Network, &mut Pipeline);
    let cases: Vec<(&str, Edit, Path)> = vec![
        (
            "an allow for part of the traffic is passed over, and a later allow decides",
            |n, _| {
                let mut acl = open_acl("acl-brokers", false, &["subnet-b1", "subnet-b2"]);
                acl.entries.push(entry(50, false, Some((9000, 9100)), "10.0.101.0/28", true));
                n.acls.push(acl);
            },
            Path::ClientToBrokers,
        ),
        (
            "a rule by CIDR admits a client whose address it holds",
            |n, p| {
                n.groups.get_mut("sg-brokers").expect("group").ingress.retain(|r| r.peer != Peer::Group("sg-client".into()));
                n.groups.get_mut("sg-brokers").expect("group").ingress.push(rule("tcp", (9098, 9098), Peer::Cidr(cidr("10.0.101.0/25"))));
                p.client.as_mut().expect("client").address = Some("10.0.101.5".parse().expect("address"));
            },
            Path::ClientToBrokers,
        ),
        ("a NAT route on the implicit main table, the NAT in the public subnet", |n, _| through_nat(n), Path::ConnectorToS3),
        (
            "network ACLs that admit only S3's blocks, through a NAT gateway",
            |n, _| {
                through_nat(n);
                n.s3_prefix_list = Some(s3_list());
                let mut entries = Vec::new();
                for (i, block) in ["52.216.0.0/15", "3.5.0.0/19"].into_iter().enumerate() {
                    let number = 100 + i32::try_from(i).expect("small");
                    entries.push(entry(number, true, Some((443, 443)), block, true));
                    entries.push(entry(number, false, Some((1024, 65535)), block, true));
                }
                entries.push(entry(200, true, None, "10.0.0.0/16", true));
                entries.push(entry(200, false, None, "10.0.0.0/16", true));
                n.acls.push(NetworkAcl {
                    id: "acl-brokers".into(),
                    default: false,
                    subnets: vec!["subnet-b1".into(), "subnet-b2".into()],
                    entries,
                });
            },
            Path::ConnectorToS3,
        ),
        (
            "egress to S3's prefix list through a NAT gateway (the list read by DescribePrefixLists)",
            |n, _| {
                through_nat(n);
                n.s3_prefix_list = Some(s3_list());
                n.groups.get_mut("sg-brokers").expect("group").egress = vec![rule("tcp", (443, 443), Peer::PrefixList("pl-s3".into()))];
            },
            Path::ConnectorToS3,
        ),
        (
            "egress to S3's prefix list alone is enough through the endpoint",
            |n, _| n.groups.get_mut("sg-brokers").expect("group").egress = vec![rule("tcp", (443, 443), Peer::PrefixList("pl-s3".into()))],
            Path::ConnectorToS3,
        ),
        (
            "a network ACL does not guard traffic inside one subnet",
            |n, p| {
                let mut acl = open_acl("acl-brokers", false, &["subnet-b1"]);
                acl.entries.push(entry(90, false, Some((9098, 9098)), "0.0.0.0/0", false));
                n.acls.push(acl);
                p.brokers.subnets = vec!["subnet-b1".into()];
                p.connector.as_mut().expect("connector").subnets = vec!["subnet-b1".into()];
            },
            Path::ConnectorToBrokers,
        ),
    ];
    for (name, edit, path) in cases {
        let (mut net, mut pipeline) = (seed_layout(), pipeline());
        edit(&mut net, &mut pipeline);
        assert_eq!(blocked_at(&net, &pipeline, path), None, "{name}");
    }
}

#[test]
fn the_client_goes_to_the_first_public_subnet_or_the_plans() {
    let mut net = seed_layout();
    assert_eq!(place_client(&net, None), Ok("subnet-pub".to_owned()));
    assert_eq!(place_client(&net, Some("subnet-b2")), Ok("subnet-b2".to_owned()));
    let elsewhere = place_client(&net, Some("subnet-other")).expect_err("not in the VPC");
    assert!(elsewhere.reason.contains("subnet subnet-other is not in the cluster's VPC vpc-1"), "{elsewhere:?}");
    // A second public subnet in an earlier zone comes first.
    net.subnets.insert(
        "subnet-pub0".into(),
        Subnet { id: "subnet-pub0".into(), cidr: cidr("10.0.100.0/24"), zone: "us-east-1 0".into(), map_public_ip: true },
    );
    net.route_tables[1].subnets.push("subnet-pub0".into());
    assert_eq!(public_subnets(&net).iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["subnet-pub0", "subnet-pub"]);
    // No public subnet at all.
    net.route_tables.retain(|t| t.main);
    let none = place_client(&net, None).expect_err("no public subnet");
    assert!(none.reason.contains("no subnet of the cluster's VPC vpc-1 routes 0.0.0.0/0 to an internet gateway"), "{none:?}");
}

#[test]
fn the_client_before_it_is_placed_blocks_its_paths_but_not_the_connectors() {
    let mut pipeline = pipeline();
    pipeline.client = None;
    let found = verdicts(&seed_layout(), &pipeline);
    assert_eq!(found.iter().filter(|(_, b)| b.is_some()).count(), 3, "{found:?}");
    assert_eq!(found.iter().find(|(p, _)| *p == Path::ConnectorToS3).map(|(_, b)| b.clone()), Some(None));
}

#[test]
fn an_endpoint_read_before_its_route_still_carries_s3() {
    // Another environment's endpoint, made between the reads of the route tables and of the
    // endpoints: the endpoint lists the table, the table's route is not there yet.
    let mut net = seed_layout();
    net.route_tables[0].routes.retain(|r| !matches!(r.target, Target::Endpoint(_)));
    assert_eq!(blocked_at(&net, &pipeline(), Path::ConnectorToS3), None);
    // Without the endpoint, the same table is blocked.
    net.endpoints.clear();
    assert!(blocked_at(&net, &pipeline(), Path::ConnectorToS3).is_some());
}
