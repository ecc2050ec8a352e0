//! Drift the records cannot show: a Deployment edited by hand (`kubectl edit`, `kubectl
//! set env`). Planning sends each desired Deployment as a server-side apply dry run
//! (`dryRun=All`, nothing is changed) and compares the server's answer with the live
//! object, leaving out the fields the server owns; a difference where git did not change
//! the runtime is drift, named field by field.
//!
//! A ConfigMap edited by hand needs no dry run: observing hashes the files it holds.

use std::collections::HashMap;

use futures_util::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::apps::v1::Deployment;
use kube::ResourceExt;
use serde_json::Value;

use super::KubernetesBackend;
use super::manifests;
use crate::backend::BackendError;
use crate::backend::labels::{AGENT_LABEL, COMMIT_LABEL, STATE_LABEL};
use crate::desired::Desired;
use crate::observe::{Observed, ObservedStatus};

/// Dry runs in flight at once.
const DRY_RUNS_AT_ONCE: usize = 16;

/// Metadata fields the server writes.
const SERVER_METADATA: [&str; 6] = [
    "managedFields",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "uid",
    "selfLink",
];

pub(super) async fn check_drift(
    backend: &KubernetesBackend,
    desired: &Desired,
    mut observed: Observed,
) -> Result<Observed, BackendError> {
    let mut live: HashMap<String, Deployment> = backend
        .list::<Deployment>(AGENT_LABEL)
        .await?
        .into_iter()
        .map(|deployment| (deployment.name_any(), deployment))
        .collect();
    let candidates: Vec<(usize, Deployment, Deployment)> = observed
        .agents
        .iter()
        .enumerate()
        .filter(|(_, agent)| agent.status != ObservedStatus::Missing)
        .filter_map(|(index, agent)| {
            let wanted = desired.agent(&agent.name)?;
            let live = live.remove(&agent.name)?;
            (wanted.runtime_hash == agent.runtime_hash).then_some(())?;
            let objects = manifests::agent_objects(wanted, &backend.settings, None, false);
            Some((index, objects.deployment?, live))
        })
        .collect();
    let found: Vec<(usize, Vec<String>)> = stream::iter(candidates)
        .map(|(index, intended, live)| async move {
            let answer = backend
                .dry_run(&keeping_live_records(intended, &live))
                .await?;
            Ok::<_, BackendError>((index, differences(&live, &answer)))
        })
        .buffer_unordered(DRY_RUNS_AT_ONCE)
        .try_collect()
        .await?;
    for (index, fields) in found {
        observed.agents[index].edited = fields;
    }
    Ok(observed)
}

/// The intended Deployment with what was applied, not what git says now, wherever a
/// difference is not drift: the commit and state annotations, the replica count, the
/// readiness probe.
fn keeping_live_records(mut intended: Deployment, live: &Deployment) -> Deployment {
    let annotations = intended.metadata.annotations.get_or_insert_default();
    for key in [COMMIT_LABEL, STATE_LABEL] {
        match live.annotations().get(key) {
            Some(value) => annotations.insert(key.to_owned(), value.clone()),
            None => annotations.remove(key),
        };
    }
    if let (Some(spec), Some(live_spec)) = (intended.spec.as_mut(), live.spec.as_ref()) {
        spec.replicas = live_spec.replicas;
        // A changed probe reaches the pod at its next recreate: not drift either.
        let live_probe = live_spec
            .template
            .spec
            .as_ref()
            .and_then(|pod| pod.containers.first())
            .and_then(|container| container.readiness_probe.clone());
        if let Some(container) = spec
            .template
            .spec
            .as_mut()
            .and_then(|pod| pod.containers.first_mut())
        {
            container.readiness_probe = live_probe;
        }
    }
    intended
}

/// Paths (`spec.template.spec.containers.0.env`) where `answer` differs from `live`, the
/// fields the server owns left out.
pub(super) fn differences(live: &Deployment, answer: &Deployment) -> Vec<String> {
    let clean = |deployment: &Deployment| {
        let mut value = serde_json::to_value(deployment).unwrap_or(Value::Null);
        if let Some(object) = value.as_object_mut() {
            object.remove("status");
            if let Some(Value::Object(metadata)) = object.get_mut("metadata") {
                for field in SERVER_METADATA {
                    metadata.remove(field);
                }
            }
        }
        value
    };
    let mut paths = Vec::new();
    collect(&clean(live), &clean(answer), String::new(), &mut paths);
    paths
}

fn collect(live: &Value, answer: &Value, path: String, paths: &mut Vec<String>) {
    match (live, answer) {
        (Value::Object(left), Value::Object(right)) => {
            let keys: std::collections::BTreeSet<&String> =
                left.keys().chain(right.keys()).collect();
            for key in keys {
                let null = Value::Null;
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                collect(
                    left.get(key).unwrap_or(&null),
                    right.get(key).unwrap_or(&null),
                    child,
                    paths,
                );
            }
        }
        (Value::Array(left), Value::Array(right)) if left.len() == right.len() => {
            for (index, (left, right)) in left.iter().zip(right).enumerate() {
                collect(left, right, format!("{path}.{index}"), paths);
            }
        }
        (left, right) if left != right => paths.push(path),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_fields_outside_the_servers_own_are_differences() {
        let settings = super::super::settings::KubernetesSettings::for_fleet("f", "ns");
        let agent =
            crate::desired::test_support::desired_of(&crate::desired::test_support::fleet_files())
                .agents[0]
                .clone();
        let live = manifests::agent_objects(&agent, &settings, None, true)
            .deployment
            .expect("deployment");
        let mut answer = live.clone();
        answer.metadata.resource_version = Some("42".to_owned());
        answer.metadata.generation = Some(7);
        assert!(differences(&live, &answer).is_empty());
        if let Some(spec) = answer.spec.as_mut()
            && let Some(pod) = spec.template.spec.as_mut()
        {
            pod.containers[0].image = Some("edited:by-hand".to_owned());
        }
        assert_eq!(
            differences(&live, &answer),
            ["spec.template.spec.containers.0.image"]
        );
    }
}
