//! Printing a [`Planned`] diff: the text form people read and the JSON form scripts read
//! (schema in `docs/diff-json.md`).
//!
//! In the text form, every name, field path, note and value is escaped
//! ([`crate::terminal::escape`]): a tag key or a name holding ESC or a newline, set in AWS by
//! someone else, must not clear the screen or forge a line of the diff someone reviews. Values
//! are JSON (serde escapes control characters in strings); the rest is escaped here.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value as Json;

use super::{Action, Change, FieldChange, Planned, Summary, Value};
use crate::terminal::escape;

/// How the text diff is styled.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    /// ANSI colours.
    pub color: bool,
    /// List unchanged resources too.
    pub show_unchanged: bool,
}

fn paint(style: Style, action: Action, text: &str) -> String {
    if !style.color {
        return text.to_owned();
    }
    let code = match action {
        Action::Create => "32",
        Action::Adopt => "36",
        Action::Update => "33",
        Action::Replace => "35",
        Action::Delete => "31",
        Action::NoOp => "2",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// A value as the diffs show it: JSON, objects and arrays pretty-printed.
pub(super) fn show(value: &Json) -> String {
    match value {
        Json::Object(_) | Json::Array(_) => serde_json::to_string_pretty(value).unwrap_or_default(),
        other => other.to_string(),
    }
}

fn show_new(value: &Option<Value>) -> String {
    match value {
        Some(Value::Known(v)) => show(v),
        Some(Value::Unknown) => "(known after apply)".to_owned(),
        None => "(removed)".to_owned(),
    }
}

fn indent(text: &str, by: &str) -> String {
    text.lines().enumerate().map(|(i, l)| if i == 0 { l.to_owned() } else { format!("{by}{l}") }).collect::<Vec<_>>().join("\n")
}

fn write_field(out: &mut String, action: Action, field: &FieldChange) {
    let forces = if field.forces_replace { "   # forces replacement" } else { "" };
    let path = escape(&field.path);
    let multiline = |v: &Json| matches!(v, Json::Object(_) | Json::Array(_));
    match (&field.old, &field.new) {
        (Some(old), Some(Value::Known(new))) if multiline(old) || multiline(new) => {
            let _ = writeln!(out, "      {path}:{forces}");
            let old_text = show(old);
            let new_text = show(new);
            let diff = similar::TextDiff::from_lines(&old_text, &new_text);
            for change in diff.iter_all_changes() {
                let sign = match change.tag() {
                    similar::ChangeTag::Delete => "-",
                    similar::ChangeTag::Insert => "+",
                    similar::ChangeTag::Equal => " ",
                };
                let _ = writeln!(out, "        {sign} {}", escape(change.value().trim_end_matches('\n')));
            }
        }
        (None, new) if action == Action::Create || action == Action::Replace || new.is_some() => {
            let _ = writeln!(out, "      {path} = {}{forces}", indent(&show_new(new), "        "));
        }
        (old, new) => {
            let old = old.as_ref().map_or_else(|| "(none)".to_owned(), show);
            let _ = writeln!(out, "      {path}: {} -> {}{forces}", indent(&old, "        "), indent(&show_new(new), "        "));
        }
    }
}

/// The text diff, ending with a summary line.
pub fn text(planned: &Planned, style: Style) -> String {
    let mut out = String::new();
    for change in &planned.changes {
        let left_alone = change.action == Action::NoOp && change.note.is_some();
        if change.action == Action::NoOp && !left_alone && !style.show_unchanged {
            continue;
        }
        let id = escape(&change.id.to_string()).into_owned();
        let header = if left_alone {
            format!("  = {id} is left alone")
        } else {
            format!("  {} {id} {}", change.action.symbol(), change.action.phrase())
        };
        let _ = writeln!(out, "{}", paint(style, change.action, &header));
        let reasons = change.replace_reasons();
        if !reasons.is_empty() {
            let _ = writeln!(out, "      # replaced because {} cannot change in place", escape(&reasons.join(", ")));
        }
        if let Some(note) = &change.note {
            let _ = writeln!(out, "      # {}", escape(note));
        }
        for field in &change.fields {
            write_field(&mut out, change.action, field);
        }
    }
    for (id, reason) in &planned.skipped {
        let _ = writeln!(out, "  = {} is left alone: {}", escape(&id.to_string()), escape(reason));
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(&summary_line(&Summary::of(&planned.changes)));
    out.push('\n');
    out
}

/// `Plan: 1 to create, ...` or `No changes. ...`.
pub fn summary_line(summary: &Summary) -> String {
    if !summary.has_changes() {
        return format!("No changes. {} resources are up to date.", summary.unchanged);
    }
    let mut parts = Vec::new();
    for (count, what) in [
        (summary.create, "to create"),
        (summary.adopt, "to adopt"),
        (summary.update, "to update"),
        (summary.replace, "to replace"),
        (summary.delete, "to delete"),
    ] {
        if count > 0 {
            parts.push(format!("{count} {what}"));
        }
    }
    format!("Plan: {}, {} unchanged.", parts.join(", "), summary.unchanged)
}

/// Version of the JSON schema; bumped on any incompatible change.
pub const JSON_SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct JsonDiff<'a> {
    schema_version: u32,
    environment: &'a str,
    region: &'a str,
    changes: Vec<JsonChange<'a>>,
    skipped: Vec<JsonSkipped<'a>>,
    summary: Summary,
}

#[derive(Serialize)]
struct JsonChange<'a> {
    address: String,
    kind: &'a str,
    name: &'a str,
    action: Action,
    replace_reasons: Vec<&'a str>,
    note: Option<&'a str>,
    fields: Vec<JsonField<'a>>,
}

#[derive(Serialize)]
struct JsonField<'a> {
    path: &'a str,
    old: Option<&'a Json>,
    new: Option<&'a Json>,
    known_after_apply: bool,
    forces_replace: bool,
}

#[derive(Serialize)]
struct JsonSkipped<'a> {
    address: String,
    reason: &'a str,
}

fn json_change(change: &Change) -> JsonChange<'_> {
    JsonChange {
        address: change.id.to_string(),
        kind: change.id.kind,
        name: &change.id.name,
        action: change.action,
        replace_reasons: change.replace_reasons(),
        note: change.note.as_deref(),
        fields: change
            .fields
            .iter()
            .map(|f| JsonField {
                path: &f.path,
                old: f.old.as_ref(),
                new: match &f.new {
                    Some(Value::Known(v)) => Some(v),
                    _ => None,
                },
                known_after_apply: f.new == Some(Value::Unknown),
                forces_replace: f.forces_replace,
            })
            .collect(),
    }
}

/// One resource's change as the JSON diff gives it (`changes[]` of docs/diff-json.md).
pub fn change_json(change: &Change) -> Json {
    serde_json::to_value(json_change(change)).unwrap_or_default()
}

/// The JSON diff (pretty-printed), for `--json`.
pub fn json(planned: &Planned, environment: &str, region: &str) -> String {
    serde_json::to_string_pretty(&json_document(planned, environment, region)).unwrap_or_default()
}

/// The JSON diff as a value, for a command to add to ([diff-json.md](../../docs/diff-json.md)).
pub fn json_document(planned: &Planned, environment: &str, region: &str) -> Json {
    let document = JsonDiff {
        schema_version: JSON_SCHEMA_VERSION,
        environment,
        region,
        changes: planned.changes.iter().map(json_change).collect(),
        skipped: planned.skipped.iter().map(|(id, reason)| JsonSkipped { address: id.to_string(), reason }).collect(),
        summary: Summary::of(&planned.changes),
    };
    serde_json::to_value(&document).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ResourceId;
    use serde_json::json;

    fn sample() -> Planned {
        let field =
            |path: &str, old: Option<Json>, new: Option<Value>, forces_replace| FieldChange { path: path.into(), old, new, forces_replace };
        Planned {
            changes: vec![
                Change {
                    id: ResourceId::new("iam_role", "0a1b-ec2-access-role"),
                    action: Action::Create,
                    fields: vec![
                        field("trust", None, Some(Value::of(json!({"Version": "2012-10-17", "Statement": []}))), false),
                        field("policy", None, Some(Value::Unknown), false),
                        field("tags.pinfra:env", None, Some(Value::of("dev")), false),
                    ],
                    note: None,
                },
                Change {
                    id: ResourceId::new("s3_bucket", "user-0a1b-bucket"),
                    action: Action::Update,
                    fields: vec![field("versioning", Some(json!(false)), Some(Value::of(true)), false)],
                    note: None,
                },
                Change {
                    id: ResourceId::new("s3_bucket", "hand-built"),
                    action: Action::Adopt,
                    fields: vec![field("tags.pinfra:plan", None, Some(Value::of("pinterest")), false)],
                    note: Some("exists without pinfra's tags; it is kept and tagged, not re-created".into()),
                },
                Change {
                    id: ResourceId::new("iam_role", "other"),
                    action: Action::Update,
                    fields: vec![field(
                        "policy",
                        Some(json!({"Statement": [{"Action": ["s3:GetObject"]}]})),
                        Some(Value::of(json!({"Statement": [{"Action": ["s3:GetObject", "s3:PutObject"]}]}))),
                        false,
                    )],
                    note: None,
                },
                Change {
                    id: ResourceId::new("msk_topic", "0a1b.pin"),
                    action: Action::Replace,
                    fields: vec![field("replication_factor", Some(json!(2)), Some(Value::of(3)), true)],
                    note: None,
                },
                Change { id: ResourceId::new("iam_instance_profile", "old"), action: Action::Delete, fields: vec![], note: None },
                Change { id: ResourceId::new("s3_bucket", "same"), action: Action::NoOp, fields: vec![], note: None },
            ],
            skipped: vec![(ResourceId::new("s3_bucket", "theirs"), "exists without pinfra's tags; not pinfra's to delete".into())],
        }
    }

    #[test]
    fn text_diff() {
        insta::assert_snapshot!(text(&sample(), Style::default()));
    }

    #[test]
    fn json_diff() {
        insta::assert_snapshot!(json(&sample(), "dev", "us-east-1"));
    }

    /// A tag key or name holding ESC, BEL or a newline was printed raw by `diff`: it could
    /// clear the screen, retitle the window, or forge a line of the diff someone reviews.
    #[test]
    fn control_characters_in_the_diff_are_shown_escaped() {
        let planned = Planned {
            changes: vec![Change {
                id: ResourceId::new("s3_bucket", "evil\u{1b}[2J"),
                action: Action::Update,
                fields: vec![
                    FieldChange {
                        path: "tags.team\u{1b}]0;pwned\u{7}".into(),
                        old: Some(json!("a\n  + forged")),
                        new: Some(Value::of("c\u{1b}[1A")),
                        forces_replace: false,
                    },
                    FieldChange {
                        path: "policy".into(),
                        old: Some(json!({"k": "x\u{1b}[2K"})),
                        new: Some(Value::of(json!({"k": "y\n+ forged"}))),
                        forces_replace: false,
                    },
                ],
                note: Some("found\n  + s3_bucket \"forged\" will be created".into()),
            }],
            skipped: vec![(ResourceId::new("s3_bucket", "theirs\r\u{9b}"), "left\u{7}".into())],
        };
        let shown = text(&planned, Style::default());
        assert_eq!(shown.chars().find(|c| *c != '\n' && crate::terminal::is_unsafe(*c)), None, "{shown}");
        assert!(!shown.lines().any(|l| l.trim_start().starts_with("+ forged") || l.trim_start().starts_with("+ s3_bucket")), "{shown}");
        assert!(shown.contains("~ s3_bucket \"evil\\e[2J\""), "{shown}");
        assert!(shown.contains("tags.team\\e]0;pwned\\x07: "), "{shown}");
    }

    #[test]
    fn no_changes() {
        let planned = Planned { changes: vec![], skipped: vec![] };
        assert_eq!(text(&planned, Style::default()), "No changes. 0 resources are up to date.\n");
    }
}
