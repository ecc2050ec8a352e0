//! Server-side apply's field ownership for HiClaw objects, and the `/status` subresource.
//!
//! Ownership is kept as far as a GitOps client meets it: each field manager's last applied
//! configuration (a field a manager applied before and leaves out now is removed, unless
//! another manager applies it too), and the fields the runtime changed by an update (a
//! leader or the auto-sleep loop setting `state`). An apply that sets such a field to
//! another value conflicts unless forced; forced, the applier takes the field over. Lists
//! are atomic, as in upstream's CRDs (no `x-kubernetes-list-type`): the runtime changing
//! one Team worker's `state` owns the whole `spec.workers`.

use std::collections::BTreeMap;

use http::StatusCode;
use serde_json::{Value, json};

use super::hiclaw_api::ObjectRef;
use super::{Recorded, State, merged, status};

/// The field manager the simulated controller and runtime write with.
pub const RUNTIME_MANAGER: &str = "hiclaw-controller";

/// Who owns what in one object.
#[derive(Clone, Debug, Default)]
pub struct Owners {
    /// Each field manager's last applied configuration.
    applied: BTreeMap<String, Value>,
    /// Fields (JSON pointers) last changed by an update rather than an apply, and by whom.
    updated: BTreeMap<String, String>,
}

impl Owners {
    /// The fields an apply of `body` by `manager` would take from another manager.
    pub fn conflicts(&self, manager: &str, body: &Value, live: &Value) -> Vec<String> {
        self.updated
            .iter()
            .filter(|(_, owner)| owner.as_str() != manager)
            .filter(|(pointer, _)| {
                body.pointer(pointer)
                    .is_some_and(|wanted| live.pointer(pointer) != Some(wanted))
            })
            .map(|(pointer, _)| pointer.clone())
            .collect()
    }

    /// `body` applied by `manager` over `live`: what the manager applied before and leaves
    /// out now is removed, unless someone else owns it.
    pub fn merge(&self, manager: &str, live: &Value, body: &Value) -> Value {
        let mut object = live.clone();
        let mut previous = Vec::new();
        if let Some(config) = self.applied.get(manager) {
            leaves(config, String::new(), &mut previous);
        }
        for pointer in previous.iter().filter(|pointer| prunable(pointer)) {
            let kept = body.pointer(pointer).is_some()
                || self
                    .applied
                    .iter()
                    .any(|(other, config)| other != manager && config.pointer(pointer).is_some())
                || self.updated.keys().any(|owned| overlaps(owned, pointer));
            if !kept {
                remove(&mut object, pointer);
            }
        }
        merged(&object, body)
    }

    /// Records a successful apply: `body` is `manager`'s configuration now; forced, it
    /// takes over the fields it conflicted on.
    pub fn applied(&mut self, manager: &str, body: &Value, taken: &[String]) {
        for pointer in taken {
            self.updated.remove(pointer);
        }
        self.applied.insert(manager.to_owned(), body.clone());
    }

    /// `manager` changed the field at `pointer` by an update.
    pub fn updated(&mut self, pointer: &str, manager: &str) {
        self.updated.insert(pointer.to_owned(), manager.to_owned());
    }
}

/// The conflict message of the API server, for fields given as JSON pointers.
pub fn conflict_message(fields: &[String]) -> String {
    let paths: Vec<String> = fields
        .iter()
        .map(|pointer| {
            pointer
                .split('/')
                .skip(1)
                .map(unescape)
                .collect::<Vec<_>>()
                .join(".")
        })
        .map(|path| format!("conflict with \"{RUNTIME_MANAGER}\": .{path}"))
        .collect();
    let noun = if fields.len() == 1 {
        "conflict"
    } else {
        "conflicts"
    };
    format!(
        "Apply failed with {} {noun}: {}",
        fields.len(),
        paths.join(", ")
    )
}

/// One pointer per leaf (lists and scalars are leaves, as atomic lists are).
fn leaves(value: &Value, pointer: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                leaves(child, format!("{pointer}/{}", escape(key)), out);
            }
        }
        _ => out.push(pointer),
    }
}

/// Fields an applier can give up (not the object's identity).
fn prunable(pointer: &str) -> bool {
    ["/spec/", "/metadata/labels/", "/metadata/annotations/"]
        .iter()
        .any(|root| pointer.starts_with(root))
}

/// Whether one field contains the other.
fn overlaps(a: &str, b: &str) -> bool {
    a == b || b.starts_with(&format!("{a}/")) || a.starts_with(&format!("{b}/"))
}

fn remove(object: &mut Value, pointer: &str) {
    let Some((parent, key)) = pointer.rsplit_once('/') else {
        return;
    };
    if let Some(map) = object.pointer_mut(parent).and_then(Value::as_object_mut) {
        map.remove(&unescape(key));
    }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

impl State {
    /// `GET`, `PUT` or `PATCH` of `<object>/status`: only `.status` changes, the
    /// generation stays.
    pub(super) fn status_subresource(&mut self, request: &Recorded) -> (StatusCode, Value) {
        let path = request.path.trim_end_matches("/status").to_owned();
        let Some(live) = self.objects.get(&path) else {
            return status(StatusCode::NOT_FOUND, "NotFound", "not found");
        };
        let body = request.body.clone().unwrap_or_default();
        let new_status = match request.method.as_str() {
            "GET" => return (StatusCode::OK, live.clone()),
            "PUT" => {
                let wanted = &body["metadata"]["resourceVersion"];
                if !wanted.is_null() && *wanted != live["metadata"]["resourceVersion"] {
                    return status(
                        StatusCode::CONFLICT,
                        "Conflict",
                        "the object has been modified",
                    );
                }
                body.get("status").cloned().unwrap_or_else(|| json!({}))
            }
            "PATCH" => {
                let patch = body.get("status").cloned().unwrap_or_else(|| json!({}));
                let current = live.get("status").cloned().unwrap_or_else(|| json!({}));
                without_nulls(merged(&current, &patch))
            }
            _ => {
                return status(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "MethodNotAllowed",
                    "unexpected",
                );
            }
        };
        let mut object = live.clone();
        object["status"] = new_status;
        self.version += 1;
        object["metadata"]["resourceVersion"] = json!(self.version.to_string());
        if request.query.get("dryRun").map(String::as_str) != Some("All") {
            self.objects.insert(path, object.clone());
        }
        (StatusCode::OK, object)
    }

    /// For a HiClaw object: the conflicts of an apply, or what to apply over `live`.
    pub(super) fn hiclaw_apply(
        &self,
        request: &Recorded,
        live: Option<&Value>,
        body: &Value,
    ) -> Result<(Value, Vec<String>), (StatusCode, Value)> {
        let manager = field_manager(request);
        let forced = request.query.get("force").map(String::as_str) == Some("true");
        let owners = self.hiclaw.owners(&request.path);
        let Some(live) = live else {
            return Ok((body.clone(), Vec::new()));
        };
        let conflicts = owners
            .map(|owners| owners.conflicts(manager, body, live))
            .unwrap_or_default();
        if !conflicts.is_empty() && !forced {
            return Err(status(
                StatusCode::CONFLICT,
                "Conflict",
                &conflict_message(&conflicts),
            ));
        }
        let object = match owners {
            Some(owners) => owners.merge(manager, live, body),
            None => merged(live, body),
        };
        Ok((object, conflicts))
    }
}

/// The `fieldManager` of a request (`unknown` as the API server says when none is given).
pub fn field_manager(request: &Recorded) -> &str {
    request
        .query
        .get("fieldManager")
        .map_or("unknown", String::as_str)
}

/// Whether `path` names a HiClaw object (whose status is the controller's).
pub fn is_hiclaw(path: &str) -> bool {
    ObjectRef::parse(path).is_some()
}

/// A merge patch's `null`s remove keys.
fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, value)| !value.is_null())
                .map(|(key, value)| (key, without_nulls(value)))
                .collect(),
        ),
        other => other,
    }
}
