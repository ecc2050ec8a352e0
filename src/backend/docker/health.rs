//! Health gate: waiting until an agent runs and is healthy, and running commands inside a
//! container.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerState, HealthStatusEnum};
use futures_util::StreamExt;

use super::{DockerBackend, request_error};
use crate::backend::{BackendError, Look, wait};
use crate::desired::Agent;
use crate::spec::hiclaw::Probe;

/// How long a container without health check or probe must stay up.
const STABILITY_WINDOW: Duration = Duration::from_secs(2);

use crate::backend::shell::Capped;
pub(super) use crate::backend::shell::Ran;

/// Runs `command` in `container` until it exits or `deadline` passes, whichever is first.
pub(super) async fn exec(
    backend: &DockerBackend,
    container: &str,
    command: &[String],
    deadline: Instant,
) -> Result<Ran, BackendError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Ok(Ran::TimedOut);
    }
    match tokio::time::timeout(left, exec_to_end(backend, container, command)).await {
        Ok(ran) => ran,
        Err(_elapsed) => Ok(Ran::TimedOut),
    }
}

/// Runs `command` in `container` and waits for it to exit, however long that takes.
async fn exec_to_end(
    backend: &DockerBackend,
    container: &str,
    command: &[String],
) -> Result<Ran, BackendError> {
    let options = CreateExecOptions {
        cmd: Some(command.to_vec()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..Default::default()
    };
    let created = backend
        .docker
        .create_exec(container, options)
        .await
        .map_err(request_error("exec", container))?;
    let started = backend
        .docker
        .start_exec(&created.id, None)
        .await
        .map_err(request_error("exec", container))?;
    let mut output = Capped::default();
    if let StartExecResults::Attached {
        output: mut stream, ..
    } = started
    {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(request_error("exec", container))?;
            output.push(&chunk.into_bytes());
        }
    }
    let inspect = backend
        .docker
        .inspect_exec(&created.id)
        .await
        .map_err(request_error("exec", container))?;
    Ok(Ran::Exited {
        code: inspect.exit_code.unwrap_or(-1),
        output: output.into_string(),
    })
}

/// Judges the container's state: health check first, then `probe`, then stability. While
/// a stability window runs, only its end can change the verdict (a crash meanwhile shows
/// then as a new restart count or a stopped container), so the next look is at its end.
async fn judge(
    backend: &DockerBackend,
    agent: &Agent,
    state: &ContainerState,
    probe: Option<&Probe>,
    stable_since: &mut Option<(Instant, i64)>,
    restarts: i64,
    deadline: Instant,
) -> Result<Look<()>, BackendError> {
    if state.running != Some(true) || state.restarting == Some(true) {
        *stable_since = None;
        let exit = state.exit_code.unwrap_or_default();
        return Ok(if state.restarting == Some(true) {
            Look::Waiting("restarting".to_owned())
        } else {
            Look::Failed(format!("not running (exit code {exit})"))
        });
    }
    let health = state.health.as_ref().and_then(|health| health.status);
    match health {
        Some(HealthStatusEnum::HEALTHY) => return Ok(Look::Done(())),
        Some(HealthStatusEnum::UNHEALTHY) => {
            return Ok(Look::Failed("health check reports unhealthy".to_owned()));
        }
        Some(HealthStatusEnum::STARTING) => {
            return Ok(Look::Waiting("health check starting".to_owned()));
        }
        _ => {}
    }
    if let Some(probe) = probe {
        // A probe that has not ended by the gate's deadline is a failed look; the gate
        // then ends at its deadline.
        return Ok(
            match exec(backend, &agent.name, &probe.exec, deadline).await? {
                Ran::Exited { code: 0, .. } => Look::Done(()),
                Ran::Exited { code, .. } => Look::Waiting(format!("probe exited with {code}")),
                Ran::TimedOut => Look::Waiting("probe did not end before the deadline".to_owned()),
            },
        );
    }
    let unstable = "running, not yet stable".to_owned();
    match stable_since {
        Some((since, count)) if *count == restarts => {
            let left = STABILITY_WINDOW.saturating_sub(since.elapsed());
            Ok(if left.is_zero() {
                Look::Done(())
            } else {
                Look::WaitingFor(unstable, left.max(Duration::from_millis(10)))
            })
        }
        _ => {
            *stable_since = Some((Instant::now(), restarts));
            Ok(Look::WaitingFor(unstable, STABILITY_WINDOW))
        }
    }
}

/// See [`crate::backend::Backend::wait_healthy`].
pub(super) async fn wait_healthy(
    backend: &DockerBackend,
    agent: &Agent,
    timeout: Duration,
    interval: Duration,
) -> Result<(), BackendError> {
    let probe = agent.probe.as_ref();
    // A probe ends by the gate's deadline (the gate's own deadline is taken a moment
    // later, so the last look still ends before it).
    let deadline = deadline_after(timeout);
    // Since when (and at which restart count) the container has been seen up, kept
    // between looks.
    let stable_since = Mutex::new(None);
    let stable_since = &stable_since;
    let look = move || async move {
        let inspect = backend
            .docker
            .inspect_container(&agent.name, None)
            .await
            .map_err(request_error("inspect", &agent.name))?;
        let restarts = inspect.restart_count.unwrap_or_default();
        let state = inspect.state.unwrap_or_default();
        let mut since = stable_since.lock().map_or(None, |since| *since);
        let found = judge(
            backend, agent, &state, probe, &mut since, restarts, deadline,
        )
        .await;
        if let Ok(mut kept) = stable_since.lock() {
            *kept = since;
        }
        found
    };
    wait::wait_healthy(&agent.name, timeout, interval, look).await
}

/// `timeout` from now, or a century from now when that is beyond what the clock holds.
pub(super) fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
        .unwrap_or(now)
}
