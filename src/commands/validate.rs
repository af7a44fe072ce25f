//! `pinfra validate PLAN`: checks the plan, and the flags against it, without contacting AWS.

use crate::cli::{GlobalArgs, PlanArgs};
use crate::commands::{ExitStatus, load_artifact, load_plan};
use crate::settings::{self, Environment, Output};

/// Runs the command.
pub fn run(args: &PlanArgs, global: &GlobalArgs, env: &Environment, out: Output) -> anyhow::Result<ExitStatus> {
    let plan = load_plan(&args.plan, out)?;
    let artifact = load_artifact(&args.plan, &plan, env, out)?;
    let (_, warning) = settings::aws(global, env, &plan.environment.region)?;
    let findings = crate::resources::connect_checks(&plan);
    if !findings.problems.is_empty() {
        for problem in &findings.problems {
            eprintln!("error: {problem}");
        }
        return Err(crate::commands::Reported(format!("{}: the connector cannot work with this plan", args.plan.display())).into());
    }
    if !out.quiet {
        for line in &findings.notes {
            eprintln!("{line}");
        }
        if let Some(artifact) = &artifact {
            eprintln!("plugin zip: sha256 {} (plugin name ends in -{})", artifact.sha256, artifact.short_hash());
        }
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
