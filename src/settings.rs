//! Resolves flags, environment and plan into one [`Settings`] value, once, at the start. Nothing
//! deeper in pinfra reads the environment.

use std::io::IsTerminal;
use std::time::Duration;

use crate::aws::AwsSettings;
use crate::cli::{ColorChoice, GlobalArgs};
use crate::retry::Poll;

/// How to talk to the user.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// ANSI colours on stdout.
    pub color_stdout: bool,
    /// ANSI colours on stderr.
    pub color_stderr: bool,
    /// stderr is a terminal: progress can be shown.
    pub interactive_stderr: bool,
    /// stdin is a terminal: questions can be asked.
    pub interactive_stdin: bool,
    /// Where text goes; `-q` leaves only data and errors.
    pub printer: crate::printer::Printer,
}

/// The environment variables pinfra reads, captured once.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// `NO_COLOR` is set (to anything).
    pub no_color: bool,
    /// `AWS_REGION`.
    pub aws_region: Option<String>,
    /// `AWS_PROFILE`.
    pub aws_profile: Option<String>,
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` are both set.
    pub aws_env_keys: bool,
    /// `HOME`, `AWS_CONFIG_FILE` and `AWS_SHARED_CREDENTIALS_FILE`, where set: where the shared
    /// AWS config files are.
    pub aws_files_env: Vec<(String, String)>,
    /// `AWS_ENDPOINT_URL_S3`.
    pub s3_endpoint: Option<String>,
    /// `PINFRA_POLL_INTERVAL_MS`: the shortest time between two reads while waiting for AWS, and
    /// the delay of the first (default 250 divided by the time scale; the sandbox's tests make it
    /// short).
    pub poll_interval_ms: Option<u64>,
    /// `PINFRA_TIME_SCALE`: how much faster than AWS's the time runs (the sandbox's
    /// `--time-scale`; default 1): every paced rate times this, every polling delay divided by it.
    pub time_scale: Option<f64>,
    /// `PINFRA_WAIT_REPORT_MS`: how often a long wait says it is still waiting (default 30000;
    /// 0: never).
    pub wait_report_ms: Option<u64>,
    /// Where downloads are cached: `PINFRA_CACHE_DIR`, else `$XDG_CACHE_HOME/pinfra`, else
    /// `$HOME/.cache/pinfra`, else `.pinfra-cache` in the working directory.
    pub cache_dir: std::path::PathBuf,
    /// `USER` (or `LOGNAME`), for the lock's holder.
    pub user: Option<String>,
    /// The host name (`HOSTNAME`, else the kernel's), for the lock's holder.
    pub host: Option<String>,
    /// `GITHUB_STEP_SUMMARY`: the file a GitHub Actions step appends Markdown to; `diff` and
    /// `apply` add their summary there.
    pub step_summary: Option<std::path::PathBuf>,
}

impl Environment {
    /// Reads the process environment.
    pub fn capture() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Self {
            no_color: std::env::var_os("NO_COLOR").is_some(),
            aws_region: var("AWS_REGION"),
            aws_profile: var("AWS_PROFILE"),
            aws_env_keys: var("AWS_ACCESS_KEY_ID").is_some() && var("AWS_SECRET_ACCESS_KEY").is_some(),
            aws_files_env: ["HOME", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"]
                .into_iter()
                .filter_map(|name| var(name).map(|value| (name.to_owned(), value)))
                .collect(),
            s3_endpoint: var("AWS_ENDPOINT_URL_S3"),
            poll_interval_ms: var("PINFRA_POLL_INTERVAL_MS").and_then(|v| v.parse().ok()),
            wait_report_ms: var("PINFRA_WAIT_REPORT_MS").and_then(|v| v.parse().ok()),
            time_scale: var("PINFRA_TIME_SCALE").and_then(|v| v.parse().ok()).filter(|f: &f64| f.is_finite() && *f > 0.0),
            cache_dir: var("PINFRA_CACHE_DIR")
                .map(std::path::PathBuf::from)
                .or_else(|| var("XDG_CACHE_HOME").map(|d| std::path::Path::new(&d).join("pinfra")))
                .or_else(|| var("HOME").map(|h| std::path::Path::new(&h).join(".cache/pinfra")))
                .unwrap_or_else(|| std::path::PathBuf::from(".pinfra-cache")),
            user: var("USER").or_else(|| var("LOGNAME")),
            step_summary: var("GITHUB_STEP_SUMMARY").map(std::path::PathBuf::from),
            host: var("HOSTNAME").or_else(|| {
                std::fs::read_to_string("/proc/sys/kernel/hostname").ok().map(|h| h.trim().to_owned()).filter(|h| !h.is_empty())
            }),
        }
    }
}

/// Resolves output settings.
pub fn output(global: &GlobalArgs, env: &Environment) -> Output {
    let color = |tty: bool| match global.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => tty && !env.no_color,
    };
    Output {
        color_stdout: color(std::io::stdout().is_terminal()),
        color_stderr: color(std::io::stderr().is_terminal()),
        interactive_stderr: std::io::stderr().is_terminal() && !global.quiet,
        interactive_stdin: std::io::stdin().is_terminal(),
        printer: crate::printer::Printer::new(global.quiet),
    }
}

/// Why the AWS settings conflict with the plan.
#[derive(Debug, thiserror::Error)]
#[error("--region {flag} does not match the plan's region {plan}")]
pub struct RegionMismatch {
    /// The flag's value.
    pub flag: String,
    /// The plan's region.
    pub plan: String,
}

/// The rates calls are paced at: the documented table, the plan's `[pacing]` (`plan_rates`,
/// checked by the plan reader), then `--rate`, which wins; all times `PINFRA_TIME_SCALE`.
pub fn rates(global: &GlobalArgs, env: &Environment, plan_rates: &[String]) -> crate::aws::pacing::Rates {
    let planned = plan_rates.iter().filter_map(|text| crate::aws::pacing::parse_override(text).ok());
    let overrides: Vec<_> = planned.chain(global.rates.iter().cloned()).collect();
    crate::aws::pacing::Rates::new(&overrides, env.time_scale.unwrap_or(1.0))
}

/// Resolves the AWS settings for a plan in `plan_region`. The plan's region wins: `--region` must
/// agree with it, and a different `AWS_REGION` is reported (the second element) and ignored.
pub fn aws(global: &GlobalArgs, env: &Environment, plan_region: &str) -> Result<(AwsSettings, Option<String>), RegionMismatch> {
    if let Some(flag) = &global.region
        && flag != plan_region
    {
        return Err(RegionMismatch { flag: flag.clone(), plan: plan_region.to_owned() });
    }
    let warning = env
        .aws_region
        .as_ref()
        .filter(|r| *r != plan_region && global.region.is_none())
        .map(|r| format!("AWS_REGION={r} is ignored: the plan's region {plan_region} is used"));
    let settings = AwsSettings {
        region: plan_region.to_owned(),
        credentials: crate::aws::CredentialSettings {
            profile_flag: global.profile.clone(),
            profile_env: env.aws_profile.clone(),
            env_keys: env.aws_env_keys,
            files_env: env.aws_files_env.clone(),
        },
        endpoint_url: global.endpoint_url.clone(),
        custom_s3_endpoint: global.endpoint_url.is_some() || env.s3_endpoint.is_some(),
        max_attempts: 5,
        rates: rates(global, env, &[]),
        poll: poll(global, env),
    };
    Ok((settings, warning))
}

/// How waits for AWS read: AWS's schedule ([`Poll::FIRST`], [`Poll::CAP`]) divided by
/// `PINFRA_TIME_SCALE`, the first read and shortest interval from `PINFRA_POLL_INTERVAL_MS` if
/// set, and `--timeout`.
pub fn poll(global: &GlobalArgs, env: &Environment) -> Poll {
    let scale = env.time_scale.unwrap_or(1.0);
    let first = env.poll_interval_ms.map_or(Poll::FIRST.div_f64(scale), |ms| Duration::from_millis(ms.max(1)));
    Poll {
        first,
        cap: Poll::CAP.div_f64(scale).max(first),
        timeout: Duration::from_secs(global.timeout),
        report_every: Duration::from_millis(env.wait_report_ms.unwrap_or(30_000)),
    }
}
