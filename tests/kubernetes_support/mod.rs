//! A Kubernetes API server at the HTTP layer for the backend's tests: a `tower-test` mock
//! service answered by a small in-memory object store that behaves as the API server does
//! for the calls clawops makes (get, list by label, server-side apply with conflicts and
//! dry runs, create, replace with resourceVersion, delete with preconditions), plus a
//! Deployment controller that makes one pod per replica, Ready unless the agent is sick.
//! Every request is recorded, so tests assert the exact conversation.
#![allow(dead_code)]

pub mod fleet;

use std::collections::{BTreeMap, BTreeSet};
use std::pin::pin;
use std::sync::{Arc, Mutex};

use http::{Request, Response, StatusCode};
use kube::client::Body;
use serde_json::{Value, json};

use clawops::backend::kubernetes::KubernetesBackend;
use clawops::backend::kubernetes::settings::KubernetesSettings;

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

    /// The stored object at `path`.
    pub fn object(&self, path: &str) -> Option<Value> {
        self.state.lock().expect("state").objects.get(path).cloned()
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
        state.objects.insert(path.to_owned(), object);
    }

    /// Removes the stored object at `path` (as someone else would).
    pub fn remove(&self, path: &str) {
        self.state.lock().expect("state").objects.remove(path);
    }

    /// Changes the stored object at `path` (an edit by hand).
    pub fn edit(&self, path: &str, change: impl FnOnce(&mut Value)) {
        let mut state = self.state.lock().expect("state");
        state.version += 1;
        let version = state.version.to_string();
        let object = state.objects.get_mut(path).expect("object to edit");
        change(object);
        object["metadata"]["resourceVersion"] = json!(version);
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
        let recorded = Recorded {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query: parts
                .uri
                .query()
                .unwrap_or_default()
                .split('&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    (key.to_owned(), decode(value))
                })
                .collect(),
            content_type: parts
                .headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            body: serde_json::from_slice(&bytes).ok(),
        };
        let mut state = self.state.lock().expect("state");
        state.requests.push(recorded.clone());
        let (status, value) = state.handle(&recorded);
        Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Body::from(serde_json::to_vec(&value).unwrap_or_default()))
            .expect("response")
    }
}

fn decode(value: &str) -> String {
    let mut out = Vec::new();
    let bytes = value.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'%' if index + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).unwrap_or("00");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                index += 3;
            }
            b'+' => {
                out.push(b' ');
                index += 1;
            }
            byte => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn status(code: StatusCode, reason: &str, message: &str) -> (StatusCode, Value) {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code.as_u16(),
    });
    (code, body)
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

    fn list(&self, request: &Recorded) -> (StatusCode, Value) {
        let prefix = format!("{}/", request.path);
        let selector = request
            .query
            .get("labelSelector")
            .cloned()
            .unwrap_or_default();
        let items: Vec<Value> = self
            .objects
            .iter()
            .filter(|(path, _)| path.starts_with(&prefix) && !path[prefix.len()..].contains('/'))
            .map(|(_, object)| object.clone())
            .filter(|object| selected(object, &selector))
            .collect();
        let body = json!({"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items});
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
        self.version += 1;
        stamp(&mut object, self.version, None);
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
        self.version += 1;
        stamp(&mut object, self.version, Some(&live));
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
        let mut object = match &live {
            Some(live) => merged(live, &body),
            None => body,
        };
        self.version += 1;
        stamp(&mut object, self.version, live.as_ref());
        if request.query.get("dryRun").map(String::as_str) == Some("All") {
            return (StatusCode::OK, object);
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
            "status": {"conditions": [{"type": "Ready", "status": if sick {"False"} else {"True"}}],
                       "containerStatuses": [container]},
        });
        self.objects.insert(pod_path, pod);
    }
}

impl FakeApi {
    /// Serves this API over HTTP on 127.0.0.1 (for the `clawops` binary); returns a
    /// kubeconfig file pointing at it, in `folder`.
    pub fn serve(&self, folder: &std::path::Path) -> std::path::PathBuf {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        listener.set_nonblocking(true).expect("non-blocking");
        let api = self.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let router = axum::Router::new().fallback(serve_one).with_state(api);
                axum::serve(listener, router).await.expect("serve");
            });
        });
        let kubeconfig = folder.join("kubeconfig");
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://{address}\nusers:\n- name: tester\n  user: {{}}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: tester\n    namespace: {NAMESPACE}\ncurrent-context: fake\n"
        );
        std::fs::write(&kubeconfig, text).expect("write kubeconfig");
        kubeconfig
    }
}

async fn serve_one(
    axum::extract::State(api): axum::extract::State<FakeApi>,
    request: axum::extract::Request,
) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let response = api
        .answer(Request::from_parts(parts, Body::from(bytes.to_vec())))
        .await;
    let (parts, body) = response.into_parts();
    let bytes = body.collect_bytes().await.unwrap_or_default();
    axum::response::Response::from_parts(parts, axum::body::Body::from(bytes))
}
