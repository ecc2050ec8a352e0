//! The Pilot bootstrap on Kubernetes: the shared core ([`crate::backend::pilot`]) runs its
//! `clawhub` and `pilotctl` calls in the agent's running pod through the pods `exec`
//! subresource (a WebSocket on the channel protocol; RBAC: `create` on `pods/exec`, `list`
//! on `pods`), in its `worker` container, with `clawhub --workdir` at the agent's home.
//! The completed bootstrap is recorded as the Deployment's `clawops.dev/pilot` annotation,
//! written by server-side apply under its own field manager (`clawops-pilot`), so the
//! agent's own applies neither own nor remove it.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{AttachParams, Patch, PatchParams};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::KubernetesBackend;
use super::client::request_error;
use crate::backend::BackendError;
use crate::backend::labels::AGENT_LABEL;
use crate::backend::pilot;
use crate::backend::shell::{AgentShell, Capped, Ran};
use crate::desired::Agent;
use crate::observe::PilotRecord;

/// The Deployment annotation holding the completed bootstrap.
pub const PILOT_ANNOTATION: &str = "clawops.dev/pilot";
/// The field manager of that annotation.
const PILOT_FIELD_MANAGER: &str = "clawops-pilot";

#[async_trait::async_trait]
impl AgentShell for KubernetesBackend {
    async fn run_in(
        &self,
        agent: &str,
        command: &[String],
        deadline: Instant,
    ) -> Result<Ran, BackendError> {
        let pod = running_pod(self, agent).await?;
        let params = AttachParams::default().container("worker").stdin(false);
        let run = async {
            let mut process = self
                .api::<Pod>()
                .exec(&pod, command.to_vec(), &params)
                .await
                .map_err(|error| request_error("exec in", pod.clone(), error))?;
            let status = process.take_status();
            let (stdout, stderr) = tokio::join!(capped(process.stdout()), capped(process.stderr()));
            let status = match status {
                Some(status) => status.await,
                None => None,
            };
            let mut output = stdout;
            output.push(stderr.bytes());
            Ok(Ran::Exited {
                code: exit_code(status.as_ref()),
                output: output.into_string(),
            })
        };
        match tokio::time::timeout_at(deadline.into(), run).await {
            Ok(ran) => ran,
            Err(_elapsed) => Ok(Ran::TimedOut),
        }
    }
}

/// A stream read to its end, its first [`OUTPUT_CAP`](crate::backend::shell::OUTPUT_CAP)
/// bytes kept.
async fn capped(stream: Option<impl AsyncRead + Unpin>) -> Capped {
    let mut kept = Capped::default();
    let Some(mut stream) = stream else {
        return kept;
    };
    let mut chunk = [0_u8; 8192];
    while let Ok(read) = stream.read(&mut chunk).await {
        if read == 0 {
            break;
        }
        kept.push(&chunk[..read]);
    }
    kept
}

/// The exit code the status channel reports: 0 on `Success`, the `ExitCode` cause of a
/// `NonZeroExitCode` failure, else -1.
fn exit_code(status: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Status>) -> i64 {
    let Some(status) = status else {
        return -1;
    };
    if status.status.as_deref() == Some("Success") {
        return 0;
    }
    status
        .details
        .as_ref()
        .and_then(|details| details.causes.as_ref())
        .into_iter()
        .flatten()
        .find(|cause| cause.reason.as_deref() == Some("ExitCode"))
        .and_then(|cause| cause.message.as_deref()?.parse().ok())
        .unwrap_or(-1)
}

/// The agent's running pod (not being deleted).
async fn running_pod(backend: &KubernetesBackend, agent: &str) -> Result<String, BackendError> {
    let pods = backend
        .list::<Pod>(&format!("{AGENT_LABEL}={agent}"))
        .await?;
    pods.into_iter()
        .filter(|pod| pod.metadata.deletion_timestamp.is_none())
        .find(|pod| {
            pod.status
                .as_ref()
                .and_then(|status| status.phase.as_deref())
                == Some("Running")
        })
        .and_then(|pod| pod.metadata.name)
        .ok_or_else(|| BackendError::Request {
            operation: "exec in",
            agent: agent.to_owned(),
            transient: true,
            source: "the agent has no running pod".into(),
        })
}

/// Waits for mutual trust with every peer, then records the bootstrap on the Deployment.
pub(super) async fn confirm_trust(
    backend: &KubernetesBackend,
    agent: &Agent,
    timeout: Duration,
) -> Result<(), BackendError> {
    pilot::confirm_trust(backend, agent, timeout).await?;
    let Some(bootstrap) = &agent.pilot else {
        return Ok(());
    };
    let record = serde_json::to_string(&PilotRecord::of(bootstrap)).unwrap_or_default();
    let patch = serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": agent.name, "annotations": {PILOT_ANNOTATION: record}},
    });
    backend
        .api::<Deployment>()
        .patch(
            &agent.name,
            &PatchParams::apply(PILOT_FIELD_MANAGER),
            &Patch::Apply(patch),
        )
        .await
        .map_err(|error| {
            request_error("record the Pilot bootstrap of", agent.name.clone(), error)
        })?;
    Ok(())
}
