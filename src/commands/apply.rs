//! `pinfra apply PLAN`: shows the diff, asks, and makes AWS match the plan.

use crate::cli::{ApplyArgs, GlobalArgs};
use crate::commands::{ErrorRef, ExitStatus, confirm, output, progress_printer, report_failures, session};
use crate::engine::Summary;
use crate::engine::render::{self, Style};
use crate::settings::{Environment, Output};

/// Runs the command.
pub async fn run(args: &ApplyArgs, global: &GlobalArgs, env: &Environment, out: Output) -> anyhow::Result<ExitStatus> {
    let session = session(&args.plan.plan, global, env, out, args.prune).await?;
    let planned = session
        .engine
        .plan(&session.observed)
        .map_err(|failures| report_failures("cannot diff", failures.iter().map(|(id, e)| (id, ErrorRef::Resource(e)))))?;
    print!("{}", render::text(&planned, Style { color: out.color_stdout, show_unchanged: false }));
    let summary = Summary::of(&planned.changes);
    let mut outputs = session.observed.outputs(&session.engine);
    if summary.has_changes() {
        let question = format!("Apply these changes to environment `{}`?", session.plan.environment.name);
        if !confirm(&question, args.auto_approve, out)? {
            eprintln!("Apply cancelled; nothing was changed.");
            return Ok(ExitStatus::Failure);
        }
        let outcome = session.engine.apply(&session.aws, &session.observed, &progress_printer(out)).await;
        if !outcome.is_success() {
            let skipped = outcome.results.iter().filter(|(_, o)| matches!(o, crate::engine::NodeOutcome::Skipped { .. })).count();
            let error = report_failures("apply incomplete", outcome.failures().map(|(id, e)| (id, ErrorRef::Resource(e))));
            eprintln!("{skipped} resource(s) were not attempted. Everything else was applied; run `pinfra apply` again to converge.");
            return Err(error);
        }
        eprintln!("Apply complete.");
        outputs = outcome.outputs;
    }
    output::print(&session.plan, &outputs, false)?;
    Ok(ExitStatus::Success)
}
