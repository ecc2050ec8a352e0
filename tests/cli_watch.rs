//! `clawops watch` end to end: a real bare repository that commits are pushed to from a
//! second clone (over `file://` and a `git daemon`), the daemon binary applying them to
//! the real Docker Engine, its HTTP status and signed webhook, quarantine, memory across
//! restarts, drift, and SIGTERM.
#![cfg(feature = "docker")]

mod docker_support;
mod support;
mod watch_support;

use std::time::{Duration, Instant};

use docker_support::{BASE_IMAGE, SICK_IMAGE, container_id, docker, fleet, inspect};
use support::git::Daemon;
use watch_support::{Remote, Watch, following_first_commit, push_event, signature, soul_of};

#[tokio::test(flavor = "multi_thread")]
async fn pushed_commits_are_applied_invalid_ones_skipped_and_the_next_good_one_applied() {
    let Some(fleet) = fleet().await else { return };
    let remote = Remote::new(&fleet.name);
    let first = remote.push_worker("first", BASE_IMAGE);
    let state = remote.state();
    let watch = Watch::start(&remote.url(), &state, &["--interval", "1s"]);
    let agent = format!("{}-worker-alpha", fleet.name);

    watch.wait_applied("the first commit", &first);
    assert_eq!(inspect(&agent, "{{.State.Running}}"), "true");
    assert!(soul_of(&agent).contains("first"));
    let id = container_id(&agent);

    remote.write("workers/alpha.yaml", "apiVersion: hiclaw.io/v1beta1\nkind: Worker\nmetadata:\n  name: alpha\nspec:\n  modle: typo\n");
    let invalid = remote.push("an invalid worker");
    watch.wait_for(
        "the invalid commit to be skipped",
        Duration::from_secs(30),
        || watch.failed().iter().any(|(commit, _)| commit == &invalid),
    );
    let reason = watch
        .failed()
        .into_iter()
        .find(|(commit, _)| commit == &invalid)
        .map(|(_, reason)| reason)
        .unwrap_or_default();
    assert!(
        reason.contains("invalid") && reason.contains("workers/alpha.yaml"),
        "{reason}"
    );
    assert_eq!(watch.last_applied().as_deref(), Some(first.as_str()));
    assert_eq!(
        container_id(&agent),
        id,
        "the fleet keeps running what it has"
    );

    let second = remote.push_worker("second", BASE_IMAGE);
    watch.wait_applied("the next good commit", &second);
    assert!(soul_of(&agent).contains("second"));
    assert_eq!(container_id(&agent), id, "a soul change is a hot push");
    let log = watch.log_text();
    assert!(
        log.contains("\"decision\":\"apply\""),
        "one JSON line per decision:\n{log}"
    );
    assert!(log.contains("\"decision\":\"skip\""), "{log}");
    assert_eq!(watch.terminate(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_webhook_over_git_daemon_triggers_the_fetch_at_once() {
    let Some(fleet) = fleet().await else { return };
    let remote = Remote::new(&fleet.name);
    let first = remote.push_worker("first", BASE_IMAGE);
    let git_daemon = Daemon::start(remote.bare.parent().expect("base"));
    let state = remote.state();
    // An hour between polls: only the webhook can bring the second commit in time.
    let watch = Watch::start(&git_daemon.url("fleet.git"), &state, &["--interval", "1h"]);
    watch.wait_applied("the first commit", &first);

    let second = remote.push_worker("second", BASE_IMAGE);
    let body = push_event(&second);
    let (code, _) = watch.request(
        "POST",
        "/hooks/github",
        &[
            ("X-GitHub-Event", "push"),
            ("X-Hub-Signature-256", &signature("tampered")),
        ],
        &body,
    );
    assert_eq!(code, 401, "a wrong signature is refused");
    let pushed = Instant::now();
    let (code, _) = watch.request(
        "POST",
        "/hooks/github",
        &[
            ("X-GitHub-Event", "push"),
            ("X-Hub-Signature-256", &signature(&body)),
        ],
        &body,
    );
    assert_eq!(code, 202);
    watch.wait_for("the pushed commit", Duration::from_secs(30), || {
        watch.last_applied().as_deref() == Some(second.as_str())
    });
    assert!(pushed.elapsed() < Duration::from_secs(30));
    assert!(soul_of(&format!("{}-worker-alpha", fleet.name)).contains("second"));
    assert_eq!(watch.terminate(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_rollout_is_rolled_back_quarantined_and_remembered_across_a_restart() {
    let Some(fleet) = fleet().await else { return };
    let (remote, watch, first) = following_first_commit(&fleet.name);
    let state = remote.state();
    let agent = format!("{}-worker-alpha", fleet.name);
    let id = container_id(&agent);

    let sick = remote.push_worker("sick", SICK_IMAGE);
    watch.wait_for("the failed rollout", Duration::from_secs(60), || {
        watch.failed().iter().any(|(commit, _)| commit == &sick)
    });
    assert_eq!(
        container_id(&agent),
        id,
        "rolled back to the previous container"
    );
    assert_eq!(inspect(&agent, "{{.State.Running}}"), "true");
    assert_eq!(watch.last_applied().as_deref(), Some(first.as_str()));
    let log = watch.log_text();
    assert!(log.contains("\"decision\":\"quarantine\""), "{log}");
    let (_, metrics) = watch.get("/metrics");
    assert!(metrics.contains("result=\"rolled_back\""), "{metrics}");
    assert_eq!(watch.terminate(), Some(0));

    // A new daemon remembers: the failed commit is not tried again.
    let watch = Watch::start(&remote.url(), &state, &["--interval", "1s"]);
    assert!(watch.failed().iter().any(|(commit, _)| commit == &sick));
    assert_eq!(watch.last_applied().as_deref(), Some(first.as_str()));
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        container_id(&agent),
        id,
        "the quarantined commit is left alone"
    );

    let fixed = remote.push_worker("fixed", BASE_IMAGE);
    watch.wait_applied("the fix", &fixed);
    assert!(soul_of(&agent).contains("fixed"));
    assert_eq!(watch.terminate(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_is_reported_and_corrected_only_with_self_heal() {
    let Some(fleet) = fleet().await else { return };
    let (remote, watch, _first) = following_first_commit(&fleet.name);
    let state = remote.state();
    let agent = format!("{}-worker-alpha", fleet.name);

    docker(&["stop", "-t", "1", &agent]).expect("stop by hand");
    watch.wait_for("drift in /status", Duration::from_secs(30), || {
        watch.status()["drift"]
            .as_array()
            .is_some_and(|drift| drift.iter().any(|entry| entry["agent"] == agent.as_str()))
    });
    let (_, metrics) = watch.get("/metrics");
    assert!(metrics.contains("clawops_drifted_agents 1"), "{metrics}");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        inspect(&agent, "{{.State.Running}}"),
        "false",
        "reported, not corrected"
    );
    assert_eq!(watch.terminate(), Some(0));

    let watch = Watch::start(&remote.url(), &state, &["--interval", "1s", "--self-heal"]);
    watch.wait_for("self-heal", Duration::from_secs(60), || {
        inspect(&agent, "{{.State.Running}}") == "true"
    });
    watch.wait_for("drift cleared", Duration::from_secs(30), || {
        watch.status()["drift"]
            .as_array()
            .is_some_and(Vec::is_empty)
    });
    assert_eq!(watch.terminate(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_mid_rollout_finishes_the_step_releases_the_lock_and_exits_zero() {
    let Some(fleet) = fleet().await else { return };
    let remote = Remote::new(&fleet.name);
    let first = remote.push_worker("first", BASE_IMAGE);
    let state = remote.state();
    let watch = Watch::start(&remote.url(), &state, &["--interval", "1s"]);
    watch.wait_for("the rollout to start", Duration::from_secs(60), || {
        !watch.status()["rollout"].is_null()
    });
    let stopping = Instant::now();
    assert_eq!(watch.terminate(), Some(0));
    assert!(stopping.elapsed() < Duration::from_secs(20));
    let lock = clawops::backend::docker::lock_name(&fleet.name);
    assert!(docker(&["inspect", &lock]).is_err(), "the lock is released");
    let memory: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap_or_else(|_| "{}".into()))
            .expect("state JSON");
    assert!(
        !memory["failed"]
            .as_array()
            .is_some_and(|failed| failed.iter().any(|entry| entry["commit"] == first.as_str())),
        "a rollout stopped on request is not the commit's failure"
    );
}

/// A TCP port on 127.0.0.1 that forwards every connection to the local Docker socket once
/// it is opened: until then nothing listens there and the engine is unreachable.
struct EngineProxy {
    port: u16,
}

impl EngineProxy {
    fn reserve() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("free port")
            .port();
        Self { port }
    }

    fn docker_host(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    /// Starts forwarding (on threads that end with the test process).
    fn open(&self) {
        let listener = std::net::TcpListener::bind(("127.0.0.1", self.port)).expect("bind proxy");
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(engine) = std::os::unix::net::UnixStream::connect("/var/run/docker.sock")
                else {
                    continue;
                };
                let (Ok(mut client_reader), Ok(mut engine_writer)) =
                    (client.try_clone(), engine.try_clone())
                else {
                    continue;
                };
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut client_reader, &mut engine_writer);
                    let _ = engine_writer.shutdown(std::net::Shutdown::Write);
                });
                let (mut engine_reader, mut client_writer) = (engine, client);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut engine_reader, &mut client_writer);
                    let _ = client_writer.shutdown(std::net::Shutdown::Write);
                });
            }
        });
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_engine_is_tried_again_with_backoff_and_the_commit_is_not_quarantined() {
    let Some(fleet) = fleet().await else { return };
    let remote = Remote::new(&fleet.name);
    let first = remote.push_worker("first", BASE_IMAGE);
    let proxy = EngineProxy::reserve();
    let docker_host = proxy.docker_host();
    // A long interval: only the backoff can bring the retries this soon.
    let watch = Watch::start_with_env(
        &remote.url(),
        &remote.state(),
        &["--interval", "1h"],
        &[("DOCKER_HOST", &docker_host)],
    );
    watch.wait_for("two retries", Duration::from_secs(30), || {
        watch
            .log_text()
            .matches("transient failure; trying again")
            .count()
            >= 2
    });
    let log = watch.log_text();
    assert!(log.contains("\"retry_in_seconds\":1.0"), "{log}");
    assert!(
        log.contains("\"retry_in_seconds\":2.0"),
        "the delay doubles:\n{log}"
    );
    assert!(watch.failed().is_empty(), "not the commit's fault: {log}");
    assert_eq!(watch.last_applied(), None);

    proxy.open();
    watch.wait_applied("the commit once the engine answers", &first);
    assert!(watch.failed().is_empty());
    let agent = format!("{}-worker-alpha", fleet.name);
    assert_eq!(inspect(&agent, "{{.State.Running}}"), "true");
    assert_eq!(watch.terminate(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_webhook_secret_file_turns_the_webhook_off_with_a_warning() {
    // The in-cluster install mounts an optional Secret: until it is created, the file is
    // missing and the daemon only polls.
    let Some(fleet) = fleet().await else { return };
    let remote = Remote::new(&fleet.name);
    let first = remote.push_worker("first", BASE_IMAGE);
    let missing = remote.state().with_extension("no-such-secret");
    let watch = Watch::start_with_secret_file(
        &remote.url(),
        &remote.state(),
        &["--interval", "1s"],
        &[],
        &missing,
    );
    watch.wait_applied("the first commit", &first);
    let body = push_event(&first);
    let (code, _) = watch.request(
        "POST",
        "/hooks/github",
        &[
            ("X-GitHub-Event", "push"),
            ("X-Hub-Signature-256", &signature(&body)),
        ],
        &body,
    );
    assert_eq!(code, 404, "no secret, no webhook");
    assert!(
        watch.log_text().contains("the webhook is off"),
        "{}",
        watch.log_text()
    );
    assert_eq!(watch.terminate(), Some(0));
}
