//! `[kafka_client]`: what the EC2 Kafka client runs (versions, download URLs), where it runs
//! (VPC, subnet, security group, instance) and who may reach it (PF001, PF002). Every value
//! ends up in a shell script, so each is checked to hold no shell syntax.

use std::collections::BTreeMap;

use super::interpolate::Variables;
use super::reader::{SpannedString, Table};
use super::rules::Invalid;
use super::{check, name, report, rules};
use crate::diagnostics::{Diagnostic, Diagnostics};

/// The `[kafka_client]` section: versions and download URLs of what the EC2 Kafka client runs.
/// Every value ends up in a shell script, so each is checked to hold no shell syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaClientSpec {
    /// Apache Kafka version of the CLI, such as `3.6.0`.
    pub kafka_version: String,
    /// Scala build of the Kafka tarball, such as `2.13`.
    pub scala_version: String,
    /// aws-msk-iam-auth version, such as `2.2.0`.
    pub msk_iam_auth_version: String,
    /// Confluent Platform version for the REST proxy, such as `7.6.1`.
    pub confluent_version: String,
    /// Port of the REST proxy.
    pub rest_proxy_port: u16,
    /// Where the Kafka tarball is downloaded from.
    pub kafka_url: String,
    /// Where the aws-msk-iam-auth jar is downloaded from.
    pub msk_iam_auth_url: String,
    /// Where the Confluent Platform tarball is downloaded from.
    pub confluent_url: String,
    /// Name of the client's security group; default `{user_id}-kafka-client`.
    pub security_group: String,
    /// The VPC of the security group and the instance; `None`: the cluster's VPC (it must be
    /// the cluster's: `diff` refuses another).
    pub vpc_id: Option<String>,
    /// The subnet the instance is launched into; `None`: the first subnet of the cluster's VPC
    /// routed to an internet gateway (`docs/network.md`).
    pub subnet_id: Option<String>,
    /// CIDR blocks that may reach the REST proxy port; default `0.0.0.0/0` (API Gateway calls
    /// it over the internet in the seed's design).
    pub proxy_sources: Vec<String>,
    /// CIDR blocks that may reach SSH (port 22); default none.
    pub ssh_sources: Vec<String>,
    /// The instance's `Name` tag, by which pinfra finds it; default `{user_id}-kafka-client`.
    pub instance_name: String,
    /// EC2 instance type; default `t3.micro`.
    pub instance_type: String,
    /// A pinned AMI; `None`: the latest Amazon Linux 2023 from the public SSM parameter.
    pub ami: Option<String>,
    /// Size of the root volume, in GiB; default 20.
    pub root_volume_gib: i32,
    /// Whether an existing instance's root volume must be encrypted; default true. False (to
    /// adopt an instance made without encryption, warning PF004) only stops requiring it: a new
    /// instance is always encrypted.
    pub root_volume_encrypted: bool,
    /// Whether an existing instance must require IMDSv2 tokens; default true. False (to adopt an
    /// instance that allows IMDSv1, warning PF005) only stops requiring it: a new instance always
    /// requires them, and a hardened one is never weakened.
    pub imdsv2: bool,
    /// Whether pinfra manages the instance's user-data; default true. False for an instance set
    /// up by other means (by hand over SSH, as in the seed): its user-data is not compared, so a
    /// different one never replaces it (a new instance still gets pinfra's).
    pub manage_user_data: bool,
    /// Security groups the instance has besides the plan's own, by id (made elsewhere: pinfra
    /// neither creates nor changes them, it only keeps them on the instance).
    pub extra_security_groups: Vec<String>,
    /// Whether `ssh_key_name` names a key pair that exists already (`ssh_key_name` given without
    /// `ssh_public_key`): the instance is launched with it and compared against it.
    pub ssh_key_existing: bool,
    /// An SSH public key to import as the instance's key pair; pinfra never creates or writes
    /// private keys.
    pub ssh_public_key: Option<String>,
    /// Name of that key pair; default `{user_id}-kafka-client`.
    pub ssh_key_name: String,
}

pub(super) fn read_kafka_client(
    d: &mut Diagnostics,
    table: Option<Table<'_, '_>>,
    vars: Option<&Variables<'_>>,
) -> Option<KafkaClientSpec> {
    let mut values: BTreeMap<&'static str, Option<SpannedString>> = BTreeMap::new();
    let mut port = None;
    let (mut group, mut vpc, mut subnet, mut ssh_sources) = (None, None, None, Vec::new());
    let (mut instance_name, mut instance_type, mut ami, mut root_volume) = (None, None, None, None);
    let (mut ssh_public_key, mut ssh_key_name) = (None, None);
    let (mut encrypted, mut imdsv2, mut manage_user_data) = (None, None, None);
    let mut extra_groups = Vec::new();
    let mut proxy_sources: Option<Vec<SpannedString>> = None;
    if let Some(mut t) = table {
        for key in [
            "kafka_version",
            "scala_version",
            "msk_iam_auth_version",
            "confluent_version",
            "kafka_url",
            "msk_iam_auth_url",
            "confluent_url",
        ] {
            values.insert(key, t.string(d, key));
        }
        port = t.integer(d, "rest_proxy_port", 1..=65_535);
        group = t.string(d, "security_group");
        vpc = t.string(d, "vpc_id");
        subnet = t.string(d, "subnet_id");
        let present = t.has("proxy_sources");
        let list = t.string_list(d, "proxy_sources");
        proxy_sources = present.then_some(list);
        ssh_sources = t.string_list(d, "ssh_sources");
        instance_name = t.string(d, "instance_name");
        instance_type = t.string(d, "instance_type");
        ami = t.string(d, "ami");
        root_volume = t.integer(d, "root_volume_gib", 8..=16_384);
        ssh_public_key = t.string(d, "ssh_public_key");
        ssh_key_name = t.string(d, "ssh_key_name");
        encrypted = t.bool(d, "root_volume_encrypted");
        imdsv2 = t.bool(d, "imdsv2");
        manage_user_data = t.bool(d, "manage_user_data");
        extra_groups = t.string_list(d, "extra_security_groups");
        t.finish(d);
    }
    if let Some(flag) = encrypted.as_ref().filter(|f| !*f.get_ref()) {
        d.push(
            Diagnostic::warning("pinfra does not require the Kafka client's root volume to be encrypted", Some(flag.span()))
                .with_code("PF004")
                .with_label("unencrypted allowed")
                .with_hint("drop it once the instance can be replaced (pinfra launches every new instance encrypted)"),
        );
    }
    if let Some(flag) = imdsv2.as_ref().filter(|f| !*f.get_ref()) {
        d.push(
            Diagnostic::warning("pinfra does not require the Kafka client to use IMDSv2 (IMDSv1 is allowed)", Some(flag.span()))
                .with_code("PF005")
                .with_label("IMDSv1 allowed")
                .with_hint("drop it: IMDSv2 blocks the SSRF-style credential theft IMDSv1 allows, and it changes in place"),
        );
    }
    let ssh_key_existing = ssh_public_key.is_none() && ssh_key_name.is_some();
    // Every bad id is reported, not just the first.
    let checked: Vec<bool> = extra_groups.iter().map(|g| check(d, g, "security group id", |id| rules::ec2_id(id, "sg"))).collect();
    let extra_groups_ok = checked.iter().all(|ok| *ok);
    let key_ok = ssh_public_key.as_ref().is_none_or(|k| check(d, k, "SSH public key", rules::ssh_public_key));
    let ssh_key_name = name(d, ssh_key_name, super::defaults::KAFKA_CLIENT_NAME, vars, "key pair name", |n| {
        if n.is_empty() || n.len() > 255 || !n.is_ascii() {
            Err(Invalid { reason: format!("`{n}` is not a valid key pair name"), hint: Some("1-255 ASCII characters".into()) })
        } else {
            rules::printable("the key pair name", n)
        }
    });
    // The instance's `Name` tag: a tag value.
    let instance_name = name(d, instance_name, super::defaults::KAFKA_CLIENT_NAME, vars, "instance name", |n| {
        if n.is_empty() || n.chars().count() > 255 {
            Err(Invalid { reason: "instance names are 1-255 characters".into(), hint: None })
        } else {
            rules::tag_value("the instance name (its `Name` tag)", n)
        }
    });
    let type_ok = instance_type.as_ref().is_none_or(|t| check(d, t, "instance type", rules::instance_type));
    let ami_ok = ami.as_ref().is_none_or(|a| check(d, a, "AMI id", |id| rules::ec2_id(id, "ami")));
    let security_group = name(d, group, super::defaults::KAFKA_CLIENT_NAME, vars, "security group name", rules::security_group_name);
    let vpc_ok = vpc.as_ref().is_none_or(|v| check(d, v, "VPC id", |id| rules::ec2_id(id, "vpc")))
        & subnet.as_ref().is_none_or(|s| check(d, s, "subnet id", |id| rules::ec2_id(id, "subnet")));
    let port_value = port.as_ref().map_or(super::defaults::REST_PROXY_PORT, |p| *p.get_ref());
    let mut cidrs_ok = true;
    let mut cidrs = |d: &mut Diagnostics, list: &[SpannedString], port: i64, what: &str, world_hint: &str| -> Vec<String> {
        let mut out = Vec::new();
        let mut nets = Vec::new();
        for cidr in list {
            match rules::cidr(cidr.get_ref()) {
                Ok(net) => {
                    nets.push(net);
                    if net.prefix_len() == 0 {
                        // SSH open to the world is an error (PF002); the proxy's port a warning
                        // (PF001: the seed's design has API Gateway call it over the internet).
                        let message = format!("{what} (port {port}) is open to the whole internet");
                        let diagnostic = if port == 22 {
                            cidrs_ok = false;
                            Diagnostic::error(message, Some(cidr.span())).with_code("PF002")
                        } else {
                            Diagnostic::warning(message, Some(cidr.span())).with_code("PF001")
                        };
                        d.push(diagnostic.with_label("0.0.0.0/0").with_hint(world_hint.to_owned()));
                    }
                    out.push(net.to_string());
                }
                Err(invalid) => {
                    report(d, cidr.span(), "CIDR block", invalid);
                    cidrs_ok = false;
                }
            }
        }
        // Judged together: `0.0.0.0/1` and `128.0.0.0/1` are the whole internet too.
        let world = ipnet::Ipv4Net::default();
        if !nets.contains(&world)
            && ipnet::Ipv4Net::aggregate(&nets).contains(&world)
            && let Some(first) = list.first()
        {
            let message = format!("{what} (port {port}) is open to the whole internet: together, these blocks cover 0.0.0.0/0");
            let diagnostic = if port == 22 {
                cidrs_ok = false;
                Diagnostic::error(message, Some(first.span())).with_code("PF002")
            } else {
                Diagnostic::warning(message, Some(first.span())).with_code("PF001")
            };
            d.push(diagnostic.with_label("with the others, 0.0.0.0/0").with_hint(world_hint.to_owned()));
        }
        out
    };
    let proxy_sources = match proxy_sources {
        Some(list) => cidrs(d, &list, port_value, "the REST proxy", "list only the addresses that must call it"),
        None => {
            // The seed's design: API Gateway reaches the proxy over the internet.
            d.push(
                Diagnostic::warning(format!("the REST proxy (port {port_value}) is open to the whole internet by default"), None)
                    .with_code("PF001")
                    .with_hint("set `[kafka_client] proxy_sources` to the addresses that must call it (API Gateway's, or your own)"),
            );
            vec!["0.0.0.0/0".to_owned()]
        }
    };
    let ssh_sources = cidrs(d, &ssh_sources, 22, "SSH", "allow SSH from your own address only, or use SSM Session Manager instead");
    let cidrs_ok = cidrs_ok;
    let mut ok = vpc_ok && cidrs_ok && type_ok && ami_ok && key_ok && extra_groups_ok;
    let mut value = |key: &'static str, default: String, rule: fn(&str) -> Result<(), Invalid>| match values.get(key).cloned().flatten() {
        Some(given) => {
            ok &= check(d, &given, key, rule);
            given.into_inner()
        }
        None => default,
    };
    let kafka_version = value("kafka_version", "3.6.0".into(), rules::version);
    let scala_version = value("scala_version", "2.13".into(), rules::version);
    let msk_iam_auth_version = value("msk_iam_auth_version", "2.2.0".into(), rules::version);
    let confluent_version = value("confluent_version", "7.6.1".into(), rules::version);
    let confluent_line: String = confluent_version.split('.').take(2).collect::<Vec<_>>().join(".");
    let kafka_url = value(
        "kafka_url",
        format!("https://archive.apache.org/dist/kafka/{kafka_version}/kafka_{scala_version}-{kafka_version}.tgz"),
        rules::https_url,
    );
    let msk_iam_auth_url = value(
        "msk_iam_auth_url",
        format!(
            "https://github.com/aws/aws-msk-iam-auth/releases/download/v{msk_iam_auth_version}/aws-msk-iam-auth-{msk_iam_auth_version}-all.jar"
        ),
        rules::https_url,
    );
    let confluent_url = value(
        "confluent_url",
        format!("https://packages.confluent.io/archive/{confluent_line}/confluent-{confluent_version}.tar.gz"),
        rules::https_url,
    );
    // Read within 1..=65535 above: the fallback is never used.
    let rest_proxy_port = u16::try_from(port_value).unwrap_or(8082);
    let security_group = security_group?;
    let instance_name = instance_name?;
    let ssh_key_name = ssh_key_name?;
    ok.then_some(KafkaClientSpec {
        ssh_public_key: ssh_public_key.map(|k| k.into_inner().trim().to_owned()),
        ssh_key_name,
        instance_name,
        instance_type: instance_type.map_or_else(|| "t3.micro".to_owned(), toml::Spanned::into_inner),
        ami: ami.map(toml::Spanned::into_inner),
        root_volume_gib: root_volume.map_or(20, |v| i32::try_from(*v.get_ref()).unwrap_or(20)),
        root_volume_encrypted: encrypted.is_none_or(toml::Spanned::into_inner),
        imdsv2: imdsv2.is_none_or(toml::Spanned::into_inner),
        manage_user_data: manage_user_data.is_none_or(toml::Spanned::into_inner),
        ssh_key_existing,
        extra_security_groups: extra_groups.into_iter().map(toml::Spanned::into_inner).collect(),
        security_group,
        vpc_id: vpc.map(toml::Spanned::into_inner),
        subnet_id: subnet.map(toml::Spanned::into_inner),
        proxy_sources,
        ssh_sources,
        kafka_version,
        scala_version,
        msk_iam_auth_version,
        confluent_version,
        rest_proxy_port,
        kafka_url,
        msk_iam_auth_url,
        confluent_url,
    })
}
