//! `clawops apply`, `plan`, `status` and `unlock` with `--backend kubernetes`, end to end:
//! the binary finds the cluster through `--kubeconfig` or `KUBECONFIG` and talks HTTP to
//! the in-memory API server of `kubernetes_support`.
#![cfg(feature = "kubernetes")]

mod kubernetes_support;
mod support;

use std::path::Path;

use kubernetes_support::{FakeApi, object_path};
use predicates::str::contains;
use serde_json::json;
use support::{clawops, example};

/// The binary with a private HOME (no ~/.kube/config) and no KUBECONFIG.
fn clawops_in(home: &Path) -> assert_cmd::Command {
    let mut command = clawops();
    command.env("HOME", home).env_remove("KUBECONFIG");
    command
}

#[test]
fn apply_then_plan_and_status_against_a_cluster() {
    let home = tempfile::tempdir().expect("home");
    let api = FakeApi::new();
    let kubeconfig = api.serve(home.path());
    let fleet = example("hiclaw-fleet");
    clawops_in(home.path())
        .args(["apply", "--backend", "kubernetes", "--yes", "--kubeconfig"])
        .arg(&kubeconfig)
        .arg(&fleet)
        .assert()
        .success()
        .stdout(contains("kubernetes http://127.0.0.1"))
        .stdout(contains("~ team/alpha  update access: new team"));
    let deployment = object_path("apps/v1", "deployments", "hiclaw-worker-alpha-dev");
    assert!(api.object(&deployment).is_some(), "{:?}", api.paths());
    assert!(
        api.object(&object_path("v1", "configmaps", "clawops-inventory"))
            .is_some()
    );
    assert!(
        api.object(&object_path(
            "coordination.k8s.io/v1",
            "leases",
            "clawops-lock"
        ))
        .is_none(),
        "the lock is released"
    );

    // KUBECONFIG instead of --kubeconfig; nothing to do after the apply.
    clawops_in(home.path())
        .env("KUBECONFIG", &kubeconfig)
        .args(["plan", "--backend", "kubernetes", "--detailed-exitcode"])
        .arg(&fleet)
        .assert()
        .code(0);
    // ~/.kube/config when neither is given.
    std::fs::create_dir_all(home.path().join(".kube")).expect("~/.kube");
    std::fs::copy(&kubeconfig, home.path().join(".kube/config")).expect("~/.kube/config");
    clawops_in(home.path())
        .args(["status", "--backend", "kubernetes"])
        .arg(&fleet)
        .assert()
        .success()
        .stdout(contains("hiclaw-worker-alpha-dev"));

    api.edit(&deployment, |object| {
        object["spec"]["template"]["spec"]["containers"][0]["workingDir"] = json!("/elsewhere");
    });
    clawops_in(home.path())
        .env("KUBECONFIG", &kubeconfig)
        .args(["plan", "--backend", "kubernetes", "--detailed-exitcode"])
        .arg(&fleet)
        .assert()
        .code(2)
        .stdout(contains(
            "edited outside clawops: spec.template.spec.containers.0.workingDir",
        ));
    clawops_in(home.path())
        .args(["unlock", "--backend", "kubernetes", "--kubeconfig"])
        .arg(&kubeconfig)
        .arg(&fleet)
        .assert()
        .success();
}

#[test]
fn clawops_toml_chooses_the_kubernetes_backend() {
    let home = tempfile::tempdir().expect("home");
    let api = FakeApi::new();
    let kubeconfig = api.serve(home.path());
    let fleet = home.path().join("fleet");
    support::copy_recursively(&example("hiclaw-fleet"), &fleet);
    let config = fleet.join("clawops.toml");
    let text = std::fs::read_to_string(&config).expect("clawops.toml");
    let text = text.replace("backend = \"docker\"", "backend = \"kubernetes\"");
    std::fs::write(&config, text).expect("write clawops.toml");
    clawops_in(home.path())
        .env("KUBECONFIG", &kubeconfig)
        .args(["apply", "--yes"])
        .arg(&fleet)
        .assert()
        .success()
        .stdout(contains("kubernetes http://127.0.0.1"));
    let deployment = object_path("apps/v1", "deployments", "hiclaw-manager");
    assert!(api.object(&deployment).is_some());
}

#[test]
fn without_any_cluster_configuration_the_error_says_where_it_looked() {
    let home = tempfile::tempdir().expect("home");
    clawops_in(home.path())
        .env_remove("KUBERNETES_SERVICE_HOST")
        .args(["plan", "--backend", "kubernetes"])
        .arg(example("hiclaw-fleet"))
        .assert()
        .code(1)
        .stderr(contains("KUBECONFIG, ~/.kube/config or in-cluster"));
}
