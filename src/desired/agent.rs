//! The record of one desired agent and the small types it is made of.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::resources::AgentResources;

use crate::spec::clawops::PullPolicy;
use crate::spec::hiclaw::{
    AgentState, ExposeProtocol, FailurePolicy, Probe, Runtime, UpgradeOrder,
};

/// What an agent is in the fleet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentRole {
    /// The Manager.
    Manager,
    /// A team's leader.
    TeamLeader,
    /// A team's worker.
    Worker,
    /// A standalone Worker.
    Standalone,
    /// A DebugWorker.
    Debug,
    /// A Pilot role.
    Pilot,
}

impl AgentRole {
    /// The role as upstream HiClaw labels it (`hiclaw.io/role`).
    pub fn as_str(self) -> &'static str {
        match self {
            AgentRole::Manager => "manager",
            AgentRole::TeamLeader => "team_leader",
            AgentRole::Worker => "worker",
            AgentRole::Standalone => "standalone",
            AgentRole::Debug => "debug",
            AgentRole::Pilot => "pilot",
        }
    }
}

impl fmt::Display for AgentRole {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// Where an agent's image came from (own → team → ImageSet → runtime default).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageSource {
    /// The agent's own `image`.
    Own,
    /// Its Team's `spec.image`.
    Team,
    /// The ImageSet's image for its runtime (or `manager` / `debug`).
    ImageSet,
    /// HiClaw's default image for the runtime.
    Default,
}

/// One environment variable.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EnvVar {
    /// The value as written, or the secret reference's name when `secret_ref` is set.
    pub value: String,
    /// The value names a secret the backend resolves at apply time.
    pub secret_ref: bool,
    /// The value must never be printed: a secret reference, a key that looks secret, or a
    /// value that carries a credential ([`is_sensitive`](super::is_sensitive)).
    pub sensitive: bool,
}

/// A port the agent serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AgentPort {
    /// Container port.
    pub port: u16,
    /// `http` or `grpc`.
    pub protocol: ExposeProtocol,
}

/// The agent's workspace files: path (relative to `HOME`) → content.
pub type Workspace = BTreeMap<String, String>;

/// One desired agent, fully resolved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    /// Resource name: `<prefix>worker-<member>`, the Manager `<prefix>manager`.
    pub name: String,
    /// The member name as written (`metadata.name`, a team member's `name`, a Pilot hostname).
    pub member: String,
    /// Runtime identity (`workerName`, default the member name).
    pub worker_name: String,
    /// What the agent is.
    pub role: AgentRole,
    /// The rollout group it belongs to (a team name, `standalone`, `pilot:<setup>`,
    /// `debug`, `manager`).
    pub group: String,
    /// Its team, for team leaders and workers.
    pub team: Option<String>,
    /// The runtime.
    pub runtime: Runtime,
    /// The image reference.
    pub image: String,
    /// Where the image came from.
    pub image_source: ImageSource,
    /// When to pull the image.
    pub pull_policy: PullPolicy,
    /// Running, Sleeping or Stopped.
    pub state: AgentState,
    /// `false`: clawops manages no container for it (HiClaw's `containerManaged: false`).
    pub container_managed: bool,
    /// Environment variables, including the HiClaw ones.
    pub env: BTreeMap<String, EnvVar>,
    /// Labels on the container or pod.
    pub labels: BTreeMap<String, String>,
    /// Exposed ports.
    pub ports: Vec<AgentPort>,
    /// Pilot hostname (Pilot roles only).
    pub hostname: Option<String>,
    /// Member names whose workspaces a DebugWorker mounts read-only.
    pub debug_targets: Vec<String>,
    /// The health probe of its rollout group, if any: run by the health gate on Docker, the
    /// container's readiness probe on Kubernetes. Not part of the runtime hash: a changed
    /// probe alone restarts nothing (on Kubernetes it reaches the pod at its next recreate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<Probe>,
    /// CPU and memory as the spec gives them (the backend's defaults fill in the rest).
    #[serde(default, skip_serializing_if = "AgentResources::is_empty")]
    pub resources: AgentResources,
    /// Workspace files.
    pub workspace: Workspace,
    /// Repository-relative file the agent is defined in.
    pub file: String,
    /// Line of its definition in that file.
    pub line: u32,
    /// Hash over what needs a new container (image, runtime, env, labels, ports, package…).
    pub runtime_hash: String,
    /// Hash over the workspace files (hot-pushed without a restart).
    pub config_hash: String,
    /// The `hiclaw` target only: the member spec the HiClaw controller is given (the
    /// runtime hash is then a hash of it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hiclaw: Option<std::sync::Arc<super::hiclaw::HiclawMember>>,
    /// Pilot roles only: what clawops runs in the container after it starts (skills,
    /// hostname, handshakes), from the role's setup manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pilot: Option<super::PilotBootstrap>,
}

impl Agent {
    /// The resource name of the agent of member `target`, next to this one (a
    /// DebugWorker's target: same prefix, that member's name).
    pub fn debug_target_agent(&self, target: &str) -> String {
        let base = self
            .name
            .strip_suffix(self.member.as_str())
            .unwrap_or(&self.name);
        format!("{base}{target}")
    }
}

/// One rollout group, in upgrade order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Group name: a team name, `standalone`, `pilot:<setup>`, `debug` or `manager`.
    pub name: String,
    /// A team (rolled out in parallel with other teams up to `teams_in_parallel`).
    pub is_team: bool,
    /// Listed in `[rollout] canary`: goes first and alone.
    pub canary: bool,
    /// Agents of the group in restart order (workers before the leader, or the reverse).
    pub agents: Vec<String>,
}

/// Rollout settings of one group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutSettings {
    /// Workers or leader first.
    pub order: UpgradeOrder,
    /// How many agents restart at once.
    pub max_unavailable: u32,
    /// How long an agent may take to become healthy, in seconds.
    pub health_timeout_seconds: u64,
    /// Halt or roll back on a failed gate.
    pub on_failure: FailurePolicy,
    /// The health probe, if any.
    pub probe: Option<Probe>,
}
