//! Fleet-level work: the namespace, the `!secret` values, team NetworkPolicies before
//! agents start ([`prepare`]); the inventory ([`finish`]); and deleting an agent, which
//! only ever deletes inventoried objects carrying the fleet's label.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, PostParams, Preconditions};

use super::client::{Managed, is_not_found, object_id, request_error};
use super::manifests::{config_map_name, secret_name};
use super::{INVENTORY_NAME, KubernetesBackend, access};
use crate::backend::BackendError;
use crate::backend::labels::FLEET_LABEL;
use crate::desired::Agent;

/// Key of the inventory's object list (JSON array of `Kind/name`).
pub const INVENTORY_KEY: &str = "objects";

impl KubernetesBackend {
    /// The inventory, read from the cluster the first time.
    async fn inventory(
        &self,
    ) -> Result<tokio::sync::MappedMutexGuard<'_, BTreeSet<String>>, BackendError> {
        let mut inventory = self.inventory.lock().await;
        if inventory.is_none() {
            let stored = self.get::<ConfigMap>(INVENTORY_NAME).await?;
            let objects = stored
                .and_then(|config_map| config_map.data?.get(INVENTORY_KEY).cloned())
                .and_then(|list| serde_json::from_str(&list).ok())
                .unwrap_or_default();
            *inventory = Some(objects);
        }
        Ok(tokio::sync::MutexGuard::map(inventory, |read| {
            read.get_or_insert_default()
        }))
    }

    /// Applies `object` and lists it in the inventory.
    pub(super) async fn apply_listed<K: Managed>(&self, object: &K) -> Result<K, BackendError> {
        let applied = self.apply(object).await?;
        let id = object_id::<K>(&object.name_any());
        self.inventory().await?.insert(id);
        Ok(applied)
    }

    /// Deletes `name` when the inventory lists it and it carries the fleet's label (the
    /// object deleted is the one looked at: its uid is a precondition).
    pub(super) async fn delete_listed<K: Managed>(&self, name: &str) -> Result<(), BackendError> {
        let id = object_id::<K>(name);
        if !self.inventory().await?.contains(&id) {
            return Ok(());
        }
        if let Some(live) = self.get::<K>(name).await?
            && live.labels().get(FLEET_LABEL) == Some(&self.settings.fleet)
        {
            let params = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: live.uid(),
                    resource_version: None,
                }),
                ..DeleteParams::foreground()
            };
            match self.api::<K>().delete(name, &params).await {
                Ok(_) => {}
                Err(error) if is_not_found(&error) => {}
                Err(error) => return Err(request_error("delete", id, error)),
            }
        }
        self.inventory().await?.remove(&id);
        Ok(())
    }
}

/// The namespace (created if missing), the secrets the agents refer to, the NetworkPolicy
/// of every team an agent of `agents` belongs to; and the inventory, read.
pub(super) async fn prepare(
    backend: &KubernetesBackend,
    agents: &[&Agent],
) -> Result<(), BackendError> {
    // No agent starts in a new container: nothing to make sure of.
    if agents.is_empty() {
        return Ok(());
    }
    ensure_namespace(backend).await?;
    drop(backend.inventory().await?);
    check_secrets(backend, agents).await?;
    let teams: BTreeSet<&str> = agents
        .iter()
        .filter_map(|agent| agent.team.as_deref())
        .collect();
    for team in teams {
        backend
            .apply_listed(&access::network_policy(&backend.settings, team))
            .await?;
    }
    Ok(())
}

async fn ensure_namespace(backend: &KubernetesBackend) -> Result<(), BackendError> {
    let api: Api<Namespace> = Api::all(backend.client.clone());
    let name = &backend.settings.namespace;
    let id = format!("Namespace/{name}");
    match api.get_opt(name).await {
        Ok(Some(_)) => return Ok(()),
        Ok(None) => {}
        Err(error) => return Err(request_error("get", id, error)),
    }
    match api
        .create(
            &PostParams::default(),
            &access::namespace(&backend.settings),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.is_already_exists() => Ok(()),
        Err(error) => Err(request_error("create", id, error)),
    }
}

/// Every `!secret` an agent refers to must be a key of the fleet's Secret.
async fn check_secrets(backend: &KubernetesBackend, agents: &[&Agent]) -> Result<(), BackendError> {
    let wanted: Vec<(&str, &str)> = agents
        .iter()
        .flat_map(|agent| {
            agent
                .env
                .values()
                .filter(|variable| variable.secret_ref)
                .map(|variable| (agent.name.as_str(), variable.value.as_str()))
        })
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let secret = backend.get::<Secret>(&backend.settings.secret).await?;
    let keys: BTreeSet<String> = secret
        .map(|secret| {
            let data = secret.data.unwrap_or_default().into_keys();
            data.chain(secret.string_data.unwrap_or_default().into_keys())
                .collect()
        })
        .unwrap_or_default();
    match wanted.iter().find(|(_, name)| !keys.contains(*name)) {
        Some((agent, name)) => Err(BackendError::SecretKeyMissing {
            agent: (*agent).to_owned(),
            key: (*name).to_owned(),
            secret: backend.settings.secret.clone(),
            namespace: backend.settings.namespace.clone(),
        }),
        None => Ok(()),
    }
}

/// After a walk, even a halted one: the inventory written.
pub(super) async fn finish(backend: &KubernetesBackend) -> Result<(), BackendError> {
    write_inventory(backend).await
}

/// Deletes a team admin's Role and RoleBinding (if inventoried and labelled).
pub(super) async fn delete_admin_access(
    backend: &KubernetesBackend,
    team: &str,
) -> Result<(), BackendError> {
    let name = access::admin_role_name(&backend.settings, team);
    backend.delete_listed::<RoleBinding>(&name).await?;
    backend.delete_listed::<Role>(&name).await
}

async fn write_inventory(backend: &KubernetesBackend) -> Result<(), BackendError> {
    let objects = backend.inventory().await?.clone();
    let config_map = ConfigMap {
        metadata: ObjectMeta {
            name: Some(INVENTORY_NAME.to_owned()),
            namespace: Some(backend.settings.namespace.clone()),
            labels: Some(BTreeMap::from([(
                FLEET_LABEL.to_owned(),
                backend.settings.fleet.clone(),
            )])),
            ..Default::default()
        },
        data: Some(BTreeMap::from([(
            INVENTORY_KEY.to_owned(),
            serde_json::to_string(&objects).unwrap_or_default(),
        )])),
        ..Default::default()
    };
    backend.apply(&config_map).await.map(|_| ())
}

/// Deletes an agent that left git: its Deployment, Service, ServiceAccount, Secret and
/// workspace ConfigMap, each only if inventoried and labelled. The ConfigMap holds nothing
/// but files from git, so it goes whether or not `--prune-volumes` was given.
pub(super) async fn delete_agent(
    backend: &KubernetesBackend,
    name: &str,
) -> Result<(), BackendError> {
    backend.delete_listed::<Deployment>(name).await?;
    backend.delete_listed::<Service>(name).await?;
    backend.delete_listed::<ServiceAccount>(name).await?;
    backend.delete_listed::<Secret>(&secret_name(name)).await?;
    backend
        .delete_listed::<ConfigMap>(&config_map_name(name))
        .await
}
