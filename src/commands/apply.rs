//! `pinfra apply PLAN`: shows the diff, asks, and makes AWS match the plan.
//!
//! A converged environment is only read. When there is something to change, the environment's
//! lock is taken first and everything is read again under it, so two applies never both write
//! and what is applied is what is there now. Ctrl-C while applying finishes the calls in
//! flight, starts nothing new, releases the lock and says what was and wasn't done.

use crate::cli::{ApplyArgs, GlobalArgs};
use crate::commands::{
    Clients, ErrorRef, ExitStatus, Interrupt, Reported, confirm, fleet, output, progress_printer, report_failures, session_for, take_lock,
};
use crate::engine::render::{self, Style};
use crate::engine::{NodeOutcome, Summary};
use crate::settings::{Environment, Output};

/// Runs the command: on one environment, or on several (`commands::fleet`).
pub async fn run(args: &ApplyArgs, global: &GlobalArgs, env: &Environment, out: Output) -> anyhow::Result<ExitStatus> {
    match fleet::select(&args.plan.plan, global, args.all_envs)? {
        fleet::Selection::One(_) if args.json => Err(fleet::json_needs_a_fleet("apply")),
        fleet::Selection::One(name) => one(args, name.as_deref(), global, env, out).await,
        fleet::Selection::Many(names) => {
            let options = fleet::Options { auto_approve: args.auto_approve, prune: args.prune, json: args.json };
            fleet::mutate(fleet::Mutation::Apply, &args.plan.plan, &names, options, global, env, out).await
        }
    }
}

/// Applies one environment (`None`: the base).
async fn one(args: &ApplyArgs, name: Option<&str>, global: &GlobalArgs, env: &Environment, out: Output) -> anyhow::Result<ExitStatus> {
    let session = session_for(&args.plan.plan, name, global, env, out, args.prune, &Clients::default()).await?;
    let (planned, _) = session.plan_checked()?;
    if !Summary::of(&planned.changes).has_changes() {
        out.printer.data(render::text(&planned, Style { color: out.color_stdout, show_unchanged: false }))?;
        output::print(out.printer, &session.plan, &session.observed.outputs(), false)?;
        return Ok(ExitStatus::Success);
    }

    if !args.auto_approve && !out.interactive_stdin {
        // Nobody can answer the question: say so before taking the lock.
        out.printer.data(render::text(&planned, Style { color: out.color_stdout, show_unchanged: false }))?;
        confirm("", false, out)?;
    }
    let lock = take_lock(&session, "apply", env).await?;
    let aws = session.aws.clone();
    let interrupt = Interrupt::watch(aws.clone(), &lock, out.printer);
    let result = locked(session, &lock.at.owner, args, out, &interrupt).await;
    interrupt.stop();
    if let Err(error) = lock.release(&aws).await {
        out.printer.warning_with_hint(format_args!("the lock could not be released: {error}"), error.hint().as_deref());
    }
    result
}

/// The apply itself, under the lock: read again, show, ask, apply.
async fn locked(
    session: crate::commands::Session,
    account: &str,
    args: &ApplyArgs,
    out: Output,
    interrupt: &Interrupt,
) -> anyhow::Result<ExitStatus> {
    let session = session.refresh(out).await?;
    let (planned, network) = session.plan_checked()?;
    out.printer.data_keep_going(render::text(&planned, Style { color: out.color_stdout, show_unchanged: false }));
    if let Some(network) = &network {
        out.printer.data_keep_going(format_args!("\n{}", network.text(false)));
    }
    let mut outputs = session.observed.outputs();
    if Summary::of(&planned.changes).has_changes() {
        crate::commands::acting_as(account, &session.aws, args.auto_approve, out);
        let question = format!("Apply these changes to environment `{}`?", session.plan.environment.name);
        if !confirm(&question, args.auto_approve, out)? {
            out.printer.notice("Apply cancelled; nothing was changed.");
            return Ok(ExitStatus::Failure);
        }
        interrupt.changing();
        let outcome = session.engine.apply(&session.aws, &session.observed, &progress_printer(out), &interrupt.flag).await;
        if interrupt.interrupted() {
            let done = outcome.results.iter().filter(|(_, o)| matches!(o, NodeOutcome::Done { .. })).count();
            let not_started = outcome.results.iter().filter(|(_, o)| matches!(o, NodeOutcome::Skipped { .. })).count();
            let failed = outcome.failures().count();
            for (id, o) in &outcome.results {
                if let NodeOutcome::Skipped { .. } = o {
                    out.printer.notice(format_args!("  not done: {}", crate::terminal::escape(&id.to_string())));
                }
            }
            return Err(Reported::new(format!(
                "apply interrupted: {done} resource(s) done, {failed} failed, {not_started} not started; the lock is released; run `pinfra apply` again to converge"
            ))
            .into());
        }
        if !outcome.is_success() {
            let skipped = outcome.results.iter().filter(|(_, o)| matches!(o, NodeOutcome::Skipped { .. })).count();
            let error = report_failures(out.printer, "apply incomplete", outcome.failures().map(|(id, e)| (id, ErrorRef::Resource(e))));
            out.printer.notice(format_args!(
                "{skipped} resource(s) were not attempted. Everything else was applied; run `pinfra apply` again to converge."
            ));
            return Err(error);
        }
        out.printer.status("Apply complete.");
        outputs = outcome.outputs;
    }
    output::print_keep_going(out.printer, &session.plan, &outputs);
    Ok(ExitStatus::Success)
}
