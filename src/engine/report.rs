//! The words every command and the daemon use for what a reconcile did: a failed step as
//! one line, the apply's closing line, the blast-radius refusal. Written once here.

use crate::apply::{ApplyReport, Outcome, StepOutcome};
use crate::plan::{MassDeletion, Plan};
use crate::printer::chain;

/// `recreate hiclaw-worker-dev: <error and its causes>`, for a step that failed or was
/// rolled back; `None` for one that did not.
pub fn step_failure(plan: &Plan, outcome: &StepOutcome) -> Option<String> {
    let step = plan.steps.get(outcome.step)?;
    let error = outcome.outcome.error()?;
    Some(format!(
        "{} {}: {}",
        step.op.verb(),
        step.resource,
        chain(error)
    ))
}

/// One line per failed or rolled-back step: `failed: …` or `rolled back: …`.
pub fn failure_lines(plan: &Plan, report: &ApplyReport) -> Vec<String> {
    report
        .outcomes
        .iter()
        .filter_map(|outcome| {
            let verdict = match outcome.outcome {
                Outcome::RolledBack(_) => "rolled back",
                _ => "failed",
            };
            step_failure(plan, outcome).map(|line| format!("{verdict}: {line}"))
        })
        .collect()
}

/// `Apply complete: 4 steps done, 0 failed, 0 not attempted, in 3.2s.`
pub fn closing_line(report: &ApplyReport, seconds: f64) -> String {
    let (done, failed, not_attempted) = report.counts();
    let verdict = if report.succeeded() {
        "Apply complete"
    } else {
        "Apply stopped"
    };
    format!(
        "{verdict}: {done} steps done, {failed} failed, {not_attempted} not attempted, in {seconds:.1}s."
    )
}

/// Why the blast-radius guard refuses a plan, and how to let it through.
pub fn mass_deletion_refusal(guard: &MassDeletion) -> String {
    format!(
        "refused: this plan takes away {} of the fleet's {} agents ({}%), over the {}% limit of [prune] max_delete_percent; groups: {}.\n\
         If that is really intended, run again with --allow-mass-delete.",
        guard.count,
        guard.fleet_size,
        guard.count * 100 / guard.fleet_size.max(1),
        guard.limit_percent,
        guard.groups.join(", ")
    )
}
