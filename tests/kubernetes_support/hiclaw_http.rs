//! A plain HTTP client for both sides of the simulated HiClaw controller, as a user of
//! it would drive them: the Kubernetes API of [`FakeApi::serve`] and the REST API of
//! [`FakeApi::serve_rest`] over one store; and a few fixtures of HiClaw tests.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use super::FakeApi;
use super::hiclaw_api::{CONTROLLER_LABEL, hiclaw_path, kind_name};

/// Both servers over one store, and a client.
pub struct Sim {
    pub api: FakeApi,
    /// The Kubernetes API's base URL.
    pub kube: String,
    /// The REST API's base URL.
    pub rest: String,
    pub client: reqwest::blocking::Client,
    /// The controller: what `apply` labels, what the REST server serves.
    pub controller: String,
    token: String,
    _folder: tempfile::TempDir,
}

/// A new store with a ready delay of `delay`, served over HTTP for Kubernetes and for REST
/// (with `token`, for `controller`).
pub fn sim(token: &str, controller: &str, delay: Duration) -> Sim {
    let api = FakeApi::new();
    api.set_ready_delay(delay);
    let folder = tempfile::tempdir().expect("temporary folder");
    let kubeconfig = std::fs::read_to_string(api.serve(folder.path())).expect("kubeconfig");
    let kube = kubeconfig
        .lines()
        .find_map(|line| line.trim().strip_prefix("server: "))
        .expect("a server in the kubeconfig")
        .to_owned();
    let rest = api.serve_rest(token, controller);
    Sim {
        api,
        kube,
        rest,
        client: reqwest::blocking::Client::new(),
        controller: controller.to_owned(),
        token: token.to_owned(),
        _folder: folder,
    }
}

impl Sim {
    /// One request: the answer's status code and JSON body (null if none).
    pub fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut request = self.client.request(method, url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.body(serde_json::to_vec(body).expect("JSON"));
        }
        let response = request.send().expect("a response");
        let code = response.status().as_u16();
        let bytes = response.bytes().expect("a body");
        (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// Server-side apply as clawops does it (field manager `clawops`), labelled for the
    /// controller.
    pub fn apply(&self, kind: &str, name: &str, spec: Value, force: bool) -> (u16, Value) {
        let body = json!({
            "apiVersion": "hiclaw.io/v1beta1", "kind": kind_name(kind),
            "metadata": {"name": name, "namespace": "hiclaw", "labels": {CONTROLLER_LABEL: self.controller}},
            "spec": spec,
        });
        let url = format!(
            "{}{}?fieldManager=clawops&force={force}",
            self.kube,
            hiclaw_path(kind, name)
        );
        self.send(
            Method::PATCH,
            &url,
            Some(&body),
            &[("content-type", "application/apply-patch+yaml")],
        )
    }

    /// [`Sim::apply`], not forced, which must succeed: the object.
    pub fn applied(&self, kind: &str, name: &str, spec: Value) -> Value {
        let (code, object) = self.apply(kind, name, spec, false);
        assert_eq!(code, 200, "apply {kind}/{name}: {object}");
        object
    }

    /// `GET` on the Kubernetes API, which must succeed.
    pub fn get(&self, path: &str) -> Value {
        let (code, object) = self.send(Method::GET, &format!("{}{path}", self.kube), None, &[]);
        assert_eq!(code, 200, "GET {path}: {object}");
        object
    }

    /// The HiClaw object `kind/name` through the Kubernetes API.
    pub fn object(&self, kind: &str, name: &str) -> Value {
        self.get(&hiclaw_path(kind, name))
    }

    /// A request to the REST API with the token.
    pub fn rest(&self, method: Method, route: &str, body: Option<&Value>) -> (u16, Value) {
        let authorization = format!("Bearer {}", self.token);
        let headers = [
            ("authorization", authorization.as_str()),
            ("content-type", "application/json"),
        ];
        self.send(method, &format!("{}{route}", self.rest), body, &headers)
    }
}

/// Polls `check` until it answers, for at most five seconds.
pub fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A Team of a leader and two workers, `alpha-dev` on `dev_image`.
pub fn team_spec(dev_image: &str) -> Value {
    json!({
        "leader": {"name": "alpha-lead", "model": "qwen3.6-plus", "soul": "I lead."},
        "workers": [
            {"name": "alpha-dev", "model": "qwen3.6-plus", "image": dev_image},
            {"name": "alpha-qa", "model": "qwen3.6-plus", "image": "hiclaw/worker-agent:v1", "workerName": "qa"},
        ],
    })
}

/// The status entry of a Team's member.
pub fn member<'a>(team: &'a Value, name: &str) -> &'a Value {
    team["status"]["members"]
        .as_array()
        .and_then(|members| members.iter().find(|member| member["name"] == name))
        .unwrap_or_else(|| panic!("member {name} in {team}"))
}

/// Every member of the Team is ready.
pub fn members_ready(team: &Value) -> bool {
    team["status"]["members"]
        .as_array()
        .is_some_and(|members| members.iter().all(|member| member["ready"] == true))
}
