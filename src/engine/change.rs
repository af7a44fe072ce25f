//! What a diff produces: one [`Change`] per resource, made of field-level [`FieldChange`]s.
//! These are plain data: printing them ([`super::render`]) and applying them are separate.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde_json::Value as Json;

/// Identifies a resource: its kind and its AWS name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ResourceId {
    /// The resource kind, such as `s3_bucket`.
    pub kind: &'static str,
    /// The resource's name in AWS.
    pub name: String,
}

impl ResourceId {
    /// A resource of `kind` named `name`.
    pub fn new(kind: &'static str, name: impl Into<String>) -> Self {
        Self { kind, name: name.into() }
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} \"{}\"", self.kind, self.name)
    }
}

/// A value the plan wants: known now, or known only once a dependency has been applied.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Known at diff time.
    Known(Json),
    /// Depends on a resource that does not exist yet.
    Unknown,
}

impl Value {
    /// A known value from anything serializable to JSON.
    pub fn of(value: impl Into<Json>) -> Self {
        Value::Known(value.into())
    }
}

/// What happens to one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Already as planned.
    NoOp,
    /// Does not exist; will be created.
    Create,
    /// Exists with the right name but without pinfra's ownership tags; will be tagged (and
    /// updated where it differs) instead of re-created.
    Adopt,
    /// Changed in place.
    Update,
    /// Deleted and created again, because a field that cannot change in place differs.
    Replace,
    /// Deleted.
    Delete,
}

impl Action {
    /// The one-character marker of the text diff.
    pub fn symbol(self) -> &'static str {
        match self {
            Action::NoOp => " ",
            Action::Create => "+",
            Action::Adopt => ">",
            Action::Update => "~",
            Action::Replace => "±",
            Action::Delete => "-",
        }
    }

    /// The phrase after the resource's name in the text diff.
    pub fn phrase(self) -> &'static str {
        match self {
            Action::NoOp => "is up to date",
            Action::Create => "will be created",
            Action::Adopt => "will be adopted (tagged as pinfra's)",
            Action::Update => "will be updated in place",
            Action::Replace => "must be replaced",
            Action::Delete => "will be deleted",
        }
    }
}

/// One field that differs.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldChange {
    /// Dotted path of the field, such as `versioning` or `tags.pinfra:env`.
    pub path: String,
    /// The live value; `None` when the resource or the field does not exist yet.
    pub old: Option<Json>,
    /// The planned value; `None` when the field goes away.
    pub new: Option<Value>,
    /// Whether this field cannot change in place.
    pub forces_replace: bool,
}

/// The diff of one resource.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// Which resource.
    pub id: ResourceId,
    /// What will happen.
    pub action: Action,
    /// The fields that differ (every planned field, for a create).
    pub fields: Vec<FieldChange>,
    /// Why the action was chosen, where more than the fields say it (a note for the reader).
    pub note: Option<String>,
}

impl Change {
    /// The fields that force a replacement.
    pub fn replace_reasons(&self) -> Vec<&str> {
        self.fields.iter().filter(|f| f.forces_replace).map(|f| f.path.as_str()).collect()
    }

    /// Whether `path` (or a sub-field of it) changes.
    pub fn touches(&self, path: &str) -> bool {
        self.fields.iter().any(|f| f.path == path || f.path.strip_prefix(path).is_some_and(|rest| rest.starts_with('.')))
    }
}

/// Builds the field list of a diff; each kind's pure `diff` uses it.
#[derive(Debug, Default)]
pub struct Fields {
    changes: Vec<FieldChange>,
    creating: bool,
}

impl Fields {
    /// A field list for a resource that exists (`creating == false`) or does not.
    pub fn new(creating: bool) -> Self {
        Self { changes: Vec::new(), creating }
    }

    /// Compares one field. For a create every field is listed.
    pub fn field(&mut self, path: &str, desired: Value, live: Option<Json>, forces_replace: bool) {
        let differs = match (&desired, &live) {
            (Value::Known(want), Some(have)) => want != have,
            _ => true,
        };
        if self.creating || differs {
            self.changes.push(FieldChange {
                path: path.to_owned(),
                old: live,
                new: Some(desired),
                forces_replace: forces_replace && !self.creating,
            });
        }
    }

    /// Compares a known field.
    pub fn known(&mut self, path: &str, desired: impl Into<Json>, live: Option<Json>, forces_replace: bool) {
        self.field(path, Value::Known(desired.into()), live, forces_replace);
    }

    /// Compares tags key by key. Only keys the plan sets are managed: tags others put on a
    /// resource are left alone.
    pub fn tags(&mut self, path: &str, desired: &BTreeMap<String, String>, live: Option<&BTreeMap<String, String>>) {
        for (key, value) in desired {
            let have = live.and_then(|l| l.get(key)).map(|v| Json::String(v.clone()));
            self.known(&format!("{path}.{key}"), value.clone(), have, false);
        }
    }

    /// The collected changes.
    pub fn finish(self) -> Vec<FieldChange> {
        self.changes
    }
}

/// Counts of actions, for the summary line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Resources to create.
    pub create: usize,
    /// Resources to adopt.
    pub adopt: usize,
    /// Resources to update in place.
    pub update: usize,
    /// Resources to replace.
    pub replace: usize,
    /// Resources to delete.
    pub delete: usize,
    /// Resources already as planned.
    pub unchanged: usize,
}

impl Summary {
    /// Counts the actions of `changes`.
    pub fn of<'a>(changes: impl IntoIterator<Item = &'a Change>) -> Self {
        let mut summary = Summary::default();
        for change in changes {
            match change.action {
                Action::NoOp => summary.unchanged += 1,
                Action::Create => summary.create += 1,
                Action::Adopt => summary.adopt += 1,
                Action::Update => summary.update += 1,
                Action::Replace => summary.replace += 1,
                Action::Delete => summary.delete += 1,
            }
        }
        summary
    }

    /// Whether anything would change.
    pub fn has_changes(&self) -> bool {
        self.create + self.adopt + self.update + self.replace + self.delete > 0
    }
}
