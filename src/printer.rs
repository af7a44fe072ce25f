//! Everything a command writes for a person goes through one [`Printer`], as in uv
//! (`crates/uv/src/printer.rs`): data on stdout, everything else on stderr, and `-q` decided here
//! once instead of at every call site.
//!
//! - **Data** ([`Printer::data`]) is the command's result: the diff, the outputs, JSON. It is
//!   shown under `-q` too. A reader that went away (`pinfra diff | head -1`) is seen where the
//!   write fails, as [`StdoutClosed`], which ends the command with 141 (128 + SIGPIPE, what a
//!   Unix tool killed by the signal reports). Under an environment's lock the work in hand must
//!   finish and the lock be released, so output there goes through [`Printer::data_keep_going`].
//! - **Status** ([`Printer::status`]) and **warnings** ([`Printer::warning`]): silent under `-q`.
//! - **Errors** ([`Printer::error`]) and **questions** ([`Printer::prompt`]): always shown.
//!
//! A failed write to stderr is ignored: stderr gone leaves nobody to tell. Plan diagnostics are
//! rendered in colour by `diagnostics::SourceFile::emit`, the one other writer to stderr.

use std::fmt::Display;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::terminal::escape_lines;

/// Where a command's text goes, and whether `-q` silences what is not data or an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Printer {
    quiet: bool,
}

/// stdout's reader went away: the command ends quietly with exit code 141.
#[derive(Debug, thiserror::Error)]
#[error("stdout was closed by its reader")]
pub struct StdoutClosed;

/// Set once a write to stdout found its reader gone; later data is not written.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

impl Printer {
    /// A printer; `quiet` is `-q`.
    pub const fn new(quiet: bool) -> Self {
        Self { quiet }
    }

    /// Whether `-q` was given.
    pub const fn is_quiet(self) -> bool {
        self.quiet
    }

    /// Writes data to stdout, as it is (it may carry colour). `Err` if the reader went away.
    pub fn data(self, text: impl Display) -> Result<(), StdoutClosed> {
        if STDOUT_CLOSED.load(Ordering::SeqCst) {
            return Err(StdoutClosed);
        }
        let mut stdout = std::io::stdout().lock();
        match write!(stdout, "{text}").and_then(|()| stdout.flush()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                STDOUT_CLOSED.store(true, Ordering::SeqCst);
                Err(StdoutClosed)
            }
            Err(e) => {
                self.warning(format_args!("cannot write to stdout: {e}"));
                Ok(())
            }
        }
    }

    /// [`Printer::data`] where a gone reader must not stop the work in hand (under a lock: the
    /// apply finishes and the lock is released).
    pub fn data_keep_going(self, text: impl Display) {
        let _gone = self.data(text);
    }

    /// A line on stderr about what is happening; silent under `-q`.
    pub fn status(self, line: impl Display) {
        if !self.quiet {
            stderr_line(line);
        }
    }

    /// A line on stderr shown under `-q` too (what a question is about).
    pub fn notice(self, line: impl Display) {
        stderr_line(line);
    }

    /// `warning: ...` on stderr, the message escaped; silent under `-q`.
    pub fn warning(self, message: impl Display) {
        if !self.quiet {
            stderr_line(format_args!("warning: {}", escape_lines(&message.to_string())));
        }
    }

    /// [`Printer::warning`] with a `  hint: ...` line.
    pub fn warning_with_hint(self, message: impl Display, hint: Option<&str>) {
        self.warning(message);
        if let Some(hint) = hint.filter(|_| !self.quiet) {
            stderr_line(format_args!("  hint: {}", escape_lines(hint)));
        }
    }

    /// `error: ...` and its `  hint: ...` on stderr, escaped; always shown.
    pub fn error(self, message: impl Display, hint: Option<&str>) {
        stderr_line(format_args!("error: {}", escape_lines(&message.to_string())));
        if let Some(hint) = hint {
            stderr_line(format_args!("  hint: {}", escape_lines(hint)));
        }
    }

    /// A question on stderr, without a line break, for the answer to follow; always shown.
    pub fn prompt(self, question: impl Display) {
        let mut stderr = std::io::stderr().lock();
        let _gone = write!(stderr, "{question}").and_then(|()| stderr.flush());
    }
}

fn stderr_line(line: impl Display) {
    let _gone = writeln!(std::io::stderr().lock(), "{line}");
}
