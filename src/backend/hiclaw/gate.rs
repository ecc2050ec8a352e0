//! The health gate on the HiClaw target: the controller reports the member ready on its
//! new spec.
//!
//! - Kubernetes, a Team member: `status.members[]` of the member shows a `specHash` other
//!   than the one before the write, and `ready`.
//! - Kubernetes, a Worker or Manager: `observedGeneration` caught up with the generation
//!   and `phase` Running.
//! - REST (no spec hash): a new agent is Running; a replaced one was seen going down and
//!   is Running again, or, if the controller replaced it faster than the gate looks, has
//!   been Running for [`REST_STABLE`] since the write. The gate cannot tell "ready on the
//!   new spec" from "still the old container" beyond that (docs/hiclaw.md).
//! - An agent the fleet put to sleep at run time passes once the controller took the new
//!   spec (a sleeping agent is never ready).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::model::{Kind, MemberStatus};
use super::{HiclawBackend, Pending};
use crate::backend::BackendError;
use crate::backend::wait::{Look, wait_healthy as gate_loop};
use crate::desired::Agent;
use crate::spec::hiclaw::AgentState;

/// How long a replaced agent must have been Running, through REST, when it was never
/// seen going down.
pub const REST_STABLE: Duration = Duration::from_secs(5);

/// What the REST gate has seen so far.
#[derive(Debug, Default)]
struct Seen {
    down: bool,
}

pub(super) async fn wait_healthy(
    backend: &HiclawBackend,
    agent: &Agent,
    timeout: Duration,
    interval: Duration,
) -> Result<(), BackendError> {
    let (id, member) = {
        let model = backend.model.lock().await;
        model
            .agents
            .get(&agent.name)
            .cloned()
            .ok_or_else(|| BackendError::Unhealthy {
                agent: agent.name.clone(),
                seconds: timeout.as_secs(),
                reason: "not written to the controller".to_owned(),
            })?
    };
    let pending = backend
        .pending
        .lock()
        .ok()
        .and_then(|pending| pending.get(&agent.name).cloned())
        .unwrap_or_default();
    let seen = Mutex::new(Seen::default());
    let started = Instant::now();
    let hashes = backend.transport.reports_spec_hash();
    let look = || {
        let (id, member, pending, seen) = (&id, &member, &pending, &seen);
        async move {
            let status = backend.transport.status(id, member).await?;
            let Some(status) = status else {
                return Ok(Look::Waiting(
                    "not reported by the controller yet".to_owned(),
                ));
            };
            Ok(if hashes {
                judge_kubernetes(id.kind, &status, pending)
            } else {
                judge_rest(&status, pending, seen, started.elapsed())
            })
        }
    };
    gate_loop(&agent.name, timeout, interval, look).await
}

fn describe(status: &MemberStatus) -> String {
    let mut parts = vec![format!(
        "phase {}",
        status.phase.as_deref().unwrap_or("unknown")
    )];
    if let Some(container) = &status.container_state {
        parts.push(format!("container {container}"));
    }
    if let Some(message) = status.message.as_deref().filter(|text| !text.is_empty()) {
        parts.push(message.to_owned());
    }
    parts.join(", ")
}

fn judge_kubernetes(kind: Kind, status: &MemberStatus, pending: &Pending) -> Look<()> {
    let asleep = status.state == Some(AgentState::Sleeping);
    if kind == Kind::Team {
        let moved = status.spec_hash.is_some() && status.spec_hash != pending.spec_hash;
        if moved && (status.ready || asleep) {
            return Look::Done(());
        }
        let why = if moved {
            "not ready"
        } else {
            "spec not reconciled yet"
        };
        return Look::Waiting(format!("{why} ({})", describe(status)));
    }
    let caught_up = status
        .generations
        .is_some_and(|(observed, generation)| observed >= generation);
    if caught_up && (status.phase.as_deref() == Some("Running") || asleep) {
        return Look::Done(());
    }
    let why = if caught_up {
        "not running"
    } else {
        "generation not observed yet"
    };
    Look::Waiting(format!("{why} ({})", describe(status)))
}

fn judge_rest(
    status: &MemberStatus,
    pending: &Pending,
    seen: &Mutex<Seen>,
    elapsed: Duration,
) -> Look<()> {
    let running = status.phase.as_deref() == Some("Running")
        && status
            .container_state
            .as_deref()
            .is_none_or(|state| state == "running");
    if status.state == Some(AgentState::Sleeping) {
        return Look::Done(());
    }
    let Ok(mut seen) = seen.lock() else {
        return Look::Waiting("gate state unavailable".to_owned());
    };
    if !running {
        seen.down = true;
        return Look::Waiting(describe(status));
    }
    if !pending.recreate || seen.down {
        return Look::Done(());
    }
    if elapsed >= REST_STABLE {
        return Look::Done(());
    }
    Look::WaitingFor(
        format!("running, not yet seen replaced ({})", describe(status)),
        REST_STABLE
            .saturating_sub(elapsed)
            .min(Duration::from_millis(200)),
    )
}
