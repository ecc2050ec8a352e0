//! `clawops render --backend kubernetes`: every object of the fleet as one YAML stream,
//! in the order apply sends them (namespace, team objects, then per agent its
//! ServiceAccount, Secret, ConfigMap, Service and Deployment). Sensitive values are
//! redacted; the admins' Roles name no pods (those are known only on the cluster).

use serde::Serialize;

use super::access;
use super::manifests::{AgentObjects, agent_objects};
use super::settings::KubernetesSettings;
use crate::desired::Desired;

/// Why a manifest could not be written.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("could not write the manifest of {object} as YAML: {message}")]
#[diagnostic(code(clawops::render::yaml))]
pub struct RenderError {
    /// `Kind/name`.
    pub object: String,
    /// The serializer's message.
    pub message: String,
}

/// Appends `object` as one YAML document (`---` first); `clawops install kubernetes`
/// writes its objects through this too.
pub fn document<K: Serialize + kube::Resource<DynamicType = ()>>(
    out: &mut String,
    object: &K,
) -> Result<(), RenderError> {
    let yaml = serde_saphyr::to_string(object).map_err(|error| RenderError {
        object: format!(
            "{}/{}",
            K::kind(&()),
            object.meta().name.clone().unwrap_or_default()
        ),
        message: error.to_string(),
    })?;
    out.push_str("---\n");
    out.push_str(&yaml);
    if !yaml.ends_with('\n') {
        out.push('\n');
    }
    Ok(())
}

/// The fleet's manifests as multi-document YAML.
pub fn render(desired: &Desired, settings: &KubernetesSettings) -> Result<String, RenderError> {
    let mut out = String::new();
    document(&mut out, &access::namespace(settings))?;
    for team in &desired.teams {
        let objects = access::team_objects(settings, team, &[]);
        document(&mut out, &objects.network_policy)?;
        if let Some(role) = &objects.role {
            document(&mut out, role)?;
        }
        if let Some(binding) = &objects.role_binding {
            document(&mut out, binding)?;
        }
    }
    let commit = desired
        .revision
        .as_ref()
        .map(|revision| revision.commit.as_str());
    for agent in desired
        .agents
        .iter()
        .filter(|agent| agent.container_managed)
    {
        let AgentObjects {
            deployment,
            config_map,
            service_account,
            secret,
            service,
        } = agent_objects(agent, settings, commit, false);
        document(&mut out, &service_account)?;
        document(&mut out, &secret)?;
        document(&mut out, &config_map)?;
        if let Some(service) = &service {
            document(&mut out, service)?;
        }
        if let Some(deployment) = &deployment {
            document(&mut out, deployment)?;
        }
    }
    Ok(out)
}
