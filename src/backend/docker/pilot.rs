//! The Pilot bootstrap on Docker: the shared core ([`crate::backend::pilot`]) runs its
//! `clawhub` and `pilotctl` calls through Docker execs in the role's container, with
//! `clawhub --workdir` at the agent's home, and the completed bootstrap is recorded in the
//! fleet's record container beside the agent's other applied records.

use std::time::{Duration, Instant};

use super::DockerBackend;
use super::health::exec;
use super::records::{self, StoredRecord};
use crate::backend::BackendError;
use crate::backend::pilot;
use crate::backend::shell::{AgentShell, Ran};
use crate::desired::Agent;
use crate::observe::PilotRecord;

#[async_trait::async_trait]
impl AgentShell for DockerBackend {
    async fn run_in(
        &self,
        agent: &str,
        command: &[String],
        deadline: Instant,
    ) -> Result<Ran, BackendError> {
        exec(self, agent, command, deadline).await
    }
}

/// Waits for mutual trust with every peer, then records the bootstrap as done.
pub(super) async fn confirm_trust(
    backend: &DockerBackend,
    agent: &Agent,
    timeout: Duration,
) -> Result<(), BackendError> {
    pilot::confirm_trust(backend, agent, timeout).await?;
    let Some(bootstrap) = &agent.pilot else {
        return Ok(());
    };
    let Some((container, Some(mut record))) = records::current(backend, &agent.name).await? else {
        return Ok(());
    };
    record.pilot = Some(PilotRecord::of(bootstrap));
    let stored = StoredRecord {
        container: Some(container),
        record,
    };
    records::write(backend, &agent.name, &stored).await
}
