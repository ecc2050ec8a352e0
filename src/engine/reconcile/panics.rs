//! A panic in the middle of a reconcile, on a real Docker Engine: the lock it took is
//! released and the reconcile fails with [`ReconcileError::Panicked`] instead of unwinding
//! into its caller. The panic comes from a test-only backend that is the Docker backend
//! except that creating an agent panics (nothing in clawops panics on purpose).

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::*;
use crate::apply::{Progress, StepOutcome};
use crate::backend::LockHolder;
use crate::backend::docker::DockerBackend;
use crate::desired::test_support::{desired_of, fleet_files};
use crate::observe::Observed;
use crate::plan::{Step, Wave};

/// The Docker backend of one test fleet, whose `create_agent` panics.
struct PanicsOnCreate(DockerBackend);

/// Shows nothing.
struct Quiet;

impl Progress for Quiet {
    fn wave_started(&self, _wave: &Wave, _plan: &Plan) {}
    fn step_finished(&self, _step: &Step, _outcome: &StepOutcome) {}
    fn wave_finished(&self, _wave: &Wave) {}
}

/// Removes what the test fleet could leave behind, even when the test fails.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for name in [
            crate::backend::docker::lock_name(&self.0),
            crate::backend::docker::records_name(&self.0),
        ] {
            let _ = std::process::Command::new("docker")
                .args(["rm", "-f", &name])
                .output();
        }
    }
}

#[async_trait::async_trait]
impl Backend for PanicsOnCreate {
    fn describe(&self) -> String {
        self.0.describe()
    }
    async fn observe(&self) -> Result<Observed, BackendError> {
        self.0.observe().await
    }
    async fn settle_interrupted(&self) -> Result<(), BackendError> {
        self.0.settle_interrupted().await
    }
    async fn prepare(&self, _agents: &[&Agent]) -> Result<(), BackendError> {
        // The test fleet's images are not on this engine; no agent is created anyway.
        Ok(())
    }
    async fn create_agent(&self, agent: &Agent, commit: Option<&str>) -> Result<(), BackendError> {
        if !agent.name.is_empty() {
            panic!("a bug while creating {}", agent.name);
        }
        self.0.create_agent(agent, commit).await
    }
    async fn recreate_agent(
        &self,
        agent: &Agent,
        commit: Option<&str>,
    ) -> Result<(), BackendError> {
        self.0.recreate_agent(agent, commit).await
    }
    async fn finish_recreate(&self, name: &str) -> Result<(), BackendError> {
        self.0.finish_recreate(name).await
    }
    async fn roll_back(&self, name: &str) -> Result<(), BackendError> {
        self.0.roll_back(name).await
    }
    async fn push_config(&self, agent: &Agent, commit: Option<&str>) -> Result<(), BackendError> {
        self.0.push_config(agent, commit).await
    }
    async fn sleep_agent(&self, name: &str) -> Result<(), BackendError> {
        self.0.sleep_agent(name).await
    }
    async fn wake_agent(&self, name: &str) -> Result<(), BackendError> {
        self.0.wake_agent(name).await
    }
    async fn remove_agent(&self, name: &str) -> Result<(), BackendError> {
        self.0.remove_agent(name).await
    }
    async fn delete_agent(&self, name: &str, workspace: bool) -> Result<(), BackendError> {
        self.0.delete_agent(name, workspace).await
    }
    async fn try_lock(&self, holder: &LockHolder) -> Result<(), BackendError> {
        self.0.try_lock(holder).await
    }
    async fn renew_lock(&self, holder: &LockHolder) -> Result<(), BackendError> {
        self.0.renew_lock(holder).await
    }
    async fn unlock(&self, holder: Option<&LockHolder>) -> Result<(), BackendError> {
        self.0.unlock(holder).await
    }
    async fn wait_healthy(
        &self,
        agent: &Agent,
        timeout: Duration,
        interval: Duration,
    ) -> Result<(), BackendError> {
        self.0.wait_healthy(agent, timeout, interval).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panic_under_the_lock_releases_it_and_fails_the_reconcile() {
    let fleet = format!("t-panic-{}", std::process::id());
    let _cleanup = Cleanup(fleet.clone());
    let docker = match DockerBackend::connect("", &fleet, &format!("{fleet}-net")).await {
        Ok(docker) => docker,
        Err(error) if std::env::var_os("CI").is_none() => {
            tracing::warn!(error = %error, "Docker unreachable: test not run");
            return;
        }
        Err(error) => panic!("CI is set and Docker is unreachable: {error}"),
    };
    let backend = PanicsOnCreate(docker);
    let desired = desired_of(&fleet_files());
    let stop = AtomicBool::new(false);
    let reconcile = Reconcile {
        desired: &desired,
        backend: &backend,
        settings: PlanSettings::default(),
        lock_timeout: Duration::from_secs(5),
        saved: None,
        show: &|_| {},
        confirm: &|_| true,
        progress: &Quiet,
        stop: &stop,
        announce: crate::notify::Announce {
            notifier: &crate::notify::Notifier::off(),
            origin: crate::notify::Origin::Apply,
            commit: None,
        },
    };
    let result = reconcile.run().await;
    let Err(ReconcileError::Panicked { message }) = result else {
        panic!("expected a panic turned into an error, got {result:?}");
    };
    assert!(message.starts_with("a bug while creating"), "{message}");
    assert!(ReconcileError::Panicked { message }.blames_the_commit());
    let next = LockHolder {
        host: "next".to_owned(),
        pid: 2,
        since: crate::backend::lock::now(),
        expires: crate::backend::lock::now() + 60,
    };
    backend
        .try_lock(&next)
        .await
        .expect("the lock was released: the next apply takes it at once");
}
