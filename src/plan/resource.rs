//! The typed names a step carries: the [`Resource`] it works on, the [`RolloutGroup`] it
//! belongs to, and the [`HealthGate`] a `wait_healthy` step runs. Each is written in the
//! JSON plan as the plain string (or object) `clawops.plan/v1` has always had.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::spec::hiclaw::FailurePolicy;

/// What a step works on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    /// An agent, by its resource name (`hiclaw-worker-alpha-dev`).
    Agent(String),
    /// A team's access rules, by the team's name (written `team/<name>`).
    Team(String),
    /// A Human, by name (written `human/<name>`).
    Human(String),
}

/// How a team's access rules are written in plans and logs.
const TEAM_PREFIX: &str = "team/";
/// How a Human is written in plans and logs.
const HUMAN_PREFIX: &str = "human/";

impl Resource {
    /// An agent resource.
    pub fn agent(name: &str) -> Self {
        Resource::Agent(name.to_owned())
    }

    /// The agent's resource name, when this is an agent.
    pub fn agent_name(&self) -> Option<&str> {
        match self {
            Resource::Agent(name) => Some(name),
            Resource::Team(_) | Resource::Human(_) => None,
        }
    }

    /// The team's name, when this is a team's access rules.
    pub fn team_name(&self) -> Option<&str> {
        match self {
            Resource::Team(name) => Some(name),
            Resource::Agent(_) | Resource::Human(_) => None,
        }
    }

    /// Whether this is the agent named `name`.
    pub fn is_agent(&self, name: &str) -> bool {
        self.agent_name() == Some(name)
    }

    /// Reads the written form back (`team/<name>`, else an agent's name).
    pub fn parse(text: &str) -> Self {
        if let Some(human) = text.strip_prefix(HUMAN_PREFIX) {
            return Resource::Human(human.to_owned());
        }
        match text.strip_prefix(TEAM_PREFIX) {
            Some(team) => Resource::Team(team.to_owned()),
            None => Resource::Agent(text.to_owned()),
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::Agent(name) => formatter.write_str(name),
            Resource::Team(name) => write!(formatter, "{TEAM_PREFIX}{name}"),
            Resource::Human(name) => write!(formatter, "{HUMAN_PREFIX}{name}"),
        }
    }
}

impl Serialize for Resource {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Resource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Resource::parse(&String::deserialize(deserializer)?))
    }
}

/// The rollout group a step belongs to, in the order groups upgrade.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RolloutGroup {
    /// A HiClaw Team, by name.
    Team(String),
    /// Standalone Workers (and humans' agents).
    Standalone,
    /// The agents of one Pilot setup, by the setup's name (written `pilot:<setup>`).
    Pilot(String),
    /// DebugWorkers.
    Debug,
    /// The Manager.
    Manager,
    /// Agents that left git.
    Deletes,
    /// Teams' access rules, last.
    Access,
    /// Humans, first (Teams name them).
    Humans,
}

const STANDALONE: &str = "standalone";
const PILOT_PREFIX: &str = "pilot:";
const DEBUG: &str = "debug";
const MANAGER: &str = "manager";
const DELETES: &str = "deletes";
const ACCESS: &str = "access";
const HUMANS: &str = "humans";

impl RolloutGroup {
    /// The group of a desired group named `name` (`is_team` for a HiClaw Team).
    pub fn of_desired(name: &str, is_team: bool) -> Self {
        if is_team {
            return RolloutGroup::Team(name.to_owned());
        }
        Self::parse(name)
    }

    /// Reads the written form back; a name that is none of the fixed groups is a team.
    pub fn parse(text: &str) -> Self {
        match text {
            STANDALONE => RolloutGroup::Standalone,
            DEBUG => RolloutGroup::Debug,
            MANAGER => RolloutGroup::Manager,
            DELETES => RolloutGroup::Deletes,
            ACCESS => RolloutGroup::Access,
            HUMANS => RolloutGroup::Humans,
            _ => match text.strip_prefix(PILOT_PREFIX) {
                Some(setup) => RolloutGroup::Pilot(setup.to_owned()),
                None => RolloutGroup::Team(text.to_owned()),
            },
        }
    }

    /// Whether the group is one of the two that close a plan (deletes, access).
    pub fn is_last(&self) -> bool {
        matches!(self, RolloutGroup::Deletes | RolloutGroup::Access)
    }
}

impl fmt::Display for RolloutGroup {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RolloutGroup::Team(name) => formatter.write_str(name),
            RolloutGroup::Standalone => formatter.write_str(STANDALONE),
            RolloutGroup::Pilot(setup) => write!(formatter, "{PILOT_PREFIX}{setup}"),
            RolloutGroup::Debug => formatter.write_str(DEBUG),
            RolloutGroup::Manager => formatter.write_str(MANAGER),
            RolloutGroup::Deletes => formatter.write_str(DELETES),
            RolloutGroup::Access => formatter.write_str(ACCESS),
            RolloutGroup::Humans => formatter.write_str(HUMANS),
        }
    }
}

impl Serialize for RolloutGroup {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RolloutGroup {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(RolloutGroup::parse(&String::deserialize(deserializer)?))
    }
}

/// Everything a `wait_healthy` step needs: how long, how often to look, and what a
/// failure does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HealthGate {
    /// Seconds the agent may take to become healthy.
    pub timeout_seconds: u64,
    /// How often the gate looks, in milliseconds (a backend may look less often to spare
    /// its API).
    pub interval_milliseconds: u64,
    /// What a failed gate does: halt, or restore the previous container and halt.
    pub on_failure: FailurePolicy,
    /// The recreate step this gate follows: on success the agent's previous container is
    /// dropped, on failure under `rollback` it is restored. `None` after a create or wake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_and_groups_read_back_as_written() {
        for resource in [
            Resource::agent("hiclaw-worker-a"),
            Resource::Team("alpha".into()),
            Resource::Human("alice".into()),
        ] {
            assert_eq!(Resource::parse(&resource.to_string()), resource);
        }
        assert_eq!(Resource::Team("alpha".into()).to_string(), "team/alpha");
        for group in [
            RolloutGroup::Team("alpha".into()),
            RolloutGroup::Standalone,
            RolloutGroup::Pilot("mesh".into()),
            RolloutGroup::Debug,
            RolloutGroup::Manager,
            RolloutGroup::Deletes,
            RolloutGroup::Access,
            RolloutGroup::Humans,
        ] {
            let json = serde_json::to_string(&group).expect("serializes");
            assert_eq!(
                serde_json::from_str::<RolloutGroup>(&json).expect("reads"),
                group
            );
        }
        assert_eq!(RolloutGroup::Pilot("mesh".into()).to_string(), "pilot:mesh");
        assert_eq!(
            RolloutGroup::of_desired("standalone", true),
            RolloutGroup::Team("standalone".into())
        );
    }
}
