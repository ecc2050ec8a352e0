//! The `clawops.dev/v1alpha1` kinds: ImageSet (the images a fleet runs, as desired state)
//! and PilotSetup (a Pilot network topology whose roles run as agents).

use std::fmt;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::hiclaw::WorkerSpec;
use super::located::Located;

/// When a backend pulls an image.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
pub enum PullPolicy {
    /// Pull only when the image is not present (default).
    #[default]
    IfNotPresent,
    /// Pull on every create.
    Always,
    /// Never pull; the image must be present.
    Never,
}

impl PullPolicy {
    /// The policy as written in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            PullPolicy::IfNotPresent => "IfNotPresent",
            PullPolicy::Always => "Always",
            PullPolicy::Never => "Never",
        }
    }
}

/// Image per agent runtime.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuntimeImages {
    /// Image for `openclaw` agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openclaw: Option<Located<String>>,
    /// Image for `copaw` agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copaw: Option<Located<String>>,
    /// Image for `hermes` agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hermes: Option<Located<String>>,
}

/// The images the fleet runs. At most one per repository.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageSetSpec {
    /// Default image per runtime.
    #[serde(default)]
    pub runtimes: RuntimeImages,
    /// The Manager's image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<Located<String>>,
    /// The DebugWorkers' image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debug: Option<Located<String>>,
    /// `IfNotPresent` (default), `Always` or `Never`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_policy: Option<PullPolicy>,
}

/// One role name or a list of them (`from: origin` or `to: [edge-us, edge-eu]`).
///
/// Items of a list keep their own position; a single name written as a plain scalar has
/// none (0:0), and checks fall back to the position of the whole value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct RoleList(pub Vec<Located<String>>);

impl<'de> Deserialize<'de> for RoleList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RoleListVisitor;

        impl<'de> Visitor<'de> for RoleListVisitor {
            type Value = RoleList;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a role name or a list of role names")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<RoleList, E> {
                Ok(RoleList(vec![Located::unplaced(value.to_owned())]))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut sequence: A) -> Result<RoleList, A::Error> {
                let mut roles = Vec::new();
                while let Some(role) = sequence.next_element::<Located<String>>()? {
                    roles.push(role);
                }
                Ok(RoleList(roles))
            }
        }

        deserializer.deserialize_any(RoleListVisitor)
    }
}

impl JsonSchema for RoleList {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RoleList".into()
    }

    fn json_schema(_generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A role id, or a list of role ids.",
            "oneOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}, "minItems": 1}
            ]
        })
    }
}

/// One role of a Pilot setup; it runs as one agent.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PilotRole {
    /// Role id, e.g. `origin` or `edge-us`.
    pub role: Located<String>,
    /// Human name of the role, e.g. `Content Origin`.
    pub role_name: String,
    /// Pilot hostname; default `<prefix>-<role>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<Located<String>>,
    /// What this agent does in the setup.
    #[serde(default)]
    pub description: String,
    /// How peers describe this role in their manifests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_description: Option<String>,
    /// Skill name → what it does in this role (order kept).
    #[serde(default)]
    pub skills: Located<IndexMap<String, String>>,
    /// The agent that plays the role (Worker fields).
    pub agent: WorkerSpec,
}

/// A data flow between roles (or to the pseudo-peer `external` on port 443).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PilotFlow {
    /// Sending role(s).
    pub from: Located<RoleList>,
    /// Receiving role(s).
    pub to: Located<RoleList>,
    /// Virtual port: 1001 data exchange, 1002 event stream, 443 with `external`.
    pub port: Located<i64>,
    /// Topic, e.g. `content-update`.
    pub topic: String,
    /// What flows.
    #[serde(default)]
    pub description: String,
}

/// A Pilot topology: roles and the flows between them.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PilotSetupSpec {
    /// Hostname prefix, unique in the Pilot registry.
    pub prefix: Located<String>,
    /// Optional human name of the setup (`setup_name` in manifests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup_name: Option<String>,
    /// The roles.
    pub roles: Vec<PilotRole>,
    /// The flows, in order.
    #[serde(default)]
    pub flows: Vec<PilotFlow>,
    /// Whether clawops runs each role's bootstrap in its container after it starts:
    /// `clawhub install` of its skills, `pilotctl set-hostname`, the handshakes, and a gate
    /// on mutual trust with every peer. `false` leaves all of it to the agent (the
    /// manifest is written either way). Default `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Position;
    use crate::spec::yaml::{DocumentText, parse_document};

    fn flow(text: &str) -> PilotFlow {
        let document = DocumentText {
            text,
            line_offset: 0,
        };
        parse_document::<PilotFlow>("flow.yaml", document).expect("flow parses")
    }

    #[test]
    fn role_list_items_keep_their_positions() {
        let parsed = flow("from: origin\nto: [edge-us, edge-eu]\nport: 1001\ntopic: t\n");
        assert_eq!(parsed.from.value.0[0].value, "origin");
        assert_eq!(parsed.from.position, Position::new(1, 7));
        let positions: Vec<Position> = parsed.to.value.0.iter().map(|role| role.position).collect();
        assert_eq!(positions, [Position::new(2, 6), Position::new(2, 15)]);
    }

    #[test]
    fn block_role_lists_keep_their_positions() {
        let parsed = flow("from:\n  - edge-us\n  - edge-eu\nto: origin\nport: 1002\ntopic: t\n");
        let positions: Vec<Position> = parsed
            .from
            .value
            .0
            .iter()
            .map(|role| role.position)
            .collect();
        assert_eq!(positions, [Position::new(2, 5), Position::new(3, 5)]);
    }
}
