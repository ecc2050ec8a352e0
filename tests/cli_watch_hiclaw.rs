//! `clawops watch --backend hiclaw` end to end: the daemon follows a real repository over
//! `file://` and writes each commit to the simulated HiClaw controller (Kubernetes
//! transport): the first commit creates the fleet, a pushed SOUL change reaches the Team
//! member, `--self-heal` restores a member spec edited by hand, an agent the fleet put
//! to sleep at run time stays asleep through every cycle, and a commit whose member never
//! gets ready is rolled back and quarantined.
#![cfg(feature = "hiclaw")]

mod kubernetes_support;
mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kubernetes_support::{FakeApi, hiclaw_path};
use serde_json::{Value, json};
use support::git::Repo;
use support::{KilledOnDrop, example};

fn worker<'a>(team: &'a Value, name: &str) -> &'a Value {
    team["spec"]["workers"]
        .as_array()
        .and_then(|workers| workers.iter().find(|worker| worker["name"] == name))
        .unwrap_or(&Value::Null)
}

/// The example fleet on the hiclaw target (with `edit` applied to its `clawops.toml`) in
/// a repository the daemon follows over `file://`, writing to the simulated controller.
struct Following {
    api: FakeApi,
    repository: Repo,
    port: u16,
    _daemon: KilledOnDrop,
    _home: tempfile::TempDir,
}

fn follow(edit: impl Fn(&str) -> String) -> Following {
    let home = tempfile::tempdir().expect("home");
    let api = FakeApi::new();
    api.set_controller("hiclaw-controller");
    api.set_ready_delay(Duration::from_millis(20));
    let kubeconfig = api.serve(home.path());
    let repository = Repo::new("fleet");
    repository.copy_folder(&example("hiclaw-fleet"), "");
    let config = repository.path().join("clawops.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(
        &config,
        edit(&text.replace("backend = \"docker\"", "backend = \"hiclaw\"")),
    )
    .expect("write config");
    repository.commit("the example fleet on a HiClaw controller");
    let branch = repository.git(&["rev-parse", "--abbrev-ref", "HEAD"]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_clawops"))
        .env("HOME", home.path())
        .env("KUBECONFIG", &kubeconfig)
        .arg("watch")
        .arg(format!("file://{}", repository.path().display()))
        .args(["--branch", branch.trim(), "--interval", "1s", "--self-heal"])
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--state-file")
        .arg(home.path().join("watch.json"))
        .arg("--cache-dir")
        .arg(home.path().join("cache"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start clawops watch");
    Following {
        api,
        repository,
        port,
        _daemon: KilledOnDrop(child),
        _home: home,
    }
}

impl Following {
    /// The daemon's `/status`.
    fn status(&self) -> Value {
        reqwest::blocking::get(format!("http://127.0.0.1:{}/status", self.port))
            .and_then(|response| response.bytes())
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or(Value::Null)
    }
}

#[test]
fn the_daemon_writes_pushes_heals_edits_and_leaves_runtime_sleep_alone() {
    let following = follow(str::to_owned);
    let (api, repository) = (&following.api, &following.repository);

    api.wait_for(&hiclaw_path("teams", "alpha"), "the first apply", |team| {
        worker(team, "alpha-dev").is_object()
    });
    api.sleep_at_runtime("teams", "alpha", Some("alpha-dev"));

    let team = repository.path().join("teams/alpha.yaml");
    let text = std::fs::read_to_string(&team).expect("team");
    let changed = text.replace("You test what alpha-dev builds", "A pushed soul: test");
    assert_ne!(text, changed, "the team file has a soul to change");
    std::fs::write(&team, changed).expect("write team");
    repository.commit("a new soul for alpha-qa");
    api.wait_for(&hiclaw_path("teams", "alpha"), "the pushed soul", |team| {
        worker(team, "alpha-qa")["soul"]
            .as_str()
            .is_some_and(|soul| soul.contains("A pushed soul"))
    });

    api.edit(&hiclaw_path("teams", "alpha"), |object| {
        if let Some(workers) = object["spec"]["workers"].as_array_mut() {
            for worker in workers
                .iter_mut()
                .filter(|worker| worker["name"] == "alpha-qa")
            {
                worker["model"] = json!("edited-by-hand");
            }
        }
    });
    api.wait_for(
        &hiclaw_path("teams", "alpha"),
        "self-heal of the edited model",
        |team| worker(team, "alpha-qa")["model"] == "qwen3.5-plus",
    );
    assert_eq!(
        worker(
            &api.hiclaw_object("teams", "alpha").expect("alpha"),
            "alpha-dev"
        )["state"],
        "Sleeping",
        "the agent put to sleep at run time was never woken"
    );
}

#[test]
fn a_commit_whose_member_never_gets_ready_is_rolled_back_and_quarantined() {
    let following =
        follow(|text| text.replace("on_failure = \"halt\"", "on_failure = \"rollback\""));
    let (api, repository) = (&following.api, &following.repository);
    api.wait_for(&hiclaw_path("teams", "alpha"), "the first apply", |team| {
        worker(team, "alpha-dev").is_object()
    });
    let team = repository.path().join("teams/alpha.yaml");
    let text = std::fs::read_to_string(&team).expect("team");
    let broken = text
        .replace("healthTimeout: 90s", "healthTimeout: 2s")
        .replace(
            "    - name: alpha-dev\n      model: qwen3.5-plus\n",
            "    - name: alpha-dev\n      model: qwen3.5-plus\n      image: hiclaw/worker:broken\n",
        );
    assert_ne!(text, broken, "the team file has a member to break");
    std::fs::write(&team, broken).expect("write team");
    let commit = repository.commit("alpha-dev on an image that never gets ready");
    let started = Instant::now();
    let failed = loop {
        let status = following.status();
        let failed = status["failed"].as_array().cloned().unwrap_or_default();
        if failed
            .iter()
            .any(|entry| entry["commit"] == commit.as_str())
        {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the commit was not quarantined: {status}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_ne!(failed["last_applied"]["commit"], commit.as_str());
    let alpha = api.hiclaw_object("teams", "alpha").expect("alpha");
    assert_eq!(
        worker(&alpha, "alpha-dev")["image"],
        "higress-registry.cn-hangzhou.cr.aliyuncs.com/higress/hiclaw-worker:v1.1.2",
        "rolled back to the spec before"
    );
    // Quarantined: later cycles (and self-heal) leave it alone.
    let writes = api.member_history().len();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(api.member_history().len(), writes, "nothing written since");
}
