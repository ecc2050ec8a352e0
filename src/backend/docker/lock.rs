//! The apply lock on Docker: a never-started container named `clawops-lock-<fleet>` (the
//! engine refuses a second container with the same name, which makes taking a free lock
//! atomic) holding a lease file with the holder and its expiry. The holder renews the
//! lease while it applies; a holder that died leaves a lease that expires by itself.
//!
//! A lock container whose lease has expired (compared with this host's clock now), or
//! that has no readable lease [`LEASE_GRACE_SECONDS`] after it was made (its taker died
//! between creating it and writing the lease), is taken over: its lease is read again *by
//! container id*, and that very container is removed by id, so of several applies racing
//! for one stale lock only one removes it; each then tries to create the lock container
//! again, and the engine lets exactly one succeed. An apply that loses any of these races
//! (a 404 or a 409 from the engine) waits like any other waiter.

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, RemoveContainerOptionsBuilder,
    UploadToContainerOptionsBuilder,
};
use futures_util::TryStreamExt;

use super::workspace::{archive, read_file};
use super::{DockerBackend, is_not_found, request_error};
use crate::backend::lock::now;
use crate::backend::{BackendError, LockHolder};

/// The tiny local image the lock and record containers are made from (imported, never
/// pulled; they are never started).
pub(super) const HOLDER_IMAGE: &str = "clawops/lock:1";
/// The lease file inside the lock container.
const LEASE_FILE: &str = "/lease.json";
/// Label marking lock containers, with the fleet as value (not the fleet label: a lock
/// is not an agent).
const LOCK_LABEL: &str = "clawops.dev/lock";
/// Label with the Unix time (the taker's clock) the lock container was made.
const MADE_LABEL: &str = "clawops.dev/lock-made";
/// How long a lock container may hold no readable lease before it is taken over: its
/// taker writes the lease right after creating it.
pub const LEASE_GRACE_SECONDS: u64 = 10;
/// Attempts of one [`DockerBackend::take_lock`] (a takeover frees the name for the next).
const ROUNDS: usize = 3;

/// The lock container's name for a fleet.
pub fn lock_name(fleet: &str) -> String {
    format!("clawops-lock-{fleet}")
}

/// The lock container as found.
struct Found {
    /// Its container id: what a takeover removes, so it never removes a newer lock.
    id: String,
    /// When it was made (Unix time of its taker), when it says.
    made: Option<u64>,
    /// Its lease, when it can be read.
    lease: Option<LockHolder>,
}

impl Found {
    /// The live holder, or `None` when the lock may be taken over at `now`: its lease
    /// expired, or it has none long after it was made (a container made by an older
    /// clawops, without the label, counts as made long ago).
    fn live_holder(&self, now: u64) -> Option<LockHolder> {
        match (&self.lease, self.made) {
            (Some(lease), _) => (lease.expires >= now).then(|| lease.clone()),
            (None, Some(made)) => {
                let grace = made.saturating_add(LEASE_GRACE_SECONDS);
                (grace >= now).then(|| LockHolder::unknown(grace))
            }
            (None, None) => None,
        }
    }
}

/// Whether the engine answered that the container is gone (404) or busy being removed
/// or made (409): someone else won a race, and the loser tries again.
fn lost_race(error: &bollard::errors::Error) -> bool {
    is_not_found(error)
        || matches!(
            error,
            bollard::errors::Error::DockerResponseServerError {
                status_code: 409,
                ..
            }
        )
}

/// The answer while the lock changes hands: held, by nobody known yet.
fn changing_hands() -> BackendError {
    BackendError::Locked {
        holder: LockHolder::unknown(0),
    }
}

impl DockerBackend {
    /// Takes the lock, or reports its live holder; takes over a stale lock (see the module
    /// documentation).
    pub(super) async fn take_lock(&self, holder: &LockHolder) -> Result<(), BackendError> {
        self.ensure_holder_image().await?;
        for _ in 0..ROUNDS {
            if let Some(id) = self.create_lock_container().await? {
                return self.write_lease(&id, holder).await;
            }
            let Some(found) = self.find_lock().await? else {
                continue;
            };
            match found.live_holder(now()) {
                Some(current) if current.is(holder) => {
                    return self.write_lease(&found.id, holder).await;
                }
                Some(current) => return Err(BackendError::Locked { holder: current }),
                None => self.take_over(&found).await?,
            }
        }
        Err(changing_hands())
    }

    /// Removes the stale lock container `found` (by id, after reading its lease once more)
    /// unless it came alive meanwhile; a lost race is no error.
    async fn take_over(&self, found: &Found) -> Result<(), BackendError> {
        let lease = self.read_lease(&found.id).await;
        let again = Found {
            id: found.id.clone(),
            made: found.made,
            lease,
        };
        if let Some(current) = again.live_holder(now()) {
            return Err(BackendError::Locked { holder: current });
        }
        match &again.lease {
            Some(lease) => tracing::warn!(holder = %lease, "taking over an expired apply lock"),
            None => tracing::warn!("taking over an apply lock that never got a lease"),
        }
        self.remove_lock(&found.id).await
    }

    /// Extends the lease when it is still `holder`'s, in the very container that holds it.
    pub(super) async fn extend_lock(&self, holder: &LockHolder) -> Result<(), BackendError> {
        let found = self.find_lock().await?.ok_or_else(changing_hands)?;
        match found.lease {
            Some(current) if current.is(holder) => self.write_lease(&found.id, holder).await,
            Some(current) => Err(BackendError::Locked { holder: current }),
            None => Err(changing_hands()),
        }
    }

    /// Removes the lock: only when it is `holder`'s, or unconditionally for `None`.
    pub(super) async fn release_lock(
        &self,
        holder: Option<&LockHolder>,
    ) -> Result<(), BackendError> {
        let Some(found) = self.find_lock().await? else {
            return Ok(());
        };
        if let Some(holder) = holder
            && !found
                .lease
                .as_ref()
                .is_some_and(|current| current.is(holder))
        {
            return Ok(());
        }
        self.remove_lock(&found.id).await
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

    /// Creates the lock container; its id, or `None` when it exists already.
    async fn create_lock_container(&self) -> Result<Option<String>, BackendError> {
        let name = lock_name(&self.fleet);
        let body = ContainerCreateBody {
            image: Some(HOLDER_IMAGE.to_owned()),
            labels: Some(
                [
                    (LOCK_LABEL.to_owned(), self.fleet.clone()),
                    (MADE_LABEL.to_owned(), now().to_string()),
                ]
                .into_iter()
                .collect(),
            ),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::new().name(&name).build();
        match self.docker.create_container(Some(options), body).await {
            Ok(created) => Ok(Some(created.id)),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(None),
            Err(error) => Err(request_error("take the apply lock", &name)(error)),
        }
    }

    /// The lock container, its label and lease; `None` when there is none.
    async fn find_lock(&self) -> Result<Option<Found>, BackendError> {
        let name = lock_name(&self.fleet);
        let inspect = match self.docker.inspect_container(&name, None).await {
            Ok(inspect) => inspect,
            Err(error) if is_not_found(&error) => return Ok(None),
            Err(error) => return Err(request_error("inspect the apply lock", &name)(error)),
        };
        let Some(id) = inspect.id else {
            return Ok(None);
        };
        let made = inspect
            .config
            .and_then(|config| config.labels)
            .and_then(|labels| labels.get(MADE_LABEL).and_then(|made| made.parse().ok()));
        let lease = self.read_lease(&id).await;
        Ok(Some(Found { id, made, lease }))
    }

    /// Writes `holder`'s lease into the lock container `id`; a container removed
    /// meanwhile (a lost race) answers that the lock is changing hands.
    async fn write_lease(&self, id: &str, holder: &LockHolder) -> Result<(), BackendError> {
        let name = lock_name(&self.fleet);
        let lease = serde_json::to_vec(holder).map_err(|source| BackendError::Request {
            operation: "write the lease",
            agent: name.clone(),
            transient: false,
            source: Box::new(source),
        })?;
        let tar = archive(
            &name,
            [(LEASE_FILE.trim_start_matches('/'), lease.as_slice())],
        )?;
        let options = UploadToContainerOptionsBuilder::new().path("/").build();
        match self
            .docker
            .upload_to_container(id, Some(options), bollard::body_full(tar.into()))
            .await
        {
            Ok(()) => Ok(()),
            Err(error) if lost_race(&error) => Err(changing_hands()),
            Err(error) => Err(request_error("write the lease", &name)(error)),
        }
    }

    /// The lease in the lock container `id`; `None` when it cannot be read (not written
    /// yet, garbled, or the container is being removed: the engine answers 500 then).
    async fn read_lease(&self, id: &str) -> Option<LockHolder> {
        match read_file(self, id, LEASE_FILE).await {
            Ok(bytes) => bytes.and_then(|bytes| serde_json::from_slice(&bytes).ok()),
            Err(error) => {
                tracing::debug!(error = %crate::printer::chain(&error), "the apply lock's lease cannot be read");
                None
            }
        }
    }

    /// Removes the lock container `id` (never another one made since under the same
    /// name); one already gone or being removed is no error.
    async fn remove_lock(&self, id: &str) -> Result<(), BackendError> {
        let options = RemoveContainerOptionsBuilder::new().force(true).build();
        match self.docker.remove_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(error) if lost_race(&error) => Ok(()),
            Err(error) => Err(request_error(
                "release the apply lock",
                &lock_name(&self.fleet),
            )(error)),
        }
    }
}
