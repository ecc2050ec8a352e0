//! The Kubernetes backend's requests to the API server, at the HTTP layer (`tower-test`,
//! see `kubernetes_support`): the exact server-side-apply requests, conflicts, dry runs
//! for planning, hot pushes, secrets, and that planning matches Docker's.
#![cfg(feature = "kubernetes")]

mod kubernetes_support;

use clawops::backend::{Backend, BackendError};
use clawops::desired::{Desired, EnvVar};
use clawops::observe::Observed;
use clawops::plan::{Cause, Drift, Op, Plan, Resource};
use kubernetes_support::fleet::{
    DEV, agent, apply_all, deployment_path, example, observe, patches, plan, resolved,
};
use kubernetes_support::{FakeApi, NAMESPACE, Recorded, object_path};
use serde_json::json;

#[tokio::test]
async fn apply_is_one_server_side_apply_per_object_with_field_manager_clawops() {
    let api = FakeApi::new();
    let backend = api.backend("acme", false);
    let desired = example();
    let dev = agent(&desired, DEV);
    backend.prepare(&[dev]).await.expect("prepare");
    backend
        .create_agent(dev, Some("abc123"))
        .await
        .expect("create");
    let requests = api.requests();
    let lines: Vec<String> = requests.iter().map(Recorded::line).collect();
    assert_eq!(
        lines,
        [
            format!("GET /api/v1/namespaces/{NAMESPACE}"),
            "POST /api/v1/namespaces".to_owned(),
            format!("GET /api/v1/namespaces/{NAMESPACE}/configmaps/clawops-inventory"),
            format!(
                "PATCH {}",
                object_path(
                    "networking.k8s.io/v1",
                    "networkpolicies",
                    "hiclaw-team-alpha"
                )
            ),
            format!("PATCH {}", object_path("v1", "serviceaccounts", DEV)),
            format!(
                "PATCH {}",
                object_path("v1", "secrets", &format!("{DEV}-clawops"))
            ),
            format!(
                "PATCH {}",
                object_path("v1", "configmaps", &format!("{DEV}-workspace"))
            ),
            format!("PATCH {}", deployment_path(DEV)),
        ]
    );
    for patch in patches(&requests) {
        assert_eq!(patch.content_type, "application/apply-patch+yaml");
        assert_eq!(
            patch.query.get("fieldManager").map(String::as_str),
            Some("clawops")
        );
        assert!(!patch.query.contains_key("force"), "not forced by default");
        assert!(!patch.query.contains_key("dryRun"));
    }
    let body = patches(&requests)
        .last()
        .and_then(|patch| patch.body.clone())
        .expect("body");
    assert_eq!(body["spec"]["replicas"], 1);
    assert_eq!(body["spec"]["strategy"]["type"], "Recreate");
    let pod = &body["spec"]["template"];
    assert_eq!(pod["metadata"]["labels"]["app"], "hiclaw-worker");
    assert_eq!(pod["metadata"]["labels"]["hiclaw.io/team"], "alpha");
    assert_eq!(pod["metadata"]["labels"]["clawops.dev/fleet"], "acme");
    assert_eq!(
        pod["metadata"]["annotations"]["clawops.dev/runtime-hash"],
        json!(dev.runtime_hash)
    );
    assert_eq!(pod["spec"]["automountServiceAccountToken"], false);
    let container = &pod["spec"]["containers"][0];
    assert_eq!(container["name"], "worker");
    assert_eq!(container["resources"]["requests"]["cpu"], "100m");
    assert_eq!(container["resources"]["limits"]["memory"], "2Gi");
    assert_eq!(container["workingDir"], "/root/hiclaw-fs/agents/alpha-dev");
    assert_eq!(
        body["metadata"]["annotations"]["clawops.dev/commit"],
        "abc123"
    );
}

#[tokio::test]
async fn a_conflict_with_another_manager_is_reported_and_forced_only_when_asked() {
    let api = FakeApi::new();
    let desired = example();
    let dev = agent(&desired, DEV);
    api.conflict_on(&deployment_path(DEV));
    let careful = api.backend("acme", false);
    let error = careful.create_agent(dev, None).await.expect_err("conflict");
    let BackendError::Conflict { object, message } = &error else {
        panic!("not a conflict: {error:?}");
    };
    assert_eq!(object, &format!("Deployment/{DEV}"));
    assert!(message.contains("kubectl-edit"), "{message}");
    assert!(error.to_string().contains("owned by another manager"));
    api.clear_requests();
    let forcing = api.backend("acme", true);
    forcing.create_agent(dev, None).await.expect("forced");
    for patch in patches(&api.requests()) {
        assert_eq!(patch.query.get("force").map(String::as_str), Some("true"));
        assert_eq!(
            patch.query.get("fieldManager").map(String::as_str),
            Some("clawops")
        );
    }
}

#[tokio::test]
async fn planning_reads_agents_from_labels_and_finds_hand_edits_by_dry_run() {
    let api = FakeApi::new();
    let backend = api.backend("acme", false);
    let desired = example();
    apply_all(&backend, &desired).await;
    let observed = observe(&backend, &desired).await;
    let managed = desired
        .agents
        .iter()
        .filter(|agent| agent.container_managed)
        .count();
    assert_eq!(observed.agents.len(), managed);
    assert!(
        !plan(&desired, &observed).summary.has_changes(),
        "applied exactly: nothing to do"
    );

    api.clear_requests();
    let before = api.object(&deployment_path(DEV)).expect("deployment");
    api.edit(&deployment_path(DEV), |deployment| {
        deployment["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] =
            json!("by-hand");
    });
    let observed = observe(&backend, &desired).await;
    let dry_runs: Vec<Recorded> = api
        .requests()
        .into_iter()
        .filter(|request| request.query.get("dryRun").map(String::as_str) == Some("All"))
        .collect();
    assert_eq!(dry_runs.len(), managed, "one dry run per Deployment");
    assert!(dry_runs.iter().all(|request| request.method == "PATCH"
        && request.query.get("fieldManager").map(String::as_str) == Some("clawops")));
    let after = api.object(&deployment_path(DEV)).expect("deployment");
    assert_ne!(
        before["metadata"]["resourceVersion"],
        after["metadata"]["resourceVersion"]
    );
    assert_eq!(
        after["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"], "by-hand",
        "a dry run changes nothing"
    );
    let plan = plan(&desired, &observed);
    let step = plan
        .steps
        .iter()
        .find(|step| step.resource.is_agent(DEV))
        .expect("a step for dev");
    assert_eq!(step.op, Op::RecreateAgent);
    assert_eq!(
        step.causes,
        vec![Cause::Drift(Drift::EditedOutsideClawops {
            fields: vec!["spec.template.spec.containers.0.env.0.value".to_owned()]
        })]
    );
}

#[tokio::test]
async fn a_config_change_is_a_configmap_update_and_shows_its_diff() {
    let api = FakeApi::new();
    let backend = api.backend("acme", false);
    let desired = example();
    apply_all(&backend, &desired).await;
    let mut changed = desired.clone();
    let index = changed
        .agents
        .iter()
        .position(|agent| agent.name == DEV)
        .expect("dev");
    changed.agents[index]
        .workspace
        .insert("SOUL.md".to_owned(), "A new soul.\n".to_owned());
    changed.agents[index].config_hash =
        clawops::desired::config_hash(&changed.agents[index].workspace);
    let plan = plan(&changed, &observe(&backend, &changed).await);
    let steps: Vec<(&Op, String)> = plan
        .steps
        .iter()
        .map(|step| (&step.op, step.resource.to_string()))
        .collect();
    assert_eq!(steps, [(&Op::PushConfig, DEV.to_owned())]);
    assert!(
        matches!(&plan.steps[0].causes[0], Cause::FileChanged { path, .. } if path == "SOUL.md"),
        "{:?}",
        plan.steps[0].causes
    );
    api.clear_requests();
    backend
        .push_config(&changed.agents[index], Some("def456"))
        .await
        .expect("push");
    let lines: Vec<String> = api.requests().iter().map(Recorded::line).collect();
    assert!(
        lines.iter().all(|line| !line.contains("/deployments/")),
        "the pod is not touched: {lines:?}"
    );
    let config_map = api
        .object(&object_path(
            "v1",
            "configmaps",
            &format!("{DEV}-workspace"),
        ))
        .expect("configmap");
    assert_eq!(config_map["data"]["SOUL.md"], "A new soul.\n");
    assert!(
        !plan_of_changes(&backend, &changed).await,
        "pushed: nothing left"
    );
}

async fn plan_of_changes(backend: &impl Backend, desired: &Desired) -> bool {
    plan(desired, &observe(backend, desired).await)
        .summary
        .has_changes()
}

#[tokio::test]
async fn a_missing_secret_key_is_named_before_anything_changes() {
    let api = FakeApi::new();
    let backend = api.backend("acme", false);
    let (desired, index) = with_env(DEV, "SEARCH_PASSWORD", "search-password", true);
    api.put(&object_path("v1", "secrets", "clawops-secrets"), json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "clawops-secrets", "namespace": NAMESPACE}, "data": {"other": "eA=="}}));
    let error = backend
        .prepare(&[&desired.agents[index]])
        .await
        .expect_err("missing key");
    assert!(
        matches!(&error, BackendError::SecretKeyMissing { key, secret, .. } if key == "search-password" && secret == "clawops-secrets"),
        "{error:?}"
    );
    assert!(patches(&api.requests()).is_empty(), "nothing was applied");
    api.edit(&object_path("v1", "secrets", "clawops-secrets"), |secret| {
        secret["data"]["search-password"] = json!("eA==");
    });
    backend
        .prepare(&[&desired.agents[index]])
        .await
        .expect("present now");
}

#[tokio::test]
async fn settling_before_confirmation_changes_nothing() {
    let api = FakeApi::new();
    let backend = api.backend("acme", false);
    backend.settle_interrupted().await.expect("settle");
    assert!(api.requests().is_empty(), "{:?}", api.requests());
}

#[test]
fn a_tls_client_builds_with_the_one_crypto_backend() {
    // kube picks rustls' crypto provider when it builds the TLS connector; with two
    // providers compiled in and none chosen, this panics.
    let folder = tempfile::tempdir().expect("folder");
    let kubeconfig = folder.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:6443\nusers:\n- name: u\n  user: {token: t}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\n",
    )
    .expect("write");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let config = runtime
        .block_on(clawops::backend::kubernetes::load_config(
            &kubeconfig.to_string_lossy(),
        ))
        .expect("config");
    assert_eq!(config.cluster_url.to_string(), "https://127.0.0.1:6443/");
    let _guard = runtime.enter();
    kube::Client::try_from(config).expect("a TLS client");
}

#[tokio::test]
async fn an_upgrade_plans_the_same_operations_and_causes_as_on_docker() {
    let api = FakeApi::new();
    let backend = api.backend("acme", false);
    let desired = example();
    apply_all(&backend, &desired).await;
    let folder = tempfile::tempdir().expect("folder");
    let status = std::process::Command::new("cp")
        .args(["-r", "examples/hiclaw-fleet/."])
        .arg(folder.path())
        .status()
        .expect("copy");
    assert!(status.success());
    let images = folder.path().join("images.yaml");
    let text = std::fs::read_to_string(&images).expect("images");
    std::fs::write(
        &images,
        text.replace("hiclaw-worker:v1.1.2", "hiclaw-worker:v1.2.0"),
    )
    .expect("write");
    let mut upgraded = resolved(&folder.path().to_string_lossy());
    upgraded.fleet = desired.fleet.clone();
    let on_cluster = plan(&upgraded, &observe(&backend, &upgraded).await);
    // What the Docker backend reports after applying `desired` exactly.
    let as_applied = plan(&upgraded, &Observed::from_desired(&desired));
    let steps = |plan: &Plan| -> Vec<(Op, Resource, Vec<Cause>)> {
        plan.steps
            .iter()
            .filter(|step| step.op != Op::UpdateTeamAccess)
            .map(|step| (step.op, step.resource.clone(), step.causes.clone()))
            .collect()
    };
    // Only the cluster has access rules: the recreated team's Role follows its new pods.
    let access: Vec<(String, &Vec<Cause>)> = on_cluster
        .steps
        .iter()
        .filter(|step| step.op == Op::UpdateTeamAccess)
        .map(|step| (step.resource.to_string(), &step.causes))
        .collect();
    assert_eq!(
        access,
        [("team/alpha".to_owned(), &vec![Cause::TeamPodsChange])]
    );
    assert!(on_cluster.summary.has_changes());
    assert_eq!(steps(&on_cluster), steps(&as_applied));
    assert!(on_cluster.steps.iter().any(|step| {
        step.op == Op::RecreateAgent
            && step
                .causes
                .iter()
                .any(|cause| matches!(cause, Cause::FieldChanged { path, .. } if path == "image"))
    }));
}

#[tokio::test]
async fn sensitive_values_stay_in_the_agents_secret_and_plan_as_unchanged() {
    let api = FakeApi::new();
    let backend = api.backend("acme", false);
    let (mut desired, index) = with_env(DEV, "SEARCH_API_TOKEN", "tok-literal-4242", false);
    apply_all(&backend, &desired).await;
    let deployment = api.object(&deployment_path(DEV)).expect("deployment");
    assert!(
        !deployment.to_string().contains("tok-literal-4242"),
        "not in the pod spec"
    );
    let secret = api
        .object(&object_path("v1", "secrets", &format!("{DEV}-clawops")))
        .expect("secret");
    assert!(secret["data"]["env.SEARCH_API_TOKEN"].is_string());
    assert!(
        !plan(&desired, &observe(&backend, &desired).await)
            .summary
            .has_changes()
    );
    // Another change: the token, read back from the Secret, is not named as changed.
    let mut upgraded = desired.clone();
    upgraded.agents[index].image = "hiclaw/worker:v9".to_owned();
    upgraded.agents[index].runtime_hash = "upgraded".to_owned();
    let planned = plan(&upgraded, &observe(&backend, &upgraded).await);
    let step = planned
        .steps
        .iter()
        .find(|step| step.resource.is_agent(DEV))
        .expect("dev");
    assert!(
        matches!(step.causes.as_slice(), [Cause::FieldChanged { path, .. }] if path == "image"),
        "{:?}",
        step.causes
    );
    desired.agents[index]
        .env
        .get_mut("SEARCH_API_TOKEN")
        .expect("token")
        .value = "tok-rotated".to_owned();
    desired.agents[index].runtime_hash = "rotated".to_owned();
    let planned = plan(&desired, &observe(&backend, &desired).await);
    let step = planned
        .steps
        .iter()
        .find(|step| step.resource.is_agent(DEV))
        .expect("dev");
    assert_eq!(
        step.causes,
        vec![Cause::SensitiveChanged {
            path: "env.SEARCH_API_TOKEN".to_owned()
        }]
    );
}

#[tokio::test]
async fn a_changed_probe_alone_is_neither_a_change_nor_drift() {
    let api = FakeApi::new();
    let backend = api.backend("acme", false);
    let desired = example();
    apply_all(&backend, &desired).await;
    let mut probed = desired.clone();
    for agent in &mut probed.agents {
        agent.probe = Some(clawops::spec::hiclaw::Probe {
            exec: vec!["test".to_owned(), "-f".to_owned(), "/tmp/ready".to_owned()],
        });
    }
    let observed = observe(&backend, &probed).await;
    assert!(observed.agents.iter().all(|agent| agent.edited.is_empty()));
    assert!(!plan(&probed, &observed).summary.has_changes());
    // It reaches the pod with the next recreate.
    let dev = probed.agent(DEV).expect("dev").clone();
    backend.recreate_agent(&dev, None).await.expect("recreate");
    let deployment = api.object(&deployment_path(DEV)).expect("deployment");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["readinessProbe"]["exec"]["command"][2],
        "/tmp/ready"
    );
}

/// The example fleet with a sensitive env value on `agent` (a secret reference when
/// `secret_ref`), and that agent's index.
fn with_env(agent: &str, key: &str, value: &str, secret_ref: bool) -> (Desired, usize) {
    let mut desired = example();
    let index = desired
        .agents
        .iter()
        .position(|candidate| candidate.name == agent)
        .expect("agent");
    let variable = clawops::desired::EnvVar {
        value: value.to_owned(),
        secret_ref,
        sensitive: true,
    };
    desired.agents[index].env.insert(key.to_owned(), variable);
    (desired, index)
}

/// A credential URL that an older clawops wrote inline (the value did not count as
/// sensitive then) is seen by the next plan's dry run, and the agent is recreated with the
/// value in its Secret; the plan never shows the value.
#[tokio::test]
async fn a_credential_written_inline_by_an_older_clawops_moves_to_the_secret() {
    let api = FakeApi::new();
    let backend = api.backend("acme", false);
    let mut desired = example();
    let index = desired
        .agents
        .iter()
        .position(|agent| agent.name == DEV)
        .expect("dev");
    let url = "postgres://app:pw-4242@db/x";
    let mut old = desired.clone();
    old.agents[index].env.insert(
        "DATABASE_URL".to_owned(),
        EnvVar {
            value: url.to_owned(),
            secret_ref: false,
            sensitive: false,
        },
    );
    apply_all(&backend, &old).await;
    let inline = api.object(&deployment_path(DEV)).expect("deployment");
    assert!(inline.to_string().contains("pw-4242"), "written inline");

    let mut current = old.agents[index].env["DATABASE_URL"].clone();
    current.sensitive = clawops::desired::is_sensitive("DATABASE_URL", url);
    assert!(current.sensitive);
    desired.agents[index] = old.agents[index].clone();
    desired.agents[index]
        .env
        .insert("DATABASE_URL".to_owned(), current);
    let planned = plan(&desired, &observe(&backend, &desired).await);
    let step = planned
        .steps
        .iter()
        .find(|step| step.resource.is_agent(DEV))
        .expect("a step for dev");
    assert_eq!(step.op, Op::RecreateAgent, "{:?}", step.causes);
    assert!(
        matches!(
            &step.causes[..],
            [Cause::Drift(Drift::EditedOutsideClawops { .. })]
        ),
        "{:?}",
        step.causes
    );
    assert!(
        !serde_json::to_string(&planned)
            .expect("json")
            .contains("pw-4242")
    );

    apply_all(&backend, &desired).await;
    let moved = api.object(&deployment_path(DEV)).expect("deployment");
    assert!(!moved.to_string().contains("pw-4242"), "{moved}");
    assert!(moved.to_string().contains("env.DATABASE_URL"), "{moved}");
    let replanned = plan(&desired, &observe(&backend, &desired).await);
    assert!(!replanned.summary.has_changes(), "{:?}", replanned.steps);
}
