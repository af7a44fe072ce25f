//! `pinfra validate PLAN`: checks the plan offline.

use crate::cli::PlanArgs;
use crate::commands::{ExitStatus, load_plan};
use crate::settings::Output;

/// Runs the command.
pub fn run(args: &PlanArgs, out: Output) -> anyhow::Result<ExitStatus> {
    let plan = load_plan(&args.plan, out)?;
    if !out.quiet {
        eprintln!(
            "{}: valid plan for environment `{}` of `{}` in {}",
            args.plan.display(),
            plan.environment.name,
            plan.environment.project,
            plan.environment.region
        );
    }
    Ok(ExitStatus::Success)
}
