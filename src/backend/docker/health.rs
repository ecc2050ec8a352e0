//! Health gate: waiting until an agent runs and is healthy, and running commands inside a
//! container.

use std::time::{Duration, Instant};

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerState, HealthStatusEnum};
use futures_util::StreamExt;

use super::{DockerBackend, request_error};
use crate::backend::BackendError;
use crate::desired::Agent;
use crate::spec::hiclaw::Probe;

/// How often the container is inspected.
const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// How long a container without health check or probe must stay up.
const STABILITY_WINDOW: Duration = Duration::from_secs(2);

/// Runs `command` in `container`; returns its exit code and combined output.
pub(super) async fn exec(
    backend: &DockerBackend,
    container: &str,
    command: &[String],
) -> Result<(i64, String), BackendError> {
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
    let mut output = String::new();
    if let StartExecResults::Attached {
        output: mut stream, ..
    } = started
    {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(request_error("exec", container))?;
            output.push_str(&chunk.to_string());
        }
    }
    let inspect = backend
        .docker
        .inspect_exec(&created.id)
        .await
        .map_err(request_error("exec", container))?;
    Ok((inspect.exit_code.unwrap_or(-1), output))
}

/// What one look at the container says.
enum Verdict {
    Healthy,
    Failed(String),
    Waiting(String),
}

/// Judges the container's state: health check first, then `probe`, then stability.
async fn judge(
    backend: &DockerBackend,
    agent: &Agent,
    state: &ContainerState,
    probe: Option<&Probe>,
    stable_since: &mut Option<(Instant, i64)>,
    restarts: i64,
) -> Result<Verdict, BackendError> {
    if state.running != Some(true) || state.restarting == Some(true) {
        *stable_since = None;
        let exit = state.exit_code.unwrap_or_default();
        return Ok(if state.restarting == Some(true) {
            Verdict::Waiting("restarting".to_owned())
        } else {
            Verdict::Failed(format!("not running (exit code {exit})"))
        });
    }
    let health = state.health.as_ref().and_then(|health| health.status);
    match health {
        Some(HealthStatusEnum::HEALTHY) => return Ok(Verdict::Healthy),
        Some(HealthStatusEnum::UNHEALTHY) => {
            return Ok(Verdict::Failed("health check reports unhealthy".to_owned()));
        }
        Some(HealthStatusEnum::STARTING) => {
            return Ok(Verdict::Waiting("health check starting".to_owned()));
        }
        _ => {}
    }
    if let Some(probe) = probe {
        let (code, _) = exec(backend, &agent.name, &probe.exec).await?;
        return Ok(if code == 0 {
            Verdict::Healthy
        } else {
            Verdict::Waiting(format!("probe exited with {code}"))
        });
    }
    match stable_since {
        Some((since, count)) if *count == restarts => Ok(if since.elapsed() >= STABILITY_WINDOW {
            Verdict::Healthy
        } else {
            Verdict::Waiting("running, not yet stable".to_owned())
        }),
        _ => {
            *stable_since = Some((Instant::now(), restarts));
            Ok(Verdict::Waiting("running, not yet stable".to_owned()))
        }
    }
}

/// How long to wait before looking again. While a stability window runs, only its end can
/// change the verdict (a crash meanwhile shows then as a new restart count or a stopped
/// container), so one look at its end replaces polling through it.
fn pause(stable_since: Option<(Instant, i64)>, deadline: Instant) -> Duration {
    let pause = match stable_since {
        Some((since, _)) => STABILITY_WINDOW
            .saturating_sub(since.elapsed())
            .max(Duration::from_millis(10)),
        None => POLL_INTERVAL,
    };
    pause.min(deadline.saturating_duration_since(Instant::now()))
}

/// See [`crate::backend::Backend::wait_healthy`].
pub(super) async fn wait_healthy(
    backend: &DockerBackend,
    agent: &Agent,
    timeout: Duration,
    probe: Option<&Probe>,
) -> Result<(), BackendError> {
    let deadline = Instant::now() + timeout;
    let mut stable_since = None;
    let mut last = "not inspected yet".to_owned();
    let unhealthy = |reason: String| BackendError::Unhealthy {
        agent: agent.name.clone(),
        seconds: timeout.as_secs(),
        reason,
    };
    while Instant::now() < deadline {
        let inspect = backend
            .docker
            .inspect_container(&agent.name, None)
            .await
            .map_err(request_error("inspect", &agent.name))?;
        let restarts = inspect.restart_count.unwrap_or_default();
        let state = inspect.state.unwrap_or_default();
        match judge(backend, agent, &state, probe, &mut stable_since, restarts).await? {
            Verdict::Healthy => return Ok(()),
            Verdict::Failed(reason) => return Err(unhealthy(reason)),
            Verdict::Waiting(reason) => last = reason,
        }
        tokio::time::sleep(pause(stable_since, deadline)).await;
    }
    Err(unhealthy(last))
}
