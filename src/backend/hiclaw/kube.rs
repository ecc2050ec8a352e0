//! The Kubernetes transport: `hiclaw.io/v1beta1` objects in the controller's namespace,
//! written by server-side apply (field manager `clawops`, forced: clawops owns the specs
//! git describes, and writes back the `state` the fleet set at run time), each labelled
//! `hiclaw.io/controller=<controller>` and `clawops.dev/fleet=<fleet>`, with what clawops
//! applied in the annotation `clawops.dev/applied`. Observing is one paginated list per
//! kind. The inventory is a ConfigMap; the lock is the Kubernetes backend's Lease.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
};
use serde_json::Value;

use super::model::{Applied, Kind, LiveObject, MemberStatus, ObjectId, Record};
use super::objects::{APPLIED_ANNOTATION, labels, object};
use super::transport::Transport;
use crate::backend::kubernetes::KubernetesBackend;
use crate::backend::kubernetes::client::{FIELD_MANAGER, is_not_found, request_error};
use crate::backend::kubernetes::settings::KubernetesSettings;
use crate::backend::{Backend, BackendError, LockHolder};
use crate::desired::hiclaw::SpecFields;
use crate::spec::hiclaw::AgentState;

/// How many objects one list page holds.
const PAGE: u32 = 500;
/// Key of the inventory ConfigMap's object list.
const INVENTORY_KEY: &str = "objects";

/// One controller through the Kubernetes API.
pub struct KubeTransport {
    client: kube::Client,
    namespace: String,
    controller: String,
    fleet: String,
    description: String,
    /// The Kubernetes backend, for its Lease.
    lease: KubernetesBackend,
}

impl KubeTransport {
    /// A transport over `client` for `fleet` in `namespace`, writing for `controller`.
    pub fn new(
        client: kube::Client,
        namespace: &str,
        controller: &str,
        fleet: &str,
        address: &str,
    ) -> Self {
        let settings = KubernetesSettings::for_fleet(fleet, namespace);
        Self {
            lease: KubernetesBackend::new(client.clone(), settings, address.to_owned(), false),
            client,
            namespace: namespace.to_owned(),
            controller: controller.to_owned(),
            fleet: fleet.to_owned(),
            description: format!(
                "hiclaw kubernetes {address} namespace {namespace} controller {controller}"
            ),
        }
    }

    fn api(&self, kind: Kind) -> Api<DynamicObject> {
        let gvk = GroupVersionKind::gvk("hiclaw.io", "v1beta1", kind.as_str());
        let resource = ApiResource::from_gvk_with_plural(&gvk, kind.plural());
        Api::namespaced_with(self.client.clone(), &self.namespace, &resource)
    }

    fn inventory_name(&self) -> String {
        format!("clawops-hiclaw-{}", self.fleet)
    }

    async fn list_kind(&self, kind: Kind) -> Result<Vec<DynamicObject>, BackendError> {
        let selector = format!(
            "{}={},{}={}",
            super::objects::CONTROLLER_LABEL,
            self.controller,
            crate::backend::labels::FLEET_LABEL,
            self.fleet
        );
        let mut params = ListParams::default().labels(&selector).limit(PAGE);
        let mut items = Vec::new();
        loop {
            let page = self
                .api(kind)
                .list(&params)
                .await
                .map_err(|error| request_error("list", kind.plural().to_owned(), error))?;
            items.extend(page.items);
            match page.metadata.continue_.filter(|token| !token.is_empty()) {
                Some(token) => params = params.continue_token(&token),
                None => return Ok(items),
            }
        }
    }
}

/// The agents of one live object, from its spec and status.
fn agents_of(kind: Kind, name: &str, object: &DynamicObject) -> Vec<MemberStatus> {
    let spec = &object.data["spec"];
    let status = &object.data["status"];
    let state = |value: &Value| {
        value["state"]
            .as_str()
            .and_then(AgentState::from_name)
            .or(Some(AgentState::Running))
    };
    match kind {
        Kind::Human => Vec::new(),
        Kind::Worker | Kind::Manager => {
            let phase = status["phase"].as_str().map(str::to_owned);
            let observed = status["observedGeneration"].as_i64().unwrap_or(0);
            let generation = object.metadata.generation.unwrap_or(0);
            vec![MemberStatus {
                name: name.to_owned(),
                state: state(spec),
                ready: phase.as_deref() == Some("Running") && observed >= generation,
                phase,
                spec_hash: None,
                generations: Some((observed, generation)),
                container_state: status["containerState"].as_str().map(str::to_owned),
                image: spec["image"].as_str().map(str::to_owned),
                message: status["message"].as_str().map(str::to_owned),
            }]
        }
        Kind::Team => {
            let members = spec["leader"].as_object().into_iter().chain(
                spec["workers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_object),
            );
            members
                .filter_map(|member| {
                    let member_name = member.get("name")?.as_str()?;
                    let reported = status["members"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|seen| seen["name"] == member_name);
                    let member_value = Value::Object(member.clone());
                    Some(MemberStatus {
                        name: member_name.to_owned(),
                        state: state(&member_value),
                        phase: None,
                        ready: reported.is_some_and(|seen| seen["ready"] == true),
                        spec_hash: reported
                            .and_then(|seen| seen["specHash"].as_str())
                            .filter(|hash| !hash.is_empty())
                            .map(str::to_owned),
                        generations: None,
                        container_state: None,
                        image: member
                            .get("image")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                        message: status["message"].as_str().map(str::to_owned),
                    })
                })
                .collect()
        }
    }
}

fn live_object(kind: Kind, name: &str, object: &DynamicObject) -> LiveObject {
    let applied = object
        .metadata
        .annotations
        .as_ref()
        .and_then(|annotations| annotations.get(APPLIED_ANNOTATION))
        .and_then(|text| serde_json::from_str::<Applied>(text).ok());
    LiveObject {
        spec: object.data["spec"].as_object().cloned(),
        applied,
        agents: agents_of(kind, name, object),
    }
}

#[async_trait::async_trait]
impl Transport for KubeTransport {
    fn describe(&self) -> String {
        self.description.clone()
    }

    async fn list(&self) -> Result<BTreeMap<ObjectId, LiveObject>, BackendError> {
        // The kinds are listed side by side: one round trip's wait instead of four.
        let lists =
            futures_util::future::try_join_all(Kind::ALL.map(|kind| self.list_kind(kind))).await?;
        let mut live = BTreeMap::new();
        for (kind, objects) in Kind::ALL.into_iter().zip(lists) {
            for object in objects {
                let name = object.metadata.name.clone().unwrap_or_default();
                live.insert(
                    ObjectId::new(kind, &name),
                    live_object(kind, &name, &object),
                );
            }
        }
        Ok(live)
    }

    async fn load_record(
        &self,
        live: &BTreeMap<ObjectId, LiveObject>,
    ) -> Result<Record, BackendError> {
        let stored = Api::<ConfigMap>::namespaced(self.client.clone(), &self.namespace)
            .get_opt(&self.inventory_name())
            .await
            .map_err(|error| {
                request_error("get", format!("ConfigMap/{}", self.inventory_name()), error)
            })?;
        let listed: BTreeSet<ObjectId> = stored
            .and_then(|config_map| config_map.data?.get(INVENTORY_KEY).cloned())
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        let objects = listed
            .into_iter()
            .map(|id| {
                let applied = live
                    .get(&id)
                    .and_then(|object| object.applied.clone())
                    .unwrap_or_default();
                (id, applied)
            })
            .collect();
        Ok(Record { objects })
    }

    async fn save_record(&self, record: &Record) -> Result<(), BackendError> {
        let ids: Vec<&ObjectId> = record.objects.keys().collect();
        let config_map = serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": self.inventory_name(), "namespace": self.namespace,
                         "labels": labels(&self.controller, &self.fleet)},
            "data": {INVENTORY_KEY: serde_json::to_string(&ids).unwrap_or_default()},
        });
        Api::<ConfigMap>::namespaced(self.client.clone(), &self.namespace)
            .patch(
                &self.inventory_name(),
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(config_map),
            )
            .await
            .map(|_| ())
            .map_err(|error| {
                request_error(
                    "apply",
                    format!("ConfigMap/{}", self.inventory_name()),
                    error,
                )
            })
    }

    async fn write(
        &self,
        id: &ObjectId,
        spec: &SpecFields,
        applied: &Applied,
    ) -> Result<(), BackendError> {
        let mut body = object(
            id,
            spec,
            &self.namespace,
            &labels(&self.controller, &self.fleet),
        );
        body["metadata"]["annotations"] = serde_json::json!({
            APPLIED_ANNOTATION: serde_json::to_string(applied).unwrap_or_default(),
        });
        self.api(id.kind)
            .patch(
                &id.name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(body),
            )
            .await
            .map(|_| ())
            .map_err(|error| request_error("apply", id.to_string(), error))
    }

    async fn spec(&self, id: &ObjectId) -> Result<Option<SpecFields>, BackendError> {
        let object = self
            .api(id.kind)
            .get_opt(&id.name)
            .await
            .map_err(|error| request_error("get", id.to_string(), error))?;
        Ok(object.and_then(|object| object.data["spec"].as_object().cloned()))
    }

    async fn delete(&self, id: &ObjectId) -> Result<(), BackendError> {
        match self
            .api(id.kind)
            .delete(&id.name, &DeleteParams::default())
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if is_not_found(&error) => Ok(()),
            Err(error) => Err(request_error("delete", id.to_string(), error)),
        }
    }

    async fn status(
        &self,
        id: &ObjectId,
        member: &str,
    ) -> Result<Option<MemberStatus>, BackendError> {
        let object = self
            .api(id.kind)
            .get_opt(&id.name)
            .await
            .map_err(|error| request_error("get", id.to_string(), error))?;
        Ok(object.and_then(|object| {
            agents_of(id.kind, &id.name, &object)
                .into_iter()
                .find(|status| status.name == member)
        }))
    }

    async fn try_lock(&self, holder: &LockHolder) -> Result<(), BackendError> {
        self.lease.try_lock(holder).await
    }

    async fn renew_lock(&self, holder: &LockHolder) -> Result<(), BackendError> {
        self.lease.renew_lock(holder).await
    }

    async fn unlock(&self, holder: Option<&LockHolder>) -> Result<(), BackendError> {
        self.lease.unlock(holder).await
    }

    fn reports_spec_hash(&self) -> bool {
        true
    }
}
