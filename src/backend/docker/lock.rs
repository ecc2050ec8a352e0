//! The apply lock on Docker: a never-started container named `clawops-lock-<fleet>` (the
//! engine refuses a second container with the same name, which makes taking the lock
//! atomic) holding a lease file with the holder and its expiry. The holder renews the
//! lease while it applies; a holder that died leaves a lease that expires by itself.

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, RemoveContainerOptionsBuilder,
};
use futures_util::TryStreamExt;

use super::workspace::{read_file, upload_files};
use super::{DockerBackend, is_not_found, request_error};
use crate::backend::{BackendError, LockHolder};

/// The tiny local image the lock and record containers are made from (imported, never
/// pulled; they are never started).
pub(super) const HOLDER_IMAGE: &str = "clawops/lock:1";
/// The lease file inside the lock container.
const LEASE_FILE: &str = "/lease.json";
/// Label marking lock containers, with the fleet as value (not the fleet label: a lock
/// is not an agent).
const LOCK_LABEL: &str = "clawops.dev/lock";

/// The lock container's name for a fleet.
pub fn lock_name(fleet: &str) -> String {
    format!("clawops-lock-{fleet}")
}

impl DockerBackend {
    /// Takes the lock, or reports its live holder; takes over an expired lease.
    pub(super) async fn take_lock(&self, holder: &LockHolder) -> Result<(), BackendError> {
        self.ensure_holder_image().await?;
        for _ in 0..2 {
            if self.create_lock_container().await? {
                return self.write_lease(holder).await;
            }
            // The lock container exists: a lease that cannot be read belongs to an apply
            // in the middle of taking or releasing it (the engine answers 500 while the
            // container is being removed). It counts as held; the caller tries again.
            let current = match self.read_lease().await {
                Ok(current) => current,
                Err(error) => {
                    tracing::debug!(error = %crate::printer::chain(&error), "the apply lock is changing hands");
                    None
                }
            };
            match current {
                Some(current) if current.expires < holder.since => {
                    tracing::warn!(holder = %current, "taking over an expired apply lock");
                    self.remove_lock().await?;
                }
                Some(current) => return Err(BackendError::Locked { holder: current }),
                None => {
                    return Err(BackendError::Locked {
                        holder: LockHolder::unknown(0),
                    });
                }
            }
        }
        Err(BackendError::Locked {
            holder: LockHolder::unknown(0),
        })
    }

    /// Extends the lease when it is still `holder`'s.
    pub(super) async fn extend_lock(&self, holder: &LockHolder) -> Result<(), BackendError> {
        match self.read_lease().await? {
            Some(current) if current.is(holder) => self.write_lease(holder).await,
            Some(current) => Err(BackendError::Locked { holder: current }),
            None => Err(BackendError::Locked {
                holder: LockHolder::unknown(0),
            }),
        }
    }

    /// Removes the lock: only when it is `holder`'s, or unconditionally for `None`.
    pub(super) async fn release_lock(
        &self,
        holder: Option<&LockHolder>,
    ) -> Result<(), BackendError> {
        if let Some(holder) = holder {
            match self.read_lease().await? {
                Some(current) if current.is(holder) => {}
                _ => return Ok(()),
            }
        }
        self.remove_lock().await
    }

    pub(super) async fn ensure_holder_image(&self) -> Result<(), BackendError> {
        if self.docker.inspect_image(HOLDER_IMAGE).await.is_ok() {
            return Ok(());
        }
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(0o755);
        header.set_size(0);
        header.set_cksum();
        let encode_error = |source: std::io::Error| BackendError::Request {
            operation: "build the lock image",
            agent: HOLDER_IMAGE.to_owned(),
            transient: false,
            source: Box::new(source),
        };
        builder
            .append_data(&mut header, "lock/", std::io::empty())
            .map_err(encode_error)?;
        let rootfs = builder.into_inner().map_err(encode_error)?;
        let options = CreateImageOptionsBuilder::new()
            .from_src("-")
            .repo("clawops/lock")
            .tag("1")
            .changes(vec!["CMD [\"/lock\"]".to_owned()])
            .build();
        self.docker
            .create_image(Some(options), Some(bollard::body_full(rootfs.into())), None)
            .try_collect::<Vec<_>>()
            .await
            .map_err(request_error("build the lock image", HOLDER_IMAGE))?;
        Ok(())
    }

    /// Creates the lock container; `false` when it exists already.
    async fn create_lock_container(&self) -> Result<bool, BackendError> {
        let name = lock_name(&self.fleet);
        let body = ContainerCreateBody {
            image: Some(HOLDER_IMAGE.to_owned()),
            labels: Some(
                [(LOCK_LABEL.to_owned(), self.fleet.clone())]
                    .into_iter()
                    .collect(),
            ),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::new().name(&name).build();
        match self.docker.create_container(Some(options), body).await {
            Ok(_) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(false),
            Err(error) => Err(request_error("take the apply lock", &name)(error)),
        }
    }

    async fn write_lease(&self, holder: &LockHolder) -> Result<(), BackendError> {
        let name = lock_name(&self.fleet);
        let lease = serde_json::to_vec(holder).map_err(|source| BackendError::Request {
            operation: "write the lease",
            agent: name.clone(),
            transient: false,
            source: Box::new(source),
        })?;
        upload_files(
            self,
            &name,
            "/",
            [(LEASE_FILE.trim_start_matches('/'), lease.as_slice())],
        )
        .await
    }

    async fn read_lease(&self) -> Result<Option<LockHolder>, BackendError> {
        let name = lock_name(&self.fleet);
        match read_file(self, &name, LEASE_FILE).await {
            Ok(Some(bytes)) => Ok(serde_json::from_slice(&bytes).ok()),
            Ok(None) => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn remove_lock(&self) -> Result<(), BackendError> {
        let name = lock_name(&self.fleet);
        let options = RemoveContainerOptionsBuilder::new().force(true).build();
        match self.docker.remove_container(&name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(error) if is_not_found(&error) => Ok(()),
            Err(error) => Err(request_error("release the apply lock", &name)(error)),
        }
    }
}
