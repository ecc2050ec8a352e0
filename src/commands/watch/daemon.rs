//! The follow loop: every interval (or at once after a verified webhook) fetch the branch;
//! apply a new commit that validates, quarantine one that does not or whose rollout fails;
//! otherwise look for drift from the last good commit and, with `--self-heal`, correct it.
//! One log line per decision.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{Notify, RwLock};

use super::WatchSettings;
use crate::apply::{Outcome, Progress, StepOutcome};
use crate::commands::Context;
use crate::commands::reconcile::{Reconcile, ReconcileError, Reconciled};
use crate::desired::Desired;
use crate::plan::{Op, Plan, Step, Wave};
use crate::source::Snapshot;
use crate::watch::http::{self, Shared};
use crate::watch::memory::{Decision, Memory};
use crate::watch::metrics::{Metrics, ReconcileResult};
use crate::watch::status::{CommitAt, DaemonStatus, DriftedAgent, Rollout};

/// Seconds since the Unix epoch.
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default()
}

/// The first twelve characters of a commit id, for log lines.
fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}

/// `interval` give or take a tenth, so many daemons do not fetch in step.
fn jittered(interval: Duration) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or_default();
    let factor = 0.9 + f64::from(nanos % 1000) / 5000.0;
    interval.mul_f64(factor)
}

/// The desired state of the last good commit (drift is measured against it).
struct Applied {
    commit: String,
    desired: Desired,
    config: crate::spec::Config,
}

/// The daemon's state while it runs.
struct Daemon<'a> {
    context: &'a Context,
    settings: WatchSettings,
    shared: Shared,
    memory: Memory,
    applied: Option<Applied>,
    stop: Arc<AtomicBool>,
}

/// Runs the daemon until SIGTERM or Ctrl-C.
pub(super) async fn run(context: &Context, settings: WatchSettings) -> ExitCode {
    let memory = match Memory::load(&settings.state_file) {
        Ok(memory) => memory,
        Err(error) => {
            context.printer.error(&error);
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(settings.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            context
                .printer
                .err(&format!("could not listen on {}: {error}", settings.listen));
            return ExitCode::FAILURE;
        }
    };
    let shared = Shared {
        status: Arc::new(RwLock::new(DaemonStatus {
            remote: settings.shown_remote.clone(),
            branch: settings.branch.clone(),
            path: settings.source.subfolder.clone(),
            self_heal: settings.self_heal,
            last_applied: memory.last_applied.clone(),
            failed: memory.failed.clone(),
            ..Default::default()
        })),
        metrics: Arc::new(Metrics::new()),
        wake: Arc::new(Notify::new()),
        webhook_secret: settings.webhook_secret.clone().map(Arc::new),
        branch: settings.branch.clone(),
    };
    if let Some(applied) = &memory.last_applied {
        shared.metrics.set_last_applied(&applied.commit);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let shutdown = Arc::new(Notify::new());
    spawn_signal_handler(Arc::clone(&stop), Arc::clone(&shutdown));
    let server_shutdown = Arc::new(Notify::new());
    let server = {
        let notified = Arc::clone(&server_shutdown);
        tokio::spawn(http::serve(listener, shared.clone(), async move {
            notified.notified().await;
        }))
    };
    tracing::info!(
        remote = %settings.shown_remote,
        branch = %settings.branch,
        listen = %settings.listen,
        interval_seconds = settings.interval.as_secs_f64(),
        webhook = settings.webhook_secret.is_some(),
        self_heal = settings.self_heal,
        "watching"
    );
    let mut daemon = Daemon {
        context,
        settings,
        shared,
        memory,
        applied: None,
        stop,
    };
    daemon.follow(&shutdown).await;
    server_shutdown.notify_one();
    let _ = server.await;
    tracing::info!("stopped");
    ExitCode::SUCCESS
}

/// SIGTERM or Ctrl-C: finish the current step, release the lock, stop.
fn spawn_signal_handler(stop: Arc<AtomicBool>, shutdown: Arc<Notify>) {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let Ok(mut terminate) = signal(SignalKind::terminate()) else {
                return;
            };
            tokio::select! {
                _ = terminate.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("stop requested: finishing the current step");
        stop.store(true, Ordering::SeqCst);
        shutdown.notify_one();
    });
}

impl Daemon<'_> {
    /// The loop: a cycle, then wait for the interval, a webhook, or a stop.
    async fn follow(&mut self, shutdown: &Notify) {
        loop {
            self.cycle().await;
            if self.stop.load(Ordering::SeqCst) {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(jittered(self.settings.interval)) => {}
                _ = self.shared.wake.notified() => {
                    tracing::info!("webhook: fetching now");
                }
                _ = shutdown.notified() => return,
            }
        }
    }

    /// One fetch and what follows from it.
    async fn cycle(&mut self) {
        let Some(snapshot) = self.fetch(self.settings.source.clone()).await else {
            return;
        };
        let Some(revision) = snapshot.revision.clone() else {
            return;
        };
        let head = CommitAt {
            commit: revision.commit.clone(),
            subject: revision.subject.clone(),
            at: now(),
        };
        self.shared.status.write().await.last_fetched = Some(head.clone());
        let started = Instant::now();
        match self.memory.decide(&head.commit) {
            Decision::UpToDate => {
                let result = self.check_drift().await;
                self.record(started, result);
            }
            Decision::Quarantined => {
                tracing::debug!(
                    commit = short(&head.commit),
                    "quarantined commit left alone"
                );
                self.check_drift().await;
                self.record(started, ReconcileResult::Skipped);
            }
            Decision::Apply => self.apply_commit(&snapshot, head).await,
        }
    }

    /// Fetches the remote and reads it at `source.revision`; `None` (logged) on failure.
    async fn fetch(&self, source: crate::source::SourceOptions) -> Option<Snapshot> {
        let started = Instant::now();
        let read = tokio::task::spawn_blocking(move || crate::source::read(&source)).await;
        self.shared
            .metrics
            .observe_fetch(started.elapsed().as_secs_f64());
        match read {
            Ok(Ok(snapshot)) => Some(snapshot),
            Ok(Err(error)) => {
                tracing::warn!(error = %error, "fetch failed; trying again next interval");
                self.shared
                    .metrics
                    .observe_reconcile(0.0, ReconcileResult::Error);
                None
            }
            Err(error) => {
                tracing::error!(error = %error, "fetch task failed");
                None
            }
        }
    }

    /// Validates and applies a new commit; quarantines it when it is invalid, refused, or
    /// its rollout fails.
    async fn apply_commit(&mut self, snapshot: &Snapshot, head: CommitAt) {
        let started = Instant::now();
        let checked = crate::spec::check(snapshot);
        if !checked.is_valid() {
            let reason = invalid_reason(&checked);
            tracing::warn!(
                commit = short(&head.commit),
                decision = "skip",
                reason = %reason,
                "invalid commit skipped; the fleet keeps running what it has"
            );
            self.quarantine(&head.commit, &reason).await;
            self.shared
                .metrics
                .observe_reconcile(started.elapsed().as_secs_f64(), ReconcileResult::Invalid);
            return;
        }
        let desired = crate::desired::resolve(&checked.spec);
        let config = checked.spec.config;
        tracing::info!(
            commit = short(&head.commit),
            subject = %head.subject,
            decision = "apply",
            "new commit"
        );
        let result = self.reconcile(&desired, &config, &head.commit).await;
        let outcome = match result {
            Ok(Reconciled::NoChanges) => ReconcileResult::NoChange,
            Ok(Reconciled::Applied { report, .. }) if report.succeeded() => {
                ReconcileResult::Applied
            }
            Ok(Reconciled::Applied { plan, report, .. }) => {
                let failed = first_failure(&plan, &report.outcomes);
                if failed.is_none() && self.stop.load(Ordering::SeqCst) {
                    // Stopped between steps by SIGTERM: not the commit's fault; the next
                    // start applies it again.
                    tracing::info!(commit = short(&head.commit), "rollout stopped on request");
                    return;
                }
                let (result, reason) =
                    failed.unwrap_or((ReconcileResult::Failed, "rollout stopped".to_owned()));
                tracing::warn!(
                    commit = short(&head.commit),
                    decision = "quarantine",
                    reason = %reason,
                    "rollout failed; commit quarantined until a newer one arrives"
                );
                self.quarantine(&head.commit, &reason).await;
                self.record(started, result);
                return;
            }
            Err(error @ (ReconcileError::Prepare(_) | ReconcileError::Refused { .. })) => {
                let reason = crate::printer::chain(&error);
                tracing::warn!(
                    commit = short(&head.commit),
                    decision = "quarantine",
                    reason = %reason,
                    "commit refused; quarantined until a newer one arrives"
                );
                self.quarantine(&head.commit, &reason).await;
                self.record(started, ReconcileResult::Failed);
                return;
            }
            Err(error) => {
                tracing::warn!(
                    commit = short(&head.commit),
                    error = %crate::printer::chain(&error),
                    "could not reconcile; trying again next interval"
                );
                self.record(started, ReconcileResult::Error);
                return;
            }
        };
        self.record(started, outcome);
        self.mark_applied(head, desired, config).await;
    }

    /// Records a reconcile's duration and result.
    fn record(&self, started: Instant, result: ReconcileResult) {
        self.shared
            .metrics
            .observe_reconcile(started.elapsed().as_secs_f64(), result);
    }

    /// `head` runs now: remembered (on disk too), drift cleared.
    async fn mark_applied(
        &mut self,
        head: CommitAt,
        desired: Desired,
        config: crate::spec::Config,
    ) {
        tracing::info!(
            commit = short(&head.commit),
            "applied; this is the last good commit"
        );
        self.memory.record_applied(head.clone());
        self.save_memory();
        self.shared.metrics.set_last_applied(&head.commit);
        self.shared.metrics.set_drifted(0);
        {
            let mut status = self.shared.status.write().await;
            status.last_applied = Some(head.clone());
            status.failed = self.memory.failed.clone();
            status.drift.clear();
        }
        self.applied = Some(Applied {
            commit: head.commit,
            desired,
            config,
        });
    }

    /// `commit` failed: remembered (on disk too) and shown.
    async fn quarantine(&mut self, commit: &str, reason: &str) {
        self.memory.record_failed(commit, reason, now());
        self.save_memory();
        self.shared.status.write().await.failed = self.memory.failed.clone();
    }

    fn save_memory(&self) {
        if let Err(error) = self.memory.save(&self.settings.state_file) {
            tracing::error!(error = %crate::printer::chain(&error), "could not save the daemon state");
        }
    }

    /// Applies `desired` under the lock, with the rollout shown in the status.
    async fn reconcile(
        &self,
        desired: &Desired,
        config: &crate::spec::Config,
        commit: &str,
    ) -> Result<Reconciled, ReconcileError> {
        let backend = crate::commands::live::open(self.context, config, &desired.fleet)
            .await
            .map_err(|error| match error {
                // This build cannot apply the commit's backend: the commit is refused.
                crate::backend::BackendError::Unavailable { .. } => ReconcileError::Refused {
                    reason: error.to_string(),
                },
                error => ReconcileError::Observe(error),
            })?;
        let progress = StatusProgress {
            status: Arc::clone(&self.shared.status),
            commit: commit.to_owned(),
            done: AtomicUsize::new(0),
        };
        let confirm = |_: &Plan| true;
        let reconcile = Reconcile {
            context: self.context,
            desired,
            backend: backend.as_ref(),
            prune: self.settings.prune,
            prune_volumes: self.settings.prune_volumes,
            allow_mass_delete: false,
            lock_timeout: self.settings.lock_timeout,
            saved: None,
            show_plan: false,
            confirm: &confirm,
            progress: &progress,
            stop: &self.stop,
        };
        let result = reconcile.run().await;
        self.shared.status.write().await.rollout = None;
        result
    }

    /// Compares the fleet with the last good commit; reports drift, corrects it with
    /// `--self-heal`. Returns the cycle's result.
    async fn check_drift(&mut self) -> ReconcileResult {
        if !self.load_applied().await {
            return ReconcileResult::Error;
        }
        let Some(applied) = self.applied.as_ref() else {
            return ReconcileResult::Error;
        };
        let Ok(backend) =
            crate::commands::live::open(self.context, &applied.config, &applied.desired.fleet)
                .await
        else {
            tracing::warn!("could not open the backend to look for drift");
            return ReconcileResult::Error;
        };
        let observed = async {
            let observed = backend.observe().await?;
            backend.check_drift(&applied.desired, observed).await
        };
        let observed = match observed.await {
            Ok(observed) => observed,
            Err(error) => {
                tracing::warn!(error = %crate::printer::chain(&error), "could not observe the fleet");
                return ReconcileResult::Error;
            }
        };
        let options = crate::plan::PlanOptions {
            prune: self.settings.prune || applied.desired.prune.enabled,
            delete_workspaces: self.settings.prune_volumes,
        };
        let plan = crate::plan::plan(&applied.desired, &observed, &options);
        let drift = drifted_agents(&plan);
        self.shared.metrics.set_drifted(drift.len() as i64);
        for agent in &drift {
            tracing::warn!(agent = %agent.agent, cause = %agent.cause, "drift");
        }
        self.shared.status.write().await.drift = drift.clone();
        if drift.is_empty() || !self.settings.self_heal {
            return ReconcileResult::NoChange;
        }
        let commit = applied.commit.clone();
        tracing::info!(
            commit = short(&commit),
            agents = drift.len(),
            decision = "self-heal",
            "correcting drift"
        );
        let result = self
            .reconcile(&applied.desired, &applied.config, &commit)
            .await;
        let outcome = match result {
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
        let checked = crate::spec::check(&snapshot);
        if !checked.is_valid() {
            return false;
        }
        self.applied = Some(Applied {
            commit: last.commit,
            desired: crate::desired::resolve(&checked.spec),
            config: checked.spec.config,
        });
        true
    }
}

/// One line saying why a commit is invalid: the count and the first problem.
fn invalid_reason(checked: &crate::spec::Checked) -> String {
    let first = checked
        .diagnostics
        .iter()
        .find(|diagnostic| diagnostic.is_error())
        .map(|diagnostic| {
            format!(
                "; first: {}:{}:{} [{}] {}",
                diagnostic.file,
                diagnostic.line,
                diagnostic.column,
                diagnostic.code,
                diagnostic.message
            )
        })
        .unwrap_or_default();
    format!("invalid: {} error(s){first}", checked.error_count())
}

/// The first failed step of a rollout: its metric result and a one-line reason.
fn first_failure(plan: &Plan, outcomes: &[StepOutcome]) -> Option<(ReconcileResult, String)> {
    outcomes.iter().find_map(|outcome| {
        let step = plan.steps.get(outcome.step)?;
        let describe = |error: &crate::apply::StepError| {
            format!(
                "{} {}: {}",
                step.op.verb(),
                step.resource,
                crate::printer::chain(error)
            )
        };
        match &outcome.outcome {
            Outcome::Failed(error) => Some((ReconcileResult::Failed, describe(error))),
            Outcome::RolledBack(error) => Some((ReconcileResult::RolledBack, describe(error))),
            Outcome::Done | Outcome::NotAttempted => None,
        }
    })
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

/// Shows the rollout in `/status` and logs each step.
struct StatusProgress {
    status: Arc<RwLock<DaemonStatus>>,
    commit: String,
    done: AtomicUsize,
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
                started_at: now(),
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
            outcome = ?outcome.outcome,
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
