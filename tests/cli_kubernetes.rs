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

/// A kubeconfig whose `exec:` plugin creates `marker` before handing out a token.
fn kubeconfig_running(marker: &Path) -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port();
    let credential = r#"{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"t"}}"#;
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: repo\n  cluster:\n    server: http://127.0.0.1:{port}\ncontexts:\n- name: repo\n  context: {{cluster: repo, user: repo}}\ncurrent-context: repo\nusers:\n- name: repo\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: /bin/sh\n      args: [\"-c\", \"touch '{}'; echo '{credential}'\"]\n      interactiveMode: Never\n",
        marker.display()
    )
}

#[test]
fn a_kubeconfig_named_by_the_repository_is_never_used() {
    let home = tempfile::tempdir().expect("home");
    let api = FakeApi::new();
    let kubeconfig = api.serve(home.path());
    let marker = home.path().join("the-repository-ran-a-command");
    let repository = support::Repo::new("fleet");
    repository.copy_folder(&example("hiclaw-fleet"), "");
    repository.write("deploy/kubeconfig", kubeconfig_running(&marker));
    let config = std::fs::read_to_string(repository.path().join("clawops.toml")).expect("toml");
    repository.write(
        "clawops.toml",
        format!("{config}\n[kubernetes]\nkubeconfig = \"deploy/kubeconfig\"\n"),
    );
    repository.commit("a kubeconfig in the repository");
    let line = config.lines().count() + 3;

    // In a checkout, where the relative path would resolve: the operator's cluster is used.
    for command in ["plan", "status"] {
        clawops_in(home.path())
            .current_dir(repository.path())
            .env("KUBECONFIG", &kubeconfig)
            .args([command, "--backend", "kubernetes", "."])
            .assert()
            .success();
        assert!(
            !marker.exists(),
            "{command} ran the repository's exec plugin"
        );
    }
    clawops_in(home.path())
        .current_dir(repository.path())
        .args(["validate", "."])
        .assert()
        .success()
        .stdout(contains(format!("clawops.toml:{line}:14")))
        .stdout(contains("ignored-connection-setting"))
        .stdout(contains("pass --kubeconfig or set KUBECONFIG"));
    assert!(!marker.exists());
}
