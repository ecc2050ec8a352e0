//! Observing a fleet on a cluster: three lists (Deployments, workspace ConfigMaps, the
//! agents' Secrets, all by the fleet's label) into one [`Observed`]. An agent is found by
//! its labels and annotations, exactly as on Docker: running or asleep by its replica
//! count, missing when only its ConfigMap is left (removed for `Stopped`, or by hand).

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;

use super::KubernetesBackend;
use super::manifests::{ENV_KEY_PREFIX, PATHS_ANNOTATION, RECORD_KEY};
use crate::backend::BackendError;
use crate::backend::labels::{AGENT_LABEL, COMMIT_LABEL, RUNTIME_HASH_LABEL, STATE_LABEL};
use crate::desired::{Agent, Workspace, config_hash};
use crate::observe::{Health, Observed, ObservedAgent, ObservedSource, ObservedStatus};
use crate::spec::hiclaw::AgentState;

/// What the three lists hold, by agent name.
pub(super) struct Listed {
    /// Deployments.
    pub deployments: Vec<Deployment>,
    /// Workspace ConfigMaps by agent.
    pub config_maps: HashMap<String, ConfigMap>,
    /// Secrets by agent.
    pub secrets: HashMap<String, Secret>,
}

fn by_agent<K: ResourceExt>(objects: Vec<K>) -> HashMap<String, K> {
    objects
        .into_iter()
        .filter_map(|object| Some((object.labels().get(AGENT_LABEL)?.clone(), object)))
        .collect()
}

/// Lists everything agents are made of.
pub(super) async fn list(backend: &KubernetesBackend) -> Result<Listed, BackendError> {
    let (deployments, config_maps, secrets) = tokio::try_join!(
        backend.list::<Deployment>(AGENT_LABEL),
        backend.list::<ConfigMap>(AGENT_LABEL),
        backend.list::<Secret>(AGENT_LABEL),
    )?;
    Ok(Listed {
        deployments,
        config_maps: by_agent(config_maps),
        secrets: by_agent(secrets),
    })
}

pub(super) async fn observe(backend: &KubernetesBackend) -> Result<Observed, BackendError> {
    let (listed, teams) = tokio::try_join!(list(backend), super::teams::observe_teams(backend))?;
    let mut agents: BTreeMap<String, ObservedAgent> = BTreeMap::new();
    for deployment in &listed.deployments {
        let Some(name) = deployment.labels().get(AGENT_LABEL).cloned() else {
            continue;
        };
        let config_map = listed.config_maps.get(&name);
        let record = listed
            .secrets
            .get(&name)
            .and_then(|secret| applied_agent(secret, config_map));
        agents.insert(
            name.clone(),
            observed_deployment(&name, deployment, config_map, record),
        );
    }
    for (name, config_map) in &listed.config_maps {
        if agents.contains_key(name) {
            continue;
        }
        let annotation = |key: &str| config_map.annotations().get(key).cloned();
        agents.insert(
            name.clone(),
            ObservedAgent {
                name: name.clone(),
                status: ObservedStatus::Missing,
                health: Health::Unknown,
                image: String::new(),
                runtime_hash: String::new(),
                config_hash: config_hash(&live_workspace(config_map)),
                commit: annotation(COMMIT_LABEL),
                applied_state: annotation(STATE_LABEL)
                    .as_deref()
                    .and_then(AgentState::from_name),
                last_applied: None,
                edited: Vec::new(),
                runtime_state: None,
                pilot: None,
            },
        );
    }
    Ok(Observed {
        source: ObservedSource::Backend {
            description: crate::backend::Backend::describe(backend),
        },
        agents: agents.into_values().collect(),
        interrupted: Vec::new(),
        teams: Some(teams),
        humans: None,
    })
}

fn observed_deployment(
    name: &str,
    deployment: &Deployment,
    config_map: Option<&ConfigMap>,
    record: Option<Agent>,
) -> ObservedAgent {
    let spec = deployment.spec.as_ref();
    let replicas = spec.and_then(|spec| spec.replicas).unwrap_or(1);
    let template = spec.map(|spec| &spec.template);
    let container = template
        .and_then(|template| template.spec.as_ref())
        .and_then(|pod| {
            pod.containers
                .iter()
                .find(|container| container.name == "worker")
        });
    let runtime_hash = template
        .and_then(|template| template.metadata.as_ref())
        .and_then(|metadata| metadata.annotations.as_ref())
        .and_then(|annotations| annotations.get(RUNTIME_HASH_LABEL).cloned())
        .unwrap_or_default();
    let ready = deployment
        .status
        .as_ref()
        .and_then(|status| status.ready_replicas)
        .unwrap_or(0);
    let pushed = |key: &str| {
        config_map
            .and_then(|config_map| config_map.annotations().get(key).cloned())
            .or_else(|| deployment.annotations().get(key).cloned())
    };
    ObservedAgent {
        name: name.to_owned(),
        status: if replicas > 0 {
            ObservedStatus::Running
        } else {
            ObservedStatus::Stopped
        },
        health: match (replicas, ready >= replicas) {
            (0, _) => Health::Unknown,
            (_, true) => Health::Healthy,
            (_, false) => Health::Starting,
        },
        image: container
            .and_then(|container| container.image.clone())
            .unwrap_or_default(),
        runtime_hash,
        // Hashed from the files the ConfigMap holds: one edited by hand is seen, and one
        // that is gone plans a push that writes it again.
        config_hash: config_map
            .map(|config_map| config_hash(&live_workspace(config_map)))
            .unwrap_or_default(),
        commit: pushed(COMMIT_LABEL),
        applied_state: deployment
            .annotations()
            .get(STATE_LABEL)
            .and_then(|name| AgentState::from_name(name)),
        last_applied: record,
        edited: Vec::new(),
        runtime_state: None,
        pilot: deployment
            .annotations()
            .get(super::pilot::PILOT_ANNOTATION)
            .and_then(|record| serde_json::from_str(record).ok()),
    }
}

/// The record clawops applied: from the agent's Secret, with the sensitive values (keys
/// of their own there) and the workspace files (from the ConfigMap) put back.
pub(super) fn applied_agent(secret: &Secret, config_map: Option<&ConfigMap>) -> Option<Agent> {
    let data = secret.data.as_ref()?;
    let text = |bytes: &k8s_openapi::ByteString| String::from_utf8(bytes.0.clone()).ok();
    let mut agent: Agent = serde_json::from_str(&text(data.get(RECORD_KEY)?)?).ok()?;
    for (key, variable) in agent.env.iter_mut() {
        if variable.sensitive && !variable.secret_ref {
            let stored = data.get(&format!("{ENV_KEY_PREFIX}{key}"));
            variable.value = stored.and_then(text).unwrap_or_default();
        }
    }
    if let Some(config_map) = config_map {
        agent.workspace = live_workspace(config_map);
    }
    Some(agent)
}

/// The workspace files a ConfigMap holds now, by path.
pub(super) fn live_workspace(config_map: &ConfigMap) -> Workspace {
    let paths: BTreeMap<String, String> = config_map
        .annotations()
        .get(PATHS_ANNOTATION)
        .and_then(|paths| serde_json::from_str(paths).ok())
        .unwrap_or_default();
    let files = config_map.data.clone().unwrap_or_default();
    paths
        .into_iter()
        .filter_map(|(key, path)| Some((path, files.get(&key)?.clone())))
        .collect()
}
