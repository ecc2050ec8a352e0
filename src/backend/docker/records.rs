//! Applied records: what clawops last applied to each agent (state, config hash, commit,
//! workspace files), readable for the whole fleet in one request.
//!
//! A container's labels record everything as it was at creation (the `clawops.dev/applied`
//! label holds the whole agent, workspace files included). What changes later without a
//! new container (a hot push, sleep, wake, a removal for `Stopped`) is written as one file
//! per agent into the fleet's record container, `clawops-records-<fleet>`, which is never
//! started. Each stored record names the container it is about, so a record outlived by a
//! recreate is simply ignored: the new container's labels are newer. Records hold no env
//! values (env lives in the container), so no secret is ever written here.

use std::collections::HashMap;

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, DownloadFromContainerOptionsBuilder,
};
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};

use super::workspace::{read_file, upload_files};
use super::{APPLIED_LABEL, CONFIG_HASH_LABEL, DockerBackend, is_not_found, request_error};
use crate::backend::BackendError;
use crate::backend::labels::{COMMIT_LABEL, STATE_LABEL};
use crate::desired::{Agent, Workspace};
use crate::spec::hiclaw::AgentState;

/// The folder of records inside the record container.
const RECORDS_DIR: &str = "records";
/// Label marking record containers, with the fleet as value (not the fleet label: a
/// record container is not an agent).
pub const RECORDS_LABEL: &str = "clawops.dev/records";

/// The record container's name for a fleet.
pub fn records_name(fleet: &str) -> String {
    format!("clawops-records-{fleet}")
}

/// What clawops last applied to an agent's workspace and state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct AppliedRecord {
    /// The applied state.
    pub state: AgentState,
    /// The config hash of `workspace`.
    pub config_hash: String,
    /// The commit it was applied from.
    pub commit: Option<String>,
    /// The workspace files.
    pub workspace: Workspace,
    /// A Pilot role's completed bootstrap (written once its trust is confirmed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pilot: Option<crate::observe::PilotRecord>,
}

impl AppliedRecord {
    /// The record of applying `agent` from `commit`.
    pub fn of(agent: &Agent, commit: Option<&str>) -> Self {
        Self {
            state: agent.state,
            config_hash: agent.config_hash.clone(),
            commit: commit.map(str::to_owned),
            workspace: agent.workspace.clone(),
            pilot: None,
        }
    }
}

/// A record in the record container, about one container (`None`: the agent has no
/// container on purpose, it was removed for `Stopped`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct StoredRecord {
    /// The id of the container the record is about.
    pub container: Option<String>,
    /// The record.
    pub record: AppliedRecord,
}

/// The agent clawops applied at creation and the record its labels hold.
pub(super) fn from_labels(labels: &HashMap<String, String>) -> Option<(Agent, AppliedRecord)> {
    let applied: Agent = serde_json::from_str(labels.get(APPLIED_LABEL)?).ok()?;
    let state = recorded_state(labels).unwrap_or(applied.state);
    let commit = labels.get(COMMIT_LABEL).filter(|commit| !commit.is_empty());
    let record = AppliedRecord {
        state,
        config_hash: labels
            .get(CONFIG_HASH_LABEL)
            .cloned()
            .unwrap_or_else(|| applied.config_hash.clone()),
        commit: commit.cloned(),
        workspace: applied.workspace.clone(),
        pilot: None,
    };
    Some((applied, record))
}

/// The record in force for container `id`: the stored one when it is about this
/// container, else the one its labels hold.
pub(super) fn in_force(
    id: &str,
    labels: &HashMap<String, String>,
    stored: Option<&StoredRecord>,
) -> Option<AppliedRecord> {
    match stored {
        Some(stored) if stored.container.as_deref() == Some(id) => Some(stored.record.clone()),
        _ => from_labels(labels).map(|(_, record)| record),
    }
}

/// An applied state as recorded in the state label.
pub(super) fn recorded_state(labels: &HashMap<String, String>) -> Option<AgentState> {
    labels
        .get(STATE_LABEL)
        .and_then(|name| AgentState::from_name(name))
}

/// The agent a container belongs to (a set-aside container's too).
fn agent_of(container: &str) -> &str {
    container.trim_end_matches(super::SET_ASIDE_SUFFIX)
}

/// Every stored record of the fleet, by agent, in one request (none before the first
/// hot push, sleep, wake or removal).
pub(super) async fn read_all(
    backend: &DockerBackend,
) -> Result<HashMap<String, StoredRecord>, BackendError> {
    let name = records_name(&backend.fleet);
    let options = DownloadFromContainerOptionsBuilder::new()
        .path(&format!("/{RECORDS_DIR}"))
        .build();
    let chunks: Result<Vec<_>, _> = backend
        .docker
        .download_from_container(&name, Some(options))
        .try_collect()
        .await;
    let chunks = match chunks {
        Ok(chunks) => chunks,
        Err(error) if is_not_found(&error) => return Ok(HashMap::new()),
        Err(error) => return Err(request_error("read applied records", &name)(error)),
    };
    let bytes: Vec<u8> = chunks.concat();
    let read_error = |source: std::io::Error| BackendError::Request {
        operation: "read applied records",
        agent: name.clone(),
        transient: false,
        source: Box::new(source),
    };
    let mut records = HashMap::new();
    let mut archive = tar::Archive::new(bytes.as_slice());
    for entry in archive.entries().map_err(read_error)? {
        let mut entry = entry.map_err(read_error)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path().map_err(read_error)?.into_owned();
        let Some(agent) = path
            .file_name()
            .and_then(|file| file.to_str())
            .and_then(|file| file.strip_suffix(".json"))
            .map(str::to_owned)
        else {
            continue;
        };
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut content).map_err(read_error)?;
        // An unreadable record (hand-made, older format) counts as none: labels decide.
        if let Ok(record) = serde_json::from_slice(&content) {
            records.insert(agent, record);
        }
    }
    Ok(records)
}

/// The record in force for `container` (see [`in_force`]) with the container's id;
/// `None` when the container does not exist.
pub(super) async fn current(
    backend: &DockerBackend,
    container: &str,
) -> Result<Option<(String, Option<AppliedRecord>)>, BackendError> {
    let inspect = match backend.docker.inspect_container(container, None).await {
        Ok(inspect) => inspect,
        Err(error) if is_not_found(&error) => return Ok(None),
        Err(error) => return Err(request_error("inspect", container)(error)),
    };
    let id = inspect.id.unwrap_or_default();
    let labels = inspect
        .config
        .and_then(|config| config.labels)
        .unwrap_or_default();
    let stored = read(backend, agent_of(container)).await?;
    Ok(Some((id.clone(), in_force(&id, &labels, stored.as_ref()))))
}

/// The stored record of one agent.
async fn read(backend: &DockerBackend, agent: &str) -> Result<Option<StoredRecord>, BackendError> {
    let name = records_name(&backend.fleet);
    let path = format!("/{RECORDS_DIR}/{agent}.json");
    let bytes = read_file(backend, &name, &path).await?;
    Ok(bytes.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

/// Stores the record of `agent` (creating the record container on first use).
pub(super) async fn write(
    backend: &DockerBackend,
    agent: &str,
    stored: &StoredRecord,
) -> Result<(), BackendError> {
    let name = records_name(&backend.fleet);
    let _turn = backend.records_turn.lock().await;
    ensure_container(backend, &name).await?;
    let bytes = serde_json::to_vec_pretty(stored).map_err(|source| BackendError::Request {
        operation: "encode applied record",
        agent: agent.to_owned(),
        transient: false,
        source: Box::new(source),
    })?;
    let path = format!("{RECORDS_DIR}/{agent}.json");
    upload_files(backend, &name, "/", [(path.as_str(), bytes.as_slice())]).await
}

/// Creates the record container unless it exists.
async fn ensure_container(backend: &DockerBackend, name: &str) -> Result<(), BackendError> {
    match backend.docker.inspect_container(name, None).await {
        Ok(_) => return Ok(()),
        Err(error) if is_not_found(&error) => {}
        Err(error) => return Err(request_error("create the record container", name)(error)),
    }
    backend.ensure_holder_image().await?;
    let body = ContainerCreateBody {
        image: Some(super::lock::HOLDER_IMAGE.to_owned()),
        labels: Some(HashMap::from([(
            RECORDS_LABEL.to_owned(),
            backend.fleet.clone(),
        )])),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::new().name(name).build();
    match backend.docker.create_container(Some(options), body).await {
        Ok(_) => Ok(()),
        // Created meanwhile by another step of this apply: fine.
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409, ..
        }) => Ok(()),
        Err(error) => Err(request_error("create the record container", name)(error)),
    }
}
