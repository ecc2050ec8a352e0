//! The Kubernetes backend's rollout machinery at the HTTP layer (`tower-test`, see
//! `kubernetes_support`): the Lease, inventory-guarded prune, sleep, a failed readiness
//! gate halting the rollout, and the team access rules.
#![cfg(feature = "kubernetes")]

mod kubernetes_support;

use std::sync::atomic::AtomicBool;

use clawops::apply::{ApplyOptions, Outcome};
use clawops::backend::{Backend, BackendError, LockHolder};
use clawops::observe::{Observed, ObservedStatus};
use clawops::plan::{Cause, Drift, Op, RolloutGroup};
use kubernetes_support::fleet::{
    DEV, Quiet, agent, apply_all, deployment_path, example, observe, patches, plan,
};
use kubernetes_support::{FakeApi, NAMESPACE, object_path};
use serde_json::json;

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
    // Expiry is judged against the clock now: these leases are live.
    let now = unix_now();
    let first = holder("ci-1", now, now + 60);
    backend.try_lock(&first).await.expect("lock");
    let created = api.object(&lease).expect("lease");
    assert_eq!(created["spec"]["holderIdentity"], "ci-1/7");
    assert_eq!(created["spec"]["leaseDurationSeconds"], 60);
    assert!(
        api.requests().iter().any(|request| request.line()
            == "POST /apis/coordination.k8s.io/v1/namespaces/hiclaw/leases")
    );

    let second = holder("ci-2", now + 10, now + 70);
    let error = backend.try_lock(&second).await.expect_err("held");
    assert!(
        matches!(&error, BackendError::Locked { holder } if holder.host == "ci-1"),
        "{error:?}"
    );

    let renewed = holder("ci-1", now, now + 80);
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

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

#[tokio::test]
async fn a_lease_that_runs_out_while_an_apply_waits_is_taken_over_then() {
    let api = FakeApi::new();
    let backend = api.backend("acme", false);
    let other = holder("ci-1", unix_now(), unix_now() + 2);
    backend.try_lock(&other).await.expect("another apply");
    let started = std::time::Instant::now();
    let ours = clawops::apply::lock::acquire(&backend, std::time::Duration::from_secs(20))
        .await
        .expect("taken over once it ran out");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let lease = api
        .object(&object_path(
            "coordination.k8s.io/v1",
            "leases",
            "clawops-lock",
        ))
        .expect("lease");
    assert_eq!(
        lease["spec"]["holderIdentity"],
        format!("{}/{}", ours.host, ours.pid)
    );
}

#[tokio::test]
async fn a_lease_without_a_readable_holder_runs_out_by_its_spec() {
    let api = FakeApi::new();
    let backend = api.backend("acme", false);
    let path = object_path("coordination.k8s.io/v1", "leases", "clawops-lock");
    let lease = |renewed: &str| {
        json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "clawops-lock", "namespace": NAMESPACE,
                         "annotations": {"clawops.dev/holder": "garbled"}},
            "spec": {"holderIdentity": "elsewhere", "leaseDurationSeconds": 60,
                     "renewTime": renewed}})
    };
    let ours = holder("ci-2", unix_now(), unix_now() + 60);
    api.put(&path, lease("2999-01-01T00:00:00.000000Z"));
    let error = backend.try_lock(&ours).await.expect_err("renewed lately");
    assert!(
        matches!(&error, BackendError::Locked { holder } if holder.host == "unknown"),
        "{error:?}"
    );
    api.put(&path, lease("2020-01-01T00:00:00.000000Z"));
    backend
        .try_lock(&ours)
        .await
        .expect("ran out long ago: taken over");
    assert_eq!(
        api.object(&path).expect("lease")["spec"]["holderIdentity"],
        "ci-2/7"
    );
}

#[tokio::test]
async fn of_two_applies_taking_over_one_expired_lease_the_one_replacing_second_waits() {
    let api = FakeApi::new();
    let first = api.backend("acme", false);
    let second = api.backend("acme", false);
    let path = object_path("coordination.k8s.io/v1", "leases", "clawops-lock");
    let dead = holder("gone", unix_now() - 600, unix_now() - 300);
    first.try_lock(&dead).await.expect("a stale lease");
    let (a, b) = (
        holder("ci-1", unix_now(), unix_now() + 60),
        holder("ci-2", unix_now(), unix_now() + 60),
    );
    let (took_a, took_b) = tokio::join!(first.try_lock(&a), second.try_lock(&b));
    let won = [took_a.is_ok(), took_b.is_ok()];
    assert_eq!(
        won.iter().filter(|won| **won).count(),
        1,
        "{took_a:?} {took_b:?}"
    );
    for result in [took_a, took_b].into_iter().filter(Result::is_err) {
        assert!(
            matches!(result, Err(BackendError::Locked { .. })),
            "the loser waits: {result:?}"
        );
    }
    let winner = if won[0] { &a } else { &b };
    assert_eq!(
        api.object(&path).expect("lease")["spec"]["holderIdentity"],
        format!("{}/7", winner.host)
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
    applying.finish().await.expect("inventory written");
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
    pruning.finish().await.expect("inventory");
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
    api.make_sick(&gated.resource.to_string());
    let stop = AtomicBool::new(false);
    let options = ApplyOptions { concurrency: 4 };
    let report = clawops::apply::apply(&backend, &desired, &first, &options, &Quiet, &stop).await;
    assert!(!report.succeeded());
    let failed = report
        .outcomes
        .iter()
        .find(|outcome| matches!(outcome.outcome, Outcome::Failed(_)))
        .expect("a failed step");
    assert_eq!(first.steps[failed.step].resource, gated.resource);
    assert_eq!(first.steps[failed.step].op, Op::WaitHealthy);
    let Outcome::Failed(error) = &failed.outcome else {
        unreachable!()
    };
    let message = error.to_string();
    assert!(message.contains("CrashLoopBackOff"), "{message}");
    assert!(
        report
            .outcomes
            .iter()
            .any(|outcome| outcome.outcome.is_not_attempted())
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
async fn a_new_team_admin_is_one_access_step_and_replaced_pods_are_drift() {
    let api = FakeApi::new();
    let backend = api.backend("acme", false);
    let desired = example();
    let first = apply_all(&backend, &desired).await;
    let access: Vec<String> = first
        .steps
        .iter()
        .filter(|step| step.op == Op::UpdateTeamAccess)
        .map(|step| step.resource.to_string())
        .collect();
    assert_eq!(access, ["team/alpha", "team/beta"], "new teams");
    let last_wave = first.waves.last().expect("waves");
    assert!(
        last_wave.groups == [RolloutGroup::Access],
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
    let steps: Vec<(Op, String, &Vec<Cause>)> = planned
        .steps
        .iter()
        .map(|step| (step.op, step.resource.to_string(), &step.causes))
        .collect();
    let admin = Cause::FieldChanged {
        path: "admin".to_owned(),
        before: Some("alice".to_owned()),
        after: Some("bob".to_owned()),
    };
    assert_eq!(
        steps,
        [(Op::UpdateTeamAccess, "team/alpha".to_owned(), &vec![admin])]
    );
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
    let steps: Vec<(Op, String, &Vec<Cause>)> = planned
        .steps
        .iter()
        .map(|step| (step.op, step.resource.to_string(), &step.causes))
        .collect();
    assert_eq!(
        steps,
        [(
            Op::UpdateTeamAccess,
            "team/alpha".to_owned(),
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
