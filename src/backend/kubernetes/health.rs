//! The health gate on a cluster: the Deployment's rollout is complete (the controller saw
//! the last change, every replica is updated and available, no old pod is left) and the
//! agent's pod is Ready. A pod that cannot start (image not pullable, crash loop, bad
//! config) or a rollout past its progress deadline fails the gate at once.
//!
//! The rollout's `probe` is not run from here: it is the container's readiness probe
//! (see `manifests`), so Ready already means the probe passes.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;

use super::KubernetesBackend;
use crate::backend::labels::AGENT_LABEL;
use crate::backend::{BackendError, Look, wait};
use crate::desired::Agent;

/// Container waiting reasons that will not get better by waiting.
const HOPELESS: [&str; 6] = [
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
];

pub(super) async fn wait_healthy(
    backend: &KubernetesBackend,
    agent: &Agent,
    timeout: Duration,
    interval: Duration,
) -> Result<(), BackendError> {
    // The API server is spared: never more often than the backend's own pace.
    let interval = interval.max(backend.poll_interval);
    wait::wait_healthy(&agent.name, timeout, interval, || {
        look(backend, &agent.name)
    })
    .await
}

async fn look(backend: &KubernetesBackend, name: &str) -> Result<Look<()>, BackendError> {
    let Some(deployment) = backend.get::<Deployment>(name).await? else {
        return Ok(Look::Failed("its Deployment is gone".to_owned()));
    };
    let wanted = deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.replicas)
        .unwrap_or(1);
    let rolling = rollout(&deployment, wanted);
    if let Some(Look::Failed(reason)) = rolling {
        return Ok(Look::Failed(reason));
    }
    let pods = backend
        .list::<Pod>(&format!("{AGENT_LABEL}={name}"))
        .await?;
    // A pod that cannot start fails the gate even while the rollout waits for it.
    Ok(match (pods_look(&pods, wanted), rolling) {
        (Look::Failed(reason), _) => Look::Failed(reason),
        (_, Some(waiting)) => waiting,
        (look, None) => look,
    })
}

/// The rollout's state towards `wanted` replicas; `None` once it is complete.
fn rollout(deployment: &Deployment, wanted: i32) -> Option<Look<()>> {
    let generation = deployment.metadata.generation.unwrap_or(0);
    let status = deployment.status.clone().unwrap_or_default();
    let progressing = status
        .conditions
        .iter()
        .flatten()
        .find(|condition| condition.type_ == "Progressing");
    if let Some(condition) = progressing
        && condition.reason.as_deref() == Some("ProgressDeadlineExceeded")
    {
        return Some(Look::Failed(format!(
            "rollout exceeded its progress deadline: {}",
            condition.message.clone().unwrap_or_default()
        )));
    }
    let counts = [
        status.updated_replicas.unwrap_or(0),
        status.available_replicas.unwrap_or(0),
        status.ready_replicas.unwrap_or(0),
        status.replicas.unwrap_or(0),
    ];
    if status.observed_generation.unwrap_or(0) < generation {
        return Some(Look::Waiting("the rollout has not started".to_owned()));
    }
    if counts.iter().any(|count| *count != wanted) {
        return Some(Look::Waiting(format!(
            "rollout in progress: {} of {wanted} updated, {} available, {} pods",
            counts[0], counts[1], counts[3]
        )));
    }
    None
}

/// Whether the agent's pods are Ready (none left over from before, none that cannot start).
fn pods_look(pods: &[Pod], wanted: i32) -> Look<()> {
    let live: Vec<&Pod> = pods
        .iter()
        .filter(|pod| pod.metadata.deletion_timestamp.is_none())
        .collect();
    for pod in &live {
        let statuses = pod
            .status
            .iter()
            .flat_map(|status| status.container_statuses.iter().flatten());
        for status in statuses {
            let waiting = status
                .state
                .as_ref()
                .and_then(|state| state.waiting.as_ref());
            if let Some(reason) = waiting.and_then(|waiting| waiting.reason.as_deref())
                && HOPELESS.contains(&reason)
            {
                let message = waiting.and_then(|waiting| waiting.message.clone());
                return Look::Failed(format!("{reason}: {}", message.unwrap_or_default()));
            }
        }
    }
    let ready = live
        .iter()
        .filter(|pod| {
            pod.status
                .iter()
                .flat_map(|status| status.conditions.iter().flatten())
                .any(|condition| condition.type_ == "Ready" && condition.status == "True")
        })
        .count();
    if i32::try_from(ready).unwrap_or(i32::MAX) >= wanted && live.len() == ready {
        Look::Done(())
    } else {
        Look::Waiting(format!("{ready} of {wanted} pods Ready"))
    }
}
