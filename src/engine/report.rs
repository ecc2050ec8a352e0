//! The words every command and the daemon use for what a reconcile did: a failed step as
//! one line, the apply's closing line, the blast-radius refusal. Written once here.

use super::reconcile::{ReconcileError, Reconciled};
use crate::apply::{ApplyReport, Outcome, StepOutcome};
use crate::notify::{Announce, Event};
use crate::plan::{MassDeletion, Plan};
use crate::printer::chain;
use crate::spec::notify::EventKind;

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

/// The event that ends a reconcile that started a rollout or found nothing to change:
/// succeeded, failed, or rolled back (a failed step whose agent was put back), with the
/// plan's summary, the closing line, and the first failure as the reason; a reconcile with
/// nothing to change sets only its commit's status.
pub fn ending_event(
    announce: &Announce<'_>,
    fleet: &str,
    result: &Result<Reconciled, ReconcileError>,
) -> Event {
    match result {
        Ok(Reconciled::Applied {
            plan,
            report,
            elapsed,
        }) => {
            let summary = format!(
                "{} {}",
                crate::render::summary_line(&plan.summary),
                closing_line(report, elapsed.as_secs_f64())
            );
            if report.succeeded() {
                return announce.event(EventKind::ApplySucceeded, fleet, summary);
            }
            let kind = if report.rolled_back() {
                EventKind::RolledBack
            } else {
                EventKind::ApplyFailed
            };
            let reason = report
                .first_failure()
                .and_then(|failure| step_failure(plan, failure))
                .unwrap_or_else(|| "stopped before every step ran".to_owned());
            announce.event(kind, fleet, summary).with_reason(reason)
        }
        // Nothing to roll out: the commit still gets its status; webhooks hear nothing.
        Ok(Reconciled::NoChanges) => announce
            .event(
                EventKind::ApplySucceeded,
                fleet,
                "No changes: the fleet already matches this commit.".to_owned(),
            )
            .statuses_only(),
        Err(error) => announce
            .event(
                EventKind::ApplyFailed,
                fleet,
                "The rollout did not finish.".to_owned(),
            )
            .with_reason(chain(error)),
    }
}
