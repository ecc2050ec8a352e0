//! Planner tests of the rollout: group order, batches, parallel and canary teams, the
//! blast-radius guard, gates and deletes.

use super::*;

fn team(name: &str, members: &[&str]) -> Vec<Agent> {
    members
        .iter()
        .map(|member| agent(&format!("{name}-{member}"), name, AgentState::Running))
        .collect()
}

/// (wave, op, agent) of every non-gate step.
fn wave_ops(plan: &Plan) -> Vec<(usize, String)> {
    plan.steps
        .iter()
        .filter(|step| step.op != Op::WaitHealthy)
        .map(|step| {
            (
                step.wave,
                step.resource
                    .to_string()
                    .trim_start_matches("hiclaw-worker-")
                    .to_owned(),
            )
        })
        .collect()
}

fn upgrade_all(desired: &Desired) -> (Desired, Observed) {
    let observed = observed(desired.agents.iter().map(applied).collect());
    let mut upgraded_fleet = desired.clone();
    upgraded_fleet.agents = desired.agents.iter().cloned().map(upgraded).collect();
    (upgraded_fleet, observed)
}

#[test]
fn a_team_restarts_in_its_group_order_one_at_a_time() {
    let workers_first = fleet(team("alpha", &["dev", "qa", "lead"]));
    let (desired, observed) = upgrade_all(&workers_first);
    let plan = plan_of(&desired, &observed);
    assert_eq!(
        wave_ops(&plan),
        vec![
            (0, "alpha-dev".into()),
            (1, "alpha-qa".into()),
            (2, "alpha-lead".into())
        ]
    );
    let mut leader_first = workers_first.clone();
    leader_first.groups[0].agents.rotate_right(1);
    let (desired, observed) = upgrade_all(&leader_first);
    assert_eq!(
        wave_ops(&plan_of(&desired, &observed)),
        vec![
            (0, "alpha-lead".into()),
            (1, "alpha-dev".into()),
            (2, "alpha-qa".into())
        ]
    );
}

#[test]
fn max_unavailable_restarts_that_many_together() {
    let mut desired = fleet(team("alpha", &["a", "b", "c", "lead"]));
    desired.rollout.insert("alpha".into(), settings(2));
    let (desired, observed) = upgrade_all(&desired);
    let plan = plan_of(&desired, &observed);
    assert_eq!(
        wave_ops(&plan),
        vec![
            (0, "alpha-a".into()),
            (0, "alpha-b".into()),
            (1, "alpha-c".into()),
            (1, "alpha-lead".into())
        ]
    );
    let second_wave_start = plan
        .steps
        .iter()
        .find(|step| step.wave == 1)
        .expect("wave 1");
    let first_wave: Vec<usize> = plan.waves[0].steps.clone();
    assert_eq!(
        second_wave_start.depends_on, first_wave,
        "wave 1 waits for every step and gate of wave 0"
    );
}

#[test]
fn teams_go_one_after_another_or_in_parallel() {
    let mut agents = team("alpha", &["dev", "lead"]);
    agents.extend(team("beta", &["dev", "lead"]));
    let sequential = fleet(agents);
    let (desired, observed) = upgrade_all(&sequential);
    assert_eq!(
        wave_ops(&plan_of(&desired, &observed)),
        vec![
            (0, "alpha-dev".into()),
            (1, "alpha-lead".into()),
            (2, "beta-dev".into()),
            (3, "beta-lead".into())
        ]
    );
    let mut parallel = sequential.clone();
    parallel.teams_in_parallel = 2;
    let (desired, observed) = upgrade_all(&parallel);
    let plan = plan_of(&desired, &observed);
    assert_eq!(
        wave_ops(&plan),
        vec![
            (0, "alpha-dev".into()),
            (0, "beta-dev".into()),
            (1, "alpha-lead".into()),
            (1, "beta-lead".into())
        ]
    );
    assert_eq!(
        plan.waves[0].groups,
        vec![
            RolloutGroup::Team("alpha".into()),
            RolloutGroup::Team("beta".into())
        ]
    );
    let beta_lead = plan
        .steps
        .iter()
        .find(|step| {
            step.resource.is_agent("hiclaw-worker-beta-lead") && step.op == Op::RecreateAgent
        })
        .expect("beta lead");
    let beta_dev_gate = plan
        .steps
        .iter()
        .find(|step| step.resource.is_agent("hiclaw-worker-beta-dev") && step.op == Op::WaitHealthy)
        .expect("gate");
    assert!(beta_lead.depends_on.contains(&beta_dev_gate.id));
    assert!(
        plan.steps
            .iter()
            .filter(|step| step.resource.to_string().contains("alpha"))
            .all(|step| step
                .depends_on
                .iter()
                .all(|id| plan.steps[*id].resource.to_string().contains("alpha")))
    );
}

#[test]
fn the_next_set_waits_for_every_team_of_the_set_before() {
    // alpha has three batches, beta one: the group after them must wait for beta's only
    // batch too, not just for the last wave (where beta has nothing).
    let mut agents = team("alpha", &["a", "b", "lead"]);
    agents.extend(team("beta", &["lead"]));
    let mut scout = agent("scout", "standalone", AgentState::Running);
    scout.team = None;
    agents.push(scout);
    let mut desired = fleet(agents);
    desired.teams_in_parallel = 2;
    let (desired, observed) = upgrade_all(&desired);
    let plan = plan_of(&desired, &observed);
    let step = |agent: &str, op: Op| {
        plan.steps
            .iter()
            .find(|step| step.resource.is_agent(&format!("hiclaw-worker-{agent}")) && step.op == op)
            .expect("step")
    };
    let scout = step("scout", Op::RecreateAgent);
    for tail in ["alpha-lead", "beta-lead"] {
        assert!(
            scout.depends_on.contains(&step(tail, Op::WaitHealthy).id),
            "scout waits for the gate of {tail}: {:?}",
            scout.depends_on
        );
    }
    assert!(
        !scout
            .depends_on
            .contains(&step("alpha-a", Op::WaitHealthy).id),
        "earlier batches are implied by the tails"
    );
}

#[test]
fn a_canary_team_goes_first_and_alone() {
    let mut agents = team("alpha", &["dev"]);
    agents.extend(team("beta", &["dev"]));
    agents.extend(team("gamma", &["dev"]));
    let mut desired = fleet(agents);
    desired.teams_in_parallel = 2;
    let canary = desired.groups.remove(2);
    desired.groups.insert(
        0,
        Group {
            canary: true,
            ..canary
        },
    );
    let (desired, observed) = upgrade_all(&desired);
    let plan = plan_of(&desired, &observed);
    assert_eq!(
        wave_ops(&plan),
        vec![
            (0, "gamma-dev".into()),
            (1, "alpha-dev".into()),
            (1, "beta-dev".into())
        ]
    );
}

#[test]
fn other_groups_follow_the_teams_and_deletes_come_last() {
    let mut manager = agent("manager", "manager", AgentState::Running);
    manager.team = None;
    manager.role = AgentRole::Manager;
    let mut solo = agent("scout", "standalone", AgentState::Running);
    solo.team = None;
    let gone = agent("old", "alpha", AgentState::Running);
    let mut agents = team("alpha", &["dev"]);
    agents.extend([solo, manager]);
    let desired = fleet(agents);
    let (desired, mut observed) = upgrade_all(&desired);
    observed.agents.push(applied(&gone));
    observed
        .agents
        .sort_by(|left, right| left.name.cmp(&right.name));
    let plan = plan(
        &desired,
        &observed,
        &PlanOptions {
            prune: true,
            ..PlanOptions::default()
        },
    );
    assert_eq!(
        wave_ops(&plan),
        vec![
            (0, "alpha-dev".into()),
            (1, "scout".into()),
            (2, "manager".into()),
            (3, "old".into())
        ]
    );
}

#[test]
fn the_guard_counts_deletes_and_removals_but_not_recreates() {
    let agents = team("alpha", &["a", "b", "c", "d"]);
    let desired_all = fleet(agents.clone());
    let observed_all = observed(agents.iter().map(applied).collect());
    let only_one = fleet(vec![agents[0].clone()]);
    let pruned = plan(
        &only_one,
        &observed_all,
        &PlanOptions {
            prune: true,
            ..PlanOptions::default()
        },
    );
    let guard = pruned.mass_deletion.expect("75% deleted is over 30%");
    assert_eq!(
        (guard.count, guard.fleet_size, guard.limit_percent),
        (3, 4, 30)
    );
    assert_eq!(guard.groups, vec!["alpha".to_owned()]);
    let (upgraded_fleet, observed_before) = upgrade_all(&desired_all);
    assert_eq!(
        plan_of(&upgraded_fleet, &observed_before).mass_deletion,
        None
    );
    let mut one_stopped = desired_all.clone();
    one_stopped.agents[0].state = AgentState::Stopped;
    assert_eq!(
        plan_of(&one_stopped, &observed_all).mass_deletion,
        None,
        "25% is within 30%"
    );
    let empty = fleet(Vec::new());
    assert!(
        plan(
            &empty,
            &observed_all,
            &PlanOptions {
                prune: true,
                ..PlanOptions::default()
            }
        )
        .mass_deletion
        .is_some(),
        "an empty commit never wipes the fleet"
    );
}

#[test]
fn an_unchanged_fleet_has_an_empty_plan_and_the_same_plan_twice() {
    let desired = fleet(team("alpha", &["dev", "lead"]));
    let observed = observed(desired.agents.iter().map(applied).collect());
    let plan = plan_of(&desired, &observed);
    assert!(plan.steps.is_empty());
    assert_eq!(plan.summary.unchanged, 2);
    assert!(!plan.summary.has_changes());
    let (desired, observed) = upgrade_all(&desired);
    assert_eq!(plan_of(&desired, &observed), plan_of(&desired, &observed));
}

#[test]
fn unmanaged_agents_are_left_alone() {
    let mut outside = agent("outside", "alpha", AgentState::Running);
    outside.container_managed = false;
    let plan = plan_of(&fleet(vec![outside]), &Observed::empty());
    assert!(plan.steps.is_empty());
}

#[test]
fn a_debug_worker_is_deleted_before_the_workspaces_it_mounts() {
    let dev = agent("dev", "alpha", AgentState::Running);
    let mut debug = agent("debug", "debug", AgentState::Running);
    debug.role = AgentRole::Debug;
    debug.debug_targets = vec!["dev".into()];
    let observed = observed(vec![applied(&dev), applied(&debug)]);
    let plan = plan(
        &fleet(Vec::new()),
        &observed,
        &PlanOptions {
            prune: true,
            ..PlanOptions::default()
        },
    );
    assert_eq!(
        wave_ops(&plan),
        vec![(0, "debug".into()), (1, "dev".into())]
    );
    assert_eq!(plan.steps[1].depends_on, vec![0]);
}

#[test]
fn a_gate_carries_its_groups_timeout_policy_and_the_recreate_it_judges() {
    let dev = agent("dev", "alpha", AgentState::Running);
    let mut desired = fleet(vec![upgraded(dev.clone())]);
    if let Some(settings) = desired.rollout.get_mut("alpha") {
        settings.on_failure = FailurePolicy::Rollback;
        settings.health_timeout_seconds = 45;
    }
    let plan = plan_of(&desired, &observed(vec![applied(&dev)]));
    assert_eq!(plan.steps[0].op, Op::RecreateAgent);
    assert_eq!(
        plan.steps[1].gate,
        Some(HealthGate {
            timeout_seconds: 45,
            interval_milliseconds: HEALTH_INTERVAL_MILLISECONDS,
            on_failure: FailurePolicy::Rollback,
            replaces: Some(0),
        })
    );
    let created = plan_of(&desired, &Observed::empty());
    let gate = created.steps[1].gate.expect("a gate after the create");
    assert_eq!(gate.replaces, None);
    assert!(created.steps[0].gate.is_none());
}

#[test]
fn a_delete_carries_whether_the_workspace_goes_too() {
    let old = agent("old", "alpha", AgentState::Running);
    let observed = observed(vec![applied(&old)]);
    for delete_workspaces in [false, true] {
        let options = PlanOptions {
            prune: true,
            delete_workspaces,
        };
        let plan = plan(&fleet(Vec::new()), &observed, &options);
        assert_eq!(plan.steps[0].op, Op::DeleteAgent);
        assert_eq!(plan.steps[0].delete_workspace, delete_workspaces);
    }
}
