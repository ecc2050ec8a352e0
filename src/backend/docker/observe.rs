//! Observe: the fleet in three requests made at once, whatever its size: the list of its
//! containers (their labels carry what was applied at creation), the list of its
//! workspace volumes (agents without a container are reported `Missing`), and the stored
//! applied records (what changed since creation). A container is inspected only when the
//! list cannot tell which image it runs.

use std::collections::{BTreeSet, HashMap};

use bollard::models::{ContainerSummary, ContainerSummaryStateEnum, Volume};
use bollard::query_parameters::{ListContainersOptionsBuilder, ListVolumesOptionsBuilder};

use super::records::{self, StoredRecord};
use super::{CONFIG_HASH_LABEL, DockerBackend, SET_ASIDE_SUFFIX, request_error};
use crate::backend::BackendError;
use crate::backend::labels::{AGENT_LABEL, COMMIT_LABEL, FLEET_LABEL, RUNTIME_HASH_LABEL};
use crate::observe::{Health, Observed, ObservedAgent, ObservedSource, ObservedStatus};

/// See [`crate::backend::Backend::observe`].
pub(super) async fn observe(backend: &DockerBackend) -> Result<Observed, BackendError> {
    let (containers, volumes, stored) = tokio::try_join!(
        list_containers(backend),
        list_volumes(backend),
        records::read_all(backend),
    )?;
    let mut agents = Vec::new();
    let mut interrupted = Vec::new();
    let mut with_container = BTreeSet::new();
    for container in &containers {
        let Some(name) = container_name(container) else {
            continue;
        };
        if let Some(agent) = name.strip_suffix(SET_ASIDE_SUFFIX) {
            interrupted.push(agent.to_owned());
            continue;
        }
        with_container.insert(name.clone());
        agents.push(observe_container(backend, container, name, &stored).await?);
    }
    agents.extend(missing_agents(&volumes, &with_container, &stored));
    agents.sort_by(|left, right| left.name.cmp(&right.name));
    interrupted.sort();
    Ok(Observed {
        source: ObservedSource::Backend {
            description: format!("docker {}", backend.address),
        },
        agents,
        interrupted,
        teams: None,
        humans: None,
    })
}

/// Every container carrying this fleet's label, set-aside ones included.
pub(super) async fn list_containers(
    backend: &DockerBackend,
) -> Result<Vec<ContainerSummary>, BackendError> {
    list_labelled(backend, FLEET_LABEL).await
}

/// Every container (running or not) whose `label` names this fleet.
pub(super) async fn list_labelled(
    backend: &DockerBackend,
    label: &str,
) -> Result<Vec<ContainerSummary>, BackendError> {
    let filters = HashMap::from([(
        "label".to_owned(),
        vec![format!("{label}={}", backend.fleet)],
    )]);
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    backend
        .docker
        .list_containers(Some(options))
        .await
        .map_err(request_error("list containers", &backend.fleet))
}

/// Every volume carrying this fleet's label.
async fn list_volumes(backend: &DockerBackend) -> Result<Vec<Volume>, BackendError> {
    let filters = HashMap::from([(
        "label".to_owned(),
        vec![format!("{FLEET_LABEL}={}", backend.fleet)],
    )]);
    let options = ListVolumesOptionsBuilder::new().filters(&filters).build();
    Ok(backend
        .docker
        .list_volumes(Some(options))
        .await
        .map_err(request_error("list volumes", &backend.fleet))?
        .volumes
        .unwrap_or_default())
}

/// A container's name without the leading `/`.
pub(super) fn container_name(container: &ContainerSummary) -> Option<String> {
    let name = container.names.as_ref()?.first()?;
    Some(name.trim_start_matches('/').to_owned())
}

/// A label's value, or empty.
fn label(labels: &HashMap<String, String>, key: &str) -> String {
    labels.get(key).cloned().unwrap_or_default()
}

/// The health the list reports: its health check's verdict in the status text (`Up 3
/// minutes (healthy)`), else healthy while running.
fn health_of(status: &str, running: bool) -> Health {
    if status.contains("(healthy)") {
        Health::Healthy
    } else if status.contains("(unhealthy)") {
        Health::Unhealthy
    } else if status.contains("(health: starting)") {
        Health::Starting
    } else if running {
        Health::Healthy
    } else {
        Health::Unknown
    }
}

/// One listed container as an observed agent.
async fn observe_container(
    backend: &DockerBackend,
    container: &ContainerSummary,
    name: String,
    stored: &HashMap<String, StoredRecord>,
) -> Result<ObservedAgent, BackendError> {
    let labels = container.labels.clone().unwrap_or_default();
    let id = container.id.clone().unwrap_or_default();
    let running = container.state == Some(ContainerSummaryStateEnum::RUNNING);
    let applied = records::from_labels(&labels).map(|(agent, _)| agent);
    let record = records::in_force(&id, &labels, stored.get(&name));
    let mut image = container.image.clone().unwrap_or_default();
    if applied
        .as_ref()
        .is_some_and(|applied| applied.image != image)
    {
        // The list shows an image id once the reference moved on: ask for the reference.
        image = inspected_image(backend, &name).await?.unwrap_or(image);
    }
    let commit = label(&labels, COMMIT_LABEL);
    let mut agent = ObservedAgent {
        name,
        status: if running {
            ObservedStatus::Running
        } else {
            ObservedStatus::Stopped
        },
        health: health_of(container.status.as_deref().unwrap_or_default(), running),
        image,
        runtime_hash: label(&labels, RUNTIME_HASH_LABEL),
        config_hash: label(&labels, CONFIG_HASH_LABEL),
        commit: (!commit.is_empty()).then_some(commit),
        applied_state: records::recorded_state(&labels),
        last_applied: applied,
        edited: Vec::new(),
        runtime_state: None,
        pilot: None,
    };
    if let Some(record) = record {
        agent.pilot = record.pilot.clone();
        agent.config_hash = record.config_hash.clone();
        agent.commit = record.commit.clone().or(agent.commit);
        agent.applied_state = Some(record.state);
        if let Some(applied) = &mut agent.last_applied {
            applied.workspace = record.workspace;
            applied.config_hash = record.config_hash;
            applied.state = record.state;
        }
    }
    Ok(agent)
}

/// The image reference a container was created from; `None` when it vanished meanwhile.
async fn inspected_image(
    backend: &DockerBackend,
    name: &str,
) -> Result<Option<String>, BackendError> {
    match backend.docker.inspect_container(name, None).await {
        Ok(inspect) => Ok(inspect.config.and_then(|config| config.image)),
        Err(error) if super::is_not_found(&error) => Ok(None),
        Err(error) => Err(request_error("inspect", name)(error)),
    }
}

/// The fleet's workspace volumes whose agent has no container; a stored record (a removal
/// for `Stopped`) overrides what the volume's labels recorded at first creation.
fn missing_agents(
    volumes: &[Volume],
    with_container: &BTreeSet<String>,
    stored: &HashMap<String, StoredRecord>,
) -> Vec<ObservedAgent> {
    volumes
        .iter()
        .filter(|volume| volume.labels.contains_key(FLEET_LABEL))
        .filter_map(|volume| {
            let name = volume.labels.get(AGENT_LABEL)?.clone();
            if with_container.contains(&name) {
                return None;
            }
            let commit = label(&volume.labels, COMMIT_LABEL);
            let mut agent = ObservedAgent {
                status: ObservedStatus::Missing,
                health: Health::Unknown,
                image: String::new(),
                runtime_hash: label(&volume.labels, RUNTIME_HASH_LABEL),
                config_hash: label(&volume.labels, CONFIG_HASH_LABEL),
                commit: (!commit.is_empty()).then_some(commit),
                applied_state: records::recorded_state(&volume.labels),
                last_applied: None,
                edited: Vec::new(),
                runtime_state: None,
                pilot: None,
                name,
            };
            if let Some(stored) = stored.get(&agent.name).filter(|s| s.container.is_none()) {
                agent.config_hash = stored.record.config_hash.clone();
                agent.commit = stored.record.commit.clone().or(agent.commit);
                agent.applied_state = Some(stored.record.state);
            }
            Some(agent)
        })
        .collect()
}
