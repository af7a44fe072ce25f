//! Several environments in one run: `--all-envs`, or `--env a,b,c`. A course's or a team's
//! cohort (`[cohort]` in the plan) is bootstrapped this way.
//!
//! Every environment is read at once, with the run's shared clients ([`Clients`]). Each diff is
//! shown under `== environment <name>`, and one question covers them all. Then every environment
//! with changes is applied (or destroyed) concurrently, each under its own lock and read again
//! under it, as a single-environment run does. An environment whose changes differ from what was
//! shown is left for the next run (unless `--auto-approve`, where nobody was shown anything to
//! agree to). One environment's failure stops none of the others: the summary names each with
//! its result, and the exit code is 0 only if every one converged.
//!
//! Ctrl-C is one for the whole run: the first lets the calls in flight finish and starts
//! nothing new in any environment, each lock is then released; a second ends the process at
//! once, leaving the locks held (`pinfra unlock --force`).

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::future::join_all;

use crate::cli::GlobalArgs;
use crate::commands::{Clients, ErrorRef, ExitStatus, Reported, Session, confirm, session_for, take_lock};
use crate::engine::render::{self, Style};
use crate::engine::{Event, NodeOutcome, Planned, Summary};
use crate::printer::Printer;
use crate::settings::{Environment, Output};
use crate::terminal::escape;

/// Which environments a command works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// One: `--env NAME`, or the base environment (`None`).
    One(Option<String>),
    /// Several, in the plan's order for `--all-envs`, else as given.
    Many(Vec<String>),
}

/// Reads `--all-envs` and `--env a,b,c` against the plan's environments. A plan that cannot be
/// read gives [`Selection::One`], so that the ordinary path reports why.
pub fn select(plan: &Path, global: &GlobalArgs, all_envs: bool) -> anyhow::Result<Selection> {
    let list = global.env.as_deref().filter(|e| e.contains(','));
    if !all_envs && list.is_none() {
        return Ok(Selection::One(global.env.clone()));
    }
    let text = std::fs::read_to_string(plan).map_err(|e| Reported::new(format!("cannot read plan `{}`: {e}", plan.display())))?;
    let known = crate::plan::environments(&text);
    if known.is_empty() {
        return Ok(Selection::One(global.env.clone()));
    }
    let Some(list) = list else { return Ok(Selection::Many(known)) };
    let mut wanted: Vec<String> = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if !wanted.iter().any(|w| w == name) {
            wanted.push(name.to_owned());
        }
    }
    let unknown: Vec<&str> = wanted.iter().map(String::as_str).filter(|w| !known.iter().any(|k| k == w)).collect();
    if !unknown.is_empty() {
        return Err(Reported::new(format!("the plan has no environment {}", unknown.join(", ")))
            .hint(format!("its environments: {}", known.join(", ")))
            .into());
    }
    Ok(Selection::Many(wanted))
}

/// What became of one environment.
pub enum Fate {
    /// Nothing to change.
    UpToDate,
    /// `diff`: these changes would be made.
    Changes(Summary),
    /// Applied or destroyed: these changes were made.
    Done(Summary),
    /// Not attempted, and why.
    Skipped(String),
    /// Failed, and why (one line).
    Failed(String),
}

/// One environment's line of the summary.
pub struct EnvResult {
    /// The environment.
    pub name: String,
    /// What became of it.
    pub result: Fate,
    /// How long it took, reading included.
    pub elapsed: Duration,
}

impl EnvResult {
    fn failed(&self) -> bool {
        matches!(self.result, Fate::Failed(_) | Fate::Skipped(_))
    }
}

/// The summary table, for stdout.
pub fn summary(command: &str, results: &[EnvResult], wall: Duration) -> String {
    let width = results.iter().map(|r| r.name.len()).max().unwrap_or(0).max("environment".len());
    let mut text = format!("\n{:<width$}  {:<10}  {:>7}  detail\n", "environment", "result", "time");
    for r in results {
        let (result, detail) = match &r.result {
            Fate::UpToDate if command == "verify" => ("passed", String::new()),
            Fate::UpToDate => ("up to date", String::new()),
            Fate::Changes(s) => ("changes", counts(s)),
            Fate::Done(s) => (if command == "destroy" { "destroyed" } else { "applied" }, counts(s)),
            Fate::Skipped(why) => ("skipped", why.clone()),
            Fate::Failed(why) => ("FAILED", why.clone()),
        };
        let _ = writeln!(text, "{:<width$}  {result:<10}  {:>6.1}s  {}", escape(&r.name), r.elapsed.as_secs_f64(), escape(&detail));
    }
    let mut tally: Vec<(&str, usize)> = Vec::new();
    for r in results {
        let label = match &r.result {
            Fate::UpToDate if command == "verify" => "passed",
            Fate::UpToDate => "up to date",
            Fate::Changes(_) => "with changes",
            Fate::Done(_) if command == "destroy" => "destroyed",
            Fate::Done(_) => "applied",
            Fate::Skipped(_) => "skipped",
            Fate::Failed(_) => "failed",
        };
        match tally.iter_mut().find(|(l, _)| *l == label) {
            Some((_, n)) => *n += 1,
            None => tally.push((label, 1)),
        }
    }
    let tally: Vec<String> = tally.iter().map(|(label, n)| format!("{n} {label}")).collect();
    let _ = writeln!(
        text,
        "{command}: {} environment{} in {:.1}s: {}",
        results.len(),
        if results.len() == 1 { "" } else { "s" },
        wall.as_secs_f64(),
        tally.join(", ")
    );
    text
}

/// `3 to create, 1 to update`, for the summary.
fn counts(s: &Summary) -> String {
    let parts = [(s.create, "create"), (s.adopt, "adopt"), (s.update, "update"), (s.replace, "replace"), (s.delete, "delete")];
    parts.iter().filter(|(n, _)| *n > 0).map(|(n, verb)| format!("{n} {verb}")).collect::<Vec<_>>().join(", ")
}

/// The exit of a fleet run: 1 naming the environments that did not converge, else `ok`.
pub fn exit(command: &str, results: &[EnvResult], ok: ExitStatus) -> anyhow::Result<ExitStatus> {
    let failed: Vec<&str> = results.iter().filter(|r| r.failed()).map(|r| r.name.as_str()).collect();
    if failed.is_empty() {
        return Ok(ok);
    }
    Err(Reported::new(format!("{command} failed for {} of {} environments: {}", failed.len(), results.len(), failed.join(", ")))
        .hint(format!("the summary gives each one's cause; run `pinfra {command}` again with `--env {}` once fixed", failed.join(",")))
        .into())
}

/// Warns, before any call, when the environments together outgrow an account's quota.
pub fn warn_limits(path: &Path, names: &[String], out: Output) {
    let Ok(text) = std::fs::read_to_string(path) else { return };
    let plans: Vec<crate::plan::Plan> = names.iter().filter_map(|name| crate::plan::parse_env(&text, Some(name)).plan).collect();
    super::validate::warn_limits(&plans, out);
}

/// Every environment of `names` read at once, each with its session or its error.
pub async fn read_all(
    path: &Path,
    names: &[String],
    global: &GlobalArgs,
    env: &Environment,
    out: Output,
    prune: bool,
    clients: &Clients,
) -> Vec<(String, Instant, anyhow::Result<Session>)> {
    join_all(names.iter().map(|name| async move {
        let started = Instant::now();
        (name.clone(), started, session_for(path, Some(name), global, env, no_spinner(out), prune, clients).await)
    }))
    .await
}

/// `out` without a session's own spinner: many at once would draw over each other.
fn no_spinner(out: Output) -> Output {
    Output { interactive_stderr: false, ..out }
}

/// The one line that says why `error` ended an environment.
pub fn one_line(error: &anyhow::Error) -> String {
    let text = match error.downcast_ref::<Reported>() {
        Some(Reported { message, cause: Some(cause), .. }) => format!("{message}: {cause}"),
        Some(reported) => reported.message.clone(),
        None => format!("{error:#}"),
    };
    text.lines().next().unwrap_or_default().to_owned()
}

/// Progress of one environment: with `json`, one JSON object per line; on a terminal its line of
/// `board` (the resource it waits on and how many are done), else lines prefixed with its name.
pub fn progress<'a>(
    printer: Printer,
    name: &'a str,
    bar: Option<&'a indicatif::ProgressBar>,
    json: bool,
) -> impl Fn(Event<'_>) + Sync + 'a {
    move |event| {
        if json {
            let line = match event {
                Event::Started(r, action) => {
                    serde_json::json!({"env": name, "event": "started", "resource": r.to_string(), "action": action})
                }
                Event::Finished(r, action, elapsed) => serde_json::json!({
                    "env": name, "event": "finished", "resource": r.to_string(), "action": action, "seconds": elapsed.as_secs_f64(),
                }),
                Event::Failed(r, action, error) => serde_json::json!({
                    "env": name, "event": "failed", "resource": r.to_string(), "action": action, "error": error.to_string(),
                }),
                Event::Skipped(r, reason) => {
                    serde_json::json!({"env": name, "event": "skipped", "resource": r.to_string(), "reason": reason})
                }
            };
            printer.status(line);
            return;
        }
        let id = |id: &crate::engine::ResourceId| escape(&id.to_string()).into_owned();
        if let Some(bar) = bar {
            match event {
                Event::Started(r, action) => bar.set_message(format!("{} {}", action.symbol(), id(r))),
                Event::Finished(..) => bar.inc(1),
                Event::Failed(r, _, error) => bar.println(format!("  [{name}] ! {}: {}", id(r), escape(&error.to_string()))),
                Event::Skipped(..) => {}
            }
            return;
        }
        match event {
            Event::Started(r, action) => printer.status(format_args!("  [{name}] {} {}...", action.symbol(), id(r))),
            Event::Finished(r, action, elapsed) => {
                printer.status(format_args!("  [{name}] {} {} ({:.1}s)", action.symbol(), id(r), elapsed.as_secs_f64()))
            }
            Event::Failed(r, _, error) => printer.status(format_args!("  [{name}] ! {}: {}", id(r), escape(&error.to_string()))),
            Event::Skipped(r, reason) => printer.status(format_args!("  [{name}] ! {}: {}", id(r), escape(reason))),
        }
    }
}

/// Ctrl-C for a whole fleet run: the first sets `flag` (every engine starts nothing new), the
/// second ends the process.
pub struct FleetInterrupt {
    /// Set by the first Ctrl-C.
    pub flag: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl FleetInterrupt {
    /// Watches for Ctrl-C from now on.
    pub fn watch(printer: Printer) -> Self {
        let flag = Arc::new(AtomicBool::new(false));
        let f = Arc::clone(&flag);
        let task = tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                if f.swap(true, Ordering::SeqCst) {
                    printer.notice("interrupted again: stopping now; locks are left held: check, then `pinfra unlock --force`");
                    std::process::exit(130);
                }
                printer.notice("interrupted: finishing the calls in flight in every environment and starting nothing new (Ctrl-C again to stop at once)");
            }
        });
        Self { flag, task }
    }

    /// Stops watching.
    pub fn stop(self) {
        self.task.abort();
    }
}

/// What a mutating fleet command does to one environment under its lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutation {
    /// `apply`.
    Apply,
    /// `destroy`.
    Destroy,
}

impl Mutation {
    fn command(self) -> &'static str {
        match self {
            Mutation::Apply => "apply",
            Mutation::Destroy => "destroy",
        }
    }

    fn planned(self, session: &Session) -> anyhow::Result<Planned> {
        match self {
            Mutation::Apply => session.plan_checked().map(|(planned, _)| planned),
            Mutation::Destroy => session.engine.plan_destroy(&session.observed).map_err(|f| {
                crate::commands::report_failures(session.printer, "cannot destroy", f.iter().map(|(id, e)| (id, ErrorRef::Resource(e))))
            }),
        }
    }
}

/// The calls of `changes` that AWS's quotas pace the most, by (service, operation) as the SDK
/// names them: a REST API's creation, deployment and deletion, an instance's launch and
/// termination.
fn paced_calls<'a>(changes: impl IntoIterator<Item = &'a crate::engine::Change>) -> std::collections::HashMap<(String, String), usize> {
    use crate::engine::Action;
    use crate::resources::{apigateway_rest_api, ec2_instance};
    let mut calls = std::collections::HashMap::new();
    let mut add = |service: &str, operation: &str| *calls.entry((service.to_owned(), operation.to_owned())).or_insert(0) += 1;
    for change in changes {
        match (change.id.kind, change.action) {
            (apigateway_rest_api::KIND, Action::Create) => {
                ["CreateRestApi", "CreateDeployment"].iter().for_each(|op| add("API Gateway", op))
            }
            (apigateway_rest_api::KIND, Action::Replace) => {
                ["DeleteRestApi", "CreateRestApi", "CreateDeployment"].iter().for_each(|op| add("API Gateway", op));
            }
            (apigateway_rest_api::KIND, Action::Update) => add("API Gateway", "CreateDeployment"),
            (apigateway_rest_api::KIND, Action::Delete) => add("API Gateway", "DeleteRestApi"),
            (ec2_instance::KIND, Action::Create) => add("EC2", "RunInstances"),
            (ec2_instance::KIND, Action::Replace) => ["TerminateInstances", "RunInstances"].iter().for_each(|op| add("EC2", op)),
            (ec2_instance::KIND, Action::Delete) => add("EC2", "TerminateInstances"),
            _ => {}
        }
    }
    calls
}

/// What AWS's quotas allow for `changes`: the least time their paced calls take, when it is long
/// enough to matter, and which calls set it.
fn quota_eta<'a>(changes: impl IntoIterator<Item = &'a crate::engine::Change>, rates: &crate::aws::pacing::Rates) -> Option<String> {
    let calls = paced_calls(changes);
    let bound = rates.bound(&calls);
    if bound < Duration::from_secs(1) {
        return None;
    }
    let mut counts: Vec<String> = calls.iter().filter(|(_, n)| **n > 1).map(|((_, op), n)| format!("{n} {op}")).collect();
    counts.sort();
    Some(format!("AWS's quotas let these changes finish in no less than {}s ({})", bound.as_secs(), counts.join(", ")))
}

/// How a mutating fleet command was asked to run.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// `--auto-approve`: no question.
    pub auto_approve: bool,
    /// `--prune` (`apply`).
    pub prune: bool,
    /// `--json`: progress as JSON lines on stderr, diffs and results as one document on stdout.
    pub json: bool,
}

/// `--json` of `apply` or `destroy` on one environment.
pub fn json_needs_a_fleet(command: &str) -> anyhow::Error {
    Reported::new(format!("`{command} --json` reports a run over several environments"))
        .hint(format!("add `--all-envs` or `--env a,b`; for one environment, `pinfra diff --json` shows what `{command}` would change"))
        .into()
}

/// `apply` or `destroy` of several environments; see the module's header.
pub async fn mutate(
    mutation: Mutation,
    path: &Path,
    names: &[String],
    options: Options,
    global: &GlobalArgs,
    env: &Environment,
    out: Output,
) -> anyhow::Result<ExitStatus> {
    let Options { auto_approve, prune, json } = options;
    let wall = Instant::now();
    let command = mutation.command();
    let clients = Clients::default();
    warn_limits(path, names, out);
    let read = read_all(path, names, global, env, out, prune, &clients).await;
    let style = Style { color: out.color_stdout, show_unchanged: false };
    let mut shown = Vec::new();
    let mut diffs = Vec::new();
    let mut to_change = 0;
    for (name, started, session) in read {
        let planned = session.and_then(|s| mutation.planned(&s).map(|p| (s, p)));
        if json {
            diffs.push(json_diff(&name, planned.as_ref().map(|(s, p)| (s, p))));
        } else {
            out.printer.data(format_args!("== environment {name}\n"))?;
            match &planned {
                Ok((_, planned)) => out.printer.data(render::text(planned, style))?,
                Err(error) => out.printer.data(format_args!("(failed: {})\n", escape(&one_line(error))))?,
            }
            out.printer.data("\n")?;
        }
        if let Ok((_, planned)) = &planned {
            to_change += usize::from(Summary::of(&planned.changes).has_changes());
        }
        shown.push((name, started, planned));
    }
    if to_change > 0 {
        // The rates of the plan's `[pacing]` (one for the run: docs/plan.md says to give it in the
        // base plan), then `--rate`.
        let pacing = shown.iter().find_map(|(_, _, p)| p.as_ref().ok().map(|(s, _)| s.plan.pacing.clone())).unwrap_or_default();
        let rates = crate::settings::rates(global, env, &pacing);
        let planned = shown.iter().filter_map(|(_, _, p)| p.as_ref().ok()).flat_map(|(_, p)| &p.changes);
        if let Some(line) = quota_eta(planned, &rates) {
            if json {
                out.printer.status(serde_json::json!({"event": "note", "message": line}));
            } else {
                out.printer.status(line);
            }
        }
        let question = format!(
            "{} {to_change} environment{}?",
            if mutation == Mutation::Apply { "Apply these changes to" } else { "Delete these resources of" },
            if to_change == 1 { "" } else { "s" }
        );
        if !confirm(&question, auto_approve, out)? {
            out.printer.notice(format_args!("{command} cancelled; nothing was changed."));
            return Ok(ExitStatus::Failure);
        }
    }
    let interrupt = FleetInterrupt::watch(out.printer);
    let board = (out.interactive_stderr && !json).then(indicatif::MultiProgress::new);
    let report = Report { json, board: board.as_ref() };
    let mut results = round(mutation, shown, auto_approve, env, out, &interrupt.flag, report).await;
    if mutation == Mutation::Destroy && results.iter().any(|(r, _)| matches!(r.result, Fate::Done(_))) {
        // What one environment kept for another's sake (the S3 endpoint their connectors
        // shared) may be free now that the other is gone: those are read and destroyed again.
        let again: Vec<String> = results.iter().filter(|(r, kept)| *kept && !r.failed()).map(|(r, _)| r.name.clone()).collect();
        if !again.is_empty() && !interrupt.flag.load(Ordering::SeqCst) {
            clients.new_round().await;
            let read = read_all(path, &again, global, env, out, false, &clients).await;
            let planned = read.into_iter().map(|(name, started, session)| {
                let planned = session.and_then(|s| mutation.planned(&s).map(|p| (s, p)));
                (name, started, planned)
            });
            // Approved already: the user asked for these environments to be destroyed whole.
            for (second, _) in round(mutation, planned.collect(), true, env, out, &interrupt.flag, report).await {
                let Some((first, _)) = results.iter_mut().find(|(r, _)| r.name == second.name) else { continue };
                first.elapsed += second.elapsed;
                match (&mut first.result, second.result) {
                    (_, Fate::UpToDate) => {}
                    (Fate::Done(total), Fate::Done(more)) => total.delete += more.delete,
                    (first, other) => *first = other,
                }
            }
        }
    }
    interrupt.stop();
    let results: Vec<EnvResult> = results.into_iter().map(|(r, _)| r).collect();
    if json {
        let document = serde_json::json!({
            "command": command,
            "seconds": wall.elapsed().as_secs_f64(),
            "environments": results.iter().map(|r| json_result(command, r)).collect::<Vec<_>>(),
            "diffs": diffs,
        });
        out.printer.data(format_args!("{}\n", serde_json::to_string_pretty(&document).unwrap_or_default()))?;
    } else {
        out.printer.data(summary(command, &results, wall.elapsed()))?;
    }
    exit(command, &results, ExitStatus::Success)
}

/// One environment's diff for a JSON document: its name and [diff-json.md](../../docs/diff-json.md)'s
/// document, or why it has none.
pub fn json_diff(name: &str, planned: Result<(&Session, &Planned), &anyhow::Error>) -> serde_json::Value {
    match planned {
        Ok((session, planned)) => serde_json::json!({
            "name": name,
            "diff": render::json_document(planned, &session.plan.environment.name, &session.plan.environment.region),
        }),
        Err(error) => serde_json::json!({"name": name, "error": one_line(error)}),
    }
}

/// One environment's line of the summary, as JSON.
pub fn json_result(command: &str, r: &EnvResult) -> serde_json::Value {
    let (result, changes, detail) = match &r.result {
        Fate::UpToDate if command == "verify" => ("passed", None, None),
        Fate::UpToDate => ("up-to-date", None, None),
        Fate::Changes(s) => ("changes", Some(s), None),
        Fate::Done(s) => (if command == "destroy" { "destroyed" } else { "applied" }, Some(s), None),
        Fate::Skipped(why) => ("skipped", None, Some(why)),
        Fate::Failed(why) => ("failed", None, Some(why)),
    };
    serde_json::json!({"name": r.name, "result": result, "seconds": r.elapsed.as_secs_f64(), "changes": changes, "detail": detail})
}

/// How a round reports progress: JSON lines, a board of bars on a terminal, or plain lines.
#[derive(Clone, Copy)]
struct Report<'a> {
    json: bool,
    board: Option<&'a indicatif::MultiProgress>,
}

/// A shown environment: its session and plan, or why it has none.
type Shown = (String, Instant, anyhow::Result<(Session, Planned)>);

/// Every environment of `shown` changed at once, each under its lock; with each result, whether
/// something was left alone in it.
async fn round(
    mutation: Mutation,
    shown: Vec<Shown>,
    auto_approve: bool,
    env: &Environment,
    out: Output,
    flag: &AtomicBool,
    report: Report<'_>,
) -> Vec<(EnvResult, bool)> {
    let board = report.board;
    let style = indicatif::ProgressStyle::with_template("  {prefix:<14} {bar:16} {pos:>2}/{len:<2} {elapsed:>4} {wide_msg}{turn}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    join_all(shown.into_iter().map(|(name, started, planned)| {
        let style = style.clone();
        async move {
            let kept = planned.as_ref().is_ok_and(|(_, p)| !p.skipped.is_empty());
            let result = match planned {
                Err(error) => Fate::Failed(one_line(&error)),
                Ok((_, planned)) if !Summary::of(&planned.changes).has_changes() => Fate::UpToDate,
                Ok((session, planned)) => {
                    let text = render::text(&planned, Style { color: false, show_unchanged: false });
                    let changes = planned.changes.iter().filter(|c| c.action != crate::engine::Action::NoOp).count();
                    let turn = Turn::default();
                    let bar = board.map(|b| {
                        let style = style.with_key("turn", turn.key());
                        let bar = indicatif::ProgressBar::new(changes as u64).with_style(style).with_prefix(name.clone());
                        b.add(bar)
                    });
                    if let Some(bar) = &bar {
                        bar.set_message("waiting for the lock");
                        bar.enable_steady_tick(Duration::from_millis(200));
                    }
                    let waits = turn.report(out.printer, &name, report.json, bar.is_some());
                    let run = locked(mutation, session, &name, &text, auto_approve, env, out, flag, bar.as_ref(), report.json);
                    let result = match crate::aws::pacing::reporting_waits(waits, run).await {
                        Ok(result) => result,
                        Err(error) => Fate::Failed(one_line(&error)),
                    };
                    if let Some(bar) = bar {
                        bar.finish_with_message(match &result {
                            Fate::Done(_) => "done".to_owned(),
                            Fate::Failed(why) => format!("FAILED: {why}"),
                            Fate::Skipped(why) => format!("skipped: {why}"),
                            Fate::UpToDate | Fate::Changes(_) => String::new(),
                        });
                    }
                    result
                }
            };
            (EnvResult { name, result, elapsed: started.elapsed() }, kept)
        }
    }))
    .await
}

/// The quota one environment's call waits on and when its turn comes (`pacing::Pacer::wait`):
/// the ETA its line shows.
#[derive(Clone, Default)]
struct Turn(Arc<std::sync::Mutex<Option<(String, Instant)>>>);

impl Turn {
    /// The `{turn}` key of a board's line: ` · CreateRestApi's quota: its turn in 12s` while a
    /// call waits.
    fn key(&self) -> impl Fn(&indicatif::ProgressState, &mut dyn std::fmt::Write) + Send + Sync + Clone + 'static {
        let turn = self.clone();
        move |_, w| {
            let _ = w.write_str(&turn.text());
        }
    }

    /// The line's `{turn}` now.
    fn text(&self) -> String {
        let guard = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some((operation, at)) = &*guard else { return String::new() };
        let left = at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return String::new();
        }
        format!(" · {operation}'s quota: its turn in {}s", left.as_secs_f64().ceil())
    }

    /// Who hears of the environment's paced waits: its line on a board, else one JSON object
    /// per wait, else a plain line for each wait of a second or more.
    fn report(&self, printer: Printer, name: &str, json: bool, board: bool) -> crate::aws::pacing::WaitReport {
        let (turn, name) = (self.clone(), name.to_owned());
        Arc::new(move |operation: &str, wait: Duration| {
            if json {
                printer.status(serde_json::json!({"env": name, "event": "paced", "operation": operation, "seconds": wait.as_secs_f64()}));
            } else if board {
                *turn.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some((operation.to_owned(), Instant::now() + wait));
            } else if wait >= Duration::from_secs(1) {
                printer.status(format_args!("  [{name}] {operation} waits its turn under AWS's quota: {:.0}s", wait.as_secs_f64()));
            }
        })
    }
}

/// One environment under its lock: read again, check against what was shown, change.
#[allow(clippy::too_many_arguments)]
async fn locked(
    mutation: Mutation,
    session: Session,
    name: &str,
    shown: &str,
    auto_approve: bool,
    env: &Environment,
    out: Output,
    flag: &AtomicBool,
    bar: Option<&indicatif::ProgressBar>,
    json: bool,
) -> anyhow::Result<Fate> {
    if flag.load(Ordering::SeqCst) {
        return Ok(Fate::Skipped("interrupted before it started".to_owned()));
    }
    let lock = take_lock(&session, mutation.command(), env).await?;
    let aws = session.aws.clone();
    let result = async {
        if let Some(bar) = bar {
            bar.set_message("reading again under the lock");
        }
        let session = session.refresh(no_spinner(out)).await?;
        let planned = mutation.planned(&session)?;
        let now = render::text(&planned, Style { color: false, show_unchanged: false });
        if now != shown && !auto_approve {
            return Ok(Fate::Skipped("its changes differ from those shown (something changed meanwhile); run again".to_owned()));
        }
        let sink = progress(out.printer, name, bar, json);
        let outcome = match mutation {
            Mutation::Apply => session.engine.apply(&session.aws, &session.observed, &sink, flag).await,
            Mutation::Destroy => session.engine.destroy(&session.aws, &session.observed, &planned, &sink, flag).await,
        };
        let not_started = outcome.results.iter().filter(|(_, o)| matches!(o, NodeOutcome::Skipped { .. })).count();
        if let Some((id, error)) = outcome.failures().next() {
            let count = outcome.failures().count();
            let more = if count > 1 { format!(" (and {} more)", count - 1) } else { String::new() };
            return Ok(Fate::Failed(format!("{id}: {}{more}", error.to_string().lines().next().unwrap_or_default())));
        }
        if not_started > 0 {
            return Ok(Fate::Skipped(format!("interrupted: {not_started} resource(s) not started")));
        }
        Ok(Fate::Done(Summary::of(&planned.changes)))
    }
    .await;
    if let Err(error) = lock.release(&aws).await {
        out.printer.warning_with_hint(format_args!("[{name}] the lock could not be released: {error}"), error.hint().as_deref());
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Action, Change, ResourceId};

    fn change(kind: &'static str, name: &str, action: Action) -> Change {
        Change { id: ResourceId::new(kind, name), action, fields: Vec::new(), note: None }
    }

    #[test]
    fn the_eta_is_the_quota_bound_of_the_paced_calls() {
        use crate::resources::{apigateway_rest_api, ec2_instance, s3_bucket};
        let rates = crate::aws::pacing::Rates::new(&[], 1.0);
        let creates: Vec<Change> = (0..50)
            .flat_map(|i| {
                [
                    change(apigateway_rest_api::KIND, &format!("{i}-api"), Action::Create),
                    change(ec2_instance::KIND, &format!("{i}-client"), Action::Create),
                    change(s3_bucket::KIND, &format!("{i}-bucket"), Action::Create),
                ]
            })
            .collect();
        // 50 deployments, one every 5 s after the first.
        assert_eq!(
            quota_eta(&creates, &rates).as_deref(),
            Some("AWS's quotas let these changes finish in no less than 245s (50 CreateDeployment, 50 CreateRestApi, 50 RunInstances)")
        );
        let deletes: Vec<Change> = (0..3).map(|i| change(apigateway_rest_api::KIND, &format!("{i}-api"), Action::Delete)).collect();
        assert_eq!(
            quota_eta(&deletes, &rates).as_deref(),
            Some("AWS's quotas let these changes finish in no less than 60s (3 DeleteRestApi)")
        );
        // One environment's changes: nothing worth saying.
        assert_eq!(quota_eta(&creates[..3], &rates), None);
    }

    #[test]
    fn a_line_shows_the_quota_its_call_waits_on_until_its_turn() {
        let turn = Turn::default();
        let report = turn.report(Printer::new(false), "dev", false, true);
        assert_eq!(turn.text(), "");
        report("CreateDeployment", Duration::from_secs(12));
        assert_eq!(turn.text(), " · CreateDeployment's quota: its turn in 12s");
        report("CreateRestApi", Duration::ZERO);
        assert_eq!(turn.text(), "", "its turn has come");
    }
}
