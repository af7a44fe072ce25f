//! The command line: flags and subcommands, parsed by clap. Nothing here does work; see
//! [`crate::commands`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `0.1.0 (3f2a9c1d0b7e)`: the version and the commit it was built from (`build.rs`).
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("PINFRA_COMMIT"), ")");

/// Provision the AWS side of a Kafka-to-S3 streaming pipeline from one TOML plan.
#[derive(Debug, Parser)]
#[command(name = "pinfra", version = VERSION, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Named profile from the shared AWS config files; it wins over keys in the environment
    /// (AWS_ACCESS_KEY_ID). Without it: those keys, else AWS_PROFILE, else the `default` profile.
    /// A profile the files do not define is an error.
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// Region check: must match the plan's `[environment] region` when given.
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// Custom endpoint for every AWS service (the local sandbox). Also read from
    /// AWS_ENDPOINT_URL; per-service AWS_ENDPOINT_URL_<SERVICE> variables are honoured too.
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// More logging on stderr (-v info, -vv debug, -vvv trace). PINFRA_LOG takes a tracing filter.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// How long to wait, in seconds, for AWS to finish an asynchronous change (a topic becoming
    /// ACTIVE) before giving up.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 1800, value_parser = positive_seconds)]
    pub timeout: u64,
    /// Templates that override the embedded ones, by file name (`client.properties.j2`,
    /// `kafka-rest.properties.j2`, `user-data.sh.j2`); used by `render` and for the instance's
    /// user-data alike.
    #[arg(long, global = true, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// The plan's environment to work on: its base environment by default, or one of its
    /// `[environments.<name>]` or `[cohort]` user ids. Several, comma-separated (`a,b,c`), for
    /// `diff`, `apply`, `destroy`, `verify` and `output`. Also read from PINFRA_ENV.
    #[arg(long = "env", global = true, env = "PINFRA_ENV", value_name = "NAME")]
    pub env: Option<String>,
    /// Pace calls of an operation at another rate than AWS's documented quota (an account with
    /// raised quotas): `SERVICE:OPERATION=COUNT/SECONDS`, such as
    /// `apigateway:CreateRestApi=1/1`; `SERVICE:*` is the service-wide bucket; `=off` removes
    /// the pacing. Repeatable.
    #[arg(long = "rate", global = true, value_name = "KEY=COUNT/SECONDS", value_parser = rate_override)]
    pub rates: Vec<(String, Option<crate::aws::pacing::Rate>)>,
    /// When to use colour. NO_COLOR is honoured.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// When to use colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a new, commented plan (asks on a terminal; flags alone work in scripts).
    Init(InitArgs),
    /// Write a plan that reproduces a pipeline built by hand (found by the seed's names), and
    /// list every live value it keeps. Reads only; the next apply adopts what it found.
    Import(ImportArgs),
    /// Check a plan without contacting AWS.
    Validate(PlanArgs),
    /// Print the plan format as a JSON Schema, for editors: `pinfra schema > pinfra.schema.json`,
    /// and `#:schema ./pinfra.schema.json` as the plan's first line.
    Schema,
    /// Show what apply would change. Exit code 0: no changes, 2: changes, 1: error.
    Diff(DiffArgs),
    /// Make AWS match the plan; given a saved plan (`pinfra diff --out FILE`), apply exactly its
    /// changes, without asking, or refuse if anything changed since it was made.
    Apply(ApplyArgs),
    /// Delete every resource the plan owns (and nothing else).
    Destroy(DestroyArgs),
    /// Print the values other tools need: ARNs, names, endpoints.
    Output(OutputArgs),
    /// Write client.properties, kafka-rest.properties and user-data.sh for the Kafka client.
    Render(RenderArgs),
    /// Send a test record per topic through the API, the REST proxy and the sink, and report
    /// each hop. Exit code 1 if any hop fails.
    Verify(VerifyArgs),
    /// Remove the environment's lock left by a crashed run (`--force`); without it, show who
    /// holds the lock.
    Unlock(UnlockArgs),
    /// Print a shell's completion script: `pinfra completions bash > ~/.local/share/bash-completion/completions/pinfra`.
    Completions(CompletionsArgs),
    /// Print pinfra's manual page (roff): `pinfra man > ~/.local/share/man/man1/pinfra.1`; with
    /// `--dir`, write it and a page per command (`pinfra-apply.1`) there.
    Man(ManArgs),
}

/// `pinfra man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write `pinfra.1` and a page per command into this directory instead.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `pinfra completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `pinfra init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    // The environment's name and the region are the global `--env` and `--region`.
    /// The user id the resource names derive from.
    #[arg(long, value_name = "ID")]
    pub user_id: Option<String>,
    /// The MSK cluster, by name or ARN.
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
    /// The project (the `pinfra:plan` tag); default `pipeline`.
    #[arg(long, value_name = "NAME")]
    pub project: Option<String>,
    /// Where to write the plan; never overwritten.
    #[arg(value_name = "PATH", default_value = "plan.toml")]
    pub path: std::path::PathBuf,
}

/// `pinfra import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    // The environment's name and the region are the global `--env` and `--region`.
    /// The user id the hand-built resources' names derive from.
    #[arg(long, value_name = "ID")]
    pub user_id: String,
    /// The MSK cluster, by name or ARN; default: the region's only cluster.
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
    /// The project (the `pinfra:plan` tag); default `pipeline`.
    #[arg(long, value_name = "NAME")]
    pub project: Option<String>,
    /// Where to write the plan; never overwritten.
    #[arg(long, value_name = "PLAN", default_value = "plan.toml")]
    pub out: std::path::PathBuf,
}

/// `pinfra unlock`.
#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// The plan file.
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Really remove the lock.
    #[arg(long)]
    pub force: bool,
}

/// `pinfra verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The plan file.
    #[command(flatten)]
    pub plan: PlanArgs,
    /// How long to wait, in seconds, for each record to land in the bucket.
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub wait: u64,
    /// Print the network's paths and every hop as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Verify every environment of the plan at once, each report under `== environment <name>`.
    /// Not with `--env` or `--json`.
    #[arg(long, conflicts_with_all = ["env", "json"])]
    pub all_envs: bool,
}

/// `pinfra render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The plan file.
    #[command(flatten)]
    pub plan: PlanArgs,
    /// The directory to write into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Do not contact AWS: values only the account knows are written as `<unknown: ...>`.
    #[arg(long)]
    pub offline: bool,
}

/// The plan file argument.
#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    /// The plan file (TOML).
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
}

/// `pinfra diff`.
#[derive(Debug, Clone, Args)]
pub struct DiffArgs {
    /// The plan file.
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Print the diff as JSON (schema: docs/diff-json.md); the same as `--format json`.
    #[arg(long)]
    pub json: bool,
    /// The diff's form: text, json, or markdown (a summary line and a collapsible section per
    /// resource, for a pull request).
    #[arg(long, value_enum, default_value_t = DiffFormat::Text, conflicts_with = "json")]
    pub format: DiffFormat,
    /// Also write the change set to FILE, a saved plan (JSON, docs/saved-plans.md): `pinfra apply
    /// FILE` applies exactly it, without asking, or refuses if anything changed since.
    #[arg(long, value_name = "FILE", conflicts_with = "all_envs")]
    pub out: Option<PathBuf>,
    /// List resources that are already up to date too.
    #[arg(long)]
    pub show_unchanged: bool,
    /// Also delete topics under the plan's topic prefix that the plan does not list.
    #[arg(long)]
    pub prune: bool,
    /// Diff every environment of the plan (read concurrently), one after the other (with
    /// `--json`, one document listing each environment's diff). Not with `--env` (nor
    /// PINFRA_ENV), which names one.
    #[arg(long, conflicts_with = "env")]
    pub all_envs: bool,
}

/// The form of `pinfra diff`'s output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    /// For a terminal.
    Text,
    /// For scripts (docs/diff-json.md).
    Json,
    /// For a pull request or a CI summary.
    Markdown,
}

/// `pinfra apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The plan file.
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Do not ask for confirmation. Required when stdin is not a terminal.
    #[arg(long)]
    pub auto_approve: bool,
    /// Also delete topics under the plan's topic prefix that the plan does not list.
    #[arg(long)]
    pub prune: bool,
    /// Apply every environment of the plan, concurrently, each under its own lock. Not with
    /// `--env`.
    #[arg(long, conflicts_with = "env")]
    pub all_envs: bool,
    /// With several environments: progress as JSON lines on stderr, and the diffs and results as
    /// one JSON document on stdout (docs/fleet.md). Needs `--auto-approve`.
    #[arg(long, requires = "auto_approve")]
    pub json: bool,
}

/// `pinfra destroy`.
#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// The plan file.
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Do not ask for confirmation. Required when stdin is not a terminal.
    #[arg(long)]
    pub auto_approve: bool,
    /// Destroy every environment of the plan, concurrently, each under its own lock. Not with
    /// `--env`.
    #[arg(long, conflicts_with = "env")]
    pub all_envs: bool,
    /// With several environments: progress as JSON lines on stderr, and the diffs and results as
    /// one JSON document on stdout (docs/fleet.md). Needs `--auto-approve`.
    #[arg(long, requires = "auto_approve")]
    pub json: bool,
}

/// `pinfra output`.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// The plan file.
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// The outputs of every environment of the plan, each under `== environment <name>` (with
    /// `--json`, one object keyed by environment). Not with `--env`.
    #[arg(long, conflicts_with = "env")]
    pub all_envs: bool,
}

/// `--rate`'s value.
fn rate_override(text: &str) -> Result<(String, Option<crate::aws::pacing::Rate>), String> {
    crate::aws::pacing::parse_override(text).map_err(|e| format!("{e}; {}", e.hint()))
}

/// A number of seconds of at least 1 (a zero timeout could never be met).
fn positive_seconds(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(0) => Err("must be at least 1 second: a timeout of 0 gives AWS no time to finish anything".into()),
        Ok(seconds) => Ok(seconds),
        Err(error) => Err(format!("{error}: a whole number of seconds, such as 1800")),
    }
}
