//! Desired stage: one fully resolved record per agent that must exist, built from a valid
//! [`Spec`](crate::spec::Spec).
//!
//! A record holds everything a backend needs (resource name, role, team, runtime, image,
//! state, env, labels, ports, workspace files) and two hashes: the **runtime hash** over
//! what needs a new container, and the **config hash** over the workspace files, which are
//! hot-pushed into a running agent without a restart. Hashes are stable across runs and
//! across field order in YAML.

mod agent;
mod builder;
mod duration;
mod groups;
mod hash;
pub mod hiclaw;
mod images;
mod pilot;
mod profile;
mod resolve;
mod resources;
mod sensitive;
mod workspace;

pub use agent::{
    Agent, AgentPort, AgentRole, EnvVar, Group, ImageSource, RolloutSettings, Workspace,
};
pub use builder::AgentBuilder;
pub use duration::{duration_seconds, parse_duration};
pub use hash::config_hash;
pub use images::{
    DEFAULT_COPAW_IMAGE, DEFAULT_HERMES_IMAGE, DEFAULT_MANAGER_IMAGE, DEFAULT_OPENCLAW_IMAGE,
    default_image,
};
pub use pilot::PilotBootstrap;
pub use profile::{DEBUG_GROUP, MANAGER_GROUP, STANDALONE_GROUP, pilot_group};
pub use resolve::{
    AGENTS_ROOT, CONSOLE_PORT, FLEET_LABEL, MANAGER_LABEL, RESERVED_ENV_KEYS, ROLE_LABEL,
    RUNTIME_LABEL, TEAM_LABEL, WORKER_LABEL, Workspaces, manager_resource_name, resolve,
    resolve_with, worker_resource_name,
};
pub use resources::{AgentResources, cpu_nanos, memory_bytes};
pub use sensitive::{
    DIGEST_PREFIX, has_credentials, is_sensitive, is_sensitive_key, same_variable, value_digest,
    with_digests,
};
pub use workspace::{
    DEBUG_OUTPUT, DEBUG_WORKSPACES, DEFAULT_HEARTBEAT_EVERY, DEFAULT_WORKER_IDLE_TIMEOUT,
};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::source::Revision;
use crate::spec::config::PruneConfig;

/// The whole desired fleet.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Desired {
    /// Owner label on everything clawops creates.
    pub fleet: String,
    /// Resource name prefix (`hiclaw-`).
    pub prefix: String,
    /// The commit the desired state was read from.
    pub revision: Option<Revision>,
    /// Every agent, sorted by resource name.
    pub agents: Vec<Agent>,
    /// Rollout groups in the order they upgrade (canary teams first, the Manager last).
    pub groups: Vec<Group>,
    /// Rollout settings per group name (a team's `spec.upgrade` merged over `[rollout]`).
    pub rollout: BTreeMap<String, RolloutSettings>,
    /// How many teams upgrade at once (`[rollout] teams_in_parallel`).
    pub teams_in_parallel: u32,
    /// Deleting agents that left git.
    pub prune: PruneConfig,
    /// Every team with its admin, sorted by name (for backends that realize permission
    /// isolation, e.g. Kubernetes RBAC).
    #[serde(default)]
    pub teams: Vec<TeamAccess>,
    /// The `hiclaw` target only: Teams' own fields and Humans, as the controller is
    /// given them ([`hiclaw::retarget`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hiclaw: Option<hiclaw::HiclawFleet>,
}

/// One team as a backend's access rules see it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamAccess {
    /// The team's name (`metadata.name`, the value of `hiclaw.io/team`).
    pub name: String,
    /// The Human who administers the team (`spec.admin.name`), if any.
    pub admin: Option<String>,
    /// Resource names of the team's agents (leader and workers), sorted.
    pub agents: Vec<String>,
}

impl Desired {
    /// The agent with this resource name.
    pub fn agent(&self, name: &str) -> Option<&Agent> {
        self.agents
            .binary_search_by(|agent| agent.name.as_str().cmp(name))
            .ok()
            .map(|index| &self.agents[index])
    }
}

#[cfg(test)]
mod tests;

/// A small valid fleet as YAML files, resolved through the real loader and validator.
#[cfg(test)]
pub(crate) mod test_support {
    use super::{Desired, resolve};
    use crate::source::{Snapshot, SourceFile};
    use crate::spec::{self, Spec};

    /// Humans: alice (admin-like), bob (team member), carol (reaches `solo`).
    pub const HUMANS: &str = "\
apiVersion: hiclaw.io/v1beta1
kind: Human
metadata: {name: alice}
spec: {displayName: Alice, permissionLevel: 1}
---
apiVersion: hiclaw.io/v1beta1
kind: Human
metadata: {name: bob}
spec: {displayName: Bob, permissionLevel: 2, accessibleTeams: [alpha]}
---
apiVersion: hiclaw.io/v1beta1
kind: Human
metadata: {name: carol}
spec: {displayName: Carol, permissionLevel: 3, accessibleWorkers: [solo]}
";

    /// Team alpha: a leader with a heartbeat and two workers; team beta: a bare leader.
    pub const TEAMS: &str = "\
apiVersion: hiclaw.io/v1beta1
kind: Team
metadata:
  name: alpha
spec:
  description: Builds the product.
  admin: {name: alice}
  humanMembers: [{name: bob, role: coordinator}]
  leader:
    name: alpha-lead
    model: lead-model
    heartbeat: {enabled: true, every: 1h}
  workers:
    - name: alpha-dev
      workerName: dev-bot
      model: dev-model
      skills: [coding]
      env:
        API_TOKEN: !secret alpha-token
        GREETING: hello
    - name: alpha-qa
      model: qa-model
      state: Sleeping
---
apiVersion: hiclaw.io/v1beta1
kind: Team
metadata:
  name: beta
spec:
  leader: {name: beta-lead, model: beta-model}
";

    /// A standalone Worker, the Manager and a DebugWorker on team alpha.
    pub const OTHERS: &str = "\
apiVersion: hiclaw.io/v1beta1
kind: Worker
metadata:
  name: solo
spec:
  model: solo-model
  runtime: hermes
  expose: [{port: 9000, protocol: grpc}, {port: 8080}]
  labels: {tier: gold, zone: eu}
---
apiVersion: hiclaw.io/v1beta1
kind: Manager
metadata:
  name: default
spec:
  model: manager-model
---
apiVersion: hiclaw.io/v1beta1
kind: DebugWorker
metadata:
  name: alpha-debug
spec:
  target: {type: team, name: alpha}
";

    /// A Pilot setup with three roles in a chain.
    pub const PILOT: &str = "\
apiVersion: clawops.dev/v1alpha1
kind: PilotSetup
metadata:
  name: relay
spec:
  prefix: acme
  roles:
    - role: source
      roleName: Source
      skills: {pilot-sync: s, pilot-share: s, pilot-health: s}
      agent: {model: pilot-model}
    - role: hub
      roleName: Hub
      hostname: acme-central
      skills: {pilot-sync: h, pilot-share: h, pilot-health: h}
      agent: {model: pilot-model}
    - role: sink
      roleName: Sink
      skills: {pilot-sync: k, pilot-share: k, pilot-health: k}
      agent: {model: pilot-model, containerManaged: false}
  flows:
    - {from: source, to: hub, port: 1001, topic: data}
    - {from: hub, to: sink, port: 1002, topic: events}
";

    /// The whole test fleet, file by file.
    pub fn fleet_files() -> Vec<(String, String)> {
        [
            ("humans.yaml", HUMANS),
            ("others.yaml", OTHERS),
            ("pilot.yaml", PILOT),
            ("teams.yaml", TEAMS),
        ]
        .iter()
        .map(|(path, text)| ((*path).to_owned(), (*text).to_owned()))
        .collect()
    }

    /// Loads and validates files; panics with the diagnostics when they are invalid.
    pub fn spec_of(files: &[(String, String)]) -> Spec {
        let mut files: Vec<SourceFile> = files
            .iter()
            .map(|(path, text)| SourceFile {
                path: path.clone(),
                blob: String::new(),
                text: text.clone(),
            })
            .collect();
        files.sort_by(|left, right| left.path.cmp(&right.path));
        let snapshot = Snapshot {
            origin: "test".to_owned(),
            revision: None,
            subfolder: String::new(),
            root_name: "fleet".to_owned(),
            files,
            rejected: Vec::new(),
        };
        let checked = spec::check(&snapshot);
        assert!(checked.is_valid(), "{:#?}", checked.diagnostics);
        checked.spec
    }

    /// Resolves files.
    pub fn desired_of(files: &[(String, String)]) -> Desired {
        resolve(&spec_of(files))
    }

    /// The test fleet with one file's text changed by `edit`.
    pub fn edited(path: &str, edit: impl Fn(&str) -> String) -> Vec<(String, String)> {
        let mut files = fleet_files();
        let mut found = false;
        for (file, text) in &mut files {
            if file == path {
                *text = edit(text);
                found = true;
            }
        }
        if !found {
            files.push((path.to_owned(), edit("")));
        }
        files
    }
}
