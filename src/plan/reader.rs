//! A schema walker over a parsed TOML document that keeps every span.
//!
//! Serde's derive stops at the first error and loses the position of semantic problems; this
//! reader instead records each problem in [`Diagnostics`] and carries on, so one run reports every
//! unknown key (with the closest valid one), every type error and every missing field.
//!
//! Run with a [`Recorder`], it also notes every key it asks a table for, with the key's type:
//! that list is the plan format as the reader knows it, from which `plan::schema` builds the
//! JSON Schema, so the schema cannot list a key the reader refuses or miss one it accepts.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::Range;
use std::rc::Rc;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostics::{Diagnostic, Diagnostics, closest};

/// A string value with the span it came from.
pub type SpannedString = Spanned<String>;

/// The type the reader requires of a key's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string.
    String,
    /// `true` or `false`.
    Bool,
    /// An integer within `min..=max`.
    Integer {
        /// The smallest value accepted.
        min: i64,
        /// The largest value accepted.
        max: i64,
    },
    /// An array of strings.
    StringList,
    /// A table whose values are strings.
    StringMap,
    /// A table whose values are strings, numbers or booleans.
    ScalarMap,
    /// A sub-table, read key by key in turn.
    Table,
    /// An array of tables (`[[key]]`), each read key by key in turn.
    ArrayOfTables,
}

/// One key the reader asked a table for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    /// Dotted path of the table (`""` for the root; an array's entries as `topics[]`).
    pub table: String,
    /// The key.
    pub key: &'static str,
    /// The type its value must have.
    pub kind: Kind,
    /// Whether the reader reports it missing.
    pub required: bool,
}

/// Where a reading run notes the keys it asks for.
pub type Recorder = Rc<RefCell<Vec<Asked>>>;

/// One TOML table being read against the schema.
pub struct Table<'a, 'i> {
    /// Dotted path of the table, for messages (`""` for the document root).
    path: String,
    table: &'a DeTable<'i>,
    /// Where to point when a key is missing: the table's header or key.
    anchor: Range<usize>,
    /// The keys the schema asked for, whether present or not.
    known: Vec<&'static str>,
    /// Where to note each key asked for, with its table's path as a schema names it (`None`:
    /// an ordinary read).
    recorder: Option<(Recorder, String)>,
}

impl<'a, 'i> Table<'a, 'i> {
    /// The document root.
    pub fn root(table: &'a DeTable<'i>) -> Self {
        Self { path: String::new(), table, anchor: 0..0, known: Vec::new(), recorder: None }
    }

    /// The document root, every key asked for (in this table and the ones read from it) noted
    /// in `recorder`.
    pub fn recording(table: &'a DeTable<'i>, recorder: &Recorder) -> Self {
        Self { recorder: Some((Rc::clone(recorder), String::new())), ..Self::root(table) }
    }

    /// A table read from this one, at `path` (for messages) and `schema_path` (for the recorder).
    fn child(&self, path: String, schema_path: String, table: &'a DeTable<'i>, anchor: Range<usize>) -> Self {
        let recorder = self.recorder.as_ref().map(|(recorder, _)| (Rc::clone(recorder), schema_path));
        Table { path, table, anchor, known: Vec::new(), recorder }
    }

    /// Notes that the reader asks for `key` as `kind`.
    fn record(&self, key: &'static str, kind: Kind, required: bool) {
        if let Some((recorder, table)) = &self.recorder {
            recorder.borrow_mut().push(Asked { table: table.clone(), key, kind, required });
        }
    }

    /// The dotted path of `key` in the recorder's terms.
    fn schema_path(&self, key: &str) -> String {
        match &self.recorder {
            Some((_, table)) if !table.is_empty() => format!("{table}.{key}"),
            _ => key.to_owned(),
        }
    }

    fn qualified(&self, key: &str) -> String {
        if self.path.is_empty() { key.to_owned() } else { format!("{}.{key}", self.path) }
    }

    fn entry(&mut self, key: &'static str) -> Option<(&'a Spanned<std::borrow::Cow<'i, str>>, &'a Spanned<DeValue<'i>>)> {
        self.known.push(key);
        self.table.iter().find(|(k, _)| k.get_ref().as_ref() == key)
    }

    fn type_error(&self, d: &mut Diagnostics, key: &str, expected: &str, value: &Spanned<DeValue<'_>>) {
        d.push(
            Diagnostic::error(
                format!("`{}` must be {expected}, found {}", self.qualified(key), type_name(value.get_ref())),
                Some(value.span()),
            )
            .with_label(format!("expected {expected}")),
        );
    }

    fn missing(&self, d: &mut Diagnostics, key: &str, example: &str) {
        let table = if self.path.is_empty() { "the plan".to_owned() } else { format!("[{}]", self.path) };
        d.push(
            Diagnostic::error(format!("missing required key `{}`", self.qualified(key)), Some(self.anchor.clone()))
                .with_label(format!("{table} needs `{key}`"))
                .with_hint(format!("add `{key} = {example}`")),
        );
    }

    /// Whether `key` is present (marks it as known).
    pub fn has(&mut self, key: &'static str) -> bool {
        self.entry(key).is_some()
    }

    /// An optional string.
    pub fn string(&mut self, d: &mut Diagnostics, key: &'static str) -> Option<SpannedString> {
        self.record(key, Kind::String, false);
        self.string_value(d, key)
    }

    fn string_value(&mut self, d: &mut Diagnostics, key: &'static str) -> Option<SpannedString> {
        let (_, value) = self.entry(key)?;
        match value.get_ref() {
            DeValue::String(s) => Some(Spanned::new(value.span(), s.to_string())),
            _ => {
                self.type_error(d, key, "a string", value);
                None
            }
        }
    }

    /// A string that must be present; `example` is shown in the hint.
    pub fn required_string(&mut self, d: &mut Diagnostics, key: &'static str, example: &str) -> Option<SpannedString> {
        self.record(key, Kind::String, true);
        let present = self.table.iter().any(|(k, _)| k.get_ref().as_ref() == key);
        let value = self.string_value(d, key);
        if !present {
            self.missing(d, key, example);
        }
        value
    }

    /// An optional boolean.
    pub fn bool(&mut self, d: &mut Diagnostics, key: &'static str) -> Option<Spanned<bool>> {
        self.record(key, Kind::Bool, false);
        let (_, value) = self.entry(key)?;
        match value.get_ref() {
            DeValue::Boolean(b) => Some(Spanned::new(value.span(), *b)),
            _ => {
                self.type_error(d, key, "true or false", value);
                None
            }
        }
    }

    /// An optional integer within `range`.
    pub fn integer(&mut self, d: &mut Diagnostics, key: &'static str, range: std::ops::RangeInclusive<i64>) -> Option<Spanned<i64>> {
        self.record(key, Kind::Integer { min: *range.start(), max: *range.end() }, false);
        let (_, value) = self.entry(key)?;
        let DeValue::Integer(i) = value.get_ref() else {
            self.type_error(d, key, "an integer", value);
            return None;
        };
        match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) if range.contains(&n) => Some(Spanned::new(value.span(), n)),
            _ => {
                d.push(
                    Diagnostic::error(
                        format!("`{}` must be between {} and {}", self.qualified(key), range.start(), range.end()),
                        Some(value.span()),
                    )
                    .with_label("out of range"),
                );
                None
            }
        }
    }

    /// An optional array of tables (`[[key]]`), with the span of the whole array; `None` when
    /// the key is absent.
    pub fn array_of_tables(&mut self, d: &mut Diagnostics, key: &'static str) -> Option<Vec<Table<'a, 'i>>> {
        self.record(key, Kind::ArrayOfTables, false);
        let (_, value) = self.entry(key)?;
        let DeValue::Array(items) = value.get_ref() else {
            self.type_error(d, key, "an array of tables", value);
            return Some(Vec::new());
        };
        let mut tables = Vec::new();
        for (index, item) in items.iter().enumerate() {
            match item.get_ref() {
                DeValue::Table(table) => tables.push(self.child(
                    format!("{}[{index}]", self.qualified(key)),
                    format!("{}[]", self.schema_path(key)),
                    table,
                    item.span(),
                )),
                _ => self.type_error(d, &format!("{key}[{index}]"), "a table", item),
            }
        }
        Some(tables)
    }

    /// An optional table of scalar values, each turned into its string form (`configs =
    /// { "retention.ms" = 604800000 }` and `= "604800000"` mean the same).
    pub fn scalar_map(&mut self, d: &mut Diagnostics, key: &'static str) -> BTreeMap<String, (SpannedString, SpannedString)> {
        self.record(key, Kind::ScalarMap, false);
        let mut out = BTreeMap::new();
        let Some((_, value)) = self.entry(key) else { return out };
        let DeValue::Table(table) = value.get_ref() else {
            self.type_error(d, key, "a table", value);
            return out;
        };
        for (k, v) in table.iter() {
            let text = match v.get_ref() {
                DeValue::String(s) => s.to_string(),
                DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                    Ok(n) => n.to_string(),
                    Err(_) => {
                        self.type_error(d, &format!("{key}.{}", k.get_ref()), "a 64-bit integer", v);
                        continue;
                    }
                },
                DeValue::Float(f) => f.as_str().to_owned(),
                DeValue::Boolean(b) => b.to_string(),
                _ => {
                    self.type_error(d, &format!("{key}.{}", k.get_ref()), "a string, number or boolean", v);
                    continue;
                }
            };
            out.insert(k.get_ref().to_string(), (Spanned::new(k.span(), k.get_ref().to_string()), Spanned::new(v.span(), text)));
        }
        out
    }

    /// An optional array of strings; empty when absent.
    pub fn string_list(&mut self, d: &mut Diagnostics, key: &'static str) -> Vec<SpannedString> {
        self.record(key, Kind::StringList, false);
        let Some((_, value)) = self.entry(key) else { return Vec::new() };
        let DeValue::Array(items) = value.get_ref() else {
            self.type_error(d, key, "an array of strings", value);
            return Vec::new();
        };
        let mut out = Vec::new();
        for (index, item) in items.iter().enumerate() {
            match item.get_ref() {
                DeValue::String(s) => out.push(Spanned::new(item.span(), s.to_string())),
                _ => self.type_error(d, &format!("{key}[{index}]"), "a string", item),
            }
        }
        out
    }

    /// An optional sub-table (`[path.key]` or an inline table).
    pub fn table(&mut self, d: &mut Diagnostics, key: &'static str) -> Option<Table<'a, 'i>> {
        self.record(key, Kind::Table, false);
        let (k, value) = self.entry(key)?;
        match value.get_ref() {
            DeValue::Table(table) => Some(self.child(self.qualified(key), self.schema_path(key), table, k.span())),
            _ => {
                self.type_error(d, key, "a table", value);
                None
            }
        }
    }

    /// An optional table of string values (`tags = { team = "data" }`).
    pub fn string_map(&mut self, d: &mut Diagnostics, key: &'static str) -> BTreeMap<String, (SpannedString, SpannedString)> {
        self.record(key, Kind::StringMap, false);
        let mut out = BTreeMap::new();
        let Some((_, value)) = self.entry(key) else { return out };
        let DeValue::Table(table) = value.get_ref() else {
            self.type_error(d, key, "a table of strings", value);
            return out;
        };
        for (k, v) in table.iter() {
            match v.get_ref() {
                DeValue::String(s) => {
                    let name = Spanned::new(k.span(), k.get_ref().to_string());
                    out.insert(k.get_ref().to_string(), (name, Spanned::new(v.span(), s.to_string())));
                }
                _ => self.type_error(d, &format!("{key}.{}", k.get_ref()), "a string", v),
            }
        }
        out
    }

    /// Reports every key the schema did not ask for, with the closest valid key.
    pub fn finish(self, d: &mut Diagnostics) {
        for (key, _) in self.table.iter() {
            let name = key.get_ref().as_ref();
            if self.known.contains(&name) {
                continue;
            }
            let what = if self.path.is_empty() { "unknown section or key".to_owned() } else { format!("unknown key in [{}]", self.path) };
            let mut diagnostic = Diagnostic::error(format!("{what}: `{name}`"), Some(key.span())).with_label("not a pinfra plan key");
            diagnostic = match closest(name, self.known.iter().copied()) {
                Some(suggestion) => diagnostic.with_hint(format!("did you mean `{suggestion}`?")),
                None => diagnostic.with_hint(format!("valid keys here: {}", self.known.join(", "))),
            };
            d.push(diagnostic);
        }
    }
}

fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}
