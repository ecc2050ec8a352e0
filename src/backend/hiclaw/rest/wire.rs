//! What goes over the wire: request bodies, the lenient reading of the controller's
//! entries (every field optional, unknown ones ignored), and the errors an answer turns
//! into.

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::backend::BackendError;
use crate::backend::error::transient_io;
use crate::backend::hiclaw::model::{LiveObject, MemberStatus, ObjectId};
use crate::desired::hiclaw::SpecFields;
use crate::spec::hiclaw::AgentState;

/// The most of a server's error message kept in an error.
const MESSAGE_CHARS: usize = 300;
/// A Human's fields as its REST entry shows them (what decides whether it changed).
const HUMAN_FIELDS: [&str; 7] = [
    "displayName",
    "username",
    "email",
    "permissionLevel",
    "accessibleTeams",
    "accessibleWorkers",
    "note",
];

/// An error status, with what it means and the server's message.
#[derive(Debug, thiserror::Error)]
#[error("HTTP {status}: {message}")]
pub(super) struct StatusError {
    pub(super) status: u16,
    pub(super) message: String,
}

/// A worker, manager or team-member entry, as far as clawops reads it.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct AgentEntry {
    #[serde(deserialize_with = "text")]
    name: Option<String>,
    #[serde(deserialize_with = "text")]
    phase: Option<String>,
    #[serde(deserialize_with = "text")]
    state: Option<String>,
    #[serde(deserialize_with = "text")]
    image: Option<String>,
    #[serde(deserialize_with = "text")]
    container_state: Option<String>,
    #[serde(deserialize_with = "text")]
    message: Option<String>,
    #[serde(deserialize_with = "text")]
    pub(super) team: Option<String>,
}

/// An entry with its name (entries without one are skipped).
pub(super) struct NamedAgent {
    pub(super) name: String,
    pub(super) entry: AgentEntry,
}

impl AgentEntry {
    /// The entry `value` holds, if it is one with a name.
    pub(super) fn parse(value: Value) -> Option<NamedAgent> {
        let mut entry: AgentEntry = serde_json::from_value(value)
            .inspect_err(|error| tracing::debug!(%error, "skipping an unreadable entry"))
            .ok()?;
        let name = entry.name.take()?;
        Some(NamedAgent { name, entry })
    }
}

impl NamedAgent {
    /// The agent's status as its entry reports it (ready: phase `Running`).
    pub(super) fn member_status(&self) -> MemberStatus {
        let entry = &self.entry;
        MemberStatus {
            name: self.name.clone(),
            state: entry.state.as_deref().and_then(AgentState::from_name),
            phase: entry.phase.clone(),
            ready: entry.phase.as_deref() == Some("Running"),
            spec_hash: None,
            generations: None,
            container_state: entry.container_state.clone(),
            image: entry.image.clone(),
            message: entry.message.clone(),
        }
    }
}

/// A field read leniently: a non-empty string, or nothing (any other value included).
pub(super) fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::String(text) if !text.is_empty() => Some(text),
        _ => None,
    })
}

/// An entry's `name`, when it is a non-empty string.
pub(super) fn entry_name(entry: &Value) -> Option<&str> {
    entry
        .get("name")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
}

/// A list answer's entries: `items` of `{"items": […], "total": n}`, or a bare array.
pub(super) fn items(answer: Value) -> Vec<Value> {
    match answer {
        Value::Array(items) => items,
        Value::Object(mut fields) => match fields.remove("items") {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

pub(super) fn agents_object(agents: Vec<MemberStatus>) -> LiveObject {
    LiveObject {
        spec: None,
        applied: None,
        agents,
    }
}

/// The request body: `name`, then the spec's fields.
pub(super) fn body_of(id: &ObjectId, spec: &SpecFields) -> Value {
    let mut body = Map::new();
    body.insert("name".to_owned(), Value::String(id.name.clone()));
    for (key, value) in spec.iter().filter(|(key, _)| key.as_str() != "name") {
        body.insert(key.clone(), value.clone());
    }
    Value::Object(body)
}

/// Whether the live Human `entry` differs from `spec` in a field its entry shows (a
/// missing, null, empty text or empty list value counting as unset).
pub(super) fn human_differs(entry: &Value, spec: &SpecFields) -> bool {
    HUMAN_FIELDS
        .iter()
        .any(|field| set_value(entry.get(field)) != set_value(spec.get(*field)))
}

/// `value` unless it counts as unset (missing, null, empty text, empty list).
pub(super) fn set_value(value: Option<&Value>) -> Option<&Value> {
    value.filter(|value| match value {
        Value::Null => false,
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => !items.is_empty(),
        _ => true,
    })
}

/// The JSON of an answer.
pub(super) fn decode(
    operation: &'static str,
    agent: &str,
    bytes: &[u8],
) -> Result<Value, BackendError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(bytes).map_err(|error| BackendError::Request {
        operation,
        agent: agent.to_owned(),
        transient: false,
        source: Box::new(error),
    })
}

/// The message of an error answer: its JSON `error` or `message`, else its text,
/// shortened.
pub(super) fn server_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let message = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|value| {
            ["error", "message"]
                .iter()
                .find_map(|key| value.get(key).and_then(Value::as_str).map(str::to_owned))
        })
        .unwrap_or_else(|| text.trim().to_owned());
    match message.char_indices().nth(MESSAGE_CHARS) {
        Some((end, _)) => format!("{}…", &message[..end]),
        None => message,
    }
}

pub(super) fn not_found(operation: &'static str, id: &ObjectId, transient: bool) -> BackendError {
    BackendError::Request {
        operation,
        agent: id.to_string(),
        transient,
        source: Box::new(StatusError {
            status: 404,
            message: "not found".to_owned(),
        }),
    }
}

/// Whether a request that got no answer may succeed again: a timeout, a lost connection.
pub(super) fn transient_send(error: &reqwest::Error) -> bool {
    if error.is_timeout() || error.is_connect() {
        return true;
    }
    let mut cause = std::error::Error::source(error);
    while let Some(error) = cause {
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            return transient_io(io);
        }
        cause = error.source();
    }
    error.is_request() || error.is_body()
}
