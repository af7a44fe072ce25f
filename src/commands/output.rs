//! `pinfra output PLAN [--json]`: the values users need next, read from AWS.

use std::collections::BTreeMap;

use crate::cli::{GlobalArgs, OutputArgs};
use crate::commands::{Clients, ExitStatus, fleet, session_for};
use crate::engine::{Outputs, ResourceId};
use crate::plan::Plan;
use crate::printer::Printer;
use crate::resources::{self, NamedOutput};
use crate::settings::{Environment, Output};

/// Runs the command: on one environment, or on several.
pub async fn run(args: &OutputArgs, global: &GlobalArgs, env: &Environment, out: Output) -> anyhow::Result<ExitStatus> {
    let names = match fleet::select(&args.plan.plan, global, args.all_envs)? {
        fleet::Selection::One(name) => {
            let session = session_for(&args.plan.plan, name.as_deref(), global, env, out, false, &Clients::default()).await?;
            print(out.printer, &session.plan, &session.observed.outputs(), args.json)?;
            return Ok(ExitStatus::Success);
        }
        fleet::Selection::Many(names) => names,
    };
    let read = fleet::read_all(&args.plan.plan, &names, global, env, out, false, &Clients::default()).await;
    let mut results = Vec::new();
    let mut documents = serde_json::Map::new();
    for (name, started, session) in read {
        let fate = match session.and_then(|s| text(&s.plan, &s.observed.outputs(), args.json)) {
            Ok(text) if args.json => {
                documents.insert(name.clone(), serde_json::from_str(&text)?);
                fleet::Fate::UpToDate
            }
            Ok(text) => {
                out.printer.data(format_args!("== environment {name}\n{text}\n"))?;
                fleet::Fate::UpToDate
            }
            Err(error) => {
                let why = fleet::one_line(&error);
                if args.json {
                    documents.insert(name.clone(), serde_json::json!({ "error": why }));
                } else {
                    out.printer.data(format_args!("== environment {name}\n(failed: {})\n\n", crate::terminal::escape(&why)))?;
                }
                fleet::Fate::Failed(why)
            }
        };
        results.push(fleet::EnvResult { name, result: fate, elapsed: started.elapsed() });
    }
    if args.json {
        out.printer.data(format_args!("{}\n", serde_json::to_string_pretty(&documents)?))?;
    }
    fleet::exit("output", &results, ExitStatus::Success)
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
