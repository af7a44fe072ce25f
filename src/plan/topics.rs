//! `[[topics]]`: the plan's topics, or the seed's three when there are none.

use std::collections::BTreeMap;

use super::interpolate::Variables;
use super::reader::Table;
use super::{name, rules};
use crate::diagnostics::{Diagnostic, Diagnostics};

/// One `[[topics]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    /// Topic name, placeholders expanded.
    pub name: String,
    /// Partition count; can only grow.
    pub partitions: i32,
    /// Replication factor; cannot change in place.
    pub replication_factor: i32,
    /// Topic configs the plan manages; other keys are left to the cluster.
    pub configs: BTreeMap<String, String>,
    /// Whether a replication factor change may delete and re-create the topic (losing its data).
    pub allow_recreate: bool,
}

pub use super::defaults::SEED_TOPICS;

pub(super) fn read_topics(d: &mut Diagnostics, tables: Option<Vec<Table<'_, '_>>>, vars: Option<&Variables<'_>>) -> Option<Vec<TopicSpec>> {
    let Some(tables) = tables else {
        // No `[[topics]]` at all: the seed's three topics.
        let vars = vars?;
        return SEED_TOPICS
            .iter()
            .map(|t| {
                let name = vars.expand(t).ok()?;
                Some(TopicSpec { name, partitions: 3, replication_factor: 3, configs: BTreeMap::new(), allow_recreate: false })
            })
            .collect();
    };
    let mut topics = Vec::new();
    // Kafka treats `.` and `_` alike when it checks a new topic's name against the others
    // (`Topic.hasCollision`): by that form, the first name declared.
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut ok = true;
    for mut t in tables {
        let given = t.required_string(d, "name", "\"{user_id}.pin\"");
        let partitions = t.integer(d, "partitions", 1..=200_000);
        let replication_factor = t.integer(d, "replication_factor", 1..=32);
        let configs = t.scalar_map(d, "configs");
        let allow_recreate = t.bool(d, "allow_recreate");
        t.finish(d);
        let span = given.as_ref().map(toml::Spanned::span);
        let Some(topic_name) = given.and_then(|g| name(d, Some(g), "", vars, "topic name", rules::topic_name)) else {
            ok = false;
            continue;
        };
        let span = span.unwrap_or(0..0);
        match seen.get(&topic_name.replace('.', "_")) {
            Some(first) if *first == topic_name => {
                d.push(
                    Diagnostic::error(format!("topic `{topic_name}` is declared twice"), Some(span))
                        .with_label("second declaration")
                        .with_hint("remove one of the two `[[topics]]` entries (names are compared after placeholders are expanded)"),
                );
                ok = false;
                continue;
            }
            Some(first) => {
                d.push(
                    Diagnostic::error(format!("topic `{topic_name}` collides with topic `{first}`: they differ only by `.` and `_`"), Some(span))
                        .with_label("collides with an earlier topic")
                        .with_hint("Kafka refuses a topic whose name differs from another's only by `.` versus `_` (they share metric names); rename one of them"),
                );
                ok = false;
                continue;
            }
            None => {}
        }
        seen.insert(topic_name.replace('.', "_"), topic_name.clone());
        topics.push(TopicSpec {
            name: topic_name,
            partitions: partitions.map_or(3, |p| i32::try_from(*p.get_ref()).unwrap_or(i32::MAX)),
            replication_factor: replication_factor.map_or(3, |r| i32::try_from(*r.get_ref()).unwrap_or(i32::MAX)),
            configs: configs.into_iter().map(|(k, (_, v))| (k, v.into_inner())).collect(),
            allow_recreate: allow_recreate.is_some_and(|a| *a.get_ref()),
        });
    }
    ok.then_some(topics)
}
