//! Pilot bootstrap after a Pilot role starts: its hostname and the handshakes its setup
//! manifest asks for, through `pilotctl` inside the container.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::DockerBackend;
use super::health::{Ran, deadline_after, exec};
use crate::backend::BackendError;
use crate::desired::Agent;

/// Where a Pilot role's setup manifests live in its workspace.
const SETUPS_DIR: &str = ".pilot/setups/";
/// How long the whole bootstrap (every `pilotctl` call) may take.
pub(super) const BOOTSTRAP_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `pilotctl --json set-hostname` and one handshake per `handshakes_needed` entry of
/// every setup manifest of `agent`; warns once per backend when the image has no
/// `pilotctl`. Everything ends within [`BOOTSTRAP_TIMEOUT`]: a call still running then
/// fails the bootstrap.
pub(super) async fn bootstrap(backend: &DockerBackend, agent: &Agent) -> Result<(), BackendError> {
    let deadline = deadline_after(BOOTSTRAP_TIMEOUT);
    let check = ["sh", "-c", "command -v pilotctl"].map(str::to_owned);
    let found = exec(backend, &agent.name, &check, deadline).await?;
    if found == Ran::TimedOut {
        return Err(timed_out(agent, &check));
    }
    if !matches!(found, Ran::Exited { code: 0, .. }) {
        if !backend.pilot_warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                agent = %agent.name,
                image = %agent.image,
                "image has no pilotctl: Pilot hostname and handshakes not set up"
            );
        }
        return Ok(());
    }
    let mut commands = Vec::new();
    if let Some(hostname) = &agent.hostname {
        commands.push(vec!["set-hostname".to_owned(), hostname.clone()]);
    }
    for (path, content) in &agent.workspace {
        let Some(setup) = path
            .strip_prefix(SETUPS_DIR)
            .and_then(|file| file.strip_suffix(".json"))
        else {
            continue;
        };
        let manifest: serde_json::Value = serde_json::from_str(content).unwrap_or_default();
        let peers = manifest
            .get("handshakes_needed")
            .and_then(serde_json::Value::as_array)
            .cloned()
            .unwrap_or_default();
        for peer in peers.iter().filter_map(serde_json::Value::as_str) {
            commands.push(vec![
                "handshake".to_owned(),
                peer.to_owned(),
                format!("setup: {setup}"),
            ]);
        }
    }
    for arguments in commands {
        let mut command = vec!["pilotctl".to_owned(), "--json".to_owned()];
        command.extend(arguments);
        let (code, output) = match exec(backend, &agent.name, &command, deadline).await? {
            Ran::Exited { code, output } => (code, output),
            Ran::TimedOut => return Err(timed_out(agent, &command)),
        };
        if code != 0 {
            return Err(BackendError::Request {
                operation: "pilot bootstrap",
                agent: agent.name.clone(),
                transient: false,
                source: format!(
                    "`{}` exited with {code}: {}",
                    command.join(" "),
                    output.trim()
                )
                .into(),
            });
        }
    }
    Ok(())
}

/// The error of a bootstrap call that had not ended by the deadline.
fn timed_out(agent: &Agent, command: &[String]) -> BackendError {
    BackendError::Request {
        operation: "pilot bootstrap",
        agent: agent.name.clone(),
        transient: false,
        source: format!(
            "`{}` had not ended after {} s",
            command.join(" "),
            BOOTSTRAP_TIMEOUT.as_secs()
        )
        .into(),
    }
}
