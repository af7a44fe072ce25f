//! The plan that reproduces what `import` found, and the report beside it: pure, tested without
//! AWS.
//!
//! The plan is a `toml_edit` document, so its structure (tables, arrays of tables, keys) is the
//! editor's and no live value can end up as TOML syntax; the comments are the document's
//! decoration, and each value keeps the spelling plans have always had (JSON strings, one-line
//! arrays), which the snapshots in `generate/snapshots/` pin byte for byte.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use toml_edit::{ArrayOfTables, DocumentMut, InlineTable, Item, Table, Value};

use super::{Found, FoundApi, FoundBucket, FoundConnector, FoundInstance, Header};
use crate::plan::SEED_SINK_CONFIG;

/// The plan's text and the report.
#[derive(Debug, Clone, Default)]
pub struct Generated {
    /// The plan.
    pub text: String,
    /// Live values that differ from pinfra's defaults, kept in the plan.
    pub kept: Vec<String>,
    /// What the first apply changes beyond adopting (the plan cannot keep it), each with why.
    pub changes: Vec<String>,
    /// What stops the adoption: a resource pinfra would have to replace (it never replaces
    /// what it does not own) or cannot use; fixed by hand first.
    pub blockers: Vec<String>,
    /// What was not found: the first apply creates it.
    pub missing: Vec<String>,
}

impl Generated {
    /// The report users read.
    pub fn report(&self, path: &str) -> String {
        let mut out = format!("wrote {path}\n");
        let mut section = |title: &str, items: &[String]| {
            if !items.is_empty() {
                let _ = writeln!(out, "{title}:");
                for item in items {
                    let _ = writeln!(out, "  - {item}");
                }
            }
        };
        section("blocks adopting (fix by hand, then import again; pinfra never replaces what it does not own)", &self.blockers);
        section("kept as found (differs from pinfra's defaults)", &self.kept);
        section("changed by the first apply (the plan cannot keep it)", &self.changes);
        section("not found (the first apply creates it)", &self.missing);
        out
    }
}

/// A TOML string (JSON's string syntax is TOML's basic string).
fn q(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// A value written as `repr`, the way the plans pinfra writes spell it (strings as JSON
/// strings, arrays on one line); where `repr` is not TOML (a string holding a character TOML
/// must escape and JSON need not), `fallback`, in toml_edit's own spelling.
fn spelled(repr: &str, fallback: impl FnOnce() -> Value) -> Value {
    repr.parse().unwrap_or_else(|_| fallback())
}

/// A string value.
fn string(value: &str) -> Value {
    spelled(&q(value), || Value::from(value))
}

/// An array of strings, on one line.
fn list(values: &[String]) -> Value {
    let repr = format!("[{}]", values.iter().map(|v| q(v)).collect::<Vec<_>>().join(", "));
    spelled(&repr, || values.iter().map(String::as_str).collect::<toml_edit::Array>().into())
}

/// An integer value.
fn int(value: impl Into<i64>) -> Value {
    Value::from(value.into())
}

/// The plan as a TOML document, written table by table in the order the plan is read: each
/// table after a blank line, in the order it was begun.
struct PlanDoc {
    doc: DocumentMut,
    /// Where the table being written is: its path, and whether it is the last of an array of
    /// tables.
    current: (Vec<&'static str>, bool),
    /// The comment above the first table.
    preamble: Option<String>,
    /// The next table's position in the document.
    next: isize,
}

impl PlanDoc {
    fn new(preamble: String) -> Self {
        PlanDoc { doc: DocumentMut::new(), current: (Vec::new(), false), preamble: Some(preamble), next: 0 }
    }

    /// A new table, numbered and decorated; its parents, if new, are only implied.
    fn begun(&mut self) -> Table {
        let mut table = Table::new();
        table.set_position(Some(self.next));
        self.next += 1;
        let prefix = format!("{}\n", self.preamble.take().unwrap_or_default());
        table.decor_mut().set_prefix(prefix);
        table
    }

    /// Begins the table `[path]`.
    fn table(&mut self, path: &[&'static str]) {
        let table = self.begun();
        let (last, parents) = path.split_last().expect("a table has a name");
        let mut parent = self.doc.as_table_mut();
        for name in parents {
            let item = parent.entry(name).or_insert_with(|| {
                let mut implied = Table::new();
                implied.set_implicit(true);
                Item::Table(implied)
            });
            parent = item.as_table_mut().expect("plan tables nest in tables");
        }
        parent.insert(last, Item::Table(table));
        self.current = (path.to_vec(), false);
    }

    /// Begins one more `[[name]]`.
    fn array_entry(&mut self, name: &'static str) {
        let table = self.begun();
        let root = self.doc.as_table_mut();
        let tables = root.entry(name).or_insert_with(|| Item::ArrayOfTables(ArrayOfTables::new()));
        tables.as_array_of_tables_mut().expect("an array of tables").push(table);
        self.current = (vec![name], true);
    }

    fn current(&mut self) -> &mut Table {
        let (path, array) = &self.current;
        let mut table = self.doc.as_table_mut();
        for (i, name) in path.iter().enumerate() {
            let item = table.get_mut(name).expect("the current table exists");
            table = if *array && i + 1 == path.len() {
                let tables = item.as_array_of_tables_mut().expect("an array of tables");
                let last = tables.len() - 1;
                tables.get_mut(last).expect("an entry was pushed")
            } else {
                item.as_table_mut().expect("plan tables nest in tables")
            };
        }
        table
    }

    /// `key = value` in the current table.
    fn set(&mut self, key: &str, value: impl Into<Value>) {
        self.current().insert(key, Item::Value(value.into()));
    }

    /// `key = value   # note`.
    fn set_noted(&mut self, key: &str, value: impl Into<Value>, note: &str) {
        let mut value = value.into();
        value.decor_mut().set_suffix(format!("   # {note}"));
        self.set(key, value);
    }

    /// `# comment` on its own line, then `key = value`.
    fn set_under(&mut self, comment: &str, key: &str, value: impl Into<Value>) {
        self.set(key, value);
        if let Some(mut key) = self.current().key_mut(key) {
            key.leaf_decor_mut().set_prefix(format!("# {comment}\n"));
        }
    }

    fn text(&self) -> String {
        self.doc.to_string()
    }
}

/// A live value as a plan string that takes placeholders: braces doubled (literal), and the
/// user id written as `{user_id}` where the value derives from it.
fn templated(value: &str, user_id: &str) -> String {
    let literal = value.replace('{', "{{").replace('}', "}}");
    if user_id.is_empty() { literal } else { literal.replace(user_id, "{user_id}") }
}

fn sorted(list: &[String]) -> Vec<String> {
    let mut list = list.to_vec();
    list.sort();
    list
}

/// The plan that reproduces `found`, and the report.
pub fn generate(header: &Header, found: &Found) -> Generated {
    let mut g = Generated::default();
    let uid = header.user_id.as_str();
    let t = |name: &str| string(&templated(name, uid));
    let mut w = PlanDoc::new(format!(
        "{}\n# The pipeline of user id {uid}, as `pinfra import` found it in {}.\n# Values that differ from pinfra's defaults are kept as found; the format is docs/plan.md.\n",
        crate::plan::schema::DIRECTIVE,
        header.region
    ));
    w.table(&["environment"]);
    w.set("name", string(&header.env));
    w.set("project", string(&header.project));
    w.set("region", string(&header.region));
    w.set("user_id", string(uid));
    w.table(&["msk"]);
    w.set("cluster", string(&header.cluster));
    if found.topics.is_empty() {
        g.missing.push(format!("topics under `{uid}.`: the plan lists the seed's three (`{uid}.pin`, `{uid}.geo`, `{uid}.user`)"));
        for suffix in ["pin", "geo", "user"] {
            w.array_entry("topics");
            w.set("name", string(&format!("{{user_id}}.{suffix}")));
            w.set("partitions", int(3));
            w.set("replication_factor", int(3));
        }
    }
    for (name, partitions, replication) in &found.topics {
        w.array_entry("topics");
        w.set("name", t(name));
        w.set("partitions", int(*partitions));
        w.set("replication_factor", int(*replication));
        if (*partitions, *replication) != (3, 3) {
            g.kept.push(format!("topic {name} has {partitions} partition(s), replication factor {replication} (pinfra's default 3, 3)"));
        }
    }

    // [role]
    let role_default = format!("{uid}-ec2-access-role");
    let role_name = found.role.as_ref().map_or(role_default.clone(), |r| r.name.clone());
    w.table(&["role"]);
    w.set("name", t(&role_name));
    match &found.role {
        Some(role) => {
            if role.name != role_default {
                g.kept.push(format!("role is `{}` (pinfra's default `{role_default}`)", role.name));
            }
            if !role.has_pinfra_policy {
                w.set_noted("manage_policies", false, "its policies were made by hand; pinfra manages only its tags");
                let policies = if role.other_policies.is_empty() { "none".to_owned() } else { role.other_policies.join(", ") };
                g.kept.push(format!(
                    "role `{}` keeps its own policies ({policies}): `manage_policies = false`; drop it to have pinfra add its least-privilege policy and trust",
                    role.name
                ));
            }
        }
        None => g.missing.push(format!("the role `{role_name}` and its instance profile")),
    }
    if let Some(profile) = found.instance.as_ref().and_then(|i| i.profile.as_ref()).filter(|p| **p != role_name) {
        w.set("instance_profile", t(profile));
        g.kept.push(format!("instance profile is `{profile}` (pinfra's default: the role's name)"));
    }

    // [bucket]
    let bucket_default = format!("user-{uid}-bucket");
    let bucket_name = found.bucket.as_ref().map_or(bucket_default.clone(), |b| b.name.clone());
    w.table(&["bucket"]);
    w.set("name", t(&bucket_name));
    match &found.bucket {
        Some(FoundBucket { name, unusable: Some(why), .. }) => {
            g.blockers.push(format!("bucket `{name}` {why}: pinfra cannot adopt it"));
        }
        Some(bucket) => {
            if bucket.name != bucket_default {
                g.kept.push(format!("bucket is `{}` (pinfra's default `{bucket_default}`)", bucket.name));
            }
            if bucket.versioning.as_deref() == Some("Enabled") {
                w.set("versioning", true);
                g.kept.push(format!("bucket `{}` has versioning on", bucket.name));
            }
            match &bucket.encryption {
                Some((algorithm, key)) if algorithm == "aws:kms" => {
                    w.set("encryption", string("sse-kms"));
                    match key {
                        Some(key) if key.starts_with("arn:") => {
                            w.set("kms_key_arn", string(key));
                            g.kept.push(format!("bucket `{}` is encrypted with SSE-KMS, key {key}", bucket.name));
                        }
                        Some(key) => g.changes.push(format!(
                            "bucket `{}` is encrypted with KMS key `{key}`, which the plan names by ARN only: the apply sets the AWS managed key unless you add `kms_key_arn = \"<the key's ARN>\"`",
                            bucket.name
                        )),
                        None => g.kept.push(format!("bucket `{}` is encrypted with SSE-KMS (the AWS managed key)", bucket.name)),
                    }
                }
                Some((algorithm, _)) if algorithm != "AES256" => g.changes.push(format!(
                    "bucket `{}` is encrypted with {algorithm}, which the plan cannot express: the apply sets SSE-S3",
                    bucket.name
                )),
                Some(_) => {}
                None => g.changes.push(format!("bucket `{}` has no default encryption: the apply turns on SSE-S3", bucket.name)),
            }
            if !bucket.public_access_blocked {
                g.changes
                    .push(format!("bucket `{}` does not block all public access: the apply turns the public access block on", bucket.name));
            }
        }
        None => g.missing.push(format!("the bucket `{bucket_name}`")),
    }

    // [kafka_client]
    let port = api_port(found).unwrap_or(8082);
    w.table(&["kafka_client"]);
    w.set("rest_proxy_port", int(port));
    if port != 8082 {
        g.kept.push(format!("the REST proxy listens on port {port} (pinfra's default 8082)"));
    }
    match &found.instance {
        Some(instance) => client_section(&mut g, &mut w, instance, port, uid),
        None => g.missing.push(format!("the Kafka client instance `{uid}-kafka-client` and its security group")),
    }

    // [connect]
    match &found.plugin {
        Some(plugin) => {
            w.table(&["connect", "plugin"]);
            w.set_under("Made by hand: used as it is (pinfra never uploads or replaces it).", "existing", t(&plugin.name));
            g.kept.push(format!(
                "plugin `{}` is used as it is (`existing`); to let pinfra manage the zip, give `source` instead (a new, content-addressed plugin)",
                plugin.name
            ));
            if plugin.state != "ACTIVE" {
                g.changes
                    .push(format!("plugin `{}` is {}: pinfra uses an existing plugin only once it is ACTIVE", plugin.name, plugin.state));
            }
        }
        None => {
            w.table(&["connect", "plugin"]);
            w.set("source", string("artifacts/confluentinc-kafka-connect-s3-10.0.3.zip"));
            g.missing.push(format!("the custom plugin `{uid}-plugin`: put the Confluent S3 sink's zip at artifacts/ beside the plan"));
        }
    }
    match &found.connector {
        Some(connector) => connector_section(&mut g, &mut w, connector, found, header, (&bucket_name, &role_name)),
        None => {
            w.table(&["connect", "connector"]);
            w.set("topics_regex", string("{user_id}.*"));
            g.missing.push(format!("the connector `{uid}-connector`"));
        }
    }

    // [api]
    match &found.api {
        Some(api) => api_section(&mut g, &mut w, api, found, &header.env),
        None => {
            w.table(&["api"]);
            w.set("stage", string(&header.env));
            g.missing.push(format!("the REST API `{uid}-api`"));
        }
    }
    // The network is not the plan's: what a person made there is only reported.
    g.kept.extend(found.network.iter().cloned());
    g.text = w.text();
    g
}

/// The port the REST API's integration calls, if it names one.
fn api_port(found: &Found) -> Option<u16> {
    let (_, uri) = found.api.as_ref()?.integration.as_ref()?;
    let authority = uri.strip_prefix("http://").or_else(|| uri.strip_prefix("https://"))?.split('/').next()?;
    authority.rsplit_once(':').and_then(|(_, port)| port.parse().ok())
}

fn client_section(g: &mut Generated, w: &mut PlanDoc, instance: &FoundInstance, port: u16, uid: &str) {
    let default_name = format!("{uid}-kafka-client");
    if instance.name != default_name {
        w.set("instance_name", string(&templated(&instance.name, uid)));
        g.kept.push(format!("instance is named `{}` (pinfra's default `{default_name}`)", instance.name));
    }
    w.set("instance_type", string(&instance.instance_type));
    if instance.instance_type != "t3.micro" {
        g.kept.push(format!("instance {} is a {} (pinfra's default t3.micro)", instance.id, instance.instance_type));
    }
    w.set_noted(
        "ami",
        string(&instance.ami),
        "pinned to the live AMI; without it, the latest Amazon Linux 2023 (which would replace the instance)",
    );
    g.kept.push(format!("instance {} runs AMI {}, pinned (pinfra's default: the latest Amazon Linux 2023)", instance.id, instance.ami));
    if let Some((size, encrypted)) = instance.root_volume {
        w.set("root_volume_gib", int(size));
        if size != 20 {
            g.kept.push(format!("instance {} has a root volume of {size} GiB (pinfra's default 20)", instance.id));
        }
        if !encrypted {
            w.set_noted("root_volume_encrypted", false, "as found: not required of this instance (a new one is always encrypted)");
            g.kept.push(format!("instance {} has an unencrypted root volume (pinfra's default: encrypted; warning PF004)", instance.id));
        }
    }
    if instance.http_tokens.as_deref() == Some("optional") {
        w.set_noted("imdsv2", false, "as found: IMDSv1 allowed on this instance (a new one requires IMDSv2)");
        g.kept.push(format!("instance {} allows IMDSv1 (pinfra's default: IMDSv2 only; warning PF005)", instance.id));
    }
    // Even a user-data pinfra rendered was rendered from a plan import cannot know: it is never
    // compared until the user says so.
    w.set_noted("manage_user_data", false, "set up outside this plan: its user-data is not compared");
    if instance.pinfra_user_data {
        g.kept.push(format!(
            "instance {} runs a user-data pinfra rendered for another plan: `manage_user_data = false`; drop it to compare (a difference replaces the instance)",
            instance.id
        ));
    } else {
        g.kept.push(format!(
            "instance {} was set up without pinfra's user-data: `manage_user_data = false` (`pinfra render` still writes the properties files)",
            instance.id
        ));
    }
    if instance.state == "stopped" {
        g.changes.push(format!("instance {} is stopped: the apply starts it (the plan wants a running Kafka client)", instance.id));
    }
    if instance.root_volume.is_none() {
        g.blockers.push(format!("instance {}: its root volume cannot be read, so the plan cannot match it (a replacement)", instance.id));
    }
    if !instance.other_groups.is_empty() {
        w.set_noted("extra_security_groups", list(&instance.other_groups), "made elsewhere; kept on the instance");
        g.kept.push(format!(
            "instance {} also has security groups {}: `extra_security_groups`",
            instance.id,
            instance.other_groups.join(", ")
        ));
    }
    if let Some(key) = &instance.key_name {
        w.set_noted("ssh_key_name", string(&templated(key, uid)), "an existing key pair");
        g.kept.push(format!("instance {} uses the key pair `{key}`", instance.id));
    }
    if instance.profile.is_none() {
        g.blockers.push(format!(
            "instance {} has no instance profile: the plan's profile forces a replacement; attach the role's instance profile in the EC2 console first",
            instance.id
        ));
    }
    let Some(group) = &instance.security_group else {
        g.changes.push(format!("instance {} has no security group pinfra can read", instance.id));
        return;
    };
    w.set("security_group", string(&templated(&group.name, uid)));
    if group.name != default_name {
        g.kept.push(format!("security group is `{}` (pinfra's default `{default_name}`)", group.name));
    }
    if let Some(vpc) = &group.vpc_id {
        w.set("vpc_id", string(vpc));
        g.kept.push(format!("security group `{}` is in {vpc}, not the default VPC", group.name));
    }
    if let Some(subnet) = &instance.pinned_subnet {
        w.set("subnet_id", string(subnet));
        g.kept.push(format!(
            "instance {} is in subnet {subnet}, which does not route 0.0.0.0/0 to an internet gateway: `subnet_id` keeps it there (API Gateway cannot reach it there; the diff says so)",
            instance.id
        ));
    }
    let (mut proxy, mut ssh) = (Vec::new(), Vec::new());
    for (protocol, from, to, cidr) in &group.ingress {
        let tcp = protocol == "tcp" || protocol == "6";
        if tcp && *from == i32::from(port) && *to == i32::from(port) {
            proxy.push(cidr.clone());
        } else if tcp && *from == 22 && *to == 22 {
            if cidr.ends_with("/0") {
                g.changes.push(format!(
                    "security group `{}` lets the whole internet reach SSH ({cidr}); pinfra refuses that (PF002), so the apply revokes it: add your own address to `ssh_sources`",
                    group.name
                ));
            } else {
                ssh.push(cidr.clone());
            }
        } else if tcp && from == to {
            g.changes.push(format!("security group `{}` allows tcp {from} from {cidr}: not in the plan, the apply revokes it", group.name));
        } else {
            g.kept
                .push(format!("security group `{}` allows {protocol} {from}-{to} from {cidr}: pinfra leaves such rules alone", group.name));
        }
    }
    if group.other_ingress > 0 {
        g.changes.push(format!(
            "security group `{}` has {} rule(s) from other groups, IPv6 ranges or prefix lists: pinfra leaves them alone",
            group.name, group.other_ingress
        ));
    }
    w.set("proxy_sources", list(&proxy));
    w.set("ssh_sources", list(&ssh));
    if !ssh.is_empty() {
        g.kept.push(format!("SSH is open to {}", ssh.join(", ")));
    }
}

fn connector_section(
    g: &mut Generated,
    w: &mut PlanDoc,
    connector: &FoundConnector,
    found: &Found,
    header: &Header,
    (bucket, role): (&str, &str),
) {
    let uid = header.user_id.as_str();
    w.table(&["connect", "connector"]);
    let default_name = format!("{uid}-connector");
    if connector.name != default_name {
        w.set("name", string(&templated(&connector.name, uid)));
    }
    w.set("kafka_connect_version", string(&connector.kafka_connect_version));
    let live = &connector.config;
    if let Some(regex) = live.get("topics.regex") {
        w.set("topics_regex", string(&templated(regex, uid)));
    }
    // The configuration pinfra would write, and what the live one changes of it.
    let mut derived: BTreeMap<String, String> = SEED_SINK_CONFIG.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    derived.insert("s3.bucket.name".into(), bucket.to_owned());
    derived.insert("s3.region".into(), header.region.clone());
    let mut overrides = BTreeMap::new();
    for (key, value) in live {
        if key == "topics.regex" {
            continue;
        }
        if derived.get(key) != Some(value) {
            overrides.insert(key.clone(), value.clone());
            match derived.get(key) {
                Some(default) => g.kept.push(format!("connector has {key}={value} (pinfra's default {default})")),
                None => g.kept.push(format!("connector has {key}={value} (not among pinfra's defaults)")),
            }
        }
    }
    for (key, default) in &derived {
        if !live.contains_key(key) {
            g.changes.push(format!("connector has no {key}: the apply sets {key}={default} (pinfra's sink settings), in place"));
        }
    }
    if !live.contains_key("topics.regex") && !live.contains_key("topics") {
        g.changes.push("connector has neither topics nor topics.regex: the apply sets topics.regex".to_owned());
    }
    if !overrides.is_empty() {
        let body: Vec<String> = overrides.iter().map(|(k, v)| format!("{} = {}", q(k), q(&templated(v, uid)))).collect();
        let repr = format!("{{ {} }}", body.join(", "));
        w.set(
            "config",
            spelled(&repr, || overrides.iter().map(|(k, v)| (k.as_str(), Value::from(templated(v, uid)))).collect::<InlineTable>().into()),
        );
    }
    let (cluster_subnets, cluster_groups) = &found.cluster_network;
    if sorted(&connector.network.0) != sorted(cluster_subnets) {
        w.set("subnets", list(&connector.network.0));
        g.kept.push(format!("connector runs in subnets {} (pinfra's default: the brokers')", connector.network.0.join(", ")));
    }
    if sorted(&connector.network.1) != sorted(cluster_groups) {
        w.set("security_groups", list(&connector.network.1));
        g.kept.push(format!("connector uses security groups {} (pinfra's default: the brokers')", connector.network.1.join(", ")));
    }
    if let Some(group) = &connector.log_group {
        w.set("log_group", string(group));
        g.kept.push(format!("connector logs to CloudWatch group {group}"));
    }
    if let Some((log_bucket, prefix)) = &connector.log_bucket {
        let prefix_ok = !prefix.is_empty() && prefix.ends_with('/') && !prefix.starts_with('/');
        if log_bucket == bucket && prefix_ok {
            w.set("log_bucket_prefix", string(prefix));
            g.kept.push(format!("connector logs to s3://{log_bucket}/{prefix}"));
        } else {
            g.blockers.push(format!(
                "connector logs to s3://{log_bucket}/{prefix}, which the plan cannot express (the plan's bucket, a prefix ending in `/`): a replacement"
            ));
        }
    }
    if connector.role != role {
        g.blockers.push(format!(
            "connector runs as role `{}`, but the plan has one role (`{role}`) for the instance and the connector: a replacement",
            connector.role
        ));
    }
    if !connector.iam_and_tls {
        g.blockers.push("connector does not use IAM authentication with TLS, which pinfra always uses: a replacement".to_owned());
    }
    match connector.state.as_str() {
        "RUNNING" => {}
        "FAILED" => g.blockers.push("connector is FAILED: pinfra would replace it; delete it by hand (the plan makes it again)".to_owned()),
        state => g.changes.push(format!("connector is {state}: the apply waits for it")),
    }
    match (connector.provisioned, connector.autoscaling) {
        (Some((mcu, workers)), _) => {
            w.table(&["connect", "connector", "capacity"]);
            w.set("mcu_count", int(mcu));
            w.set("workers", int(workers));
            if (mcu, workers) != (1, 1) {
                g.kept.push(format!("connector has {workers} worker(s) of {mcu} MCU (pinfra's default 1 of 1)"));
            }
        }
        (None, Some((mcu, min, max, scale_in, scale_out, max_tasks))) => {
            w.table(&["connect", "connector", "capacity"]);
            w.set("mcu_count", int(mcu));
            w.set("min_workers", int(min));
            w.set("max_workers", int(max));
            w.set("scale_in_cpu", int(scale_in));
            w.set("scale_out_cpu", int(scale_out));
            if max_tasks > 0 {
                w.set("max_tasks", int(max_tasks));
            }
            g.kept.push(format!("connector autoscales {min}-{max} workers of {mcu} MCU"));
        }
        (None, None) => {}
    }
}

fn api_section(g: &mut Generated, w: &mut PlanDoc, api: &FoundApi, found: &Found, header_env: &str) {
    w.table(&["api"]);
    let stage = api.stage.clone().unwrap_or_else(|| header_env.to_owned());
    w.set("stage", string(&stage));
    if !api.other_stages.is_empty() {
        g.kept.push(format!("API `{}` has other stages ({}): pinfra manages `{stage}` only", api.name, api.other_stages.join(", ")));
    }
    if api.stage.is_none() {
        g.changes.push(format!("API `{}` has no stage: the apply deploys it to `{stage}`", api.name));
    }
    match api.throttling {
        Some((rate, burst)) => {
            // The plan takes whole requests per second, 1-10000, and a burst of 1-5000.
            #[allow(clippy::cast_possible_truncation)]
            let whole = (rate.round() as i64).clamp(1, 10_000);
            let burst_kept = burst.clamp(1, 5_000);
            w.set("throttle_rate_limit", int(whole));
            w.set("throttle_burst_limit", int(burst_kept));
            #[allow(clippy::cast_precision_loss)]
            let exact = (whole as f64 - rate).abs() < f64::EPSILON && burst_kept == burst;
            if !exact {
                g.changes.push(format!(
                    "stage `{stage}` throttles at {rate} requests/s, burst {burst}: the plan takes 1-10000 whole requests/s and a burst of 1-5000, so the apply sets {whole}, {burst_kept}"
                ));
            }
            if (whole, burst_kept) != (100, 200) {
                g.kept.push(format!("stage `{stage}` throttles at {whole} requests/s, burst {burst_kept} (pinfra's default 100, 200)"));
            }
        }
        None => g.changes.push(format!("stage `{stage}` has no throttling: the apply sets 100 requests/s, burst 200")),
    }
    if api.api_key_required == Some(true) {
        w.set("api_key_required", true);
        g.changes.push(format!(
            "API `{}` requires an API key: pinfra manages its own key `{}-key` and usage plan (a hand-made key keeps working only if its usage plan admits the stage)",
            api.name, api.name
        ));
    }
    if api.endpoint != "REGIONAL" {
        g.changes.push(format!(
            "API `{}` is {}: the apply changes it to REGIONAL in place (UpdateRestApi), keeping its id",
            api.name, api.endpoint
        ));
    }
    if api.same_name > 1 {
        g.blockers.push(format!("{} REST APIs are named `{}`: delete all but one by hand", api.same_name, api.name));
    }
    if api.authorization.as_deref().is_some_and(|a| a != "NONE") {
        g.changes.push(format!(
            "the API's ANY method uses {} authorization: the apply sets NONE, as the seed's design has it (use `api_key_required` to require a key)",
            api.authorization.as_deref().unwrap_or_default()
        ));
    }
    if !api.pinfra_deployment && api.stage.is_some() {
        g.changes.push(format!(
            "stage `{stage}` serves a deployment made by hand, which pinfra cannot compare: the apply makes a new deployment of the same route (with pinfra's fingerprint)"
        ));
    }
    let port = api_port(found).unwrap_or(8082);
    let expected = found.instance.as_ref().and_then(|i| i.public_dns.as_ref()).map(|dns| format!("http://{dns}:{port}/{{proxy}}"));
    match (&api.integration, expected) {
        (Some((kind, uri)), Some(expected)) if kind == "HTTP_PROXY" && *uri == expected => {}
        (Some((kind, uri)), _) => {
            g.changes.push(format!("the API's integration is {kind} {uri}: the apply points it at the instance's REST proxy"))
        }
        (None, _) => g.changes.push("the API has no ANY method on /{proxy+}: the apply makes it".to_owned()),
    }
}

#[cfg(test)]
mod tests;
