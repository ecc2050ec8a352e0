//! Observe: the fleet's containers (inspected, their applied record read from the volume)
//! and the fleet's workspace volumes without a container (reported `Missing`).

use std::collections::{BTreeSet, HashMap};

use bollard::models::{ContainerInspectResponse, HealthStatusEnum};
use bollard::query_parameters::ListVolumesOptionsBuilder;
use futures_util::{StreamExt, TryStreamExt};

use super::workspace::{self, RECORD_PATH};
use super::{
    AGENT_LABEL, APPLIED_LABEL, COMMIT_LABEL, CONFIG_HASH_LABEL, DockerBackend, FLEET_LABEL,
    RUNTIME_HASH_LABEL, SET_ASIDE_SUFFIX, STATE_LABEL, request_error,
};
use crate::backend::BackendError;
use crate::desired::Agent;
use crate::observe::{Health, Observed, ObservedAgent, ObservedSource, ObservedStatus};
use crate::spec::hiclaw::AgentState;

/// How many containers are inspected at once.
const CONCURRENCY: usize = 32;

/// See [`crate::backend::Backend::observe`].
pub(super) async fn observe(backend: &DockerBackend) -> Result<Observed, BackendError> {
    let names = super::connect::fleet_container_names(backend).await?;
    let names: Vec<String> = names
        .into_iter()
        .filter(|name| !name.ends_with(SET_ASIDE_SUFFIX))
        .collect();
    let observed: Vec<Option<ObservedAgent>> = futures_util::stream::iter(names.clone())
        .map(|name| async move { observe_container(backend, &name).await })
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;
    let mut agents: Vec<ObservedAgent> = observed.into_iter().flatten().collect();
    let with_container: BTreeSet<String> = names.into_iter().collect();
    agents.extend(missing_agents(backend, &with_container).await?);
    agents.sort_by(|left, right| left.name.cmp(&right.name));
    Ok(Observed {
        source: ObservedSource::Backend {
            description: format!("docker {}", backend.address),
        },
        agents,
    })
}

/// An applied state as recorded in a label.
fn parse_state(value: Option<&String>) -> Option<AgentState> {
    match value.map(String::as_str) {
        Some("Running") => Some(AgentState::Running),
        Some("Sleeping") => Some(AgentState::Sleeping),
        Some("Stopped") => Some(AgentState::Stopped),
        _ => None,
    }
}

/// A label's value, or empty.
fn label(labels: &HashMap<String, String>, key: &str) -> String {
    labels.get(key).cloned().unwrap_or_default()
}

/// The health Docker reports: its health check, else healthy while running.
fn health_of(inspect: &ContainerInspectResponse, running: bool) -> Health {
    let status = inspect
        .state
        .as_ref()
        .and_then(|state| state.health.as_ref())
        .and_then(|health| health.status);
    match status {
        Some(HealthStatusEnum::HEALTHY) => Health::Healthy,
        Some(HealthStatusEnum::UNHEALTHY) => Health::Unhealthy,
        Some(HealthStatusEnum::STARTING) => Health::Starting,
        _ if running => Health::Healthy,
        _ => Health::Unknown,
    }
}

/// One container; `None` when it vanished meanwhile.
async fn observe_container(
    backend: &DockerBackend,
    name: &str,
) -> Result<Option<ObservedAgent>, BackendError> {
    let inspect = match backend.docker.inspect_container(name, None).await {
        Ok(inspect) => inspect,
        Err(error) if super::is_not_found(&error) => return Ok(None),
        Err(error) => return Err(request_error("inspect", name)(error)),
    };
    let config = inspect.config.clone().unwrap_or_default();
    let labels = config.labels.clone().unwrap_or_default();
    if labels.get(FLEET_LABEL) != Some(&backend.fleet) {
        return Ok(None);
    }
    let running = inspect
        .state
        .as_ref()
        .and_then(|state| state.running)
        .unwrap_or(false);
    let home = config
        .working_dir
        .clone()
        .filter(|dir| !dir.is_empty())
        .unwrap_or_else(|| "/root".to_owned());
    let record = workspace::read_record(backend, name, &home, RECORD_PATH).await?;
    let mut last_applied: Option<Agent> = labels
        .get(APPLIED_LABEL)
        .and_then(|json| serde_json::from_str(json).ok());
    let commit = label(&labels, COMMIT_LABEL);
    let mut agent = ObservedAgent {
        name: name.to_owned(),
        status: if running {
            ObservedStatus::Running
        } else {
            ObservedStatus::Stopped
        },
        health: health_of(&inspect, running),
        image: config.image.clone().unwrap_or_default(),
        runtime_hash: label(&labels, RUNTIME_HASH_LABEL),
        config_hash: label(&labels, CONFIG_HASH_LABEL),
        commit: (!commit.is_empty()).then_some(commit),
        applied_state: parse_state(labels.get(STATE_LABEL)),
        last_applied: None,
    };
    if let Some(record) = record {
        agent.config_hash = record.config_hash.clone();
        agent.commit = record.commit.clone().or(agent.commit);
        agent.applied_state = Some(record.state);
        if let Some(applied) = &mut last_applied {
            applied.workspace = record.workspace;
            applied.config_hash = record.config_hash;
            applied.state = record.state;
        }
    }
    agent.last_applied = last_applied;
    Ok(Some(agent))
}

/// The fleet's workspace volumes whose agent has no container.
async fn missing_agents(
    backend: &DockerBackend,
    with_container: &BTreeSet<String>,
) -> Result<Vec<ObservedAgent>, BackendError> {
    let filters = HashMap::from([(
        "label".to_owned(),
        vec![format!("{FLEET_LABEL}={}", backend.fleet)],
    )]);
    let options = ListVolumesOptionsBuilder::new().filters(&filters).build();
    let volumes = backend
        .docker
        .list_volumes(Some(options))
        .await
        .map_err(request_error("list volumes", &backend.fleet))?
        .volumes
        .unwrap_or_default();
    Ok(volumes
        .into_iter()
        .filter(|volume| volume.labels.get(FLEET_LABEL) == Some(&backend.fleet))
        .filter_map(|volume| {
            let name = volume.labels.get(AGENT_LABEL)?.clone();
            if with_container.contains(&name) {
                return None;
            }
            let commit = label(&volume.labels, COMMIT_LABEL);
            Some(ObservedAgent {
                name,
                status: ObservedStatus::Missing,
                health: Health::Unknown,
                image: String::new(),
                runtime_hash: label(&volume.labels, RUNTIME_HASH_LABEL),
                config_hash: label(&volume.labels, CONFIG_HASH_LABEL),
                commit: (!commit.is_empty()).then_some(commit),
                applied_state: parse_state(volume.labels.get(STATE_LABEL)),
                last_applied: None,
            })
        })
        .collect())
}
