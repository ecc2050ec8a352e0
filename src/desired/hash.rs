//! The two hashes of an agent. The **runtime hash** covers what only a new container can
//! change (image, runtime, env, labels, ports, hostname, pull policy, whether the
//! container is managed, mounted debug targets, resources); the **config hash** covers the workspace
//! files, which are pushed into a running agent. Neither covers `state`: sleeping and
//! waking are operations of their own.
//!
//! Both are SHA-256 over a canonical JSON form: fixed field order, maps sorted by key, so
//! they do not depend on the order of fields in YAML or of a map's entries.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::spec::clawops::PullPolicy;
use crate::spec::hiclaw::Runtime;

use super::agent::{Agent, AgentPort, Workspace};

/// What a container is made from, in a fixed field order.
#[derive(Serialize)]
struct RuntimeFingerprint<'a> {
    image: &'a str,
    runtime: Runtime,
    env: BTreeMap<&'a str, EnvFingerprint<'a>>,
    labels: &'a BTreeMap<String, String>,
    ports: &'a [AgentPort],
    /// Always `null`: no backend that uses this hash passes `package` to the agent (only a
    /// HiClaw controller installs packages). The key stays so that every agent keeps the
    /// hash it had when the package reached a file clawops wrote.
    package: (),
    hostname: Option<&'a str>,
    pull_policy: PullPolicy,
    container_managed: bool,
    debug_targets: &'a [String],
    /// Left out when not set, so fleets without `resources` keep their hashes.
    #[serde(skip_serializing_if = "Option::is_none")]
    resources: Option<&'a super::resources::AgentResources>,
}

/// An env variable's name is the map key; `sensitive` is derived, so it is left out.
#[derive(Serialize)]
struct EnvFingerprint<'a> {
    value: &'a str,
    secret_ref: bool,
}

/// The runtime hash of an agent whose other fields are resolved.
pub(crate) fn runtime_hash(agent: &Agent) -> String {
    let fingerprint = RuntimeFingerprint {
        image: &agent.image,
        runtime: agent.runtime,
        env: agent
            .env
            .iter()
            .map(|(key, variable)| {
                let entry = EnvFingerprint {
                    value: &variable.value,
                    secret_ref: variable.secret_ref,
                };
                (key.as_str(), entry)
            })
            .collect(),
        labels: &agent.labels,
        ports: &agent.ports,
        package: (),
        hostname: agent.hostname.as_deref(),
        pull_policy: agent.pull_policy,
        container_managed: agent.container_managed,
        debug_targets: &agent.debug_targets,
        resources: (!agent.resources.is_empty()).then_some(&agent.resources),
    };
    sha256_of_json(&fingerprint)
}

/// The config hash: every workspace file's path and content, in path order.
pub fn config_hash(workspace: &Workspace) -> String {
    sha256_of_json(workspace)
}

fn sha256_of_json(value: &impl Serialize) -> String {
    // Serializing plain strings, booleans, integers and string-keyed maps cannot fail.
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}
