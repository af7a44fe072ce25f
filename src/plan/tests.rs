use super::*;
use crate::diagnostics::Severity;
use proptest::prelude::*;

const MINIMAL: &str = r#"
[environment]
name = "dev"
region = "us-east-1"
user_id = "0a1b2c3d4e5f"

[msk]
cluster = "pinterest-msk-cluster"
"#;

fn plan(text: &str) -> Plan {
    let parsed = parse(text);
    parsed.plan.unwrap_or_else(|| panic!("plan should parse: {:?}", parsed.diagnostics))
}

#[test]
fn defaults_reproduce_the_seeds_naming() {
    let plan = plan(MINIMAL);
    assert_eq!(plan.role.name, "0a1b2c3d4e5f-ec2-access-role");
    assert_eq!(plan.role.instance_profile, "0a1b2c3d4e5f-ec2-access-role");
    assert_eq!(plan.bucket.name, "user-0a1b2c3d4e5f-bucket");
    assert_eq!(plan.bucket.encryption, Encryption::SseS3);
    assert!(!plan.bucket.versioning);
    assert!(!plan.bucket.force_destroy);
    assert_eq!(plan.environment.project, "pipeline");
    assert_eq!(plan.msk.cluster, ClusterRef::Name("pinterest-msk-cluster".into()));
}

#[test]
fn the_shipped_plan_is_valid() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/plans/pinterest.toml")).unwrap();
    let parsed = parse(&text);
    // The seed's design opens the REST proxy to the internet: a warning, not an error.
    let codes: Vec<Option<&str>> = parsed.diagnostics.sorted().iter().map(|d| d.code).collect();
    assert_eq!(codes, [Some("PF001")], "{:?}", parsed.diagnostics);
    let plan = parsed.plan.unwrap();
    assert_eq!(plan.environment.tags.get("team").map(String::as_str), Some("data-engineering"));
    assert_eq!(plan.environment.project, "pinterest");
}

#[test]
fn placeholders_expand_in_names() {
    let text = format!("{MINIMAL}\n[role]\nname = \"{{env}}-{{user_id}}-role\"\n[bucket]\nname = \"{{project}}-{{env}}-{{region}}\"\n");
    let plan = plan(&text);
    assert_eq!(plan.role.name, "dev-0a1b2c3d4e5f-role");
    assert_eq!(plan.role.instance_profile, "dev-0a1b2c3d4e5f-role");
    assert_eq!(plan.bucket.name, "pipeline-dev-us-east-1");
}

#[test]
fn kms_encryption() {
    let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let plan = plan(&format!("{MINIMAL}\n[bucket]\nencryption = \"sse-kms\"\nkms_key_arn = \"{key}\"\n"));
    assert_eq!(plan.bucket.encryption, Encryption::SseKms(Some(key.into())));
}

#[test]
fn cluster_by_arn() {
    let arn = "arn:aws:kafka:us-east-1:123456789012:cluster/pinterest-msk-cluster/5f9a8e0c-1";
    let plan = plan(&MINIMAL.replace("\"pinterest-msk-cluster\"", &format!("\"{arn}\"")));
    assert_eq!(plan.msk.cluster, ClusterRef::Arn(arn.into()));
    assert_eq!(plan.msk.cluster.name(), "pinterest-msk-cluster");
}

#[test]
fn every_error_is_reported_together() {
    let text = MINIMAL.replace("name = \"dev\"", "nmae = \"dev\"") + "\n[bucket]\nversionning = true\n[rolee]\n";
    let parsed = parse(&text);
    assert!(parsed.plan.is_none());
    let messages: Vec<&str> = parsed
        .diagnostics
        .sorted()
        .iter()
        .filter(|d| d.severity == crate::diagnostics::Severity::Error)
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(
        messages,
        [
            "missing required key `environment.name`",
            "unknown key in [environment]: `nmae`",
            "unknown key in [bucket]: `versionning`",
            "unknown section or key: `rolee`"
        ]
    );
}

/// Cases per property: 2000 in `./scripts/test`; `PINFRA_FUZZ_CASES=200000` for a longer run
/// (docs/RELIABILITY.md).
fn cases() -> u32 {
    std::env::var("PINFRA_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn interpolation_never_panics_and_leaves_no_known_placeholder(template in "[a-z{}_ .-]{0,40}") {
        let vars = super::Variables { pairs: vec![("user_id", "u1"), ("env", "dev"), ("region", "us-east-1"), ("project", "p")] };
        if let Ok(expanded) = vars.expand(&template) {
            for name in ["{user_id}", "{env}", "{region}", "{project}"] {
                prop_assert!(!expanded.contains(name) || template.contains(&format!("{{{name}}}")), "{template} -> {expanded}");
            }
        }
    }

    /// Values that end up in the user-data script: anything that could change the script's
    /// meaning (quotes, newlines, `$(...)`, backticks, `=`, `;`, spaces) is rejected at parse time.
    #[test]
    fn hostile_versions_and_urls_are_rejected_or_harmless(value in "[0-9a-z.$`\"'=;&|()\n\\ /:-]{1,24}") {
        let quoted = serde_json::to_string(&value).unwrap_or_default();
        let text = format!("{MINIMAL}\n[kafka_client]\nconfluent_version = {quoted}\nkafka_url = {}\n", serde_json::to_string(&format!("https://mirror.example/{value}")).unwrap_or_default());
        let parsed = parse(&text);
        if let Some(plan) = parsed.plan {
            let safe = |s: &str, extra: &str| s.chars().all(|c| c.is_ascii_alphanumeric() || extra.contains(c));
            prop_assert!(safe(&plan.kafka_client.confluent_version, ".-_"), "{:?}", plan.kafka_client.confluent_version);
            prop_assert!(safe(&plan.kafka_client.kafka_url, "-._~:/?#[]@!&+,;=%"), "{:?}", plan.kafka_client.kafka_url);
            prop_assert!(!plan.kafka_client.kafka_url.contains(['$', '`', '"', '\'', '\n', ' ', '\\', '(', ')', '|']));
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC*") {
        let _ = parse(&text);
    }

    /// A diagnostic's snippet quotes the plan: whatever bytes it holds (control characters, a
    /// CRLF, a secret), rendering never panics, and what it prints carries no control character
    /// but line breaks.
    #[test]
    fn rendered_diagnostics_never_panic_nor_carry_control_characters(
        text in "(\\PC|[\\x00-\\x1f\\x7f\\u{80}-\\u{9f}\\u{202e}\\u{2028}]|\r\n|AKIAIOSFODNN7EXAMPLE|\"){0,120}",
        keep in 0usize..120,
    ) {
        let text = format!("{}{text}", &MINIMAL[..keep.min(MINIMAL.len())]);
        let parsed = parse(&text);
        let shown = crate::diagnostics::SourceFile { name: "plan.toml", text: &text }.render_plain(&parsed.diagnostics);
        prop_assert!(shown.chars().all(|c| c == '\n' || !crate::terminal::is_unsafe(c)), "{shown:?}");
        prop_assert!(!shown.contains("AKIAIOSFODNN7EXAMPLE"), "{shown}");
    }

    #[test]
    fn toml_like_text_never_panics(text in "(\\[[a-z_.]{0,12}\\]\n|[a-z_]{1,12} = (\"[^\"\n]{0,20}\"|[0-9]{1,5}|true|\\{ [a-z]{1,5} = \"[a-z{}]{0,8}\" \\}|\\[\\])\n){0,12}") {
        let _ = parse(&text);
    }

    #[test]
    fn edits_of_a_valid_plan_never_panic(position in 0usize..400, cut in 0usize..20, insert in "\\PC{0,8}") {
        let mut text = MINIMAL.to_owned() + "\n[bucket]\nname = \"user-{user_id}-bucket\"\nversioning = true\n[role]\nname = \"{env}-role\"\n";
        let mut start = position.min(text.len());
        while !text.is_char_boundary(start) { start -= 1; }
        let mut end = (start + cut).min(text.len());
        while !text.is_char_boundary(end) { end -= 1; }
        text.replace_range(start..end, &insert);
        let parsed = parse(&text);
        // A parse either yields a plan or says why not.
        prop_assert!(parsed.plan.is_some() || parsed.diagnostics.has_errors());
    }
}

#[test]
fn a_topic_list_replaces_the_default_regex() {
    let text = format!(
        "{MINIMAL}\n[connect.plugin]\nsource = \"a.zip\"\n[connect.connector]\nconfig = {{ topics = \"0a1b2c3d4e5f.pin,0a1b2c3d4e5f.geo\" }}\n"
    );
    let connector = plan(&text).connect.expect("connect").connector;
    assert_eq!(connector.config.get("topics").map(String::as_str), Some("0a1b2c3d4e5f.pin,0a1b2c3d4e5f.geo"));
    assert_eq!(connector.config.get("topics.regex"), None);
}

#[test]
fn secrets_in_single_quoted_keys_are_found() {
    let text =
        format!("{MINIMAL}\n[connect.plugin]\nsource = \"a.zip\"\n[connect.connector]\nconfig = {{ 'aws.secret.access.key' = 'x' }}\n");
    let parsed = parse(&text);
    assert!(parsed.plan.is_none());
}

#[test]
fn what_adopting_a_hand_built_pipeline_needs() {
    let text = format!(
        "{MINIMAL}\n[role]\nmanage_policies = false\n[kafka_client]\nroot_volume_encrypted = false\nimdsv2 = false\nmanage_user_data = false\nssh_key_name = \"{{user_id}}-key-pair\"\nproxy_sources = []\n[connect.plugin]\nexisting = \"{{user_id}}-plugin\"\n"
    );
    let parsed = parse(&text);
    let codes: Vec<Option<&str>> = parsed.diagnostics.sorted().iter().map(|d| d.code).collect();
    assert_eq!(codes, [Some("PF004"), Some("PF005")], "warnings, not errors: {:?}", parsed.diagnostics);
    let plan = parsed.plan.unwrap();
    assert!(!plan.role.manage_policies);
    let client = &plan.kafka_client;
    assert!(!client.root_volume_encrypted && !client.imdsv2 && !client.manage_user_data);
    assert!(client.ssh_key_existing, "a key name without a public key is an existing key pair");
    assert_eq!(client.ssh_key_name, "0a1b2c3d4e5f-key-pair");
    let plugin = &plan.connect.unwrap().plugin;
    assert_eq!((plugin.name.as_str(), &plugin.source), ("0a1b2c3d4e5f-plugin", &ArtifactSource::Existing));

    let defaults = plan_defaults();
    assert!(defaults.role.manage_policies && defaults.kafka_client.root_volume_encrypted && defaults.kafka_client.imdsv2);
    assert!(defaults.kafka_client.manage_user_data && !defaults.kafka_client.ssh_key_existing);
}

fn plan_defaults() -> Plan {
    plan(MINIMAL)
}

#[test]
fn an_existing_plugin_takes_no_zip() {
    let text = format!("{MINIMAL}\n[connect.plugin]\nexisting = \"p\"\nsource = \"x.zip\"\n");
    let parsed = parse(&text);
    assert!(parsed.plan.is_none());
    let message = parsed.diagnostics.sorted().iter().map(|d| d.message.clone()).collect::<Vec<_>>().join("\n");
    assert!(message.contains("`existing` and `source` are both set"), "{message}");
}

/// MSK Connect refuses an autoscaling `maxAutoscalingTaskCount` below `maxWorkerCount` (its
/// model's AutoScaling shape); validate points at the key instead of leaving it to apply.
#[test]
fn max_tasks_below_max_workers_is_refused_at_the_key() {
    let capacity = |tasks: u32| {
        format!(
            "{MINIMAL}\n[connect.plugin]\nexisting = \"p\"\n[connect.connector.capacity]\nmin_workers = 1\nmax_workers = 4\nmax_tasks = {tasks}\n"
        )
    };
    let parsed = parse(&capacity(2));
    assert!(parsed.plan.is_none());
    let error = parsed.diagnostics.sorted().into_iter().find(|d| d.message.contains("max_tasks")).expect("an error on max_tasks");
    assert_eq!(error.message, "`max_tasks` (2) is below `max_workers` (4)");
    let text = capacity(2);
    let span = error.span.clone().expect("it points at the key");
    assert_eq!(&text[span], "2");
    assert!(parse(&capacity(4)).plan.is_some(), "as many tasks as workers is fine");
}

/// The messages of a plan's errors.
fn errors(text: &str) -> Vec<String> {
    let parsed = parse(text);
    assert!(parsed.plan.is_none(), "the plan should be refused");
    parsed.diagnostics.sorted().iter().filter(|d| d.severity == crate::diagnostics::Severity::Error).map(|d| d.message.clone()).collect()
}

#[test]
fn topics_that_differ_only_by_dot_and_underscore_collide() {
    let text = format!("{MINIMAL}\n[[topics]]\nname = \"x.a.b\"\n\n[[topics]]\nname = \"x.a_b\"\n");
    assert_eq!(errors(&text), ["topic `x.a_b` collides with topic `x.a.b`: they differ only by `.` and `_`"]);
    // Other names are fine.
    plan(&format!("{MINIMAL}\n[[topics]]\nname = \"x.a.b\"\n\n[[topics]]\nname = \"x.a-b\"\n"));
}

#[test]
fn an_override_table_named_after_the_base_environment_is_an_error() {
    let text = format!("{MINIMAL}\n[environments.dev.kafka_client]\ninstance_type = \"t3.large\"\n");
    for env in [None, Some("dev")] {
        let parsed = parse_env(&text, env);
        assert!(parsed.plan.is_none(), "{env:?}");
        let messages: Vec<&str> = parsed.diagnostics.sorted().iter().map(|d| d.message.as_str()).collect();
        assert_eq!(messages, ["`[environments.dev]` names the base environment `dev`, so it would never be read"]);
    }
}

fn codes(text: &str) -> Vec<(Severity, Option<&'static str>)> {
    parse(text).diagnostics.sorted().iter().map(|d| (d.severity, d.code)).collect()
}

/// `ssh_sources = ["0.0.0.0/1", "128.0.0.0/1"]` opened SSH to the world without PF002.
#[test]
fn cidrs_that_together_cover_the_internet_are_the_internet() {
    let ssh = format!("{MINIMAL}\n[kafka_client]\nproxy_sources = []\nssh_sources = [\"0.0.0.0/1\", \"128.0.0.0/1\"]\n");
    assert_eq!(codes(&ssh), [(Severity::Error, Some("PF002"))]);
    let three = format!("{MINIMAL}\n[kafka_client]\nproxy_sources = []\nssh_sources = [\"0.0.0.0/1\", \"128.0.0.0/2\", \"192.0.0.0/2\"]\n");
    assert_eq!(codes(&three), [(Severity::Error, Some("PF002"))]);
    let half = format!("{MINIMAL}\n[kafka_client]\nproxy_sources = []\nssh_sources = [\"0.0.0.0/1\", \"203.0.113.0/24\"]\n");
    assert_eq!(codes(&half), [], "half the internet is not all of it");
    let proxy = format!("{MINIMAL}\n[kafka_client]\nproxy_sources = [\"128.0.0.0/1\", \"0.0.0.0/1\"]\n");
    assert_eq!(codes(&proxy), [(Severity::Warning, Some("PF001"))]);
}

/// A prefix without a delimiter is also another user id's: the role grants `<prefix>*`.
#[test]
fn a_topic_prefix_ends_in_a_delimiter() {
    for (prefix, valid) in [("{user_id}.", true), ("{user_id}-", true), ("team_", true), ("{user_id}", false), ("x.pin", false)] {
        let text = MINIMAL
            .replace("cluster = \"pinterest-msk-cluster\"", &format!("cluster = \"pinterest-msk-cluster\"\ntopic_prefix = \"{prefix}\""));
        let text = if prefix == "team_" { text + "\n[[topics]]\nname = \"team_pin\"\n" } else { text };
        assert_eq!(parse(&text).plan.is_some(), valid, "{prefix}: {:?}", parse(&text).diagnostics);
    }
}

/// The default `topics.regex` `{user_id}.*` had an unescaped dot: it matched `<user_id>x…`,
/// which the role's `<user_id>.*` grant does not cover.
#[test]
fn the_topics_regex_is_held_to_the_topic_prefix() {
    let connect = |regex: Option<&str>| {
        let regex = regex.map(|r| format!("topics_regex = '{r}'\n")).unwrap_or_default();
        format!("{MINIMAL}\n[kafka_client]\nproxy_sources = []\n[connect.plugin]\nsource = \"a.zip\"\n[connect.connector]\n{regex}")
    };
    let default = plan(&connect(None)).connect.expect("connect").connector;
    assert_eq!(default.config.get("topics.regex").map(String::as_str), Some("0a1b2c3d4e5f\\..*"));
    assert_eq!(codes(&connect(None)), []);
    for (regex, wide) in [
        ("{user_id}.*", true),
        ("{user_id}\\..*", false),
        ("{user_id}\\.(pin|geo)", false),
        (".*", true),
        ("(?:{user_id}\\.pin|other)", true),
        ("[0-9a-f]+\\..*", true),
    ] {
        let found = codes(&connect(Some(regex)));
        assert_eq!(found.contains(&(Severity::Warning, Some("PF006"))), wide, "{regex}: {found:?}");
    }
    // A planned topic outside the prefix is granted by name, so the regex may name it.
    let outside =
        connect(Some("(?:{user_id}\\..*|shared-events)")) + "[[topics]]\nname = \"shared-events\"\n[[topics]]\nname = \"{user_id}.pin\"\n";
    assert_eq!(codes(&outside), []);
}

fn env_plan(text: &str, env: &str) -> Plan {
    let parsed = parse_env(text, Some(env));
    parsed.plan.unwrap_or_else(|| panic!("environment {env} should parse: {:?}", parsed.diagnostics))
}

fn env_errors(text: &str, env: Option<&str>) -> Vec<String> {
    let parsed = parse_env(text, env);
    assert!(parsed.plan.is_none(), "the plan should be refused");
    parsed.diagnostics.sorted().iter().filter(|d| d.severity == Severity::Error).map(|d| d.message.clone()).collect()
}

#[test]
fn a_cohort_is_one_environment_per_user_id_with_the_base_settings() {
    let text = format!(
        "{MINIMAL}\n[cohort]\nuser_ids = [\"1b2c3d4e5f6a\", \"2c3d4e5f6a7b\"]\n\n[environments.2c3d4e5f6a7b.kafka_client]\ninstance_type = \"t3.small\"\n"
    );
    assert_eq!(environments(&text), ["dev", "2c3d4e5f6a7b", "1b2c3d4e5f6a"]);
    let base = plan(&text);
    let first = env_plan(&text, "1b2c3d4e5f6a");
    assert_eq!((first.environment.name.as_str(), first.environment.user_id.as_str()), ("1b2c3d4e5f6a", "1b2c3d4e5f6a"));
    // The names derive from the member's user id; everything else is the base's.
    assert_eq!(first.role.name, base.role.name.replace("0a1b2c3d4e5f", "1b2c3d4e5f6a"));
    assert_eq!(first.kafka_client.instance_type, base.kafka_client.instance_type);
    // A member's own table is merged over it.
    let second = env_plan(&text, "2c3d4e5f6a7b");
    assert_eq!((second.environment.user_id.as_str(), second.kafka_client.instance_type.as_str()), ("2c3d4e5f6a7b", "t3.small"));
    // The base plan reads as before.
    assert_eq!(base.environment.user_id, "0a1b2c3d4e5f");
}

#[test]
fn a_malformed_cohort_is_reported_where_it_is() {
    let cases: [(&str, &[&str]); 5] = [
        ("[cohort]\nusers = [\"a1\"]\n", &["`[cohort]` has no `user_ids`", "unknown key `users` in `[cohort]`"]),
        ("[cohort]\nuser_ids = \"a1\"\n", &["`user_ids` must be an array of strings"]),
        ("[cohort]\nuser_ids = [\"a1\", 7]\n", &["a user id must be a string"]),
        ("[cohort]\nuser_ids = [\"a1\", \"a1\"]\n", &["user id `a1` is in the cohort twice"]),
        ("[cohort]\nuser_ids = [\"dev\"]\n", &["the cohort's user id `dev` is the base environment's name"]),
    ];
    for (section, expected) in cases {
        let text = format!("{MINIMAL}\n{section}");
        assert_eq!(env_errors(&text, None), expected.iter().map(|e| (*e).to_owned()).collect::<Vec<_>>(), "{section}");
    }
    // An id that cannot name an environment is refused at the id, when that environment is read.
    let text = format!("{MINIMAL}\n[cohort]\nuser_ids = [\"not_an_env_name_because_long\"]\n");
    let parsed = parse_env(&text, Some("not_an_env_name_because_long"));
    let error = parsed.diagnostics.sorted().into_iter().find(|d| d.severity == Severity::Error).cloned();
    let span = error.and_then(|e| e.span).unwrap_or_default();
    assert_eq!(&text[span], "\"not_an_env_name_because_long\"");
}

#[test]
fn pacing_rates_are_read_as_rate_overrides_and_a_bad_one_is_refused_at_its_key() {
    let text = format!("{MINIMAL}\n[pacing]\nrates = {{ \"apigateway:CreateRestApi\" = \"2/1\", \"apigateway:*\" = \"off\" }}\n");
    assert_eq!(plan(&text).pacing, ["apigateway:*=off", "apigateway:CreateRestApi=2/1"]);
    let text = format!("{MINIMAL}\n[pacing]\nrates = {{ \"apigateway:CreateRestApi\" = \"fast\" }}\n");
    let parsed = parse(&text);
    let error = parsed.diagnostics.sorted().into_iter().find(|d| d.severity == Severity::Error).cloned().expect("an error");
    assert_eq!(error.message, "`apigateway:CreateRestApi=fast`: the rate must be COUNT/SECONDS, both above zero");
    assert_eq!(&text[error.span.clone().unwrap_or_default()], "\"apigateway:CreateRestApi\" = \"fast\"");
}

/// A broken `[connect]` used to end the read before `[api]` was looked at: an unknown key in
/// `[api]` went unreported until `[connect]` was fixed.
#[test]
fn api_errors_are_reported_alongside_a_broken_connect() {
    let text = format!("{MINIMAL}\n[connect.connector]\nname = \"x\"\n[api]\nstag = \"dev\"\n");
    let parsed = parse(&text);
    let messages: Vec<String> = parsed.diagnostics.sorted().iter().map(|d| d.message.clone()).collect();
    assert!(messages.iter().any(|m| m.contains("`[connect]` needs `[connect.plugin]`")), "{messages:?}");
    assert!(messages.iter().any(|m| m.contains("unknown key in [api]: `stag`")), "{messages:?}");
}
