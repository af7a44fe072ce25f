//! `pinfra schema`: prints the plan format as a JSON Schema ([`crate::plan::schema`]), for
//! editors. And the schema file `pinfra init` and `pinfra import` write beside the plans they
//! write, which the plans' first line (`#:schema ./pinfra.schema.json`) points Taplo-based
//! editors at.

use std::path::{Path, PathBuf};

use crate::commands::ExitStatus;
use crate::plan::schema;
use crate::settings::Output;

/// Prints the schema.
pub fn run(out: Output) -> anyhow::Result<ExitStatus> {
    out.printer.data(schema::text())?;
    Ok(ExitStatus::Success)
}

/// Writes `pinfra.schema.json` beside `plan`, unless a file of that name is there that is not
/// pinfra's schema: that one is left as it is, and a warning says so. A schema of another
/// version of pinfra is brought up to date. Says on stderr what it did; a failure to write is a
/// warning too, as the plan itself is written and valid.
pub(super) fn write_beside(plan: &Path, out: Output) {
    let path = beside(plan);
    let shown = path.display();
    let text = schema::text();
    // A link is never written through, whatever it points at.
    let existing = match std::fs::symlink_metadata(&path) {
        Ok(meta) if meta.file_type().is_symlink() => Some(None),
        Ok(_) => Some(std::fs::read_to_string(&path).ok()),
        Err(_) => None,
    };
    let (written, done) = match existing {
        None => {
            let created = std::fs::OpenOptions::new().write(true).create_new(true).open(&path).and_then(|mut file| {
                use std::io::Write as _;
                file.write_all(text.as_bytes())
            });
            (created, "wrote")
        }
        Some(Some(current)) if current == text => {
            out.printer.status(format_args!("{shown} is pinfra's plan schema already (the plan's `#:schema` line names it)"));
            return;
        }
        Some(Some(older)) if schema::is_pinfra_schema(&older) => (std::fs::write(&path, &text), "updated"),
        Some(_) => {
            out.printer.warning_with_hint(
                format_args!("left {shown} as it is: it is not pinfra's plan schema, yet the plan's `#:schema` line names it"),
                Some(&format!("move it away, then `pinfra schema > {shown}`, for editors to complete and check the plan's keys")),
            );
            return;
        }
    };
    match written {
        Ok(()) => out.printer.status(format_args!("{done} {shown}: the plan's schema, for editors (the plan's `#:schema` line names it)")),
        Err(error) => out.printer.warning_with_hint(
            format_args!("cannot write {shown}: {error}"),
            Some(&format!("write it where the plan is: `pinfra schema > {shown}`")),
        ),
    }
}

/// The schema file's path beside `plan`.
fn beside(plan: &Path) -> PathBuf {
    match plan.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        Some(dir) => dir.join(schema::FILE_NAME),
        None => PathBuf::from(schema::FILE_NAME),
    }
}
