use super::*;

fn plan() -> Plan {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/plans/pinterest.toml")).unwrap();
    crate::plan::parse(&text).plan.unwrap()
}

fn live() -> LiveValues {
    LiveValues {
        role_arn: Some("arn:aws:iam::123456789012:role/0a1b2c3d4e5f-ec2-access-role".into()),
        bootstrap_servers: Some(
            "b-1.pinterest.abc123.c2.kafka.us-east-1.amazonaws.com:9098,b-2.pinterest.abc123.c2.kafka.us-east-1.amazonaws.com:9098".into(),
        ),
        zookeeper_connect: Some("z-1.pinterest.abc123.c2.kafka.us-east-1.amazonaws.com:2181".into()),
    }
}

fn file<'a>(rendered: &'a Rendered, name: &str) -> &'a str {
    rendered.files.iter().find(|(n, _)| *n == name).map(|(_, c)| c.as_str()).unwrap()
}

#[test]
fn golden_files() {
    let rendered = render(&plan(), &Templates::load(None).unwrap(), &live()).unwrap();
    assert!(rendered.unknown.is_empty());
    for (name, content) in &rendered.files {
        insta::assert_snapshot!(*name, content);
    }
}

#[test]
fn offline_marks_every_unknown_value() {
    let rendered = render(&plan(), &Templates::load(None).unwrap(), &LiveValues::default()).unwrap();
    assert_eq!(rendered.unknown, ["role_arn", "bootstrap_servers"]);
    let rest = file(&rendered, "kafka-rest.properties");
    assert!(rest.contains("bootstrap.servers=<unknown: bootstrap_servers; apply the plan, then render without --offline>"), "{rest}");
    assert!(!rest.contains("zookeeper.connect"), "no ZooKeeper line for a cluster without one");
    insta::assert_snapshot!("client.properties-offline", file(&rendered, "client.properties"));
}

#[test]
fn the_user_data_carries_the_properties_files_byte_for_byte() {
    let rendered = render(&plan(), &Templates::load(None).unwrap(), &live()).unwrap();
    let user_data = file(&rendered, "user-data.sh");
    assert!(
        user_data.contains(&format!("<<'PINFRA_CLIENT_PROPERTIES'\n{}PINFRA_CLIENT_PROPERTIES\n", file(&rendered, "client.properties")))
    );
    assert!(
        user_data.contains(&format!("<<'PINFRA_REST_PROPERTIES'\n{}PINFRA_REST_PROPERTIES\n", file(&rendered, "kafka-rest.properties")))
    );
}

#[test]
fn templates_can_be_overridden_by_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("client.properties.j2"), "custom={{ role_arn }}\n").unwrap();
    let rendered = render(&plan(), &Templates::load(Some(dir.path())).unwrap(), &live()).unwrap();
    assert_eq!(file(&rendered, "client.properties"), "custom=arn:aws:iam::123456789012:role/0a1b2c3d4e5f-ec2-access-role\n");
    // The others are still the embedded ones.
    assert!(file(&rendered, "kafka-rest.properties").contains("client.sasl.mechanism=AWS_MSK_IAM"));
}

#[test]
fn a_template_naming_an_unknown_value_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("client.properties.j2"), "x={{ rol_arn }}\n").unwrap();
    let error = render(&plan(), &Templates::load(Some(dir.path())).unwrap(), &live()).unwrap_err().to_string();
    assert!(error.contains("client.properties.j2"), "{error}");
}

#[test]
fn a_value_cannot_end_the_here_document() {
    let mut hostile = live();
    hostile.role_arn = Some("x\"\nPINFRA_CLIENT_PROPERTIES\nrm -rf /\n".into());
    let error = render(&plan(), &Templates::load(None).unwrap(), &hostile).unwrap_err();
    assert!(matches!(error, RenderError::HereDocument("client.properties")), "{error}");
}

/// Keys each program reads, to check that every key pinfra writes is one the program knows.
mod known_keys {
    /// Kafka client configs used here (Apache Kafka documentation, "Producer/Consumer/Admin
    /// Configs": security.protocol, sasl.mechanism, sasl.jaas.config,
    /// sasl.client.callback.handler.class).
    pub const KAFKA_CLIENT: [&str; 4] = ["security.protocol", "sasl.mechanism", "sasl.jaas.config", "sasl.client.callback.handler.class"];
    /// Confluent REST Proxy configs (Confluent documentation, "Kafka REST Configuration
    /// Reference": id, listeners, bootstrap.servers, zookeeper.connect; the `client.` prefix
    /// passes the Kafka client configs above to the proxy's own clients).
    pub const REST_PROXY: [&str; 4] = ["id", "listeners", "bootstrap.servers", "zookeeper.connect"];
    /// aws-msk-iam-auth (its README, "Configuring a Kafka client to use AWS IAM"): the values
    /// of sasl.mechanism, the login module, the callback handler, and the awsRoleArn option.
    pub const MSK_IAM_AUTH: [&str; 4] = [
        "AWS_MSK_IAM",
        "software.amazon.msk.auth.iam.IAMLoginModule",
        "software.amazon.msk.auth.iam.IAMClientCallbackHandler",
        "awsRoleArn",
    ];
}

fn keys(properties: &str) -> Vec<&str> {
    properties
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect()
}

#[test]
fn every_key_written_is_one_the_program_knows() {
    let rendered = render(&plan(), &Templates::load(None).unwrap(), &live()).unwrap();
    for key in keys(file(&rendered, "client.properties")) {
        assert!(known_keys::KAFKA_CLIENT.contains(&key), "client.properties: unknown key {key}");
    }
    for key in keys(file(&rendered, "kafka-rest.properties")) {
        let known =
            known_keys::REST_PROXY.contains(&key) || key.strip_prefix("client.").is_some_and(|k| known_keys::KAFKA_CLIENT.contains(&k));
        assert!(known, "kafka-rest.properties: unknown key {key}");
    }
    for file_name in ["client.properties", "kafka-rest.properties"] {
        let text = file(&rendered, file_name);
        for value in known_keys::MSK_IAM_AUTH {
            assert!(text.contains(value), "{file_name} lacks {value}");
        }
    }
}

#[test]
fn an_unused_file_in_the_templates_directory_is_named_escaped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("evil\u{1b}[2J.j2"), "").unwrap();
    let templates = Templates::load(Some(dir.path())).unwrap();
    assert_eq!(templates.warnings.len(), 1);
    assert!(templates.warnings[0].contains("`evil\\e[2J.j2` matches no template"), "{}", templates.warnings[0]);
}
