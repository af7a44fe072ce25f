//! `generate` without AWS: hand-built pipelines as `Found` values, the plan and report they make.

use super::*;
use crate::commands::import::find::network_findings;
use crate::commands::import::{FoundApi, FoundGroup, FoundPlugin, FoundRole};

fn header() -> Header {
    Header {
        env: "dev".into(),
        project: "pipeline".into(),
        region: "us-east-1".into(),
        user_id: "0a1b2c3d4e5f".into(),
        cluster: "c".into(),
    }
}

fn hand_built() -> Found {
    let uid = "0a1b2c3d4e5f";
    let mut config: BTreeMap<String, String> = SEED_SINK_CONFIG.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    config.insert("tasks.max".into(), "3".into());
    config.insert("topics.regex".into(), format!("{uid}.*"));
    config.insert("s3.bucket.name".into(), format!("user-{uid}-bucket"));
    config.insert("s3.region".into(), "us-east-1".into());
    Found {
        topics: ["pin", "geo", "user"].iter().map(|s| (format!("{uid}.{s}"), 3, 3)).collect(),
        cluster_network: (vec!["subnet-1".into()], vec!["sg-1".into()]),
        role: Some(FoundRole {
            name: format!("{uid}-ec2-access-role"),
            has_pinfra_policy: false,
            other_policies: vec!["msk-s3-access".into()],
            owner: None,
        }),
        bucket: Some(FoundBucket {
            name: format!("user-{uid}-bucket"),
            versioning: None,
            encryption: Some(("AES256".into(), None)),
            public_access_blocked: true,
            unusable: None,
        }),
        instance: Some(FoundInstance {
            name: format!("{uid}-kafka-client"),
            id: "i-1".into(),
            state: "running".into(),
            other_groups: Vec::new(),
            owner: None,
            private_ip: Some("172.31.0.5".into()),
            pinned_subnet: None,
            instance_type: "t2.micro".into(),
            ami: "ami-0123456789abcdef0".into(),
            root_volume: Some((8, false)),
            http_tokens: Some("required".into()),
            pinfra_user_data: false,
            key_name: Some(format!("{uid}-key-pair")),
            profile: Some(format!("{uid}-ec2-access-role")),
            public_dns: Some("ec2-1.compute-1.amazonaws.com".into()),
            security_group: Some(FoundGroup {
                id: "sg-1".into(),
                name: "launch-wizard-1".into(),
                vpc_id: None,
                ingress: vec![("tcp".into(), 22, 22, "203.0.113.7/32".into()), ("tcp".into(), 8082, 8082, "0.0.0.0/0".into())],
                other_ingress: 0,
            }),
        }),
        plugin: Some(FoundPlugin { name: format!("{uid}-plugin"), state: "ACTIVE".into() }),
        connector: Some(FoundConnector {
            name: format!("{uid}-connector"),
            state: "RUNNING".into(),
            kafka_connect_version: "2.7.1".into(),
            config,
            provisioned: Some((1, 1)),
            network: (vec!["subnet-1".into()], vec!["sg-1".into()]),
            role: format!("{uid}-ec2-access-role"),
            iam_and_tls: true,
            ..FoundConnector::default()
        }),
        api: Some(FoundApi {
            name: format!("{uid}-api"),
            endpoint: "REGIONAL".into(),
            stage: Some("dev".into()),
            throttling: Some((10000.0, 5000)),
            api_key_required: Some(false),
            integration: Some(("HTTP_PROXY".into(), "http://ec2-1.compute-1.amazonaws.com:8082/{proxy}".into())),
            ..FoundApi::default()
        }),
        network: Vec::new(),
    }
}

#[test]
fn a_hand_built_pipeline_makes_a_valid_plan_that_keeps_its_live_values() {
    let generated = generate(&header(), &hand_built());
    let parsed = crate::plan::parse(&generated.text);
    assert!(!parsed.diagnostics.has_errors(), "{:?}\n{}", parsed.diagnostics, generated.text);
    let plan = parsed.plan.unwrap();
    assert_eq!(plan.kafka_client.instance_type, "t2.micro");
    assert_eq!(plan.kafka_client.root_volume_gib, 8);
    assert!(!plan.kafka_client.root_volume_encrypted && !plan.kafka_client.manage_user_data && plan.kafka_client.ssh_key_existing);
    assert_eq!(plan.kafka_client.ssh_key_name, "0a1b2c3d4e5f-key-pair");
    assert_eq!(plan.kafka_client.security_group, "launch-wizard-1");
    assert_eq!(plan.kafka_client.ssh_sources, ["203.0.113.7/32"]);
    assert!(!plan.role.manage_policies);
    let connect = plan.connect.unwrap();
    assert_eq!(connect.plugin.source, crate::plan::ArtifactSource::Existing);
    assert_eq!(connect.plugin.name, "0a1b2c3d4e5f-plugin");
    assert_eq!(connect.connector.config.get("tasks.max").map(String::as_str), Some("3"));
    let api = plan.api.unwrap();
    assert_eq!((api.throttle_rate_limit, api.throttle_burst_limit), (10000, 5000));
    let report = generated.report("p.toml");
    assert!(report.contains("connector has tasks.max=3 (pinfra's default 1)"), "{report}");
    assert!(report.contains("deployment made by hand"), "{report}");
    assert!(generated.missing.is_empty(), "{:?}", generated.missing);
}

#[test]
fn what_the_plan_cannot_keep_is_listed_as_a_change() {
    let mut found = hand_built();
    if let Some(group) = found.instance.as_mut().and_then(|i| i.security_group.as_mut()) {
        group.ingress.push(("tcp".into(), 22, 22, "0.0.0.0/0".into()));
        group.ingress.push(("tcp".into(), 9092, 9092, "10.0.0.0/8".into()));
    }
    found.bucket.as_mut().unwrap().encryption = None;
    found.api = None;
    found.instance.as_mut().unwrap().other_groups = vec!["sg-0123456789abcdef0".into()];
    let generated = generate(&header(), &found);
    let plan = crate::plan::parse(&generated.text).plan.unwrap_or_else(|| panic!("still a valid plan:\n{}", generated.text));
    assert_eq!(plan.kafka_client.extra_security_groups, ["sg-0123456789abcdef0"], "other groups are kept");
    let changes = generated.changes.join("\n");
    assert!(changes.contains("SSH (0.0.0.0/0)"), "{changes}");
    assert!(changes.contains("9092"), "{changes}");
    assert!(changes.contains("no default encryption"), "{changes}");
    assert_eq!(generated.missing, ["the REST API `0a1b2c3d4e5f-api`"]);
}

#[test]
fn what_pinfra_would_have_to_replace_blocks_the_adoption() {
    let mut found = hand_built();
    found.connector.as_mut().unwrap().role = "another-role".into();
    found.instance.as_mut().unwrap().profile = None;
    found.bucket.as_mut().unwrap().unusable = Some("is in eu-west-1, not in the plan's region us-east-1".into());
    let generated = generate(&header(), &found);
    let blockers = generated.blockers.join("\n");
    for expected in ["runs as role `another-role`", "has no instance profile", "is in eu-west-1"] {
        assert!(blockers.contains(expected), "{expected}: {blockers}");
    }
    assert!(generated.report("p.toml").contains("blocks adopting"), "the report leads with them");
    assert!(generated.changes.iter().all(|c| !c.contains("replace")), "a replacement is never promised: {:?}", generated.changes);
}

#[test]
fn what_a_person_made_in_the_network_is_reported_as_kept() {
    use crate::network::{Endpoint, Network, Peer, RouteTable, Rule, SecurityGroup, Subnet};
    let subnet = |id: &str, block: &str| {
        (id.to_owned(), Subnet { id: id.into(), cidr: block.parse().unwrap(), zone: "z".into(), map_public_ip: false })
    };
    let rule = |peer| Rule { protocol: "tcp".into(), from_port: 9098, to_port: 9098, peer };
    let network = Network {
        region: "us-east-1".into(),
        vpc_id: "vpc-1".into(),
        subnets: [subnet("subnet-b", "10.0.1.0/24"), subnet("subnet-c", "10.0.2.0/24")].into_iter().collect(),
        route_tables: vec![RouteTable { id: "rtb-main".into(), main: true, subnets: vec![], routes: vec![] }],
        endpoints: vec![Endpoint {
            id: "vpce-1".into(),
            service: "com.amazonaws.us-east-1.s3".into(),
            gateway: true,
            route_tables: vec!["rtb-main".into()],
            tags: Default::default(),
        }],
        groups: [(
            "sg-b".to_owned(),
            SecurityGroup {
                id: "sg-b".into(),
                name: "default".into(),
                ingress: vec![
                    rule(Peer::Group("sg-1".into())),
                    rule(Peer::Cidr("10.0.2.7/32".parse().unwrap())),
                    rule(Peer::Cidr("0.0.0.0/0".parse().unwrap())),
                ],
                egress: vec![],
                tags: Default::default(),
            },
        )]
        .into_iter()
        .collect(),
        ..Network::default()
    };
    let mut instance = hand_built().instance.unwrap();
    instance.private_ip = Some("10.0.2.7".into());
    let notes = network_findings(&network, &["sg-b".to_owned()], Some(&instance), &["subnet-b".to_owned()]);
    assert_eq!(notes.len(), 3, "{notes:?}");
    assert!(
        notes[0].contains("admits the client's group `launch-wizard-1` on TCP 9098 (made by hand): the first apply adopts"),
        "{notes:?}"
    );
    assert!(notes[1].contains("admits the client's address (10.0.2.7/32) on TCP 9098 (made by hand): kept as found"), "{notes:?}");
    assert!(notes[2].contains("S3 gateway endpoint vpce-1 serves the connector's route table(s) rtb-main: kept as found"), "{notes:?}");
    let mut found = hand_built();
    found.network = notes;
    assert!(generate(&header(), &found).kept.iter().any(|k| k.contains("vpce-1")));
}

#[test]
fn a_client_in_a_subnet_without_an_internet_route_is_kept_there() {
    let mut found = hand_built();
    found.instance.as_mut().unwrap().pinned_subnet = Some("subnet-0abc12345".into());
    let generated = generate(&header(), &found);
    assert!(generated.text.contains("subnet_id = \"subnet-0abc12345\""), "{}", generated.text);
    assert!(generated.kept.iter().any(|k| k.contains("`subnet_id` keeps it there")), "{:?}", generated.kept);
    assert!(crate::plan::parse(&generated.text).plan.is_some(), "the plan parses:\n{}", generated.text);
}

#[test]
fn an_edge_api_is_converted_in_place_not_a_blocker() {
    let mut found = hand_built();
    found.api.as_mut().unwrap().endpoint = "EDGE".into();
    let generated = generate(&header(), &found);
    assert!(generated.blockers.is_empty(), "{:?}", generated.blockers);
    assert!(generated.changes.iter().any(|c| c.contains("is EDGE: the apply changes it to REGIONAL in place")), "{:?}", generated.changes);
}

#[test]
fn hostile_live_values_stay_strings() {
    let mut found = hand_built();
    let hostile = "\"\n[y]\n${env:SECRET} {user_id} }{";
    found.connector.as_mut().unwrap().config.insert("transforms.x".into(), hostile.into());
    let generated = generate(&header(), &found);
    assert!(!generated.text.contains("\n[y]"));
    let parsed = crate::plan::parse(&generated.text);
    let plan = parsed.plan.unwrap_or_else(|| panic!("{:?}\n{}", parsed.diagnostics, generated.text));
    assert_eq!(plan.connect.unwrap().connector.config.get("transforms.x").map(String::as_str), Some(hostile), "kept byte for byte");
}

/// The written plan, byte for byte, for a hand-built pipeline, one that keeps every optional
/// key (with a value TOML must escape), and one with nothing found: the text comments and all,
/// so that how it is written can change without the plan changing.
#[test]
fn the_written_plans_text_is_stable() {
    let mut everything = hand_built();
    let connector = everything.connector.as_mut().unwrap();
    connector.config.insert("transforms.x".into(), "\"\n[y]\n${env:SECRET} {user_id} }{ \u{1b} é \\".into());
    connector.autoscaling = Some((2, 1, 4, 20, 80, 5));
    connector.provisioned = None;
    connector.log_group = Some("lg".into());
    connector.network = (vec!["subnet-9".into()], vec!["sg-9".into()]);
    everything.role.as_mut().unwrap().has_pinfra_policy = true;
    let bucket = everything.bucket.as_mut().unwrap();
    bucket.versioning = Some("Enabled".into());
    bucket.encryption = Some(("aws:kms".into(), Some("arn:aws:kms:us-east-1:111122223333:key/k".into())));
    let instance = everything.instance.as_mut().unwrap();
    instance.pinned_subnet = Some("subnet-0abc".into());
    instance.other_groups = vec!["sg-2".into(), "sg-3".into()];
    instance.http_tokens = Some("optional".into());
    instance.name = "my-client".into();
    instance.profile = Some("other-profile".into());
    instance.security_group.as_mut().unwrap().vpc_id = Some("vpc-1".into());
    everything.api.as_mut().unwrap().api_key_required = Some(true);
    everything.topics.push(("0a1b2c3d4e5f.x".into(), 1, 2));
    let nothing = Found { topics: Vec::new(), ..Found::default() };
    for (name, found) in [("hand_built", hand_built()), ("everything", everything), ("nothing", nothing)] {
        insta::assert_snapshot!(name, generate(&header(), &found).text);
    }
}
