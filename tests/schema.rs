//! The plan's JSON Schema (`pinfra schema`, `docs/plan.schema.json`) held to the plan reader:
//! it accepts every plan the reader accepts, rejects the structural errors the reader reports
//! (at the same key), and names every key the reader asks for. Plus the committed copy, and the
//! schema file `init` writes beside a plan.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{Run, pinfra_command, root};
use jsonschema::error::ValidationErrorKind;
use pinfra::plan::schema::{DIRECTIVE, FILE_NAME};
use serde_json::Value;

fn run(args: &[&str]) -> Run {
    Run::from(pinfra_command(args).output().expect("run pinfra"))
}

/// The schema, as `pinfra schema` prints it.
fn printed() -> String {
    let run = run(&["schema"]);
    run.expect_code(0);
    run.stdout
}

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(&printed()).unwrap();
    jsonschema::draft7::new(&schema).unwrap_or_else(|e| panic!("the schema is not a valid draft 7 schema: {e}"))
}

/// A plan's text as JSON, the way an editor sees it.
fn json(text: &str) -> Value {
    toml::from_str(text).unwrap_or_else(|e| panic!("not TOML: {e}\n{text}"))
}

/// Where each error the schema finds points: the JSON pointer of the offending key (an unknown
/// or missing key is named, not only the table it is in).
fn errors(validator: &jsonschema::Validator, text: &str) -> BTreeSet<String> {
    let instance = json(text);
    let mut found = BTreeSet::new();
    for error in validator.iter_errors(&instance) {
        let at = error.instance_path().to_string();
        match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => found.extend(unexpected.iter().map(|key| format!("{at}/{key}"))),
            ValidationErrorKind::Required { property } => {
                found.insert(format!("{at}/{}", property.as_str().unwrap_or_default()));
            }
            _ => {
                found.insert(at);
            }
        }
    }
    found
}

const MINIMAL: &str =
    "[environment]\nname = \"dev\"\nregion = \"us-east-1\"\nuser_id = \"0a1b2c3d4e5f\"\n\n[msk]\ncluster = \"pinterest-msk-cluster\"\n";

/// Every plan the tests and docs use that the reader accepts, and the plans `import` writes.
fn valid_plans() -> Vec<(String, String)> {
    let shipped = std::fs::read_to_string(root().join("plans/pinterest.toml")).unwrap();
    let mut plans = vec![
        ("plans/pinterest.toml".to_owned(), shipped.clone()),
        ("the smallest plan".to_owned(), MINIMAL.to_owned()),
        ("an API key".to_owned(), shipped.replace("stage = \"dev\"", "stage = \"dev\"\napi_key_required = true")),
        ("a cohort".to_owned(), format!("{shipped}\n[cohort]\nuser_ids = [\"1b2c3d4e5f6a\", \"2c3d4e5f6a7b\"]\n")),
        (
            "environments".to_owned(),
            format!(
                "{shipped}\n[environments.staging.environment]\nuser_id = \"9f8e7d6c5b4a\"\n\n[environments.staging.kafka_client]\ninstance_type = \"t3.small\"\n\n\
                 [environments.staging.api]\nthrottle_rate_limit = 50\n\n[[environments.prod.topics]]\nname = \"{{user_id}}.pin\"\npartitions = 6\n"
            ),
        ),
        (
            "a cluster pinfra creates, autoscaling, a pinned download".to_owned(),
            format!(
                "{MINIMAL}[msk.create]\nkafka_version = \"3.6.0\"\nbroker_count = 2\nsubnets = [\"subnet-0a1b2c3d\", \"subnet-1a2b3c4d\"]\n\
                 configuration_arn = \"arn:aws:kafka:us-east-1:123456789012:configuration/c/1\"\nconfiguration_revision = 1\n\n\
                 [connect.plugin]\nurl = \"https://example.com/s3-sink.zip\"\nsha256 = \"{}\"\n\n[connect.connector]\nconfig = {{ \"flush.size\" = 100, \"x\" = true }}\n\n\
                 [connect.connector.capacity]\nmcu_count = 2\nmin_workers = 1\nmax_workers = 4\nmax_tasks = 4\n\n[pacing]\nrates = {{ \"apigateway:*\" = \"20/1\" }}\n",
                "0".repeat(64)
            ),
        ),
    ];
    // The `toml` blocks of docs/plan.md: whole plans, or sections the smallest plan completes.
    let doc = std::fs::read_to_string(root().join("docs/plan.md")).unwrap();
    for (index, block) in doc.split("```toml\n").skip(1).filter_map(|b| b.split("```").next()).enumerate() {
        let environment = MINIMAL.split("[msk]").next().unwrap_or_default();
        let candidates = [block.to_owned(), format!("{environment}{block}"), format!("{MINIMAL}{block}")];
        let Some(plan) = candidates.into_iter().find(|c| pinfra::plan::parse(c).plan.is_some()) else {
            panic!("docs/plan.md's toml block {} is not a valid plan, alone or after the smallest plan:\n{block}", index + 1);
        };
        plans.push((format!("docs/plan.md's toml block {}", index + 1), plan));
    }
    for (name, text) in &plans {
        let parsed = pinfra::plan::parse(text);
        assert!(parsed.plan.is_some(), "{name} is not a valid plan: {:?}", parsed.diagnostics);
    }
    // The plans `import` writes (its snapshots), whose made-up ids (`sg-2`) break value rules
    // but not the structure.
    for entry in std::fs::read_dir(root().join("src/commands/import/generate/snapshots")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let plan = text.splitn(3, "---\n").nth(2).unwrap_or_default().to_owned();
        plans.push((path.strip_prefix(root()).unwrap().display().to_string(), plan));
    }
    plans
}

#[test]
fn the_schema_accepts_every_valid_plan() {
    let validator = validator();
    let plans = valid_plans();
    let from_docs = plans.iter().filter(|(name, _)| name.starts_with("docs/")).count();
    assert!(from_docs >= 9, "docs/plan.md's examples were not found: {from_docs}");
    for (name, text) in &plans {
        assert_eq!(errors(&validator, text), BTreeSet::new(), "the schema refuses {name}");
    }
}

/// The invalid plans of `tests/plans/invalid/`, and the keys at which the schema must find
/// their structural errors (unknown keys, missing keys, types, ranges, enums); the value rules
/// and cross-checks are the reader's alone, so a file of those only must pass.
const INVALID: &[(&str, &[&str])] = &[
    ("unknown_keys.toml", &["/environment/regoin", "/bucket/versionning", "/roles"]),
    (
        "types_and_missing.toml",
        &["/msk", "/environment/region", "/environment/name", "/environment/tags", "/bucket/versioning", "/bucket/force_destroy"],
    ),
    ("missing_sections.toml", &["/environment", "/msk"]),
    ("topics.toml", &["/topics/0/partitions", "/topics/0/configs/retention.ms", "/topics/2/partitons"]),
    ("kafka_client.toml", &["/kafka_client/rest_proxy_port"]),
    ("bad_values.toml", &["/bucket/encryption"]),
    ("connect.toml", &["/connect/connector/kafka_connect_version", "/connect/connector/capacity/mcu_count"]),
    ("control_characters.toml", &[]),
    ("cross_checks.toml", &[]),
    ("environments.toml", &[]),
    ("msk_create.toml", &[]),
    ("names_after_expansion.toml", &[]),
    ("secrets_in_snippets.toml", &[]),
    ("secure_defaults.toml", &[]),
];

#[test]
fn the_schema_rejects_the_structural_errors_at_their_keys() {
    let validator = validator();
    for entry in std::fs::read_dir(root().join("tests/plans/invalid")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == "syntax_error.toml" {
            continue; // not TOML: nothing for a schema to read
        }
        let Some((_, expected)) = INVALID.iter().find(|(file, _)| *file == name) else {
            panic!("tests/plans/invalid/{name} is new: add what the schema finds in it to INVALID in tests/schema.rs");
        };
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(pinfra::plan::parse(&text).plan.is_none(), "{name} is a valid plan");
        let expected: BTreeSet<String> = expected.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(errors(&validator, &text), expected, "what the schema finds in {name}");
    }
}

/// The schema's property names, at any depth.
fn property_names(schema: &Value, names: &mut BTreeSet<String>) {
    match schema {
        Value::Object(object) => {
            if let Some(Value::Object(properties)) = object.get("properties") {
                names.extend(properties.keys().cloned());
            }
            object.values().for_each(|v| property_names(v, names));
        }
        Value::Array(items) => items.iter().for_each(|v| property_names(v, names)),
        _ => {}
    }
}

/// The keys the plan reader's source asks tables for (`table.string(d, "key")` and its kin),
/// found the way `tests/docs.rs` finds them: independent of the recorder the schema is built
/// with.
fn keys_in_the_reader() -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("src/plan")).unwrap() {
        let path = entry.unwrap().path();
        if path.ends_with("tests.rs") || path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (at, _) in code.match_indices("(d, \"") {
            let rest = &code[at + 5..];
            let key = &rest[..rest.find('"').unwrap_or(0)];
            if !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
                keys.insert(key.to_owned());
            }
        }
    }
    keys
}

#[test]
fn every_key_the_reader_accepts_is_in_the_schema() {
    let schema: Value = serde_json::from_str(&printed()).unwrap();
    let mut names = BTreeSet::new();
    property_names(&schema, &mut names);
    let keys = keys_in_the_reader();
    assert!(keys.len() > 50, "the reader's keys were not found: {keys:?}");
    let missing: Vec<&String> = keys.iter().filter(|k| !names.contains(*k)).collect();
    assert!(missing.is_empty(), "keys the plan reader accepts that the schema does not name: {missing:?}");
    // Read by `plan::cohort` and `parse_env` before the sections.
    assert!(schema["properties"]["cohort"]["properties"]["user_ids"].is_object());
    assert!(schema["properties"]["environments"]["additionalProperties"]["properties"]["kafka_client"].is_object());
}

#[test]
fn docs_plan_schema_json_is_what_pinfra_schema_prints() {
    let committed = std::fs::read_to_string(root().join("docs/plan.schema.json")).unwrap_or_default();
    assert!(
        committed == printed(),
        "docs/plan.schema.json is not what `pinfra schema` prints: the plan format changed. Regenerate it:\n  cargo run -q -- schema > docs/plan.schema.json"
    );
}

#[test]
fn the_shipped_plan_names_the_committed_schema() {
    let shipped = std::fs::read_to_string(root().join("plans/pinterest.toml")).unwrap();
    let directive = shipped.lines().next().unwrap_or_default();
    let target = directive.strip_prefix("#:schema ").unwrap_or_else(|| panic!("the first line is not a schema directive: {directive}"));
    assert_eq!(root().join("plans").join(target).canonicalize().unwrap(), root().join("docs/plan.schema.json").canonicalize().unwrap());
}

fn init(dir: &Path) -> Run {
    let plan = dir.join("plan.toml");
    run(&["--env", "dev", "--region", "us-east-1", "init", "--user-id", "0a1b2c3d4e5f", "--cluster", "c", plan.to_str().unwrap()])
}

#[test]
fn init_writes_the_schema_beside_the_plan_that_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let run = init(dir.path());
    run.expect_code(0);
    assert!(run.stderr.contains(&format!("wrote {}", dir.path().join(FILE_NAME).display())), "{}", run.stderr);
    let plan = std::fs::read_to_string(dir.path().join("plan.toml")).unwrap();
    assert_eq!(plan.lines().next(), Some(DIRECTIVE));
    assert_eq!(std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap(), printed());
    assert_eq!(errors(&validator(), &plan), BTreeSet::new(), "the schema refuses the plan init writes:\n{plan}");
}

#[test]
fn init_never_overwrites_a_schema_file_that_is_not_pinfras_but_updates_pinfras() {
    let dir = tempfile::tempdir().unwrap();
    let theirs = "{ \"title\": \"someone else's\" }\n";
    std::fs::write(dir.path().join(FILE_NAME), theirs).unwrap();
    let run = init(dir.path());
    run.expect_code(0);
    assert!(run.stderr.contains("is not pinfra's plan schema"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap(), theirs);

    let dir = tempfile::tempdir().unwrap();
    let mut older: Value = serde_json::from_str(&printed()).unwrap();
    older["properties"] = serde_json::json!({});
    std::fs::write(dir.path().join(FILE_NAME), older.to_string()).unwrap();
    let run = init(dir.path());
    run.expect_code(0);
    assert!(run.stderr.contains("updated"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap(), printed());
}
