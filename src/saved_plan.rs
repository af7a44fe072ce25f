//! Saved plans: `pinfra diff --out FILE` writes the reviewed change set, `pinfra apply FILE`
//! applies exactly it, or nothing if anything it was computed from has changed
//! (`docs/saved-plans.md`).
//!
//! pinfra keeps no state: a change set is a function of the plan file, the live resources and
//! pinfra's version. A saved plan records all three: the plan file's SHA-256, pinfra's version,
//! and per resource its action and a fingerprint of its change and of the live outputs it was
//! computed from. `apply` reads everything again under the lock and computes the change set
//! anew; it goes ahead only when every fingerprint is the same. So the file cannot make pinfra
//! do anything the plan and AWS do not call for: it can only be refused.
//!
//! The file is JSON: a header (`format`, `format_version`), a `checksum` (SHA-256 of the
//! `body` member in serde_json's compact form), and the `body`. The checksum catches a file cut
//! short or edited by hand; it is no signature (keep saved plans where only CI writes them).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::artifact::sha256_hex;
use crate::engine::render::change_json;
use crate::engine::{Change, Outputs, Planned, ResourceId, Value};

/// The `format` member of every saved plan.
pub const FORMAT: &str = "pinfra-saved-plan";

/// The version of the file format this pinfra writes and reads; bumped on any change a reader
/// of the previous version would misread.
pub const FORMAT_VERSION: u32 = 1;

/// A saved plan file larger than this is refused unread: far more than any plan's change set.
pub const MAX_BYTES: u64 = 64 * 1024 * 1024;

/// What a saved plan holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Body {
    /// `pinfra --version` of the pinfra that made it.
    pub pinfra_version: String,
    /// When it was made (RFC 3339, UTC).
    pub made_at: String,
    /// The plan file it was made from.
    pub plan: PlanFile,
    /// The environment selected (`--env`), or `None` for the plan's base environment.
    pub env: Option<String>,
    /// The environment's name and Region, as the plan gives them.
    pub environment: String,
    /// The Region.
    pub region: String,
    /// `--prune`.
    pub prune: bool,
    /// Every resource of the plan, in order: its action and fingerprint.
    pub resources: Vec<Fingerprinted>,
    /// The diff, as `pinfra diff --json` prints it (docs/diff-json.md), for people and tools
    /// that review the saved plan. `apply` reads only `resources`.
    pub diff: Json,
}

/// The plan file a saved plan was made from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanFile {
    /// Its path, as given to `diff`.
    pub path: String,
    /// The SHA-256 of its bytes, in hex.
    pub sha256: String,
}

/// One resource's line in a saved plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprinted {
    /// `kind "name"`.
    pub address: String,
    /// The action, as the JSON diff names it (`create`, `no-op`...).
    pub action: String,
    /// `sha256:` of the resource's change (every field, old and new) and of its live outputs.
    pub fingerprint: String,
}

/// The whole file.
#[derive(Serialize, Deserialize)]
struct File {
    format: String,
    format_version: u32,
    checksum: String,
    body: Json,
}

/// Why a saved plan cannot be read. Each says what the file is and what to do.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReadError {
    /// Not JSON, or cut short.
    #[error("is not a whole saved plan: {0}")]
    NotJson(String),
    /// JSON, but not pinfra's.
    #[error("is not a pinfra saved plan (no `\"format\": \"{FORMAT}\"`)")]
    NotASavedPlan,
    /// A format this pinfra does not know.
    #[error("was written in saved-plan format {found}, by a newer pinfra; this one reads format {FORMAT_VERSION}")]
    Newer {
        /// The file's format version.
        found: u32,
    },
    /// The body does not match its checksum.
    #[error("was changed after it was written: its checksum does not match its contents")]
    Altered,
    /// The body lacks a member or has one of the wrong type.
    #[error("has a malformed body: {0}")]
    Malformed(String),
}

impl ReadError {
    /// What to do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            ReadError::Newer { .. } => "apply it with the pinfra that made it (its `pinfra_version`), or make the plan again with this one",
            _ => "make the plan again with `pinfra diff --out FILE`, review it, and apply that file",
        }
    }
}

/// Whether `bytes` look like a saved plan rather than a TOML plan: a TOML document cannot start
/// with `{`.
pub fn looks_saved(bytes: &[u8]) -> bool {
    bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// The checksum of a body: `sha256:` of its compact JSON.
pub fn checksum(body: &Json) -> String {
    format!("sha256:{}", sha256_hex(serde_json::to_string(body).unwrap_or_default().as_bytes()))
}

/// One resource's fingerprint: its change, every field with its live and planned value, and the
/// outputs its live state gives the resources after it.
pub fn fingerprint(change: &Change, outputs: Option<&Outputs>) -> String {
    let outputs: BTreeMap<&str, Json> = outputs
        .into_iter()
        .flatten()
        .map(|(key, value)| {
            (
                *key,
                match value {
                    Value::Known(v) => v.clone(),
                    Value::Unknown => Json::Null,
                },
            )
        })
        .collect();
    let both = serde_json::json!({"change": change_json(change), "outputs": outputs});
    checksum(&both)
}

/// Every resource of `planned` with its fingerprint.
pub fn fingerprints(planned: &Planned, outputs: &BTreeMap<ResourceId, Outputs>) -> Vec<Fingerprinted> {
    planned
        .changes
        .iter()
        .map(|change| Fingerprinted {
            address: change.id.to_string(),
            action: serde_json::to_value(change.action).ok().and_then(|a| a.as_str().map(str::to_owned)).unwrap_or_default(),
            fingerprint: fingerprint(change, outputs.get(&change.id)),
        })
        .collect()
}

/// The text of a saved plan file for `body`.
pub fn write(body: &Body) -> String {
    let body = serde_json::to_value(body).unwrap_or_default();
    let file = File { format: FORMAT.to_owned(), format_version: FORMAT_VERSION, checksum: checksum(&body), body };
    let mut text = serde_json::to_string_pretty(&file).unwrap_or_default();
    text.push('\n');
    text
}

/// Reads a saved plan file's text: its body, once the header and checksum hold.
pub fn read(text: &str) -> Result<Body, ReadError> {
    let json: Json = serde_json::from_str(text).map_err(|e| ReadError::NotJson(e.to_string()))?;
    if json.get("format").and_then(Json::as_str) != Some(FORMAT) {
        return Err(ReadError::NotASavedPlan);
    }
    let found = json.get("format_version").and_then(Json::as_u64).unwrap_or(0);
    if found > u64::from(FORMAT_VERSION) {
        return Err(ReadError::Newer { found: u32::try_from(found).unwrap_or(u32::MAX) });
    }
    let file: File = serde_json::from_value(json).map_err(|e| ReadError::Malformed(e.to_string()))?;
    if file.format_version != FORMAT_VERSION {
        return Err(ReadError::Malformed(format!("format version {} is not one this pinfra wrote", file.format_version)));
    }
    if checksum(&file.body) != file.checksum {
        return Err(ReadError::Altered);
    }
    serde_json::from_value(file.body).map_err(|e| ReadError::Malformed(e.to_string()))
}

/// What differs between the resources a saved plan was made from and those read now: per
/// resource, its address and how it differs (`saved action -> action now`, or that it appeared
/// or went).
pub fn drift(saved: &[Fingerprinted], now: &[Fingerprinted]) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for s in saved {
        let how = match now.iter().find(|n| n.address == s.address) {
            None => "no longer in the plan".to_owned(),
            Some(n) if n.fingerprint == s.fingerprint => continue,
            Some(n) if n.action == s.action => format!("{} as saved, but its live state or its change is not the same now", s.action),
            Some(n) => format!("{} as saved, {} now", s.action, n.action),
        };
        found.push((s.address.clone(), how));
    }
    for n in now.iter().filter(|n| !saved.iter().any(|s| s.address == n.address)) {
        found.push((n.address.clone(), format!("new in the plan ({})", n.action)));
    }
    found
}

#[cfg(test)]
mod tests;
