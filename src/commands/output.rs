//! `pinfra output PLAN [--json]`: the values users need next, read from AWS.

use std::collections::BTreeMap;

use crate::cli::{GlobalArgs, OutputArgs};
use crate::commands::{ExitStatus, session};
use crate::engine::{Outputs, ResourceId};
use crate::plan::Plan;
use crate::printer::Printer;
use crate::resources::{self, NamedOutput};
use crate::settings::{Environment, Output};

/// Runs the command.
pub async fn run(args: &OutputArgs, global: &GlobalArgs, env: &Environment, out: Output) -> anyhow::Result<ExitStatus> {
    let session = session(&args.plan.plan, global, env, out, false).await?;
    print(out.printer, &session.plan, &session.observed.outputs(), args.json)?;
    Ok(ExitStatus::Success)
}

/// Prints the named outputs, as `name = value` lines or JSON.
pub fn print(printer: Printer, plan: &Plan, live: &BTreeMap<ResourceId, Outputs>, json: bool) -> anyhow::Result<()> {
    Ok(printer.data(text(plan, live, json)?)?)
}

/// [`print`] under a lock: a gone reader does not stop the work in hand.
pub fn print_keep_going(printer: Printer, plan: &Plan, live: &BTreeMap<ResourceId, Outputs>) {
    if let Ok(text) = text(plan, live, false) {
        printer.data_keep_going(text);
    }
}

/// The named outputs, as `name = value` lines or JSON.
fn text(plan: &Plan, live: &BTreeMap<ResourceId, Outputs>, json: bool) -> anyhow::Result<String> {
    let outputs = resources::named_outputs(plan, live);
    if json {
        let map: serde_json::Map<String, serde_json::Value> = outputs
            .into_iter()
            .map(|(k, v)| {
                (
                    k.to_owned(),
                    match v {
                        NamedOutput::Known(v) => v,
                        NamedOutput::NotCreated | NamedOutput::Unavailable(_) => serde_json::Value::Null,
                    },
                )
            })
            .collect();
        Ok(format!("{}\n", serde_json::to_string_pretty(&map)?))
    } else {
        let mut text = String::new();
        for (name, value) in outputs {
            text.push_str(&match value {
                // A value AWS gave (a DNS name, an ARN) is shown escaped.
                NamedOutput::Known(serde_json::Value::String(s)) => format!("{name} = {}\n", crate::terminal::escape(&s)),
                NamedOutput::Known(other) => format!("{name} = {other}\n"),
                NamedOutput::NotCreated => format!("{name} = (not created yet)\n"),
                NamedOutput::Unavailable(why) => format!("{name} = (none: {why})\n"),
            });
        }
        Ok(text)
    }
}
