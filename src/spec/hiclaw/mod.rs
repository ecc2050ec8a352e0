//! The `hiclaw.io/v1beta1` kinds with HiClaw's own field names: Worker, Team, Human,
//! Manager, plus the designed-but-never-built DebugWorker and Team extensions
//! (`spec.image`, `spec.leader.image`, `spec.leader.runtime`, `spec.upgrade`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::located::Located;

mod fields;
pub use super::env::{EnvValue, SECRET_TAG};
pub use fields::*;

/// Environment variables; keys keep their position for validation.
pub type EnvMap = BTreeMap<Located<String>, EnvValue>;

/// Extra labels of an agent; keys keep their position for validation.
pub type LabelMap = BTreeMap<Located<String>, String>;

/// Declares a struct holding every Worker field, after the given leading fields.
/// (Serde's `flatten` would lose source positions and `deny_unknown_fields`, so the shared
/// fields are spelled out once here instead.)
macro_rules! with_worker_fields {
    ($(#[$meta:meta])* pub struct $name:ident { $($leading:tt)* }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        pub struct $name {
            $($leading)*
            /// LLM model the agent uses.
            pub model: String,
            /// `openclaw` (default), `copaw` or `hermes`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub runtime: Option<Located<Runtime>>,
            /// Container image; empty means the runtime's default (via Team and ImageSet).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub image: Option<Located<String>>,
            /// Runtime identity (Matrix localpart, storage key); defaults to the resource name.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub worker_name: Option<Located<String>>,
            /// Contents of IDENTITY.md.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub identity: Option<String>,
            /// Contents of SOUL.md.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub soul: Option<String>,
            /// The user's part of AGENTS.md.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub agents: Option<String>,
            /// Built-in skill names.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub skills: Vec<String>,
            /// Skills from remote repositories.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub remote_skills: Vec<RemoteSkillSource>,
            /// MCP servers.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub mcp_servers: Vec<McpServer>,
            /// Agent package: `file://`, `http(s)://`, `nacos://…` or `packages/<name>.zip`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub package: Option<Located<String>>,
            /// Ports the agent serves.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub expose: Vec<ExposePort>,
            /// Channel allow and deny lists.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub channel_policy: Option<ChannelPolicy>,
            /// `false`: the agent's container is not managed (default true).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub container_managed: Option<bool>,
            /// `Running` (default), `Sleeping` or `Stopped`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub state: Option<AgentState>,
            /// Platform services the agent may use.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub access_entries: Vec<AccessEntry>,
            /// Environment variables.
            #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
            pub env: EnvMap,
            /// Extra labels on the container or pod.
            #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
            pub labels: LabelMap,
            /// CPU and memory of the container.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub resources: Option<Resources>,
        }
    };
}

with_worker_fields! {
    /// The spec of a standalone Worker (and of a Pilot role's agent).
    pub struct WorkerSpec {}
}

with_worker_fields! {
    /// A team member that is a worker: a name plus every Worker field.
    pub struct TeamWorker {
        /// Member name, unique across all Teams and standalone Workers.
        pub name: Located<String>,
    }
}

/// The leader's heartbeat: how often it checks on its workers.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    /// Whether the heartbeat runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Interval, e.g. `30m` (the design's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<Located<String>>,
}

/// A Team's leader.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TeamLeader {
    /// Member name.
    pub name: Located<String>,
    /// Runtime identity; defaults to `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_name: Option<Located<String>>,
    /// LLM model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Extension: container image (default: the Team's `image`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Located<String>>,
    /// Extension: runtime (upstream leaders always run `copaw`, the default here too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<Located<Runtime>>,
    /// Contents of IDENTITY.md.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// Contents of SOUL.md.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soul: Option<String>,
    /// The user's part of AGENTS.md.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<String>,
    /// Agent package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<Located<String>>,
    /// Skills from remote repositories.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remote_skills: Vec<RemoteSkillSource>,
    /// MCP servers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mcp_servers: Vec<McpServer>,
    /// Heartbeat settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<Heartbeat>,
    /// Idle time after which the leader puts a worker to sleep, e.g. `720m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_idle_timeout: Option<Located<String>>,
    /// Channel allow and deny lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_policy: Option<ChannelPolicy>,
    /// `Running` (default), `Sleeping` or `Stopped`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<AgentState>,
    /// Platform services the agent may use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_entries: Vec<AccessEntry>,
    /// Environment variables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: EnvMap,
    /// Extra labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: LabelMap,
    /// CPU and memory of the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
}

/// The Human who administers a Team.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TeamAdmin {
    /// Name of a Human resource.
    pub name: Located<String>,
    /// Matrix user id, when it differs from the Human's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix_user_id: Option<String>,
}

/// The role of a Human inside a Team.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HumanRole {
    /// Coordinates the team with its leader.
    Coordinator,
}

/// A Human who is a member of a Team.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HumanMember {
    /// Name of a Human resource.
    pub name: Located<String>,
    /// Matrix user id, when it differs from the Human's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix_user_id: Option<String>,
    /// Role in the team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<HumanRole>,
}

/// Whether a team's leader or workers restart first during an upgrade.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum UpgradeOrder {
    /// Workers one after another, then the leader (the design's order).
    #[default]
    WorkersFirst,
    /// The leader, then the workers (upstream's built behaviour).
    LeaderFirst,
}

/// What a rollout does when an agent fails its health gate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FailurePolicy {
    /// Stop the rollout; leave the failed agent for inspection.
    #[default]
    Halt,
    /// Restore the previous container and stop.
    Rollback,
}

/// A health probe run inside the agent's container.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    /// Command and arguments; exit code 0 means healthy.
    pub exec: Vec<String>,
}

/// Per-team overrides of the `[rollout]` settings (an extension from the controller design).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TeamUpgrade {
    /// `workers-first` or `leader-first`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<UpgradeOrder>,
    /// How many agents of the team may restart at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<Located<i64>>,
    /// How long an agent may take to become healthy, e.g. `120s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_timeout: Option<Located<String>>,
    /// `halt` or `rollback`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<FailurePolicy>,
    /// Health probe run after each start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<Probe>,
}

/// A Team: a leader and its workers, with the Humans who run it.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TeamSpec {
    /// What the team does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Team identity; defaults to the resource name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_name: Option<String>,
    /// The Human administering the team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin: Option<TeamAdmin>,
    /// Humans who are members of the team.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub human_members: Vec<HumanMember>,
    /// Extension: default image for the leader and workers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Located<String>>,
    /// The team's leader.
    pub leader: TeamLeader,
    /// The team's workers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workers: Vec<TeamWorker>,
    /// Whether members may mention each other (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_mentions: Option<bool>,
    /// Channel allow and deny lists for the team room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_policy: Option<ChannelPolicy>,
    /// Extension: rollout overrides for this team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<TeamUpgrade>,
}

/// A person who works with the fleet (no container).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HumanSpec {
    /// Name shown in chat.
    pub display_name: String,
    /// Login name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// E-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// 1 admin-like, 2 team-scoped, 3 worker-only.
    pub permission_level: Located<i64>,
    /// Teams this Human may reach.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accessible_teams: Vec<Located<String>>,
    /// Workers this Human may reach.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accessible_workers: Vec<Located<String>>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Settings of the Manager agent.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManagerConfig {
    /// Heartbeat interval (default `15m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_interval: Option<Located<String>>,
    /// Idle time before a worker sleeps (default `720m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_idle_timeout: Option<Located<String>>,
    /// Where notifications go (default `admin-dm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_channel: Option<String>,
}

/// The Manager agent (optional; usually one named `default`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManagerSpec {
    /// LLM model.
    pub model: String,
    /// `openclaw` (default) or `copaw`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<Located<Runtime>>,
    /// Container image (default: the ImageSet's `manager`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Located<String>>,
    /// Contents of SOUL.md.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soul: Option<String>,
    /// The user's part of AGENTS.md.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<String>,
    /// Built-in skill names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skills: Vec<String>,
    /// MCP servers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mcp_servers: Vec<McpServer>,
    /// Agent package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<Located<String>>,
    /// Manager settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ManagerConfig>,
    /// `Running` (default), `Sleeping` or `Stopped`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<AgentState>,
    /// Platform services the agent may use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_entries: Vec<AccessEntry>,
    /// Environment variables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: EnvMap,
    /// Extra labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: LabelMap,
    /// CPU and memory of the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
}

/// What a DebugWorker's `target` points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DebugTargetType {
    /// Every member of a Team.
    Team,
    /// One worker.
    Worker,
}

/// A single debug target: a whole Team or one worker.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DebugTarget {
    /// `team` or `worker`.
    #[serde(rename = "type")]
    pub target_type: DebugTargetType,
    /// Name of the Team or worker.
    pub name: Located<String>,
}

/// Who may talk to a DebugWorker.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DebugAccessControl {
    /// Human names; default: the target team's admin only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_users: Vec<Located<String>>,
}

/// An agent that reads other agents' workspaces live to debug them (design only upstream).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DebugWorkerSpec {
    /// Worker names to debug (alternative to `target`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<Located<String>>,
    /// A Team or worker to debug (alternative to `targets`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<DebugTarget>,
    /// Who may talk to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_control: Option<DebugAccessControl>,
    /// LLM model (default: the first target's model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Container image (default: the ImageSet's `debug`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Located<String>>,
    /// Contents of SOUL.md.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soul: Option<String>,
    /// Environment variables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: EnvMap,
    /// Extra labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: LabelMap,
    /// CPU and memory of the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
}
