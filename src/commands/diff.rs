//! `pinfra diff PLAN [--json] [--all-envs]`: what apply would change.

use futures::future::join_all;

use crate::cli::{DiffArgs, GlobalArgs};
use crate::commands::{ExitStatus, Reported, session, session_for};
use crate::engine::Summary;
use crate::engine::render::{self, Style};
use crate::settings::{Environment, Output};

/// Runs the command.
pub async fn run(args: &DiffArgs, global: &GlobalArgs, env: &Environment, out: Output) -> anyhow::Result<ExitStatus> {
    if args.all_envs {
        return all_envs(args, global, env, out).await;
    }
    let session = session(&args.plan.plan, global, env, out, args.prune).await?;
    let (planned, network) = session.plan_checked()?;
    if args.json {
        let mut document = render::json_document(&planned, &session.plan.environment.name, &session.plan.environment.region);
        if let (Some(network), Some(fields)) = (&network, document.as_object_mut()) {
            fields.insert("network".to_owned(), network.json());
        }
        out.printer.data(format_args!("{}\n", serde_json::to_string_pretty(&document).unwrap_or_default()))?;
    } else {
        out.printer.data(render::text(&planned, Style { color: out.color_stdout, show_unchanged: args.show_unchanged }))?;
        if let Some(network) = &network {
            out.printer.data(format_args!("\n{}", network.text(false)))?;
        }
    }
    Ok(if Summary::of(&planned.changes).has_changes() { ExitStatus::Changes } else { ExitStatus::Success })
}

/// Every environment of the plan, read concurrently, printed one after the other. Exit 1 if
/// any failed, else 2 if any has changes.
async fn all_envs(args: &DiffArgs, global: &GlobalArgs, env: &Environment, out: Output) -> anyhow::Result<ExitStatus> {
    let text = std::fs::read_to_string(&args.plan.plan)
        .map_err(|e| Reported::new(format!("cannot read plan `{}`: {e}", args.plan.plan.display())))?;
    let names = crate::plan::environments(&text);
    if names.is_empty() {
        // Not a readable plan: let the ordinary path report why.
        return Box::pin(run(&DiffArgs { all_envs: false, ..args.clone() }, global, env, out)).await;
    }
    let diffs = join_all(names.iter().map(|name| async move {
        let session = session_for(&args.plan.plan, Some(name), global, env, out, args.prune).await?;
        let (planned, _) = session.plan_checked().map_err(|e| anyhow::anyhow!("cannot diff environment {name}: {e}"))?;
        let changed = Summary::of(&planned.changes).has_changes();
        anyhow::Ok((render::text(&planned, Style { color: out.color_stdout, show_unchanged: args.show_unchanged }), changed))
    }))
    .await;
    let (mut failed, mut changed) = (Vec::new(), false);
    for (name, diff) in names.iter().zip(diffs) {
        out.printer.data(format_args!("== environment {name}\n"))?;
        match diff {
            Ok((text, has_changes)) => {
                out.printer.data(text)?;
                changed |= has_changes;
            }
            Err(error) => {
                out.printer.data(format_args!("(failed: {})\n", crate::terminal::escape_lines(&error.to_string())))?;
                failed.push(name.clone());
            }
        }
        out.printer.data("\n")?;
    }
    if !failed.is_empty() {
        return Err(Reported::new(format!("diff failed for environment(s) {}", failed.join(", "))).into());
    }
    Ok(if changed { ExitStatus::Changes } else { ExitStatus::Success })
}
