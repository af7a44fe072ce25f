//! Every default name of a plan, in one place: the plan reader, `pinfra init`'s template and
//! `pinfra import` take them from here. Each is a template over the plan's placeholders
//! (`{user_id}`, `{env}`, ...); the seed project's choices.

/// `[msk] topic_prefix`.
pub const TOPIC_PREFIX: &str = "{user_id}.";
/// The topics of the seed, used when the plan has no `[[topics]]`.
pub const SEED_TOPICS: [&str; 3] = ["{user_id}.pin", "{user_id}.geo", "{user_id}.user"];
/// `[role] name` (and, by default, `instance_profile`).
pub const ROLE_NAME: &str = "{user_id}-ec2-access-role";
/// `[bucket] name`.
pub const BUCKET_NAME: &str = "user-{user_id}-bucket";
/// `[kafka_client]` `instance_name`, `security_group` and `ssh_key_name`.
pub const KAFKA_CLIENT_NAME: &str = "{user_id}-kafka-client";
/// `[connect.plugin] name`.
pub const PLUGIN_NAME: &str = "{user_id}-plugin";
/// `[connect.connector] name`.
pub const CONNECTOR_NAME: &str = "{user_id}-connector";
/// `[api] name`.
pub const API_NAME: &str = "{user_id}-api";
/// `[connect.connector] topics_regex` for the default prefix (the reader escapes whatever the
/// prefix is; see `plan::connect`).
pub const TOPICS_REGEX: &str = "{user_id}\\..*";
/// The REST proxy's port.
pub const REST_PROXY_PORT: i64 = 8082;
