use serde_json::json;

use super::*;
use crate::engine::{Action, FieldChange};

fn change(action: Action, versioning: bool) -> Change {
    Change {
        id: ResourceId::new("s3_bucket", "user-0a1b-bucket"),
        action,
        fields: vec![FieldChange {
            path: "versioning".into(),
            old: Some(json!(false)),
            new: Some(Value::of(versioning)),
            forces_replace: false,
        }],
        note: None,
    }
}

fn body() -> Body {
    let planned = Planned { changes: vec![change(Action::Update, true)], skipped: Vec::new() };
    Body {
        pinfra_version: "0.1.0 (abc)".into(),
        made_at: "2026-12-07T06:00:00Z".into(),
        plan: PlanFile { path: "plans/pinterest.toml".into(), sha256: sha256_hex(b"plan") },
        env: None,
        environment: "dev".into(),
        region: "us-east-1".into(),
        prune: false,
        resources: fingerprints(&planned, &BTreeMap::new()),
        diff: json!({"changes": []}),
    }
}

#[test]
fn a_written_plan_reads_back_whole() {
    let text = write(&body());
    assert!(looks_saved(text.as_bytes()) && !looks_saved(b"# a plan\n[environment]\n"));
    assert_eq!(read(&text), Ok(body()));
}

#[test]
fn a_cut_altered_foreign_or_newer_file_is_refused_with_its_reason() {
    let text = write(&body());
    assert!(matches!(read(&text[..text.len() / 2]), Err(ReadError::NotJson(_))));
    assert_eq!(read(&text.replace("\"prune\": false", "\"prune\": true")), Err(ReadError::Altered));
    assert_eq!(read(r#"{"resources": []}"#), Err(ReadError::NotASavedPlan));
    let newer = text.replace("\"format_version\": 1", "\"format_version\": 2");
    assert_eq!(read(&newer), Err(ReadError::Newer { found: 2 }));
    let mut json: Json = serde_json::from_str(&text).unwrap();
    json["body"]["resources"] = json!("not a list");
    json["checksum"] = json!(checksum(&json["body"]));
    assert!(matches!(read(&json.to_string()), Err(ReadError::Malformed(_))));
}

#[test]
fn a_fingerprint_changes_with_the_live_value_the_plan_or_the_outputs() {
    let base = fingerprint(&change(Action::Update, true), None);
    assert_eq!(base, fingerprint(&change(Action::Update, true), None), "the same inputs, the same fingerprint");
    let mut live = change(Action::Update, true);
    live.fields[0].old = Some(json!("Suspended"));
    assert_ne!(base, fingerprint(&live, None));
    assert_ne!(base, fingerprint(&change(Action::Update, false), None));
    let outputs: Outputs = [("bucket_arn", Value::of("arn:aws:s3:::x"))].into_iter().collect();
    assert_ne!(base, fingerprint(&change(Action::Update, true), Some(&outputs)));
}

#[test]
fn drift_names_each_resource_that_differs() {
    let saved = vec![
        Fingerprinted { address: "a".into(), action: "create".into(), fingerprint: "1".into() },
        Fingerprinted { address: "b".into(), action: "no-op".into(), fingerprint: "2".into() },
        Fingerprinted { address: "c".into(), action: "update".into(), fingerprint: "3".into() },
    ];
    let now = vec![
        Fingerprinted { address: "a".into(), action: "create".into(), fingerprint: "1".into() },
        Fingerprinted { address: "b".into(), action: "update".into(), fingerprint: "9".into() },
        Fingerprinted { address: "d".into(), action: "create".into(), fingerprint: "4".into() },
    ];
    let lines: Vec<String> = drift(&saved, &now).into_iter().map(|(address, how)| format!("{address}: {how}")).collect();
    assert_eq!(lines, ["b: no-op as saved, update now", "c: no longer in the plan", "d: new in the plan (create)"]);
    assert!(drift(&saved, &saved).is_empty());
}
