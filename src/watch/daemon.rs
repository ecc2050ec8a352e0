//! The follow loop: every interval (or at once after a verified webhook) fetch the branch;
//! apply a new commit that validates, quarantine one that does not or whose rollout fails;
//! otherwise look for drift from the last good commit and, with `--self-heal`, correct it.
//! Transient failures are tried again with backoff instead ([`super::retry`]). One log
//! line per decision. Every load, observe and reconcile goes through [`crate::engine`].
//! A panic while checking or reconciling a new commit (a bug) quarantines that commit
//! like a failed rollout, the apply lock released, instead of ending the daemon.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{Notify, RwLock};

use super::http::{self, Shared};
use super::memory::{Decision, Memory, MemoryError};
use super::metrics::{Metrics, ReconcileResult};
use super::notices::Notices;
use super::progress::StatusProgress;
use super::retry::{self, Backoff};
use super::settings::WatchSettings;
use super::status::{CommitAt, DaemonStatus};
use crate::engine::{self, Connection, LoadError, Loaded, Reconcile, ReconcileError, Reconciled};
use crate::notify::{Announce, Origin};
use crate::printer::chain;
use crate::source::Snapshot;

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum DaemonError {
    /// Its memory file is unreadable.
    #[error(transparent)]
    #[diagnostic(transparent)]
    LoadMemory(#[from] MemoryError),
    /// The server address cannot be bound.
    #[error("could not listen on {address}")]
    #[diagnostic(
        code(clawops::watch::listen),
        help("choose another address with --listen, or stop what uses this one")
    )]
    Listen {
        /// The address.
        address: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Seconds since the Unix epoch.
pub(super) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default()
}

/// The first twelve characters of a commit id, for log lines.
pub(super) fn short(commit: &str) -> &str {
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
pub(super) struct Applied {
    pub commit: String,
    pub loaded: Loaded,
}

/// The daemon's state while it runs.
pub(super) struct Daemon {
    pub settings: WatchSettings,
    pub connection: Connection,
    pub shared: Shared,
    pub memory: Memory,
    pub applied: Option<Applied>,
    pub stop: Arc<AtomicBool>,
    pub backoff: Backoff,
    pub notices: Notices,
}

/// Runs the daemon until SIGTERM or Ctrl-C.
pub async fn run(settings: WatchSettings, connection: Connection) -> Result<(), DaemonError> {
    let memory = Memory::load(&settings.state_file)?;
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|source| DaemonError::Listen {
            address: settings.listen,
            source,
        })?;
    let shared = shared_state(&settings, &memory);
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
    let notices = Notices::new(settings.notify_environment.clone());
    let mut daemon = Daemon {
        settings,
        connection,
        shared,
        memory,
        applied: None,
        stop,
        backoff: Backoff::default(),
        notices,
    };
    daemon.follow(&shutdown).await;
    daemon.notices.finish().await;
    server_shutdown.notify_one();
    let _ = server.await;
    tracing::info!("stopped");
    Ok(())
}

/// What the server and the loop share, starting from what the daemon remembers.
fn shared_state(settings: &WatchSettings, memory: &Memory) -> Shared {
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
    shared
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

impl Daemon {
    /// The loop: a cycle, then wait for the interval (or the backoff after a transient
    /// failure), a webhook, or a stop.
    async fn follow(&mut self, shutdown: &Notify) {
        loop {
            let result = self.cycle().await;
            if result == ReconcileResult::Error {
                self.backoff.failed();
            } else {
                self.backoff.reset();
            }
            if self.stop.load(Ordering::SeqCst) {
                return;
            }
            let wait = match self.backoff.delay(self.settings.interval) {
                Some(delay) => {
                    tracing::info!(
                        failures = self.backoff.failures(),
                        retry_in_seconds = delay.as_secs_f64(),
                        "transient failure; trying again"
                    );
                    delay
                }
                None => jittered(self.settings.interval),
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.shared.wake.notified() => {
                    tracing::info!("webhook: fetching now");
                }
                _ = shutdown.notified() => return,
            }
        }
    }

    /// One fetch and what follows from it.
    async fn cycle(&mut self) -> ReconcileResult {
        let started = Instant::now();
        let Some(snapshot) = self.fetch(self.settings.source.clone()).await else {
            self.record(started, ReconcileResult::Error);
            return ReconcileResult::Error;
        };
        let Some(revision) = snapshot.revision.clone() else {
            return ReconcileResult::Skipped;
        };
        let head = CommitAt {
            commit: revision.commit.clone(),
            subject: revision.subject.clone(),
            at: now(),
        };
        self.shared.status.write().await.last_fetched = Some(head.clone());
        let result = match self.memory.decide(&head.commit) {
            Decision::UpToDate => self.check_drift().await,
            Decision::Quarantined => {
                tracing::debug!(
                    commit = short(&head.commit),
                    "quarantined commit left alone"
                );
                self.check_drift().await;
                ReconcileResult::Skipped
            }
            Decision::Apply => self.apply_commit(snapshot, head).await,
        };
        self.record(started, result);
        result
    }

    /// Fetches the remote and reads it at `source.revision`; `None` (logged) on failure.
    pub(super) async fn fetch(&self, source: crate::source::SourceOptions) -> Option<Snapshot> {
        let started = Instant::now();
        let read = tokio::task::spawn_blocking(move || crate::source::read(&source)).await;
        self.shared
            .metrics
            .observe_fetch(started.elapsed().as_secs_f64());
        match read {
            Ok(Ok(snapshot)) => Some(snapshot),
            Ok(Err(error)) => {
                tracing::warn!(error = %chain(&error), "fetch failed; trying again");
                None
            }
            Err(error) => {
                tracing::error!(error = %error, "fetch task failed");
                None
            }
        }
    }

    /// Validates and applies a new commit; quarantines it when it is invalid, refused, or
    /// its rollout fails for a reason retrying will not fix.
    async fn apply_commit(&mut self, snapshot: Snapshot, head: CommitAt) -> ReconcileResult {
        let backend = self.connection.backend;
        let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            engine::check(snapshot, backend)
        }));
        let checked = match checked {
            Ok(checked) => checked,
            Err(panic) => {
                let error = ReconcileError::Panicked {
                    message: engine::reconcile::panic_message(panic.as_ref()),
                };
                return self
                    .judge(&head.commit, Err(error))
                    .await
                    .unwrap_or(ReconcileResult::Failed);
            }
        };
        let loaded = match checked {
            Ok(loaded) => loaded,
            Err(LoadError::CheckSpec(invalid)) => {
                let reason = invalid.first_error();
                tracing::warn!(
                    commit = short(&head.commit),
                    decision = "skip",
                    reason = %reason,
                    "invalid commit skipped; the fleet keeps running what it has"
                );
                self.quarantine(&head.commit, &reason).await;
                return ReconcileResult::Invalid;
            }
            Err(error @ LoadError::ReadSource(_)) => {
                tracing::warn!(error = %chain(&error), "could not read the commit; trying again");
                return ReconcileResult::Error;
            }
        };
        tracing::info!(
            commit = short(&head.commit),
            subject = %head.subject,
            decision = "apply",
            "new commit"
        );
        self.notices.follow(&loaded);
        let result = self.reconcile(&loaded, &head.commit).await;
        match self.judge(&head.commit, result).await {
            Some(result) => {
                if matches!(result, ReconcileResult::Applied | ReconcileResult::NoChange) {
                    self.mark_applied(head, loaded).await;
                }
                result
            }
            None => ReconcileResult::Skipped,
        }
    }

    /// What a reconcile of a new commit means for it: applied, quarantined, or to be tried
    /// again; `None` when a stop request cut the rollout short (the next start applies it).
    async fn judge(
        &mut self,
        commit: &str,
        result: Result<Reconciled, ReconcileError>,
    ) -> Option<ReconcileResult> {
        let (result, reason) = match result {
            Ok(Reconciled::NoChanges) => return Some(ReconcileResult::NoChange),
            Ok(Reconciled::Applied { report, .. }) if report.succeeded() => {
                return Some(ReconcileResult::Applied);
            }
            Ok(Reconciled::Applied { plan, report, .. }) => {
                let failure = report.first_failure();
                if failure.is_none() && self.stop.load(Ordering::SeqCst) {
                    tracing::info!(commit = short(commit), "rollout stopped on request");
                    return None;
                }
                let reason = failure
                    .and_then(|failure| engine::report::step_failure(&plan, failure))
                    .unwrap_or_else(|| "rollout stopped".to_owned());
                if retry::transient_rollout(&report) {
                    tracing::warn!(commit = short(commit), reason = %reason, "rollout failed for a transient reason; trying again");
                    return Some(ReconcileResult::Error);
                }
                let result = if report.rolled_back() {
                    ReconcileResult::RolledBack
                } else {
                    ReconcileResult::Failed
                };
                (result, reason)
            }
            Err(error) if !error.blames_the_commit() => {
                tracing::warn!(
                    commit = short(commit),
                    error = %chain(&error),
                    "could not reconcile; trying again"
                );
                return Some(ReconcileResult::Error);
            }
            Err(error) => (ReconcileResult::Failed, chain(&error)),
        };
        tracing::warn!(
            commit = short(commit),
            decision = "quarantine",
            reason = %reason,
            "commit failed; quarantined until a newer one arrives"
        );
        self.quarantine(commit, &reason).await;
        Some(result)
    }

    /// Records a reconcile's duration and result.
    fn record(&self, started: Instant, result: ReconcileResult) {
        self.shared
            .metrics
            .observe_reconcile(started.elapsed().as_secs_f64(), result);
    }

    /// `head` runs now: remembered (on disk too), drift cleared.
    async fn mark_applied(&mut self, head: CommitAt, loaded: Loaded) {
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
        self.notices.forget_drift();
        self.applied = Some(Applied {
            commit: head.commit,
            loaded,
        });
    }

    /// `commit` failed: remembered (on disk too) and shown.
    async fn quarantine(&mut self, commit: &str, reason: &str) {
        self.tell_quarantined(commit, reason);
        self.memory.record_failed(commit, reason, now());
        self.save_memory();
        self.shared.status.write().await.failed = self.memory.failed.clone();
    }

    fn save_memory(&self) {
        if let Err(error) = self.memory.save(&self.settings.state_file) {
            tracing::error!(error = %chain(&error), "could not save the daemon state");
        }
    }

    /// Applies `loaded` under the lock, with the rollout shown in the status.
    pub(super) async fn reconcile(
        &self,
        loaded: &Loaded,
        commit: &str,
    ) -> Result<Reconciled, ReconcileError> {
        let backend = engine::open(&loaded.config, &self.connection, &loaded.desired.fleet)
            .await
            .map_err(ReconcileError::OpenBackend)?;
        let progress = StatusProgress::new(Arc::clone(&self.shared.status), commit, now());
        let reconcile = Reconcile {
            desired: &loaded.desired,
            backend: backend.as_ref(),
            settings: self.settings.plan,
            lock_timeout: self.settings.lock_timeout,
            saved: None,
            show: &|_| {},
            confirm: &|_| true,
            progress: &progress,
            stop: &self.stop,
            announce: Announce {
                notifier: &self.notices.notifier,
                origin: Origin::Watch,
                commit: Some(commit),
            },
        };
        let result = reconcile.run().await;
        self.shared.status.write().await.rollout = None;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::PlanSettings;
    use crate::notify::NotifyEnvironment;
    use crate::source::SourceOptions;

    fn daemon(state: &std::path::Path) -> Daemon {
        let settings = WatchSettings {
            source: SourceOptions::new("https://example.invalid/fleet.git"),
            branch: "main".to_owned(),
            shown_remote: "https://example.invalid/fleet.git".to_owned(),
            interval: Duration::from_secs(60),
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            webhook_secret: None,
            self_heal: false,
            plan: PlanSettings::default(),
            lock_timeout: Duration::from_secs(1),
            state_file: state.join("state.json"),
            notify_environment: NotifyEnvironment::from_lookup(Arc::new(|_| None), None),
        };
        let memory = Memory::load(&settings.state_file).expect("memory");
        let shared = shared_state(&settings, &memory);
        Daemon {
            settings,
            connection: Connection::default(),
            shared,
            memory,
            applied: None,
            stop: Arc::new(AtomicBool::new(false)),
            backoff: Backoff::default(),
            notices: Notices::new(NotifyEnvironment::from_lookup(Arc::new(|_| None), None)),
        }
    }

    #[tokio::test]
    async fn a_reconcile_that_panicked_quarantines_its_commit_on_disk_too() {
        let state = tempfile::tempdir().expect("temp dir");
        let mut daemon = daemon(state.path());
        let commit = "c0ffee".repeat(6);
        let panicked = ReconcileError::Panicked {
            message: "attempt to add with overflow".to_owned(),
        };
        let result = daemon.judge(&commit, Err(panicked)).await;
        assert_eq!(result, Some(ReconcileResult::Failed));
        assert_eq!(daemon.memory.decide(&commit), Decision::Quarantined);
        let status = daemon.shared.status.read().await;
        let failed = &status.failed;
        assert!(
            failed[0].reason.contains("attempt to add with overflow"),
            "{failed:?}"
        );
        drop(status);
        let remembered = Memory::load(&daemon.settings.state_file).expect("saved memory");
        assert_eq!(remembered.decide(&commit), Decision::Quarantined);
    }
}
