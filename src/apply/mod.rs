//! Apply stage: walk a [`Plan`] against a [`Backend`], following its dependencies.
//!
//! The executor decides nothing: a step starts once the steps the plan says it depends on
//! are done ([`schedule`]), each step's [`Op`] maps to one small function that calls the
//! backend with what the step carries (a gate's timeout, interval and failure policy, a
//! delete's workspace flag), each step gets one recorded [`Outcome`], keyed by its id,
//! and operations run concurrently up to a bound. A failed step (a health gate, say)
//! starts nothing new: with `halt` the failed agent is left for inspection, with
//! `rollback` its previous container is restored first; steps not reached are reported as
//! not attempted. A stop request (Ctrl-C) lets running steps finish and starts no new one.
//!
//! The previous container of a recreated agent is the backend's to keep; the executor
//! only tells it, from the plan and the outcomes, when to drop or restore it.

pub mod lock;
mod outcome;
mod progress;
mod schedule;

pub use outcome::{ApplyReport, Outcome, StepError, StepOutcome};
pub use progress::{BarProgress, LogProgress, Progress};
use schedule::Schedule;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::Semaphore;

use crate::backend::{Backend, BackendError};
use crate::desired::{Agent, Desired};
use crate::plan::{HealthGate, Op, Plan, Resource, Step};
use crate::spec::hiclaw::FailurePolicy;

/// Settings of one apply.
#[derive(Clone, Debug)]
pub struct ApplyOptions {
    /// At most this many steps run at once.
    pub concurrency: usize,
}

/// Shared state of one apply.
struct Run<'a, B: Backend + ?Sized> {
    backend: &'a B,
    desired: &'a Desired,
    /// The commit the plan was made from, recorded on what is applied.
    commit: Option<&'a str>,
    stop: &'a AtomicBool,
    /// The apply lock was lost (a renewal failed): nothing new starts.
    lock_lost: &'a AtomicBool,
    /// A step failed: nothing new starts.
    halted: AtomicBool,
    /// Bounds the operations running at once (health gates only wait, and do not count).
    limit: Semaphore,
}

impl<B: Backend + ?Sized> Run<'_, B> {
    /// Whether new steps may still start.
    fn may_start(&self) -> bool {
        !self.halted.load(Ordering::SeqCst)
            && !self.stop.load(Ordering::SeqCst)
            && !self.lock_lost.load(Ordering::SeqCst)
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
    let never_lost = AtomicBool::new(false);
    apply_held(backend, desired, plan, options, progress, stop, &never_lost).await
}

/// [`apply`] under the apply lock: once `lock_lost` is set (a renewal of the lease
/// failed, see [`lock::Held`]) no new step starts, as after a failed step.
pub async fn apply_held<B: Backend + ?Sized>(
    backend: &B,
    desired: &Desired,
    plan: &Plan,
    options: &ApplyOptions,
    progress: &dyn Progress,
    stop: &AtomicBool,
    lock_lost: &AtomicBool,
) -> ApplyReport {
    let run = Run {
        backend,
        desired,
        commit: plan
            .revision
            .as_ref()
            .map(|revision| revision.commit.as_str()),
        stop,
        lock_lost,
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
        if !result.outcome.is_done() {
            run.halted.store(true, Ordering::SeqCst);
        }
        progress.step_finished(&plan.steps[id], &result);
        schedule.finished(id, Some(result), progress);
    }
    let report = schedule.report(
        run.halted.load(Ordering::SeqCst) || lock_lost.load(Ordering::SeqCst),
        stop.load(Ordering::SeqCst),
        progress,
    );
    drop_unguarded_set_asides(backend, plan, &report).await;
    report
}

/// Recreates that no gate judged (the agent sleeps, or the rollout stopped before its
/// gate): their previous containers are dropped. A gate that failed under `halt` leaves
/// its agent's previous container for the next apply to settle.
async fn drop_unguarded_set_asides<B: Backend + ?Sized>(
    backend: &B,
    plan: &Plan,
    report: &ApplyReport,
) {
    let judged = |recreate: usize| {
        plan.steps.iter().any(|step| {
            step.gate
                .is_some_and(|gate| gate.replaces == Some(recreate))
                && !report.outcomes[step.id].outcome.is_not_attempted()
        })
    };
    for step in &plan.steps {
        let recreated = step.op == Op::RecreateAgent && report.outcomes[step.id].outcome.is_done();
        let Some(agent) = step.resource.agent_name().filter(|_| recreated) else {
            continue;
        };
        if !judged(step.id)
            && let Err(error) = backend.finish_recreate(agent).await
        {
            tracing::warn!(agent, error = %error, "could not drop the previous container");
        }
    }
}

/// Runs one step once its turn comes under the concurrency bound; `None` when the rollout
/// stopped before it began.
async fn run_step_timed<B: Backend + ?Sized>(
    run: &Run<'_, B>,
    step: &Step,
) -> (usize, Option<StepOutcome>) {
    let _permit = match step.op {
        // Gates only wait; a trust gate waits for peers whose steps need the permits.
        Op::WaitHealthy | Op::ConfirmPilotTrust => None,
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
        Op::SleepAgent => sleep_agent(run, step).await,
        Op::WakeAgent => wake_agent(run, step).await,
        Op::RemoveAgent => remove_agent(run, step).await,
        Op::DeleteAgent => delete_agent(run, step).await,
        Op::KeepAgent => Ok(()),
        Op::WaitHealthy => return wait_healthy(run, step).await,
        Op::UpdateTeamAccess => update_team_access(run, step).await,
        Op::WriteHuman => write_human(run, step).await,
        Op::DeleteHuman => delete_human(run, step).await,
        Op::BootstrapPilot => bootstrap_pilot(run, step).await,
        Op::ConfirmPilotTrust => confirm_pilot_trust(run, step).await,
    };
    match result {
        Ok(()) => Outcome::Done,
        Err(error) => Outcome::failed(error),
    }
}

/// The error of a step whose resource is not what it should be, or not in git.
fn not_found(step: &Step) -> StepError {
    StepError::FindResource {
        resource: step.resource.clone(),
    }
}

/// The name of the agent a step works on.
fn agent_name(step: &Step) -> Result<&str, StepError> {
    step.resource.agent_name().ok_or_else(|| not_found(step))
}

/// The desired record of the agent a step works on.
fn agent_of<'a, B: Backend + ?Sized>(
    run: &Run<'a, B>,
    step: &Step,
) -> Result<&'a Agent, StepError> {
    run.desired
        .agent(agent_name(step)?)
        .ok_or_else(|| not_found(step))
}

/// The team's access rules: as the desired state has them, or gone with the team.
async fn update_team_access<B: Backend + ?Sized>(
    run: &Run<'_, B>,
    step: &Step,
) -> Result<(), StepError> {
    let team = step.resource.team_name().ok_or_else(|| not_found(step))?;
    let access = run.desired.teams.iter().find(|wanted| wanted.name == team);
    Ok(run.backend.update_team_access(team, access).await?)
}

/// The Human as the desired state has it.
async fn write_human<B: Backend + ?Sized>(run: &Run<'_, B>, step: &Step) -> Result<(), StepError> {
    let Resource::Human(name) = &step.resource else {
        return Err(not_found(step));
    };
    let human = run
        .desired
        .hiclaw
        .as_ref()
        .and_then(|fleet| fleet.humans.iter().find(|human| human.name == *name))
        .ok_or_else(|| not_found(step))?;
    Ok(run.backend.write_human(human).await?)
}

async fn delete_human<B: Backend + ?Sized>(run: &Run<'_, B>, step: &Step) -> Result<(), StepError> {
    let Resource::Human(name) = &step.resource else {
        return Err(not_found(step));
    };
    Ok(run.backend.delete_human(name).await?)
}

async fn create_agent<B: Backend + ?Sized>(run: &Run<'_, B>, step: &Step) -> Result<(), StepError> {
    let agent = agent_of(run, step)?;
    Ok(run.backend.create_agent(agent, run.commit).await?)
}

async fn recreate_agent<B: Backend + ?Sized>(
    run: &Run<'_, B>,
    step: &Step,
) -> Result<(), StepError> {
    let agent = agent_of(run, step)?;
    Ok(run.backend.recreate_agent(agent, run.commit).await?)
}

async fn push_config<B: Backend + ?Sized>(run: &Run<'_, B>, step: &Step) -> Result<(), StepError> {
    let agent = agent_of(run, step)?;
    Ok(run.backend.push_config(agent, run.commit).await?)
}

async fn sleep_agent<B: Backend + ?Sized>(run: &Run<'_, B>, step: &Step) -> Result<(), StepError> {
    Ok(run.backend.sleep_agent(agent_name(step)?).await?)
}

async fn wake_agent<B: Backend + ?Sized>(run: &Run<'_, B>, step: &Step) -> Result<(), StepError> {
    Ok(run.backend.wake_agent(agent_name(step)?).await?)
}

async fn remove_agent<B: Backend + ?Sized>(run: &Run<'_, B>, step: &Step) -> Result<(), StepError> {
    Ok(run.backend.remove_agent(agent_name(step)?).await?)
}

async fn delete_agent<B: Backend + ?Sized>(run: &Run<'_, B>, step: &Step) -> Result<(), StepError> {
    let name = agent_name(step)?;
    Ok(run
        .backend
        .delete_agent(name, step.delete_workspace)
        .await?)
}

/// The health gate, as the step carries it; after a recreate, success drops the previous
/// container and a failure under `rollback` restores it.
async fn wait_healthy<B: Backend + ?Sized>(run: &Run<'_, B>, step: &Step) -> Outcome {
    let (agent, gate) = match (agent_of(run, step), step.gate) {
        (Ok(agent), Some(gate)) => (agent, gate),
        (Err(error), _) => return Outcome::failed(error),
        (Ok(_), None) => {
            return Outcome::failed(not_found(step));
        }
    };
    match look_healthy(run.backend, agent, &gate).await {
        Ok(()) => {
            if gate.replaces.is_some()
                && let Err(error) = run.backend.finish_recreate(&agent.name).await
            {
                tracing::warn!(agent = %agent.name, error = %error, "could not drop the previous container");
            }
            Outcome::Done
        }
        Err(failure) if gate.on_failure == FailurePolicy::Rollback && gate.replaces.is_some() => {
            match run.backend.roll_back(&agent.name).await {
                Ok(()) => Outcome::RolledBack(std::sync::Arc::new(failure.into())),
                Err(rollback) => Outcome::failed(StepError::RollBack {
                    failure: Box::new(failure),
                    rollback: Box::new(rollback),
                }),
            }
        }
        // Halt: the failed agent stays for inspection, its previous container stays set
        // aside (the next apply settles it).
        Err(failure) => Outcome::failed(failure),
    }
}

/// The Pilot role's bootstrap, within the step's timeout, uninstalling the skills its
/// cause names as dropped.
async fn bootstrap_pilot<B: Backend + ?Sized>(
    run: &Run<'_, B>,
    step: &Step,
) -> Result<(), StepError> {
    let agent = agent_of(run, step)?;
    let gate = step.gate.ok_or_else(|| not_found(step))?;
    let remove = crate::plan::skills_removed(&step.causes);
    let timeout = Duration::from_secs(gate.timeout_seconds);
    Ok(run.backend.bootstrap_pilot(agent, &remove, timeout).await?)
}

/// The Pilot role's trust gate: handshakes sent and trust mutual within its timeout.
async fn confirm_pilot_trust<B: Backend + ?Sized>(
    run: &Run<'_, B>,
    step: &Step,
) -> Result<(), StepError> {
    let agent = agent_of(run, step)?;
    let gate = step.gate.ok_or_else(|| not_found(step))?;
    let timeout = Duration::from_secs(gate.timeout_seconds);
    Ok(run.backend.confirm_pilot_trust(agent, timeout).await?)
}

/// Asks the backend whether the agent becomes healthy within the gate's timeout.
async fn look_healthy<B: Backend + ?Sized>(
    backend: &B,
    agent: &Agent,
    gate: &HealthGate,
) -> Result<(), BackendError> {
    let timeout = Duration::from_secs(gate.timeout_seconds);
    let interval = Duration::from_millis(gate.interval_milliseconds);
    backend.wait_healthy(agent, timeout, interval).await
}

#[cfg(test)]
mod tests;
