//! The plan: one TOML file that declares the whole pipeline of one environment.
//!
//! [`parse`] turns the file's text into a typed, fully interpolated [`Plan`], or into
//! diagnostics that point at the offending source. A plan with errors never reaches AWS.
//! The format is documented in `docs/plan.md`.

pub mod api;
mod cohort;
pub mod connect;
pub mod defaults;
mod interpolate;
mod kafka_client;
mod msk;
mod reader;
mod reference;
pub mod rules;
pub mod schema;
mod topics;

use std::collections::BTreeMap;
use std::ops::Range;

use toml::de::{DeTable, DeValue};

use crate::diagnostics::{Diagnostic, Diagnostics};
pub use api::ApiSpec;
pub use connect::{ArtifactSource, Capacity, ConnectSpec, ConnectorSpec, LogDelivery, PluginSpec, SEED_SINK_CONFIG};
use interpolate::Variables;
pub use kafka_client::KafkaClientSpec;
use kafka_client::read_kafka_client;
use msk::read_msk;
pub use msk::{ClusterRef, ClusterSpec, Msk};
use reader::{SpannedString, Table};
use rules::Invalid;
use topics::read_topics;
pub use topics::{SEED_TOPICS, TopicSpec};

/// Everything one environment of the pipeline consists of, with every name resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Where and for whom the pipeline runs.
    pub environment: Environment,
    /// The MSK cluster the pipeline uses.
    pub msk: Msk,
    /// The IAM role shared by the EC2 client and the connector.
    pub role: RoleSpec,
    /// The bucket the sink connector writes to.
    pub bucket: BucketSpec,
    /// The pipeline's topics.
    pub topics: Vec<TopicSpec>,
    /// The software of the EC2 Kafka client and REST proxy.
    pub kafka_client: KafkaClientSpec,
    /// `[connect]`: the S3 sink as an MSK Connect plugin and connector; `None` without it.
    pub connect: Option<ConnectSpec>,
    /// `[api]`: the API Gateway REST API in front of the REST proxy; `None` without it.
    pub api: Option<ApiSpec>,
    /// `[pacing] rates`: rates that replace AWS's documented quotas (an account with raised
    /// quotas), each `service:Operation=COUNT/SECONDS` (or `=off`) as `--rate` takes it, checked.
    pub pacing: Vec<String>,
}

/// The `[environment]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    /// Environment name (`dev`, `staging`); the `pinfra:env` tag and `{env}`.
    pub name: String,
    /// Which pipeline this is; the `pinfra:plan` tag.
    pub project: String,
    /// AWS region of every resource.
    pub region: String,
    /// The user id the seed's names derive from; `{user_id}`.
    pub user_id: String,
    /// Tags added to every taggable resource.
    pub tags: BTreeMap<String, String>,
}

/// The `[role]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSpec {
    /// Role name; default `{user_id}-ec2-access-role` as in the seed.
    pub name: String,
    /// Instance profile name; default: the role's name, as the console does.
    pub instance_profile: String,
    /// Whether pinfra manages the role's trust policy and its inline policy; default true.
    /// False for an adopted role whose policies were made by hand: only its tags are managed.
    pub manage_policies: bool,
}

/// The `[bucket]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketSpec {
    /// Bucket name; default `user-{user_id}-bucket` as in the seed.
    pub name: String,
    /// Whether object versioning is on.
    pub versioning: bool,
    /// Default encryption of new objects.
    pub encryption: Encryption,
    /// Whether `destroy` may delete a bucket that still holds objects.
    pub force_destroy: bool,
}

/// Default bucket encryption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encryption {
    /// SSE-S3 (`AES256`).
    SseS3,
    /// SSE-KMS with the given key, or the AWS managed key when `None`.
    SseKms(Option<String>),
}

/// The result of reading a plan: the plan if it has no errors, and every finding.
#[derive(Debug)]
pub struct Parsed {
    /// `Some` unless a diagnostic is an error.
    pub plan: Option<Plan>,
    /// Errors and warnings, all of them.
    pub diagnostics: Diagnostics,
}

/// Reads a plan from its text, for its base environment. Never panics, whatever the input.
pub fn parse(text: &str) -> Parsed {
    parse_env(text, None)
}

/// The environments a plan declares: its base (`[environment] name`) first, then every
/// `[environments.<name>]`, in file order, then the `[cohort]`'s user ids not named yet. Empty
/// when the text is not a readable plan.
pub fn environments(text: &str) -> Vec<String> {
    let (document, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        return Vec::new();
    }
    let root = document.get_ref();
    let mut names: Vec<String> = base_environment(text).into_iter().collect();
    if let Some(DeValue::Table(envs)) = root.get("environments").map(toml::Spanned::get_ref) {
        names.extend(envs.iter().map(|(k, _)| k.get_ref().to_string()).filter(|n| !names.contains(n)).collect::<Vec<_>>());
    }
    for id in cohort::names(root) {
        if !names.contains(&id) {
            names.push(id);
        }
    }
    names
}

/// The base environment's name (`[environment] name`), if the text gives one.
pub fn base_environment(text: &str) -> Option<String> {
    let (document, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        return None;
    }
    match document.get_ref().get("environment").map(toml::Spanned::get_ref) {
        Some(DeValue::Table(t)) => match t.get("name").map(toml::Spanned::get_ref) {
            Some(DeValue::String(name)) => Some(name.to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// Deep-merges `overlay` into `base`: tables key by key, anything else replaced.
fn merge<'i>(base: &mut DeTable<'i>, overlay: &DeTable<'i>) {
    for (key, value) in overlay.iter() {
        let merged = match (base.get_mut(key.get_ref().as_ref()), value.get_ref()) {
            (Some(existing), DeValue::Table(over)) => match existing.get_mut() {
                DeValue::Table(inner) => {
                    merge(inner, over);
                    true
                }
                _ => false,
            },
            _ => false,
        };
        if !merged {
            base.insert(key.clone(), value.clone());
        }
    }
}

/// Reads a plan for environment `env` (`None`: the base environment). `[environments.<env>]`
/// holds partial sections (`[environments.staging.environment]`, `[environments.staging.kafka_client]`,
/// ...) merged over the base ones; the environment's name is its key.
pub fn parse_env(text: &str, env: Option<&str>) -> Parsed {
    let mut d = Diagnostics::default();
    let (document, syntax_errors) = DeTable::parse_recoverable(text);
    for error in &syntax_errors {
        d.push(
            Diagnostic::error(format!("TOML syntax error: {}", error.message().trim()), error.span())
                .with_label("here")
                .with_hint("see docs/plan.md for the plan format"),
        );
    }
    if !syntax_errors.is_empty() {
        return Parsed { plan: None, diagnostics: d };
    }
    let mut root = document.into_inner();
    let overlays = match root.remove("environments").map(toml::Spanned::into_inner) {
        None => None,
        Some(DeValue::Table(envs)) => Some(envs),
        Some(_) => {
            d.push(
                Diagnostic::error("`environments` must be a table of environments", None)
                    .with_hint("write `[environments.staging.environment]` with what differs from the base plan"),
            );
            return Parsed { plan: None, diagnostics: d };
        }
    };
    let members = cohort::take(&mut d, &mut root);
    if d.has_errors() {
        return Parsed { plan: None, diagnostics: d };
    }
    let base_name = environments(text).into_iter().next();
    if let Some(member) = members.iter().find(|m| Some(&m.id) == base_name.as_ref()) {
        d.push(
            Diagnostic::error(format!("the cohort's user id `{}` is the base environment's name", member.id), Some(member.span.clone()))
                .with_label("also the base environment")
                .with_hint("give the base environment another name (`[environment] name`), or leave this id out of the cohort"),
        );
        return Parsed { plan: None, diagnostics: d };
    }
    if let Some((key, _)) = overlays.as_ref().and_then(|o| o.iter().find(|(k, _)| Some(k.get_ref().as_ref()) == base_name.as_deref())) {
        let base = key.get_ref();
        d.push(
            Diagnostic::error(
                format!("`[environments.{base}]` names the base environment `{base}`, so it would never be read"),
                Some(key.span()),
            )
            .with_label("the base environment's name")
            .with_hint(format!(
                "the base environment `{base}` is the top-level sections: put these settings there, or give this environment another name"
            )),
        );
        return Parsed { plan: None, diagnostics: d };
    }
    if let Some(wanted) = env.filter(|e| Some(*e) != base_name.as_deref()) {
        let member = members.iter().find(|m| m.id == wanted);
        if let Some(member) = member {
            // A cohort member: its user id, under any `[environments.<id>]` of its own.
            set_environment_key(&mut root, "user_id", &member.id, member.span.clone());
            set_environment_key(&mut root, "name", &member.id, member.span.clone());
        }
        match overlays.as_ref().and_then(|o| o.iter().find(|(k, _)| k.get_ref().as_ref() == wanted)) {
            Some((key, overlay)) => {
                if !merge_overlay(&mut d, &mut root, wanted, key, overlay) {
                    return Parsed { plan: None, diagnostics: d };
                }
            }
            None if member.is_some() => {}
            None => {
                let known = environments(text);
                d.push(Diagnostic::error(format!("the plan has no environment `{wanted}`"), None).with_hint(format!(
                    "its environments: {}; add `[environments.{wanted}.environment]`, or its user id to `[cohort] user_ids`",
                    known.join(", ")
                )));
                return Parsed { plan: None, diagnostics: d };
            }
        }
    }
    let plan = read(&mut d, Table::root(&root));
    find_secrets(&mut d, text);
    let plan = if d.has_errors() { None } else { plan };
    Parsed { plan, diagnostics: d }
}

/// Merges `[environments.<wanted>]` over the base; `false` when it is not a table.
fn merge_overlay<'i>(
    d: &mut Diagnostics,
    root: &mut DeTable<'i>,
    wanted: &str,
    key: &toml::Spanned<std::borrow::Cow<'i, str>>,
    overlay: &toml::Spanned<DeValue<'i>>,
) -> bool {
    match overlay.get_ref() {
        DeValue::Table(over) => {
            for (section, value) in over.iter() {
                if !matches!(value.get_ref(), DeValue::Table(_) | DeValue::Array(_)) {
                    d.push(
                        Diagnostic::error(format!("`environments.{wanted}.{}` must be a section", section.get_ref()), Some(section.span()))
                            .with_label("not a section")
                            .with_hint(format!("put environment keys under `[environments.{wanted}.environment]`")),
                    );
                }
            }
            merge(root, over);
            // The environment's name is its key.
            set_environment_key(root, "name", wanted, key.span());
        }
        _ => {
            d.push(
                Diagnostic::error(format!("`environments.{wanted}` must be a table"), Some(key.span()))
                    .with_label("not a table")
                    .with_hint(format!("write `[environments.{wanted}.environment]` with what differs")),
            );
            return false;
        }
    }
    true
}

/// Sets `[environment] <key>` to `value`, placed at `span` for diagnostics (a name from a key or
/// a cohort's entry). Without an `[environment]` table the reader reports it missing.
fn set_environment_key(root: &mut DeTable<'_>, key: &'static str, value: &str, span: Range<usize>) {
    if let Some(DeValue::Table(environment)) = root.get_mut("environment").map(toml::Spanned::get_mut) {
        let value = DeValue::String(std::borrow::Cow::Owned(value.to_owned()));
        environment.insert(toml::Spanned::new(span.clone(), std::borrow::Cow::Borrowed(key)), toml::Spanned::new(span, value));
    }
}

/// PF003: AWS access keys have no place in a plan (it is shared and committed); the connector
/// and the Kafka client authenticate with the plan's IAM role.
fn find_secrets(d: &mut Diagnostics, text: &str) {
    static KEY_ID: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b").ok());
    static SECRET_KEY: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"(?i)["']?[a-z0-9_.\-]*(?:secret[_.\-]?access[_.\-]?key|aws[_.\-]secret)[a-z0-9_.\-]*["']?\s*="#).ok()
    });
    let hint = "remove it and rotate it: the connector and the Kafka client use the plan's IAM role; credentials for pinfra itself come from AWS_PROFILE or the environment";
    // The snippet shows the line with the key masked (`diagnostics::SourceFile` masks every
    // secret-looking value, whichever diagnostic prints it).
    for found in KEY_ID.iter().flat_map(|r| r.find_iter(text)) {
        d.push(
            Diagnostic::error("an AWS access key id is written in the plan", Some(found.range()))
                .with_label("an access key id")
                .with_code("PF003")
                .with_hint(hint),
        );
    }
    for found in SECRET_KEY.iter().flat_map(|r| r.find_iter(text)) {
        let key = found.as_str().trim_end_matches('=').trim_end();
        d.push(
            Diagnostic::error("an AWS secret access key is set in the plan", Some(found.start()..found.start() + key.len()))
                .with_label("a secret access key")
                .with_code("PF003")
                .with_hint(hint),
        );
    }
}

fn report(d: &mut Diagnostics, span: Range<usize>, label: &str, invalid: Invalid) {
    let mut diagnostic = Diagnostic::error(invalid.reason, Some(span)).with_label(label);
    if let Some(hint) = invalid.hint {
        diagnostic = diagnostic.with_hint(hint);
    }
    d.push(diagnostic);
}

/// Runs a rule on a value and reports a failure at the value's span.
fn check(d: &mut Diagnostics, value: &SpannedString, label: &str, rule: impl FnOnce(&str) -> Result<(), Invalid>) -> bool {
    match rule(value.get_ref()) {
        Ok(()) => true,
        Err(invalid) => {
            report(d, value.span(), label, invalid);
            false
        }
    }
}

/// Reads the plan's sections from `root`, the document without `[environments]` and `[cohort]`.
fn read(d: &mut Diagnostics, mut root: Table<'_, '_>) -> Option<Plan> {
    let environment = read_environment(d, &mut root);
    let msk_table = root.table(d, "msk");
    let role_table = root.table(d, "role");
    let bucket_table = root.table(d, "bucket");
    let topic_tables = root.array_of_tables(d, "topics");
    let client_table = root.table(d, "kafka_client");
    let connect_table = root.table(d, "connect");
    let api_table = root.table(d, "api");
    let pacing_table = root.table(d, "pacing");
    let pacing = read_pacing(d, pacing_table);
    root.finish(d);

    // Without a valid environment the names cannot be expanded, but the rest of each section is
    // still checked, so that one run reports every error.
    let vars = environment.as_ref().map(|e| Variables {
        pairs: vec![
            ("user_id", e.user_id.as_str()),
            ("env", e.name.as_str()),
            ("region", e.region.as_str()),
            ("project", e.project.as_str()),
        ],
    });
    let msk = match msk_table {
        Some(table) => read_msk(d, table, environment.as_ref(), vars.as_ref()),
        None => {
            d.push(
                Diagnostic::error("missing required section `[msk]`", Some(0..0))
                    .with_label("the plan needs an MSK cluster")
                    .with_hint("add `[msk]` with `cluster = \"<cluster name or ARN>\"`"),
            );
            None
        }
    };
    let role = read_role(d, role_table, vars.as_ref());
    let bucket = read_bucket(d, bucket_table, vars.as_ref());
    let topics = read_topics(d, topic_tables, vars.as_ref());
    let kafka_client = read_kafka_client(d, client_table, vars.as_ref());
    let connect = connect_table.map(|t| {
        let cx = connect::Context {
            vars: vars.as_ref(),
            topic_prefix: msk.as_ref().map(|m| m.topic_prefix.as_str()),
            bucket: bucket.as_ref().map(|b| b.name.as_str()),
            region: environment.as_ref().map(|e| e.region.as_str()),
        };
        connect::read_connect(d, t, &cx)
    });
    // `[api]` is read before a broken `[connect]` ends the plan, so that its errors are
    // reported in the same run.
    let api = api_table.map(|t| api::read_api(d, t, vars.as_ref()));
    let connect = match connect {
        Some(spec) => Some(spec?),
        None => None,
    };
    let api = match api {
        Some(spec) => Some(spec?),
        None => None,
    };
    if let (Some(connect), Some(topics), Some(msk)) = (&connect, &topics, &msk) {
        check_topics_regex(d, &connect.connector, topics, &msk.topic_prefix);
    }
    Some(Plan {
        msk: msk?,
        role: role?,
        bucket: bucket?,
        topics: topics?,
        kafka_client: kafka_client?,
        environment: environment?,
        connect,
        api,
        pacing,
    })
}

/// `[pacing] rates = { "apigateway:CreateRestApi" = "2/1" }`: the plan's rates for its account,
/// as `--rate` takes them (which wins over the plan).
fn read_pacing(d: &mut Diagnostics, table: Option<Table<'_, '_>>) -> Vec<String> {
    let Some(mut table) = table else { return Vec::new() };
    let rates = table.string_map(d, "rates");
    table.finish(d);
    let mut out = Vec::new();
    for (key, (key_span, value)) in rates {
        let text = format!("{key}={}", value.get_ref());
        match crate::aws::pacing::parse_override(&text) {
            Ok(_) => out.push(text),
            Err(error) => d.push(
                Diagnostic::error(error.to_string().replace("`--rate ", "`"), Some(key_span.span().start..value.span().end))
                    .with_label("not a rate")
                    .with_hint(
                        error
                            .hint()
                            .replace("SERVICE:OPERATION=", "\"SERVICE:OPERATION\" = \"")
                            .replace(" (or `=off`)", "\" (or `\"off\"`)"),
                    ),
            ),
        }
    }
    out
}

/// The connector must read at least one of the plan's topics: a regex that matches none is a
/// sink that silently moves nothing.
fn check_topics_regex(d: &mut Diagnostics, connector: &ConnectorSpec, topics: &[TopicSpec], prefix: &str) {
    let Some(pattern) = connector.config.get("topics.regex") else { return };
    let span = connector.topics_regex_span.clone().unwrap_or(0..0);
    // The role grants `<prefix>*` and the planned topics outside it by name: a regex that can
    // match more reads topics the grant does not cover (or, on a role made by hand, would).
    let others: Vec<&str> = topics.iter().map(|t| t.name.as_str()).filter(|t| !t.starts_with(prefix)).collect();
    if let Some(why) = connect::escapes_prefix(pattern, prefix, &others) {
        d.push(
            Diagnostic::warning(
                format!("the connector's topics regex `{pattern}` is wider than the plan's topics: {why}"),
                Some(span.clone()),
            )
            .with_code("PF006")
            .with_label("wider than the topic prefix")
            .with_hint(format!(
                "start it with the escaped prefix, such as `{}.*`; the role grants only `{prefix}*`",
                regex::escape(prefix)
            )),
        );
    }
    match connect::topics_matching(pattern, topics.iter().map(|t| t.name.as_str())) {
        Err(reason) => d.push(
            Diagnostic::error(format!("`{pattern}` is not a valid topics regex: {reason}"), Some(span))
                .with_label("topics regex")
                .with_hint("Kafka Connect takes a Java regular expression that must match whole topic names, such as `{user_id}\\..*`"),
        ),
        Ok(matched) if matched.is_empty() => d.push(
            Diagnostic::error(format!("the connector's topics regex `{pattern}` matches none of the plan's topics"), Some(span))
                .with_label("matches nothing")
                .with_hint(format!(
                    "the plan's topics are {}; the regex must match a whole name",
                    topics.iter().map(|t| format!("`{}`", t.name)).collect::<Vec<_>>().join(", ")
                )),
        ),
        Ok(_) => {}
    }
}

fn read_environment(d: &mut Diagnostics, root: &mut Table<'_, '_>) -> Option<Environment> {
    let Some(mut table) = root.table(d, "environment") else {
        d.push(
            Diagnostic::error("missing required section `[environment]`", Some(0..0))
                .with_label("the plan needs an environment")
                .with_hint("add `[environment]` with `name`, `region` and `user_id`"),
        );
        return None;
    };
    let name = table.required_string(d, "name", "\"dev\"");
    let project = table.string(d, "project");
    let region = table.required_string(d, "region", "\"us-east-1\"");
    let user_id = table.required_string(d, "user_id", "\"0a1b2c3d4e5f\"");
    let tag_entries = table.string_map(d, "tags");
    table.finish(d);

    let name_ok = name.as_ref().is_some_and(|n| check(d, n, "environment name", |v| rules::identifier("environment name", v, 20)));
    let project_ok = project.as_ref().is_none_or(|p| check(d, p, "project name", |v| rules::identifier("project", v, 32)));
    let region_ok = region.as_ref().is_some_and(|r| check(d, r, "region", rules::region));
    let user_ok = user_id.as_ref().is_some_and(|u| check(d, u, "user id", |v| rules::identifier("user_id", v, 32)));
    let mut tags = BTreeMap::new();
    for (key, (key_span, value)) in tag_entries {
        if let Err(invalid) = rules::tag(&key, value.get_ref()) {
            report(d, key_span.span(), "tag", invalid);
        }
        tags.insert(key, value.into_inner());
    }
    if !(name_ok && project_ok && region_ok && user_ok) {
        return None;
    }
    Some(Environment {
        name: name?.into_inner(),
        project: project.map_or_else(|| "pipeline".to_owned(), |p| p.into_inner()),
        region: region?.into_inner(),
        user_id: user_id?.into_inner(),
        tags,
    })
}

/// Expands a name template (or the default) and checks it with `rule`.
fn name(
    d: &mut Diagnostics,
    given: Option<SpannedString>,
    default: &str,
    vars: Option<&Variables<'_>>,
    label: &str,
    rule: impl FnOnce(&str) -> Result<(), Invalid>,
) -> Option<String> {
    let vars = vars?;
    let (template, span) = match &given {
        Some(s) => (s.get_ref().as_str(), s.span()),
        None => (default, 0..0),
    };
    let expanded = match vars.expand(template) {
        Ok(expanded) => expanded,
        Err(invalid) => {
            report(d, span, label, invalid);
            return None;
        }
    };
    match rule(&expanded) {
        Ok(()) => Some(expanded),
        Err(mut invalid) => {
            // The expansion is worth showing for a name of sensible length; a long one is in the
            // snippet already, and a diagnostic echoes a value once.
            if template != expanded && template.chars().count() <= 60 {
                invalid.reason = format!("{} (`{template}` expands to `{expanded}`)", invalid.reason);
            }
            let label = if given.is_some() { label.to_owned() } else { format!("default {label} `{template}`") };
            report(d, span, &label, invalid);
            None
        }
    }
}

fn read_role(d: &mut Diagnostics, table: Option<Table<'_, '_>>, vars: Option<&Variables<'_>>) -> Option<RoleSpec> {
    let (role_name, profile, manage_policies) = match table {
        Some(mut t) => {
            let fields = (t.string(d, "name"), t.string(d, "instance_profile"), t.bool(d, "manage_policies"));
            t.finish(d);
            fields
        }
        None => (None, None, None),
    };
    // Both names are checked before either failure ends the section: every error is reported.
    let role_name = name(d, role_name, defaults::ROLE_NAME, vars, "role name", |n| rules::iam_name(n, 64));
    let instance_profile = match profile {
        Some(p) => name(d, Some(p), "", vars, "instance profile name", |n| rules::iam_name(n, 128)),
        None => role_name.clone(),
    };
    Some(RoleSpec {
        name: role_name?,
        instance_profile: instance_profile?,
        manage_policies: manage_policies.is_none_or(toml::Spanned::into_inner),
    })
}

fn read_bucket(d: &mut Diagnostics, table: Option<Table<'_, '_>>, vars: Option<&Variables<'_>>) -> Option<BucketSpec> {
    let Some(mut t) = table else {
        let bucket_name = name(d, None, defaults::BUCKET_NAME, vars, "bucket name", rules::bucket_name)?;
        return Some(BucketSpec { name: bucket_name, versioning: false, encryption: Encryption::SseS3, force_destroy: false });
    };
    let given_name = t.string(d, "name");
    let versioning = t.bool(d, "versioning");
    let encryption = t.string(d, "encryption");
    let kms_key = t.string(d, "kms_key_arn");
    let force_destroy = t.bool(d, "force_destroy");
    t.finish(d);

    let bucket_name = name(d, given_name, defaults::BUCKET_NAME, vars, "bucket name", rules::bucket_name);
    let encryption = match encryption.as_ref().map(|e| e.get_ref().as_str()) {
        None | Some("sse-s3") => {
            if let Some(key) = &kms_key {
                d.push(
                    Diagnostic::error("`kms_key_arn` is set but encryption is not `sse-kms`", Some(key.span()))
                        .with_label("unused key")
                        .with_hint("add `encryption = \"sse-kms\"` or remove `kms_key_arn`"),
                );
            }
            Some(Encryption::SseS3)
        }
        Some("sse-kms") => match kms_key {
            Some(key) => match rules::arn(key.get_ref(), "kms") {
                Ok(_) => Some(Encryption::SseKms(Some(key.into_inner()))),
                Err(invalid) => {
                    report(d, key.span(), "KMS key ARN", invalid);
                    None
                }
            },
            None => Some(Encryption::SseKms(None)),
        },
        Some(other) => {
            let mut diagnostic = Diagnostic::error(format!("unknown encryption `{other}`"), encryption.as_ref().map(toml::Spanned::span))
                .with_label("expected `sse-s3` or `sse-kms`");
            diagnostic = match crate::diagnostics::closest(other, ["sse-s3", "sse-kms"]) {
                Some(s) => diagnostic.with_hint(format!("did you mean `{s}`?")),
                None => diagnostic.with_hint("use `sse-s3` (S3-managed keys) or `sse-kms` (KMS)"),
            };
            d.push(diagnostic);
            None
        }
    };
    Some(BucketSpec {
        name: bucket_name?,
        versioning: versioning.is_some_and(|v| *v.get_ref()),
        encryption: encryption?,
        force_destroy: force_destroy.is_some_and(|v| *v.get_ref()),
    })
}

#[cfg(test)]
mod tests;
