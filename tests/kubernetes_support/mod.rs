//! A Kubernetes API server at the HTTP layer for the backend's tests: a `tower-test` mock
//! service answered by a small in-memory object store that behaves as the API server does
//! for the calls clawops makes (get, list by label, server-side apply with conflicts and
//! dry runs, create, replace with resourceVersion, delete with preconditions), plus a
//! Deployment controller that makes one pod per replica, Ready unless the agent is sick.
//! Every request is recorded, so tests assert the exact conversation.
//!
//! HiClaw objects (`hiclaw.io/v1beta1` Workers, Teams, Humans, Managers) have a `/status`
//! subresource, field ownership for server-side apply (`fields`), and a simulated
//! controller that writes their status (`hiclaw`, `hiclaw_api`); `rest` serves the
//! embedded controller's REST API over the same store. Lists honour `limit` and
//! `continue`. A HiClaw object written through the Kubernetes API is checked against
//! upstream's CRDs and refused (422 Invalid) as a strict API server would.
#![allow(dead_code)]

#[path = "../hiclaw_support/crds.rs"]
mod crds;
pub mod exec;
mod fields;
pub mod fleet;
mod hiclaw;
pub mod hiclaw_api;
pub mod hiclaw_http;
pub mod rest;
mod serve;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use http::{Request, Response, StatusCode};
use kube::client::Body;
use serde_json::{Value, json};
use serve::record;

use clawops::backend::kubernetes::KubernetesBackend;
use clawops::backend::kubernetes::settings::KubernetesSettings;

#[allow(unused_imports)]
pub use hiclaw_api::{
    CONTROLLER_LABEL, Container, ContainerState, DEFAULT_READY_DELAY, GROUP_VERSION, SpecChange,
    hiclaw_path, spec_hash,
};

/// The namespace of every test fleet.
pub const NAMESPACE: &str = "hiclaw";

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// `GET`, `PATCH`, …
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query parameters.
    pub query: BTreeMap<String, String>,
    /// The `Content-Type` header.
    pub content_type: String,
    /// The JSON body, if any.
    pub body: Option<Value>,
}

impl Recorded {
    /// `METHOD path` (for assertions on the order of calls).
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

#[derive(Default)]
struct State {
    objects: BTreeMap<String, Value>,
    requests: Vec<Recorded>,
    version: u64,
    /// Agents whose pods never get Ready (their container crash-loops).
    sick: BTreeSet<String>,
    /// Objects another field manager owns a field of: a non-forced apply conflicts.
    conflicting: BTreeSet<String>,
    /// The simulated HiClaw controller.
    hiclaw: hiclaw::Controller,
    /// Every request to the REST front end (`rest`).
    rest_requests: Vec<Recorded>,
    /// How the pods answer `exec` (see [`exec`]).
    exec_script: Option<exec::ExecScript>,
    /// Every `exec` received.
    execs: Vec<exec::Exec>,
}

/// The fake server: its store and its record of requests.
#[derive(Clone, Default)]
pub struct FakeApi {
    state: Arc<Mutex<State>>,
}

/// The path of a namespaced object.
pub fn object_path(group_version: &str, plural: &str, name: &str) -> String {
    let prefix = if group_version == "v1" {
        "/api/v1".to_owned()
    } else {
        format!("/apis/{group_version}")
    };
    format!("{prefix}/namespaces/{NAMESPACE}/{plural}/{name}")
}

impl FakeApi {
    /// A new, empty server.
    pub fn new() -> Self {
        Self::default()
    }

    /// A backend for `fleet` talking to this server (each with its own client).
    pub fn backend(&self, fleet: &str, force_conflicts: bool) -> KubernetesBackend {
        let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let server = self.clone();
        tokio::spawn(async move {
            let mut handle = pin!(handle);
            while let Some((request, respond)) = handle.next_request().await {
                let response = server.answer(request).await;
                respond.send_response(response);
            }
        });
        let client = kube::Client::new(service, NAMESPACE);
        let settings = KubernetesSettings::for_fleet(fleet, NAMESPACE);
        KubernetesBackend::new(client, settings, "fake".to_owned(), force_conflicts)
            .with_poll_interval(std::time::Duration::from_millis(5))
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().expect("state").requests.clone()
    }

    /// Forgets the requests so far.
    pub fn clear_requests(&self) {
        self.state.lock().expect("state").requests.clear();
    }

    /// The stored object at `path` (a HiClaw object's status up to date).
    pub fn object(&self, path: &str) -> Option<Value> {
        let mut state = self.state.lock().expect("state");
        state.settle_hiclaw();
        state.objects.get(path).cloned()
    }

    /// Waits up to 60 s for `check` to hold on the stored object at `path` (`what` names
    /// it in the panic when it never does).
    pub fn wait_for(&self, path: &str, what: &str, check: impl Fn(&Value) -> bool) {
        let started = Instant::now();
        while started.elapsed() < std::time::Duration::from_secs(60) {
            if self.object(path).as_ref().is_some_and(&check) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("{what} did not happen within 60 s: {:?}", self.object(path));
    }

    /// Every stored path.
    pub fn paths(&self) -> Vec<String> {
        self.state
            .lock()
            .expect("state")
            .objects
            .keys()
            .cloned()
            .collect()
    }

    /// Stores `object` at `path` as if someone had made it.
    pub fn put(&self, path: &str, mut object: Value) {
        let mut state = self.state.lock().expect("state");
        state.version += 1;
        let version = state.version;
        stamp(&mut object, version, None);
        state.hiclaw.written(path, &mut object, Instant::now());
        state.objects.insert(path.to_owned(), object);
    }

    /// Removes the stored object at `path` (as someone else would).
    pub fn remove(&self, path: &str) {
        let mut state = self.state.lock().expect("state");
        state.objects.remove(path);
        state.hiclaw.deleted(path);
    }

    /// Changes the stored object at `path` (an edit by hand).
    pub fn edit(&self, path: &str, change: impl FnOnce(&mut Value)) {
        let mut state = self.state.lock().expect("state");
        state.version += 1;
        let version = state.version.to_string();
        let State {
            objects, hiclaw, ..
        } = &mut *state;
        let object = objects.get_mut(path).expect("object to edit");
        let spec_before = object.get("spec").cloned();
        change(object);
        object["metadata"]["resourceVersion"] = json!(version);
        if fields::is_hiclaw(path) && object.get("spec") != spec_before.as_ref() {
            let generation = object["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
            object["metadata"]["generation"] = json!(generation);
            hiclaw.written(path, object, Instant::now());
        }
    }

    /// The agent's pods will never get Ready.
    pub fn make_sick(&self, agent: &str) {
        self.state
            .lock()
            .expect("state")
            .sick
            .insert(agent.to_owned());
    }

    /// Another manager owns a field of the object at `path`.
    pub fn conflict_on(&self, path: &str) {
        self.state
            .lock()
            .expect("state")
            .conflicting
            .insert(path.to_owned());
    }

    async fn answer(&self, request: Request<Body>) -> Response<Body> {
        let (parts, body) = request.into_parts();
        let bytes = body.collect_bytes().await.unwrap_or_default();
        let recorded = record(&parts, &bytes);
        let mut state = self.state.lock().expect("state");
        state.requests.push(recorded.clone());
        state.settle_hiclaw();
        let (status, value) = state.handle(&recorded);
        Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Body::from(serde_json::to_vec(&value).unwrap_or_default()))
            .expect("response")
    }
}

fn status(code: StatusCode, reason: &str, message: &str) -> (StatusCode, Value) {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code.as_u16(),
    });
    (code, body)
}

/// A HiClaw object upstream's CRD refuses (its status aside, a subresource): the API
/// server's 422 naming every problem.
fn crd_refusal(path: &str, object: &Value) -> Option<(StatusCode, Value)> {
    if !fields::is_hiclaw(path) || path.ends_with("/status") {
        return None;
    }
    let mut checked = object.clone();
    if let Some(fields) = checked.as_object_mut() {
        fields.remove("status");
    }
    let problems = crds::validate(&checked).err()?;
    Some(status(
        StatusCode::UNPROCESSABLE_ENTITY,
        "Invalid",
        &format!("{path} is invalid: {}", problems.join("; ")),
    ))
}

/// Server fields: uid (kept), resourceVersion, generation (bumped on a spec change).
fn stamp(object: &mut Value, version: u64, live: Option<&Value>) {
    let metadata = &mut object["metadata"];
    let uid = live
        .and_then(|live| live["metadata"]["uid"].as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("uid-{version}"));
    metadata["uid"] = json!(uid);
    metadata["resourceVersion"] = json!(version.to_string());
    let generation = live
        .and_then(|live| live["metadata"]["generation"].as_i64())
        .unwrap_or(0);
    let changed = live.is_none_or(|live| live.get("spec") != object.get("spec"));
    object["metadata"]["generation"] = json!(generation + i64::from(changed));
}

/// A write to the object itself never changes its status: the live one stays.
fn keep_status(object: &mut Value, live: Option<&Value>) {
    match live.and_then(|live| live.get("status")) {
        Some(status) => object["status"] = status.clone(),
        None => {
            if let Some(map) = object.as_object_mut() {
                map.remove("status");
            }
        }
    }
}

/// `b` laid over `a`: objects merged key by key, anything else replaced.
fn merged(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Object(left), Value::Object(right)) => {
            let mut out = left.clone();
            for (key, value) in right {
                let merged_value = left
                    .get(key)
                    .map_or(value.clone(), |old| merged(old, value));
                out.insert(key.clone(), merged_value);
            }
            Value::Object(out)
        }
        (_, right) => right.clone(),
    }
}

/// Whether `object` matches a label selector (`k=v` and `k` terms).
fn selected(object: &Value, selector: &str) -> bool {
    let labels = &object["metadata"]["labels"];
    selector
        .split(',')
        .filter(|term| !term.is_empty())
        .all(|term| match term.split_once('=') {
            Some((key, value)) => labels[key].as_str() == Some(value),
            None => labels.get(term).is_some(),
        })
}

impl State {
    fn handle(&mut self, request: &Recorded) -> (StatusCode, Value) {
        let segments: Vec<&str> = request.path.trim_start_matches('/').split('/').collect();
        let skip = if segments.first() == Some(&"api") {
            2
        } else {
            3
        };
        let rest = &segments[skip.min(segments.len())..];
        let namespaced = rest.first() == Some(&"namespaces");
        let subresource = if namespaced { 5 } else { 3 };
        if rest.len() == subresource && rest.last() == Some(&"status") {
            return self.status_subresource(request);
        }
        let is_object = rest.len() == 2 || rest.len() == 4;
        match (request.method.as_str(), is_object) {
            ("GET", true) => match self.objects.get(&request.path) {
                Some(object) => (StatusCode::OK, object.clone()),
                None => status(StatusCode::NOT_FOUND, "NotFound", "not found"),
            },
            ("GET", false) => self.list(request),
            ("POST", false) => self.create(request),
            ("PATCH", true) => self.apply(request),
            ("PUT", true) => self.replace(request),
            ("DELETE", true) => self.delete(request),
            _ => status(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "unexpected",
            ),
        }
    }

    /// The objects right below the path, by label, a page at a time: `limit` objects from
    /// after the `continue` token (the last path of the page before), with a token in
    /// `metadata.continue` while more remain. A range of the store, never a full scan.
    fn list(&self, request: &Recorded) -> (StatusCode, Value) {
        let prefix = format!("{}/", request.path);
        let selector = request
            .query
            .get("labelSelector")
            .cloned()
            .unwrap_or_default();
        let limit = request
            .query
            .get("limit")
            .and_then(|limit| limit.parse::<usize>().ok())
            .filter(|limit| *limit > 0);
        let from = match request
            .query
            .get("continue")
            .filter(|token| !token.is_empty())
        {
            Some(token) if token.starts_with(&prefix) => Bound::Excluded(token.as_str()),
            Some(_) => {
                return status(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "continue key is not valid",
                );
            }
            None => Bound::Included(prefix.as_str()),
        };
        let mut matching = self
            .objects
            .range::<str, _>((from, Bound::Unbounded))
            .take_while(|(path, _)| path.starts_with(&prefix))
            .filter(|(path, _)| !path[prefix.len()..].contains('/'))
            .filter(|(_, object)| selected(object, &selector));
        let mut items = Vec::new();
        let mut last = None;
        for (path, object) in matching.by_ref() {
            items.push(object.clone());
            last = Some(path);
            if Some(items.len()) == limit {
                break;
            }
        }
        let mut metadata = json!({"resourceVersion": "1"});
        if limit.is_some()
            && matching.next().is_some()
            && let Some(last) = last
        {
            metadata["continue"] = json!(last);
        }
        let body =
            json!({"kind": "List", "apiVersion": "v1", "metadata": metadata, "items": items});
        (StatusCode::OK, body)
    }

    fn create(&mut self, request: &Recorded) -> (StatusCode, Value) {
        let mut object = request.body.clone().unwrap_or_default();
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let path = format!("{}/{name}", request.path);
        if self.objects.contains_key(&path) {
            return status(StatusCode::CONFLICT, "AlreadyExists", "already exists");
        }
        if let Some(refusal) = crd_refusal(&path, &object) {
            return refusal;
        }
        self.version += 1;
        stamp(&mut object, self.version, None);
        if fields::is_hiclaw(&path) {
            keep_status(&mut object, None);
            self.hiclaw.written(&path, &mut object, Instant::now());
        }
        self.objects.insert(path, object.clone());
        (StatusCode::CREATED, object)
    }

    fn replace(&mut self, request: &Recorded) -> (StatusCode, Value) {
        let Some(live) = self.objects.get(&request.path).cloned() else {
            return status(StatusCode::NOT_FOUND, "NotFound", "not found");
        };
        let mut object = request.body.clone().unwrap_or_default();
        if object["metadata"]["resourceVersion"] != live["metadata"]["resourceVersion"] {
            return status(
                StatusCode::CONFLICT,
                "Conflict",
                "the object has been modified",
            );
        }
        if let Some(refusal) = crd_refusal(&request.path, &object) {
            return refusal;
        }
        self.version += 1;
        stamp(&mut object, self.version, Some(&live));
        if fields::is_hiclaw(&request.path) {
            keep_status(&mut object, Some(&live));
            self.hiclaw
                .written(&request.path, &mut object, Instant::now());
        }
        self.objects.insert(request.path.clone(), object.clone());
        (StatusCode::OK, object)
    }

    fn delete(&mut self, request: &Recorded) -> (StatusCode, Value) {
        let Some(live) = self.objects.get(&request.path) else {
            return status(StatusCode::NOT_FOUND, "NotFound", "not found");
        };
        let preconditions = request
            .body
            .as_ref()
            .map(|body| body["preconditions"].clone());
        if let Some(uid) = preconditions
            .as_ref()
            .and_then(|wanted| wanted["uid"].as_str())
            && live["metadata"]["uid"].as_str() != Some(uid)
        {
            return status(StatusCode::CONFLICT, "Conflict", "precondition failed: uid");
        }
        self.objects.remove(&request.path);
        self.hiclaw.deleted(&request.path);
        let pods_of = format!(
            "{}-pod",
            request
                .path
                .replace("/apis/apps/v1/", "/api/v1/")
                .replace("/deployments/", "/pods/")
        );
        self.objects.remove(&pods_of);
        (
            StatusCode::OK,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}),
        )
    }

    fn apply(&mut self, request: &Recorded) -> (StatusCode, Value) {
        let forced = request.query.get("force").map(String::as_str) == Some("true");
        if self.conflicting.contains(&request.path) && !forced {
            return status(
                StatusCode::CONFLICT,
                "Conflict",
                "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1: .spec.template.spec.containers[name=\"worker\"].image",
            );
        }
        let live = self.objects.get(&request.path).cloned();
        let mut body = request.body.clone().unwrap_or_default();
        if body["kind"] == "Secret"
            && let Some(Value::Object(strings)) = body
                .as_object_mut()
                .and_then(|object| object.remove("stringData"))
        {
            let data: BTreeMap<String, k8s_openapi::ByteString> = strings
                .into_iter()
                .map(|(key, value)| {
                    (
                        key,
                        k8s_openapi::ByteString(
                            value.as_str().unwrap_or_default().as_bytes().to_vec(),
                        ),
                    )
                })
                .collect();
            body["data"] = serde_json::to_value(data).unwrap_or_default();
        }
        let hiclaw = fields::is_hiclaw(&request.path);
        let (mut object, taken) = if hiclaw {
            match self.hiclaw_apply(request, live.as_ref(), &body) {
                Ok(applied) => applied,
                Err(refusal) => return refusal,
            }
        } else {
            let object = match &live {
                Some(live) => merged(live, &body),
                None => body.clone(),
            };
            (object, Vec::new())
        };
        if let Some(refusal) = crd_refusal(&request.path, &object) {
            return refusal;
        }
        self.version += 1;
        stamp(&mut object, self.version, live.as_ref());
        if hiclaw {
            keep_status(&mut object, live.as_ref());
        }
        if request.query.get("dryRun").map(String::as_str) == Some("All") {
            return (StatusCode::OK, object);
        }
        if hiclaw {
            let manager = fields::field_manager(request);
            self.hiclaw
                .owners_mut(&request.path)
                .applied(manager, &body, &taken);
            self.hiclaw
                .written(&request.path, &mut object, Instant::now());
        }
        if object["kind"] == "Deployment" {
            self.reconcile_deployment(&request.path, &mut object);
        }
        self.objects.insert(request.path.clone(), object.clone());
        (StatusCode::OK, object)
    }

    /// The Deployment controller and the kubelet: one pod per replica, Ready unless sick.
    fn reconcile_deployment(&mut self, path: &str, deployment: &mut Value) {
        let name = deployment["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let replicas = deployment["spec"]["replicas"].as_i64().unwrap_or(1);
        let sick = self.sick.contains(&name);
        let ready = if sick { 0 } else { replicas };
        deployment["status"] = json!({
            "observedGeneration": deployment["metadata"]["generation"],
            "replicas": replicas, "updatedReplicas": replicas,
            "readyReplicas": ready, "availableReplicas": ready,
        });
        let pod_path = format!(
            "{}-pod",
            path.replace("/apis/apps/v1/", "/api/v1/")
                .replace("/deployments/", "/pods/")
        );
        if replicas == 0 {
            self.objects.remove(&pod_path);
            return;
        }
        let container = if sick {
            json!({"name": "worker", "ready": false, "restartCount": 3, "image": "x", "imageID": "",
                   "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off restarting failed container"}}})
        } else {
            json!({"name": "worker", "ready": true, "restartCount": 0, "image": "x", "imageID": "",
                   "state": {"running": {}}})
        };
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("{name}-pod"), "namespace": NAMESPACE,
                         "labels": deployment["spec"]["template"]["metadata"]["labels"], "uid": format!("pod-{name}")},
            "spec": {"containers": [{"name": "worker"}]},
            "status": {"phase": "Running",
                       "conditions": [{"type": "Ready", "status": if sick {"False"} else {"True"}}],
                       "containerStatuses": [container]},
        });
        self.objects.insert(pod_path, pod);
    }
}
