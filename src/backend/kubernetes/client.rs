//! The few API calls every object goes through: server-side apply (field manager
//! `clawops`, forced only with `--force-conflicts`), its dry run, get, list by the fleet's
//! label, delete, and the mapping of API errors to [`BackendError`] (transient or not).

use std::fmt::Debug;

use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::KubernetesBackend;
use crate::backend::BackendError;
use crate::backend::labels::FLEET_LABEL;

/// The field manager of every server-side apply.
pub const FIELD_MANAGER: &str = "clawops";

/// An object kind clawops manages in the fleet's namespace.
pub(super) trait Managed:
    Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
}

impl<K> Managed for K where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + Debug
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
        + 'static
{
}

/// `Kind/name`, as errors and the inventory name objects.
pub(super) fn object_id<K: Managed>(name: &str) -> String {
    format!("{}/{name}", K::kind(&()))
}

/// Whether an API error is a 404.
pub(crate) fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.is_not_found())
}

/// Wraps an API error of `operation` on `object`; a server-side apply's field conflict is
/// a [`BackendError::Conflict`].
pub(crate) fn request_error(
    operation: &'static str,
    object: String,
    error: kube::Error,
) -> BackendError {
    // A field-manager conflict says "Apply failed with N conflict(s)"; another 409 (an
    // object being deleted) is a plain request error.
    if let kube::Error::Api(status) = &error
        && status.is_conflict()
        && operation == "apply"
        && status.message.starts_with("Apply failed")
    {
        return BackendError::Conflict {
            object,
            message: status.message.clone(),
        };
    }
    BackendError::Request {
        operation,
        agent: object,
        transient: is_transient(&error),
        source: Box::new(error),
    }
}

/// Whether an API error may go away by trying again: the server answered 408, 429 or a
/// 5xx, or the request did not get through (connection refused or lost, timeout).
pub(super) fn is_transient(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => crate::backend::error::transient_status(status.code),
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        kube::Error::ReadEvents(error) => crate::backend::error::transient_io(error),
        _ => false,
    }
}

impl KubernetesBackend {
    /// The API of kind `K` in the fleet's namespace.
    pub(super) fn api<K: Managed>(&self) -> Api<K> {
        Api::namespaced(self.client.clone(), &self.settings.namespace)
    }

    /// A real apply is forced only with `--force-conflicts`; a dry run always is, as it
    /// asks what clawops' intent would make of the object and changes nothing.
    fn apply_params(&self, dry_run: bool) -> PatchParams {
        let mut params = PatchParams::apply(FIELD_MANAGER);
        if self.force_conflicts || dry_run {
            params = params.force();
        }
        if dry_run {
            params = params.dry_run();
        }
        params
    }

    /// Server-side applies `object`; returns what the server made of it.
    pub(super) async fn apply<K: Managed>(&self, object: &K) -> Result<K, BackendError> {
        self.apply_with(object, false).await
    }

    /// The server's answer to applying `object`, changing nothing (`dryRun=All`).
    pub(super) async fn dry_run<K: Managed>(&self, object: &K) -> Result<K, BackendError> {
        self.apply_with(object, true).await
    }

    async fn apply_with<K: Managed>(&self, object: &K, dry_run: bool) -> Result<K, BackendError> {
        let name = object.name_any();
        self.api::<K>()
            .patch(&name, &self.apply_params(dry_run), &Patch::Apply(object))
            .await
            .map_err(|error| request_error("apply", object_id::<K>(&name), error))
    }

    /// The object named `name`, if it exists.
    pub(super) async fn get<K: Managed>(&self, name: &str) -> Result<Option<K>, BackendError> {
        self.api::<K>()
            .get_opt(name)
            .await
            .map_err(|error| request_error("get", object_id::<K>(name), error))
    }

    /// Every object of kind `K` labelled with this fleet, plus `selector` when not empty.
    pub(super) async fn list<K: Managed>(&self, selector: &str) -> Result<Vec<K>, BackendError> {
        let mut labels = format!("{FLEET_LABEL}={}", self.settings.fleet);
        if !selector.is_empty() {
            labels = format!("{labels},{selector}");
        }
        self.api::<K>()
            .list(&ListParams::default().labels(&labels))
            .await
            .map(|list| list.items)
            .map_err(|error| request_error("list", format!("{}s", K::kind(&())), error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(code: u16, reason: &str, message: &str) -> kube::Error {
        let status: kube::core::Status = serde_json::from_value(serde_json::json!({
            "status": "Failure", "code": code, "reason": reason, "message": message,
        }))
        .expect("status");
        kube::Error::Api(Box::new(status))
    }

    fn conflict(message: &str) -> kube::Error {
        answered(409, "Conflict", message)
    }

    #[test]
    fn a_server_in_trouble_is_transient_a_refusal_is_not() {
        let unavailable = answered(503, "ServiceUnavailable", "etcdserver: leader changed");
        let throttled = answered(429, "TooManyRequests", "slow down");
        let invalid = answered(422, "Invalid", "spec.replicas: Invalid value");
        let forbidden = answered(403, "Forbidden", "cannot patch deployments");
        assert!(is_transient(&unavailable));
        assert!(is_transient(&throttled));
        assert!(!is_transient(&invalid));
        assert!(!is_transient(&forbidden));
        assert!(request_error("apply", "Deployment/a".to_owned(), unavailable).is_transient());
        assert!(!request_error("apply", "Deployment/a".to_owned(), invalid).is_transient());
        let fields = request_error(
            "apply",
            "Deployment/a".to_owned(),
            conflict("Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas"),
        );
        assert!(!fields.is_transient());
    }

    #[tokio::test]
    async fn a_server_that_does_not_answer_is_transient() {
        // A port that was just free: the connection is refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let url = format!("http://127.0.0.1:{port}").parse().expect("a URL");
        let client = kube::Client::try_from(kube::Config::new(url)).expect("a client");
        let api: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(client, "fleet");
        let error = api.get_opt("a").await.expect_err("nothing listens there");
        assert!(is_transient(&error), "{error:?}");
        assert!(request_error("get", "ConfigMap/a".to_owned(), error).is_transient());
    }

    #[test]
    fn only_a_field_manager_conflict_is_reported_as_one() {
        let fields = request_error(
            "apply",
            "Deployment/a".to_owned(),
            conflict("Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas"),
        );
        assert!(
            matches!(fields, BackendError::Conflict { .. }),
            "{fields:?}"
        );
        let deleting = request_error(
            "apply",
            "Deployment/a".to_owned(),
            conflict("object is being deleted: deployments.apps \"a\" already exists"),
        );
        assert!(
            matches!(deleting, BackendError::Request { .. }),
            "{deleting:?}"
        );
    }
}
