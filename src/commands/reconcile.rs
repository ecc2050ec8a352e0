//! One reconcile of the live fleet towards a desired state, shared by `clawops apply` and
//! `clawops watch`: look without the lock (an up-to-date fleet needs none), take the lock,
//! settle an interrupted apply, observe, plan, confirm, prepare, walk the waves.

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use super::Context;
use crate::apply::{ApplyOptions, ApplyReport, Progress};
use crate::backend::{Backend, BackendError};
use crate::desired::Desired;
use crate::plan::{Op, Plan, PlanOptions};

/// Agents of one wave worked on at once, at least: creating and health-gating is mostly
/// waiting on the engine, and the waves already bound how many agents restart together.
const MIN_CONCURRENCY: usize = 32;

/// How one reconcile runs.
pub(crate) struct Reconcile<'a> {
    /// Where plans and reports are printed.
    pub context: &'a Context,
    /// What the fleet should be.
    pub desired: &'a Desired,
    /// The fleet.
    pub backend: &'a dyn Backend,
    /// Delete agents that left git (`--prune`, or `[prune] enabled`).
    pub prune: bool,
    /// Deleting an agent removes its workspace volume too.
    pub prune_volumes: bool,
    /// Let a plan over the blast-radius limit through.
    pub allow_mass_delete: bool,
    /// How long to wait for another apply's lock.
    pub lock_timeout: Duration,
    /// A saved plan to apply exactly (refused when the commit or the fleet moved).
    pub saved: Option<Plan>,
    /// Print the plan before applying it.
    pub show_plan: bool,
    /// Asked with the plan before anything changes.
    pub confirm: &'a (dyn Fn(&Plan) -> bool + Sync),
    /// Told about every wave and step.
    pub progress: &'a dyn Progress,
    /// Set to finish the current step and stop.
    pub stop: &'a AtomicBool,
}

/// What a reconcile did.
#[derive(Debug)]
pub(crate) enum Reconciled {
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

/// Why a reconcile did not walk its plan.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub(crate) enum ReconcileError {
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
    /// The plan was refused (saved plan outdated, blast-radius guard, not confirmed).
    #[error("{reason}")]
    #[diagnostic(code(clawops::apply::refused))]
    Refused {
        /// Why.
        reason: String,
    },
}

impl Reconcile<'_> {
    /// Runs the reconcile.
    pub(crate) async fn run(&self) -> Result<Reconciled, ReconcileError> {
        if self.saved.is_none() && self.already_settled().await {
            return Ok(Reconciled::NoChanges);
        }
        let holder = crate::apply::lock::acquire(self.backend, self.lock_timeout)
            .await
            .map_err(ReconcileError::TakeLock)?;
        crate::apply::lock::hold_while(self.backend, holder, self.locked()).await
    }

    /// Whether the live fleet already is as desired (and no interrupted apply left
    /// anything unsettled): then the lock is not needed, and the empty plan is shown. Any
    /// doubt (an error, a change) goes the locked way, which observes again under the lock.
    async fn already_settled(&self) -> bool {
        let Ok(observed) = self.observe().await else {
            return false;
        };
        let plan = crate::plan::plan(self.desired, &observed, &self.plan_options());
        if plan.summary.has_changes() || !observed.interrupted.is_empty() {
            return false;
        }
        self.print_plan(&plan);
        true
    }

    /// Observes the fleet, and whatever drift the backend finds beyond its records.
    async fn observe(&self) -> Result<crate::observe::Observed, BackendError> {
        let observed = self.backend.observe().await?;
        self.backend.check_drift(self.desired, observed).await
    }

    fn plan_options(&self) -> PlanOptions {
        PlanOptions {
            prune: self.prune || self.desired.prune.enabled,
            delete_workspaces: self.prune_volumes,
        }
    }

    fn print_plan(&self, plan: &Plan) {
        if self.show_plan {
            let printer = &self.context.printer;
            printer.out(&crate::render::text(plan, printer.colour_stdout()));
        }
    }

    /// Everything done under the lock: settle, observe, plan, confirm, prepare, walk.
    async fn locked(&self) -> Result<Reconciled, ReconcileError> {
        // Finish what an interrupted apply left behind (a recreate cut short) before
        // looking at the fleet, so the plan starts from a settled state.
        self.backend
            .prepare(&[])
            .await
            .map_err(ReconcileError::SettleInterrupted)?;
        let observed = self.observe().await.map_err(ReconcileError::Observe)?;
        let fresh = crate::plan::plan(self.desired, &observed, &self.plan_options());
        let plan = match &self.saved {
            Some(saved) => {
                check_saved(saved, self.desired, &fresh)
                    .map_err(|reason| ReconcileError::Refused { reason })?;
                saved.clone()
            }
            None => fresh,
        };
        self.print_plan(&plan);
        if !plan.summary.has_changes() {
            return Ok(Reconciled::NoChanges);
        }
        if let Some(reason) = super::guard_refusal(&plan, self.allow_mass_delete) {
            return Err(ReconcileError::Refused { reason });
        }
        if !(self.confirm)(&plan) {
            return Err(ReconcileError::Refused {
                reason: "not confirmed; nothing was changed".to_owned(),
            });
        }
        self.walk(plan).await
    }

    /// Prepares the backend (images, secrets) and walks the plan's waves.
    async fn walk(&self, plan: Plan) -> Result<Reconciled, ReconcileError> {
        // Images and secrets are checked for every agent that gets a new container.
        let touched: Vec<&crate::desired::Agent> = plan
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
        let width = self.desired.teams_in_parallel.max(1) as usize
            * self
                .desired
                .rollout
                .values()
                .map(|settings| settings.max_unavailable.max(1) as usize)
                .max()
                .unwrap_or(1);
        let options = ApplyOptions {
            concurrency: width.max(MIN_CONCURRENCY),
        };
        let started = Instant::now();
        let report = crate::apply::apply(
            self.backend,
            self.desired,
            &plan,
            &options,
            self.progress,
            self.stop,
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

/// Checks that a saved plan still matches what would be planned now.
pub(crate) fn check_saved(saved: &Plan, desired: &Desired, fresh: &Plan) -> Result<(), String> {
    let commit = |plan_revision: &Option<crate::source::Revision>| {
        plan_revision
            .as_ref()
            .map(|revision| revision.commit.clone())
    };
    if commit(&saved.revision) != commit(&desired.revision) {
        return Err(format!(
            "refused: the saved plan was made from commit {}, but the source is now at {}; plan again",
            commit(&saved.revision).unwrap_or_else(|| "(none)".to_owned()),
            commit(&desired.revision).unwrap_or_else(|| "(none)".to_owned())
        ));
    }
    if saved.observed_fingerprint != fresh.observed_fingerprint {
        return Err(
            "refused: the live fleet changed since the plan was saved; plan again".to_owned(),
        );
    }
    Ok(())
}
