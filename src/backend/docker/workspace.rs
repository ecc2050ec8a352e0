//! The agent's workspace inside its volume: workspace files uploaded as a tar archive to
//! `HOME` (works on created, stopped and running containers alike) and read back to verify
//! a push. What was applied is recorded elsewhere, see [`super::records`].

use std::collections::BTreeMap;

use bollard::query_parameters::{
    DownloadFromContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use futures_util::{StreamExt, TryStreamExt};

use super::records::{self, AppliedRecord, StoredRecord};
use super::{DockerBackend, is_not_found, request_error};
use crate::backend::BackendError;
use crate::desired::{Agent, Workspace};

/// `HOME` when an agent's env has none.
/// Workspace files read back at once when verifying a push.
const VERIFY_CONCURRENCY: usize = 8;

/// The agent's `HOME` (its working directory and workspace mount point).
pub(super) fn home(agent: &Agent) -> String {
    crate::backend::shell::home(agent)
}

/// A tar archive of `files` (paths relative to the extraction directory).
pub(super) fn archive<'a>(
    agent: &str,
    files: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Result<Vec<u8>, BackendError> {
    let encode_error = |source: std::io::Error| BackendError::Request {
        operation: "archive workspace",
        agent: agent.to_owned(),
        transient: false,
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

/// Uploads the workspace files into `container` at `home`.
pub(super) async fn upload(
    backend: &DockerBackend,
    container: &str,
    home: &str,
    workspace: &Workspace,
) -> Result<(), BackendError> {
    let files = workspace
        .iter()
        .map(|(path, content)| (path.as_str(), content.as_bytes()));
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
        transient: false,
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

/// Hot push: writes the workspace files, reads every one back, then stores the new
/// record (keeping the applied state). Files dropped from the workspace stay in the volume
/// (the record no longer lists them).
pub(super) async fn push_config(
    backend: &DockerBackend,
    agent: &Agent,
    commit: Option<&str>,
) -> Result<(), BackendError> {
    let Some((container, current)) = records::current(backend, &agent.name).await? else {
        return Err(BackendError::Request {
            operation: "push config",
            agent: agent.name.clone(),
            transient: false,
            source: "the agent has no container".into(),
        });
    };
    let home = home(agent);
    upload(backend, &agent.name, &home, &agent.workspace).await?;
    verify(backend, agent, &home).await?;
    let mut record = AppliedRecord::of(agent, commit);
    if let Some(current) = current {
        record.state = current.state;
    }
    let stored = StoredRecord {
        container: Some(container),
        record,
    };
    records::write(backend, &agent.name, &stored).await
}

/// Reads every workspace file of `agent` back and compares it with what was written.
async fn verify(backend: &DockerBackend, agent: &Agent, home: &str) -> Result<(), BackendError> {
    let reads: Vec<(String, String)> = agent
        .workspace
        .keys()
        .map(|path| {
            (
                path.clone(),
                format!("{}/{path}", home.trim_end_matches('/')),
            )
        })
        .collect();
    let read: Vec<(String, Option<Vec<u8>>)> = futures_util::stream::iter(reads)
        .map(|(path, full)| read_back(backend, &agent.name, path, full))
        .buffer_unordered(VERIFY_CONCURRENCY)
        .try_collect()
        .await?;
    let read: BTreeMap<String, Option<Vec<u8>>> = read.into_iter().collect();
    for (path, content) in &agent.workspace {
        if read.get(path).and_then(Option::as_deref) != Some(content.as_bytes()) {
            return Err(BackendError::VerifyPush {
                agent: agent.name.clone(),
                path: path.clone(),
            });
        }
    }
    Ok(())
}

/// One file read back for [`verify`].
async fn read_back(
    backend: &DockerBackend,
    container: &str,
    path: String,
    full: String,
) -> Result<(String, Option<Vec<u8>>), BackendError> {
    let content = read_file(backend, container, &full).await?;
    Ok((path, content))
}
