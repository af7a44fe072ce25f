//! The `pinfra` binary: parse the command line, set up logging, run, map the result to an exit
//! code. Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser as _;
use pinfra::cli::Cli;
use pinfra::commands::{self, ExitStatus, Reported};
use tracing_subscriber::EnvFilter;

fn init_logging(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "pinfra=info,warn",
        (false, 2) => "pinfra=debug,info",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("PINFRA_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
}

/// A reader that stops early (`pinfra diff | head -1`) closes stdout: that ends the command
/// quietly with 141 (128 + SIGPIPE, what a Unix tool killed by the signal reports), instead of a
/// panic from `println!`. Never while a lock is held: output under the lock goes through
/// `commands::data`, which does not panic, so that the lock is always released.
fn exit_quietly_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") && !pinfra::lock::holding() {
            std::process::exit(141);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    exit_quietly_on_broken_pipe();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // Usage errors exit 1, not clap's 2: 2 means "diff found changes".
            let _ = error.print();
            return if error.use_stderr() { ExitStatus::Failure.into() } else { ExitStatus::Success.into() };
        }
    };
    init_logging(cli.global.verbose, cli.global.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitStatus::Failure.into();
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(status) => status.into(),
        Err(error) => {
            // Messages carry names and AWS's words: shown escaped (`pinfra::terminal`).
            let message = match error.downcast_ref::<Reported>() {
                Some(reported) => reported.to_string(),
                None => format!("{error:#}"),
            };
            eprintln!("error: {}", pinfra::terminal::escape_lines(&message));
            ExitStatus::Failure.into()
        }
    }
}
