//! The daemon's view of a rollout: each wave and step logged, and the rollout's progress
//! shown in `GET /status`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::RwLock;

use super::status::{DaemonStatus, Rollout};
use crate::apply::{Progress, StepOutcome};
use crate::plan::{Plan, Step, Wave};

/// Shows the rollout in `/status` and logs each step.
pub struct StatusProgress {
    status: Arc<RwLock<DaemonStatus>>,
    commit: String,
    done: AtomicUsize,
    started_at: u64,
}

impl StatusProgress {
    /// Progress of applying `commit`, started at `started_at` (Unix seconds).
    pub fn new(status: Arc<RwLock<DaemonStatus>>, commit: &str, started_at: u64) -> Self {
        Self {
            status,
            commit: commit.to_owned(),
            done: AtomicUsize::new(0),
            started_at,
        }
    }
}

impl Progress for StatusProgress {
    fn wave_started(&self, wave: &Wave, plan: &Plan) {
        tracing::info!(
            wave = wave.index + 1,
            waves = plan.waves.len(),
            steps = wave.steps.len(),
            "wave started"
        );
        if let Ok(mut status) = self.status.try_write() {
            let rollout = status.rollout.get_or_insert_with(|| Rollout {
                commit: self.commit.clone(),
                started_at: self.started_at,
                steps_total: plan.steps.len(),
                steps_done: 0,
            });
            rollout.steps_total = plan.steps.len();
            rollout.steps_done = self.done.load(Ordering::SeqCst);
        }
    }

    fn step_finished(&self, step: &Step, outcome: &StepOutcome) {
        let done = self.done.fetch_add(1, Ordering::SeqCst) + 1;
        tracing::info!(
            op = step.op.verb(),
            agent = %step.resource,
            outcome = %outcome.outcome,
            elapsed_milliseconds = outcome.elapsed_milliseconds,
            "step"
        );
        if let Ok(mut status) = self.status.try_write()
            && let Some(rollout) = status.rollout.as_mut()
        {
            rollout.steps_done = done;
        }
    }

    fn wave_finished(&self, _wave: &Wave) {}
}
