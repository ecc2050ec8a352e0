//! `clawops watch` end to end: a real bare repository that commits are pushed to from a
//! second clone (over `file://` and a `git daemon`), the daemon binary applying them to
//! the real Docker Engine, its HTTP status and signed webhook, quarantine, memory across
//! restarts, drift, and SIGTERM.
#![cfg(feature = "docker")]

mod docker_support;
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use docker_support::{BASE_IMAGE, SICK_IMAGE, container_id, docker, fleet, inspect};
use support::git::{Daemon, git};

const SECRET: &str = "a webhook secret for the tests";

/// A bare repository, and a clone of it that commits are pushed from.
struct Remote {
    _temp: tempfile::TempDir,
    bare: PathBuf,
    clone: PathBuf,
    fleet: String,
}

impl Remote {
    fn new(fleet: &str) -> Self {
        let temp = tempfile::tempdir().expect("temp dir");
        let bare = temp.path().join("fleet.git");
        let clone = temp.path().join("clone");
        std::fs::create_dir_all(&bare).expect("bare dir");
        git(&bare, &["init", "-q", "--bare"]);
        git(
            temp.path(),
            &["clone", "-q", &bare.to_string_lossy(), "clone"],
        );
        Self {
            _temp: temp,
            bare,
            clone,
            fleet: fleet.to_owned(),
        }
    }

    /// Where a daemon for this remote keeps its memory.
    fn state(&self) -> PathBuf {
        self.bare.with_extension("state.json")
    }

    fn url(&self) -> String {
        format!("file://{}", self.bare.display())
    }

    /// Commits a fleet of one worker (`soul`, `image`, health gate settings) and pushes it;
    /// returns the commit id.
    fn push_worker(&self, soul: &str, image: &str) -> String {
        let fleet = &self.fleet;
        self.write(
            "clawops.toml",
            &format!(
                "[fleet]\nname = \"{fleet}\"\nprefix = \"{fleet}-\"\n\n[docker]\nnetwork = \"{fleet}-net\"\n\n[rollout]\nhealth_timeout = \"6s\"\non_failure = \"rollback\"\n"
            ),
        );
        self.write(
            "images.yaml",
            &format!(
                "apiVersion: clawops.dev/v1alpha1\nkind: ImageSet\nmetadata:\n  name: test\nspec:\n  runtimes:\n    openclaw: {image}\n  manager: {BASE_IMAGE}\n  pullPolicy: Never\n"
            ),
        );
        self.write(
            "workers/alpha.yaml",
            &format!(
                "apiVersion: hiclaw.io/v1beta1\nkind: Worker\nmetadata:\n  name: alpha\nspec:\n  model: qwen3.5-plus\n  runtime: openclaw\n  soul: {soul}\n"
            ),
        );
        self.push(soul)
    }

    fn write(&self, relative: &str, content: &str) {
        let path = self.clone.join(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("folders");
        std::fs::write(path, content).expect("write");
    }

    fn push(&self, subject: &str) -> String {
        git(&self.clone, &["add", "-A"]);
        git(
            &self.clone,
            &["commit", "-q", "--allow-empty", "-m", subject],
        );
        git(&self.clone, &["push", "-q", "origin", "HEAD:main"]);
        git(&self.clone, &["rev-parse", "HEAD"])
    }
}

/// A running `clawops watch`, killed when dropped.
struct Watch {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Watch {
    fn start(url: &str, state: &Path, extra: &[&str]) -> Self {
        Self::start_with_env(url, state, extra, &[])
    }

    /// Like [`Watch::start`], with extra environment variables.
    fn start_with_env(url: &str, state: &Path, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("free port")
            .port();
        let log = state.with_extension(format!("{port}.log"));
        let secret = state.with_extension("secret");
        std::fs::write(&secret, format!("{SECRET}\n")).expect("secret file");
        let child = Command::new(env!("CARGO_BIN_EXE_clawops"))
            .args(["watch", url, "--branch", "main", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--state-file")
            .arg(state)
            .arg("--cache-dir")
            .arg(state.with_extension("cache"))
            .arg("--webhook-secret-file")
            .arg(&secret)
            .args(["--log-format", "json"])
            .args(extra)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("clawops watch starts");
        let watch = Self { child, port, log };
        watch.wait_for("the server to answer", Duration::from_secs(20), || {
            watch.get("/healthz").0 == 200
        });
        watch
    }

    /// (status code, body) of a request to the daemon.
    fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String) {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return (0, String::new());
        };
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(body);
        if stream.write_all(request.as_bytes()).is_err() {
            return (0, String::new());
        }
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        let code = response
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default();
        (code, body)
    }

    fn get(&self, path: &str) -> (u16, String) {
        self.request("GET", path, &[], "")
    }

    fn status(&self) -> serde_json::Value {
        let (code, body) = self.get("/status");
        assert_eq!(code, 200, "GET /status");
        // The body may be chunked: take the JSON object inside.
        let start = body.find('{').expect("JSON in /status");
        let end = body.rfind('}').expect("JSON in /status");
        serde_json::from_str(&body[start..=end]).expect("status JSON")
    }

    fn last_applied(&self) -> Option<String> {
        self.status()["last_applied"]["commit"]
            .as_str()
            .map(str::to_owned)
    }

    fn failed(&self) -> Vec<(String, String)> {
        self.status()["failed"]
            .as_array()
            .map(|failed| {
                failed
                    .iter()
                    .map(|entry| {
                        (
                            entry["commit"].as_str().unwrap_or_default().to_owned(),
                            entry["reason"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits until the daemon reports `commit` as its last applied commit.
    fn wait_applied(&self, what: &str, commit: &str) {
        self.wait_for(what, Duration::from_secs(60), || {
            self.last_applied().as_deref() == Some(commit)
        });
    }

    fn wait_for(&self, what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        while !done() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; daemon log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and returns the exit code.
    fn terminate(mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A remote with a first commit, and a daemon (polling every second) that applied it.
fn following_first_commit(fleet: &str) -> (Remote, Watch, String) {
    let remote = Remote::new(fleet);
    let first = remote.push_worker("first", BASE_IMAGE);
    let watch = Watch::start(&remote.url(), &remote.state(), &["--interval", "1s"]);
    watch.wait_applied("the first commit", &first);
    (remote, watch, first)
}

/// `sha256=<hex>` of `body` with the tests' secret, computed by `openssl`-free means: the
/// same HMAC the daemon checks, from Python's standard library (independent of our code).
fn signature(body: &str) -> String {
    let output = Command::new("python3")
        .args([
            "-c",
            "import hmac,hashlib,sys;print(hmac.new(sys.argv[1].encode(),sys.argv[2].encode(),hashlib.sha256).hexdigest())",
            SECRET,
            body,
        ])
        .output()
        .expect("python3 computes the HMAC");
    format!("sha256={}", String::from_utf8_lossy(&output.stdout).trim())
}

fn push_event(commit: &str) -> String {
    format!(
        "{{\"ref\":\"refs/heads/main\",\"before\":\"0000000000000000000000000000000000000000\",\"after\":\"{commit}\",\"repository\":{{\"full_name\":\"acme/fleet\"}}}}"
    )
}

fn soul_of(container: &str) -> String {
    docker(&[
        "exec",
        container,
        "cat",
        "/root/hiclaw-fs/agents/alpha/SOUL.md",
    ])
    .unwrap_or_default()
}

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
