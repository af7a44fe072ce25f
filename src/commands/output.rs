//! `pinfra output PLAN [--json]`: the values users need next, read from AWS.

use std::path::Path;

use crate::cli::{GlobalArgs, OutputArgs};
use crate::commands::{ExitStatus, session};
use crate::engine::Value;
use crate::resources;
use crate::settings::{Environment, Output};

/// Runs the command.
pub async fn run(args: &OutputArgs, global: &GlobalArgs, env: &Environment, out: Output) -> anyhow::Result<ExitStatus> {
    print(&args.plan.plan, global, env, out, args.json).await?;
    Ok(ExitStatus::Success)
}

/// Observes and prints the outputs, as `name = value` lines or JSON.
pub async fn print(plan: &Path, global: &GlobalArgs, env: &Environment, out: Output, json: bool) -> anyhow::Result<()> {
    let session = session(plan, global, env, out).await?;
    let outputs = resources::named_outputs(&session.plan, &session.observed.outputs(&session.engine));
    if json {
        let map: serde_json::Map<String, serde_json::Value> = outputs
            .into_iter()
            .map(|(k, v)| {
                (
                    k.to_owned(),
                    match v {
                        Value::Known(v) => v,
                        Value::Unknown => serde_json::Value::Null,
                    },
                )
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&map)?);
    } else {
        for (name, value) in outputs {
            match value {
                Value::Known(serde_json::Value::String(s)) => println!("{name} = {s}"),
                Value::Known(other) => println!("{name} = {other}"),
                Value::Unknown => println!("{name} = (not created yet)"),
            }
        }
    }
    Ok(())
}
