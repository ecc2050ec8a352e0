//! `clawops schema`: write the JSON Schemas of every kind into a folder.

use std::path::Path;
use std::process::ExitCode;

use super::Context;

/// Writes the schemas; exit 1 when the folder cannot be written.
pub fn run(context: &Context, out: &Path) -> ExitCode {
    match crate::schema::write_all(out) {
        Ok(written) => {
            context.printer.out(&format!(
                "wrote {} schemas to {}",
                written.len(),
                out.display()
            ));
            ExitCode::SUCCESS
        }
        Err(error) => {
            context.printer.error(&error);
            ExitCode::FAILURE
        }
    }
}
