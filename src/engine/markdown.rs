//! The diff as Markdown, for a pull request or a CI job's summary (`diff --format markdown`,
//! `GITHUB_STEP_SUMMARY`): a heading, the summary line, then one collapsible section per
//! resource that changes, its fields in a `diff` block (GitHub colours `+` and `-` lines).
//!
//! Names and notes come from AWS and the plan: in HTML they are escaped, in a code block the
//! fence is longer than any run of backticks inside. Every value line goes through
//! [`crate::secrets::mask`], so no secret-looking value reaches a page many people read.

use std::fmt::Write as _;

use super::render::{show as pretty, summary_line};
use super::{Action, Change, FieldChange, Planned, Summary, Value};
use crate::secrets;

/// `text` safe inside HTML (and so inside Markdown's inline HTML).
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '`' => out.push_str("&#96;"),
            '|' => out.push_str("&#124;"),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// `sign path = value  comment`, a multi-line value's lines under it with the same sign.
fn assign(out: &mut Vec<String>, sign: char, path: &str, value: &str, comment: &str) {
    let count = value.lines().count();
    for (i, line) in value.lines().enumerate() {
        let end = if i + 1 == count { comment } else { "" };
        if i == 0 {
            out.push(format!("{sign} {path} = {line}{end}"));
        } else {
            out.push(format!("{sign}   {line}{end}"));
        }
    }
}

/// One field's lines of the `diff` block.
fn field_lines(out: &mut Vec<String>, field: &FieldChange) {
    let (path, comment) = (field.path.as_str(), if field.forces_replace { "  # forces replacement" } else { "" });
    let new = match &field.new {
        Some(Value::Known(v)) => Some(pretty(v)),
        Some(Value::Unknown) => Some("(known after apply)".to_owned()),
        None => None,
    };
    let old = field.old.as_ref().map(pretty);
    match (old, new) {
        (Some(old), Some(new)) if old.contains('\n') || new.contains('\n') => {
            out.push(format!("  {path}:{comment}"));
            for change in similar::TextDiff::from_lines(&old, &new).iter_all_changes() {
                let sign = match change.tag() {
                    similar::ChangeTag::Delete => '-',
                    similar::ChangeTag::Insert => '+',
                    similar::ChangeTag::Equal => ' ',
                };
                out.push(format!("{sign}   {}", change.value().trim_end_matches('\n')));
            }
        }
        (old, new) => {
            if let Some(old) = old {
                assign(out, '-', path, &old, comment);
            }
            match new {
                Some(new) => assign(out, '+', path, &new, comment),
                None => out.push(format!("- {path}  # removed")),
            }
        }
    }
}

/// A fenced block of `lines`, its fence longer than any backtick run inside.
fn fenced(lines: &[String]) -> String {
    let body = secrets::mask(&lines.join("\n"));
    let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat((longest + 1).max(3));
    format!("{fence}diff\n{body}\n{fence}\n")
}

/// One resource's collapsible section.
fn section(out: &mut String, change: &Change) {
    let id = html(&change.id.to_string());
    let reasons = change.replace_reasons();
    let why = if reasons.is_empty() {
        String::new()
    } else {
        format!(" because <code>{}</code> cannot change in place", html(&reasons.join(", ")))
    };
    let phrase = match change.action {
        Action::Replace => "<b>must be replaced</b>".to_owned(),
        other => other.phrase().to_owned(),
    };
    let _ = writeln!(out, "<details><summary><code>{} {id}</code> {phrase}{why}</summary>\n", change.action.symbol());
    if let Some(note) = &change.note {
        let _ = writeln!(out, "> {}\n", html(note));
    }
    let mut lines = Vec::new();
    for field in &change.fields {
        field_lines(&mut lines, field);
    }
    if !lines.is_empty() {
        out.push_str(&fenced(&lines));
    }
    out.push_str("\n</details>\n\n");
}

/// The Markdown diff of one environment, headed `pinfra {command}`.
pub fn markdown(planned: &Planned, command: &str, environment: &str, region: &str) -> String {
    let summary = Summary::of(&planned.changes);
    let mut out = format!("### pinfra {command}: environment <code>{}</code> ({})\n\n", html(environment), html(region));
    let _ = writeln!(out, "**{}**\n", html(&summary_line(&summary)));
    let replaced: Vec<String> = planned.changes.iter().filter(|c| c.action == Action::Replace).map(|c| html(&c.id.to_string())).collect();
    if !replaced.is_empty() {
        let _ = writeln!(out, "> [!WARNING]\n> Replaced (deleted, then made again): {}\n", replaced.join(", "));
    }
    for change in planned.changes.iter().filter(|c| c.action != Action::NoOp) {
        section(&mut out, change);
    }
    for change in planned.changes.iter().filter(|c| c.action == Action::NoOp && c.note.is_some()) {
        let _ = writeln!(out, "- `=` {} is left alone: {}", html(&change.id.to_string()), html(change.note.as_deref().unwrap_or_default()));
    }
    for (id, reason) in &planned.skipped {
        let _ = writeln!(out, "- `=` {} is left alone: {}", html(&id.to_string()), html(reason));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::{Value as Json, json};

    use super::*;
    use crate::engine::ResourceId;

    fn field(path: &str, old: Option<Json>, new: Option<Value>, forces_replace: bool) -> FieldChange {
        FieldChange { path: path.into(), old, new, forces_replace }
    }

    fn sample() -> Planned {
        Planned {
            changes: vec![
                Change {
                    id: ResourceId::new("s3_bucket", "user-0a1b-bucket"),
                    action: Action::Update,
                    fields: vec![
                        field("versioning", Some(json!("Disabled")), Some(Value::of("Enabled")), false),
                        field("policy", Some(json!({"a": 1, "b": 2})), Some(Value::of(json!({"a": 1, "b": 3}))), false),
                    ],
                    note: None,
                },
                Change {
                    id: ResourceId::new("msk_connector", "x<script>`"),
                    action: Action::Replace,
                    fields: vec![field("plugin", Some(json!("p-1")), Some(Value::Unknown), true)],
                    note: Some("a note with ```fences``` and <b>tags</b>".into()),
                },
                Change { id: ResourceId::new("iam_role", "r"), action: Action::NoOp, fields: Vec::new(), note: None },
            ],
            skipped: Vec::new(),
        }
    }

    #[test]
    fn each_change_is_a_collapsible_section_with_a_diff_block() {
        insta::assert_snapshot!(markdown(&sample(), "diff", "dev", "us-east-1"));
    }

    #[test]
    fn names_notes_and_values_cannot_break_out_of_their_place() {
        let mut planned = sample();
        planned.changes[0].fields.push(field("tags.x", None, Some(Value::of("```\n<details>")), false));
        let text = markdown(&planned, "diff", "dev", "us-east-1");
        assert!(!text.contains("<script>") && !text.contains("<b>tags"), "{text}");
        // A value holding a fence gets a longer one around it.
        assert!(text.contains("````diff"), "{text}");
    }

    #[test]
    fn secret_looking_values_are_masked() {
        let mut planned = sample();
        planned.changes[0].fields.push(field("tags.owner", None, Some(Value::of("AKIAIOSFODNN7EXAMPLE")), false));
        assert!(!markdown(&planned, "diff", "dev", "us-east-1").contains("AKIAIOSFODNN7EXAMPLE"));
    }
}
