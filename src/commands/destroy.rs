//! `pinfra destroy PLAN`: deletes what the plan owns, in reverse dependency order. Resources
//! without pinfra's ownership tags are never deleted.

use std::fmt::Write as _;

use crate::cli::{DestroyArgs, GlobalArgs};
use crate::commands::{
    Clients, ErrorRef, ExitStatus, Interrupt, confirm, fleet, progress_printer, report_failures, session_for, take_lock,
};
use crate::engine::Planned;
use crate::engine::render::{self, Style};
use crate::settings::{Environment, Output};

/// Runs the command: on one environment, or on several (`commands::fleet`).
pub async fn run(args: &DestroyArgs, global: &GlobalArgs, env: &Environment, out: Output) -> anyhow::Result<ExitStatus> {
    match fleet::select(&args.plan.plan, global, args.all_envs)? {
        fleet::Selection::One(_) if args.json => Err(fleet::json_needs_a_fleet("destroy")),
        fleet::Selection::One(name) => one(args, name.as_deref(), global, env, out).await,
        fleet::Selection::Many(names) => {
            let options = fleet::Options { auto_approve: args.auto_approve, prune: false, json: args.json };
            fleet::mutate(fleet::Mutation::Destroy, &args.plan.plan, &names, options, global, env, out).await
        }
    }
}

/// Destroys one environment (`None`: the base).
async fn one(args: &DestroyArgs, name: Option<&str>, global: &GlobalArgs, env: &Environment, out: Output) -> anyhow::Result<ExitStatus> {
    let session = session_for(&args.plan.plan, name, global, env, out, false, &Clients::default()).await?;
    let planned = planned(&session)?;
    if planned.changes.is_empty() {
        out.printer.data(text(&planned, out))?;
        return Ok(ExitStatus::Success);
    }
    if !args.auto_approve && !out.interactive_stdin {
        out.printer.data(text(&planned, out))?;
        confirm("", false, out)?;
    }
    // One mutating run at a time: lock, then read again under the lock.
    let lock = take_lock(&session, "destroy", env).await?;
    let aws = session.aws.clone();
    let interrupt = Interrupt::watch(aws.clone(), &lock, out.printer);
    let result = locked(session.refresh(out).await, &lock.at.owner, args, out, &interrupt).await;
    interrupt.stop();
    if let Err(error) = lock.release(&aws).await {
        out.printer.warning_with_hint(format_args!("the lock could not be released: {error}"), error.hint().as_deref());
    }
    result
}

/// What destroy deletes; refused as a whole when the plan's names find another plan's resources.
fn planned(session: &crate::commands::Session) -> anyhow::Result<crate::engine::Planned> {
    session
        .engine
        .plan_destroy(&session.observed)
        .map_err(|failures| report_failures(session.printer, "cannot destroy", failures.iter().map(|(id, e)| (id, ErrorRef::Resource(e)))))
}

async fn locked(
    session: anyhow::Result<crate::commands::Session>,
    account: &str,
    args: &DestroyArgs,
    out: Output,
    interrupt: &Interrupt,
) -> anyhow::Result<ExitStatus> {
    let session = session?;
    let planned = planned(&session)?;
    out.printer.data_keep_going(text(&planned, out));
    if planned.changes.is_empty() {
        return Ok(ExitStatus::Success);
    }
    crate::commands::acting_as(account, &session.aws, args.auto_approve, out);
    let question = format!("Delete these resources of environment `{}`? There is no undo.", session.plan.environment.name);
    if !confirm(&question, args.auto_approve, out)? {
        out.printer.notice("Destroy cancelled; nothing was deleted.");
        return Ok(ExitStatus::Failure);
    }
    interrupt.changing();
    let outcome = session.engine.destroy(&session.aws, &session.observed, &planned, &progress_printer(out), &interrupt.flag).await;
    if !outcome.is_success() {
        return Err(report_failures(out.printer, "destroy incomplete", outcome.failures().map(|(id, e)| (id, ErrorRef::Resource(e)))));
    }
    out.printer.status("Destroy complete.");
    Ok(ExitStatus::Success)
}

/// The destroy plan as text. With nothing to delete it says so, rather than a diff's "No
/// changes. 0 resources are up to date.", which would claim resources that do not exist.
fn text(planned: &Planned, out: Output) -> String {
    if !planned.changes.is_empty() {
        return render::text(planned, Style { color: out.color_stdout, show_unchanged: false });
    }
    let mut text = String::new();
    for (id, reason) in &planned.skipped {
        // As `render::text` writes them: escaped.
        let _ = writeln!(text, "  = {} is left alone: {}", crate::terminal::escape(&id.to_string()), crate::terminal::escape(reason));
    }
    if !text.is_empty() {
        text.push('\n');
    }
    text.push_str(if planned.skipped.is_empty() {
        "Nothing to destroy: no resource of this plan exists.\n"
    } else {
        "Nothing to destroy: no resource this plan owns exists.\n"
    });
    text
}
