//! The plan format as a JSON Schema (draft 7), for editors: Taplo-based ones (VS Code's Even
//! Better TOML, Helix, Zed) complete keys, show each key's meaning and flag unknown keys from it.
//!
//! It is built from the reader itself: the reader runs once over a plan in which every section
//! is present, noting every key it asks for and the type it requires ([`reader::Recorder`]), so
//! the schema has exactly the reader's keys. Meanings, defaults and allowed values come from
//! [`reference`](super::reference), held to the reader by the tests below. Draft 7 because
//! Taplo's validator knows drafts 4 to 7; nothing here uses `$ref`, whose siblings (such as a
//! description) draft 7 ignores.
//!
//! The schema checks structure only: keys, types, ranges and enums. Values stay strings where
//! the plan takes placeholders (`"{user_id}-api"`); the value rules and cross-checks are
//! `pinfra validate`'s.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use toml::de::DeTable;

use super::reader::{Asked, Kind, Recorder, Table};
use super::reference::{self, KeyDoc};
use crate::diagnostics::Diagnostics;

/// The file `pinfra init` and `pinfra import` write beside the plan.
pub const FILE_NAME: &str = "pinfra.schema.json";

/// The first line of the plans they write: Taplo's schema directive, relative to the plan.
pub const DIRECTIVE: &str = "#:schema ./pinfra.schema.json";

/// The `$comment` that marks a schema as pinfra's own (so a file of that name that is not is
/// never overwritten).
const MARK: &str = "The pinfra plan format (docs/plan.md), as `pinfra schema` prints it; regenerate it rather than edit it.";

/// A plan in which every section is present, so that the reader asks for every key.
const EVERY_SECTION: &str = "
[environment]
[msk]
[msk.create]
[[topics]]
[kafka_client]
[role]
[bucket]
[connect.plugin]
[connect.connector]
[connect.connector.capacity]
[api]
[pacing]
";

/// Every key the reader asks for, in the order it asks, each once.
pub(super) fn asked() -> Vec<Asked> {
    let recorder = Recorder::default();
    let (document, _) = DeTable::parse_recoverable(EVERY_SECTION);
    let mut d = Diagnostics::default();
    // The plan is empty, so it is refused; what matters is what the reader asked for.
    let _ = super::read(&mut d, Table::recording(document.get_ref(), &recorder));
    let mut asked: Vec<Asked> = Vec::new();
    for key in recorder.take() {
        if !asked.iter().any(|a| a.table == key.table && a.key == key.key) {
            asked.push(key);
        }
    }
    asked
}

/// The plan format as a JSON Schema.
pub fn schema() -> Value {
    let asked = asked();
    let docs: BTreeMap<&str, KeyDoc> = reference::keys().into_iter().map(|k| (k.path, k)).collect();
    let tree = Tree { asked: &asked, docs: &docs };
    let mut root = Map::new();
    root.insert("$schema".into(), json!("http://json-schema.org/draft-07/schema#"));
    root.insert("$comment".into(), json!(MARK));
    root.insert("title".into(), json!("pinfra plan"));
    root.insert(
        "description".into(),
        json!("One environment of a Kafka-to-S3 pipeline on AWS, and its other environments (`[environments.<name>]`, `[cohort]`). Reference: docs/plan.md."),
    );
    if let Value::Object(base) = tree.object("", false) {
        root.extend(base);
    }
    if let Some(Value::Object(properties)) = root.get_mut("properties") {
        properties.insert("cohort".into(), cohort());
        properties.insert("environments".into(), environments(tree.object("", true)));
    }
    Value::Object(root)
}

/// [`schema`] as the text `pinfra schema` prints and `docs/plan.schema.json` holds: keys sorted,
/// whether or not serde_json keeps insertion order in this build (a feature another crate may
/// turn on), so that every build prints the same bytes.
pub fn text() -> String {
    let mut text = serde_json::to_string_pretty(&Sorted(&schema())).unwrap_or_default();
    text.push('\n');
    text
}

/// A JSON value that serializes its objects' keys in sorted order.
struct Sorted<'v>(&'v Value);

impl serde::Serialize for Sorted<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap as _, SerializeSeq as _};
        match self.0 {
            Value::Object(object) => {
                let mut keys: Vec<&String> = object.keys().collect();
                keys.sort();
                let mut map = serializer.serialize_map(Some(keys.len()))?;
                for key in keys {
                    map.serialize_entry(key, &Sorted(&object[key]))?;
                }
                map.end()
            }
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&Sorted(item))?;
                }
                seq.end()
            }
            other => other.serialize(serializer),
        }
    }
}

/// Whether `text` is a schema `pinfra schema` printed (of this version of pinfra or another).
pub fn is_pinfra_schema(text: &str) -> bool {
    serde_json::from_str::<Value>(text).is_ok_and(|v| v.get("$comment") == Some(&json!(MARK)))
}

/// The keys the reader asked for, and what the reference says of each.
struct Tree<'a> {
    asked: &'a [Asked],
    docs: &'a BTreeMap<&'static str, KeyDoc>,
}

impl Tree<'_> {
    /// The schema of the table at `path`. In an `overlay` (`[environments.<name>]`, merged over
    /// the base plan key by key) no key is required, except in an array's entries: an array
    /// replaces the base's whole.
    fn object(&self, path: &str, overlay: bool) -> Value {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for asked in self.asked.iter().filter(|a| a.table == path) {
            let full = if path.is_empty() { asked.key.to_owned() } else { format!("{path}.{}", asked.key) };
            let doc = self.docs.get(full.as_str());
            let mut property = match asked.kind {
                Kind::Table => self.object(&full, overlay),
                Kind::ArrayOfTables => json!({ "type": "array", "items": self.object(&format!("{full}[]"), false) }),
                kind => scalar(kind),
            };
            if let (Value::Object(property), Some(doc)) = (&mut property, doc) {
                annotate(property, doc);
            }
            if (asked.required || doc.is_some_and(|d| d.required)) && !overlay {
                required.push(json!(asked.key));
            }
            properties.insert(asked.key.to_owned(), property);
        }
        let mut object = Map::new();
        object.insert("type".into(), json!("object"));
        object.insert("properties".into(), Value::Object(properties));
        if !required.is_empty() {
            object.insert("required".into(), Value::Array(required));
        }
        object.insert("additionalProperties".into(), json!(false));
        Value::Object(object)
    }
}

/// The schema of a value of `kind` that is not a table.
fn scalar(kind: Kind) -> Value {
    match kind {
        Kind::String => json!({ "type": "string" }),
        Kind::Bool => json!({ "type": "boolean" }),
        Kind::Integer { min, max } if max == i64::MAX => json!({ "type": "integer", "minimum": min }),
        Kind::Integer { min, max } => json!({ "type": "integer", "minimum": min, "maximum": max }),
        Kind::StringList => json!({ "type": "array", "items": { "type": "string" } }),
        Kind::StringMap => json!({ "type": "object", "additionalProperties": { "type": "string" } }),
        Kind::ScalarMap => json!({ "type": "object", "additionalProperties": { "type": ["string", "number", "boolean"] } }),
        Kind::Table | Kind::ArrayOfTables => json!({ "type": "object" }),
    }
}

/// Puts the reference's description, default and allowed values first in `property`.
fn annotate(property: &mut Map<String, Value>, doc: &KeyDoc) {
    let mut annotated = Map::new();
    annotated.insert("description".into(), json!(doc.text));
    annotated.extend(std::mem::take(property));
    if let Some(default) = &doc.default {
        annotated.insert("default".into(), default.clone());
    }
    if let Some(values) = &doc.values {
        annotated.insert("enum".into(), values.clone());
    }
    *property = annotated;
}

/// `[cohort]` (read by `plan::cohort`, before the sections).
fn cohort() -> Value {
    json!({
        "description": "One environment per user id, named by it, whose `[environment] user_id` is the id; every other setting is the base plan's, with any `[environments.<id>]` merged over it.",
        "type": "object",
        "properties": {
            "user_ids": {
                "description": "The user ids, each once; each must also be a valid environment name (lowercase letters, digits and `-`, at most 20 characters) and not the base environment's.",
                "type": "array",
                "items": { "type": "string" },
                "uniqueItems": true
            }
        },
        "required": ["user_ids"],
        "additionalProperties": false
    })
}

/// `[environments.<name>]`: partial sections, merged key by key over the base plan's.
fn environments(overlay: Value) -> Value {
    let mut environment = Map::new();
    environment.insert(
        "description".into(),
        json!("Another environment of the pipeline: only what differs from the base plan, as partial sections (`[environments.staging.kafka_client]`), merged key by key (tables merged, other values replaced). Its name is its key."),
    );
    if let Value::Object(overlay) = overlay {
        environment.extend(overlay);
    }
    json!({
        "description": "Other environments of the pipeline, by name; `--env NAME` works on one, `--all-envs` on all. Not the base environment's own name.",
        "type": "object",
        "additionalProperties": Value::Object(environment)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key the reader asks for is described, and every description is of a key the
    /// reader asks for.
    #[test]
    fn the_reference_describes_exactly_the_keys_the_reader_asks_for() {
        let asked: Vec<String> =
            asked().iter().map(|a| if a.table.is_empty() { a.key.to_owned() } else { format!("{}.{}", a.table, a.key) }).collect();
        let described: Vec<&str> = reference::keys().iter().map(|k| k.path).collect();
        let undescribed: Vec<&String> = asked.iter().filter(|k| !described.contains(&k.as_str())).collect();
        let unknown: Vec<&&str> = described.iter().filter(|k| !asked.iter().any(|a| a == *k)).collect();
        assert!(asked.len() > 70, "the reader's keys were not all found: {asked:?}");
        assert!(undescribed.is_empty(), "keys the reader asks for that plan/reference.rs does not describe: {undescribed:?}");
        assert!(unknown.is_empty(), "keys plan/reference.rs describes that the reader does not ask for: {unknown:?}");
    }

    #[test]
    fn required_keys_are_the_readers() {
        let schema = schema();
        assert_eq!(schema["required"], json!(["environment", "msk"]));
        assert_eq!(schema["properties"]["environment"]["required"], json!(["name", "region", "user_id"]));
        assert_eq!(schema["properties"]["msk"]["required"], json!(["cluster"]));
        assert_eq!(schema["properties"]["topics"]["items"]["required"], json!(["name"]));
        assert_eq!(schema["properties"]["connect"]["required"], json!(["plugin"]));
        let overlay = &schema["properties"]["environments"]["additionalProperties"];
        assert_eq!(overlay["required"], Value::Null, "an environment gives only what differs");
        assert_eq!(overlay["properties"]["environment"]["required"], Value::Null);
        assert_eq!(overlay["properties"]["topics"]["items"]["required"], json!(["name"]), "an array replaces the base's");
    }

    /// The schema at `path` (`kafka_client.kafka_version`, `topics[].name`).
    fn at<'s>(schema: &'s Value, path: &str) -> &'s Value {
        path.split('.').fold(schema, |node, key| match key.strip_suffix("[]") {
            Some(key) => &node["properties"][key]["items"],
            None => &node["properties"][key],
        })
    }

    /// Every default the schema gives is the value the reader fills in when the key is absent
    /// (placeholders expanded).
    #[test]
    fn every_default_is_what_the_reader_fills_in() {
        use crate::plan::{Capacity, Encryption, parse};
        let base = "[environment]\nname = \"dev\"\nregion = \"us-east-1\"\nuser_id = \"u1\"\n[msk]\ncluster = \"c\"\n[msk.create]\n\
                    [[topics]]\nname = \"{user_id}.t\"\n[connect.plugin]\nsource = \"x.zip\"\n[api]\n";
        let parsed = parse(base);
        let plan = parsed.plan.unwrap_or_else(|| panic!("a valid plan: {:?}", parsed.diagnostics));
        let scaling = parse(&format!("{base}[connect.connector.capacity]\nmax_tasks = 2\n")).plan.expect("a valid plan");
        let (create, topic, client) = (plan.msk.create.clone().expect("[msk.create]"), &plan.topics[0], &plan.kafka_client);
        let (connect, api) = (plan.connect.clone().expect("[connect]"), plan.api.clone().expect("[api]"));
        let Capacity::Provisioned { mcu_count, workers } = connect.connector.capacity else { panic!("provisioned by default") };
        let Some(Capacity::AutoScaling { min_workers, max_workers, scale_in_cpu, scale_out_cpu, .. }) =
            scaling.connect.map(|c| c.connector.capacity)
        else {
            panic!("autoscaling with max_tasks")
        };
        let encryption = match plan.bucket.encryption {
            Encryption::SseS3 => "sse-s3",
            Encryption::SseKms(_) => "sse-kms",
        };
        let filled: Vec<(&str, Value)> = vec![
            ("environment.project", json!(plan.environment.project)),
            ("environment.tags", json!(plan.environment.tags)),
            ("msk.topic_prefix", json!(plan.msk.topic_prefix)),
            ("msk.create.kafka_version", json!(create.kafka_version)),
            ("msk.create.broker_count", json!(create.broker_count)),
            ("msk.create.instance_type", json!(create.instance_type)),
            ("msk.create.storage_gib", json!(create.storage_gib)),
            ("msk.create.subnets", json!(create.subnets)),
            ("msk.create.security_groups", json!(create.security_groups)),
            ("role.name", json!(plan.role.name)),
            ("role.manage_policies", json!(plan.role.manage_policies)),
            ("bucket.name", json!(plan.bucket.name)),
            ("bucket.versioning", json!(plan.bucket.versioning)),
            ("bucket.encryption", json!(encryption)),
            ("bucket.force_destroy", json!(plan.bucket.force_destroy)),
            ("topics[].partitions", json!(topic.partitions)),
            ("topics[].replication_factor", json!(topic.replication_factor)),
            ("topics[].configs", json!(topic.configs)),
            ("topics[].allow_recreate", json!(topic.allow_recreate)),
            ("kafka_client.kafka_version", json!(client.kafka_version)),
            ("kafka_client.scala_version", json!(client.scala_version)),
            ("kafka_client.msk_iam_auth_version", json!(client.msk_iam_auth_version)),
            ("kafka_client.confluent_version", json!(client.confluent_version)),
            ("kafka_client.rest_proxy_port", json!(client.rest_proxy_port)),
            ("kafka_client.security_group", json!(client.security_group)),
            ("kafka_client.proxy_sources", json!(client.proxy_sources)),
            ("kafka_client.ssh_sources", json!(client.ssh_sources)),
            ("kafka_client.instance_name", json!(client.instance_name)),
            ("kafka_client.instance_type", json!(client.instance_type)),
            ("kafka_client.root_volume_gib", json!(client.root_volume_gib)),
            ("kafka_client.ssh_key_name", json!(client.ssh_key_name)),
            ("kafka_client.root_volume_encrypted", json!(client.root_volume_encrypted)),
            ("kafka_client.imdsv2", json!(client.imdsv2)),
            ("kafka_client.manage_user_data", json!(client.manage_user_data)),
            ("kafka_client.extra_security_groups", json!(client.extra_security_groups)),
            ("connect.plugin.name", json!(connect.plugin.name)),
            ("connect.plugin.key_prefix", json!(connect.plugin.key_prefix)),
            ("connect.connector.name", json!(connect.connector.name)),
            ("connect.connector.kafka_connect_version", json!(connect.connector.kafka_connect_version)),
            // The connector's whole configuration is the seed's sink settings plus the plan's
            // overrides: none given, none added.
            ("connect.connector.config", json!({})),
            ("connect.connector.capacity.mcu_count", json!(mcu_count)),
            ("connect.connector.capacity.workers", json!(workers)),
            ("connect.connector.capacity.min_workers", json!(min_workers)),
            ("connect.connector.capacity.max_workers", json!(max_workers)),
            ("connect.connector.capacity.scale_in_cpu", json!(scale_in_cpu)),
            ("connect.connector.capacity.scale_out_cpu", json!(scale_out_cpu)),
            ("connect.connector.subnets", json!(connect.connector.subnets)),
            ("connect.connector.security_groups", json!(connect.connector.security_groups)),
            ("api.name", json!(api.name)),
            ("api.stage", json!(api.stage)),
            ("api.api_key_required", json!(api.api_key_required)),
            ("api.throttle_rate_limit", json!(api.throttle_rate_limit)),
            ("api.throttle_burst_limit", json!(api.throttle_burst_limit)),
            ("pacing.rates", json!(plan.pacing.iter().map(|r| (r.clone(), "")).collect::<BTreeMap<_, _>>())),
        ];
        let schema = schema();
        let expand = |v: &Value| match v {
            Value::String(s) => json!(s.replace("{user_id}", "u1").replace("{env}", "dev")),
            other => other.clone(),
        };
        for (path, value) in &filled {
            assert_eq!(expand(&at(&schema, path)["default"]), *value, "the default of `{path}`");
        }
        let unchecked: Vec<&str> =
            reference::keys().iter().filter(|k| k.default.is_some() && !filled.iter().any(|(p, _)| *p == k.path)).map(|k| k.path).collect();
        assert!(unchecked.is_empty(), "defaults this test does not hold to the reader: {unchecked:?}");
    }

    #[test]
    fn the_text_is_the_schema_and_marked_as_pinfras() {
        let text = text();
        assert!(is_pinfra_schema(&text));
        assert!(!is_pinfra_schema("{\"$comment\": \"someone else's\"}"));
        assert!(!is_pinfra_schema("not json"));
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), schema());
    }
}
