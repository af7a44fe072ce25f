//! The `[connect]` section: the Confluent S3 sink as an MSK Connect custom plugin
//! (`[connect.plugin]`) and the connector that runs it (`[connect.connector]`).
//!
//! The connector's configuration starts from the seed's S3 sink settings
//! ([`SEED_SINK_CONFIG`]); the plan overrides or adds keys. Whatever cannot be changed in place on
//! MSK Connect (plugin, role, cluster, network, authentication, encryption, Kafka Connect
//! version, log delivery) forces a replacement; configuration and capacity change in place.

use std::collections::BTreeMap;
use std::ops::Range;

use super::reader::Table;
use super::rules::{self, Invalid};
use super::{Diagnostic, Diagnostics, Variables, check, name, report};

/// The `[connect]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectSpec {
    /// The custom plugin.
    pub plugin: PluginSpec,
    /// The connector.
    pub connector: ConnectorSpec,
}

/// `[connect.plugin]`: where the connector's zip comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginSpec {
    /// Base name; the live plugin is `<name>-<first 12 hex digits of the zip's SHA-256>`, so a
    /// new zip is a new plugin (custom plugins are immutable).
    pub name: String,
    /// The zip.
    pub source: ArtifactSource,
    /// Where `source` (or `url`) is in the plan file, for diagnostics.
    pub source_span: Range<usize>,
    /// Key prefix of the uploaded zip in the plan's bucket; default `pinfra/plugins/`.
    pub key_prefix: String,
}

/// Where a plugin zip comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactSource {
    /// A local file, relative to the plan file's directory unless absolute.
    File(String),
    /// An https URL with a pinned SHA-256 (lower-case hex); downloaded once into a cache.
    Url {
        /// The URL.
        url: String,
        /// The expected SHA-256 of the download.
        sha256: String,
    },
    /// No zip: the custom plugin [`PluginSpec::name`] exists already (made by hand) and is used
    /// as it is (`existing = "<name>"`); pinfra adopts it and never uploads or replaces it.
    Existing,
}

/// `[connect.connector]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorSpec {
    /// Connector name; default `{user_id}-connector`.
    pub name: String,
    /// Kafka Connect version MSK Connect runs; default `2.7.1`.
    pub kafka_connect_version: String,
    /// The whole connector configuration: [`SEED_SINK_CONFIG`], then `topics.regex`,
    /// `s3.bucket.name` and `s3.region` from the plan, then the plan's `config` overrides.
    pub config: BTreeMap<String, String>,
    /// Where `topics_regex` (or the `topics.regex` override) is, for diagnostics.
    pub topics_regex_span: Option<Range<usize>>,
    /// Workers.
    pub capacity: Capacity,
    /// Client subnets; empty: the cluster's broker subnets.
    pub subnets: Vec<String>,
    /// Security groups; empty: the cluster's broker security groups.
    pub security_groups: Vec<String>,
    /// Worker log delivery.
    pub logs: LogDelivery,
}

/// The connector's workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capacity {
    /// A fixed number of workers.
    Provisioned {
        /// MSK Connect units per worker: 1, 2, 4 or 8.
        mcu_count: i32,
        /// Workers, 1-10.
        workers: i32,
    },
    /// Between `min_workers` and `max_workers`, by CPU.
    AutoScaling {
        /// MSK Connect units per worker: 1, 2, 4 or 8.
        mcu_count: i32,
        /// Lower bound, 1-10.
        min_workers: i32,
        /// Upper bound, 1-10.
        max_workers: i32,
        /// Scale in below this CPU percentage.
        scale_in_cpu: i32,
        /// Scale out above this CPU percentage.
        scale_out_cpu: i32,
        /// The most tasks autoscaling may run; `None`: MSK Connect's default.
        max_tasks: Option<i32>,
    },
}

/// Where the workers' logs go.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogDelivery {
    /// A CloudWatch Logs group that exists already.
    pub log_group: Option<String>,
    /// A key prefix in the plan's bucket.
    pub bucket_prefix: Option<String>,
}

/// The seed's S3 sink settings (the plan's `config` overrides any of them).
pub const SEED_SINK_CONFIG: [(&str, &str); 10] = [
    ("connector.class", "io.confluent.connect.s3.S3SinkConnector"),
    ("flush.size", "1"),
    ("format.class", "io.confluent.connect.s3.format.json.JsonFormat"),
    ("key.converter", "org.apache.kafka.connect.storage.StringConverter"),
    ("partitioner.class", "io.confluent.connect.storage.partitioner.DefaultPartitioner"),
    ("schema.compatibility", "NONE"),
    ("storage.class", "io.confluent.connect.s3.storage.S3Storage"),
    ("tasks.max", "1"),
    ("value.converter", "org.apache.kafka.connect.json.JsonConverter"),
    ("value.converter.schemas.enable", "false"),
];

/// Kafka Connect versions MSK Connect offers.
pub(super) const CONNECT_VERSIONS: [&str; 2] = ["2.7.1", "3.7.x"];

/// What the rest of the plan the connector section needs.
pub(super) struct Context<'v> {
    pub vars: Option<&'v Variables<'v>>,
    /// `[msk] topic_prefix`, which the default topics regex matches (escaped).
    pub topic_prefix: Option<&'v str>,
    pub bucket: Option<&'v str>,
    pub region: Option<&'v str>,
}

pub(super) fn read_connect(d: &mut Diagnostics, mut table: Table<'_, '_>, cx: &Context<'_>) -> Option<ConnectSpec> {
    let plugin = table.table(d, "plugin");
    let connector = table.table(d, "connector");
    table.finish(d);
    let plugin = match plugin {
        Some(t) => read_plugin(d, t, cx.vars),
        None => {
            d.push(
                Diagnostic::error("`[connect]` needs `[connect.plugin]`", Some(0..0))
                    .with_label("no plugin")
                    .with_hint("add `[connect.plugin]` with `source = \"<path to the Confluent S3 sink zip>\"`"),
            );
            None
        }
    };
    let connector = read_connector(d, connector, cx);
    Some(ConnectSpec { plugin: plugin?, connector: connector? })
}

fn read_plugin(d: &mut Diagnostics, mut t: Table<'_, '_>, vars: Option<&Variables<'_>>) -> Option<PluginSpec> {
    let given_name = t.string(d, "name");
    let existing = t.string(d, "existing");
    let source = t.string(d, "source");
    let url = t.string(d, "url");
    let sha256 = t.string(d, "sha256");
    let prefix = t.string(d, "key_prefix");
    t.finish(d);
    if let Some(existing) = existing {
        let others = [("name", &given_name), ("source", &source), ("url", &url), ("sha256", &sha256), ("key_prefix", &prefix)];
        if let Some((key, Some(value))) = others.iter().find(|(_, v)| v.is_some()) {
            d.push(
                Diagnostic::error(format!("`existing` and `{key}` are both set"), Some(value.span()))
                    .with_label("not with `existing`")
                    .with_hint("`existing` names a custom plugin that exists already, by its full name; drop the other keys"),
            );
            return None;
        }
        let span = existing.span();
        let plugin_name = name(d, Some(existing), "", vars, "plugin name", |n| connect_name("plugin name", n, 128))?;
        return Some(PluginSpec {
            name: plugin_name,
            source: ArtifactSource::Existing,
            source_span: span,
            key_prefix: "pinfra/plugins/".into(),
        });
    }
    // The hash suffix takes 13 characters of MSK Connect's 128.
    let plugin_name = name(d, given_name, super::defaults::PLUGIN_NAME, vars, "plugin name", |n| connect_name("plugin name", n, 115));
    let key_prefix = match prefix {
        Some(p) => check(d, &p, "key prefix", s3_key_prefix).then(|| p.into_inner()),
        None => Some("pinfra/plugins/".to_owned()),
    };
    let (source, source_span) = match (source, url, sha256) {
        (Some(file), None, None) => {
            let span = file.span();
            if file.get_ref().trim().is_empty() {
                report(
                    d,
                    span,
                    "plugin source",
                    Invalid { reason: "the plugin source is empty".into(), hint: Some("name the zip file".into()) },
                );
                return None;
            }
            (ArtifactSource::File(file.into_inner()), span)
        }
        (None, Some(url), Some(sha)) => {
            let span = url.span();
            let url_ok = check(d, &url, "plugin URL", download_url);
            let sha_ok = check(d, &sha, "SHA-256", sha256_hex);
            if !(url_ok && sha_ok) {
                return None;
            }
            (ArtifactSource::Url { url: url.into_inner(), sha256: sha.into_inner().to_ascii_lowercase() }, span)
        }
        (None, Some(url), None) => {
            d.push(
                Diagnostic::error("a plugin URL needs its SHA-256", Some(url.span()))
                    .with_label("not pinned")
                    .with_hint("add `sha256 = \"<64 hex digits>\"`: pinfra verifies every download against it"),
            );
            return None;
        }
        (Some(file), Some(_), _) => {
            d.push(
                Diagnostic::error("`source` and `url` are both set", Some(file.span()))
                    .with_label("one source only")
                    .with_hint("keep `source` (a local zip) or `url` + `sha256` (a download)"),
            );
            return None;
        }
        (Some(file), None, Some(sha)) => {
            d.push(
                Diagnostic::error("`sha256` pins a download, but the plugin comes from a local file", Some(sha.span()))
                    .with_label("unused")
                    .with_hint(format!("remove `sha256` (pinfra hashes `{}` itself)", file.get_ref())),
            );
            return None;
        }
        (None, None, _) => {
            d.push(
                Diagnostic::error("missing required key `connect.plugin.source`", Some(0..0))
                    .with_label("[connect.plugin] needs a zip")
                    .with_hint(
                        "add `source = \"artifacts/confluentinc-kafka-connect-s3-10.0.3.zip\"`, or `url` and `sha256`, or `existing = \"<plugin name>\"`",
                    ),
            );
            return None;
        }
    };
    Some(PluginSpec { name: plugin_name?, source, source_span, key_prefix: key_prefix? })
}

fn read_connector(d: &mut Diagnostics, table: Option<Table<'_, '_>>, cx: &Context<'_>) -> Option<ConnectorSpec> {
    let mut given_name = None;
    let mut version = None;
    let mut regex = None;
    let mut overrides = BTreeMap::new();
    let mut capacity_table = None;
    let (mut subnets, mut groups) = (Vec::new(), Vec::new());
    let (mut log_group, mut log_prefix) = (None, None);
    let mut t_opt = table;
    if let Some(t) = t_opt.as_mut() {
        given_name = t.string(d, "name");
        version = t.string(d, "kafka_connect_version");
        regex = t.string(d, "topics_regex");
        overrides = t.scalar_map(d, "config");
        capacity_table = t.table(d, "capacity");
        subnets = t.string_list(d, "subnets");
        groups = t.string_list(d, "security_groups");
        log_group = t.string(d, "log_group");
        log_prefix = t.string(d, "log_bucket_prefix");
    }
    let capacity = read_capacity(d, capacity_table);
    if let Some(t) = t_opt {
        t.finish(d);
    }
    let connector_name =
        name(d, given_name, super::defaults::CONNECTOR_NAME, cx.vars, "connector name", |n| connect_name("connector name", n, 128));
    let mut ok = true;
    let kafka_connect_version = match version {
        Some(v) if !CONNECT_VERSIONS.contains(&v.get_ref().as_str()) => {
            d.push(
                Diagnostic::error(format!("MSK Connect does not offer Kafka Connect `{}`", v.get_ref()), Some(v.span()))
                    .with_label("unknown version")
                    .with_hint(format!("use one of {}", CONNECT_VERSIONS.join(", "))),
            );
            ok = false;
            String::new()
        }
        Some(v) => v.into_inner(),
        None => CONNECT_VERSIONS[0].to_owned(),
    };
    let topics_regex_span = overrides.get("topics.regex").map(|(_, v)| v.span()).or_else(|| regex.as_ref().map(toml::Spanned::span));
    // `config.topics` (a list) instead of a regex: then no default regex.
    let regex = if regex.is_none() && overrides.contains_key("topics") {
        Some(String::new())
    } else {
        // The plan's prefix, escaped: `{user_id}.*` would also match `<user_id>x`, which the
        // role does not grant.
        let default = cx.topic_prefix.map_or_else(|| super::defaults::TOPICS_REGEX.to_owned(), |p| format!("{}.*", regex::escape(p)));
        name(d, regex, &default, cx.vars, "topics regex", |r| {
            if r.is_empty() {
                Err(Invalid { reason: "the topics regex is empty".into(), hint: Some("such as `{user_id}.*`".into()) })
            } else {
                rules::printable("the topics regex", r)
            }
        })
    };
    for (list, prefix) in [(&subnets, "subnet"), (&groups, "sg")] {
        for item in list {
            ok &= check(d, item, &format!("{prefix} id"), |v| rules::ec2_id(v, prefix));
        }
    }
    if let Some(p) = &log_prefix {
        ok &= check(d, p, "log key prefix", s3_key_prefix);
    }
    if let Some(g) = &log_group {
        ok &= check(d, g, "log group", |v| {
            let valid = !v.is_empty() && v.len() <= 512 && v.chars().all(|c| c.is_ascii_alphanumeric() || "_-/.#".contains(c));
            if valid {
                Ok(())
            } else {
                Err(Invalid {
                    reason: format!("`{v}` is not a CloudWatch Logs group name"),
                    hint: Some("letters, digits and `_-/.#`, up to 512".into()),
                })
            }
        });
    }
    let mut config: BTreeMap<String, String> = SEED_SINK_CONFIG.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    if let Some(regex) = regex.as_ref().filter(|r| !r.is_empty()) {
        config.insert("topics.regex".into(), regex.clone());
    }
    if let Some(bucket) = cx.bucket {
        config.insert("s3.bucket.name".into(), bucket.to_owned());
    }
    if let Some(region) = cx.region {
        config.insert("s3.region".into(), region.to_owned());
    }
    for (key, (key_span, value)) in overrides {
        if key.trim().is_empty() || key.contains(['\n', '\r']) {
            report(d, key_span.span(), "config key", Invalid { reason: "an empty or multi-line config key".into(), hint: None });
            ok = false;
            continue;
        }
        let value = match cx.vars.map(|v| v.expand(value.get_ref())) {
            Some(Ok(expanded)) => expanded,
            Some(Err(invalid)) => {
                report(d, value.span(), "config value", invalid);
                ok = false;
                continue;
            }
            None => value.into_inner(),
        };
        config.insert(key, value);
    }
    if config.contains_key("topics") && config.contains_key("topics.regex") {
        d.push(
            Diagnostic::error("the connector's config sets both `topics` and `topics.regex`", topics_regex_span.clone())
                .with_label("Kafka Connect takes one of the two")
                .with_hint("remove the `topics` override to keep the regex, or set `topics_regex` to the same topics"),
        );
        ok = false;
    }
    let capacity = capacity?;
    let connector_name = connector_name?;
    if !ok {
        return None;
    }
    regex?;
    Some(ConnectorSpec {
        name: connector_name,
        kafka_connect_version,
        config,
        topics_regex_span,
        capacity,
        subnets: subnets.into_iter().map(toml::Spanned::into_inner).collect(),
        security_groups: groups.into_iter().map(toml::Spanned::into_inner).collect(),
        logs: LogDelivery { log_group: log_group.map(toml::Spanned::into_inner), bucket_prefix: log_prefix.map(toml::Spanned::into_inner) },
    })
}

fn read_capacity(d: &mut Diagnostics, table: Option<Table<'_, '_>>) -> Option<Capacity> {
    let Some(mut t) = table else { return Some(Capacity::Provisioned { mcu_count: 1, workers: 1 }) };
    let mcu = t.integer(d, "mcu_count", 1..=8);
    let workers = t.integer(d, "workers", 1..=10);
    let min = t.integer(d, "min_workers", 1..=10);
    let max = t.integer(d, "max_workers", 1..=10);
    let scale_in = t.integer(d, "scale_in_cpu", 1..=100);
    let scale_out = t.integer(d, "scale_out_cpu", 1..=100);
    let max_tasks = t.integer(d, "max_tasks", 1..=1000);
    t.finish(d);
    let int = |v: &Option<toml::Spanned<i64>>, default: i32| v.as_ref().map_or(default, |v| i32::try_from(*v.get_ref()).unwrap_or(default));
    let mcu_count = int(&mcu, 1);
    if let Some(m) = &mcu
        && ![1, 2, 4, 8].contains(m.get_ref())
    {
        d.push(
            Diagnostic::error(format!("MSK Connect workers have 1, 2, 4 or 8 MCUs, not {}", m.get_ref()), Some(m.span()))
                .with_label("MCU count")
                .with_hint("use `mcu_count = 1`, 2, 4 or 8"),
        );
        return None;
    }
    let autoscaling = min.is_some() || max.is_some() || scale_in.is_some() || scale_out.is_some() || max_tasks.is_some();
    if let (true, Some(w)) = (autoscaling, &workers) {
        d.push(
            Diagnostic::error("`workers` (provisioned) and autoscaling keys are both set", Some(w.span()))
                .with_label("fixed workers")
                .with_hint("keep `workers` for a fixed size, or `min_workers`/`max_workers` to autoscale"),
        );
        return None;
    }
    if !autoscaling {
        return Some(Capacity::Provisioned { mcu_count, workers: int(&workers, 1) });
    }
    let (min_workers, max_workers) = (int(&min, 1), int(&max, 2));
    if min_workers > max_workers {
        d.push(
            Diagnostic::error(
                format!("`min_workers` ({min_workers}) is above `max_workers` ({max_workers})"),
                min.as_ref().map(toml::Spanned::span),
            )
            .with_label("bounds")
            .with_hint("make `min_workers` at most `max_workers`"),
        );
        return None;
    }
    // MSK Connect's model: "The maximum number of tasks allocated to the connector during
    // autoscaling operations. Must be at least equal to maxWorkerCount" (AutoScaling,
    // maxAutoscalingTaskCount); CreateConnector would refuse it at apply.
    if let Some(tasks) = max_tasks.as_ref().filter(|t| *t.get_ref() < i64::from(max_workers)) {
        d.push(
            Diagnostic::error(format!("`max_tasks` ({}) is below `max_workers` ({max_workers})", tasks.get_ref()), Some(tasks.span()))
                .with_label("too few tasks")
                .with_hint("MSK Connect needs at least one task per worker at the most: raise `max_tasks` or lower `max_workers`"),
        );
        return None;
    }
    let (scale_in_cpu, scale_out_cpu) = (int(&scale_in, 20), int(&scale_out, 80));
    if scale_in_cpu >= scale_out_cpu {
        d.push(
            Diagnostic::error(
                format!("`scale_in_cpu` ({scale_in_cpu}) must be below `scale_out_cpu` ({scale_out_cpu})"),
                scale_in.as_ref().or(scale_out.as_ref()).map(toml::Spanned::span),
            )
            .with_label("thresholds")
            .with_hint("such as `scale_in_cpu = 20` and `scale_out_cpu = 80`"),
        );
        return None;
    }
    Some(Capacity::AutoScaling {
        mcu_count,
        min_workers,
        max_workers,
        scale_in_cpu,
        scale_out_cpu,
        max_tasks: max_tasks.map(|m| i32::try_from(*m.get_ref()).unwrap_or(i32::MAX)),
    })
}

/// MSK Connect names: letters, digits and hyphens.
fn connect_name(what: &str, name: &str, max: usize) -> Result<(), Invalid> {
    if !name.is_empty() && name.len() <= max && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Ok(())
    } else {
        Err(Invalid { reason: format!("`{name}` is not a valid {what}"), hint: Some(format!("1-{max} letters, digits and hyphens")) })
    }
}

fn s3_key_prefix(value: &str) -> Result<(), Invalid> {
    if value.is_empty() || value.starts_with('/') || !value.ends_with('/') || value.len() > 512 || value.chars().any(char::is_control) {
        return Err(Invalid {
            reason: format!("`{value}` is not a key prefix"),
            hint: Some("a relative S3 key prefix ending in `/`, such as `pinfra/plugins/`".into()),
        });
    }
    Ok(())
}

/// An https URL, or plain http to a loopback address (a local mirror).
fn download_url(value: &str) -> Result<(), Invalid> {
    // Before the loopback check: `http://127.0.0.1:x@evil.example/` is not loopback.
    rules::url_without_credentials(value)?;
    let loopback = ["http://127.0.0.1:", "http://127.0.0.1/", "http://localhost:", "http://localhost/", "http://[::1]"];
    if loopback.iter().any(|p| value.starts_with(p)) {
        return Ok(());
    }
    rules::https_url(value)
}

fn sha256_hex(value: &str) -> Result<(), Invalid> {
    if value.len() == 64 && value.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(Invalid {
            reason: format!("`{value}` is not a SHA-256"),
            hint: Some("64 hexadecimal digits, as `sha256sum` prints them".into()),
        })
    }
}

/// The topics among `topics` that Kafka Connect's `topics.regex` selects: the regex must match
/// the whole name (Java's `Matcher::matches`). `Err` if the regex does not compile.
/// Why `pattern` (matched against whole topic names) may match a topic outside `prefix` and
/// `others`, if it may: its literal prefixes (regex-syntax) must each start with `prefix` or be
/// exactly one of `others`. `None` when it provably stays inside.
pub fn escapes_prefix(pattern: &str, prefix: &str, others: &[&str]) -> Option<String> {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    let hir = regex_syntax::Parser::new().parse(&format!("^(?:{pattern})$")).ok()?;
    let mut extractor = Extractor::new();
    extractor.kind(ExtractKind::Prefix);
    let seq = extractor.extract(&hir);
    let Some(literals) = seq.literals() else {
        return Some("it can match names that start with anything".to_owned());
    };
    let inside = |literal: &regex_syntax::hir::literal::Literal| {
        let bytes = literal.as_bytes();
        bytes.starts_with(prefix.as_bytes()) || (literal.is_exact() && others.iter().any(|o| o.as_bytes() == bytes))
    };
    let outside = literals.iter().find(|literal| !inside(literal))?;
    let start = String::from_utf8_lossy(outside.as_bytes());
    Some(if start.is_empty() {
        "it can match names that start with anything".to_owned()
    } else {
        format!("it matches names that start with `{start}`")
    })
}

pub fn topics_matching<'t>(pattern: &str, topics: impl IntoIterator<Item = &'t str>) -> Result<Vec<&'t str>, String> {
    let whole = regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| match e {
        regex::Error::Syntax(text) => text.lines().last().unwrap_or("syntax error").trim().to_owned(),
        other => other.to_string(),
    })?;
    Ok(topics.into_iter().filter(|t| whole.is_match(t)).collect())
}
