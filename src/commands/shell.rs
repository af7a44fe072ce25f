//! `pinfra completions` and `pinfra man`: a shell's completion script and the manual page, both
//! generated from the CLI's definition ([`crate::cli`]), so they cannot drift from it.

use clap::CommandFactory as _;

use crate::cli::{Cli, ManArgs};
use crate::commands::{ExitStatus, Reported};
use crate::settings::Output;

/// Prints `shell`'s completion script.
pub fn completions(shell: clap_complete::Shell, out: Output) -> anyhow::Result<ExitStatus> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "pinfra", &mut script);
    out.printer.data(String::from_utf8_lossy(&script))?;
    Ok(ExitStatus::Success)
}

/// Prints the manual page, in roff; with `--dir`, writes it and a page per command there.
pub fn man(args: &ManArgs, out: Output) -> anyhow::Result<ExitStatus> {
    if let Some(dir) = &args.dir {
        std::fs::create_dir_all(dir).and_then(|()| clap_mangen::generate_to(Cli::command(), dir)).map_err(|error| {
            Reported::new(format!("cannot write the manual pages into {}: {error}", dir.display()))
                .hint("give a directory you can write to, such as ~/.local/share/man/man1")
        })?;
        out.printer.status(format_args!("wrote the manual pages into {}", dir.display()));
        return Ok(ExitStatus::Success);
    }
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut page)?;
    out.printer.data(String::from_utf8_lossy(&page))?;
    Ok(ExitStatus::Success)
}
