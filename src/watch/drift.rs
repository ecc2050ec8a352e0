//! Between commits the daemon compares the fleet with the last good commit: what a plan
//! would change is drift, reported in `/status` and the metrics, and corrected with
//! `--self-heal`.

use super::daemon::{Applied, Daemon, short};
use super::metrics::ReconcileResult;
use super::status::DriftedAgent;
use crate::engine::{self, Reconciled};
use crate::plan::{Op, Plan};
use crate::printer::chain;

impl Daemon {
    /// Compares the fleet with the last good commit; reports drift, corrects it with
    /// `--self-heal`. Returns the cycle's result.
    pub(super) async fn check_drift(&mut self) -> ReconcileResult {
        if !self.load_applied().await {
            return ReconcileResult::Error;
        }
        let Some(applied) = self.applied.as_ref() else {
            return ReconcileResult::Error;
        };
        self.notices.follow(&applied.loaded);
        let (loaded, commit) = (&applied.loaded, applied.commit.clone());
        let observed = match engine::observe_fleet(loaded, &self.connection).await {
            Ok(observed) => observed,
            Err(error) => {
                tracing::warn!(error = %chain(&error), "could not observe the fleet");
                return ReconcileResult::Error;
            }
        };
        let options = self.settings.plan.options(&loaded.desired);
        let plan = crate::plan::plan(&loaded.desired, &observed, &options);
        let drift = drifted_agents(&plan);
        self.shared.metrics.set_drifted(drift.len() as i64);
        for agent in &drift {
            tracing::warn!(agent = %agent.agent, cause = %agent.cause, "drift");
        }
        self.shared.status.write().await.drift = drift.clone();
        self.notices
            .tell_drift(&commit, &drift, self.settings.self_heal);
        if drift.is_empty() || !self.settings.self_heal {
            return ReconcileResult::NoChange;
        }
        tracing::info!(
            commit = short(&commit),
            agents = drift.len(),
            decision = "self-heal",
            "correcting drift"
        );
        let outcome = match self.reconcile(loaded, &commit).await {
            Ok(Reconciled::Applied { report, .. }) if report.succeeded() => {
                ReconcileResult::Applied
            }
            Ok(Reconciled::NoChanges) => ReconcileResult::NoChange,
            Ok(Reconciled::Applied { .. }) => ReconcileResult::Failed,
            Err(_) => ReconcileResult::Error,
        };
        if matches!(
            outcome,
            ReconcileResult::Applied | ReconcileResult::NoChange
        ) {
            self.shared.status.write().await.drift.clear();
            self.shared.metrics.set_drifted(0);
            self.notices.forget_drift();
        }
        outcome
    }

    /// After a restart, reads the last good commit's desired state again (from the cache);
    /// `false` when there is none or it cannot be read.
    async fn load_applied(&mut self) -> bool {
        let Some(last) = self.memory.last_applied.clone() else {
            return false;
        };
        if self
            .applied
            .as_ref()
            .is_some_and(|applied| applied.commit == last.commit)
        {
            return true;
        }
        let mut source = self.settings.source.clone();
        source.revision = Some(last.commit.clone());
        let Some(snapshot) = self.fetch(source).await else {
            return false;
        };
        let Ok(loaded) = engine::check(snapshot, self.connection.backend) else {
            return false;
        };
        self.applied = Some(Applied {
            commit: last.commit,
            loaded,
        });
        true
    }
}

/// Agents the plan would change, with their causes: the drift from the applied commit.
fn drifted_agents(plan: &Plan) -> Vec<DriftedAgent> {
    let mut drift: Vec<DriftedAgent> = Vec::new();
    for step in &plan.steps {
        if matches!(step.op, Op::WaitHealthy | Op::KeepAgent) {
            continue;
        }
        let cause = step
            .causes
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        let cause = format!("{}: {cause}", step.op.verb());
        let resource = step.resource.to_string();
        match drift.iter_mut().find(|agent| agent.agent == resource) {
            Some(agent) => agent.cause = format!("{}; {cause}", agent.cause),
            None => drift.push(DriftedAgent {
                agent: resource,
                cause,
            }),
        }
    }
    drift
}
