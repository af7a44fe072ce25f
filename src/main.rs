//! The `pinfra` binary: parse the command line, set up logging, run, map the result to an exit
//! code. Everything else lives in the library.

#![warn(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use clap::Parser as _;
use pinfra::cli::Cli;
use pinfra::commands::{self, ExitStatus, Reported};
use pinfra::printer::{Printer, StdoutClosed};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // Usage errors exit 1, not clap's 2: 2 means "diff found changes".
            let _ = error.print();
            return if error.use_stderr() { ExitStatus::Failure.into() } else { ExitStatus::Success.into() };
        }
    };
    let output = pinfra::settings::output(&cli.global, &pinfra::settings::Environment::capture());
    pinfra::logging::init(cli.global.verbose, cli.global.quiet, output.color_stderr);
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
