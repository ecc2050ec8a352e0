//! `clawops render SOURCE --backend kubernetes`: every object the backend would apply, as
//! one YAML stream on stdout (sensitive values redacted).

use std::process::ExitCode;

use super::{Context, load};
use crate::source::SourceOptions;

/// Prints the objects; exit 1 when the desired state is invalid or the backend has
/// nothing to render.
pub fn run(context: &Context, options: &SourceOptions) -> ExitCode {
    let Some(loaded) = load(context, options) else {
        return ExitCode::FAILURE;
    };
    let config = context.connection.over(&loaded.config);
    match crate::backend::render(&config, &loaded.desired) {
        Ok(yaml) => {
            context.printer.out(yaml.trim_end());
            ExitCode::SUCCESS
        }
        Err(error) => {
            context.printer.error(&error);
            ExitCode::FAILURE
        }
    }
}
