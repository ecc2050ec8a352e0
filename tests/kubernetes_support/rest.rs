//! The embedded HiClaw controller's REST API, served over HTTP by [`FakeApi::serve_rest`]
//! on the fake API server's store (namespace `hiclaw`): what it writes is what the
//! Kubernetes side reads, labelled `hiclaw.io/controller=<controller>`, and it sees only
//! objects with that label. Every route but `GET /healthz` wants
//! `Authorization: Bearer <token>` (else 401).
//!
//! Routes: `POST /api/v1/<kind>s` (body: `name` plus the spec fields; 201, 409 if it
//! exists), `GET /api/v1/<kind>s`, `GET|PUT|DELETE /api/v1/<kind>s/<name>` (PUT replaces
//! the spec by the body's fields; humans have no PUT: 405), `GET /api/v1/workers?team=<t>`
//! (the team's members, leader first), `POST /api/v1/workers/<name>/{wake,sleep,ensure-ready}`
//! and `GET /api/v1/workers/<name>/status` (a Worker, else a Team member of that name),
//! `GET /api/v1/status`, `GET /api/v1/version`, `GET /healthz`. As upstream, it drops
//! `env`, `labels`, `accessEntries`, `remoteSkills` of a Worker or Team worker and
//! `remoteSkills`, `env`, `labels` of a Team leader.
//!
//! JSON shapes:
//! - error (401, 404, 405, 400, 409): `{"error": "<message>"}`
//! - list: `{"items": [<entry>…], "total": <n>}`
//! - worker, manager, team member: `{"name", "phase", "state", "model", "runtime", "image",
//!   "containerState", "matrixUserID", "roomID", "message", "team", "role"}`, strings; role
//!   `standalone`, `manager`, `team_leader` or `worker`; team empty but for members
//! - team: `{"name", "phase", "leaderReady": bool, "readyWorkers": n, "totalWorkers": n,
//!   "workerNames": [..], "message"}`
//! - human: `{"name", "displayName", "username", "email", "permissionLevel": n,
//!   "accessibleTeams": [..], "accessibleWorkers": [..], "note", "phase", "matrixUserID"}`
//! - delete: `{"name": "<name>", "deleted": true}`; `GET /api/v1/status` `{"ok": true}`;
//!   `GET /api/v1/version` `{"version": "sim"}`; `GET /healthz` `{"status": "ok"}`

use std::ops::Bound;
use std::sync::Arc;
use std::time::Instant;

use http::StatusCode;
use serde_json::{Map, Value, json};

use super::hiclaw_api::{
    AgentKey, CONTROLLER_LABEL, GROUP_VERSION, KINDS, ObjectRef, hiclaw_path, kind_name, matrix_id,
    members, runtime_name,
};
use super::{FakeApi, NAMESPACE, Recorded, State, record, stamp};

/// What a Worker and a Team worker lose on the way in.
const DROPPED_FROM_WORKERS: [&str; 4] = ["env", "labels", "accessEntries", "remoteSkills"];
/// What a Team leader loses on the way in.
const DROPPED_FROM_LEADERS: [&str; 3] = ["remoteSkills", "env", "labels"];

type Answer = (StatusCode, Value);

struct Served {
    api: FakeApi,
    token: String,
    controller: String,
}

impl FakeApi {
    /// Serves the embedded controller's REST API on 127.0.0.1 over this store, for
    /// `controller` (the simulated controller then reconciles only objects with its
    /// label); answers the base URL, `http://127.0.0.1:<port>`.
    pub fn serve_rest(&self, token: &str, controller: &str) -> String {
        self.set_controller(controller);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        listener.set_nonblocking(true).expect("non-blocking");
        let served = Arc::new(Served {
            api: self.clone(),
            token: token.to_owned(),
            controller: controller.to_owned(),
        });
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let router = axum::Router::new().fallback(serve_one).with_state(served);
                axum::serve(listener, router).await.expect("serve");
            });
        });
        format!("http://{address}")
    }

    /// Every request to the REST API so far.
    pub fn rest_requests(&self) -> Vec<Recorded> {
        self.state.lock().expect("state").rest_requests.clone()
    }
}

async fn serve_one(
    axum::extract::State(served): axum::extract::State<Arc<Served>>,
    request: axum::extract::Request,
) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let recorded = record(&parts, &bytes);
    let authorized = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        == Some(format!("Bearer {}", served.token).as_str());
    let unreadable = !bytes.is_empty() && recorded.body.is_none();
    let (code, value) = {
        let mut state = served.api.state.lock().expect("state");
        state.rest_requests.push(recorded.clone());
        state.settle_hiclaw();
        if unreadable && authorized {
            error(StatusCode::BAD_REQUEST, "the body is not JSON")
        } else {
            state.rest(&recorded, authorized, &served.controller)
        }
    };
    axum::response::Response::builder()
        .status(code)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from(
            serde_json::to_vec(&value).unwrap_or_default(),
        ))
        .expect("response")
}

fn error(code: StatusCode, message: &str) -> Answer {
    (code, json!({"error": message}))
}

fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field].as_str().unwrap_or_default()
}

fn list(items: Vec<Value>) -> Answer {
    let total = items.len();
    (StatusCode::OK, json!({"items": items, "total": total}))
}

impl State {
    fn rest(&mut self, request: &Recorded, authorized: bool, controller: &str) -> Answer {
        let path = request.path.trim_end_matches('/');
        if path == "/healthz" {
            return (StatusCode::OK, json!({"status": "ok"}));
        }
        let Some(route) = path.strip_prefix("/api/v1/") else {
            return error(StatusCode::NOT_FOUND, "no such route");
        };
        if !authorized {
            return error(
                StatusCode::UNAUTHORIZED,
                "unauthorized: a valid bearer token is required",
            );
        }
        let segments: Vec<&str> = route.split('/').collect();
        let body = request.body.as_ref();
        match (request.method.as_str(), segments.as_slice()) {
            ("GET", ["status"]) => (StatusCode::OK, json!({"ok": true})),
            ("GET", ["version"]) => (StatusCode::OK, json!({"version": "sim"})),
            ("GET", ["workers"]) if request.query.contains_key("team") => {
                self.team_workers(&request.query["team"], controller)
            }
            ("GET", [kind]) if KINDS.contains(kind) => list(
                self.visible_all(kind, controller)
                    .map(|object| entry(kind, object))
                    .collect(),
            ),
            ("POST", [kind]) if KINDS.contains(kind) => self.rest_create(kind, body, controller),
            ("GET", [kind, name]) if KINDS.contains(kind) => {
                match self.visible(kind, name, controller) {
                    Some(object) => (StatusCode::OK, entry(kind, object)),
                    None => not_found(kind, name),
                }
            }
            ("PUT", [kind, name]) if KINDS.contains(kind) && *kind != "humans" => {
                self.replace_spec(kind, name, body, controller)
            }
            ("DELETE", [kind, name]) if KINDS.contains(kind) => {
                self.delete_object(kind, name, controller)
            }
            ("POST", ["workers", name, action]) => {
                let wanted = match *action {
                    "sleep" => "Sleeping",
                    "wake" | "ensure-ready" => "Running",
                    _ => return error(StatusCode::NOT_FOUND, "no such action"),
                };
                self.switch(name, wanted, controller)
            }
            ("GET", ["workers", name, "status"]) => match self.find_agent(name, controller) {
                Some((path, member)) => (StatusCode::OK, self.agent_entry(&path, member)),
                None => not_found("workers", name),
            },
            (_, [kind] | [kind, _]) if KINDS.contains(kind) => {
                error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
            }
            _ => error(StatusCode::NOT_FOUND, "no such route"),
        }
    }

    /// The object `kind/name`, if the controller sees it (its label).
    fn visible(&self, kind: &str, name: &str, controller: &str) -> Option<&Value> {
        self.objects
            .get(&hiclaw_path(kind, name))
            .filter(|object| labelled(object, controller))
    }

    /// Every object of `kind` the controller sees, by name.
    fn visible_all<'a>(
        &'a self,
        kind: &str,
        controller: &'a str,
    ) -> impl Iterator<Item = &'a Value> + 'a {
        let prefix = format!("/apis/{GROUP_VERSION}/namespaces/{NAMESPACE}/{kind}/");
        self.objects
            .range::<str, _>((Bound::Included(prefix.as_str()), Bound::Unbounded))
            .take_while(move |(path, _)| path.starts_with(&prefix))
            .map(|(_, object)| object)
            .filter(move |object| labelled(object, controller))
    }

    fn rest_create(&mut self, kind: &str, body: Option<&Value>, controller: &str) -> Answer {
        let Some(Value::Object(fields)) = body else {
            return error(StatusCode::BAD_REQUEST, "the body must be a JSON object");
        };
        let name = fields
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let name = name.as_str();
        if name.is_empty() || name.contains('/') {
            return error(StatusCode::BAD_REQUEST, "name is required");
        }
        let spec = spec_of(kind, fields);
        if let Err(message) = required(kind, &spec) {
            return error(StatusCode::BAD_REQUEST, &message);
        }
        let path = hiclaw_path(kind, name);
        if self.objects.contains_key(&path) {
            return error(
                StatusCode::CONFLICT,
                &format!("{} {name} already exists", singular(kind)),
            );
        }
        let mut object = json!({
            "apiVersion": GROUP_VERSION, "kind": kind_name(kind),
            "metadata": {"name": name, "namespace": NAMESPACE, "labels": {CONTROLLER_LABEL: controller}},
            "spec": spec,
        });
        self.version += 1;
        stamp(&mut object, self.version, None);
        self.hiclaw.written(&path, &mut object, Instant::now());
        let answer = entry(kind, &object);
        self.objects.insert(path, object);
        (StatusCode::CREATED, answer)
    }

    fn replace_spec(
        &mut self,
        kind: &str,
        name: &str,
        body: Option<&Value>,
        controller: &str,
    ) -> Answer {
        let Some(live) = self.visible(kind, name, controller).cloned() else {
            return not_found(kind, name);
        };
        let Some(Value::Object(fields)) = body else {
            return error(StatusCode::BAD_REQUEST, "the body must be a JSON object");
        };
        let spec = spec_of(kind, fields);
        if let Err(message) = required(kind, &spec) {
            return error(StatusCode::BAD_REQUEST, &message);
        }
        let path = hiclaw_path(kind, name);
        let mut object = live.clone();
        object["spec"] = spec;
        self.version += 1;
        stamp(&mut object, self.version, Some(&live));
        self.hiclaw.written(&path, &mut object, Instant::now());
        let answer = entry(kind, &object);
        self.objects.insert(path, object);
        (StatusCode::OK, answer)
    }

    fn delete_object(&mut self, kind: &str, name: &str, controller: &str) -> Answer {
        if self.visible(kind, name, controller).is_none() {
            return not_found(kind, name);
        }
        let path = hiclaw_path(kind, name);
        self.objects.remove(&path);
        self.hiclaw.deleted(&path);
        (StatusCode::OK, json!({"name": name, "deleted": true}))
    }

    fn team_workers(&self, team: &str, controller: &str) -> Answer {
        if self.visible("teams", team, controller).is_none() {
            return not_found("teams", team);
        }
        let path = hiclaw_path("teams", team);
        let names: Vec<String> = self
            .objects
            .get(&path)
            .map(|object| members(&object["spec"]))
            .unwrap_or_default()
            .into_iter()
            .map(|(name, _, _)| name)
            .collect();
        list(
            names
                .into_iter()
                .map(|name| self.agent_entry(&path, Some(name)))
                .collect(),
        )
    }

    /// The standalone Worker `name`, else the Team member `name`: its object's path and
    /// the member.
    fn find_agent(&self, name: &str, controller: &str) -> Option<(String, Option<String>)> {
        if self.visible("workers", name, controller).is_some() {
            return Some((hiclaw_path("workers", name), None));
        }
        self.visible_all("teams", controller).find_map(|team| {
            members(&team["spec"])
                .iter()
                .any(|(member, _, _)| member == name)
                .then(|| {
                    let team_name = text(&team["metadata"], "name");
                    (hiclaw_path("teams", team_name), Some(name.to_owned()))
                })
        })
    }

    fn switch(&mut self, name: &str, wanted: &str, controller: &str) -> Answer {
        let Some((path, member)) = self.find_agent(name, controller) else {
            return not_found("workers", name);
        };
        if let Err(message) = self.switch_at_runtime(&path, member.as_deref(), wanted) {
            return error(StatusCode::INTERNAL_SERVER_ERROR, &message);
        }
        (StatusCode::OK, self.agent_entry(&path, member))
    }

    /// The worker entry of a Worker (`member` none) or of a Team member.
    fn agent_entry(&self, path: &str, member: Option<String>) -> Value {
        let Some(object) = self.objects.get(path) else {
            return Value::Null;
        };
        let Some(member) = member else {
            return entry("workers", object);
        };
        let team = text(&object["metadata"], "name");
        let Some((_, role, spec)) = members(&object["spec"])
            .into_iter()
            .find(|(name, _, _)| *name == member)
        else {
            return Value::Null;
        };
        let key = AgentKey {
            object: ObjectRef {
                namespace: NAMESPACE.to_owned(),
                kind: "teams".to_owned(),
                name: team.to_owned(),
            },
            member: Some(member.clone()),
        };
        let agent = self.hiclaw.agent(&key);
        let runtime = match (text(&spec, "runtime"), role) {
            ("", "team_leader") => "copaw",
            (runtime, _) => runtime,
        };
        json!({
            "name": member,
            "phase": agent.map_or("Pending", |agent| agent.phase()),
            "state": spec["state"].as_str().unwrap_or("Running"),
            "model": text(&spec, "model"), "runtime": runtime, "image": text(&spec, "image"),
            "containerState": agent.map_or("", |agent| agent.container.as_str()),
            "matrixUserID": matrix_id(runtime_name(&spec, &member)), "roomID": "",
            "message": agent.map(|agent| agent.message()).unwrap_or_default(),
            "team": team, "role": role,
        })
    }
}

/// The REST entry of a stored object of `kind`.
fn entry(kind: &str, object: &Value) -> Value {
    let name = text(&object["metadata"], "name");
    let (spec, status) = (&object["spec"], &object["status"]);
    match kind {
        "teams" => json!({
            "name": name, "phase": status["phase"].as_str().unwrap_or("Pending"),
            "leaderReady": status["leaderReady"].as_bool().unwrap_or(false),
            "readyWorkers": status["readyWorkers"].as_u64().unwrap_or(0),
            "totalWorkers": status["totalWorkers"].as_u64().unwrap_or(0),
            "workerNames": spec["workers"].as_array().into_iter().flatten()
                .filter_map(|worker| worker["name"].as_str()).collect::<Vec<_>>(),
            "message": text(status, "message"),
        }),
        "humans" => json!({
            "name": name, "displayName": text(spec, "displayName"),
            "username": text(spec, "username"), "email": text(spec, "email"),
            "permissionLevel": spec["permissionLevel"],
            "accessibleTeams": spec.get("accessibleTeams").cloned().unwrap_or_else(|| json!([])),
            "accessibleWorkers": spec.get("accessibleWorkers").cloned().unwrap_or_else(|| json!([])),
            "note": text(spec, "note"), "phase": status["phase"].as_str().unwrap_or("Pending"),
            "matrixUserID": text(status, "matrixUserID"),
        }),
        _ => json!({
            "name": name, "phase": status["phase"].as_str().unwrap_or("Pending"),
            "state": spec["state"].as_str().unwrap_or("Running"),
            "model": text(spec, "model"), "runtime": text(spec, "runtime"),
            "image": text(spec, "image"), "containerState": text(status, "containerState"),
            "matrixUserID": text(status, "matrixUserID"), "roomID": text(status, "roomID"),
            "message": text(status, "message"), "team": "",
            "role": if kind == "managers" { "manager" } else { "standalone" },
        }),
    }
}

/// The spec a REST body makes: its fields but `name`, less what upstream drops.
fn spec_of(kind: &str, fields: &Map<String, Value>) -> Value {
    let mut spec = fields.clone();
    spec.remove("name");
    let strip = |map: &mut Map<String, Value>, dropped: &[&str]| {
        for field in dropped {
            map.remove(*field);
        }
    };
    match kind {
        "workers" => strip(&mut spec, &DROPPED_FROM_WORKERS),
        "teams" => {
            if let Some(leader) = spec.get_mut("leader").and_then(Value::as_object_mut) {
                strip(leader, &DROPPED_FROM_LEADERS);
            }
            let workers = spec.get_mut("workers").and_then(Value::as_array_mut);
            for worker in workers.into_iter().flatten() {
                if let Some(worker) = worker.as_object_mut() {
                    strip(worker, &DROPPED_FROM_WORKERS);
                }
            }
        }
        _ => {}
    }
    Value::Object(spec)
}

/// The fields the CRDs require.
fn required(kind: &str, spec: &Value) -> Result<(), String> {
    let missing = match kind {
        "workers" | "managers" if text(spec, "model").is_empty() => "model",
        "teams" if text(&spec["leader"], "name").is_empty() => "leader.name",
        "teams"
            if spec["workers"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|worker| text(worker, "name").is_empty()) =>
        {
            "workers[].name"
        }
        "humans" if text(spec, "displayName").is_empty() => "displayName",
        "humans" if !(1..=3).contains(&spec["permissionLevel"].as_i64().unwrap_or(0)) => {
            "permissionLevel (1 to 3)"
        }
        _ => return Ok(()),
    };
    Err(format!("{missing} is required"))
}

fn labelled(object: &Value, controller: &str) -> bool {
    object["metadata"]["labels"][CONTROLLER_LABEL].as_str() == Some(controller)
}

fn not_found(kind: &str, name: &str) -> Answer {
    error(
        StatusCode::NOT_FOUND,
        &format!("{} {name} not found", singular(kind)),
    )
}

fn singular(kind: &str) -> &str {
    kind.strip_suffix('s').unwrap_or(kind)
}
