//! The simulated HiClaw controller of `kubernetes_support` on its REST side (the embedded
//! controller's API), driven with plain HTTP over the same store as the Kubernetes side:
//! creation and what upstream drops, the token, entries, a team's members, sleep and wake.
#![cfg(feature = "kubernetes")]

mod kubernetes_support;

use std::collections::BTreeSet;
use std::time::Duration;

use kubernetes_support::hiclaw_http::{Sim, eventually, member, members_ready, team_spec};
use kubernetes_support::{CONTROLLER_LABEL, spec_hash};
use reqwest::Method;
use serde_json::json;

const CONTROLLER: &str = "hiclaw";

fn sim() -> Sim {
    kubernetes_support::hiclaw_http::sim("sim-token", CONTROLLER, Duration::from_millis(30))
}

#[test]
fn rest_create_writes_a_labelled_object_without_what_upstream_drops() {
    let sim = sim();
    let body = json!({"name": "scout", "model": "m", "soul": "I scout.", "image": "hiclaw/worker-agent:v1",
        "env": {"A": "1"}, "labels": {"x": "y"}, "accessEntries": [{"service": "ai-gateway"}],
        "remoteSkills": [{"source": "nacos://h/ns", "skills": [{"name": "s"}]}]});
    let (code, entry) = sim.rest(Method::POST, "/api/v1/workers", Some(&body));
    assert_eq!(code, 201, "{entry}");
    let keys: BTreeSet<&str> = entry
        .as_object()
        .expect("an entry")
        .keys()
        .map(String::as_str)
        .collect();
    let expected: BTreeSet<&str> = [
        "name",
        "phase",
        "state",
        "model",
        "runtime",
        "image",
        "containerState",
        "matrixUserID",
        "roomID",
        "message",
        "team",
        "role",
    ]
    .into();
    assert_eq!(keys, expected);
    assert_eq!(entry["role"], "standalone");
    assert_eq!(entry["phase"], "Pending");
    let stored = sim.object("workers", "scout");
    assert_eq!(stored["metadata"]["labels"][CONTROLLER_LABEL], CONTROLLER);
    assert_eq!(
        stored["spec"],
        json!({"model": "m", "soul": "I scout.", "image": "hiclaw/worker-agent:v1"})
    );
    assert_eq!(
        sim.rest(Method::POST, "/api/v1/workers", Some(&body)).0,
        409
    );

    let team = json!({"name": "alpha",
        "leader": {"name": "alpha-lead", "model": "m", "env": {"A": "1"}, "accessEntries": [{"service": "ai-gateway"}]},
        "workers": [{"name": "alpha-dev", "model": "m", "labels": {"x": "y"}}]});
    let (code, entry) = sim.rest(Method::POST, "/api/v1/teams", Some(&team));
    assert_eq!(code, 201, "{entry}");
    assert_eq!(entry["workerNames"], json!(["alpha-dev"]));
    let stored = sim.object("teams", "alpha");
    assert_eq!(
        stored["spec"]["leader"],
        json!({"name": "alpha-lead", "model": "m", "accessEntries": [{"service": "ai-gateway"}]})
    );
    assert_eq!(
        stored["spec"]["workers"],
        json!([{"name": "alpha-dev", "model": "m"}])
    );

    let (code, replaced) = sim.rest(
        Method::PUT,
        "/api/v1/workers/scout",
        Some(&json!({"model": "m2", "env": {"B": "2"}})),
    );
    assert_eq!((code, &replaced["model"]), (200, &json!("m2")));
    assert_eq!(
        sim.object("workers", "scout")["spec"],
        json!({"model": "m2"})
    );

    let human = json!({"name": "ada", "displayName": "Ada", "permissionLevel": 1, "email": "ada@example.org"});
    let (code, entry) = sim.rest(Method::POST, "/api/v1/humans", Some(&human));
    assert_eq!(code, 201);
    assert_eq!(entry["phase"], "Active");
    assert_eq!(entry["matrixUserID"], "@ada:hiclaw.local");
    assert_eq!(
        sim.rest(Method::PUT, "/api/v1/humans/ada", Some(&human)).0,
        405
    );
    let (code, list) = sim.rest(Method::GET, "/api/v1/humans", None);
    assert_eq!((code, &list["total"]), (200, &json!(1)));
    assert_eq!(sim.rest(Method::DELETE, "/api/v1/humans/ada", None).0, 200);
    let (code, missing) = sim.rest(Method::GET, "/api/v1/humans/ada", None);
    assert_eq!(code, 404);
    assert!(missing["error"].is_string());
}

#[test]
fn rest_wants_the_token() {
    let sim = sim();
    let url = format!("{}/api/v1/workers", sim.rest);
    let (code, body) = sim.send(Method::GET, &url, None, &[]);
    assert_eq!(code, 401);
    assert!(body["error"].is_string(), "{body}");
    let (code, _) = sim.send(
        Method::GET,
        &url,
        None,
        &[("authorization", "Bearer wrong")],
    );
    assert_eq!(code, 401);
    let (code, _) = sim.send(Method::GET, &format!("{}/healthz", sim.rest), None, &[]);
    assert_eq!(code, 200);
    assert_eq!(
        sim.rest(Method::GET, "/api/v1/status", None),
        (200, json!({"ok": true}))
    );
    assert_eq!(
        sim.rest(Method::GET, "/api/v1/version", None),
        (200, json!({"version": "sim"}))
    );
    assert_eq!(
        sim.rest(Method::GET, "/api/v1/workers", None),
        (200, json!({"items": [], "total": 0}))
    );
    assert_eq!(sim.api.rest_requests().len(), 6);
}

#[test]
fn rest_lists_a_teams_members_as_worker_entries() {
    let sim = sim();
    sim.applied("teams", "alpha", team_spec("hiclaw/worker-agent:v1"));
    sim.applied("workers", "scout", json!({"model": "m"}));
    let (code, list) = sim.rest(Method::GET, "/api/v1/workers?team=alpha", None);
    assert_eq!(code, 200);
    assert_eq!(list["total"], 3);
    let items = list["items"].as_array().expect("items");
    let roles: Vec<(&str, &str)> = items
        .iter()
        .map(|item| {
            (
                item["name"].as_str().expect("name"),
                item["role"].as_str().expect("role"),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            ("alpha-lead", "team_leader"),
            ("alpha-dev", "worker"),
            ("alpha-qa", "worker")
        ]
    );
    assert!(items.iter().all(|item| item["team"] == "alpha"));
    assert_eq!(items[1]["image"], "hiclaw/worker-agent:v1");
    assert_eq!(items[2]["matrixUserID"], "@qa:hiclaw.local");
    assert!(items.iter().all(|item| item.get("specHash").is_none()));
    let (phases, containers) = (["Pending", "Running"], ["stopped", "running"]);
    assert!(items.iter().all(|item| {
        phases.iter().any(|phase| item["phase"] == *phase)
            && containers
                .iter()
                .any(|state| item["containerState"] == *state)
    }));
    eventually("the members run", || {
        let (_, list) = sim.rest(Method::GET, "/api/v1/workers?team=alpha", None);
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|item| item["phase"] == "Running" && item["containerState"] == "running")
            .then_some(())
    });
    let (_, standalone) = sim.rest(Method::GET, "/api/v1/workers", None);
    assert_eq!(standalone["total"], 1);
    assert_eq!(standalone["items"][0]["name"], "scout");
    let (_, teams) = sim.rest(Method::GET, "/api/v1/teams", None);
    assert_eq!(teams["items"][0]["phase"], "Active");
    assert_eq!(teams["items"][0]["readyWorkers"], 2);
    assert_eq!(
        sim.rest(Method::GET, "/api/v1/workers?team=beta", None).0,
        404
    );
}

#[test]
fn rest_sleep_and_wake_change_the_spec_state() {
    let sim = sim();
    sim.applied("teams", "alpha", team_spec("hiclaw/worker-agent:v1"));
    sim.applied("workers", "scout", json!({"model": "m"}));
    eventually("the team is ready", || {
        Some(sim.object("teams", "alpha")).filter(members_ready)
    });

    let (code, entry) = sim.rest(Method::POST, "/api/v1/workers/alpha-qa/sleep", None);
    assert_eq!(code, 200, "{entry}");
    assert_eq!(
        (&entry["state"], &entry["phase"], &entry["containerState"]),
        (&json!("Sleeping"), &json!("Sleeping"), &json!("stopped"))
    );
    let team = sim.object("teams", "alpha");
    assert_eq!(team["spec"]["workers"][1]["state"], "Sleeping");
    assert_eq!(member(&team, "alpha-qa")["ready"], false);
    assert_eq!(
        member(&team, "alpha-qa")["specHash"],
        spec_hash(&team["spec"]["workers"][1]),
        "the hash follows at once"
    );
    let (_, status) = sim.rest(Method::GET, "/api/v1/workers/alpha-qa/status", None);
    assert_eq!(status["state"], "Sleeping");

    let (code, entry) = sim.rest(Method::POST, "/api/v1/workers/alpha-qa/wake", None);
    assert_eq!((code, &entry["containerState"]), (200, &json!("running")));
    assert_eq!(
        sim.object("teams", "alpha")["spec"]["workers"][1]["state"],
        "Running"
    );
    assert_eq!(
        sim.api
            .container("teams", "alpha", Some("alpha-qa"))
            .expect("qa")
            .restarts,
        1
    );

    let (code, entry) = sim.rest(Method::POST, "/api/v1/workers/scout/sleep", None);
    assert_eq!((code, &entry["role"]), (200, &json!("standalone")));
    assert_eq!(sim.object("workers", "scout")["spec"]["state"], "Sleeping");
    assert_eq!(
        sim.object("workers", "scout")["status"]["phase"],
        "Sleeping"
    );
    assert_eq!(
        sim.rest(Method::POST, "/api/v1/workers/nobody/wake", None)
            .0,
        404
    );
}
