//! One agent's operations, each a handful of server-side applies: create (and recreate:
//! a changed pod template rolls the pod, strategy `Recreate`), hot push (the ConfigMap
//! only; the kubelet updates the mounted files, the pod keeps running), sleep and wake
//! (replicas 0 or 1), removal for `Stopped` (the Deployment goes, the rest stays), and
//! roll back (the record applied before the recreate, applied again).

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use kube::ResourceExt;

use super::KubernetesBackend;
use super::manifests::{self, config_map_name, secret_name};
use super::observe::applied_agent;
use crate::backend::BackendError;
use crate::backend::labels::COMMIT_LABEL;
use crate::desired::Agent;
use crate::spec::hiclaw::AgentState;

/// Applies every object of `agent` (the Deployment last, so its pod finds its ConfigMap,
/// Secret and ServiceAccount); a Service or Deployment it no longer has is deleted.
pub(super) async fn apply_agent(
    backend: &KubernetesBackend,
    agent: &Agent,
    commit: Option<&str>,
) -> Result<(), BackendError> {
    let objects = manifests::agent_objects(agent, &backend.settings, commit, true);
    backend.apply_listed(&objects.service_account).await?;
    backend.apply_listed(&objects.secret).await?;
    backend.apply_listed(&objects.config_map).await?;
    match &objects.service {
        Some(service) => backend.apply_listed(service).await.map(drop)?,
        None => backend.delete_listed::<Service>(&agent.name).await?,
    }
    match &objects.deployment {
        Some(deployment) => backend.apply_listed(deployment).await.map(drop),
        None => backend.delete_listed::<Deployment>(&agent.name).await,
    }
}

/// The record applied last, and its commit, read back from the cluster.
async fn current(
    backend: &KubernetesBackend,
    name: &str,
) -> Result<(Agent, Option<String>), BackendError> {
    let (secret_name, config_map_name) = (secret_name(name), config_map_name(name));
    let (secret, config_map) = tokio::try_join!(
        backend.get::<Secret>(&secret_name),
        backend.get::<ConfigMap>(&config_map_name),
    )?;
    let commit = config_map
        .as_ref()
        .and_then(|config_map| config_map.annotations().get(COMMIT_LABEL).cloned());
    let record = secret
        .as_ref()
        .and_then(|secret| applied_agent(secret, config_map.as_ref()));
    record
        .map(|record| (record, commit))
        .ok_or_else(|| BackendError::Request {
            operation: "read the applied record of",
            agent: name.to_owned(),
            transient: false,
            source: format!("Secret {secret_name} is missing or unreadable").into(),
        })
}

/// Remembers the record in force, then applies the new one.
pub(super) async fn recreate_agent(
    backend: &KubernetesBackend,
    agent: &Agent,
    commit: Option<&str>,
) -> Result<(), BackendError> {
    if let Ok(previous) = current(backend, &agent.name).await
        && let Ok(mut remembered) = backend.previous.lock()
    {
        remembered.insert(agent.name.clone(), previous);
    }
    apply_agent(backend, agent, commit).await
}

/// Applies the record that was in force before the recreate.
pub(super) async fn roll_back(backend: &KubernetesBackend, name: &str) -> Result<(), BackendError> {
    let previous = backend
        .previous
        .lock()
        .ok()
        .and_then(|mut remembered| remembered.remove(name));
    let Some((record, commit)) = previous else {
        return Err(BackendError::Request {
            operation: "roll back",
            agent: name.to_owned(),
            transient: false,
            source: "no record of the previous version was kept".into(),
        });
    };
    apply_agent(backend, &record, commit.as_deref()).await
}

/// Applies the workspace ConfigMap (and the record in the Secret) and checks that the
/// server holds the files as sent.
pub(super) async fn push_config(
    backend: &KubernetesBackend,
    agent: &Agent,
    commit: Option<&str>,
) -> Result<(), BackendError> {
    let objects = manifests::agent_objects(agent, &backend.settings, commit, true);
    backend.apply_listed(&objects.secret).await?;
    let applied = backend.apply_listed(&objects.config_map).await?;
    let sent = objects.config_map.data.unwrap_or_default();
    let held = applied.data.unwrap_or_default();
    let keys = manifests::workspace_keys(agent);
    match sent
        .iter()
        .find(|(key, content)| held.get(*key) != Some(*content))
    {
        Some((key, _)) => Err(BackendError::VerifyPush {
            agent: agent.name.clone(),
            path: keys.get(key).cloned().unwrap_or_else(|| key.clone()),
        }),
        None => Ok(()),
    }
}

/// Sleeps, wakes or removes (`Stopped`) the agent: its record applied again in `state`.
pub(super) async fn set_state(
    backend: &KubernetesBackend,
    name: &str,
    state: AgentState,
) -> Result<(), BackendError> {
    let (mut record, commit) = current(backend, name).await?;
    record.state = state;
    apply_agent(backend, &record, commit.as_deref()).await
}
