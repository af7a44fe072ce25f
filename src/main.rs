//! The `pinfra` binary: parse the command line, set up logging, run, map the result to an exit
//! code. Everything else lives in the library.

#![warn(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use clap::Parser as _;
use pinfra::cli::Cli;
use pinfra::commands::{self, ExitStatus, Reported};
use pinfra::printer::{Printer, StdoutClosed};
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

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // Usage errors exit 1, not clap's 2: 2 means "diff found changes".
            let _ = error.print();
            return if error.use_stderr() { ExitStatus::Failure.into() } else { ExitStatus::Success.into() };
        }
    };
    init_logging(cli.global.verbose, cli.global.quiet);
    let printer = Printer::new(cli.global.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            printer.error(format_args!("cannot start the async runtime: {error}"), None);
            return ExitStatus::Failure.into();
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(status) => status.into(),
        // A reader that stopped early (`pinfra diff | head -1`): quietly, 128 + SIGPIPE, as a
        // Unix tool killed by the signal. Under a lock, output never ends the command this way
        // (`Printer::data_keep_going`), so the lock is always released first.
        Err(error) if error.is::<StdoutClosed>() => ExitCode::from(141),
        Err(error) => {
            // The printer escapes messages: they carry names and AWS's words.
            match error.downcast_ref::<Reported>() {
                Some(reported) => printer.error(&reported.message, reported.hint.as_deref()),
                None => printer.error(format_args!("{error:#}"), None),
            }
            ExitStatus::Failure.into()
        }
    }
}
