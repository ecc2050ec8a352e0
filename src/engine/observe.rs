//! Opening the backend and observing it fully: the backend's one read of the fleet, then
//! whatever drift it finds beyond its records (Kubernetes: dry runs). `plan`, `status`,
//! `apply` and the daemon all observe through [`observe`], so they see the same fleet.

use super::load::Loaded;
use super::settings::Connection;
use crate::backend::{self, Backend, BackendError};
use crate::desired::Desired;
use crate::observe::Observed;
use crate::spec::config::Config;

/// Opens the backend `config` names (or `connection` overrides) for `fleet`.
pub async fn open(
    config: &Config,
    connection: &Connection,
    fleet: &str,
) -> Result<Box<dyn Backend>, BackendError> {
    backend::open(&connection.over(config), fleet, &connection.endpoint).await
}

/// Opens the backend of `loaded`'s fleet and observes it fully (what `plan` against the
/// live fleet, `status` and the daemon's drift check look at).
pub async fn observe_fleet(
    loaded: &Loaded,
    connection: &Connection,
) -> Result<Observed, BackendError> {
    let backend = open(&loaded.config, connection, &loaded.desired.fleet).await?;
    observe(backend.as_ref(), &loaded.desired).await
}

/// What one Pilot role's node reports (or why it could not be asked).
pub type PilotRow = (
    String,
    Result<crate::backend::pilot::PilotStatus, BackendError>,
);

/// What `clawops status` shows: the fleet observed fully, and each running Pilot role's
/// node as it reports itself (hostname, installed skills, trusted peers).
pub async fn fleet_status(
    loaded: &Loaded,
    connection: &Connection,
) -> Result<(Observed, Vec<PilotRow>), BackendError> {
    let backend = open(&loaded.config, connection, &loaded.desired.fleet).await?;
    let observed = observe(backend.as_ref(), &loaded.desired).await?;
    let mut pilot = Vec::new();
    for agent in &loaded.desired.agents {
        let running = observed
            .agent(&agent.name)
            .is_some_and(|seen| seen.status == crate::observe::ObservedStatus::Running);
        if agent.pilot.is_some() && running {
            pilot.push((agent.name.clone(), backend.pilot_status(agent).await));
        }
    }
    Ok((observed, pilot))
}

/// Observes the fleet, and the drift the backend finds by comparing it with `desired`.
pub async fn observe(backend: &dyn Backend, desired: &Desired) -> Result<Observed, BackendError> {
    let observed = backend.observe().await?;
    backend.check_drift(desired, observed).await
}
