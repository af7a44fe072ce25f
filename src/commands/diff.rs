//! `pinfra diff PLAN [--json] [--all-envs | --env a,b]`: what apply would change (several
//! environments with `--json`: one document, `docs/fleet.md`).

use crate::cli::{DiffArgs, GlobalArgs};
use crate::commands::{Clients, ExitStatus, fleet, session_for};
use crate::engine::Summary;
use crate::engine::render::{self, Style};
use crate::settings::{Environment, Output};

/// Runs the command: on one environment, or on several.
pub async fn run(args: &DiffArgs, global: &GlobalArgs, env: &Environment, out: Output) -> anyhow::Result<ExitStatus> {
    match fleet::select(&args.plan.plan, global, args.all_envs)? {
        fleet::Selection::One(name) => one(args, name.as_deref(), global, env, out).await,
        fleet::Selection::Many(names) => many(args, &names, global, env, out).await,
    }
}

/// One environment (`None`: the base).
async fn one(args: &DiffArgs, name: Option<&str>, global: &GlobalArgs, env: &Environment, out: Output) -> anyhow::Result<ExitStatus> {
    let session = session_for(&args.plan.plan, name, global, env, out, args.prune, &Clients::default()).await?;
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

/// Several environments, read concurrently with shared clients, printed one after the other
/// under `== environment <name>`, then a summary. Exit 1 if any failed, else 2 if any has changes.
async fn many(args: &DiffArgs, names: &[String], global: &GlobalArgs, env: &Environment, out: Output) -> anyhow::Result<ExitStatus> {
    let wall = std::time::Instant::now();
    let clients = Clients::default();
    fleet::warn_limits(&args.plan.plan, names, out);
    let read = fleet::read_all(&args.plan.plan, names, global, env, out, args.prune, &clients).await;
    let style = Style { color: out.color_stdout, show_unchanged: args.show_unchanged };
    let mut results = Vec::new();
    let mut changed = false;
    if args.json {
        let mut diffs = Vec::new();
        for (name, started, session) in read {
            let planned = session.and_then(|s| s.plan_checked().map(|(planned, _)| (s, planned)));
            diffs.push(fleet::json_diff(&name, planned.as_ref().map(|(s, p)| (s, p))));
            let fate = match &planned {
                Ok((_, planned)) if Summary::of(&planned.changes).has_changes() => fleet::Fate::Changes(Summary::of(&planned.changes)),
                Ok(_) => fleet::Fate::UpToDate,
                Err(error) => fleet::Fate::Failed(fleet::one_line(error)),
            };
            changed |= matches!(fate, fleet::Fate::Changes(_));
            results.push(fleet::EnvResult { name, result: fate, elapsed: started.elapsed() });
        }
        let document = serde_json::json!({
            "command": "diff",
            "seconds": wall.elapsed().as_secs_f64(),
            "environments": results.iter().map(|r| fleet::json_result("diff", r)).collect::<Vec<_>>(),
            "diffs": diffs,
        });
        out.printer.data(format_args!("{}\n", serde_json::to_string_pretty(&document).unwrap_or_default()))?;
        return fleet::exit("diff", &results, if changed { ExitStatus::Changes } else { ExitStatus::Success });
    }
    for (name, started, session) in read {
        out.printer.data(format_args!("== environment {name}\n"))?;
        let fate = match session.and_then(|s| s.plan_checked()) {
            Ok((planned, _)) => {
                out.printer.data(render::text(&planned, style))?;
                let summary = Summary::of(&planned.changes);
                changed |= summary.has_changes();
                if summary.has_changes() { fleet::Fate::Changes(summary) } else { fleet::Fate::UpToDate }
            }
            Err(error) => {
                let why = fleet::one_line(&error);
                out.printer.data(format_args!("(failed: {})\n", crate::terminal::escape(&why)))?;
                fleet::Fate::Failed(why)
            }
        };
        out.printer.data("\n")?;
        results.push(fleet::EnvResult { name, result: fate, elapsed: started.elapsed() });
    }
    out.printer.data(fleet::summary("diff", &results, wall.elapsed()))?;
    fleet::exit("diff", &results, if changed { ExitStatus::Changes } else { ExitStatus::Success })
}
