//! [`Transport`]: how the HiClaw target reaches its controller. Two are built: the
//! Kubernetes API (server-side apply of `hiclaw.io/v1beta1` objects,
//! [`super::kube`]) and the embedded controller's REST API ([`super::rest`]). The core
//! (observe, writes, gates, rollback) is written once over this trait.

use std::collections::BTreeMap;

use super::model::{Applied, LiveObject, MemberStatus, ObjectId, Record};
use crate::backend::{BackendError, LockHolder};
use crate::desired::hiclaw::SpecFields;

/// One controller, as the core needs it.
#[async_trait::async_trait]
pub trait Transport: Send + Sync {
    /// e.g. `hiclaw kubernetes https://… namespace hiclaw`.
    fn describe(&self) -> String;

    /// Every object of the four kinds that carries the controller's label (Kubernetes: one
    /// paginated list per kind), by id.
    async fn list(&self) -> Result<BTreeMap<ObjectId, LiveObject>, BackendError>;

    /// What clawops recorded of its earlier applies, given what [`Transport::list`] saw
    /// (Kubernetes: the inventory ConfigMap, the rest is on the objects; REST: the
    /// record file).
    async fn load_record(
        &self,
        live: &BTreeMap<ObjectId, LiveObject>,
    ) -> Result<Record, BackendError>;

    /// Keeps the record (Kubernetes: the inventory ConfigMap; REST: the record file).
    async fn save_record(&self, record: &Record) -> Result<(), BackendError>;

    /// Writes the object's whole spec, creating it when missing, with what clawops
    /// applied to it.
    async fn write(
        &self,
        id: &ObjectId,
        spec: &SpecFields,
        applied: &Applied,
    ) -> Result<(), BackendError>;

    /// The object's live spec, read now, when the transport can read specs (Kubernetes);
    /// `None` otherwise or when it is gone. Every write starts from it, so a state the
    /// fleet changed a moment ago is not written over.
    async fn spec(&self, id: &ObjectId) -> Result<Option<SpecFields>, BackendError>;

    /// Deletes the object (gone already is fine).
    async fn delete(&self, id: &ObjectId) -> Result<(), BackendError>;

    /// How the agent `member` of object `id` is doing now (`None`: not there).
    async fn status(
        &self,
        id: &ObjectId,
        member: &str,
    ) -> Result<Option<MemberStatus>, BackendError>;

    /// Takes the fleet's apply lock for `holder`, or reports its holder.
    async fn try_lock(&self, holder: &LockHolder) -> Result<(), BackendError>;

    /// Extends `holder`'s lease.
    async fn renew_lock(&self, holder: &LockHolder) -> Result<(), BackendError>;

    /// Releases the lock (`holder`'s only, or anyone's when `None`).
    async fn unlock(&self, holder: Option<&LockHolder>) -> Result<(), BackendError>;

    /// Whether the status shows the spec hash (Kubernetes) or only the container (REST).
    fn reports_spec_hash(&self) -> bool;
}
