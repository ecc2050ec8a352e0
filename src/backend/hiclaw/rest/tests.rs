//! The REST transport against a small stub of the controller's API (axum, on a random
//! local port): the requests it sends, how it reads answers, and how failures map.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::{Value, json};

use super::*;
use crate::backend::lock::now;
use crate::spec::hiclaw::AgentState;

const TOKEN: &str = "s3cr3t-token-value";

/// One request the stub saw.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    target: String,
    authorization: Option<String>,
    body: String,
}

/// The stub's state: objects by `<plural>/<name>`, team members by team, and a status
/// every request gets instead when set.
#[derive(Default)]
struct Stub {
    seen: Mutex<Vec<Seen>>,
    objects: Mutex<BTreeMap<String, Value>>,
    members: Mutex<BTreeMap<String, Vec<Value>>>,
    forced: Mutex<Option<(u16, Value)>>,
}

impl Stub {
    fn put(&self, key: &str, entry: Value) {
        self.objects.lock().unwrap().insert(key.to_owned(), entry);
    }

    fn requests(&self) -> Vec<String> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .map(|s| format!("{} {}", s.method, s.target))
            .collect()
    }

    fn answer(&self, method: &Method, uri: &Uri, body: &str) -> (u16, Value) {
        if let Some(forced) = self.forced.lock().unwrap().clone() {
            return forced;
        }
        let path = uri.path().trim_start_matches("/api/v1/");
        let segments: Vec<&str> = path.split('/').collect();
        let team = uri.query().and_then(|query| query.strip_prefix("team="));
        let mut objects = self.objects.lock().unwrap();
        let missing = (404, json!({"error": "not found"}));
        match (method.as_str(), segments.as_slice()) {
            ("GET", ["workers"]) if team.is_some() => {
                let team = team.unwrap_or_default();
                if !objects.contains_key(&format!("teams/{team}")) {
                    return missing;
                }
                let members = self.members.lock().unwrap();
                let items = members.get(team).cloned().unwrap_or_default();
                (200, json!({"items": items, "total": items.len()}))
            }
            ("GET", [plural]) => {
                let prefix = format!("{plural}/");
                let items: Vec<Value> = objects
                    .iter()
                    .filter(|(key, _)| key.starts_with(&prefix))
                    .map(|(_, entry)| entry.clone())
                    .collect();
                (200, json!({"items": items, "total": items.len()}))
            }
            ("GET", [plural, name]) | ("GET", [plural @ "workers", name, "status"]) => objects
                .get(&format!("{plural}/{name}"))
                .map_or(missing, |entry| (200, entry.clone())),
            ("POST", [plural]) => {
                let entry: Value = serde_json::from_str(body).unwrap();
                let name = entry["name"].as_str().unwrap().to_owned();
                objects.insert(format!("{plural}/{name}"), entry.clone());
                (201, entry)
            }
            ("PUT", ["humans", _]) => (405, json!({"error": "no PUT"})),
            ("PUT", [plural, name]) => match objects.get_mut(&format!("{plural}/{name}")) {
                Some(entry) => {
                    *entry = serde_json::from_str(body).unwrap();
                    (200, entry.clone())
                }
                None => missing,
            },
            ("DELETE", [plural, name]) => match objects.remove(&format!("{plural}/{name}")) {
                Some(_) => (200, json!({})),
                None => missing,
            },
            _ => (400, json!({"error": "unexpected"})),
        }
    }
}

async fn handle(
    State(stub): State<Arc<Stub>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, String) {
    let authorization = headers
        .get("authorization")
        .map(|value| value.to_str().unwrap().to_owned());
    stub.seen.lock().unwrap().push(Seen {
        method: method.to_string(),
        target: uri.to_string(),
        authorization,
        body: body.clone(),
    });
    let (status, answer) = stub.answer(&method, &uri, &body);
    (StatusCode::from_u16(status).unwrap(), answer.to_string())
}

/// Serves a stub; its URL.
async fn serve(stub: Arc<Stub>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = Router::new().fallback(handle).with_state(stub);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}

fn transport(url: &str, dir: &tempfile::TempDir) -> RestTransport {
    let token = Some(AuthToken::new(TOKEN));
    RestTransport::new(url, token, "hiclaw-controller", "acme", dir.path()).unwrap()
}

fn spec(value: Value) -> SpecFields {
    value.as_object().unwrap().clone()
}

fn applied(commit: &str) -> Applied {
    Applied {
        commit: Some(commit.to_owned()),
        ..Applied::default()
    }
}

/// Whether `error`, its `Debug` form or any cause mentions `text`.
fn mentions(error: &BackendError, text: &str) -> bool {
    let mut all = format!("{error} {error:?}");
    let mut cause = std::error::Error::source(error);
    while let Some(error) = cause {
        all.push_str(&format!(" {error} {error:?}"));
        cause = error.source();
    }
    all.contains(text)
}

#[tokio::test]
async fn create_then_update_reads_then_posts_then_puts_and_records_the_spec() {
    let stub = Arc::new(Stub::default());
    let dir = tempfile::tempdir().unwrap();
    let transport = transport(&serve(stub.clone()).await, &dir);
    let alice = ObjectId::new(Kind::Worker, "alice");
    let first = spec(json!({"model": "qwen3"}));
    transport
        .write(&alice, &first, &applied("c1"))
        .await
        .unwrap();
    let second = spec(json!({"model": "qwen3-max", "soul": "careful"}));
    transport
        .write(&alice, &second, &applied("c2"))
        .await
        .unwrap();
    assert_eq!(
        stub.requests(),
        [
            "GET /api/v1/workers/alice",
            "POST /api/v1/workers",
            "GET /api/v1/workers/alice",
            "PUT /api/v1/workers/alice",
        ]
    );
    let seen = stub.seen.lock().unwrap().clone();
    let put: Value = serde_json::from_str(&seen[3].body).unwrap();
    assert_eq!(
        put,
        json!({"name": "alice", "model": "qwen3-max", "soul": "careful"})
    );
    // The record keeps the spec the API cannot give back, on disk too.
    let record = RecordFiles::new(dir.path(), &transport.url, "acme")
        .load()
        .unwrap();
    let kept = &record.objects[&alice];
    assert_eq!(kept.commit.as_deref(), Some("c2"));
    assert_eq!(kept.spec.as_ref(), Some(&second));
    assert_eq!(
        transport.load_record(&BTreeMap::new()).await.unwrap(),
        record
    );
}

#[tokio::test]
async fn the_token_is_sent_but_never_shown() {
    let stub = Arc::new(Stub::default());
    let dir = tempfile::tempdir().unwrap();
    let transport = transport(&serve(stub.clone()).await, &dir);
    transport.list().await.unwrap();
    let seen = stub.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 4);
    for request in &seen {
        let expected = format!("Bearer {TOKEN}");
        assert_eq!(request.authorization.as_deref(), Some(expected.as_str()));
    }
    let debug = format!("{transport:?}");
    assert!(!debug.contains(TOKEN), "{debug}");
    assert!(debug.contains("<redacted>"), "{debug}");
    assert!(!format!("{:?}", AuthToken::new(TOKEN)).contains(TOKEN));
    assert_eq!(
        transport.describe(),
        format!("hiclaw rest {}", transport.url)
    );
    assert!(!transport.reports_spec_hash());
}

#[tokio::test]
async fn a_refused_token_is_a_lasting_error_naming_the_variable_not_the_token() {
    let stub = Arc::new(Stub::default());
    *stub.forced.lock().unwrap() = Some((401, json!({"error": format!("bad token {TOKEN}")})));
    let dir = tempfile::tempdir().unwrap();
    let transport = transport(&serve(stub.clone()).await, &dir);
    let alice = ObjectId::new(Kind::Worker, "alice");
    let error = transport
        .write(&alice, &spec(json!({"model": "m"})), &applied("c"))
        .await
        .unwrap_err();
    assert!(!error.is_transient());
    assert!(matches!(error, BackendError::Request { .. }), "{error:?}");
    assert!(mentions(&error, "HICLAW_AUTH_TOKEN"), "{error:?}");
    assert!(mentions(&error, "Worker/alice"), "{error:?}");
    assert!(!mentions(&error, TOKEN), "{error:?}");
    // Without a token, the error says to set one.
    let anonymous = RestTransport::new(&transport.url, None, "c", "acme", dir.path()).unwrap();
    let error = anonymous.list().await.unwrap_err();
    assert!(mentions(&error, "set HICLAW_AUTH_TOKEN"), "{error:?}");
}

#[tokio::test]
async fn a_busy_controller_is_worth_trying_again_and_a_bad_request_is_not() {
    let stub = Arc::new(Stub::default());
    let dir = tempfile::tempdir().unwrap();
    let transport = transport(&serve(stub.clone()).await, &dir);
    for (status, transient) in [(503, true), (429, true), (408, true), (400, false)] {
        *stub.forced.lock().unwrap() = Some((status, json!({"message": "busy"})));
        let error = transport.list().await.unwrap_err();
        assert_eq!(error.is_transient(), transient, "{status}: {error:?}");
        assert!(mentions(&error, &format!("HTTP {status}")), "{error:?}");
    }
}

#[tokio::test]
async fn an_unreachable_controller_is_a_connect_error_at_its_url() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let dir = tempfile::tempdir().unwrap();
    let transport = transport(&url, &dir);
    match transport.list().await {
        Err(error @ BackendError::Connect { .. }) => {
            assert!(error.to_string().contains(&url), "{error}");
            assert!(!mentions(&error, TOKEN));
            assert!(error.is_transient());
        }
        other => panic!("expected Connect, got {other:?}"),
    }
}

#[test]
fn a_url_with_credentials_or_another_scheme_is_refused_without_echoing_them() {
    let dir = tempfile::tempdir().unwrap();
    let new = |url: &str| RestTransport::new(url, None, "c", "acme", dir.path());
    let error = new("http://admin:hunter2@controller:8090").unwrap_err();
    assert!(matches!(error, BackendError::Connect { .. }));
    assert!(!mentions(&error, "hunter2"), "{error:?}");
    assert!(mentions(&error, "HICLAW_AUTH_TOKEN"), "{error:?}");
    assert!(new("ftp://controller").is_err());
    assert!(new("not a url").is_err());
    let one = new("http://a:8090/").unwrap();
    let other = new("http://b:8090").unwrap();
    assert_ne!(one.record_path(), other.record_path());
    assert_eq!(one.describe(), "hiclaw rest http://a:8090");
}

#[tokio::test]
async fn list_reads_every_kind_and_each_teams_members() {
    let stub = Arc::new(Stub::default());
    stub.put("humans/bob", json!({"name": "bob", "displayName": "Bob"}));
    stub.put(
        "workers/alice",
        json!({"name": "alice", "phase": "Running", "state": "Sleeping", "image": "w:1",
               "containerState": "running", "message": "", "extra": {"x": 1}, "team": ""}),
    );
    stub.put(
        "workers/lead",
        json!({"name": "lead", "team": "alpha", "phase": "Running"}),
    );
    stub.put("workers/broken", json!("not an entry"));
    stub.put(
        "managers/default",
        json!({"name": "default", "phase": "Pending", "state": 7}),
    );
    stub.put(
        "teams/alpha",
        json!({"name": "alpha", "phase": "Active", "leaderReady": true}),
    );
    stub.members.lock().unwrap().insert(
        "alpha".to_owned(),
        vec![
            json!({"name": "lead", "role": "team_leader", "phase": "Running", "team": "alpha"}),
            json!({"name": "dev", "role": "worker", "phase": "Updating", "team": "alpha"}),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let transport = transport(&serve(stub.clone()).await, &dir);
    let live = transport.list().await.unwrap();
    let ids: Vec<String> = live.keys().map(ToString::to_string).collect();
    assert_eq!(
        ids,
        ["Human/bob", "Team/alpha", "Worker/alice", "Manager/default"]
    );
    assert!(
        live.values()
            .all(|object| object.spec.is_none() && object.applied.is_none())
    );
    assert!(live[&ObjectId::new(Kind::Human, "bob")].agents.is_empty());
    let alice = &live[&ObjectId::new(Kind::Worker, "alice")].agents;
    let expected = MemberStatus {
        name: "alice".to_owned(),
        state: Some(AgentState::Sleeping),
        phase: Some("Running".to_owned()),
        ready: true,
        container_state: Some("running".to_owned()),
        image: Some("w:1".to_owned()),
        ..MemberStatus::default()
    };
    assert_eq!(alice, &[expected]);
    let manager = &live[&ObjectId::new(Kind::Manager, "default")].agents[0];
    assert_eq!((manager.state, manager.ready), (None, false));
    let team = &live[&ObjectId::new(Kind::Team, "alpha")].agents;
    let members: Vec<(&str, bool)> = team.iter().map(|m| (m.name.as_str(), m.ready)).collect();
    assert_eq!(members, [("lead", true), ("dev", false)]);
    assert!(
        stub.requests()
            .contains(&"GET /api/v1/workers?team=alpha".to_owned())
    );
}

#[tokio::test]
async fn status_reads_one_worker_manager_or_team_member() {
    let stub = Arc::new(Stub::default());
    stub.put(
        "workers/alice",
        json!({"name": "alice", "phase": "Running"}),
    );
    stub.put(
        "managers/default",
        json!({"name": "default", "phase": "Sleeping"}),
    );
    stub.put("teams/alpha", json!({"name": "alpha"}));
    let members = vec![json!({"name": "dev", "phase": "Running", "containerState": "running"})];
    stub.members
        .lock()
        .unwrap()
        .insert("alpha".to_owned(), members);
    let dir = tempfile::tempdir().unwrap();
    let transport = transport(&serve(stub.clone()).await, &dir);
    let status = |kind, name: &'static str, member: &'static str| {
        let transport = &transport;
        async move {
            let id = ObjectId::new(kind, name);
            transport.status(&id, member).await.unwrap()
        }
    };
    assert!(status(Kind::Worker, "alice", "alice").await.unwrap().ready);
    let manager = status(Kind::Manager, "default", "default").await.unwrap();
    assert_eq!(manager.phase.as_deref(), Some("Sleeping"));
    let dev = status(Kind::Team, "alpha", "dev").await.unwrap();
    assert_eq!(dev.container_state.as_deref(), Some("running"));
    assert_eq!(status(Kind::Team, "alpha", "nobody").await, None);
    assert_eq!(status(Kind::Team, "beta", "dev").await, None);
    assert_eq!(status(Kind::Worker, "gone", "gone").await, None);
    assert_eq!(status(Kind::Human, "bob", "bob").await, None);
    assert!(
        stub.requests()
            .contains(&"GET /api/v1/workers/alice/status".to_owned())
    );
    assert!(
        stub.requests()
            .contains(&"GET /api/v1/managers/default".to_owned())
    );
}

#[tokio::test]
async fn a_changed_human_is_deleted_and_created_again_an_unchanged_one_left_alone() {
    let stub = Arc::new(Stub::default());
    let dir = tempfile::tempdir().unwrap();
    let transport = transport(&serve(stub.clone()).await, &dir);
    let bob = ObjectId::new(Kind::Human, "bob");
    let first = spec(json!({"displayName": "Bob", "permissionLevel": 2, "accessibleTeams": []}));
    transport.write(&bob, &first, &applied("c1")).await.unwrap();
    transport.write(&bob, &first, &applied("c2")).await.unwrap();
    let changed = spec(json!({"displayName": "Bob", "permissionLevel": 1}));
    transport
        .write(&bob, &changed, &applied("c3"))
        .await
        .unwrap();
    assert_eq!(
        stub.requests(),
        [
            "GET /api/v1/humans/bob",
            "POST /api/v1/humans",
            "GET /api/v1/humans/bob",
            "GET /api/v1/humans/bob",
            "DELETE /api/v1/humans/bob",
            "POST /api/v1/humans",
        ]
    );
    let record = transport.load_record(&BTreeMap::new()).await.unwrap();
    assert_eq!(record.objects[&bob].commit.as_deref(), Some("c3"));
}

#[tokio::test]
async fn delete_tolerates_a_missing_object_and_drops_it_from_the_record() {
    let stub = Arc::new(Stub::default());
    let dir = tempfile::tempdir().unwrap();
    let transport = transport(&serve(stub.clone()).await, &dir);
    let alice = ObjectId::new(Kind::Worker, "alice");
    transport
        .write(&alice, &spec(json!({"model": "m"})), &applied("c"))
        .await
        .unwrap();
    transport.delete(&alice).await.unwrap();
    transport.delete(&alice).await.unwrap();
    assert_eq!(
        transport.load_record(&BTreeMap::new()).await.unwrap(),
        Record::default()
    );
    // save_record replaces the file and the copy write() updates.
    let mut record = Record::default();
    record
        .objects
        .insert(ObjectId::new(Kind::Team, "alpha"), applied("x"));
    transport.save_record(&record).await.unwrap();
    assert_eq!(
        transport.load_record(&BTreeMap::new()).await.unwrap(),
        record
    );
}

#[tokio::test]
async fn the_lock_file_is_taken_once_and_cleared_by_unlock() {
    let dir = tempfile::tempdir().unwrap();
    let transport = transport("http://127.0.0.1:9", &dir);
    let holder = |pid| LockHolder {
        host: "here".to_owned(),
        pid,
        since: now(),
        expires: now() + 60,
    };
    transport.try_lock(&holder(1)).await.unwrap();
    assert!(matches!(
        transport.try_lock(&holder(2)).await,
        Err(BackendError::Locked { .. })
    ));
    transport.renew_lock(&holder(1)).await.unwrap();
    transport.unlock(None).await.unwrap();
    transport.try_lock(&holder(2)).await.unwrap();
}

#[test]
fn the_token_comes_from_the_variable_or_the_file_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cli-token");
    std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
    let file = file.display().to_string();
    let lookup = |pairs: Vec<(&'static str, String)>| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
        }
    };
    let from_file = AuthToken::from_lookup(lookup(vec![(TOKEN_FILE_VARIABLE, file.clone())]));
    assert_eq!(from_file.unwrap().unwrap().scrub(TOKEN), "***");
    let both = lookup(vec![
        (TOKEN_VARIABLE, "direct".to_owned()),
        (TOKEN_FILE_VARIABLE, file),
    ]);
    assert_eq!(
        AuthToken::from_lookup(both)
            .unwrap()
            .unwrap()
            .scrub("direct"),
        "***"
    );
    assert!(AuthToken::from_lookup(lookup(vec![])).unwrap().is_none());
    let missing = lookup(vec![(TOKEN_FILE_VARIABLE, "/nonexistent/token".to_owned())]);
    let error = AuthToken::from_lookup(missing).unwrap_err();
    assert!(error.to_string().contains("/nonexistent/token"), "{error}");
}
