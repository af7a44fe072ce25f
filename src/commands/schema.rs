//! `pinfra schema`: prints the plan format as a JSON Schema ([`crate::plan::schema`]), for
//! editors.

use crate::commands::ExitStatus;
use crate::plan::schema;
use crate::settings::Output;

/// Prints the schema.
pub fn run(out: Output) -> anyhow::Result<ExitStatus> {
    out.printer.data(schema::text())?;
    Ok(ExitStatus::Success)
}
