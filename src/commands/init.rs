//! `pinfra init [--env NAME] [--user-id ID] [--region R] [--cluster NAME] [PATH]` (`--env` and
//! `--region` are the global flags): writes a new,
//! valid, commented plan from `templates/plan.toml.j2`, and the plan schema beside it for editors
//! (`pinfra.schema.json`, which the plan's first line names), and prints the next steps.
//!
//! Flags alone work in scripts; on a terminal, a value not given is asked for, with a default.
//! An existing file is never overwritten. The plan is parsed before it is written, so what
//! `init` writes always passes `validate`'s plan checks.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use crate::cli::{GlobalArgs, InitArgs};
use crate::commands::{ExitStatus, Reported};
use crate::diagnostics::SourceFile;
use crate::printer::Printer;
use crate::settings::{Environment, Output};

const TEMPLATE: &str = include_str!("../../templates/plan.toml.j2");

/// Runs the command.
pub fn run(args: &InitArgs, global: &GlobalArgs, _env: &Environment, out: Output) -> anyhow::Result<ExitStatus> {
    let path = &args.path;
    refuse_existing(path, "init", "name another file (`pinfra init new-plan.toml`) or edit this one")?;
    let ask = out.interactive_stdin && std::io::stderr().is_terminal();
    let value = |given: &Option<String>, question: &str, default: Option<&str>| -> anyhow::Result<String> {
        if let Some(v) = given {
            return Ok(v.clone());
        }
        match (ask, default) {
            (true, _) => prompt(out.printer, question, default),
            (false, Some(d)) => Ok(d.to_owned()),
            (false, None) => Err(Reported::new(format!("{question} is needed and stdin is not a terminal"))
                .hint("pass it as a flag (pinfra init --help)")
                .into()),
        }
    };
    let env_name = value(&global.env, "environment name", Some("dev"))?;
    let user_id = value(&args.user_id, "user id (the seed's names derive from it)", None)?;
    let region = value(&global.region, "AWS region", Some("us-east-1"))?;
    let cluster = value(&args.cluster, "MSK cluster (name or ARN)", Some("pinterest-msk-cluster"))?;
    let project = args.project.clone().unwrap_or_else(|| "pipeline".to_owned());
    let text = render(&env_name, &user_id, &region, &cluster, &project)?;
    let parsed = crate::plan::parse(&text);
    if parsed.diagnostics.has_errors() {
        let name = path.display().to_string();
        SourceFile { name: &name, text: &text }.emit(&parsed.diagnostics, out.color_stderr);
        return Err(Reported::new(format!("{}: these values do not make a valid plan; nothing was written", path.display())).into());
    }
    write_new(path, &text)?;
    super::schema::write_beside(path, out);
    let p = path.display();
    out.printer.status(format_args!(
        "wrote {p}: environment `{env_name}` of `{project}` in {region}, user id {user_id}, cluster {cluster}
next steps:
  1. put the Confluent S3 sink's zip (Confluent Hub: confluentinc-kafka-connect-s3) at artifacts/confluentinc-kafka-connect-s3-10.0.3.zip beside the plan
  2. pinfra validate {p}     # offline: the plan, the zip, the connector's permissions
  3. pinfra diff {p}         # what would be created (AWS credentials needed from here on)
  4. pinfra apply {p}
  5. pinfra verify {p}       # a record per topic through the whole pipeline
  6. pinfra output {p}       # the invoke URL, bootstrap servers, how to reach the instance"
    ));
    out.printer.data(format_args!("{p}\n"))?;
    Ok(ExitStatus::Success)
}

fn prompt(printer: Printer, question: &str, default: Option<&str>) -> anyhow::Result<String> {
    loop {
        match default {
            Some(d) => printer.prompt(format_args!("{question} [{d}]: ")),
            None => printer.prompt(format_args!("{question}: ")),
        }
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let answer = line.trim();
        match (answer.is_empty(), default) {
            (false, _) => return Ok(answer.to_owned()),
            (true, Some(d)) => return Ok(d.to_owned()),
            (true, None) => printer.notice("  (needed)"),
        }
    }
}

/// The plan's text; every value is written as a TOML string (JSON string syntax is TOML's).
pub(super) fn render(env: &str, user_id: &str, region: &str, cluster: &str, project: &str) -> anyhow::Result<String> {
    let quote = |v: &str| serde_json::to_string(v).unwrap_or_default();
    let mut templates = minijinja::Environment::new();
    templates.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    templates.set_keep_trailing_newline(true);
    templates.add_template("plan.toml", TEMPLATE)?;
    // The defaults are the plan reader's (`plan::defaults`), written as TOML strings; the
    // regex as a literal string, so its backslash reads as it is.
    use crate::plan::defaults;
    let text = templates.get_template("plan.toml")?.render(minijinja::context! {
        schema => crate::plan::schema::DIRECTIVE,
        env => quote(env), user_id => quote(user_id), region => quote(region), cluster => quote(cluster), project => quote(project),
        topic_prefix => quote(defaults::TOPIC_PREFIX),
        topics => defaults::SEED_TOPICS.map(quote),
        role => quote(defaults::ROLE_NAME),
        bucket => quote(defaults::BUCKET_NAME),
        rest_proxy_port => defaults::REST_PROXY_PORT,
        topics_regex => format!("'{}'", defaults::TOPICS_REGEX),
    })?;
    Ok(text)
}

/// Refuses a `path` that exists: `command` (init, import) never overwrites a file.
pub(super) fn refuse_existing(path: &Path, command: &str, hint: &str) -> anyhow::Result<()> {
    if path.exists() {
        return Err(Reported::new(format!("`{}` exists already; pinfra {command} never overwrites a file", path.display()))
            .hint(hint)
            .into());
    }
    Ok(())
}

/// Creates `path`, failing if it appeared meanwhile (never overwrites).
pub(super) fn write_new(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Reported::new(format!("cannot create `{}`: {e}", path.display())))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_makes_a_valid_plan_with_the_values_given() {
        let text = render("staging", "1a2b3c", "eu-west-1", "my-cluster", "pipeline").unwrap();
        let plan = crate::plan::parse(&text).plan.expect("valid");
        assert_eq!(plan.environment.name, "staging");
        assert_eq!(plan.environment.region, "eu-west-1");
        assert_eq!(plan.role.name, "1a2b3c-ec2-access-role");
        assert_eq!(plan.api.unwrap().stage, "staging");
        assert!(plan.connect.is_some());
    }

    #[test]
    fn the_plan_names_its_schema_on_its_first_line() {
        let text = render("dev", "u1", "us-east-1", "c", "pipeline").unwrap();
        assert_eq!(text.lines().next(), Some(crate::plan::schema::DIRECTIVE));
    }

    #[test]
    fn a_hostile_value_is_a_string_not_toml() {
        let text = render("dev\"\n[evil]", "u1", "us-east-1", "c", "p").unwrap();
        let parsed = crate::plan::parse(&text);
        assert!(parsed.plan.is_none(), "the name is refused by the plan's rules, not injected as a section");
        assert!(!text.contains("\n[evil]"));
    }
}
