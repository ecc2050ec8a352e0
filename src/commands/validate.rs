//! `clawops validate`: check the desired state and report every problem, with what the
//! target (`--backend`, else `[fleet] backend`) cannot realize of it.

use std::process::ExitCode;

use serde::Serialize;

use super::{Context, read_and_check};
use crate::cli::ReportFormat;
use crate::source::SourceOptions;
use crate::spec::{Checked, Diagnostic};

/// The JSON report.
#[derive(Serialize)]
struct Report<'a> {
    valid: bool,
    diagnostics: &'a [Diagnostic],
}

/// Validates and prints the report; exit 0 when valid, 1 when invalid or unreadable.
pub fn run(context: &Context, options: &SourceOptions, format: ReportFormat) -> ExitCode {
    let Some((snapshot, checked)) =
        read_and_check(context, options, Some(context.connection.backend))
    else {
        return ExitCode::FAILURE;
    };
    match format {
        ReportFormat::Json => {
            let report = Report {
                valid: checked.is_valid(),
                diagnostics: &checked.diagnostics,
            };
            match serde_json::to_string_pretty(&report) {
                Ok(json) => context.printer.out(&json),
                Err(error) => context
                    .printer
                    .err(&format!("could not write the report: {error}")),
            }
        }
        ReportFormat::Text => {
            context.printer.diagnostics(&checked.diagnostics, &snapshot);
            context.printer.out(&summary(&checked, &snapshot));
        }
    }
    if checked.is_valid() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn summary(checked: &Checked, snapshot: &crate::source::Snapshot) -> String {
    let spec = &checked.spec;
    let errors = checked.error_count();
    let warnings = checked.diagnostics.len() - errors;
    let origin = match &snapshot.revision {
        Some(revision) => format!(
            "{} at {} ({})",
            snapshot.origin,
            &revision.commit[..revision.commit.len().min(12)],
            revision.subject
        ),
        None => snapshot.origin.clone(),
    };
    let counts = format!(
        "{} files: {} teams, {} workers, {} humans, {} managers, {} debug workers, {} image sets, {} pilot setups",
        snapshot.files.len(),
        spec.teams.len(),
        spec.workers.len(),
        spec.humans.len(),
        spec.managers.len(),
        spec.debug_workers.len(),
        spec.image_sets.len(),
        spec.pilot_setups.len()
    );
    if errors == 0 {
        format!("valid: {origin}\n  {counts}; {warnings} warning(s)")
    } else {
        format!("invalid: {errors} error(s), {warnings} warning(s) in {origin}\n  {counts}")
    }
}
