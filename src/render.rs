//! The files the EC2 Kafka client needs: `client.properties` (Kafka CLI), `kafka-rest.properties`
//! (Confluent REST Proxy), and the `user-data.sh` that installs everything and writes both.
//!
//! Templates live in `templates/` and are embedded in the binary; a directory named with
//! `--templates` overrides any of them by file name. Values come from the plan and, unless
//! offline, from the live account (role ARN, bootstrap brokers, ZooKeeper). A value not known
//! yet is written as a marker that names it, never left empty.

use std::path::Path;

use minijinja::{Environment, UndefinedBehavior, context};

use crate::plan::Plan;

/// The templates pinfra ships: `(file name, text)`.
/// A line only pinfra's `user-data.sh` holds (its log file): how `import` tells an instance set
/// up by pinfra from one set up by hand.
pub const USER_DATA_MARKER: &str = "/var/log/pinfra-user-data.log";

pub const EMBEDDED: [(&str, &str); 3] = [
    ("client.properties.j2", include_str!("../templates/client.properties.j2")),
    ("kafka-rest.properties.j2", include_str!("../templates/kafka-rest.properties.j2")),
    ("user-data.sh.j2", include_str!("../templates/user-data.sh.j2")),
];

/// Why rendering failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The `--templates` directory does not exist or is not a directory: never a silent fall-back
    /// to the embedded templates, which would replace the instance with a different user-data.
    #[error("--templates {path}: {reason}")]
    Directory {
        /// The path given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    // The two variants below say their cause in their own message, so they do not also return
    // it as `source()`: a chain printer (`{:#}`) would print it twice.
    /// An override template could not be read.
    #[error("cannot read template {path}: {error}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// A template has an error, or names a value that does not exist.
    #[error("template {name}: {error}")]
    Template {
        /// The template's file name.
        name: String,
        /// What minijinja said.
        error: minijinja::Error,
    },
    /// A rendered file would end the user-data's here-document early.
    #[error("{0} contains a line that would end its here-document in user-data.sh")]
    HereDocument(&'static str),
}

/// The live values the files need; `None` when not known (offline, or not created yet).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveValues {
    /// The pipeline role's ARN.
    pub role_arn: Option<String>,
    /// The cluster's SASL/IAM bootstrap broker string.
    pub bootstrap_servers: Option<String>,
    /// The cluster's ZooKeeper connection string, if it has one.
    pub zookeeper_connect: Option<String>,
}

/// The rendered files, in a fixed order, and the values that were not known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// `(file name, content)`.
    pub files: Vec<(&'static str, String)>,
    /// Names of the values written as markers.
    pub unknown: Vec<&'static str>,
}

impl RenderError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            RenderError::Directory { .. } => Some(format!(
                "name the directory that holds your overrides ({}); without --templates the embedded templates are used",
                template_names()
            )),
            _ => None,
        }
    }
}

fn template_names() -> String {
    EMBEDDED.iter().map(|(name, _)| format!("`{name}`")).collect::<Vec<_>>().join(", ")
}

/// The template set: the embedded one, with overrides from a directory.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
    /// Warnings about the directory: files in it whose names match no template (not used).
    pub warnings: Vec<String>,
}

impl Templates {
    /// The embedded templates, overridden by same-named files in `dir`, which must be a
    /// directory; a file in it that matches no template's name is named in `warnings`.
    pub fn load(dir: Option<&Path>) -> Result<Self, RenderError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        let warnings = match dir {
            Some(dir) => unused_files(dir)?,
            None => Vec::new(),
        };
        for (name, text) in EMBEDDED {
            let text = match dir.map(|d| d.join(name)).filter(|p| p.exists()) {
                Some(path) => {
                    std::fs::read_to_string(&path).map_err(|error| RenderError::Read { path: path.display().to_string(), error })?
                }
                None => text.to_owned(),
            };
            env.add_template_owned(name, text).map_err(|error| RenderError::Template { name: name.to_owned(), error })?;
        }
        Ok(Self { env, warnings })
    }

    fn render(&self, name: &str, ctx: minijinja::Value) -> Result<String, RenderError> {
        let template = self.env.get_template(name).map_err(|error| RenderError::Template { name: name.to_owned(), error })?;
        template.render(ctx).map_err(|error| RenderError::Template { name: name.to_owned(), error })
    }
}

/// Checks that `dir` is a directory, and names the files in it that override no template
/// (hidden files aside).
fn unused_files(dir: &Path) -> Result<Vec<String>, RenderError> {
    // Names from the file system: shown escaped, like every text pinfra did not write.
    let shown = crate::terminal::escape(&dir.to_string_lossy()).into_owned();
    let refuse = |reason: String| RenderError::Directory { path: shown.clone(), reason };
    let entries = match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => std::fs::read_dir(dir).map_err(|e| refuse(format!("cannot be read: {e}")))?,
        Ok(_) => return Err(refuse("not a directory".into())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(refuse("no such directory".into())),
        Err(e) => return Err(refuse(format!("cannot be read: {e}"))),
    };
    let mut unused: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.path().is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.') && !EMBEDDED.iter().any(|(template, _)| template == name))
        .collect();
    unused.sort();
    Ok(unused
        .into_iter()
        .map(|name| {
            let closest = crate::diagnostics::closest(&name, EMBEDDED.iter().map(|(template, _)| *template))
                .map(|c| format!("did you mean `{c}`? "))
                .unwrap_or_default();
            format!(
                "--templates {shown}: `{}` matches no template and is not used ({closest}the templates: {})",
                crate::terminal::escape(&name),
                template_names()
            )
        })
        .collect())
}

fn marker(what: &str) -> String {
    format!("<unknown: {what}; apply the plan, then render without --offline>")
}

/// Renders the three files for `plan`.
pub fn render(plan: &Plan, templates: &Templates, live: &LiveValues) -> Result<Rendered, RenderError> {
    let mut unknown = Vec::new();
    let mut value = |v: &Option<String>, name: &'static str| match v {
        Some(v) => v.clone(),
        None => {
            unknown.push(name);
            marker(name)
        }
    };
    let role_arn = value(&live.role_arn, "role_arn");
    let bootstrap_servers = value(&live.bootstrap_servers, "bootstrap_servers");
    let client = &plan.kafka_client;
    let common = context! {
        environment => plan.environment.name,
        role_arn => role_arn,
        bootstrap_servers => bootstrap_servers,
        zookeeper_connect => live.zookeeper_connect,
        rest_proxy_port => client.rest_proxy_port,
    };
    let client_properties = templates.render("client.properties.j2", common.clone())?;
    let rest_properties = templates.render("kafka-rest.properties.j2", common)?;
    for (name, text, delimiter) in [
        ("client.properties", &client_properties, "PINFRA_CLIENT_PROPERTIES"),
        ("kafka-rest.properties", &rest_properties, "PINFRA_REST_PROPERTIES"),
    ] {
        if text.lines().any(|l| l.trim() == delimiter) {
            return Err(RenderError::HereDocument(name));
        }
    }
    let user_data = templates.render(
        "user-data.sh.j2",
        context! {
            kafka_version => client.kafka_version,
            scala_version => client.scala_version,
            msk_iam_auth_version => client.msk_iam_auth_version,
            confluent_version => client.confluent_version,
            kafka_url => client.kafka_url,
            msk_iam_auth_url => client.msk_iam_auth_url,
            confluent_url => client.confluent_url,
            client_properties => ensure_newline(&client_properties),
            rest_properties => ensure_newline(&rest_properties),
        },
    )?;
    Ok(Rendered {
        files: vec![("client.properties", client_properties), ("kafka-rest.properties", rest_properties), ("user-data.sh", user_data)],
        unknown,
    })
}

fn ensure_newline(text: &str) -> String {
    if text.ends_with('\n') { text.to_owned() } else { format!("{text}\n") }
}

#[cfg(test)]
mod tests;
