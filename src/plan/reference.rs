//! The plan reference in short: what each key means, its default and its allowed values, as
//! `docs/plan.md` says, for the JSON Schema editors read (`plan::schema`).
//!
//! The keys and their types are not here: they come from the reader itself. A test holds this
//! list to the reader's keys, both ways, and every default to what the reader fills in.

use serde_json::{Value, json};

use super::connect::CONNECT_VERSIONS;
use super::defaults;

/// One key of the plan, as the reference describes it.
#[derive(Debug, Clone)]
pub struct KeyDoc {
    /// Dotted path (`environment.name`; an array's entries as `topics[].name`).
    pub path: &'static str,
    /// What it means, in markdown.
    pub text: &'static str,
    /// Its default, when it has one that a value can say (a default derived from other keys is
    /// in `text` instead).
    pub default: Option<Value>,
    /// The only values allowed, when they are few.
    pub values: Option<Value>,
    /// Whether the plan must have it, where the reader says so in its own words rather than by
    /// `required_string` (a required section).
    pub required: bool,
}

fn key(path: &'static str, text: &'static str) -> KeyDoc {
    KeyDoc { path, text, default: None, values: None, required: false }
}

impl KeyDoc {
    fn default(self, value: Value) -> Self {
        Self { default: Some(value), ..self }
    }

    fn values(self, values: Value) -> Self {
        Self { values: Some(values), ..self }
    }

    fn required(self) -> Self {
        Self { required: true, ..self }
    }
}

/// Every key of the plan, section by section in the order `docs/plan.md` gives them.
pub fn keys() -> Vec<KeyDoc> {
    let mut keys = sections();
    keys.extend(environment());
    keys.extend(msk());
    keys.extend(role_and_bucket());
    keys.extend(topics());
    keys.extend(kafka_client());
    keys.extend(connect());
    keys.extend(api_and_pacing());
    keys
}

fn sections() -> Vec<KeyDoc> {
    vec![
        key("environment", "Where and for whom the pipeline runs: the base environment of the plan.").required(),
        key("msk", "The MSK cluster the pipeline uses, by name or ARN, and the topics it owns on it.").required(),
        key("role", "The IAM role shared by the EC2 Kafka client (through its instance profile) and MSK Connect."),
        key("bucket", "The S3 bucket the sink connector writes each topic's records to."),
        key(
            "topics",
            "One entry per Kafka topic, managed through the MSK topic API. Without any, the seed's three topics `{user_id}.pin`, `{user_id}.geo` and `{user_id}.user` (3 partitions, replication factor 3); `topics = []` declares none.",
        ),
        key(
            "kafka_client",
            "The EC2 Kafka client: one instance running the Kafka CLI with aws-msk-iam-auth and the Confluent REST Proxy, and its security group. Every key has a default.",
        ),
        key("connect", "The Confluent S3 sink on MSK Connect: the custom plugin (`[connect.plugin]`, required) and the connector."),
        key("api", "The API Gateway REST API in front of the REST proxy: `{proxy+}`, ANY, HTTP_PROXY, and its stage."),
        key("pacing", "Rates for an account whose AWS quotas were raised (`--rate` on the command line wins over them)."),
    ]
}

fn environment() -> Vec<KeyDoc> {
    vec![
        key(
            "environment.name",
            "Environment name (`dev`, `staging`): the value of the `pinfra:env` tag and `{env}`. Lowercase letters, digits and `-`, 1-20 characters.",
        ),
        key(
            "environment.project",
            "Which pipeline this is: the value of the `pinfra:plan` tag and `{project}`. Lowercase letters, digits and `-`, 1-32 characters.",
        )
        .default(json!("pipeline")),
        key("environment.region", "AWS region of every resource (`us-east-1`); `{region}`."),
        key("environment.user_id", "The id the seed's names derive from; `{user_id}`. Lowercase letters, digits and `-`, 1-32 characters."),
        key(
            "environment.tags",
            "Tags added to every taggable resource. Keys may not start with `aws:` or `pinfra:`; pinfra adds `pinfra:plan` and `pinfra:env` itself.",
        )
        .default(json!({})),
    ]
}

fn msk() -> Vec<KeyDoc> {
    vec![
        key(
            "msk.cluster",
            "The MSK cluster, by name or by ARN (`arn:...`). With `[msk.create]`, the name of the cluster pinfra creates (an ARN is an error).",
        ),
        key(
            "msk.topic_prefix",
            "Topics whose names start with it belong to the plan (unlisted ones are reported, and deleted by `--prune` and `destroy`). Must end in `.`, `_` or `-`; placeholders allowed.",
        )
        .default(json!(defaults::TOPIC_PREFIX)),
        key(
            "msk.create",
            "pinfra creates and manages the cluster named by `cluster`: Provisioned, IAM client authentication, TLS in transit. Without it the cluster must exist and is only read.",
        ),
        key("msk.create.kafka_version", "Kafka version, 3.6 or later (the topic API needs it), such as `3.7.x`. Cannot change.")
            .default(json!("3.6.0")),
        key("msk.create.broker_count", "Number of brokers, a multiple of the number of client subnets. Can only grow.").default(json!(3)),
        key("msk.create.instance_type", "Broker type; starts with `kafka.`. Changes in place.").default(json!("kafka.m5.large")),
        key("msk.create.storage_gib", "EBS storage per broker, in GiB. Can only grow.").default(json!(100)),
        key(
            "msk.create.subnets",
            "Client subnets (`subnet-...`): two or three, each listed once. Empty: the default VPC's default subnets. Cannot change.",
        )
        .default(json!([])),
        key(
            "msk.create.security_groups",
            "Security groups of the brokers (`sg-...`). Empty: MSK uses the VPC's default security group. Cannot change.",
        )
        .default(json!([])),
        key("msk.create.configuration_arn", "A custom MSK configuration's ARN. Only together with `configuration_revision`."),
        key("msk.create.configuration_revision", "The configuration's revision. Only together with `configuration_arn`."),
    ]
}

fn role_and_bucket() -> Vec<KeyDoc> {
    vec![
        key("role.name", "IAM role shared by the EC2 Kafka client and MSK Connect; placeholders allowed.").default(json!(defaults::ROLE_NAME)),
        key("role.instance_profile", "Instance profile that holds the role; placeholders allowed. Default: the role's name (after expansion)."),
        key(
            "role.manage_policies",
            "Whether pinfra manages the trust policy and its inline policy on an existing role. `false`: only its tags are managed (a role whose policies were made by hand).",
        )
        .default(json!(true)),
        key("bucket.name", "The bucket the S3 sink connector writes to; placeholders allowed.").default(json!(defaults::BUCKET_NAME)),
        key("bucket.versioning", "Object versioning. On a bucket that had it, `false` means `Suspended`.").default(json!(false)),
        key("bucket.encryption", "Default encryption: `sse-s3` (AES256) or `sse-kms`.").default(json!("sse-s3")).values(json!(["sse-s3", "sse-kms"])),
        key("bucket.kms_key_arn", "KMS key for `sse-kms`; without it, the AWS managed key. Only with `encryption = \"sse-kms\"`."),
        key(
            "bucket.force_destroy",
            "Let `pinfra destroy` delete every object version first. Without it, destroying a non-empty bucket fails.",
        )
        .default(json!(false)),
    ]
}

fn topics() -> Vec<KeyDoc> {
    vec![
        key("topics[].name", "Topic name; placeholders allowed."),
        key("topics[].partitions", "Partition count. Can only grow.").default(json!(3)),
        key("topics[].replication_factor", "Replication factor; at most the cluster's broker count. Cannot change in place.")
            .default(json!(3)),
        key(
            "topics[].configs",
            "Topic-level configs the plan manages, compared as text (`{ \"retention.ms\" = 604800000 }`); keys not listed are left alone.",
        )
        .default(json!({})),
        key("topics[].allow_recreate", "Let a `replication_factor` change delete and re-create the topic. Its records are lost.")
            .default(json!(false)),
    ]
}

fn kafka_client() -> Vec<KeyDoc> {
    vec![
        key("kafka_client.kafka_version", "Apache Kafka version of the CLI.").default(json!("3.6.0")),
        key("kafka_client.scala_version", "Scala build of the Kafka tarball.").default(json!("2.13")),
        key(
            "kafka_client.msk_iam_auth_version",
            "aws-msk-iam-auth version (the jar that lets Kafka clients use IAM authentication).",
        )
        .default(json!("2.2.0")),
        key("kafka_client.confluent_version", "Confluent Platform version, for the REST proxy.").default(json!("7.6.1")),
        key(
            "kafka_client.kafka_url",
            "Where the Kafka tarball is downloaded from (https). Default: `https://archive.apache.org/dist/kafka/<kafka_version>/kafka_<scala_version>-<kafka_version>.tgz`.",
        ),
        key(
            "kafka_client.msk_iam_auth_url",
            "Where the aws-msk-iam-auth jar is downloaded from (https). Default: the GitHub release of `msk_iam_auth_version`.",
        ),
        key(
            "kafka_client.confluent_url",
            "Where the Confluent Platform tarball is downloaded from (https). Default: `https://packages.confluent.io/archive/<major.minor>/confluent-<confluent_version>.tar.gz`.",
        ),
        key("kafka_client.rest_proxy_port", "Port the REST proxy listens on, opened to `proxy_sources`.").default(json!(defaults::REST_PROXY_PORT)),
        key("kafka_client.security_group", "Name of the client's security group; placeholders allowed.").default(json!(defaults::KAFKA_CLIENT_NAME)),
        key(
            "kafka_client.vpc_id",
            "VPC of the security group and the instance (`vpc-...`). Default: the cluster's VPC; another VPC is refused by `diff`.",
        ),
        key(
            "kafka_client.subnet_id",
            "The subnet the instance is launched into (`subnet-...`). Default: the first subnet of the cluster's VPC routed to an internet gateway.",
        ),
        key(
            "kafka_client.proxy_sources",
            "IPv4 CIDR blocks that may reach `rest_proxy_port`. Absent: `[\"0.0.0.0/0\"]`, with warning PF001; `[]`: nobody.",
        )
        .default(json!(["0.0.0.0/0"])),
        key("kafka_client.ssh_sources", "IPv4 CIDR blocks that may reach SSH (port 22). A `/0` block is error PF002.").default(json!([])),
        key("kafka_client.instance_name", "The instance's `Name` tag, by which pinfra finds it; placeholders allowed.")
            .default(json!(defaults::KAFKA_CLIENT_NAME)),
        key("kafka_client.instance_type", "EC2 instance type. Changes in place (the instance is stopped and started).").default(json!("t3.micro")),
        key("kafka_client.ami", "A pinned AMI (`ami-...`). Default: the latest Amazon Linux 2023, from the public SSM parameter."),
        key("kafka_client.root_volume_gib", "Size of the root volume (gp3), in GiB.").default(json!(20)),
        key(
            "kafka_client.ssh_public_key",
            "An OpenSSH public key, imported as the key pair `ssh_key_name` and given to the instance. pinfra never creates or writes private keys.",
        ),
        key(
            "kafka_client.ssh_key_name",
            "Name of that key pair; placeholders allowed. Without `ssh_public_key`: a key pair that exists already.",
        )
        .default(json!(defaults::KAFKA_CLIENT_NAME)),
        key(
            "kafka_client.root_volume_encrypted",
            "Whether pinfra requires the existing instance's root volume to be encrypted. `false` is warning PF004; a new instance is always encrypted.",
        )
        .default(json!(true)),
        key(
            "kafka_client.imdsv2",
            "Whether pinfra requires the existing instance to use IMDSv2 tokens. `false` is warning PF005; a new instance always requires them.",
        )
        .default(json!(true)),
        key(
            "kafka_client.manage_user_data",
            "Whether pinfra manages the instance's user-data. `false` for an instance set up by other means: its user-data is not compared.",
        )
        .default(json!(true)),
        key(
            "kafka_client.extra_security_groups",
            "Security groups made elsewhere (`sg-...`) that the instance has besides `security_group`; kept, never changed.",
        )
        .default(json!([])),
    ]
}

fn connect() -> Vec<KeyDoc> {
    vec![
        key(
            "connect.plugin",
            "Where the connector's zip comes from: `source`, or `url` and `sha256`, or `existing` (a custom plugin made by hand).",
        )
        .required(),
        key(
            "connect.plugin.name",
            "Base name; the live plugin is `<name>-<first 12 hex digits of the zip's SHA-256>`. Placeholders allowed.",
        )
        .default(json!(defaults::PLUGIN_NAME)),
        key(
            "connect.plugin.existing",
            "A custom plugin that exists already, by its full name, used as it is (never uploaded or replaced). Instead of `source` or `url`, and without `name`, `sha256` or `key_prefix`.",
        ),
        key("connect.plugin.source", "The Confluent S3 sink's zip, relative to the plan file unless absolute."),
        key("connect.plugin.url", "A download of the zip instead of `source`: https, or http to a loopback address. Needs `sha256`."),
        key("connect.plugin.sha256", "The SHA-256 of the download at `url`, 64 hex digits; pinfra verifies it."),
        key("connect.plugin.key_prefix", "Key prefix of the uploaded zip in the plan's bucket; ends in `/`.")
            .default(json!("pinfra/plugins/")),
        key("connect.connector", "The connector that runs the plugin: the seed's S3 sink settings, then the plan's."),
        key("connect.connector.name", "Connector name; placeholders allowed.").default(json!(defaults::CONNECTOR_NAME)),
        key("connect.connector.kafka_connect_version", "Kafka Connect version MSK Connect runs.")
            .default(json!(CONNECT_VERSIONS[0]))
            .values(json!(CONNECT_VERSIONS)),
        key(
            "connect.connector.topics_regex",
            "Kafka Connect's `topics.regex` (whole names). Default: `[msk] topic_prefix` with its regex characters escaped, then `.*` (`{user_id}\\..*`).",
        ),
        key(
            "connect.connector.config",
            "Connector configuration keys that override or add to the seed's sink settings; values may use placeholders.",
        )
        .default(json!({})),
        key(
            "connect.connector.capacity",
            "The connector's workers: `workers` (provisioned), or `min_workers`/`max_workers` (autoscaling).",
        ),
        key("connect.connector.capacity.mcu_count", "MSK Connect units per worker.").default(json!(1)).values(json!([1, 2, 4, 8])),
        key("connect.connector.capacity.workers", "Workers, provisioned. Not with the autoscaling keys.").default(json!(1)),
        key("connect.connector.capacity.min_workers", "Autoscaling: the fewest workers.").default(json!(1)),
        key("connect.connector.capacity.max_workers", "Autoscaling: the most workers.").default(json!(2)),
        key("connect.connector.capacity.scale_in_cpu", "Autoscaling: scale in below this CPU percentage.").default(json!(20)),
        key("connect.connector.capacity.scale_out_cpu", "Autoscaling: scale out above this CPU percentage.").default(json!(80)),
        key("connect.connector.capacity.max_tasks", "Autoscaling: the most tasks, at least `max_workers`. Default: MSK Connect's."),
        key("connect.connector.subnets", "Client subnets (`subnet-...`). Default: the cluster's broker subnets.").default(json!([])),
        key("connect.connector.security_groups", "Security groups (`sg-...`). Default: the cluster's broker security groups.")
            .default(json!([])),
        key("connect.connector.log_group", "Worker logs to this CloudWatch Logs group, which must exist."),
        key("connect.connector.log_bucket_prefix", "Worker logs to the plan's bucket under this key prefix, ending in `/`."),
    ]
}

fn api_and_pacing() -> Vec<KeyDoc> {
    vec![
        key("api.name", "REST API name; placeholders allowed.").default(json!(defaults::API_NAME)),
        key("api.stage", "Stage name; placeholders allowed.").default(json!("{env}")),
        key(
            "api.api_key_required",
            "Callers must send an API key (`x-api-key`); pinfra then manages the key `<name>-key` and the usage plan `<name>-plan`.",
        )
        .default(json!(false)),
        key("api.throttle_rate_limit", "Requests per second for the whole stage.").default(json!(100)),
        key("api.throttle_burst_limit", "Burst for the whole stage.").default(json!(200)),
        key(
            "pacing.rates",
            "Per `service:Operation` (or `service:*`), `\"COUNT/SECONDS\"`, or `\"off\"` to stop pacing it, such as `{ \"apigateway:CreateRestApi\" = \"1/1\" }`.",
        )
        .default(json!({})),
    ]
}
