//! What walking a plan did: one [`Outcome`] per step, and a [`StepError`] for every step
//! that failed, kept as a typed error (not a message) so callers can tell a transient
//! failure from one that retrying will not fix.

use std::sync::Arc;

use crate::backend::BackendError;
use crate::plan::Resource;
use crate::printer::chain;

/// Why a step failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum StepError {
    /// The plan names a resource the desired state does not have (a saved plan out of
    /// step with the commit).
    #[error("{resource} is not in the desired state")]
    #[diagnostic(code(clawops::apply::find_resource))]
    FindResource {
        /// The resource the step names.
        resource: Resource,
    },
    /// The backend operation failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Backend(#[from] BackendError),
    /// The health gate failed, and restoring the previous container failed too.
    #[error("{}; rollback failed: {}", chain(.failure.as_ref()), chain(.rollback.as_ref()))]
    #[diagnostic(code(clawops::apply::roll_back))]
    RollBack {
        /// Why the gate failed.
        failure: Box<BackendError>,
        /// Why the rollback failed.
        rollback: Box<BackendError>,
    },
}

impl StepError {
    /// Whether trying the step again later may succeed (the backend was unreachable or
    /// answered with a transient failure).
    pub fn is_transient(&self) -> bool {
        match self {
            StepError::Backend(error) => error.is_transient(),
            StepError::FindResource { .. } | StepError::RollBack { .. } => false,
        }
    }
}

/// What happened to one step.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// The step succeeded.
    Done,
    /// The step failed.
    Failed(Arc<StepError>),
    /// The step failed and the agent's previous container was restored.
    RolledBack(Arc<StepError>),
    /// The rollout stopped before this step.
    NotAttempted,
}

impl std::fmt::Display for Outcome {
    /// `done`, `failed: <error and its causes>`, `rolled back: …`, `not attempted`.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Done => formatter.write_str("done"),
            Outcome::Failed(error) => write!(formatter, "failed: {}", chain(error.as_ref())),
            Outcome::RolledBack(error) => {
                write!(formatter, "rolled back: {}", chain(error.as_ref()))
            }
            Outcome::NotAttempted => formatter.write_str("not attempted"),
        }
    }
}

impl Outcome {
    /// Whether the step succeeded.
    pub fn is_done(&self) -> bool {
        matches!(self, Outcome::Done)
    }

    /// Whether the step never began.
    pub fn is_not_attempted(&self) -> bool {
        matches!(self, Outcome::NotAttempted)
    }

    /// Why the step failed (also when it was rolled back).
    pub fn error(&self) -> Option<&StepError> {
        match self {
            Outcome::Failed(error) | Outcome::RolledBack(error) => Some(error),
            Outcome::Done | Outcome::NotAttempted => None,
        }
    }

    /// A failure of `error`.
    pub(super) fn failed(error: impl Into<StepError>) -> Self {
        Outcome::Failed(Arc::new(error.into()))
    }
}

/// One step's outcome.
#[derive(Clone, Debug)]
pub struct StepOutcome {
    /// The step's id in the plan.
    pub step: usize,
    /// What happened.
    pub outcome: Outcome,
    /// How long it took.
    pub elapsed_milliseconds: u64,
}

/// What an apply did.
#[derive(Clone, Debug, Default)]
pub struct ApplyReport {
    /// One outcome per plan step, in step order.
    pub outcomes: Vec<StepOutcome>,
    /// The rollout stopped early (failed gate or stop request).
    pub stopped_early: bool,
}

impl ApplyReport {
    /// Whether every step succeeded.
    pub fn succeeded(&self) -> bool {
        !self.stopped_early
            && self
                .outcomes
                .iter()
                .all(|outcome| outcome.outcome.is_done())
    }

    /// Counts of (done, failed or rolled back, not attempted).
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut counts = (0, 0, 0);
        for outcome in &self.outcomes {
            match outcome.outcome {
                Outcome::Done => counts.0 += 1,
                Outcome::Failed(_) | Outcome::RolledBack(_) => counts.1 += 1,
                Outcome::NotAttempted => counts.2 += 1,
            }
        }
        counts
    }

    /// The first step that failed, with its outcome.
    pub fn first_failure(&self) -> Option<&StepOutcome> {
        self.outcomes
            .iter()
            .find(|outcome| outcome.outcome.error().is_some())
    }

    /// Whether the first failure was rolled back (its agent put back as it was).
    pub fn rolled_back(&self) -> bool {
        self.first_failure()
            .is_some_and(|failure| matches!(failure.outcome, Outcome::RolledBack(_)))
    }
}
