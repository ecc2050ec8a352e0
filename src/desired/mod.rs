//! Desired stage: one fully resolved record per agent that must exist, built from a valid
//! [`Spec`](crate::spec::Spec).
//!
//! A record holds everything a backend needs (resource name, role, team, runtime, image,
//! state, env, labels, ports, workspace files) and two hashes: the **runtime hash** over
//! what needs a new container, and the **config hash** over the workspace files, which are
//! hot-pushed into a running agent without a restart. Hashes are stable across runs and
//! across field order in YAML.

mod agent;

pub use agent::{
    Agent, AgentPort, AgentRole, EnvVar, Group, ImageSource, RolloutSettings, Workspace,
    is_sensitive_key,
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
