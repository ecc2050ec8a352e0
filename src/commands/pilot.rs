//! `clawops pilot manifests`: write each Pilot role's setup manifest.

use std::path::Path;
use std::process::ExitCode;

use super::{Context, read_and_check};
use crate::pilot::{self, Manifest};
use crate::source::SourceOptions;

/// Writes the manifests of every PilotSetup: to `out/<hostname>/<setup>.json`, or as one
/// JSON object keyed by hostname on stdout. Refuses (exit 1) when the desired state is
/// invalid or unreadable; diagnostics go to stderr so stdout stays JSON.
pub fn manifests(context: &Context, options: &SourceOptions, out: Option<&Path>) -> ExitCode {
    let Some((snapshot, checked)) = read_and_check(context, options, None) else {
        return ExitCode::FAILURE;
    };
    context
        .printer
        .diagnostics_on_stderr(&checked.diagnostics, &snapshot);
    if !checked.is_valid() {
        context.printer.err(&format!(
            "refusing to write Pilot manifests: {} error(s) in {}",
            checked.error_count(),
            snapshot.origin
        ));
        return ExitCode::FAILURE;
    }
    let derived: Vec<Manifest> = checked
        .spec
        .pilot_setups
        .iter()
        .flat_map(|setup| pilot::manifests(setup.name(), setup.spec()))
        .collect();
    if derived.is_empty() {
        context
            .printer
            .err(&format!("no PilotSetup in {}", snapshot.origin));
    }
    let outcome = match out {
        Some(folder) => pilot::write_manifests(folder, &derived).map(|written| {
            context.printer.out(&format!(
                "wrote {} Pilot manifests to {}",
                written.len(),
                folder.display()
            ));
        }),
        None => pilot::manifests_json(&derived).map(|json| context.printer.out(&json)),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            context.printer.error(&error);
            ExitCode::FAILURE
        }
    }
}
