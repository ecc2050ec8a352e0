//! The field types every agent kind shares (runtime, state, skills, MCP servers, exposed
//! ports, channel policy, access entries, resources), with HiClaw's own names.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::spec::located::Located;

/// The agent runtime a container runs.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    /// OpenClaw (HiClaw's default).
    Openclaw,
    /// CoPaw (the runtime upstream team leaders always use).
    Copaw,
    /// Hermes.
    Hermes,
}

impl Runtime {
    /// The runtime's name as written in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Openclaw => "openclaw",
            Runtime::Copaw => "copaw",
            Runtime::Hermes => "hermes",
        }
    }
}

/// The state an agent should be in.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Deserialize,
    Serialize,
    JsonSchema,
)]
pub enum AgentState {
    /// Running (the default).
    #[default]
    Running,
    /// Container kept, but stopped.
    Sleeping,
    /// Container removed; the workspace is kept.
    Stopped,
}

impl AgentState {
    /// The state's name as written in git and recorded by the backends: `Running`,
    /// `Sleeping` or `Stopped`.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentState::Running => "Running",
            AgentState::Sleeping => "Sleeping",
            AgentState::Stopped => "Stopped",
        }
    }

    /// The state named `name` (as [`AgentState::as_str`] writes it); `None` for any other
    /// text.
    pub fn from_name(name: &str) -> Option<AgentState> {
        [
            AgentState::Running,
            AgentState::Sleeping,
            AgentState::Stopped,
        ]
        .into_iter()
        .find(|state| state.as_str() == name)
    }
}

/// A remote skill repository (`nacos://host/namespace`) and the skills taken from it.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemoteSkillSource {
    /// `nacos://<host>/<namespace>`.
    pub source: Located<String>,
    /// How to authenticate against the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_type: Option<String>,
    /// The skills to install from this source.
    #[serde(default)]
    pub skills: Vec<RemoteSkill>,
}

/// One skill from a remote source; `version` and `label` are mutually exclusive.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoteSkill {
    /// Skill name.
    pub name: Located<String>,
    /// Exact version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Label (e.g. `latest`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// Transport of an MCP server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum McpTransport {
    /// Streamable HTTP (default).
    #[default]
    Http,
    /// Server-sent events.
    Sse,
}

/// An MCP server the agent may call.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct McpServer {
    /// Server name.
    pub name: String,
    /// Server URL.
    pub url: String,
    /// `http` (default) or `sse`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<McpTransport>,
}

/// Protocol of an exposed port.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Deserialize,
    Serialize,
    JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ExposeProtocol {
    /// HTTP (default).
    #[default]
    Http,
    /// gRPC.
    Grpc,
}

/// A port the agent serves.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExposePort {
    /// Container port, 1–65535.
    pub port: Located<i64>,
    /// `http` (default) or `grpc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<ExposeProtocol>,
}

/// Extra allow and deny lists on top of the channel rules derived from team membership.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChannelPolicy {
    /// Extra users allowed in group rooms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_allow_extra: Vec<String>,
    /// Users denied in group rooms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_deny_extra: Vec<String>,
    /// Extra users allowed to send direct messages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dm_allow_extra: Vec<String>,
    /// Users denied direct messages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dm_deny_extra: Vec<String>,
}

/// A platform service an agent may reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AccessService {
    /// Object storage (workspaces, shared files).
    ObjectStorage,
    /// The AI gateway (model calls).
    AiGateway,
    /// The AI registry (skills, MCP servers).
    AiRegistry,
}

/// What an access entry lets an agent do with its service (upstream's enum).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AccessPermission {
    /// Read objects or call read endpoints.
    Read,
    /// Write objects.
    Write,
    /// List objects.
    List,
    /// Delete objects.
    Delete,
}

/// Access to one platform service.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessEntry {
    /// Which service.
    pub service: AccessService,
    /// Permissions granted, from upstream's closed set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<AccessPermission>,
    /// Scope of the grant, kept as written: upstream leaves it schema-less (object storage
    /// reads `bucket`/`bucketRef` and `prefixes`, the AI gateway `gatewayId`/`gatewayRef`
    /// and `resources`) and the controller expands `${self.name}` and friends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A CPU or memory amount as Kubernetes writes it (`500m`, `2`, `256Mi`, `1Gi`); a YAML
/// number is read as its text.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct Quantity(pub String);

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = Quantity;
            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str("an amount such as `500m`, `2` or `256Mi`")
            }
            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Quantity, E> {
                Ok(Quantity(value.to_owned()))
            }
            fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Quantity, E> {
                Ok(Quantity(value.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<Quantity, E> {
                Ok(Quantity(value.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Quantity, E> {
                Ok(Quantity(value.to_string()))
            }
        }
        deserializer.deserialize_any(Text)
    }
}

/// CPU and memory amounts.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceAmounts {
    /// CPU: cores (`2`, `0.5`) or millicores (`500m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Located<Quantity>>,
    /// Memory: bytes with a unit (`256Mi`, `2Gi`, `512M`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Located<Quantity>>,
}

/// What an agent's container may use. Kubernetes: the container's requests and limits
/// (default `[kubernetes.resources]`); Docker: the limits, and the memory request as a
/// soft reservation.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// What the agent is guaranteed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<ResourceAmounts>,
    /// The most it may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<ResourceAmounts>,
}
