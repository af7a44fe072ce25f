//! `pinfra validate PLAN`: checks the plan, and the flags against it, without contacting AWS.

use crate::cli::{GlobalArgs, PlanArgs};
use crate::commands::{ExitStatus, load_plan};
use crate::settings::{self, Environment, Output};

/// Runs the command.
pub fn run(args: &PlanArgs, global: &GlobalArgs, env: &Environment, out: Output) -> anyhow::Result<ExitStatus> {
    let plan = load_plan(&args.plan, out)?;
    let (_, warning) = settings::aws(global, env, &plan.environment.region)?;
    if !out.quiet {
        if let Some(warning) = warning {
            eprintln!("warning: {warning}");
        }
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
