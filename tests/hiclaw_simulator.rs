//! The simulated HiClaw controller of `kubernetes_support` on its Kubernetes side, driven
//! with plain HTTP: server-side apply of `hiclaw.io/v1beta1` objects, the status the
//! simulated controller writes (readiness after a delay, one member at a time, broken
//! images, observedGeneration), the status subresource, pagination, and field ownership
//! with the runtime's sleep switch. The REST side is `hiclaw_simulator_rest.rs`.
#![cfg(feature = "kubernetes")]

mod kubernetes_support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use kubernetes_support::hiclaw_http::{Sim, eventually, member, members_ready, team_spec};
use kubernetes_support::{CONTROLLER_LABEL, ContainerState, hiclaw_path, spec_hash};
use reqwest::Method;
use serde_json::json;

const CONTROLLER: &str = "hiclaw";
const DELAY: Duration = Duration::from_millis(30);

fn sim() -> Sim {
    kubernetes_support::hiclaw_http::sim("sim-token", CONTROLLER, DELAY)
}

#[test]
fn team_members_become_ready_on_their_new_spec_hash_after_the_delay() {
    let sim = sim();
    let spec = team_spec("hiclaw/worker-agent:v1");
    let created = sim.applied("teams", "alpha", spec.clone());
    assert_eq!(created["status"]["phase"], "Pending");
    let names: Vec<&str> = created["status"]["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|member| member["name"].as_str().expect("a name"))
        .collect();
    assert_eq!(
        names,
        ["alpha-dev", "alpha-lead", "alpha-qa"],
        "sorted by name"
    );
    for name in names {
        let member = member(&created, name);
        assert_eq!(member["ready"], false);
        assert_eq!(member["observed"], false);
        assert!(
            member.get("specHash").is_none(),
            "no hash before the first reconcile"
        );
    }

    let team = eventually("every member is ready", || {
        Some(sim.object("teams", "alpha")).filter(members_ready)
    });
    assert_eq!(team["status"]["phase"], "Active");
    assert_eq!(team["status"]["leaderReady"], true);
    assert_eq!(team["status"]["readyWorkers"], 2);
    assert_eq!(team["status"]["totalWorkers"], 2);
    let qa = member(&team, "alpha-qa");
    assert_eq!(qa["specHash"], spec_hash(&spec["workers"][1]));
    assert_eq!(qa["runtimeName"], "qa");
    assert_eq!(qa["role"], "worker");
    assert_eq!(member(&team, "alpha-lead")["role"], "team_leader");
    assert_eq!(
        member(&team, "alpha-lead")["specHash"],
        spec_hash(&spec["leader"])
    );
}

#[test]
fn changing_one_member_leaves_the_others_untouched_until_it_is_ready() {
    let sim = sim();
    sim.applied("teams", "alpha", team_spec("hiclaw/worker-agent:v1"));
    let before = eventually("the team is ready", || {
        Some(sim.object("teams", "alpha")).filter(members_ready)
    });

    let spec = team_spec("hiclaw/worker-agent:v2");
    let changed = sim.applied("teams", "alpha", spec.clone());
    let dev = member(&changed, "alpha-dev");
    assert_eq!(dev["ready"], false);
    assert_eq!(
        dev["specHash"],
        member(&before, "alpha-dev")["specHash"],
        "the old hash until reconciled"
    );
    let after = eventually("dev is ready on its new spec", || {
        let team = sim.object("teams", "alpha");
        for other in ["alpha-lead", "alpha-qa"] {
            assert_eq!(
                member(&team, other),
                member(&before, other),
                "{other} untouched"
            );
        }
        Some(team).filter(|team| member(team, "alpha-dev")["ready"] == true)
    });
    assert_eq!(
        member(&after, "alpha-dev")["specHash"],
        spec_hash(&spec["workers"][0])
    );
    assert_eq!(after["status"]["phase"], "Active");
    let dev = sim
        .api
        .container("teams", "alpha", Some("alpha-dev"))
        .expect("dev");
    assert_eq!(
        (dev.state, dev.restarts),
        (ContainerState::Running, 1),
        "recreated once"
    );
    let qa = sim
        .api
        .container("teams", "alpha", Some("alpha-qa"))
        .expect("qa");
    assert_eq!(qa.restarts, 0);

    let mut spec = spec;
    spec["workers"][1]["soul"] = json!("I test.");
    sim.applied("teams", "alpha", spec);
    eventually("qa is ready", || {
        Some(sim.object("teams", "alpha")).filter(members_ready)
    });
    let changes: Vec<_> = sim.api.member_history().into_iter().skip(3).collect();
    let agents: Vec<String> = changes.iter().map(|change| change.agent()).collect();
    assert_eq!(agents, ["alpha/alpha-dev", "alpha/alpha-qa"]);
    let first_ready = changes[0].ready.expect("dev became ready");
    assert!(
        changes[1].written >= first_ready,
        "no second member changed before the first was ready"
    );
}

#[test]
fn a_broken_image_never_becomes_ready() {
    let sim = sim();
    let worker = sim.applied(
        "workers",
        "scout",
        json!({"model": "m", "image": "hiclaw/worker-agent:broken"}),
    );
    assert_eq!(worker["status"]["phase"], "Pending");
    let worker = eventually("the controller tried", || {
        Some(sim.object("workers", "scout"))
            .filter(|worker| worker["status"]["observedGeneration"] == 1)
    });
    assert_eq!(worker["status"]["phase"], "Failed");
    assert!(
        worker["status"]["message"]
            .as_str()
            .expect("a message")
            .contains(":broken")
    );
    assert_eq!(worker["status"]["containerState"], "stopped");

    sim.applied("teams", "alpha", team_spec("hiclaw/worker-agent:broken"));
    eventually("every member reconciled", || {
        Some(sim.object("teams", "alpha"))
            .filter(|team| member(team, "alpha-dev")["observed"] == true)
    });
    std::thread::sleep(DELAY * 2);
    let team = sim.object("teams", "alpha");
    assert_eq!(member(&team, "alpha-dev")["ready"], false);
    assert_eq!(member(&team, "alpha-qa")["ready"], true);
    assert_eq!(team["status"]["phase"], "Degraded");
    assert_eq!(team["status"]["readyWorkers"], 1);
    assert_eq!(sim.object("workers", "scout")["status"]["phase"], "Failed");
}

#[test]
fn a_workers_observed_generation_catches_up_and_status_is_its_own() {
    let sim = sim();
    let created = sim.applied("workers", "scout", json!({"model": "m1"}));
    assert_eq!(created["metadata"]["generation"], 1);
    assert!(created["status"].get("observedGeneration").is_none());
    let running = eventually("scout runs", || {
        Some(sim.object("workers", "scout")).filter(|worker| worker["status"]["phase"] == "Running")
    });
    assert_eq!(running["status"]["observedGeneration"], 1);
    assert_eq!(running["status"]["containerState"], "running");
    assert_eq!(running["status"]["matrixUserID"], "@scout:hiclaw.local");

    let changed = sim.applied(
        "workers",
        "scout",
        json!({"model": "m2", "workerName": "scout2"}),
    );
    assert_eq!(changed["metadata"]["generation"], 2);
    assert_eq!(changed["status"]["phase"], "Updating");
    assert_eq!(changed["status"]["observedGeneration"], 1);
    assert_eq!(changed["status"]["containerState"], "stopped", "recreated");
    let caught_up = eventually("the generation is observed", || {
        Some(sim.object("workers", "scout"))
            .filter(|worker| worker["status"]["observedGeneration"] == 2)
    });
    assert_eq!(caught_up["status"]["phase"], "Running");
    assert_eq!(caught_up["status"]["matrixUserID"], "@scout2:hiclaw.local");

    let status_path = format!("{}/status", hiclaw_path("workers", "scout"));
    let mut with_heartbeat = caught_up.clone();
    with_heartbeat["status"]["lastHeartbeat"] = json!("2026-06-01T00:00:00Z");
    with_heartbeat["spec"]["model"] = json!("ignored");
    let url = format!("{}{status_path}", sim.kube);
    let (code, written) = sim.send(
        Method::PUT,
        &url,
        Some(&with_heartbeat),
        &[("content-type", "application/json")],
    );
    assert_eq!(code, 200, "{written}");
    assert_eq!(
        written["spec"]["model"], "m2",
        "a status write changes only the status"
    );
    assert_eq!(written["metadata"]["generation"], 2);
    assert_eq!(
        sim.get(&status_path)["status"]["lastHeartbeat"],
        "2026-06-01T00:00:00Z"
    );

    let body = json!({"apiVersion": "hiclaw.io/v1beta1", "kind": "Worker",
        "metadata": {"name": "scout", "labels": {CONTROLLER_LABEL: CONTROLLER}},
        "spec": {"model": "m2", "workerName": "scout2"}, "status": {"phase": "Failed"}});
    let url = format!(
        "{}{}?fieldManager=clawops",
        sim.kube,
        hiclaw_path("workers", "scout")
    );
    let (code, applied) = sim.send(
        Method::PATCH,
        &url,
        Some(&body),
        &[("content-type", "application/apply-patch+yaml")],
    );
    assert_eq!(code, 200);
    assert_eq!(
        applied["status"]["phase"], "Running",
        "a write to the object keeps the live status"
    );
    assert_eq!(applied["metadata"]["generation"], 2);
}

#[test]
fn pagination_with_a_limit_returns_every_object_exactly_once() {
    let sim = sim();
    for index in 0..7 {
        sim.applied("workers", &format!("w{index}"), json!({"model": "m"}));
    }
    sim.api.put(&hiclaw_path("workers", "stranger"), json!({"apiVersion": "hiclaw.io/v1beta1", "kind": "Worker",
        "metadata": {"name": "stranger", "labels": {CONTROLLER_LABEL: "another"}}, "spec": {"model": "m"}}));
    let list = |selector: &str| {
        let mut names = Vec::new();
        let mut token = String::new();
        loop {
            let query = format!(
                "limit=2&labelSelector={selector}&continue={}",
                token.replace('/', "%2F")
            );
            let page = sim.get(&format!(
                "/apis/hiclaw.io/v1beta1/namespaces/hiclaw/workers?{query}"
            ));
            let items = page["items"].as_array().expect("items");
            assert!(items.len() <= 2);
            names.extend(items.iter().map(|item| {
                item["metadata"]["name"]
                    .as_str()
                    .expect("a name")
                    .to_owned()
            }));
            match page["metadata"]["continue"].as_str() {
                Some(next) => token = next.to_owned(),
                None => return names,
            }
        }
    };
    let ours = list(&format!("{CONTROLLER_LABEL}%3D{CONTROLLER}"));
    let expected: Vec<String> = (0..7).map(|index| format!("w{index}")).collect();
    assert_eq!(ours, expected, "each once, in order");
    let all = list("");
    assert_eq!(all.len(), 8);
    assert_eq!(all.iter().collect::<BTreeSet<_>>().len(), 8);
    assert!(
        sim.object("workers", "stranger").get("status").is_none(),
        "another controller's object"
    );
}

#[test]
fn eleven_thousand_objects_list_page_by_page() {
    let sim = sim();
    for index in 0..11_000 {
        let name = format!("w{index:05}");
        sim.api.put(&hiclaw_path("workers", &name), json!({"apiVersion": "hiclaw.io/v1beta1", "kind": "Worker",
            "metadata": {"name": name, "labels": {CONTROLLER_LABEL: CONTROLLER}}, "spec": {"model": "m"}}));
    }
    let started = Instant::now();
    let (mut count, mut token) = (0, String::new());
    loop {
        let path = format!(
            "/apis/hiclaw.io/v1beta1/namespaces/hiclaw/workers?limit=500&continue={}",
            token.replace('/', "%2F")
        );
        let page = sim.get(&path);
        count += page["items"].as_array().expect("items").len();
        match page["metadata"]["continue"].as_str() {
            Some(next) => token = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(count, 11_000);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn the_runtime_sleep_switch_owns_state_and_apply_prunes_what_it_dropped() {
    let sim = sim();
    sim.applied(
        "workers",
        "scout",
        json!({"model": "m", "soul": "I scout.", "state": "Running"}),
    );
    eventually("scout runs", || {
        Some(sim.object("workers", "scout")).filter(|worker| worker["status"]["phase"] == "Running")
    });
    sim.api.sleep_at_runtime("workers", "scout", None);
    let asleep = sim.object("workers", "scout");
    assert_eq!(asleep["spec"]["state"], "Sleeping");
    assert_eq!(asleep["status"]["phase"], "Sleeping");
    assert_eq!(asleep["status"]["containerState"], "stopped");
    assert_eq!(
        asleep["status"]["observedGeneration"],
        asleep["metadata"]["generation"]
    );

    let (code, refusal) = sim.apply(
        "workers",
        "scout",
        json!({"model": "m", "state": "Running"}),
        false,
    );
    assert_eq!(code, 409, "{refusal}");
    assert!(
        refusal["message"]
            .as_str()
            .expect("a message")
            .contains(".spec.state")
    );
    let kept = sim.applied("workers", "scout", json!({"model": "m"}));
    assert_eq!(
        kept["spec"],
        json!({"model": "m", "state": "Sleeping"}),
        "soul pruned, the runtime's state kept"
    );
    let (code, taken) = sim.apply(
        "workers",
        "scout",
        json!({"model": "m", "state": "Running"}),
        true,
    );
    assert_eq!(
        (code, &taken["spec"]["state"]),
        (200, &json!("Running")),
        "forced, the applier takes it over"
    );

    sim.applied("teams", "alpha", team_spec("hiclaw/worker-agent:v1"));
    eventually("the team is ready", || {
        Some(sim.object("teams", "alpha")).filter(members_ready)
    });
    sim.api
        .sleep_at_runtime("teams", "alpha", Some("alpha-dev"));
    let team = sim.object("teams", "alpha");
    assert_eq!(team["spec"]["workers"][0]["state"], "Sleeping");
    let dev = member(&team, "alpha-dev");
    assert_eq!(
        (&dev["ready"], &dev["specHash"]),
        (
            &json!(false),
            &json!(spec_hash(&team["spec"]["workers"][0]))
        )
    );
    assert_eq!(member(&team, "alpha-qa")["ready"], true);
    assert_eq!(
        team["status"]["phase"], "Active",
        "a sleeping member does not degrade the team"
    );
    assert_eq!(
        sim.api
            .container("teams", "alpha", Some("alpha-dev"))
            .expect("dev")
            .state,
        ContainerState::Stopped
    );
    assert_eq!(
        sim.apply("teams", "alpha", team_spec("hiclaw/worker-agent:v1"), false)
            .0,
        409,
        "the runtime owns spec.workers"
    );
    sim.api.wake_at_runtime("teams", "alpha", Some("alpha-dev"));
    let team = sim.object("teams", "alpha");
    assert_eq!(member(&team, "alpha-dev")["ready"], true);
    let runtime: Vec<String> = sim
        .api
        .member_history()
        .iter()
        .filter(|change| change.by_runtime)
        .map(|change| change.agent())
        .collect();
    assert_eq!(runtime, ["scout", "alpha/alpha-dev", "alpha/alpha-dev"]);
}

#[test]
fn an_object_upstreams_crd_refuses_is_refused_as_invalid() {
    let sim = sim();
    let mut spec = team_spec("hiclaw/worker-agent:v1");
    spec["workers"][0]["modle"] = json!("typo");
    let (code, body) = sim.apply("teams", "alpha", spec, true);
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["reason"], "Invalid");
    let message = body["message"].as_str().expect("a message");
    assert!(message.contains("/spec/workers/0"), "{message}");
    assert!(message.contains("modle"), "{message}");
    let url = format!("{}{}", sim.kube, hiclaw_path("teams", "alpha"));
    let (code, _) = sim.send(Method::GET, &url, None, &[]);
    assert_eq!(code, 404, "nothing stored");
}
