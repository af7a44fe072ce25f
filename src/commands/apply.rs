//! `pinfra apply PLAN`: shows the diff, asks, and makes AWS match the plan.
//!
//! A converged environment is only read. When there is something to change, the environment's
//! lock is taken first and everything is read again under it, so two applies never both write
//! and what is applied is what is there now. Ctrl-C while applying finishes the calls in
//! flight, starts nothing new, releases the lock and says what was and wasn't done.
//!
//! Given a saved plan (`pinfra diff --out FILE`), it applies exactly the saved change set,
//! without asking: the inputs are checked first, then the change set, read again, is checked
//! before and under the lock against the saved one (`commands::saved`). Any difference is a
//! refusal that changes nothing.

use std::fmt::Write as _;
use std::path::Path;

use crate::cli::{ApplyArgs, GlobalArgs};
use crate::commands::{
    Clients, ErrorRef, ExitStatus, Interrupt, Reported, confirm, fleet, output, progress_printer, report_failures, saved, session_for,
    step_summary, take_lock,
};
use crate::engine::markdown::markdown;
use crate::engine::render::{self, Style};
use crate::engine::{NodeOutcome, Summary};
use crate::saved_plan::Body;
use crate::settings::{Environment, Output};

/// Runs the command: on one environment, or on several (`commands::fleet`).
pub async fn run(args: &ApplyArgs, global: &GlobalArgs, env: &Environment, out: Output) -> anyhow::Result<ExitStatus> {
    if let Some(body) = saved::open(&args.plan.plan)? {
        saved::refuse_flags(args, global, &body)?;
        let path = saved::check_inputs(&body)?;
        let how = How { prune: body.prune, auto_approve: true, saved: Some(&body) };
        return one(&path, body.env.as_deref(), how, global, env, out).await;
    }
    match fleet::select(&args.plan.plan, global, args.all_envs)? {
        fleet::Selection::One(_) if args.json => Err(fleet::json_needs_a_fleet("apply")),
        fleet::Selection::One(name) => {
            let how = How { prune: args.prune, auto_approve: args.auto_approve, saved: None };
            one(&args.plan.plan, name.as_deref(), how, global, env, out).await
        }
        fleet::Selection::Many(names) => {
            let options = fleet::Options { auto_approve: args.auto_approve, prune: args.prune, json: args.json };
            fleet::mutate(fleet::Mutation::Apply, &args.plan.plan, &names, options, global, env, out).await
        }
    }
}

/// How one environment is applied.
#[derive(Clone, Copy)]
struct How<'a> {
    /// `--prune`.
    prune: bool,
    /// No question (`--auto-approve`, or a saved plan: it was reviewed).
    auto_approve: bool,
    /// The saved plan whose change set this must be.
    saved: Option<&'a Body>,
}

/// Applies one environment (`None`: the base).
async fn one(
    path: &Path,
    name: Option<&str>,
    how: How<'_>,
    global: &GlobalArgs,
    env: &Environment,
    out: Output,
) -> anyhow::Result<ExitStatus> {
    let session = session_for(path, name, global, env, out, how.prune, &Clients::default()).await?;
    let (planned, _) = session.plan_checked()?;
    if let Some(body) = how.saved {
        saved::check_live(body, &session, &planned)?;
    }
    if !Summary::of(&planned.changes).has_changes() {
        out.printer.data(render::text(&planned, Style { color: out.color_stdout, show_unchanged: false }))?;
        output::print(out.printer, &session.plan, &session.observed.outputs(), false)?;
        return Ok(ExitStatus::Success);
    }

    if !how.auto_approve && !out.interactive_stdin {
        // Nobody can answer the question: say so before taking the lock.
        out.printer.data(render::text(&planned, Style { color: out.color_stdout, show_unchanged: false }))?;
        confirm("", false, out)?;
    }
    let lock = take_lock(&session, "apply", env).await?;
    let aws = session.aws.clone();
    let interrupt = Interrupt::watch(aws.clone(), &lock, out.printer);
    let result = locked(session, &lock.at.owner, how, env, out, &interrupt).await;
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
    how: How<'_>,
    env: &Environment,
    out: Output,
    interrupt: &Interrupt,
) -> anyhow::Result<ExitStatus> {
    let session = session.refresh(out).await?;
    let (planned, network) = session.plan_checked()?;
    if let Some(body) = how.saved {
        saved::check_live(body, &session, &planned)?;
    }
    out.printer.data_keep_going(render::text(&planned, Style { color: out.color_stdout, show_unchanged: false }));
    if let Some(network) = &network {
        out.printer.data_keep_going(format_args!("\n{}", network.text(false)));
    }
    let mut outputs = session.observed.outputs();
    if Summary::of(&planned.changes).has_changes() {
        crate::commands::acting_as(account, &session.aws, how.auto_approve, out);
        let question = format!("Apply these changes to environment `{}`?", session.plan.environment.name);
        if !confirm(&question, how.auto_approve, out)? {
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
        step_summary(
            env,
            || {
                let mut page = markdown(&planned, "apply", &session.plan.environment.name, &session.plan.environment.region);
                if outcome.is_success() {
                    page.push_str("**Apply complete.**\n");
                } else {
                    let failed = outcome.failures().count();
                    let _ = writeln!(page, "**Apply incomplete:** {failed} resource(s) failed; run `pinfra apply` again to converge.");
                }
                page
            },
            out,
        );
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
