//! Apply stage: walk a [`Plan`] against a [`Backend`], following its dependencies.
//!
//! The executor decides nothing: a step starts once the steps the plan says it depends on
//! are done ([`schedule`]), each step's [`Op`] maps to one small function that calls the
//! backend, each step gets one recorded [`Outcome`], and operations run concurrently up to
//! a bound. A failed step (a health gate, say) starts nothing new: with `halt` the failed
//! agent is left for inspection, with `rollback` its previous container is restored first;
//! steps not reached are reported as not attempted. A stop request (Ctrl-C) lets running
//! steps finish and starts no new one.

pub mod lock;
mod progress;
mod schedule;

pub use progress::{BarProgress, LogProgress, Progress};
use schedule::Schedule;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde::Serialize;
use tokio::sync::{Mutex, Semaphore};

use crate::backend::{Backend, BackendError};
use crate::desired::Desired;
use crate::plan::{Op, Plan, Step};
use crate::spec::hiclaw::FailurePolicy;

/// What happened to one step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "detail", rename_all = "snake_case")]
pub enum Outcome {
    /// The step succeeded.
    Done,
    /// The step failed; the message says why.
    Failed(String),
    /// The step failed and the agent's previous container was restored.
    RolledBack(String),
    /// The rollout stopped before this step.
    NotAttempted,
}

/// One step's outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StepOutcome {
    /// The step's id in the plan.
    pub step: usize,
    /// What happened.
    pub outcome: Outcome,
    /// How long it took.
    pub elapsed_milliseconds: u64,
}

/// What an apply did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
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
                .all(|outcome| outcome.outcome == Outcome::Done)
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
}

/// Settings of one apply.
#[derive(Clone, Debug)]
pub struct ApplyOptions {
    /// At most this many steps run at once.
    pub concurrency: usize,
    /// Deleting an agent removes its workspace volume too (`--prune-volumes`).
    pub delete_workspaces: bool,
}

/// Shared state of one apply.
struct Run<'a, B: Backend + ?Sized> {
    backend: &'a B,
    desired: &'a Desired,
    options: &'a ApplyOptions,
    /// Agents recreated in this apply whose previous container is still set aside.
    set_aside: Mutex<BTreeSet<String>>,
    stop: &'a AtomicBool,
    /// A step failed: nothing new starts.
    halted: AtomicBool,
    /// Bounds the operations running at once (health gates only wait, and do not count).
    limit: Semaphore,
}

impl<B: Backend + ?Sized> Run<'_, B> {
    /// Whether new steps may still start.
    fn may_start(&self) -> bool {
        !self.halted.load(Ordering::SeqCst) && !self.stop.load(Ordering::SeqCst)
    }
}

/// Applies the plan. `stop` is set by a signal handler to stop cleanly.
///
/// A step starts as soon as every step it depends on is done, so each team walks its own
/// batches at its own pace (a slow health gate in one team does not hold the others back),
/// while a group's first batch still waits for everything before it. Steps whose
/// dependencies did not all succeed are not attempted.
pub async fn apply<B: Backend + ?Sized>(
    backend: &B,
    desired: &Desired,
    plan: &Plan,
    options: &ApplyOptions,
    progress: &dyn Progress,
    stop: &AtomicBool,
) -> ApplyReport {
    let run = Run {
        backend,
        desired,
        options,
        set_aside: Mutex::new(BTreeSet::new()),
        stop,
        halted: AtomicBool::new(false),
        limit: Semaphore::new(options.concurrency.max(1)),
    };
    let mut schedule = Schedule::new(plan);
    let mut running = FuturesUnordered::new();
    loop {
        if run.may_start() {
            for id in schedule.take_ready() {
                schedule.started(id, progress);
                running.push(run_step_timed(&run, &plan.steps[id]));
            }
        }
        let Some((id, result)) = running.next().await else {
            break;
        };
        let Some(result) = result else {
            // Halted or stopped while it waited for its turn: not attempted.
            schedule.finished(id, None, progress);
            continue;
        };
        if result.outcome != Outcome::Done {
            run.halted.store(true, Ordering::SeqCst);
        }
        progress.step_finished(&plan.steps[id], &result);
        schedule.finished(id, Some(result), progress);
    }
    for name in std::mem::take(&mut *run.set_aside.lock().await) {
        if let Err(error) = backend.finish_recreate(&name).await {
            tracing::warn!(agent = %name, error = %error, "could not drop the previous container");
        }
    }
    schedule.report(
        run.halted.load(Ordering::SeqCst),
        stop.load(Ordering::SeqCst),
        progress,
    )
}

/// Runs one step once its turn comes under the concurrency bound; `None` when the rollout
/// stopped before it began.
async fn run_step_timed<B: Backend + ?Sized>(
    run: &Run<'_, B>,
    step: &Step,
) -> (usize, Option<StepOutcome>) {
    let _permit = match step.op {
        Op::WaitHealthy => None,
        _ => run.limit.acquire().await.ok(),
    };
    if !run.may_start() {
        return (step.id, None);
    }
    let started = Instant::now();
    let outcome = run_step(run, step).await;
    let result = StepOutcome {
        step: step.id,
        outcome,
        elapsed_milliseconds: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    (step.id, Some(result))
}

/// Runs one step: an exhaustive match, one function per operation.
async fn run_step<B: Backend + ?Sized>(run: &Run<'_, B>, step: &Step) -> Outcome {
    let result = match step.op {
        Op::CreateAgent => create_agent(run, step).await,
        Op::RecreateAgent => recreate_agent(run, step).await,
        Op::PushConfig => push_config(run, step).await,
        Op::SleepAgent => run.backend.sleep_agent(&step.agent).await,
        Op::WakeAgent => run.backend.wake_agent(&step.agent).await,
        Op::RemoveAgent => run.backend.remove_agent(&step.agent).await,
        Op::DeleteAgent => {
            run.backend
                .delete_agent(&step.agent, run.options.delete_workspaces)
                .await
        }
        Op::KeepAgent => Ok(()),
        Op::WaitHealthy => return wait_healthy(run, step).await,
        Op::UpdateTeamAccess => update_team_access(run, step).await,
    };
    match result {
        Ok(()) => Outcome::Done,
        Err(error) => Outcome::Failed(error_text(&error)),
    }
}

fn commit(run: &Run<'_, impl Backend + ?Sized>) -> Option<String> {
    run.desired
        .revision
        .as_ref()
        .map(|revision| revision.commit.clone())
}

fn agent_of<'a>(
    run: &Run<'a, impl Backend + ?Sized>,
    step: &Step,
) -> Result<&'a crate::desired::Agent, BackendError> {
    run.desired
        .agent(&step.agent)
        .ok_or_else(|| BackendError::Request {
            operation: "find",
            agent: step.agent.clone(),
            transient: false,
            source: "the plan names an agent the desired state does not have".into(),
        })
}

/// The team's access rules: as the desired state has them, or gone with the team.
async fn update_team_access<B: Backend + ?Sized>(
    run: &Run<'_, B>,
    step: &Step,
) -> Result<(), BackendError> {
    let team = crate::plan::team_of_resource(&step.agent).unwrap_or(&step.agent);
    let access = run.desired.teams.iter().find(|wanted| wanted.name == team);
    run.backend.update_team_access(team, access).await
}

async fn create_agent<B: Backend + ?Sized>(
    run: &Run<'_, B>,
    step: &Step,
) -> Result<(), BackendError> {
    let agent = agent_of(run, step)?;
    run.backend
        .create_agent(agent, commit(run).as_deref())
        .await
}

async fn recreate_agent<B: Backend + ?Sized>(
    run: &Run<'_, B>,
    step: &Step,
) -> Result<(), BackendError> {
    let agent = agent_of(run, step)?;
    run.backend
        .recreate_agent(agent, commit(run).as_deref())
        .await?;
    run.set_aside.lock().await.insert(agent.name.clone());
    Ok(())
}

async fn push_config<B: Backend + ?Sized>(
    run: &Run<'_, B>,
    step: &Step,
) -> Result<(), BackendError> {
    let agent = agent_of(run, step)?;
    run.backend.push_config(agent, commit(run).as_deref()).await
}

/// The health gate; on failure, the group's `on_failure` decides between leaving the
/// agent for inspection and restoring its previous container.
async fn wait_healthy<B: Backend + ?Sized>(run: &Run<'_, B>, step: &Step) -> Outcome {
    let Ok(agent) = agent_of(run, step) else {
        return Outcome::Failed(format!("{} is not in the desired state", step.agent));
    };
    let settings = run.desired.rollout.get(&step.group);
    let timeout =
        Duration::from_secs(settings.map_or(120, |settings| settings.health_timeout_seconds));
    let probe = settings.and_then(|settings| settings.probe.as_ref());
    match run.backend.wait_healthy(agent, timeout, probe).await {
        Ok(()) => {
            let was_recreated = run.set_aside.lock().await.remove(&agent.name);
            if was_recreated && let Err(error) = run.backend.finish_recreate(&agent.name).await {
                tracing::warn!(agent = %agent.name, error = %error, "could not drop the previous container");
            }
            Outcome::Done
        }
        Err(error) => {
            let message = error_text(&error);
            let rollback =
                settings.is_some_and(|settings| settings.on_failure == FailurePolicy::Rollback);
            let was_recreated = run.set_aside.lock().await.remove(&agent.name);
            if rollback && was_recreated {
                match run.backend.roll_back(&agent.name).await {
                    Ok(()) => Outcome::RolledBack(message),
                    Err(rollback_error) => Outcome::Failed(format!(
                        "{message}; rollback failed: {}",
                        error_text(&rollback_error)
                    )),
                }
            } else {
                // Halt: the failed agent stays for inspection, its previous container stays
                // set aside (the next apply's prepare removes or restores it).
                Outcome::Failed(message)
            }
        }
    }
}

/// An error with its causes, on one line.
fn error_text(error: &BackendError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests;
