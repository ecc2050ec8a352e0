//! The agent's workspace inside its volume: workspace files uploaded as a tar archive to
//! `HOME` (works on created, stopped and running containers alike), read back to verify a
//! push, and the applied record `$HOME/.clawops/applied.json`.
//!
//! The record holds what changes without a new container (config hash, workspace files,
//! commit, applied state); the container's labels hold what was fixed at creation. The
//! record holds no env values, so a DebugWorker mounting the volume sees no secret.

use std::collections::BTreeMap;

use bollard::query_parameters::{
    DownloadFromContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};

use super::{DockerBackend, is_not_found, request_error};
use crate::backend::BackendError;
use crate::desired::{Agent, Workspace};
use crate::spec::hiclaw::AgentState;

/// The applied record, relative to `HOME`.
pub(super) const RECORD_PATH: &str = ".clawops/applied.json";
/// The record of the container set aside by a recreate, relative to `HOME`.
pub(super) const PREVIOUS_PATH: &str = ".clawops/previous.json";
/// `HOME` when an agent's env has none.
const DEFAULT_HOME: &str = "/root";

/// What clawops last applied to an agent's workspace.
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
}

impl AppliedRecord {
    /// The record of applying `agent` from `commit`.
    pub fn of(agent: &Agent, commit: Option<&str>) -> Self {
        Self {
            state: agent.state,
            config_hash: agent.config_hash.clone(),
            commit: commit.map(str::to_owned),
            workspace: agent.workspace.clone(),
        }
    }

    fn to_bytes(&self, agent: &str) -> Result<Vec<u8>, BackendError> {
        serde_json::to_vec_pretty(self).map_err(|source| BackendError::Request {
            operation: "encode applied record",
            agent: agent.to_owned(),
            source: Box::new(source),
        })
    }
}

/// The agent's `HOME` (its working directory and workspace mount point).
pub(super) fn home(agent: &Agent) -> String {
    agent
        .env
        .get("HOME")
        .map(|variable| variable.value.clone())
        .filter(|home| !home.is_empty())
        .unwrap_or_else(|| DEFAULT_HOME.to_owned())
}

/// A tar archive of `files` (paths relative to the extraction directory).
fn archive<'a>(
    agent: &str,
    files: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Result<Vec<u8>, BackendError> {
    let encode_error = |source: std::io::Error| BackendError::Request {
        operation: "archive workspace",
        agent: agent.to_owned(),
        source: Box::new(source),
    };
    let mut builder = tar::Builder::new(Vec::new());
    for (path, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, path, content)
            .map_err(encode_error)?;
    }
    builder.into_inner().map_err(encode_error)
}

/// Uploads the workspace files and `record` into `container` at `home`.
pub(super) async fn upload(
    backend: &DockerBackend,
    container: &str,
    home: &str,
    workspace: &Workspace,
    record: &AppliedRecord,
) -> Result<(), BackendError> {
    let record_bytes = record.to_bytes(container)?;
    let files = workspace
        .iter()
        .map(|(path, content)| (path.as_str(), content.as_bytes()))
        .chain([(RECORD_PATH, record_bytes.as_slice())]);
    upload_files(backend, container, home, files).await
}

/// Uploads `files` (relative to `home`) into `container`.
pub(super) async fn upload_files<'a>(
    backend: &DockerBackend,
    container: &str,
    home: &str,
    files: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Result<(), BackendError> {
    let tar = archive(container, files)?;
    let options = UploadToContainerOptionsBuilder::new().path(home).build();
    backend
        .docker
        .upload_to_container(container, Some(options), bollard::body_full(tar.into()))
        .await
        .map_err(request_error("upload workspace", container))
}

/// Reads one file of `container`; `None` when it does not exist.
pub(super) async fn read_file(
    backend: &DockerBackend,
    container: &str,
    path: &str,
) -> Result<Option<Vec<u8>>, BackendError> {
    let options = DownloadFromContainerOptionsBuilder::new()
        .path(path)
        .build();
    let chunks: Result<Vec<_>, _> = backend
        .docker
        .download_from_container(container, Some(options))
        .try_collect()
        .await;
    let chunks = match chunks {
        Ok(chunks) => chunks,
        Err(error) if is_not_found(&error) => return Ok(None),
        Err(error) => return Err(request_error("read workspace", container)(error)),
    };
    let bytes: Vec<u8> = chunks
        .iter()
        .flat_map(|chunk| chunk.iter().copied())
        .collect();
    let read_error = |source: std::io::Error| BackendError::Request {
        operation: "read workspace",
        agent: container.to_owned(),
        source: Box::new(source),
    };
    let mut tar = tar::Archive::new(bytes.as_slice());
    for entry in tar.entries().map_err(read_error)? {
        let mut entry = entry.map_err(read_error)?;
        if entry.header().entry_type().is_file() {
            let mut content = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut content).map_err(read_error)?;
            return Ok(Some(content));
        }
    }
    Ok(None)
}

/// Reads a record (`RECORD_PATH` or `PREVIOUS_PATH`) of `container`; `None` when absent
/// or unreadable (an older or hand-made file).
pub(super) async fn read_record(
    backend: &DockerBackend,
    container: &str,
    home: &str,
    path: &str,
) -> Result<Option<AppliedRecord>, BackendError> {
    let full = format!("{}/{path}", home.trim_end_matches('/'));
    let bytes = read_file(backend, container, &full).await?;
    Ok(bytes.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

/// Writes a record to `path` (relative to `home`) of `container`.
pub(super) async fn write_record(
    backend: &DockerBackend,
    container: &str,
    home: &str,
    path: &str,
    record: &AppliedRecord,
) -> Result<(), BackendError> {
    let bytes = record.to_bytes(container)?;
    upload_files(backend, container, home, [(path, bytes.as_slice())]).await
}

/// Sets the applied state in the record of `container` (sleep and wake).
pub(super) async fn record_state(
    backend: &DockerBackend,
    container: &str,
    home: &str,
    state: AgentState,
) -> Result<(), BackendError> {
    if let Some(mut record) = read_record(backend, container, home, RECORD_PATH).await? {
        record.state = state;
        write_record(backend, container, home, RECORD_PATH, &record).await?;
    }
    Ok(())
}

/// Hot push: writes the workspace files and the new record, then reads every file back.
/// Files dropped from the workspace stay in the volume (the record no longer lists them).
pub(super) async fn push_config(
    backend: &DockerBackend,
    agent: &Agent,
    commit: Option<&str>,
) -> Result<(), BackendError> {
    let home = home(agent);
    let current = read_record(backend, &agent.name, &home, RECORD_PATH).await?;
    let mut record = AppliedRecord::of(agent, commit);
    if let Some(current) = current {
        record.state = current.state;
    }
    upload(backend, &agent.name, &home, &agent.workspace, &record).await?;
    let expected: BTreeMap<&str, &[u8]> = agent
        .workspace
        .iter()
        .map(|(path, content)| (path.as_str(), content.as_bytes()))
        .collect();
    for (path, content) in expected {
        let full = format!("{}/{path}", home.trim_end_matches('/'));
        let read = read_file(backend, &agent.name, &full).await?;
        if read.as_deref() != Some(content) {
            return Err(BackendError::VerifyPush {
                agent: agent.name.clone(),
                path: path.to_owned(),
            });
        }
    }
    Ok(())
}
