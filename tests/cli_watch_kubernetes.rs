//! `clawops watch --backend kubernetes` end to end: the daemon follows a real repository
//! over `file://` and applies each commit to the in-memory API server (served over HTTP,
//! see `kubernetes_support`): the first commit creates the fleet, a pushed SOUL.md change
//! is a ConfigMap update, and `--self-heal` reverts a Deployment edited by hand.
#![cfg(feature = "kubernetes")]

mod kubernetes_support;
mod support;

use std::process::{Command, Stdio};

use kubernetes_support::{FakeApi, object_path};
use serde_json::json;
use support::git::Repo;
use support::{KilledOnDrop, example};

#[test]
fn the_daemon_applies_pushes_and_heals_drift_on_a_cluster() {
    let home = tempfile::tempdir().expect("home");
    let api = FakeApi::new();
    let kubeconfig = api.serve(home.path());
    let repository = Repo::new("fleet");
    repository.copy_folder(&example("hiclaw-fleet"), "");
    repository.commit("the example fleet");
    let branch = repository.git(&["rev-parse", "--abbrev-ref", "HEAD"]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_clawops"))
        .env("HOME", home.path())
        .env_remove("KUBECONFIG")
        .args(["--backend", "kubernetes", "--kubeconfig"])
        .arg(&kubeconfig)
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
    let _daemon = KilledOnDrop(child);

    let deployment = object_path("apps/v1", "deployments", "hiclaw-worker-alpha-dev");
    api.wait_for(&deployment, "the first apply", |_| true);
    let workspace = object_path("v1", "configmaps", "hiclaw-worker-alpha-dev-workspace");

    let team = repository.path().join("teams/alpha.yaml");
    let text = std::fs::read_to_string(&team).expect("team");
    let changed = text.replace(
        "You write and refactor code for team alpha.",
        "A pushed soul.",
    );
    assert_ne!(text, changed, "the team file has a soul to change");
    std::fs::write(&team, changed).expect("write team");
    repository.commit("a new soul");
    api.wait_for(&workspace, "the hot push", |config_map| {
        config_map["data"]["SOUL.md"]
            .as_str()
            .is_some_and(|soul| soul.contains("A pushed soul."))
    });

    api.edit(&deployment, |object| {
        object["spec"]["template"]["spec"]["containers"][0]["workingDir"] = json!("/elsewhere");
    });
    api.wait_for(&deployment, "self-heal", |object| {
        object["spec"]["template"]["spec"]["containers"][0]["workingDir"]
            == "/root/hiclaw-fs/agents/alpha-dev"
    });
}
