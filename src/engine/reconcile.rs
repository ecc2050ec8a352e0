//! One reconcile of the live fleet towards a desired state, the use case behind `clawops
//! apply` and every apply of the watch daemon: look without the lock (an up-to-date fleet
//! needs none), take the lock, settle an interrupted apply, observe, plan, check the plan
//! (saved plan, blast-radius guard, confirmation), prepare, walk, record.
//!
//! A panic anywhere in it (a bug) does not unwind past [`Reconcile::run`]: the lock is
//! released and the reconcile fails with [`ReconcileError::Panicked`], which the daemon
//! treats like a failed rollout (the commit is quarantined).

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::FutureExt;

use super::observe::observe;
use super::settings::PlanSettings;
use crate::apply::{ApplyOptions, ApplyReport, Progress};
use crate::backend::{Backend, BackendError};
use crate::desired::{Agent, Desired};
use crate::notify::Announce;
use crate::plan::{MassDeletion, Op, Plan};
use crate::spec::notify::EventKind;

/// Agents of one wave worked on at once, at least: creating and health-gating is mostly
/// waiting on the engine, and the waves already bound how many agents restart together.
const MIN_CONCURRENCY: usize = 32;
/// Agents worked on at once, at most, whatever the settings say (validation bounds them
/// too): more would only queue on the engine.
const MAX_CONCURRENCY: usize = 4096;

/// How one reconcile runs.
pub struct Reconcile<'a> {
    /// What the fleet should be.
    pub desired: &'a Desired,
    /// The fleet.
    pub backend: &'a dyn Backend,
    /// Prune and blast-radius settings from the command line.
    pub settings: PlanSettings,
    /// How long to wait for another apply's lock.
    pub lock_timeout: Duration,
    /// A saved plan to apply exactly (refused when the commit or the fleet moved).
    pub saved: Option<Plan>,
    /// Shown every plan before anything is decided (apply prints it; the daemon logs).
    pub show: &'a (dyn Fn(&Plan) + Sync),
    /// Asked with the plan before anything changes.
    pub confirm: &'a (dyn Fn(&Plan) -> bool + Sync),
    /// Told about every wave and step.
    pub progress: &'a dyn Progress,
    /// Set to finish the current step and stop.
    pub stop: &'a AtomicBool,
    /// Told when the rollout starts (the plan confirmed) and how it ends.
    pub announce: Announce<'a>,
}

/// What a reconcile did.
#[derive(Debug)]
pub enum Reconciled {
    /// The fleet already was as desired.
    NoChanges,
    /// The plan was walked; the report says whether every step succeeded.
    Applied {
        /// The plan walked.
        plan: Box<Plan>,
        /// One outcome per step.
        report: ApplyReport,
        /// How long the walk took.
        elapsed: Duration,
    },
}

/// Why a reconcile did not walk its plan. Each refusal is its own variant; the backend
/// failures say whether trying again may help ([`ReconcileError::is_transient`]).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ReconcileError {
    /// The backend could not be opened.
    #[error(transparent)]
    #[diagnostic(transparent)]
    OpenBackend(BackendError),
    /// The apply lock could not be taken.
    #[error(transparent)]
    #[diagnostic(transparent)]
    TakeLock(BackendError),
    /// Settling an interrupted apply failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    SettleInterrupted(BackendError),
    /// Observing the fleet failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Observe(BackendError),
    /// Images or secrets are missing: nothing was changed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Prepare(BackendError),
    /// What the walk did could not be recorded (Kubernetes: the inventory).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Finish(BackendError),
    /// The saved plan was made from another commit.
    #[error(
        "refused: the saved plan was made from commit {}, but the source is now at {}; plan again",
        .saved.as_deref().unwrap_or("(none)"),
        .now.as_deref().unwrap_or("(none)")
    )]
    #[diagnostic(code(clawops::apply::saved_plan_commit))]
    SavedPlanCommit {
        /// The commit the saved plan was made from.
        saved: Option<String>,
        /// The commit of the source now.
        now: Option<String>,
    },
    /// The live fleet changed since the saved plan was made.
    #[error("refused: the live fleet changed since the plan was saved; plan again")]
    #[diagnostic(code(clawops::apply::saved_plan_fleet))]
    SavedPlanFleet,
    /// The saved plan is not what clawops plans from its commit and the live fleet: it was
    /// edited (or written by another version).
    #[error(
        "refused: the saved plan differs from what clawops plans from commit {} and the live fleet; plan again",
        .commit.as_deref().unwrap_or("(none)")
    )]
    #[diagnostic(
        code(clawops::apply::saved_plan_edited),
        help(
            "a saved plan is applied only as `clawops plan --out` wrote it; run `clawops plan --out FILE` again"
        )
    )]
    SavedPlanEdited {
        /// The commit both plans are from.
        commit: Option<String>,
    },
    /// The plan takes away too much of the fleet at once.
    #[error("{}", super::report::mass_deletion_refusal(.0))]
    #[diagnostic(code(clawops::apply::mass_delete))]
    MassDeletion(MassDeletion),
    /// Nobody confirmed the plan.
    #[error("not confirmed; nothing was changed")]
    #[diagnostic(code(clawops::apply::not_confirmed))]
    NotConfirmed,
    /// The lease could not be renewed while applying: it may be another apply's by now,
    /// so no further step was started (those running were let finish).
    #[error(
        "lost the apply lock while applying (its lease could not be renewed); no further step was started"
    )]
    #[diagnostic(
        code(clawops::apply::lock_lost),
        help("another apply may hold the lock now; apply again once it is free")
    )]
    LockLost(#[source] BackendError),
    /// A bug: the reconcile panicked. The lock was released.
    #[error(
        "the reconcile failed on an internal error (a panic: {message}); the apply lock was released"
    )]
    #[diagnostic(
        code(clawops::apply::panicked),
        help("this is a bug in clawops; please report it with the commit that caused it")
    )]
    Panicked {
        /// The panic's message, when it has one.
        message: String,
    },
}

impl ReconcileError {
    /// Whether trying again later may succeed (the backend was unreachable, the lock
    /// held): the daemon retries these with backoff and quarantines the others.
    pub fn is_transient(&self) -> bool {
        match self {
            ReconcileError::OpenBackend(error)
            | ReconcileError::TakeLock(error)
            | ReconcileError::SettleInterrupted(error)
            | ReconcileError::Observe(error)
            | ReconcileError::Prepare(error)
            | ReconcileError::Finish(error) => error.is_transient(),
            ReconcileError::LockLost(_) => true,
            ReconcileError::SavedPlanCommit { .. }
            | ReconcileError::SavedPlanFleet
            | ReconcileError::SavedPlanEdited { .. }
            | ReconcileError::MassDeletion(_)
            | ReconcileError::NotConfirmed
            | ReconcileError::Panicked { .. } => false,
        }
    }

    /// Whether the desired state itself is to blame (an image or secret it names is
    /// missing, a refusal, a panic on it), rather than the backend: the daemon quarantines
    /// such a commit, and tries the others again.
    pub fn blames_the_commit(&self) -> bool {
        match self {
            ReconcileError::Prepare(error) => !error.is_transient(),
            ReconcileError::SavedPlanCommit { .. }
            | ReconcileError::SavedPlanFleet
            | ReconcileError::SavedPlanEdited { .. }
            | ReconcileError::MassDeletion(_)
            | ReconcileError::NotConfirmed
            | ReconcileError::Panicked { .. } => true,
            ReconcileError::OpenBackend(_)
            | ReconcileError::LockLost(_)
            | ReconcileError::TakeLock(_)
            | ReconcileError::SettleInterrupted(_)
            | ReconcileError::Observe(_)
            | ReconcileError::Finish(_) => false,
        }
    }
}

impl Reconcile<'_> {
    /// Runs the reconcile; a panic inside becomes [`ReconcileError::Panicked`] (the lock
    /// released first).
    pub async fn run(&self) -> Result<Reconciled, ReconcileError> {
        let started = AtomicBool::new(false);
        let result = AssertUnwindSafe(self.unguarded(&started))
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| {
                let message = panic_message(panic.as_ref());
                tracing::error!(message = %message, "the reconcile panicked; the apply lock was released");
                Err(ReconcileError::Panicked { message })
            });
        if started.load(Ordering::SeqCst) || matches!(result, Ok(Reconciled::NoChanges)) {
            let event = super::report::ending_event(&self.announce, &self.desired.fleet, &result);
            self.announce.notifier.tell(event);
        }
        result
    }

    /// The reconcile, panics unwinding through it (the lock's holding releases the lock
    /// on the way).
    async fn unguarded(&self, started: &AtomicBool) -> Result<Reconciled, ReconcileError> {
        if self.saved.is_none() && self.already_settled().await {
            return Ok(Reconciled::NoChanges);
        }
        let holder = crate::apply::lock::acquire(self.backend, self.lock_timeout)
            .await
            .map_err(ReconcileError::TakeLock)?;
        let held = crate::apply::lock::Held::default();
        let result = crate::apply::lock::hold_while(
            self.backend,
            holder,
            &held,
            self.locked(&held, started),
        )
        .await;
        match held.take_error() {
            Some(error) => Err(ReconcileError::LockLost(error)),
            None => result,
        }
    }

    /// Whether the live fleet already is as desired (and no interrupted apply left
    /// anything unsettled): then the lock is not needed, and the empty plan is shown. Any
    /// doubt (an error, a change) goes the locked way, which observes again under the lock.
    async fn already_settled(&self) -> bool {
        let Ok(observed) = observe(self.backend, self.desired).await else {
            return false;
        };
        let plan = crate::plan::plan(
            self.desired,
            &observed,
            &self.settings.options(self.desired),
        );
        if plan.summary.has_changes() || !observed.interrupted.is_empty() {
            return false;
        }
        (self.show)(&plan);
        true
    }

    /// Everything done under the lock: settle, observe, plan, check, prepare, walk.
    async fn locked(
        &self,
        held: &crate::apply::lock::Held,
        started: &AtomicBool,
    ) -> Result<Reconciled, ReconcileError> {
        // Finish what an interrupted apply left behind (a recreate cut short) before
        // looking at the fleet, so the plan starts from a settled state.
        self.backend
            .settle_interrupted()
            .await
            .map_err(ReconcileError::SettleInterrupted)?;
        let observed = observe(self.backend, self.desired)
            .await
            .map_err(ReconcileError::Observe)?;
        let fresh = crate::plan::plan(
            self.desired,
            &observed,
            &self.settings.options(self.desired),
        );
        let plan = match &self.saved {
            Some(saved) => verify_saved(saved, self.desired, &observed, &self.settings, fresh)?,
            None => fresh,
        };
        (self.show)(&plan);
        if !plan.summary.has_changes() {
            return Ok(Reconciled::NoChanges);
        }
        if let Some(mass_deletion) = self.settings.refused(&plan) {
            return Err(ReconcileError::MassDeletion(mass_deletion.clone()));
        }
        if !(self.confirm)(&plan) {
            return Err(ReconcileError::NotConfirmed);
        }
        started.store(true, Ordering::SeqCst);
        let summary = crate::render::summary_line(&plan.summary);
        let event = self
            .announce
            .event(EventKind::ApplyStarted, &self.desired.fleet, summary);
        self.announce.notifier.tell(event);
        self.walk(plan, held).await
    }

    /// Prepares the backend (images, secrets) and walks the plan, starting no step once
    /// the lock is lost.
    async fn walk(
        &self,
        plan: Plan,
        held: &crate::apply::lock::Held,
    ) -> Result<Reconciled, ReconcileError> {
        // Images and secrets are checked for every agent that gets a new container.
        let touched: Vec<&Agent> = plan
            .steps
            .iter()
            .filter(|step| matches!(step.op, Op::CreateAgent | Op::RecreateAgent))
            .filter_map(|step| step.resource.agent_name())
            .filter_map(|name| self.desired.agent(name))
            .collect();
        self.backend
            .prepare(&touched)
            .await
            .map_err(ReconcileError::Prepare)?;
        let options = ApplyOptions {
            concurrency: concurrency(self.desired),
        };
        let started = Instant::now();
        let report = crate::apply::apply_held(
            self.backend,
            self.desired,
            &plan,
            &options,
            self.progress,
            self.stop,
            held.lost_flag(),
        )
        .await;
        // Even after a halted walk: what was created is recorded (Kubernetes: the inventory
        // prune reads).
        self.backend
            .finish()
            .await
            .map_err(ReconcileError::Finish)?;
        Ok(Reconciled::Applied {
            plan: Box::new(plan),
            report,
            elapsed: started.elapsed(),
        })
    }
}

/// What a panic said: its message when it is a string.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|message| (*message).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned())
}

/// How many steps run at once: every team that may run side by side, each restarting
/// its `max_unavailable`, and at least [`MIN_CONCURRENCY`].
fn concurrency(desired: &Desired) -> usize {
    let widest = desired
        .rollout
        .values()
        .map(|settings| settings.max_unavailable.max(1) as usize)
        .max()
        .unwrap_or(1);
    (desired.teams_in_parallel.max(1) as usize)
        .saturating_mul(widest)
        .clamp(MIN_CONCURRENCY, MAX_CONCURRENCY)
}

/// Checks that a saved plan still matches what would be planned now.
pub fn check_saved(saved: &Plan, desired: &Desired, fresh: &Plan) -> Result<(), ReconcileError> {
    let commit = |revision: &Option<crate::source::Revision>| {
        revision.as_ref().map(|revision| revision.commit.clone())
    };
    if commit(&saved.revision) != commit(&desired.revision) {
        return Err(ReconcileError::SavedPlanCommit {
            saved: commit(&saved.revision),
            now: commit(&desired.revision),
        });
    }
    if saved.observed_fingerprint != fresh.observed_fingerprint {
        return Err(ReconcileError::SavedPlanFleet);
    }
    Ok(())
}

/// The plan to walk for a saved plan: the one planned now from the same commit and the
/// live fleet, when it is the saved plan exactly (as `plan --out` writes it). A file is
/// never trusted as written: its steps, summary and guard figures are all re-derived, and
/// an edited step is refused. The prune options are the one thing a saved plan carries
/// that git does not (`plan --prune --out` then `apply --plan`), so each is tried; none of
/// them can plan a step git and the live fleet do not call for.
pub fn verify_saved(
    saved: &Plan,
    desired: &Desired,
    observed: &crate::observe::Observed,
    settings: &PlanSettings,
    fresh: Plan,
) -> Result<Plan, ReconcileError> {
    check_saved(saved, desired, &fresh)?;
    let written = crate::render::json(saved);
    if crate::render::json(&fresh) == written {
        return Ok(fresh);
    }
    let base = settings.options(desired);
    for (prune, delete_workspaces) in [(base.prune, true), (true, false), (true, true)] {
        let options = crate::plan::PlanOptions {
            prune,
            delete_workspaces,
        };
        if options == base {
            continue;
        }
        let candidate = crate::plan::plan(desired, observed, &options);
        if crate::render::json(&candidate) == written {
            return Ok(candidate);
        }
    }
    Err(ReconcileError::SavedPlanEdited {
        commit: desired
            .revision
            .as_ref()
            .map(|revision| revision.commit.clone()),
    })
}

#[cfg(all(test, feature = "docker"))]
mod panics;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::test_support::{desired_of, fleet_files};
    use crate::observe::Observed;

    fn unreachable() -> BackendError {
        BackendError::Connect {
            address: "unix:///nowhere.sock".to_owned(),
            source: "connection refused".into(),
        }
    }

    fn image_missing() -> BackendError {
        BackendError::ImageMissing {
            image: "hiclaw/worker:v9".to_owned(),
        }
    }

    #[test]
    fn only_what_the_commit_causes_blames_it_and_only_backend_hiccups_are_transient() {
        let cases = [
            (ReconcileError::OpenBackend(unreachable()), true, false),
            (ReconcileError::Observe(unreachable()), true, false),
            (ReconcileError::Prepare(unreachable()), true, false),
            (ReconcileError::Prepare(image_missing()), false, true),
            (ReconcileError::Observe(image_missing()), false, false),
            (
                ReconcileError::MassDeletion(MassDeletion {
                    count: 3,
                    fleet_size: 4,
                    limit_percent: 10,
                    groups: vec!["alpha".to_owned()],
                }),
                false,
                true,
            ),
            (ReconcileError::SavedPlanFleet, false, true),
            (
                ReconcileError::SavedPlanEdited { commit: None },
                false,
                true,
            ),
            (ReconcileError::NotConfirmed, false, true),
            (ReconcileError::LockLost(unreachable()), true, false),
            (
                ReconcileError::Panicked {
                    message: "attempt to add with overflow".to_owned(),
                },
                false,
                true,
            ),
        ];
        for (error, transient, blamed) in cases {
            assert_eq!(error.is_transient(), transient, "{error:?}");
            assert_eq!(error.blames_the_commit(), blamed, "{error:?}");
        }
    }

    #[test]
    fn a_saved_plan_is_refused_when_the_commit_or_the_fleet_moved() {
        let desired = desired_of(&fleet_files());
        let options = crate::plan::PlanOptions::default();
        let fresh = crate::plan::plan(&desired, &Observed::empty(), &options);
        assert!(check_saved(&fresh, &desired, &fresh).is_ok());
        let mut other_commit = fresh.clone();
        other_commit.revision = Some(crate::source::Revision {
            commit: "0".repeat(40),
            subject: "elsewhere".to_owned(),
        });
        assert!(matches!(
            check_saved(&other_commit, &desired, &fresh),
            Err(ReconcileError::SavedPlanCommit { .. })
        ));
        let mut moved = fresh.clone();
        moved.observed_fingerprint = "moved".to_owned();
        assert!(matches!(
            check_saved(&moved, &desired, &fresh),
            Err(ReconcileError::SavedPlanFleet)
        ));
    }

    #[test]
    fn a_saved_plan_runs_only_as_clawops_plans_it_now() {
        let desired = desired_of(&fleet_files());
        let observed = Observed::empty();
        let settings = PlanSettings::default();
        let fresh = || crate::plan::plan(&desired, &observed, &settings.options(&desired));
        let verify = |saved: &Plan| verify_saved(saved, &desired, &observed, &settings, fresh());
        assert_eq!(verify(&fresh()).expect("as written"), fresh());
        // A create turned into a delete of an agent git still has.
        let mut edited = fresh();
        edited.steps[0].op = Op::DeleteAgent;
        assert!(matches!(
            verify(&edited),
            Err(ReconcileError::SavedPlanEdited { .. })
        ));
        // A step taken out, or the guard's figures lowered: the file's own summary is
        // never what the guard reads.
        let mut shorter = fresh();
        shorter.steps.pop();
        assert!(verify(&shorter).is_err());
        let mut summary = fresh();
        summary.summary.create = 0;
        assert!(verify(&summary).is_err());
    }

    #[test]
    fn a_saved_plan_made_with_prune_is_re_derived_with_prune() {
        let all = desired_of(&fleet_files());
        let observed = Observed::from_desired(&all);
        let files: Vec<_> = fleet_files()
            .into_iter()
            .filter(|(path, _)| path != "pilot.yaml")
            .collect();
        let desired = desired_of(&files);
        let settings = PlanSettings::default();
        let pruned = crate::plan::PlanOptions {
            prune: true,
            delete_workspaces: false,
        };
        let saved = crate::plan::plan(&desired, &observed, &pruned);
        assert!(saved.steps.iter().any(|step| step.op == Op::DeleteAgent));
        let kept = crate::plan::plan(&desired, &observed, &settings.options(&desired));
        let run = verify_saved(&saved, &desired, &observed, &settings, kept).expect("re-derived");
        assert_eq!(run, saved);
    }

    #[test]
    fn concurrency_covers_every_team_side_by_side_and_never_drops_below_the_floor() {
        let mut desired = desired_of(&fleet_files());
        assert_eq!(concurrency(&desired), MIN_CONCURRENCY);
        desired.teams_in_parallel = 10;
        for settings in desired.rollout.values_mut() {
            settings.max_unavailable = 5;
        }
        assert_eq!(concurrency(&desired), 50);
        // Settings past validation's bounds (a Desired built in code) cannot overflow the
        // walk's semaphore.
        desired.teams_in_parallel = u32::MAX;
        for settings in desired.rollout.values_mut() {
            settings.max_unavailable = u32::MAX;
        }
        assert_eq!(concurrency(&desired), MAX_CONCURRENCY);
    }
}
