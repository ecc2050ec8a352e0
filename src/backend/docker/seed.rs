//! Seeding workspaces: writing the workspace files of new containers into their volumes,
//! many agents in one request.
//!
//! Writing an archive into a container costs the engine a mount of the container and a
//! helper process, which is most of the work of creating a container. So the creates of a
//! wave hand their files to one seeder: whoever finds no batch in flight writes everything
//! queued so far through one never-started helper container that mounts those volumes,
//! then removes the helper. Creates that arrive meanwhile form the next batch (group
//! commit), so a lone create waits for nothing and a wave of 32 costs a couple of helpers.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use tokio::sync::oneshot;

use super::{DockerBackend, lock::HOLDER_IMAGE, request_error, volume_name};
use crate::backend::BackendError;
use crate::desired::Agent;

/// Label marking seeding helpers, with the fleet as value (not the fleet label: a helper
/// is not an agent).
pub const SEED_LABEL: &str = "clawops.dev/seed";
/// Where the helper mounts the volumes it writes.
const SEED_ROOT: &str = "/seed";
/// Most volumes one helper mounts.
const MOST_PER_BATCH: usize = 64;

/// One agent's files waiting to be written.
#[derive(Debug)]
struct Pending {
    agent: String,
    volume: String,
    files: Vec<(String, String)>,
    done: oneshot::Sender<Result<(), BatchFailure>>,
}

/// Why a batch was not written, as told to each create waiting on it (one error, many
/// waiters: the text and whether trying again may help).
#[derive(Clone, Debug)]
struct BatchFailure {
    message: String,
    transient: bool,
}

/// The queue of one backend.
#[derive(Debug, Default)]
pub(super) struct Seeder {
    pending: std::sync::Mutex<Vec<Pending>>,
    /// Held while a batch is written; one batch at a time.
    writing: tokio::sync::Mutex<()>,
    helpers: AtomicU64,
}

impl DockerBackend {
    /// Writes `agent`'s workspace files into its volume (which must exist), batched with
    /// the other agents being created at the same time.
    pub(super) async fn seed_workspace(&self, agent: &Agent) -> Result<(), BackendError> {
        let (done, result) = oneshot::channel();
        let files = agent
            .workspace
            .iter()
            .map(|(path, content)| (path.clone(), content.clone()))
            .collect();
        if let Ok(mut pending) = self.seeder.pending.lock() {
            pending.push(Pending {
                agent: agent.name.clone(),
                volume: volume_name(&agent.name),
                files,
                done,
            });
        }
        {
            let _writing = self.seeder.writing.lock().await;
            let queued = self
                .seeder
                .pending
                .lock()
                .map(|mut pending| std::mem::take(&mut *pending))
                .unwrap_or_default();
            self.write_batches(queued).await;
        }
        let failed = |failure: BatchFailure| BackendError::Request {
            operation: "write workspace",
            agent: agent.name.clone(),
            transient: failure.transient,
            source: failure.message.into(),
        };
        match result.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(failure)) => Err(failed(failure)),
            Err(_) => Err(failed(BatchFailure {
                message: "the batch writing it was dropped".to_owned(),
                transient: true,
            })),
        }
    }

    /// Writes `queued` in batches of distinct volumes, each through one helper, and tells
    /// every waiting create how it went.
    async fn write_batches(&self, mut queued: Vec<Pending>) {
        while !queued.is_empty() {
            let mut volumes = BTreeSet::new();
            let (batch, later): (Vec<Pending>, Vec<Pending>) =
                queued.into_iter().partition(|item| {
                    volumes.len() < MOST_PER_BATCH && volumes.insert(item.volume.clone())
                });
            queued = later;
            let result = self.write_batch(&batch).await.map_err(|error| {
                let mut message = error.to_string();
                if let Some(source) = std::error::Error::source(&error) {
                    message = format!("{message}: {source}");
                }
                BatchFailure {
                    message,
                    transient: error.is_transient(),
                }
            });
            for item in batch {
                let _ = item.done.send(result.clone());
            }
        }
    }

    /// One helper: created with every volume of `batch` mounted, one archive, removed.
    async fn write_batch(&self, batch: &[Pending]) -> Result<(), BackendError> {
        self.ensure_holder_image().await?;
        let name = format!(
            "clawops-seed-{}-{}-{}",
            self.fleet,
            std::process::id(),
            self.seeder.helpers.fetch_add(1, Ordering::SeqCst)
        );
        let mounts = batch
            .iter()
            .map(|item| Mount {
                target: Some(format!("{SEED_ROOT}/{}", item.volume)),
                source: Some(item.volume.clone()),
                typ: Some(MountType::VOLUME),
                ..Default::default()
            })
            .collect();
        let body = ContainerCreateBody {
            image: Some(HOLDER_IMAGE.to_owned()),
            labels: Some(HashMap::from([(SEED_LABEL.to_owned(), self.fleet.clone())])),
            host_config: Some(HostConfig {
                mounts: Some(mounts),
                network_mode: Some("none".to_owned()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::new().name(&name).build();
        self.docker
            .create_container(Some(options), body)
            .await
            .map_err(request_error("create the workspace helper", &name))?;
        let written = self.upload_batch(&name, batch).await;
        let removed = self.remove_helper(&name).await;
        written.and(removed)
    }

    /// The archive of every file of `batch`, under each volume's folder.
    async fn upload_batch(&self, helper: &str, batch: &[Pending]) -> Result<(), BackendError> {
        let files: Vec<(String, &[u8])> = batch
            .iter()
            .flat_map(|item| {
                item.files
                    .iter()
                    .map(|(path, content)| (format!("{}/{path}", item.volume), content.as_bytes()))
            })
            .collect();
        let agents = batch
            .iter()
            .map(|item| item.agent.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let tar = super::workspace::archive(
            &agents,
            files
                .iter()
                .map(|(path, content)| (path.as_str(), *content)),
        )?;
        let options = UploadToContainerOptionsBuilder::new()
            .path(SEED_ROOT)
            .build();
        self.docker
            .upload_to_container(helper, Some(options), bollard::body_full(tar.into()))
            .await
            .map_err(request_error("write workspaces", &agents))
    }

    async fn remove_helper(&self, name: &str) -> Result<(), BackendError> {
        let options = RemoveContainerOptionsBuilder::new().force(true).build();
        match self.docker.remove_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(error) if super::is_not_found(&error) => Ok(()),
            Err(error) => Err(request_error("remove the workspace helper", name)(error)),
        }
    }

    /// Removes the helpers a killed apply left behind.
    pub(super) async fn remove_stale_helpers(&self) -> Result<(), BackendError> {
        let helpers = super::observe::list_labelled(self, SEED_LABEL).await?;
        for helper in helpers {
            if let Some(id) = helper.id {
                self.remove_helper(&id).await?;
            }
        }
        Ok(())
    }
}
