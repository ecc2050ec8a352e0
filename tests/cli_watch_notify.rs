//! Notifications from `clawops watch`, end to end on the real Docker Engine: a pushed
//! commit's rollout (webhook events and GitHub commit statuses), a quarantined commit,
//! and drift, told once per change rather than at every interval.
#![cfg(feature = "docker")]

mod docker_support;
mod github_support;
mod support;
mod watch_support;

use std::time::Duration;

use docker_support::{BASE_IMAGE, docker, fleet};
use github_support::{FakeGithub, REPOSITORY};
use serde_json::Value;
use watch_support::{Remote, Watch};

const TOKEN: &str = "ghs_watchnotify0123456789abcdefghijklmnop";

fn count(bodies: &[Value], event: &str, commit: &str) -> usize {
    bodies
        .iter()
        .filter(|body| body["event"] == event && body["commit"] == commit)
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_tells_rollouts_quarantines_and_drift_once() {
    let Some(fleet) = fleet().await else { return };
    let server = FakeGithub::start(Vec::new());
    let remote = Remote::new(&fleet.name);
    let notify =
        "[notify]\ngithub_status = true\n\n[[notify.webhook]]\nurl_env = \"WATCH_NOTIFY_HOOK\"\n";
    let first = remote.push_worker_with("first", BASE_IMAGE, notify);
    let hook = format!("{}/hooks/watch", server.url);
    let watch = Watch::start_with_env(
        &remote.url(),
        &remote.state(),
        &["--interval", "1s"],
        &[
            ("GITHUB_TOKEN", TOKEN),
            ("GITHUB_REPOSITORY", REPOSITORY),
            ("GITHUB_API_URL", &server.url),
            ("WATCH_NOTIFY_HOOK", &hook),
        ],
    );
    watch.wait_applied("the first commit", &first);
    watch.wait_for("the rollout's events", Duration::from_secs(20), || {
        count(&server.hook_bodies("watch"), "apply_succeeded", &first) == 1
    });
    let bodies = server.hook_bodies("watch");
    assert_eq!(count(&bodies, "apply_started", &first), 1);
    assert!(bodies.iter().all(|body| body["origin"] == "watch"));
    let states: Vec<String> = server
        .statuses()
        .into_iter()
        .filter(|status| status.0 == first)
        .map(|status| status.1)
        .collect();
    assert_eq!(states, ["pending", "success"]);

    remote.write(
        "workers/alpha.yaml",
        "apiVersion: hiclaw.io/v1beta1\nkind: Worker\nmetadata:\n  name: alpha\nspec:\n  modle: typo\n",
    );
    let invalid = remote.push("an invalid worker");
    watch.wait_for("the quarantine event", Duration::from_secs(30), || {
        count(&server.hook_bodies("watch"), "quarantined", &invalid) == 1
    });
    let quarantined = server
        .hook_bodies("watch")
        .into_iter()
        .find(|body| body["event"] == "quarantined")
        .expect("the event");
    let reason = quarantined["reason"].as_str().expect("a reason");
    assert!(reason.contains("workers/alpha.yaml:6:"), "{reason}");
    assert!(
        quarantined["summary"]
            .as_str()
            .is_some_and(|summary| summary.contains(&format!("keeps running {}", &first[..12]))),
        "{quarantined}"
    );
    let failure = server
        .statuses()
        .into_iter()
        .find(|status| status.0 == invalid)
        .expect("a status on the quarantined commit");
    assert_eq!(failure.1, "failure");

    let agent = format!("{}-worker-alpha", fleet.name);
    docker(&["stop", "-t", "1", &agent]).expect("stop by hand");
    watch.wait_for("the drift event", Duration::from_secs(30), || {
        server
            .hook_bodies("watch")
            .iter()
            .any(|body| body["event"] == "drift")
    });
    // Three more intervals find the same drift: it is not told again.
    std::thread::sleep(Duration::from_secs(4));
    let drift: Vec<Value> = server
        .hook_bodies("watch")
        .into_iter()
        .filter(|body| body["event"] == "drift")
        .collect();
    assert_eq!(drift.len(), 1, "{drift:?}");
    assert_eq!(
        drift[0]["commit"],
        first.as_str(),
        "drift from the last good commit"
    );
    assert_eq!(drift[0]["drift"][0]["agent"], agent.as_str());
    assert!(
        server
            .requests()
            .iter()
            .all(|request| !request.body.contains(TOKEN)),
        "the token is in no body"
    );
    assert!(!watch.log_text().contains(TOKEN));
    assert_eq!(watch.terminate(), Some(0));
}
