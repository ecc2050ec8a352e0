//! The plain data the HiClaw target's core and its transports exchange: which object
//! ([`ObjectId`]), what is live ([`LiveObject`], [`MemberStatus`]), and what clawops
//! applied ([`Applied`], [`Record`]).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::desired::hiclaw::SpecFields;
use crate::spec::hiclaw::AgentState;

/// The four kinds a HiClaw controller reconciles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    /// A Human (no container).
    Human,
    /// A Team: its leader and workers inline.
    Team,
    /// A standalone Worker.
    Worker,
    /// The Manager.
    Manager,
}

impl Kind {
    /// Every kind, Humans first (Teams name them).
    pub const ALL: [Kind; 4] = [Kind::Human, Kind::Team, Kind::Worker, Kind::Manager];

    /// `Worker`, `Team`…
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Human => "Human",
            Kind::Team => "Team",
            Kind::Worker => "Worker",
            Kind::Manager => "Manager",
        }
    }

    /// The plural of the REST routes and the API paths: `workers`, `teams`…
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Human => "humans",
            Kind::Team => "teams",
            Kind::Worker => "workers",
            Kind::Manager => "managers",
        }
    }

    /// The kind named `name` (as [`Kind::as_str`] writes it).
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// One object: its kind and `metadata.name`; written `Kind/name`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct ObjectId {
    /// The kind.
    pub kind: Kind,
    /// `metadata.name`.
    pub name: String,
}

impl ObjectId {
    /// `kind/name`.
    pub fn new(kind: Kind, name: &str) -> Self {
        Self {
            kind,
            name: name.to_owned(),
        }
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}/{}", self.kind.as_str(), self.name)
    }
}

impl From<ObjectId> for String {
    fn from(id: ObjectId) -> String {
        id.to_string()
    }
}

impl TryFrom<String> for ObjectId {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let (kind, name) = text.split_once('/').unwrap_or_default();
        let kind = Kind::from_name(kind).ok_or_else(|| format!("not a HiClaw object: {text}"))?;
        Ok(ObjectId::new(kind, name))
    }
}

/// What clawops applied to one object: the commit, and per agent in it (the object's own
/// name for a Worker or Manager, each member's for a Team) the state it wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// The commit it was applied from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Member (or object) name → the state clawops last wrote.
    #[serde(default)]
    pub states: BTreeMap<String, AgentState>,
    /// The whole spec as written, where the transport cannot read it back (REST).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<SpecFields>,
}

/// Everything clawops applied through one controller for one fleet: the inventory (only
/// objects listed here are ever deleted) with what was written to each.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Object → what was applied to it.
    pub objects: BTreeMap<ObjectId, Applied>,
}

/// How one agent is doing, as the controller reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberStatus {
    /// Member (or object) name.
    pub name: String,
    /// `state` of its live spec (a leader, the Manager or auto-sleep may have changed it).
    pub state: Option<AgentState>,
    /// `status.phase` (Worker, Manager; a team member through REST).
    pub phase: Option<String>,
    /// Ready on its current spec: a Team member's `ready`; a Worker's or Manager's phase
    /// Running with `observedGeneration` caught up.
    pub ready: bool,
    /// A Team member's `specHash` (Kubernetes only).
    pub spec_hash: Option<String>,
    /// `observedGeneration` and `metadata.generation` of a Worker or Manager.
    pub generations: Option<(i64, i64)>,
    /// The container's state (`running`, `stopped`…), where reported.
    pub container_state: Option<String>,
    /// The image reported.
    pub image: Option<String>,
    /// The controller's message, if any.
    pub message: Option<String>,
}

/// One live object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveObject {
    /// Its spec, when the transport can read it (Kubernetes).
    pub spec: Option<SpecFields>,
    /// What clawops recorded on it (Kubernetes: an annotation).
    pub applied: Option<Applied>,
    /// Each agent in it: the object itself for a Worker or Manager, every member of a
    /// Team; none for a Human.
    pub agents: Vec<MemberStatus>,
}
