//! Observe stage: what a backend reports about the fleet, read **once** into an
//! [`Observed`] value the planner compares with the desired state.
//!
//! Offline plans use the same type: `--empty` observes nothing, `--base REV` observes the
//! desired state of another revision as if it had been applied exactly.

use serde::{Deserialize, Serialize};

use crate::desired::{Agent, Desired};
use crate::source::Revision;
use crate::spec::hiclaw::AgentState;

/// What a container (or pod) is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObservedStatus {
    /// Running.
    Running,
    /// Exists but stopped.
    Stopped,
    /// The container is gone but the agent's workspace is still there (removed by hand,
    /// or removed on purpose for a `Stopped` agent).
    Missing,
}

/// The health a backend reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Healthy (or running without a health check).
    Healthy,
    /// Failing its health check.
    Unhealthy,
    /// Health check not decided yet.
    Starting,
    /// Not known (stopped, missing, or not reported).
    Unknown,
}

/// One agent as the backend reports it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObservedAgent {
    /// Resource name.
    pub name: String,
    /// Running, stopped or missing.
    pub status: ObservedStatus,
    /// Reported health.
    pub health: Health,
    /// The image it actually runs.
    pub image: String,
    /// Runtime hash clawops recorded when it last applied the agent.
    pub runtime_hash: String,
    /// Config hash clawops recorded when it last applied the agent.
    pub config_hash: String,
    /// Commit it was last applied from.
    pub commit: Option<String>,
    /// The state clawops last applied (to tell "stopped by hand" from "put to sleep").
    pub applied_state: Option<AgentState>,
    /// The full record clawops last applied, when the backend keeps it: lets the plan
    /// name every changed field and diff every changed file.
    pub last_applied: Option<Agent>,
    /// Fields of the agent's objects edited outside clawops, when the backend can tell
    /// (Kubernetes, by a server-side dry run); re-applying the agent restores them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edited: Vec<String>,
    /// The state the fleet itself put the agent in at run time, when it differs from the
    /// one clawops applied (HiClaw: a leader, the Manager or auto-sleep put it to sleep or
    /// woke it). Reported by `status`; never planned as drift.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_state: Option<AgentState>,
    /// Pilot roles: the bootstrap clawops last completed (trust confirmed), when the
    /// backend records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pilot: Option<PilotRecord>,
}

/// A Pilot bootstrap clawops completed: its hash, and the skills it installed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PilotRecord {
    /// [`crate::desired::PilotBootstrap::hash`] of what was run.
    pub hash: String,
    /// The skills it installed (uninstalled again only when git drops them).
    pub skills: Vec<String>,
}

impl PilotRecord {
    /// The record of completing `bootstrap`.
    pub fn of(bootstrap: &crate::desired::PilotBootstrap) -> Self {
        Self {
            hash: bootstrap.hash(),
            skills: bootstrap.skills.clone(),
        }
    }
}

impl ObservedAgent {
    /// What a backend reports right after applying `agent` exactly, from `commit`.
    pub fn applied_exactly(agent: &Agent, commit: Option<String>) -> Self {
        Self {
            name: agent.name.clone(),
            status: if agent.state == AgentState::Running {
                ObservedStatus::Running
            } else {
                ObservedStatus::Stopped
            },
            health: Health::Healthy,
            image: agent.image.clone(),
            runtime_hash: agent.runtime_hash.clone(),
            config_hash: agent.config_hash.clone(),
            commit,
            applied_state: Some(agent.state),
            last_applied: Some(agent.clone()),
            edited: Vec::new(),
            runtime_state: None,
            pilot: agent
                .pilot
                .as_ref()
                .filter(|pilot| pilot.run_by_clawops)
                .map(PilotRecord::of),
        }
    }
}

/// A team's access rules as the backend reports them (Kubernetes: its NetworkPolicy, and
/// the admin's Role and RoleBinding).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedTeam {
    /// The team's name.
    pub name: String,
    /// The admin the rules grant access to, if any.
    pub admin: Option<String>,
    /// The agents the admin's rules name, sorted.
    pub agents: Vec<String>,
    /// The rules name exactly the team's pods as they are now (always true without an
    /// admin: there is nothing to name).
    pub pods_named: bool,
    /// The `hiclaw` target: the Team object's own fields as the controller has them
    /// (everything but its members); its steps compare these instead of access rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<crate::desired::hiclaw::SpecFields>,
}

/// A Human as the backend reports it (the `hiclaw` target).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedHuman {
    /// `metadata.name`.
    pub name: String,
    /// Its spec as the controller has it (`None` when only its name is known).
    pub spec: Option<crate::desired::hiclaw::SpecFields>,
}

/// What the plan was computed against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ObservedSource {
    /// An empty fleet (what a first apply would do).
    Empty,
    /// The desired state of another revision, as if applied.
    Revision {
        /// That revision.
        revision: Option<Revision>,
    },
    /// A live backend.
    Backend {
        /// e.g. `docker unix:///var/run/docker.sock`.
        description: String,
    },
}

/// Everything observed, read once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Observed {
    /// What was observed.
    pub source: ObservedSource,
    /// Every agent of this fleet, sorted by name.
    pub agents: Vec<ObservedAgent>,
    /// Agents an interrupted apply left unsettled (a recreate cut short: the old container
    /// still set aside), sorted; the next apply settles them before anything else.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interrupted: Vec<String>,
    /// Every team's access rules, when the backend realizes them (Kubernetes); `None`
    /// when it does not (Docker, offline plans), and no access step is planned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teams: Option<Vec<ObservedTeam>>,
    /// Every Human clawops applied, when the backend realizes Humans (the `hiclaw`
    /// target); `None` when it does not, and no Human step is planned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub humans: Option<Vec<ObservedHuman>>,
}

impl Observed {
    /// An empty fleet.
    pub fn empty() -> Self {
        Self {
            source: ObservedSource::Empty,
            agents: Vec::new(),
            interrupted: Vec::new(),
            teams: None,
            humans: None,
        }
    }

    /// An empty fleet on the target `desired` is for: one that realizes Teams' settings
    /// and Humans (the `hiclaw` target) has none of either yet.
    pub fn empty_for(desired: &Desired) -> Self {
        let mut observed = Self::empty();
        if desired.hiclaw.is_some() {
            observed.teams = Some(Vec::new());
            observed.humans = Some(Vec::new());
        }
        observed
    }

    /// Another revision's desired state as if it had been applied exactly: running agents
    /// run, sleeping ones are stopped, stopped ones have no container (and are not listed,
    /// as the base's workspace is not known to exist).
    pub fn from_desired(base: &Desired) -> Self {
        let commit = base
            .revision
            .as_ref()
            .map(|revision| revision.commit.clone());
        let agents = base
            .agents
            .iter()
            .filter(|agent| agent.container_managed && agent.state != AgentState::Stopped)
            .map(|agent| ObservedAgent::applied_exactly(agent, commit.clone()))
            .collect();
        let hiclaw = base.hiclaw.as_ref();
        Self {
            source: ObservedSource::Revision {
                revision: base.revision.clone(),
            },
            agents,
            interrupted: Vec::new(),
            teams: hiclaw.map(|fleet| {
                fleet
                    .teams
                    .iter()
                    .map(|team| ObservedTeam {
                        name: team.name.clone(),
                        admin: None,
                        agents: Vec::new(),
                        pods_named: true,
                        settings: Some(team.settings.clone()),
                    })
                    .collect()
            }),
            humans: hiclaw.map(|fleet| {
                fleet
                    .humans
                    .iter()
                    .map(|human| ObservedHuman {
                        name: human.name.clone(),
                        spec: Some(human.spec.clone()),
                    })
                    .collect()
            }),
        }
    }

    /// The agent with this resource name.
    pub fn agent(&self, name: &str) -> Option<&ObservedAgent> {
        self.agents
            .binary_search_by(|agent| agent.name.as_str().cmp(name))
            .ok()
            .map(|index| &self.agents[index])
    }

    /// A stable fingerprint of everything observed; a saved plan refuses to apply when it
    /// changed.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        for agent in &self.agents {
            let status = serde_json::to_string(&agent.status).unwrap_or_default();
            for part in [
                agent.name.as_str(),
                status.as_str(),
                &agent.image,
                &agent.runtime_hash,
                &agent.config_hash,
            ] {
                hasher.update(part.as_bytes());
                hasher.update([0]);
            }
            for field in &agent.edited {
                hasher.update(field.as_bytes());
                hasher.update([0]);
            }
        }
        if let Some(teams) = &self.teams {
            hasher.update(serde_json::to_string(teams).unwrap_or_default().as_bytes());
        }
        if let Some(humans) = &self.humans {
            hasher.update(serde_json::to_string(humans).unwrap_or_default().as_bytes());
        }
        hex::encode(hasher.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_moves_with_hand_edits_and_team_access_rules() {
        let desired =
            crate::desired::test_support::desired_of(&crate::desired::test_support::fleet_files());
        let observed = Observed::from_desired(&desired);
        let mut edited = observed.clone();
        edited.agents[0].edited = vec!["spec.replicas".to_owned()];
        let mut with_teams = observed.clone();
        with_teams.teams = Some(Vec::new());
        assert_ne!(observed.fingerprint(), edited.fingerprint());
        assert_ne!(observed.fingerprint(), with_teams.fingerprint());
        assert_eq!(observed.fingerprint(), observed.clone().fingerprint());
    }
}
