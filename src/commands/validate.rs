//! `pinfra validate PLAN`: checks the plan, and the flags against it, without contacting AWS.
//!
//! Every environment of the plan is checked (or only `--env`'s), and then all of them together:
//! no two environments may give the same name to a resource, or they would share (and fight
//! over) it.

use crate::cli::{GlobalArgs, PlanArgs};
use crate::commands::{ExitStatus, Reported, load_artifact, load_plan};
use crate::plan::Plan;
use crate::settings::{self, Environment, Output};
use crate::terminal::escape_lines;

/// Runs the command.
pub fn run(args: &PlanArgs, global: &GlobalArgs, env: &Environment, out: Output) -> anyhow::Result<ExitStatus> {
    let names: Vec<Option<String>> = match &global.env {
        Some(one) => vec![Some(one.clone())],
        None => {
            let text = std::fs::read_to_string(&args.plan).unwrap_or_default();
            let base = crate::plan::base_environment(&text);
            // The base is parsed as `None`; the others by name.
            std::iter::once(None)
                .chain(crate::plan::environments(&text).into_iter().filter(|n| Some(n) != base.as_ref()).map(Some))
                .collect()
        }
    };
    let mut plans: Vec<Plan> = Vec::new();
    let mut failed = 0;
    for name in &names {
        match validate_one(args, name.as_deref(), global, env, out) {
            Ok(plan) => plans.push(plan),
            Err(error) => {
                if names.len() == 1 {
                    return Err(error);
                }
                out.printer.error(&error, error.downcast_ref::<Reported>().and_then(|r| r.hint.as_deref()));
                failed += 1;
            }
        }
    }
    if failed > 0 {
        return Err(Reported::new(format!("{}: {failed} of {} environments are not valid", args.plan.display(), names.len())).into());
    }
    let clashes = crate::resources::name_clashes(&plans);
    if let Some((last, others)) = clashes.split_last() {
        for clash in others {
            out.printer.error(clash, None);
        }
        out.printer
            .error(last, Some("give each environment its own `user_id` (the default names derive from it), or put `{env}` in the names"));
        return Err(Reported::new(format!("{}: environments would share resources", args.plan.display())).into());
    }
    warn_limits(&plans, out);
    if plans.len() > 1 {
        out.printer.status(format_args!(
            "{} environments, no resource name shared: {}",
            plans.len(),
            plans.iter().map(|p| p.environment.name.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(ExitStatus::Success)
}

fn validate_one(args: &PlanArgs, name: Option<&str>, global: &GlobalArgs, env: &Environment, out: Output) -> anyhow::Result<Plan> {
    let plan = load_plan(&args.plan, name, out)?;
    let artifact = load_artifact(&args.plan, &plan, env, out)?;
    let (_, warning) = settings::aws(global, env, &plan.environment.region)?;
    let findings = crate::resources::connect_checks(&plan);
    if !findings.problems.is_empty() {
        for problem in &findings.problems {
            out.printer.error(&problem.message, problem.hint.as_deref());
        }
        return Err(Reported::new(format!("{}: the connector cannot work with this plan", args.plan.display())).into());
    }
    for line in &findings.notes {
        out.printer.status(escape_lines(line));
    }
    if let Some(artifact) = &artifact {
        out.printer.status(format_args!("plugin zip: sha256 {} (plugin name ends in -{})", artifact.sha256, artifact.short_hash()));
    }
    if let Some(warning) = warning {
        out.printer.warning(warning);
    }
    out.printer.status(format_args!(
        "{}: valid plan for environment `{}` of `{}` in {}",
        args.plan.display(),
        plan.environment.name,
        plan.environment.project,
        plan.environment.region
    ));
    Ok(plan)
}

/// Warns when the environments together outgrow an account's quota, and says what the Kafka
/// clients need of the account's vCPU quota (which differs per account) when there are several.
pub(super) fn warn_limits(plans: &[Plan], out: Output) {
    for exceeded in crate::resources::limits::check(plans) {
        out.printer.warning(exceeded);
    }
    if plans.len() > 1 {
        for (region, vcpus) in crate::resources::limits::vcpus_needed(plans) {
            out.printer.status(format_args!(
                "the Kafka clients need {vcpus} vCPUs of On-Demand Standard instances in {region}: check the account's quota \"Running On-Demand Standard instances\" (L-1216C47A) in Service Quotas"
            ));
        }
    }
}
