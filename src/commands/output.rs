//! `pinfra output PLAN [--json]`: the values users need next, read from AWS.

use std::collections::BTreeMap;

use crate::cli::{GlobalArgs, OutputArgs};
use crate::commands::{ExitStatus, session};
use crate::engine::{Outputs, ResourceId, Value};
use crate::plan::Plan;
use crate::resources;
use crate::settings::{Environment, Output};

/// Runs the command.
pub async fn run(args: &OutputArgs, global: &GlobalArgs, env: &Environment, out: Output) -> anyhow::Result<ExitStatus> {
    let session = session(&args.plan.plan, global, env, out, false).await?;
    print(&session.plan, &session.observed.outputs(&session.engine), args.json)?;
    Ok(ExitStatus::Success)
}

/// Prints the named outputs, as `name = value` lines or JSON.
pub fn print(plan: &Plan, live: &BTreeMap<ResourceId, Outputs>, json: bool) -> anyhow::Result<()> {
    let outputs = resources::named_outputs(plan, live);
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
