//! `clawops pilot manifests`: write each Pilot role's setup manifest.

use std::path::Path;
use std::process::ExitCode;

use super::Context;
use crate::source::SourceOptions;

/// Writes the manifests of every PilotSetup.
pub fn manifests(context: &Context, options: &SourceOptions, out: Option<&Path>) -> ExitCode {
    let _ = (options, out);
    context.printer.err("pilot manifests: in progress");
    ExitCode::FAILURE
}
