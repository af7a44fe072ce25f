//! `[cohort]`: one environment per user id, for the many pipelines of a course or a team, without
//! an `[environments.<name>]` table each.
//!
//! ```toml
//! [cohort]
//! user_ids = ["0a1b2c3d4e5f", "1b2c3d4e5f6a"]
//! ```
//!
//! Each id is an environment of that name whose `[environment] user_id` is the id. Every other
//! setting is the base plan's, and an `[environments.<id>]` table, when there is one, is merged
//! over it as for any environment. The id must then also be a valid environment name (letters,
//! digits and `-`, at most 20 characters): the plan reader checks it at the id's place in the file.

use std::ops::Range;

use toml::de::{DeTable, DeValue};

use crate::diagnostics::{Diagnostic, Diagnostics};

/// One user id of the cohort, where the file gives it.
#[derive(Debug, Clone)]
pub struct Member {
    /// The user id, which is also the environment's name.
    pub id: String,
    /// Its place in the file.
    pub span: Range<usize>,
}

/// Removes `[cohort]` from the document's root and returns its members; a malformed section is
/// reported and gives none.
pub fn take(d: &mut Diagnostics, root: &mut DeTable<'_>) -> Vec<Member> {
    let Some(section) = root.remove("cohort") else { return Vec::new() };
    let span = section.span();
    let DeValue::Table(table) = section.into_inner() else {
        d.push(
            Diagnostic::error("`cohort` must be a section", Some(span))
                .with_label("not a section")
                .with_hint("write `[cohort]` with `user_ids = [\"<id>\", ...]`"),
        );
        return Vec::new();
    };
    let mut members: Vec<Member> = Vec::new();
    let mut found = false;
    for (key, value) in &table {
        if key.get_ref() != "user_ids" {
            d.push(
                Diagnostic::error(format!("unknown key `{}` in `[cohort]`", key.get_ref()), Some(key.span()))
                    .with_label("unknown key")
                    .with_hint("`[cohort]` has one key, `user_ids`; give an environment its own settings in `[environments.<id>]`"),
            );
            continue;
        }
        found = true;
        let DeValue::Array(ids) = value.get_ref() else {
            d.push(
                Diagnostic::error("`user_ids` must be an array of strings", Some(value.span()))
                    .with_label("not an array")
                    .with_hint("write `user_ids = [\"0a1b2c3d4e5f\", \"1b2c3d4e5f6a\"]`"),
            );
            continue;
        };
        for id in ids {
            let DeValue::String(text) = id.get_ref() else {
                d.push(Diagnostic::error("a user id must be a string", Some(id.span())).with_label("not a string"));
                continue;
            };
            if let Some(first) = members.iter().find(|m| m.id == *text) {
                d.push(
                    Diagnostic::error(format!("user id `{text}` is in the cohort twice"), Some(id.span()))
                        .with_label("again")
                        .with_hint(format!("remove one; the first is at byte {}", first.span.start)),
                );
                continue;
            }
            members.push(Member { id: text.to_string(), span: id.span() });
        }
    }
    if !found {
        d.push(
            Diagnostic::error("`[cohort]` has no `user_ids`", Some(span))
                .with_label("here")
                .with_hint("add `user_ids = [\"<id>\", ...]`, one environment per id"),
        );
    }
    members
}

/// The cohort's user ids, leniently, for listing the plan's environments.
pub fn names(root: &DeTable<'_>) -> Vec<String> {
    let Some(DeValue::Table(table)) = root.get("cohort").map(toml::Spanned::get_ref) else { return Vec::new() };
    let Some(DeValue::Array(ids)) = table.get("user_ids").map(toml::Spanned::get_ref) else { return Vec::new() };
    ids.iter()
        .filter_map(|id| match id.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            _ => None,
        })
        .collect()
}
