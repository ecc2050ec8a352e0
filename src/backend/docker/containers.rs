//! Container lifecycle: create (with its workspace volume), recreate with the old
//! container set aside, roll back, sleep, wake, remove and delete.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, HostConfig, Mount, MountType, RestartPolicy, RestartPolicyNameEnum,
    VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder,
    RenameContainerOptionsBuilder, StartContainerOptions, StopContainerOptionsBuilder,
};

use super::records::{self, StoredRecord};
use super::workspace;
use super::{
    APPLIED_LABEL, CONFIG_HASH_LABEL, DockerBackend, ROLE_LABEL, STOP_GRACE_SECONDS, is_not_found,
    request_error, set_aside_name, volume_name,
};
use crate::backend::BackendError;
use crate::backend::labels::{
    AGENT_LABEL, COMMIT_LABEL, FLEET_LABEL, RUNTIME_HASH_LABEL, STATE_LABEL,
};
use crate::desired::{Agent, AgentRole, cpu_nanos, memory_bytes, with_digests};
use crate::spec::hiclaw::AgentState;

/// Where a DebugWorker sees its targets' workspaces.
const DEBUG_MOUNT_ROOT: &str = "/root/debug/workspaces";

/// The labels clawops records on an agent's container (and, less, on its volume).
fn applied_labels(
    backend: &DockerBackend,
    agent: &Agent,
    commit: Option<&str>,
) -> Result<HashMap<String, String>, BackendError> {
    // The whole agent, workspace files included: observing reads it from the list call.
    // Labels are readable by anyone who may list containers: sensitive values are recorded
    // as digests only, which planning compares with the digests of the desired values.
    let applied =
        serde_json::to_string(&with_digests(agent)).map_err(|source| BackendError::Request {
            operation: "encode applied labels",
            agent: agent.name.clone(),
            transient: false,
            source: Box::new(source),
        })?;
    let mut labels: HashMap<String, String> = agent.labels.clone().into_iter().collect();
    labels.extend([
        (FLEET_LABEL.to_owned(), backend.fleet.clone()),
        (RUNTIME_HASH_LABEL.to_owned(), agent.runtime_hash.clone()),
        (CONFIG_HASH_LABEL.to_owned(), agent.config_hash.clone()),
        (
            COMMIT_LABEL.to_owned(),
            commit.unwrap_or_default().to_owned(),
        ),
        (STATE_LABEL.to_owned(), agent.state.as_str().to_owned()),
        (ROLE_LABEL.to_owned(), agent.role.as_str().to_owned()),
        (APPLIED_LABEL.to_owned(), applied),
    ]);
    Ok(labels)
}

/// The env of the container, secret references resolved (values never logged).
fn container_env(agent: &Agent) -> Result<Vec<String>, BackendError> {
    agent
        .env
        .iter()
        .map(|(key, variable)| {
            let value = if variable.secret_ref {
                super::connect::resolve_secret(&agent.name, &variable.value)?
            } else {
                variable.value.clone()
            };
            Ok(format!("{key}={value}"))
        })
        .collect()
}

/// The workspace volume, plus a DebugWorker's targets read-only.
fn mounts(agent: &Agent, home: &str) -> Vec<Mount> {
    let mut mounts = vec![Mount {
        target: Some(home.to_owned()),
        source: Some(volume_name(&agent.name)),
        typ: Some(MountType::VOLUME),
        ..Default::default()
    }];
    for target in &agent.debug_targets {
        mounts.push(Mount {
            target: Some(format!("{DEBUG_MOUNT_ROOT}/{target}")),
            source: Some(volume_name(&agent.debug_target_agent(target))),
            typ: Some(MountType::VOLUME),
            read_only: Some(true),
            ..Default::default()
        });
    }
    mounts
}

/// The container's whole configuration.
fn container_body(
    backend: &DockerBackend,
    agent: &Agent,
    commit: Option<&str>,
) -> Result<ContainerCreateBody, BackendError> {
    let home = workspace::home(agent);
    let hostname = match agent.role {
        AgentRole::Pilot => agent.hostname.clone(),
        _ => None,
    };
    let ports = agent
        .ports
        .iter()
        .map(|port| format!("{}/tcp", port.port))
        .collect::<Vec<_>>();
    Ok(ContainerCreateBody {
        image: Some(agent.image.clone()),
        hostname,
        env: Some(container_env(agent)?),
        working_dir: Some(home.clone()),
        labels: Some(applied_labels(backend, agent, commit)?),
        exposed_ports: (!ports.is_empty()).then_some(ports),
        host_config: Some(HostConfig {
            mounts: Some(mounts(agent, &home)),
            network_mode: Some(backend.network.clone()),
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                maximum_retry_count: None,
            }),
            // The spec's limits; its memory request becomes a soft reservation.
            memory: agent
                .resources
                .limits_memory
                .as_deref()
                .and_then(memory_bytes),
            memory_reservation: agent
                .resources
                .requests_memory
                .as_deref()
                .and_then(memory_bytes),
            nano_cpus: agent.resources.limits_cpu.as_deref().and_then(cpu_nanos),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// Creates the agent's volume unless it exists, labelled with the fleet and the agent.
async fn ensure_volume(
    backend: &DockerBackend,
    agent: &Agent,
    commit: Option<&str>,
) -> Result<(), BackendError> {
    // The engine hands back an existing volume unchanged (its labels keep what was
    // recorded when it was first made), so no look before is needed.
    let name = volume_name(&agent.name);
    let labels = HashMap::from([
        (FLEET_LABEL.to_owned(), backend.fleet.clone()),
        (AGENT_LABEL.to_owned(), agent.name.clone()),
        (STATE_LABEL.to_owned(), agent.state.as_str().to_owned()),
        (RUNTIME_HASH_LABEL.to_owned(), agent.runtime_hash.clone()),
        (CONFIG_HASH_LABEL.to_owned(), agent.config_hash.clone()),
        (
            COMMIT_LABEL.to_owned(),
            commit.unwrap_or_default().to_owned(),
        ),
        (ROLE_LABEL.to_owned(), agent.role.as_str().to_owned()),
    ]);
    let request = VolumeCreateRequest {
        name: Some(name),
        labels: Some(labels),
        ..Default::default()
    };
    backend
        .docker
        .create_volume(request)
        .await
        .map_err(request_error("create volume", &agent.name))?;
    Ok(())
}

/// Creates the container with its workspace written, not started.
async fn create_container(
    backend: &DockerBackend,
    agent: &Agent,
    commit: Option<&str>,
    upload: Upload,
) -> Result<(), BackendError> {
    ensure_volume(backend, agent, commit).await?;
    let body = container_body(backend, agent, commit)?;
    let options = CreateContainerOptionsBuilder::new()
        .name(&agent.name)
        .build();
    backend
        .docker
        .create_container(Some(options), body)
        .await
        .map_err(request_error("create", &agent.name))?;
    match upload {
        Upload::AlreadyInPlace => Ok(()),
        Upload::Needed => backend.seed_workspace(agent).await,
    }
}

/// Whether a new container needs the workspace files written into its volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Upload {
    /// Write them.
    Needed,
    /// The volume already holds exactly these files.
    AlreadyInPlace,
}

/// Whether the volume already holds `agent`'s workspace files, as the current container's
/// record says: then a recreate for an image or runtime change does not write them again.
/// (The files sit at the volume's root, so a new `HOME` only moves where they appear.)
async fn workspace_upload(backend: &DockerBackend, agent: &Agent) -> Result<Upload, BackendError> {
    match records::current(backend, &agent.name).await? {
        Some((_, Some(record))) if record.workspace == agent.workspace => {
            Ok(Upload::AlreadyInPlace)
        }
        _ => Ok(Upload::Needed),
    }
}

/// Creates the container and starts it unless the agent is asleep.
async fn create_and_start(
    backend: &DockerBackend,
    agent: &Agent,
    commit: Option<&str>,
    upload: Upload,
) -> Result<(), BackendError> {
    create_container(backend, agent, commit, upload).await?;
    if agent.state == AgentState::Sleeping {
        return Ok(());
    }
    start(backend, &agent.name).await
}

/// Creates the agent (see [`crate::backend::Backend::create_agent`]).
pub(super) async fn create_agent(
    backend: &DockerBackend,
    agent: &Agent,
    commit: Option<&str>,
) -> Result<(), BackendError> {
    super::connect::ensure_network(backend).await?;
    create_and_start(backend, agent, commit, Upload::Needed).await
}

/// Sets the old container aside (stopped and renamed; its record stays valid, as it names
/// the old container) and creates the new.
pub(super) async fn recreate_agent(
    backend: &DockerBackend,
    agent: &Agent,
    commit: Option<&str>,
) -> Result<(), BackendError> {
    let upload = workspace_upload(backend, agent).await?;
    stop(backend, &agent.name).await?;
    let options = RenameContainerOptionsBuilder::new()
        .name(&set_aside_name(&agent.name))
        .build();
    backend
        .docker
        .rename_container(&agent.name, options)
        .await
        .map_err(request_error("set aside", &agent.name))?;
    super::connect::ensure_network(backend).await?;
    create_and_start(backend, agent, commit, upload).await
}

/// Removes the new container, renames the old one back, restores the workspace files of
/// its record, and starts it if it was running.
pub(super) async fn roll_back(backend: &DockerBackend, name: &str) -> Result<(), BackendError> {
    let old = set_aside_name(name);
    let Some((_, previous)) = records::current(backend, &old).await? else {
        return Err(BackendError::Request {
            operation: "roll back",
            agent: name.to_owned(),
            transient: false,
            source: format!("no container {old} to restore").into(),
        });
    };
    let home = container_home(backend, &old).await?;
    remove_container(backend, name, "roll back").await?;
    let options = RenameContainerOptionsBuilder::new().name(name).build();
    backend
        .docker
        .rename_container(&old, options)
        .await
        .map_err(request_error("roll back", name))?;
    let Some(previous) = previous else {
        return start(backend, name).await;
    };
    workspace::upload(backend, name, &home, &previous.workspace).await?;
    if previous.state == AgentState::Running {
        start(backend, name).await?;
    }
    Ok(())
}

/// Starts a container (a running one is left alone).
pub(super) async fn start(backend: &DockerBackend, name: &str) -> Result<(), BackendError> {
    backend
        .docker
        .start_container(name, None::<StartContainerOptions>)
        .await
        .map_err(request_error("start", name))
}

/// Stops a container with a short grace (a stopped one is left alone).
async fn stop(backend: &DockerBackend, name: &str) -> Result<(), BackendError> {
    let options = StopContainerOptionsBuilder::new()
        .t(STOP_GRACE_SECONDS)
        .build();
    backend
        .docker
        .stop_container(name, Some(options))
        .await
        .map_err(request_error("stop", name))
}

/// The `HOME` of a container (its working directory).
async fn container_home(backend: &DockerBackend, name: &str) -> Result<String, BackendError> {
    let inspect = backend
        .docker
        .inspect_container(name, None)
        .await
        .map_err(request_error("inspect", name))?;
    Ok(inspect
        .config
        .and_then(|config| config.working_dir)
        .filter(|dir| !dir.is_empty())
        .unwrap_or_else(|| "/root".to_owned()))
}

/// Stores the agent's record with `state`; `keep_container: false` records that the
/// agent has no container on purpose. `false` when the agent has no container.
async fn record_state(
    backend: &DockerBackend,
    name: &str,
    state: AgentState,
    keep_container: bool,
) -> Result<bool, BackendError> {
    let Some((container, record)) = records::current(backend, name).await? else {
        return Ok(false);
    };
    if let Some(mut record) = record {
        record.state = state;
        let stored = StoredRecord {
            container: keep_container.then_some(container),
            record,
        };
        records::write(backend, name, &stored).await?;
    }
    Ok(true)
}

/// Records the Sleeping state, then stops the agent.
pub(super) async fn sleep_agent(backend: &DockerBackend, name: &str) -> Result<(), BackendError> {
    record_state(backend, name, AgentState::Sleeping, true).await?;
    stop(backend, name).await
}

/// Records the Running state, then starts the agent.
pub(super) async fn wake_agent(backend: &DockerBackend, name: &str) -> Result<(), BackendError> {
    record_state(backend, name, AgentState::Running, true).await?;
    start(backend, name).await
}

/// Records the Stopped state, then removes the agent's container (its volume stays).
pub(super) async fn remove_agent(backend: &DockerBackend, name: &str) -> Result<(), BackendError> {
    if record_state(backend, name, AgentState::Stopped, false).await? {
        remove_container(backend, name, "remove").await?;
    }
    Ok(())
}

/// Removes a container (stopping it first); a missing one is fine.
pub(super) async fn remove_container(
    backend: &DockerBackend,
    name: &str,
    operation: &'static str,
) -> Result<(), BackendError> {
    let labels = match backend.docker.inspect_container(name, None).await {
        Ok(inspect) => inspect.config.and_then(|config| config.labels),
        Err(error) if is_not_found(&error) => return Ok(()),
        Err(error) => return Err(request_error(operation, name)(error)),
    };
    if labels.and_then(|labels| labels.get(FLEET_LABEL).cloned()) != Some(backend.fleet.clone()) {
        tracing::warn!(container = name, "not owned by this fleet, left alone");
        return Ok(());
    }
    let options = RemoveContainerOptionsBuilder::new().force(true).build();
    match backend.docker.remove_container(name, Some(options)).await {
        Ok(()) => Ok(()),
        Err(error) if is_not_found(&error) => Ok(()),
        Err(error) => Err(request_error(operation, name)(error)),
    }
}

/// Removes the agent's container (and any set aside), and its volume when `workspace`.
pub(super) async fn delete_agent(
    backend: &DockerBackend,
    name: &str,
    workspace: bool,
) -> Result<(), BackendError> {
    remove_container(backend, &set_aside_name(name), "delete").await?;
    remove_container(backend, name, "delete").await?;
    if !workspace {
        return Ok(());
    }
    let volume = volume_name(name);
    let owned = match backend.docker.inspect_volume(&volume).await {
        Ok(found) => found.labels.get(FLEET_LABEL) == Some(&backend.fleet),
        Err(error) if is_not_found(&error) => return Ok(()),
        Err(error) => return Err(request_error("delete volume", name)(error)),
    };
    if !owned {
        return Ok(());
    }
    let options = RemoveVolumeOptionsBuilder::new().build();
    backend
        .docker
        .remove_volume(&volume, Some(options))
        .await
        .map_err(request_error("delete volume", name))
}
