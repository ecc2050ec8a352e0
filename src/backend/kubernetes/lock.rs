//! The apply lock on a cluster: a `coordination.k8s.io/v1` Lease in the fleet's namespace.
//! Its `holderIdentity` is `host/pid`, `leaseDurationSeconds` and `renewTime` say how long
//! it holds; the exact holder is also kept as JSON in an annotation. Taking it over and
//! renewing it are replaces carrying the `resourceVersion` that was read, so two clawops
//! racing for one Lease cannot both win (the loser's 409 makes it wait like any waiter).
//!
//! A lease is expired when its end (the annotation's, else `renewTime` — or `acquireTime`,
//! or the Lease's creation — plus `leaseDurationSeconds`) is before this host's clock
//! *now*; an expired Lease is taken over, however long ago its holder wrote it.

use std::collections::BTreeMap;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::ResourceExt;
use kube::api::{DeleteParams, PostParams, Preconditions};

use super::KubernetesBackend;
use super::client::request_error;
use crate::backend::labels::FLEET_LABEL;
use crate::backend::lock::{LEASE_SECONDS, now};
use crate::backend::{BackendError, LockHolder};

/// Name of the fleet's Lease.
pub const LEASE_NAME: &str = "clawops-lock";
/// Annotation holding the [`LockHolder`] as JSON.
pub const HOLDER_ANNOTATION: &str = "clawops.dev/holder";

fn micro_time(seconds: u64) -> Option<MicroTime> {
    let seconds = i64::try_from(seconds).ok()?;
    k8s_openapi::jiff::Timestamp::from_second(seconds)
        .ok()
        .map(MicroTime)
}

/// The Lease recording `holder`.
fn lease(
    backend: &KubernetesBackend,
    holder: &LockHolder,
    resource_version: Option<String>,
) -> Lease {
    let duration = LEASE_SECONDS;
    Lease {
        metadata: ObjectMeta {
            name: Some(LEASE_NAME.to_owned()),
            namespace: Some(backend.settings.namespace.clone()),
            labels: Some(BTreeMap::from([(
                FLEET_LABEL.to_owned(),
                backend.settings.fleet.clone(),
            )])),
            annotations: Some(BTreeMap::from([(
                HOLDER_ANNOTATION.to_owned(),
                serde_json::to_string(holder).unwrap_or_default(),
            )])),
            resource_version,
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(format!("{}/{}", holder.host, holder.pid)),
            lease_duration_seconds: i32::try_from(duration).ok(),
            acquire_time: micro_time(holder.since),
            renew_time: micro_time(holder.since.max(holder.expires.saturating_sub(duration))),
            ..Default::default()
        }),
    }
}

/// The holder a Lease records. Without a readable annotation (written by another tool,
/// or garbled) its holder is `unknown` and its end is what its spec says: the last
/// renewal (else acquisition, else creation) plus its duration; a Lease that says none of
/// this never expires.
fn holder_of(lease: &Lease) -> LockHolder {
    lease
        .annotations()
        .get(HOLDER_ANNOTATION)
        .and_then(|holder| serde_json::from_str(holder).ok())
        .unwrap_or_else(|| LockHolder::unknown(spec_expiry(lease).unwrap_or(u64::MAX)))
}

/// When a Lease runs out by its spec alone.
fn spec_expiry(lease: &Lease) -> Option<u64> {
    let spec = lease.spec.as_ref();
    let renewed = spec
        .and_then(|spec| spec.renew_time.as_ref().or(spec.acquire_time.as_ref()))
        .map(|time| time.0.as_second())
        .or_else(|| {
            lease
                .metadata
                .creation_timestamp
                .as_ref()
                .map(|time| time.0.as_second())
        })?;
    let duration = spec
        .and_then(|spec| spec.lease_duration_seconds)
        .and_then(|seconds| u64::try_from(seconds).ok())
        .unwrap_or(LEASE_SECONDS);
    u64::try_from(renewed).ok()?.checked_add(duration)
}

/// Whether an API error says someone else wrote first (a create or replace race).
fn lost_race(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.is_already_exists() || status.is_conflict())
}

pub(super) async fn try_lock(
    backend: &KubernetesBackend,
    holder: &LockHolder,
) -> Result<(), BackendError> {
    let api = backend.api::<Lease>();
    let id = format!("Lease/{LEASE_NAME}");
    let Some(current) = backend.get::<Lease>(LEASE_NAME).await? else {
        return match api
            .create(&PostParams::default(), &lease(backend, holder, None))
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if lost_race(&error) => Err(locked_now(backend).await),
            Err(error) => Err(request_error("create", id, error)),
        };
    };
    let current_holder = holder_of(&current);
    if current_holder.expires >= now() && !current_holder.is(holder) {
        return Err(BackendError::Locked {
            holder: current_holder,
        });
    }
    let taken = lease(backend, holder, current.resource_version());
    match api
        .replace(LEASE_NAME, &PostParams::default(), &taken)
        .await
    {
        Ok(_) => Ok(()),
        Err(error) if lost_race(&error) => Err(locked_now(backend).await),
        Err(error) => Err(request_error("replace", id, error)),
    }
}

/// The lock error naming whoever holds the Lease now.
async fn locked_now(backend: &KubernetesBackend) -> BackendError {
    match backend.get::<Lease>(LEASE_NAME).await {
        Ok(Some(lease)) => BackendError::Locked {
            holder: holder_of(&lease),
        },
        Ok(None) => BackendError::Locked {
            holder: LockHolder::unknown(0),
        },
        Err(error) => error,
    }
}

pub(super) async fn renew_lock(
    backend: &KubernetesBackend,
    holder: &LockHolder,
) -> Result<(), BackendError> {
    let current = backend.get::<Lease>(LEASE_NAME).await?;
    let Some(current) = current.filter(|lease| holder_of(lease).is(holder)) else {
        return Err(locked_now(backend).await);
    };
    let renewed = lease(backend, holder, current.resource_version());
    match backend
        .api::<Lease>()
        .replace(LEASE_NAME, &PostParams::default(), &renewed)
        .await
    {
        Ok(_) => Ok(()),
        Err(error) if lost_race(&error) => Err(locked_now(backend).await),
        Err(error) => Err(request_error("renew", format!("Lease/{LEASE_NAME}"), error)),
    }
}

pub(super) async fn unlock(
    backend: &KubernetesBackend,
    holder: Option<&LockHolder>,
) -> Result<(), BackendError> {
    let Some(current) = backend.get::<Lease>(LEASE_NAME).await? else {
        return Ok(());
    };
    if holder.is_some_and(|holder| !holder_of(&current).is(holder)) {
        return Ok(());
    }
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: current.uid(),
            resource_version: current.resource_version(),
        }),
        ..Default::default()
    };
    match backend.api::<Lease>().delete(LEASE_NAME, &params).await {
        Ok(_) => Ok(()),
        Err(error) if super::client::is_not_found(&error) => Ok(()),
        Err(error) => Err(request_error(
            "delete",
            format!("Lease/{LEASE_NAME}"),
            error,
        )),
    }
}
