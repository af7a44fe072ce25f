//! One module per subcommand. A command loads the plan, calls the engine, and prints: data on
//! stdout, everything else on stderr.

mod apply;
mod destroy;
mod diff;
mod fleet;
mod import;
mod init;
mod output;
mod render;
mod saved;
mod schema;
mod shell;
mod unlock;
mod validate;
mod verify;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::artifact::{self, Artifact};
use crate::aws::{Aws, AwsError};
use crate::cli::{Cli, Command, GlobalArgs};
use crate::diagnostics::SourceFile;
use crate::engine::{Engine, Event, Observed, Planned, ResourceError, ResourceId};
use crate::plan::{self, Plan};
use crate::printer::Printer;
use crate::resources;
use crate::resources::network_check::NetworkCheck;
use crate::settings::{self, Environment, Output};
use crate::terminal::escape;

/// How a command ended; the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Success; for `diff`, no changes.
    Success,
    /// Something failed.
    Failure,
    /// `diff` found changes.
    Changes,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        match status {
            ExitStatus::Success => ExitCode::from(0),
            ExitStatus::Failure => ExitCode::from(1),
            ExitStatus::Changes => ExitCode::from(2),
        }
    }
}

/// The error that ends a command, said in full: `main` prints it with its hint, through the
/// printer.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Reported {
    /// What went wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// The first cause, in one line, when the message only counts them (a fleet's summary
    /// names it).
    pub cause: Option<String>,
}

impl Reported {
    /// An error without a hint.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), hint: None, cause: None }
    }

    /// With a hint.
    #[must_use]
    pub fn hint(self, hint: impl Into<String>) -> Self {
        Self { hint: Some(hint.into()), ..self }
    }

    /// With a hint, if there is one.
    #[must_use]
    pub fn maybe_hint(self, hint: Option<String>) -> Self {
        Self { hint, ..self }
    }
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    let env = Environment::capture();
    let out = settings::output(&cli.global, &env);
    if !out.printer.is_quiet() {
        crate::retry::report_waits_with(|line| Printer::new(false).status(format_args!("  ... {}", escape(line))));
    }
    match &cli.command {
        Command::Validate(args) => validate::run(args, &cli.global, &env, out),
        Command::Schema => schema::run(out),
        Command::Init(args) => init::run(args, &cli.global, &env, out),
        Command::Import(args) => import::run(args, &cli.global, &env, out).await,
        Command::Diff(args) => diff::run(args, &cli.global, &env, out).await,
        Command::Apply(args) => apply::run(args, &cli.global, &env, out).await,
        Command::Destroy(args) => destroy::run(args, &cli.global, &env, out).await,
        Command::Output(args) => output::run(args, &cli.global, &env, out).await,
        Command::Render(args) => render::run(args, &cli.global, &env, out).await,
        Command::Verify(args) => verify::run(args, &cli.global, &env, out).await,
        Command::Unlock(args) => unlock::run(args, &cli.global, &env, out).await,
        Command::Completions(args) => shell::completions(args.shell, out),
        Command::Man(args) => shell::man(args, out),
    }
}

/// Reads and checks a plan, printing its diagnostics to stderr. `Err` if it has errors.
pub fn load_plan(path: &Path, env: Option<&str>, out: Output) -> anyhow::Result<Plan> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read plan `{}`", path.display()))?;
    let parsed = plan::parse_env(&text, env);
    let name = match env {
        Some(env) => format!("{} (environment {env})", path.display()),
        None => path.display().to_string(),
    };
    let source = SourceFile { name: &name, text: &text };
    // The environments of a fleet share most of the file: a finding in the shared part is shown
    // once per run, not once per environment.
    static SHOWN: std::sync::Mutex<Vec<(String, Option<std::ops::Range<usize>>)>> = std::sync::Mutex::new(Vec::new());
    let new = parsed.diagnostics.filtered(|d| {
        let key = (d.message.clone(), d.span.clone());
        let mut shown = SHOWN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if shown.contains(&key) {
            return false;
        }
        shown.push(key);
        true
    });
    if !new.is_empty() && (!out.printer.is_quiet() || new.has_errors()) {
        source.emit(&new, out.color_stderr);
    }
    match parsed.plan {
        Some(plan) => Ok(plan),
        None => {
            let n = parsed.diagnostics.error_count();
            Err(Reported::new(format!("{name}: {n} error{} in the plan; nothing was sent to AWS", if n == 1 { "" } else { "s" })).into())
        }
    }
}

/// Finds and checks the plan's plugin zip (with `[connect]`): a local file must exist and be a
/// connector zip. A problem is reported like a plan error, at the plan's `source` key.
pub fn load_artifact(path: &Path, plan: &Plan, env: &Environment, out: Output) -> anyhow::Result<Option<Arc<Artifact>>> {
    let Some(connect) = &plan.connect else { return Ok(None) };
    let plan_dir = path.parent().map_or_else(|| Path::new(".").to_owned(), Path::to_owned);
    let class = connect.connector.config.get("connector.class").map(String::as_str);
    // A fleet's environments name one zip: it is read, checked and hashed once per run.
    static RESOLVED: std::sync::Mutex<Vec<(String, Arc<Artifact>)>> = std::sync::Mutex::new(Vec::new());
    let key = format!("{:?} {class:?} {}", connect.plugin.source, plan_dir.display());
    let resolved = || RESOLVED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, artifact)) = resolved().iter().find(|(k, _)| *k == key) {
        return Ok(Some(Arc::clone(artifact)));
    }
    match artifact::resolve(&connect.plugin, &plan_dir, &env.cache_dir, class) {
        Ok(found) => {
            let found = found.map(Arc::new);
            if let Some(artifact) = &found {
                resolved().push((key, Arc::clone(artifact)));
            }
            Ok(found)
        }
        Err(error) => {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let name = path.display().to_string();
            let mut diagnostics = crate::diagnostics::Diagnostics::default();
            diagnostics.push(
                crate::diagnostics::Diagnostic::error(error.to_string(), Some(connect.plugin.source_span.clone()))
                    .with_label("the connector's plugin")
                    .with_hint(error.hint()),
            );
            SourceFile { name: &name, text: &text }.emit(&diagnostics, out.color_stderr);
            Err(Reported::new(format!("{name}: the plugin zip cannot be used; nothing was sent to AWS")).into())
        }
    }
}

/// Everything a command that talks to AWS needs: the plan, clients, the engine and what was
/// observed.
pub struct Session {
    /// The plan.
    pub plan: Arc<Plan>,
    /// The clients.
    pub aws: Aws,
    /// The plan's resources.
    pub engine: Engine,
    /// What AWS has now.
    pub observed: Observed,
    /// What was found once for the run (the cluster, its topics, its network).
    pub discovery: Arc<resources::Discovery>,
    /// How the plan was loaded, to observe again.
    loaded: Loaded,
    /// Where its text goes.
    pub printer: Printer,
}

/// How many AWS reads or writes run at once.
const CONCURRENCY: usize = 8;

/// Loads the plan, connects and observes every resource.
pub async fn session(path: &Path, global: &GlobalArgs, env: &Environment, out: Output, prune: bool) -> anyhow::Result<Session> {
    session_for(path, global.env.as_deref(), global, env, out, prune, &Clients::default()).await
}

/// The AWS clients of a run, one set per Region, shared by every environment of a fleet: one
/// connection pool per service, one place that paces calls, and the round's shared reads.
#[derive(Default)]
pub struct Clients(tokio::sync::Mutex<std::collections::HashMap<String, Aws>>);

impl Clients {
    /// The clients for `settings`' Region, built on first use.
    pub async fn get(&self, settings: &crate::aws::AwsSettings) -> anyhow::Result<Aws> {
        let mut built = self.0.lock().await;
        if let Some(aws) = built.get(&settings.region) {
            return Ok(aws.clone());
        }
        let aws = connect(settings).await?;
        built.insert(settings.region.clone(), aws.clone());
        Ok(aws)
    }

    /// Starts a new round of reads: the same clients (and pacer), none of the reads shared so
    /// far (`aws::shared`).
    pub async fn new_round(&self) {
        for aws in self.0.lock().await.values_mut() {
            *aws = aws.fresh();
        }
    }
}

/// [`session`] for the plan's environment `plan_env` (`None`: the base one), with the run's
/// `clients`.
pub async fn session_for(
    path: &Path,
    plan_env: Option<&str>,
    global: &GlobalArgs,
    env: &Environment,
    out: Output,
    prune: bool,
    clients: &Clients,
) -> anyhow::Result<Session> {
    let plan = load_plan(path, plan_env, out)?;
    let artifact = load_artifact(path, &plan, env, out)?;
    let templates = Arc::new(load_templates(global, out)?);
    let (mut aws_settings, warning) = settings::aws(global, env, &plan.environment.region)?;
    if let Some(warning) = warning {
        out.printer.warning(warning);
    }
    // A fleet's clients, and so its pacer, are one per Region: the first environment read there
    // sets its rates.
    aws_settings.rates = settings::rates(global, env, &plan.pacing);
    let aws = clients.get(&aws_settings).await?;
    let options = resources::Options { prune, poll: aws_settings.poll };
    Session::observe(Arc::new(plan), aws, Loaded { artifact, templates, options }, out).await
}

/// The templates, with `--templates`'s overrides; warns about files in it that match none.
pub fn load_templates(global: &GlobalArgs, out: Output) -> anyhow::Result<crate::render::Templates> {
    let templates = crate::render::Templates::load(global.templates.as_deref())
        .map_err(|error| Reported::new(error.to_string()).maybe_hint(error.hint()))?;
    for warning in &templates.warnings {
        out.printer.warning(warning);
    }
    Ok(templates)
}

/// Builds the clients; an unknown profile ends the command with a hint.
pub async fn connect(settings: &crate::aws::AwsSettings) -> anyhow::Result<Aws> {
    Aws::connect(settings).await.map_err(|error| Reported::new(error.to_string()).hint(error.hint()).into())
}

/// What a session keeps of the plan's loading, to observe again (under the lock).
#[derive(Clone)]
pub struct Loaded {
    artifact: Option<Arc<Artifact>>,
    templates: Arc<crate::render::Templates>,
    options: resources::Options,
}

impl Session {
    /// Discovers and observes every resource of `plan`.
    async fn observe(plan: Arc<Plan>, aws: Aws, loaded: Loaded, out: Output) -> anyhow::Result<Session> {
        let spinner = spinner(out, format!("reading the resources of environment {}", plan.environment.name));
        let discovery = match resources::discover(&aws, &plan).await {
            Ok(discovery) => Arc::new(discovery),
            Err(error) => {
                spinner.finish_and_clear();
                let id = ResourceId::new(resources::msk_cluster::KIND, plan.msk.cluster.name());
                return Err(observe_failure(&aws, out.printer, vec![(id, error)]));
            }
        };
        let context = resources::Context {
            discovery: Arc::clone(&discovery),
            templates: Arc::clone(&loaded.templates),
            options: loaded.options,
            artifact: loaded.artifact.clone(),
            endpoint: aws.endpoint.clone(),
        };
        let engine = Engine::new(resources::for_plan(&plan, &context), resources::ownership(&plan), CONCURRENCY)?;
        let observed = engine.observe(&aws).await;
        spinner.finish_and_clear();
        let observed = observed.map_err(|failures| observe_failure(&aws, out.printer, failures))?;
        Ok(Session { plan, aws, engine, observed, discovery, loaded, printer: out.printer })
    }

    /// The diff, and the network's paths after it; every refusal is printed and ends the
    /// command, a path that apply cannot open included (`docs/network.md`).
    pub fn plan_checked(&self) -> anyhow::Result<(Planned, Option<NetworkCheck>)> {
        let planned = self
            .engine
            .plan(&self.observed)
            .map_err(|failures| report_failures(self.printer, "cannot diff", failures.iter().map(|(id, e)| (id, ErrorRef::Resource(e)))))?;
        let network = self.network_check(Some(&planned));
        if let Some(network) = &network {
            let blocked: Vec<_> = network.blocked().collect();
            for (path, why) in &blocked {
                let message = format!("network path {} (TCP {}) stays blocked: {}", path.path.name(), path.port, why.reason);
                self.printer.error(message, Some(&why.hint));
            }
            if !blocked.is_empty() {
                return Err(Reported::new(format!(
                    "cannot diff: {} network path{} of the pipeline cannot be opened by apply",
                    blocked.len(),
                    if blocked.len() == 1 { "" } else { "s" }
                ))
                .into());
            }
        }
        Ok((planned, network))
    }

    /// The pipeline's paths now and after `planned` (`None`: as if the instance stays).
    pub fn network_check(&self, planned: Option<&Planned>) -> Option<NetworkCheck> {
        let instance = ResourceId::new(resources::ec2_instance::KIND, &self.plan.kafka_client.instance_name);
        let relaunched = planned.is_some_and(|p| {
            p.changes.iter().any(|c| c.id == instance && matches!(c.action, crate::engine::Action::Create | crate::engine::Action::Replace))
        });
        resources::network_check::check_network(&self.plan, &self.discovery, &self.observed.outputs(), relaunched)
    }

    /// Reads everything again: discovery and every resource (after the lock was taken, so that
    /// what is applied is what is there now).
    pub async fn refresh(self, out: Output) -> anyhow::Result<Session> {
        Session::observe(self.plan, self.aws.fresh(), self.loaded, out).await
    }
}

/// Ctrl-C while a command holds the environment's lock. Before the changes start, it releases
/// the lock and ends the command (nothing was changed); while they run, the first one lets the
/// calls in flight finish and starts nothing new (`flag`), a second one ends the process at once
/// (the lock is then left, and said so).
pub struct Interrupt {
    /// Set by the first Ctrl-C while changing.
    pub flag: Arc<std::sync::atomic::AtomicBool>,
    changing: Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Interrupt {
    /// Watches for Ctrl-C from now on, for `lock` (released only if it is still this run's).
    pub fn watch(aws: Aws, lock: &crate::lock::Lock, printer: Printer) -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        let (at, etag) = (lock.at.clone(), lock.etag());
        let flag = Arc::new(AtomicBool::new(false));
        let changing = Arc::new(AtomicBool::new(false));
        let (f, c) = (Arc::clone(&flag), Arc::clone(&changing));
        let task = tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                if !c.load(Ordering::SeqCst) {
                    let released = crate::lock::remove_if_ours(&aws, &at, etag.as_deref()).await.is_ok();
                    printer.notice(format_args!(
                        "interrupted: nothing was changed{}",
                        if released { "; the lock is released" } else { "; the lock could not be released: `pinfra unlock --force`" }
                    ));
                    std::process::exit(130);
                }
                if f.swap(true, Ordering::SeqCst) {
                    printer.notice("interrupted again: stopping now; the lock is left held: check, then `pinfra unlock --force`");
                    std::process::exit(130);
                }
                printer.notice("interrupted: finishing the calls in flight and starting nothing new (Ctrl-C again to stop at once)");
            }
        });
        Self { flag, changing, task }
    }

    /// The changes start: from now on Ctrl-C lets the calls in flight finish.
    pub fn changing(&self) {
        self.changing.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether Ctrl-C was pressed while changing.
    pub fn interrupted(&self) -> bool {
        self.flag.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Stops watching (before the lock is released).
    pub fn stop(self) {
        self.task.abort();
    }
}

/// Takes the environment's lock for a mutating command, or reports who holds it.
pub async fn take_lock(session: &Session, command: &str, env: &Environment) -> anyhow::Result<crate::lock::Lock> {
    let at = crate::lock::LockRef::find(&session.aws, &session.plan)
        .await
        .map_err(|e| Reported::new(format!("cannot find the account for the lock: {e}")).maybe_hint(e.hint()))?;
    let holder = crate::lock::whoami(command, env.user.as_deref(), env.host.as_deref());
    crate::lock::acquire(&session.aws, &at, &holder).await.map_err(|error| Reported::new(error.to_string()).maybe_hint(error.hint()).into())
}

/// Reports failed reads: once, if they share an environmental cause; else one by one.
fn observe_failure(aws: &Aws, printer: Printer, failures: Vec<(ResourceId, AwsError)>) -> anyhow::Error {
    match environmental(&failures) {
        Some(error) => {
            let endpoint = match (error, aws.endpoint.as_deref()) {
                (AwsError::Unreachable { .. }, Some(url)) => format!(" (endpoint {url})"),
                _ => String::new(),
            };
            Reported::new(format!("{}{endpoint}", error.summary())).maybe_hint(error.hint()).into()
        }
        None => report_failures(printer, "cannot read the current state", failures.iter().map(|(id, e)| (id, ErrorRef::Aws(e)))),
    }
}

/// The one cause behind every failure, when they all share an environmental one (no
/// credentials, endpoint unreachable): that is one problem, reported once.
fn environmental(failures: &[(ResourceId, AwsError)]) -> Option<&AwsError> {
    let first = &failures.first()?.1;
    let same = failures.iter().all(|(_, e)| e.is_environmental() && std::mem::discriminant(e) == std::mem::discriminant(first));
    same.then_some(first)
}

/// A spinner on stderr when it is a terminal; hidden otherwise.
pub fn spinner(out: Output, message: String) -> indicatif::ProgressBar {
    if !out.interactive_stderr {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner().with_message(message);
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// Either error type a resource can report.
pub enum ErrorRef<'a> {
    /// From observation.
    Aws(&'a AwsError),
    /// From planning or applying.
    Resource(&'a ResourceError),
}

/// Prints every failure with its hint to stderr and returns the error that ends the command.
pub fn report_failures<'a>(
    printer: Printer,
    what: &str,
    failures: impl IntoIterator<Item = (&'a ResourceId, ErrorRef<'a>)>,
) -> anyhow::Error {
    let mut count = 0;
    let mut first = None;
    for (id, error) in failures {
        count += 1;
        let (message, hint) = match error {
            ErrorRef::Aws(e) => (e.to_string(), e.hint()),
            ErrorRef::Resource(e) => (e.to_string(), e.hint()),
        };
        let line = format!("{id}: {}", message.lines().next().unwrap_or_default());
        first.get_or_insert(line);
        printer.error(format_args!("{}: {message}", escape(&id.to_string())), hint.as_deref());
    }
    let mut reported = Reported::new(format!("{what}: {count} resource{} failed", if count == 1 { "" } else { "s" }));
    reported.cause = first;
    reported.into()
}

/// Prints engine progress as lines on stderr.
pub fn progress_printer(out: Output) -> impl Fn(Event<'_>) + Sync {
    let printer = out.printer;
    move |event| {
        // One line per event: names and AWS's messages are escaped, line breaks included.
        match event {
            Event::Started(id, action) => {
                printer.status(format_args!("  {} {}: {}...", action.symbol(), escape(&id.to_string()), verb(action, false)))
            }
            Event::Finished(id, action, elapsed) => printer.status(format_args!(
                "  {} {}: {} ({:.1}s)",
                action.symbol(),
                escape(&id.to_string()),
                verb(action, true),
                elapsed.as_secs_f64()
            )),
            Event::Failed(id, action, error) => printer.status(format_args!(
                "  ! {}: {} failed: {}",
                escape(&id.to_string()),
                verb(action, false),
                escape(&error.to_string())
            )),
            Event::Skipped(id, reason) => printer.status(format_args!("  ! {}: {}", escape(&id.to_string()), escape(reason))),
        }
    }
}

fn verb(action: crate::engine::Action, done: bool) -> &'static str {
    use crate::engine::Action;
    match (action, done) {
        (Action::Create, false) => "creating",
        (Action::Create, true) => "created",
        (Action::Adopt, false) => "adopting",
        (Action::Adopt, true) => "adopted",
        (Action::Update, false) => "updating",
        (Action::Update, true) => "updated",
        (Action::Replace, false) => "replacing",
        (Action::Replace, true) => "replaced",
        (Action::Delete, false) => "deleting",
        (Action::Delete, true) => "deleted",
        (Action::NoOp, _) => "checked",
    }
}

/// Says whose account and credentials a mutating command acts with, before it asks (also under
/// `-q` when it asks; `account` is the lock's, from GetCallerIdentity).
pub fn acting_as(account: &str, aws: &Aws, auto_approve: bool, out: Output) {
    let line = format_args!("Acting as account {account} (credentials: {})", aws.credentials);
    if auto_approve { out.printer.status(line) } else { out.printer.notice(line) }
}

/// Asks for confirmation on a terminal; without one, `--auto-approve` is required.
pub fn confirm(question: &str, auto_approve: bool, out: Output) -> anyhow::Result<bool> {
    if auto_approve {
        return Ok(true);
    }
    if !out.interactive_stdin {
        return Err(Reported::new("stdin is not a terminal, so pinfra cannot ask for confirmation")
            .hint("review `pinfra diff`, then pass --auto-approve")
            .into());
    }
    out.printer.prompt(format_args!("{question} Only 'yes' is accepted: "));
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

/// Appends the page `markdown` makes to the GitHub Actions step summary, when
/// `GITHUB_STEP_SUMMARY` names one (only then is the page made). A summary that cannot be
/// written is a warning: the command's own work is done.
pub fn step_summary(env: &Environment, markdown: impl FnOnce() -> String, out: Output) {
    let Some(path) = &env.step_summary else { return };
    let markdown = markdown();
    let written = std::fs::OpenOptions::new().create(true).append(true).open(path).and_then(|mut file| {
        let end = if markdown.ends_with('\n') { "" } else { "\n" };
        std::io::Write::write_all(&mut file, format!("{markdown}{end}").as_bytes())
    });
    if let Err(error) = written {
        out.printer.warning(format_args!("cannot add to the step summary `{}` (GITHUB_STEP_SUMMARY): {error}", path.display()));
    }
}
