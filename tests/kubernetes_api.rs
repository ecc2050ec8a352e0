//! The Kubernetes backend's conversations with the API server, at the HTTP layer
//! (`tower-test`, see `kubernetes_support`): the exact server-side-apply requests, dry runs
//! for planning, the Lease, inventory-guarded prune, sleep, and a failed readiness gate.
#![cfg(feature = "kubernetes")]

mod kubernetes_support;

use std::sync::atomic::AtomicBool;

use clawops::apply::{ApplyOptions, Outcome, Progress, StepOutcome};
use clawops::backend::{Backend, BackendError, LockHolder};
use clawops::desired::{Agent, Desired};
use clawops::observe::{Observed, ObservedStatus};
use clawops::plan::{Cause, Drift, Op, Plan, PlanOptions, Step, Wave};
use kubernetes_support::{FakeApi, NAMESPACE, Recorded, object_path};
use serde_json::json;

/// The example fleet of the repository, resolved.
fn example() -> Desired {
    resolved("examples/hiclaw-fleet")
}

/// The fleet in `folder`, resolved.
fn resolved(folder: &str) -> Desired {
    let mut options = clawops::source::SourceOptions::new(folder);
    options.worktree = true;
    let snapshot = clawops::source::read(&options).expect("example source");
    let checked = clawops::spec::check(&snapshot);
    assert!(checked.is_valid(), "the example is valid");
    clawops::desired::resolve(&checked.spec)
}

fn agent<'a>(desired: &'a Desired, name: &str) -> &'a Agent {
    desired
        .agent(name)
        .unwrap_or_else(|| panic!("no agent {name}"))
}

fn deployment_path(name: &str) -> String {
    object_path("apps/v1", "deployments", name)
}

fn patches(requests: &[Recorded]) -> Vec<&Recorded> {
    requests
        .iter()
        .filter(|request| request.method == "PATCH")
        .collect()
}

const DEV: &str = "hiclaw-worker-alpha-dev";

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

/// Plans `desired` against the cluster and walks the plan as `clawops apply` does.
async fn apply_all(backend: &impl Backend, desired: &Desired) -> Plan {
    let planned = plan(desired, &observe(backend, desired).await);
    let touched: Vec<&Agent> = planned
        .steps
        .iter()
        .filter(|step| matches!(step.op, Op::CreateAgent | Op::RecreateAgent))
        .filter_map(|step| desired.agent(&step.agent))
        .collect();
    backend.prepare(&touched).await.expect("prepare");
    let stop = AtomicBool::new(false);
    let options = ApplyOptions {
        concurrency: 8,
        delete_workspaces: false,
    };
    let report = clawops::apply::apply(backend, desired, &planned, &options, &Quiet, &stop).await;
    assert!(report.succeeded(), "{report:?}");
    backend.finish(desired).await.expect("finish");
    planned
}

async fn observe(backend: &impl Backend, desired: &Desired) -> Observed {
    let observed = backend.observe().await.expect("observe");
    backend
        .check_drift(desired, observed)
        .await
        .expect("dry runs")
}

fn plan(desired: &Desired, observed: &Observed) -> Plan {
    clawops::plan::plan(desired, observed, &PlanOptions { prune: false })
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
        .find(|step| step.agent == DEV)
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
    let steps: Vec<(&Op, &str)> = plan
        .steps
        .iter()
        .map(|step| (&step.op, step.agent.as_str()))
        .collect();
    assert_eq!(steps, [(&Op::PushConfig, DEV)]);
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

fn holder(host: &str, since: u64, expires: u64) -> LockHolder {
    LockHolder {
        host: host.to_owned(),
        pid: 7,
        since,
        expires,
    }
}

#[tokio::test]
async fn the_lease_is_created_renewed_released_and_taken_over_once_expired() {
    let api = FakeApi::new();
    let backend = api.backend("acme", false);
    let lease = object_path("coordination.k8s.io/v1", "leases", "clawops-lock");
    let first = holder("ci-1", 1_000, 1_060);
    backend.try_lock(&first).await.expect("lock");
    let created = api.object(&lease).expect("lease");
    assert_eq!(created["spec"]["holderIdentity"], "ci-1/7");
    assert_eq!(created["spec"]["leaseDurationSeconds"], 60);
    assert!(
        api.requests().iter().any(|request| request.line()
            == "POST /apis/coordination.k8s.io/v1/namespaces/hiclaw/leases")
    );

    let second = holder("ci-2", 1_010, 1_070);
    let error = backend.try_lock(&second).await.expect_err("held");
    assert!(
        matches!(&error, BackendError::Locked { holder } if holder.host == "ci-1"),
        "{error:?}"
    );

    let renewed = holder("ci-1", 1_000, 1_080);
    backend.renew_lock(&renewed).await.expect("renew");
    let put = api
        .requests()
        .into_iter()
        .rev()
        .find(|request| request.method == "PUT")
        .expect("a replace");
    assert_eq!(
        put.body.as_ref().expect("body")["metadata"]["resourceVersion"],
        created["metadata"]["resourceVersion"]
    );
    assert!(
        backend.renew_lock(&second).await.is_err(),
        "only the holder renews"
    );

    backend.unlock(Some(&renewed)).await.expect("unlock");
    let delete = api
        .requests()
        .into_iter()
        .rev()
        .find(|request| request.method == "DELETE")
        .expect("a delete");
    assert_eq!(delete.path, lease);
    assert!(delete.body.as_ref().expect("options")["preconditions"]["uid"].is_string());
    assert!(api.object(&lease).is_none());

    backend
        .try_lock(&holder("ci-1", 2_000, 2_060))
        .await
        .expect("lock again");
    backend
        .try_lock(&holder("ci-2", 3_000, 3_060))
        .await
        .expect("the expired lease is taken over");
    assert_eq!(
        api.object(&lease).expect("lease")["spec"]["holderIdentity"],
        "ci-2/7"
    );
}

#[tokio::test]
async fn prune_deletes_only_inventoried_objects_that_carry_the_fleet_label() {
    let api = FakeApi::new();
    let desired = example();
    let dev = agent(&desired, DEV);
    let qa = agent(&desired, "hiclaw-worker-alpha-qa");
    let applying = api.backend("acme", false);
    for created in [dev, qa] {
        applying.create_agent(created, None).await.expect("create");
    }
    applying.finish(&desired).await.expect("inventory written");
    // Someone else's Deployment with the fleet's label, never applied by clawops.
    let stranger = "hiclaw-worker-stranger";
    api.put(&deployment_path(stranger), json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": stranger, "namespace": NAMESPACE, "labels": {"clawops.dev/fleet": "acme", "clawops.dev/agent": stranger}},
        "spec": {"selector": {}, "template": {}}}));
    // qa's Deployment taken over by another owner (the fleet's label removed).
    api.edit(&deployment_path(&qa.name), |deployment| {
        deployment["metadata"]["labels"]
            .as_object_mut()
            .expect("labels")
            .remove("clawops.dev/fleet");
    });
    api.clear_requests();
    let pruning = api.backend("acme", false);
    for name in [DEV, qa.name.as_str(), stranger] {
        pruning.delete_agent(name, false).await.expect("delete");
    }
    let deletes: Vec<String> = api
        .requests()
        .iter()
        .filter(|request| request.method == "DELETE")
        .map(|request| request.path.clone())
        .collect();
    assert!(deletes.contains(&deployment_path(DEV)), "{deletes:?}");
    assert!(
        deletes.iter().all(|path| !path.contains(stranger)),
        "not inventoried: {deletes:?}"
    );
    assert!(
        !deletes.contains(&deployment_path(&qa.name)),
        "not labelled: {deletes:?}"
    );
    assert!(api.object(&deployment_path(stranger)).is_some());
    assert!(api.object(&deployment_path(&qa.name)).is_some());
    assert!(api.object(&deployment_path(DEV)).is_none());
    pruning.finish(&desired).await.expect("inventory");
    let inventory = api
        .object(&object_path("v1", "configmaps", "clawops-inventory"))
        .expect("inventory");
    let listed = inventory["data"]["objects"].as_str().expect("list");
    assert!(
        !listed.contains(&format!("Deployment/{DEV}\"")),
        "deleted objects leave the inventory: {listed}"
    );
}

#[tokio::test]
async fn sleeping_scales_to_zero_and_waking_back_to_one() {
    let api = FakeApi::new();
    let backend = api.backend("acme", false);
    let desired = example();
    let dev = agent(&desired, DEV);
    backend.create_agent(dev, None).await.expect("create");
    api.clear_requests();
    backend.sleep_agent(DEV).await.expect("sleep");
    let requests = api.requests();
    let sent = patches(&requests)
        .into_iter()
        .find(|patch| patch.path == deployment_path(DEV))
        .expect("apply");
    assert_eq!(sent.body.as_ref().expect("body")["spec"]["replicas"], 0);
    let observed = backend.observe().await.expect("observe");
    let seen = observed.agent(DEV).expect("dev");
    assert_eq!(seen.status, ObservedStatus::Stopped);
    assert_eq!(
        seen.applied_state,
        Some(clawops::spec::hiclaw::AgentState::Sleeping)
    );
    backend.wake_agent(DEV).await.expect("wake");
    assert_eq!(
        api.object(&deployment_path(DEV)).expect("deployment")["spec"]["replicas"],
        1
    );
    backend.remove_agent(DEV).await.expect("remove");
    assert!(
        api.object(&deployment_path(DEV)).is_none(),
        "Stopped: no Deployment"
    );
    let observed = backend.observe().await.expect("observe");
    assert_eq!(
        observed.agent(DEV).expect("dev").status,
        ObservedStatus::Missing
    );
}

struct Quiet;

impl Progress for Quiet {
    fn wave_started(&self, _wave: &Wave, _plan: &Plan) {}
    fn step_finished(&self, _step: &Step, _outcome: &StepOutcome) {}
    fn wave_finished(&self, _wave: &Wave) {}
}

#[tokio::test]
async fn a_pod_that_never_gets_ready_fails_its_gate_and_halts_the_rollout() {
    let api = FakeApi::new();
    let backend = api.backend("acme", false);
    let desired = example();
    let first = plan(&desired, &Observed::empty());
    let gated = first
        .steps
        .iter()
        .find(|step| step.op == Op::WaitHealthy)
        .expect("a gate");
    api.make_sick(&gated.agent);
    let stop = AtomicBool::new(false);
    let options = ApplyOptions {
        concurrency: 4,
        delete_workspaces: false,
    };
    let report = clawops::apply::apply(&backend, &desired, &first, &options, &Quiet, &stop).await;
    assert!(!report.succeeded());
    let failed = report
        .outcomes
        .iter()
        .find(|outcome| matches!(outcome.outcome, Outcome::Failed(_)))
        .expect("a failed step");
    assert_eq!(first.steps[failed.step].agent, gated.agent);
    assert_eq!(first.steps[failed.step].op, Op::WaitHealthy);
    let Outcome::Failed(message) = &failed.outcome else {
        unreachable!()
    };
    assert!(message.contains("CrashLoopBackOff"), "{message}");
    assert!(
        report
            .outcomes
            .iter()
            .any(|outcome| outcome.outcome == Outcome::NotAttempted)
    );
    let applied: Vec<String> = patches(&api.requests())
        .iter()
        .map(|patch| patch.path.clone())
        .collect();
    assert!(
        !applied
            .iter()
            .any(|path| path.ends_with("/deployments/hiclaw-manager")),
        "the Manager (last wave) was not touched: {applied:?}"
    );
}

#[tokio::test]
async fn the_team_admin_may_read_the_teams_pods_and_nothing_else() {
    let api = FakeApi::new();
    let backend = api.backend("acme", false);
    let desired = example();
    apply_all(&backend, &desired).await;
    let role = api
        .object(&object_path(
            "rbac.authorization.k8s.io/v1",
            "roles",
            "hiclaw-team-alpha-admin",
        ))
        .expect("role");
    let rules = role["rules"].as_array().expect("rules");
    assert!(
        rules
            .iter()
            .all(|rule| !rule["resourceNames"].as_array().expect("names").is_empty())
    );
    let pods = rules
        .iter()
        .find(|rule| rule["resources"][0] == "pods")
        .expect("a pods rule");
    let names: Vec<&str> = pods["resourceNames"]
        .as_array()
        .expect("names")
        .iter()
        .filter_map(|name| name.as_str())
        .collect();
    assert!(names.contains(&"hiclaw-worker-alpha-dev-pod"), "{names:?}");
    assert!(
        names
            .iter()
            .all(|name| name.starts_with("hiclaw-worker-alpha-")),
        "{names:?}"
    );
    let binding = api
        .object(&object_path(
            "rbac.authorization.k8s.io/v1",
            "rolebindings",
            "hiclaw-team-alpha-admin",
        ))
        .expect("binding");
    assert_eq!(binding["subjects"][0]["name"], "alice");
}

#[tokio::test]
async fn a_missing_secret_key_is_named_before_anything_changes() {
    let api = FakeApi::new();
    let backend = api.backend("acme", false);
    let mut desired = example();
    let index = desired
        .agents
        .iter()
        .position(|agent| agent.name == DEV)
        .expect("dev");
    desired.agents[index].env.insert(
        "SEARCH_PASSWORD".to_owned(),
        clawops::desired::EnvVar {
            value: "search-password".to_owned(),
            secret_ref: true,
            sensitive: true,
        },
    );
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
    backend.prepare(&[]).await.expect("settle");
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
    let steps = |plan: &Plan| -> Vec<(Op, String, Vec<Cause>)> {
        plan.steps
            .iter()
            .filter(|step| step.op != Op::UpdateTeamAccess)
            .map(|step| (step.op, step.agent.clone(), step.causes.clone()))
            .collect()
    };
    // Only the cluster has access rules: the recreated team's Role follows its new pods.
    let access: Vec<(&str, &Vec<Cause>)> = on_cluster
        .steps
        .iter()
        .filter(|step| step.op == Op::UpdateTeamAccess)
        .map(|step| (step.agent.as_str(), &step.causes))
        .collect();
    assert_eq!(access, [("team/alpha", &vec![Cause::TeamPodsChange])]);
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
async fn a_new_team_admin_is_one_access_step_and_replaced_pods_are_drift() {
    let api = FakeApi::new();
    let backend = api.backend("acme", false);
    let desired = example();
    let first = apply_all(&backend, &desired).await;
    let access: Vec<&str> = first
        .steps
        .iter()
        .filter(|step| step.op == Op::UpdateTeamAccess)
        .map(|step| step.agent.as_str())
        .collect();
    assert_eq!(access, ["team/alpha", "team/beta"], "new teams");
    let last_wave = first.waves.last().expect("waves");
    assert!(
        last_wave.groups == ["access"],
        "access comes last: {:?}",
        last_wave.groups
    );

    let mut changed = desired.clone();
    let alpha = changed
        .teams
        .iter_mut()
        .find(|team| team.name == "alpha")
        .expect("alpha");
    alpha.admin = Some("bob".to_owned());
    let planned = apply_all(&backend, &changed).await;
    let steps: Vec<(Op, &str, &Vec<Cause>)> = planned
        .steps
        .iter()
        .map(|step| (step.op, step.agent.as_str(), &step.causes))
        .collect();
    let admin = Cause::FieldChanged {
        path: "admin".to_owned(),
        before: Some("alice".to_owned()),
        after: Some("bob".to_owned()),
    };
    assert_eq!(steps, [(Op::UpdateTeamAccess, "team/alpha", &vec![admin])]);
    let binding = object_path(
        "rbac.authorization.k8s.io/v1",
        "rolebindings",
        "hiclaw-team-alpha-admin",
    );
    assert_eq!(
        api.object(&binding).expect("binding")["subjects"][0]["name"],
        "bob"
    );
    assert!(
        !plan(&changed, &observe(&backend, &changed).await)
            .summary
            .has_changes()
    );

    // The cluster replaces a pod: the Role names a pod that is gone.
    let old = object_path("v1", "pods", "hiclaw-worker-alpha-dev-pod");
    let mut pod = api.object(&old).expect("pod");
    pod["metadata"]["name"] = json!("hiclaw-worker-alpha-dev-rescheduled");
    api.put(
        &object_path("v1", "pods", "hiclaw-worker-alpha-dev-rescheduled"),
        pod,
    );
    api.remove(&old);
    let planned = plan(&changed, &observe(&backend, &changed).await);
    let steps: Vec<(Op, &str, &Vec<Cause>)> = planned
        .steps
        .iter()
        .map(|step| (step.op, step.agent.as_str(), &step.causes))
        .collect();
    assert_eq!(
        steps,
        [(
            Op::UpdateTeamAccess,
            "team/alpha",
            &vec![Cause::Drift(Drift::PodsReplaced)]
        )]
    );
}

#[tokio::test]
async fn a_team_that_left_git_keeps_its_rules_while_an_agent_of_it_is_left() {
    let api = FakeApi::new();
    let backend = api.backend("acme", false);
    let desired = example();
    apply_all(&backend, &desired).await;
    let policy = object_path(
        "networking.k8s.io/v1",
        "networkpolicies",
        "hiclaw-team-beta",
    );
    let role = object_path(
        "rbac.authorization.k8s.io/v1",
        "roles",
        "hiclaw-team-beta-admin",
    );
    backend
        .update_team_access("beta", None)
        .await
        .expect("kept");
    assert!(
        api.object(&policy).is_some() && api.object(&role).is_some(),
        "beta still has agents"
    );
    let members: Vec<String> = desired
        .agents
        .iter()
        .filter(|agent| agent.team.as_deref() == Some("beta"))
        .map(|agent| agent.name.clone())
        .collect();
    assert!(!members.is_empty());
    for member in &members {
        backend.delete_agent(member, false).await.expect("delete");
    }
    backend
        .update_team_access("beta", None)
        .await
        .expect("removed");
    assert!(api.object(&policy).is_none() && api.object(&role).is_none());
    let alpha = object_path(
        "networking.k8s.io/v1",
        "networkpolicies",
        "hiclaw-team-alpha",
    );
    assert!(api.object(&alpha).is_some(), "other teams keep theirs");
}
