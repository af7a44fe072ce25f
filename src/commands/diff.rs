//! `pinfra diff PLAN [--json]`: what apply would change.

use crate::cli::{DiffArgs, GlobalArgs};
use crate::commands::{ErrorRef, ExitStatus, report_failures, session};
use crate::engine::Summary;
use crate::engine::render::{self, Style};
use crate::settings::{Environment, Output};

/// Runs the command.
pub async fn run(args: &DiffArgs, global: &GlobalArgs, env: &Environment, out: Output) -> anyhow::Result<ExitStatus> {
    let session = session(&args.plan.plan, global, env, out, args.prune).await?;
    let planned = session
        .engine
        .plan(&session.observed)
        .map_err(|failures| report_failures("cannot diff", failures.iter().map(|(id, e)| (id, ErrorRef::Resource(e)))))?;
    if args.json {
        println!("{}", render::json(&planned, &session.plan.environment.name, &session.plan.environment.region));
    } else {
        print!("{}", render::text(&planned, Style { color: out.color_stdout, show_unchanged: args.show_unchanged }));
    }
    Ok(if Summary::of(&planned.changes).has_changes() { ExitStatus::Changes } else { ExitStatus::Success })
}
