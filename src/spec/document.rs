//! The document envelope (`apiVersion`, `kind`, `metadata`, `spec`) and the kinds clawops
//! knows, with the API group each belongs to.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::located::{Located, Position};

/// API version of the HiClaw kinds.
pub const HICLAW_API_VERSION: &str = "hiclaw.io/v1beta1";
/// API version of clawops' own kinds.
pub const CLAWOPS_API_VERSION: &str = "clawops.dev/v1alpha1";

/// Every kind a document may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A standalone worker agent.
    Worker,
    /// A leader and its workers.
    Team,
    /// A person (no container).
    Human,
    /// The Manager agent.
    Manager,
    /// An agent that reads other agents' workspaces.
    DebugWorker,
    /// The images the fleet runs.
    ImageSet,
    /// A Pilot topology.
    PilotSetup,
}

impl Kind {
    /// Every kind, in the order the reference documents them.
    pub const ALL: [Kind; 7] = [
        Kind::Worker,
        Kind::Team,
        Kind::Human,
        Kind::Manager,
        Kind::DebugWorker,
        Kind::ImageSet,
        Kind::PilotSetup,
    ];

    /// The kind as written in `kind:`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Worker => "Worker",
            Kind::Team => "Team",
            Kind::Human => "Human",
            Kind::Manager => "Manager",
            Kind::DebugWorker => "DebugWorker",
            Kind::ImageSet => "ImageSet",
            Kind::PilotSetup => "PilotSetup",
        }
    }

    /// The `apiVersion` the kind belongs to.
    pub fn api_version(self) -> &'static str {
        match self {
            Kind::ImageSet | Kind::PilotSetup => CLAWOPS_API_VERSION,
            _ => HICLAW_API_VERSION,
        }
    }

    /// The kind named `name`, if any.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// `metadata` of a document.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// The resource name.
    pub name: Located<String>,
    /// Kubernetes namespace (accepted for HiClaw compatibility; clawops uses its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Labels (kept as metadata; agent labels go in `spec.labels`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A whole document of one kind: the envelope around its spec.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resource<S> {
    /// `hiclaw.io/v1beta1` or `clawops.dev/v1alpha1`.
    pub api_version: Located<String>,
    /// The kind.
    pub kind: Located<String>,
    /// Name and labels.
    pub metadata: Metadata,
    /// The desired state.
    pub spec: S,
    /// Status written by a controller; accepted so exported HiClaw files load, and ignored.
    #[serde(default, skip_serializing)]
    #[schemars(skip)]
    pub status: Option<serde::de::IgnoredAny>,
}

/// A resource together with the file and line it was read from.
#[derive(Clone, Debug, PartialEq)]
pub struct Sourced<S> {
    /// Repository-relative path of the file.
    pub file: String,
    /// Where the document starts.
    pub position: Position,
    /// The document.
    pub resource: Resource<S>,
}

impl<S> Sourced<S> {
    /// `metadata.name`.
    pub fn name(&self) -> &str {
        &self.resource.metadata.name.value
    }

    /// The position of `metadata.name`.
    pub fn name_position(&self) -> Position {
        self.resource.metadata.name.position
    }

    /// The spec.
    pub fn spec(&self) -> &S {
        &self.resource.spec
    }
}
