//! `pinfra unlock PLAN --force`: removes the environment's lock that a crashed or killed run left
//! behind. Without `--force` it only says who holds the lock and since when.

use crate::cli::{GlobalArgs, UnlockArgs};
use crate::commands::{ExitStatus, Reported, load_plan};
use crate::lock::{self, LockRef};
use crate::settings::{self, Environment, Output};

/// Runs the command.
pub async fn run(args: &UnlockArgs, global: &GlobalArgs, env: &Environment, out: Output) -> anyhow::Result<ExitStatus> {
    let plan = load_plan(&args.plan.plan, global.env.as_deref(), out)?;
    let (aws_settings, _) = settings::aws(global, env, &plan.environment.region)?;
    let aws = crate::commands::connect(&aws_settings).await?;
    let at = LockRef::find(&aws, &plan)
        .await
        .map_err(|e| Reported::new(format!("cannot find the account for the lock: {e}")).maybe_hint(e.hint()))?;
    let holder = lock::read(&aws, &at).await.map_err(|e| Reported::new(format!("cannot read the lock: {e}")).maybe_hint(e.hint()))?;
    let Some(holder) = holder else {
        out.printer.status(format_args!("environment `{}` is not locked (s3://{}/{})", at.env, at.bucket, at.key));
        return Ok(ExitStatus::Success);
    };
    let age = lock::held_for(&holder);
    let what = format!(
        "environment `{}` is locked by {} (pid {}, `{}`) since {} ({} s ago)",
        at.env,
        holder.holder,
        holder.pid,
        holder.command,
        holder.started,
        age.as_secs()
    );
    if !args.force {
        return Err(Reported::new(what)
            .hint(format!("make sure that run is not still going, then `pinfra unlock --force {}`", args.plan.plan.display()))
            .into());
    }
    lock::force_remove(&aws, &at).await.map_err(|e| Reported::new(format!("cannot remove the lock: {e}")).maybe_hint(e.hint()))?;
    out.printer.notice(format_args!("{what}: lock removed"));
    Ok(ExitStatus::Success)
}
