//! `pinfra diff PLAN [--json | --format markdown] [--out FILE] [--all-envs | --env a,b]`: what
//! apply would change (several environments with `--json`: one document, `docs/fleet.md`);
//! `--out` also saves it for `pinfra apply FILE` (`commands::saved`). Under GitHub Actions, the
//! Markdown form is added to the step's summary too.

use crate::cli::{DiffArgs, DiffFormat, GlobalArgs};
use crate::commands::{Clients, ExitStatus, fleet, saved, session_for, step_summary};
use crate::engine::Summary;
use crate::engine::markdown::{html, markdown};
use crate::engine::render::{self, Style};
use crate::settings::{Environment, Output};

/// Runs the command: on one environment, or on several.
pub async fn run(args: &DiffArgs, global: &GlobalArgs, env: &Environment, out: Output) -> anyhow::Result<ExitStatus> {
    match fleet::select(&args.plan.plan, global, args.all_envs)? {
        fleet::Selection::One(name) => one(args, name.as_deref(), global, env, out).await,
        fleet::Selection::Many(_) if args.out.is_some() => {
            Err(crate::commands::Reported::new("a saved plan (`--out`) holds one environment")
                .hint("save one per environment: `pinfra --env NAME diff --out NAME.pinfra-plan PLAN`")
                .into())
        }
        fleet::Selection::Many(names) => many(args, &names, global, env, out).await,
    }
}

/// One environment (`None`: the base).
async fn one(args: &DiffArgs, name: Option<&str>, global: &GlobalArgs, env: &Environment, out: Output) -> anyhow::Result<ExitStatus> {
    let session = session_for(&args.plan.plan, name, global, env, out, args.prune, &Clients::default()).await?;
    let (planned, network) = session.plan_checked()?;
    let (environment, region) = (&session.plan.environment.name, &session.plan.environment.region);
    let page = || markdown(&planned, "diff", environment, region);
    if format(args) == DiffFormat::Markdown {
        out.printer.data(page())?;
    } else if format(args) == DiffFormat::Json {
        let mut document = render::json_document(&planned, environment, region);
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
    if let Some(file) = &args.out {
        saved::save(file, &args.plan.plan, name, args.prune, &session, &planned)?;
        out.printer.status(format_args!(
            "Saved these changes to {0}: `pinfra apply {0}` applies exactly them, or refuses if anything changed meanwhile.",
            crate::terminal::escape(&file.display().to_string())
        ));
    }
    step_summary(env, page, out);
    Ok(if Summary::of(&planned.changes).has_changes() { ExitStatus::Changes } else { ExitStatus::Success })
}

/// The form asked for: `--json` is `--format json`.
fn format(args: &DiffArgs) -> DiffFormat {
    if args.json { DiffFormat::Json } else { args.format }
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
    if format(args) == DiffFormat::Json {
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
    let markdown_form = format(args) == DiffFormat::Markdown;
    for (name, started, session) in read {
        if !markdown_form {
            out.printer.data(format_args!("== environment {name}\n"))?;
        }
        let fate = match session.and_then(|s| s.plan_checked().map(|(planned, _)| (s, planned))) {
            Ok((session, planned)) => {
                let page = || markdown(&planned, "diff", &session.plan.environment.name, &session.plan.environment.region);
                if markdown_form {
                    out.printer.data(page())?;
                } else {
                    out.printer.data(render::text(&planned, style))?;
                }
                step_summary(env, page, out);
                let summary = Summary::of(&planned.changes);
                changed |= summary.has_changes();
                if summary.has_changes() { fleet::Fate::Changes(summary) } else { fleet::Fate::UpToDate }
            }
            Err(error) => {
                let why = fleet::one_line(&error);
                let page = || format!("### pinfra diff: environment <code>{}</code>\n\n**failed:** {}\n", html(&name), html(&why));
                if markdown_form {
                    out.printer.data(page())?;
                } else {
                    out.printer.data(format_args!("(failed: {})\n", crate::terminal::escape(&why)))?;
                }
                step_summary(env, page, out);
                fleet::Fate::Failed(why)
            }
        };
        out.printer.data("\n")?;
        results.push(fleet::EnvResult { name, result: fate, elapsed: started.elapsed() });
    }
    out.printer.data(fleet::summary("diff", &results, wall.elapsed()))?;
    fleet::exit("diff", &results, if changed { ExitStatus::Changes } else { ExitStatus::Success })
}
