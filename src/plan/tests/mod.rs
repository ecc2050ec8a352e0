//! Planner tests: in-memory desired and observed states, no backend.

use super::*;
use crate::desired::{Agent, AgentRole, EnvVar, Group, ImageSource, RolloutSettings};
use crate::observe::{ObservedAgent, ObservedStatus};
use crate::spec::config::PruneConfig;
use crate::spec::hiclaw::{AgentState, FailurePolicy, UpgradeOrder};

fn agent(name: &str, group: &str, state: AgentState) -> Agent {
    Agent::builder(name)
        .team(group)
        .state(state)
        .image_from("hiclaw/worker:v1", ImageSource::ImageSet)
        .workspace_file("SOUL.md", "You test things.\n")
        .file("teams.yaml")
        .runtime_hash("runtime-1")
        .config_hash("config-1")
        .build()
}

fn settings(max_unavailable: u32) -> RolloutSettings {
    RolloutSettings {
        order: UpgradeOrder::WorkersFirst,
        max_unavailable,
        health_timeout_seconds: 90,
        on_failure: FailurePolicy::Halt,
        probe: None,
    }
}

/// A desired fleet from agents; groups in first-seen order, agents in given order.
fn fleet(agents: Vec<Agent>) -> Desired {
    let mut groups: Vec<Group> = Vec::new();
    for agent in &agents {
        match groups.iter_mut().find(|group| group.name == agent.group) {
            Some(group) => group.agents.push(agent.name.clone()),
            None => groups.push(Group {
                name: agent.group.clone(),
                is_team: agent.team.is_some(),
                canary: false,
                agents: vec![agent.name.clone()],
            }),
        }
    }
    let rollout = groups
        .iter()
        .map(|group| (group.name.clone(), settings(1)))
        .collect();
    let mut sorted = agents;
    sorted.sort_by(|left, right| left.name.cmp(&right.name));
    Desired {
        fleet: "acme".to_owned(),
        prefix: "hiclaw-".to_owned(),
        revision: None,
        agents: sorted,
        groups,
        rollout,
        teams_in_parallel: 1,
        prune: PruneConfig::default(),
        teams: Vec::new(),
        hiclaw: None,
    }
}

/// What a backend reports after applying `agent` exactly.
fn applied(agent: &Agent) -> ObservedAgent {
    ObservedAgent::applied_exactly(agent, None)
}

fn observed(agents: Vec<ObservedAgent>) -> Observed {
    let mut agents = agents;
    agents.sort_by(|left, right| left.name.cmp(&right.name));
    Observed {
        source: crate::observe::ObservedSource::Empty,
        agents,
        interrupted: Vec::new(),
        teams: None,
        humans: None,
    }
}

fn plan_of(desired: &Desired, observed: &Observed) -> Plan {
    plan(desired, observed, &PlanOptions::default())
}

/// (op, agent) of every step, in order.
fn ops(plan: &Plan) -> Vec<(Op, String)> {
    plan.steps
        .iter()
        .map(|step| (step.op, step.resource.to_string()))
        .collect()
}

fn upgraded(mut agent: Agent) -> Agent {
    agent.image = "hiclaw/worker:v2".to_owned();
    agent.runtime_hash = "runtime-2".to_owned();
    agent
}

#[test]
fn a_new_agent_is_created_then_gated() {
    let desired = fleet(vec![agent("dev", "alpha", AgentState::Running)]);
    let plan = plan_of(&desired, &Observed::empty());
    assert_eq!(
        ops(&plan),
        vec![
            (Op::CreateAgent, "hiclaw-worker-dev".into()),
            (Op::WaitHealthy, "hiclaw-worker-dev".into())
        ]
    );
    assert_eq!(plan.steps[0].causes, vec![Cause::NewAgent]);
    assert_eq!(plan.steps[1].depends_on, vec![0]);
    assert_eq!(
        plan.steps[1].causes,
        vec![Cause::HealthGate {
            timeout_seconds: 90
        }]
    );
    assert_eq!(plan.summary.create, 1);
    assert!(plan.summary.has_changes());
}

#[test]
fn a_new_sleeping_agent_is_created_asleep_without_a_gate() {
    let desired = fleet(vec![agent("qa", "alpha", AgentState::Sleeping)]);
    let plan = plan_of(&desired, &Observed::empty());
    assert_eq!(
        ops(&plan),
        vec![(Op::CreateAgent, "hiclaw-worker-qa".into())]
    );
    assert_eq!(
        plan.steps[0].causes,
        vec![Cause::NewAgent, Cause::StaysAsleep]
    );
}

#[test]
fn a_runtime_change_recreates_and_names_the_field() {
    let before = agent("dev", "alpha", AgentState::Running);
    let desired = fleet(vec![upgraded(before.clone())]);
    let plan = plan_of(&desired, &observed(vec![applied(&before)]));
    assert_eq!(ops(&plan)[0].0, Op::RecreateAgent);
    assert_eq!(
        plan.steps[0].causes,
        vec![Cause::FieldChanged {
            path: "image".into(),
            before: Some("hiclaw/worker:v1".into()),
            after: Some("hiclaw/worker:v2".into()),
        }]
    );
    assert_eq!(plan.steps[1].op, Op::WaitHealthy);
    assert_eq!(plan.waves[0].restarts, vec!["hiclaw-worker-dev".to_owned()]);
}

#[test]
fn a_resources_change_recreates_and_names_it() {
    let before = agent("dev", "alpha", AgentState::Running);
    let mut after = before.clone();
    after.resources.limits_memory = Some("4Gi".into());
    after.runtime_hash = "runtime-2".into();
    let plan = plan_of(&fleet(vec![after]), &observed(vec![applied(&before)]));
    assert_eq!(plan.steps[0].op, Op::RecreateAgent);
    assert_eq!(
        plan.steps[0].causes,
        vec![Cause::FieldChanged {
            path: "resources".into(),
            before: Some("backend defaults".into()),
            after: Some("limits memory 4Gi".into()),
        }]
    );
}

#[test]
fn a_config_only_change_is_pushed_in_place() {
    let before = agent("dev", "alpha", AgentState::Running);
    let mut after = before.clone();
    after
        .workspace
        .insert("SOUL.md".into(), "You test everything.\n".into());
    after.config_hash = "config-2".into();
    let plan = plan_of(&fleet(vec![after]), &observed(vec![applied(&before)]));
    assert_eq!(
        ops(&plan),
        vec![(Op::PushConfig, "hiclaw-worker-dev".into())]
    );
    assert_eq!(
        plan.steps[0].causes,
        vec![Cause::FileChanged {
            path: "SOUL.md".into(),
            before: Some("You test things.\n".into()),
            after: Some("You test everything.\n".into()),
        }]
    );
    assert_eq!(plan.summary.update, 1);
    assert!(plan.waves[0].restarts.is_empty());
}

#[test]
fn sleep_and_wake_follow_the_desired_state() {
    let running = agent("dev", "alpha", AgentState::Running);
    let sleeping = agent("qa", "alpha", AgentState::Sleeping);
    let mut dev_asleep = running.clone();
    dev_asleep.state = AgentState::Sleeping;
    let mut qa_awake = sleeping.clone();
    qa_awake.state = AgentState::Running;
    let plan = plan_of(
        &fleet(vec![dev_asleep, qa_awake]),
        &observed(vec![applied(&running), applied(&sleeping)]),
    );
    assert_eq!(
        ops(&plan),
        vec![
            (Op::SleepAgent, "hiclaw-worker-dev".into()),
            (Op::WakeAgent, "hiclaw-worker-qa".into()),
            (Op::WaitHealthy, "hiclaw-worker-qa".into()),
        ]
    );
    assert_eq!(
        plan.steps[0].causes,
        vec![Cause::StateChanged {
            before: AgentState::Running,
            after: AgentState::Sleeping
        }]
    );
    assert_eq!(
        plan.steps[1].causes,
        vec![Cause::StateChanged {
            before: AgentState::Sleeping,
            after: AgentState::Running
        }]
    );
    assert_eq!((plan.summary.sleep, plan.summary.wake), (1, 1));
}

#[test]
fn a_stopped_agent_is_removed_and_stays_absent() {
    let running = agent("dev", "alpha", AgentState::Running);
    let mut stopped = running.clone();
    stopped.state = AgentState::Stopped;
    let plan = plan_of(
        &fleet(vec![stopped.clone()]),
        &observed(vec![applied(&running)]),
    );
    assert_eq!(
        ops(&plan),
        vec![(Op::RemoveAgent, "hiclaw-worker-dev".into())]
    );
    assert_eq!(plan.steps[0].causes, vec![Cause::DesiredStopped]);
    let plan = plan_of(&fleet(vec![stopped]), &Observed::empty());
    assert!(plan.steps.is_empty());
    assert_eq!(plan.unchanged, vec!["hiclaw-worker-dev".to_owned()]);
}

#[test]
fn agents_gone_from_git_are_kept_unless_pruning() {
    let old = agent("old", "alpha", AgentState::Running);
    let current = agent("dev", "alpha", AgentState::Running);
    let observed = observed(vec![applied(&old), applied(&current)]);
    let desired = fleet(vec![current]);
    let kept = plan(&desired, &observed, &PlanOptions::default());
    assert_eq!(
        ops(&kept),
        vec![(Op::KeepAgent, "hiclaw-worker-old".into())]
    );
    assert_eq!(kept.steps[0].causes, vec![Cause::GoneFromGit]);
    assert!(!kept.summary.has_changes());
    assert_eq!(kept.summary.kept, 1);
    let pruned = plan(
        &desired,
        &observed,
        &PlanOptions {
            prune: true,
            ..PlanOptions::default()
        },
    );
    assert_eq!(
        ops(&pruned),
        vec![(Op::DeleteAgent, "hiclaw-worker-old".into())]
    );
    assert_eq!(pruned.steps[0].group, RolloutGroup::Deletes);
}

#[test]
fn a_sleeping_agent_whose_image_changes_is_recreated_asleep() {
    let before = agent("qa", "alpha", AgentState::Sleeping);
    let plan = plan_of(
        &fleet(vec![upgraded(before.clone())]),
        &observed(vec![applied(&before)]),
    );
    assert_eq!(
        ops(&plan),
        vec![(Op::RecreateAgent, "hiclaw-worker-qa".into())]
    );
    assert_eq!(plan.steps[0].causes.last(), Some(&Cause::StaysAsleep));
    assert!(plan.waves[0].restarts.is_empty());
}

#[test]
fn drift_is_detected_and_corrected_with_its_cause() {
    let dev = agent("dev", "alpha", AgentState::Running);
    let qa = agent("qa", "alpha", AgentState::Sleeping);
    let ops_agent = agent("ops", "alpha", AgentState::Running);
    let lead = agent("lead", "alpha", AgentState::Running);
    let mut stopped_by_hand = applied(&dev);
    stopped_by_hand.status = ObservedStatus::Stopped;
    let mut started_by_hand = applied(&qa);
    started_by_hand.status = ObservedStatus::Running;
    let mut removed_by_hand = applied(&ops_agent);
    removed_by_hand.status = ObservedStatus::Missing;
    let mut image_by_hand = applied(&lead);
    image_by_hand.image = "hiclaw/worker:debug".into();
    let desired = fleet(vec![dev, qa, ops_agent, lead]);
    let plan = plan_of(
        &desired,
        &observed(vec![
            stopped_by_hand,
            started_by_hand,
            removed_by_hand,
            image_by_hand,
        ]),
    );
    let cause_of = |agent: &str, op: Op| {
        plan.steps
            .iter()
            .find(|step| step.resource.is_agent(&format!("hiclaw-worker-{agent}")) && step.op == op)
            .map(|step| step.causes.clone())
            .unwrap_or_else(|| panic!("no {op:?} for {agent}"))
    };
    assert_eq!(
        cause_of("dev", Op::WakeAgent),
        vec![Cause::Drift(Drift::StoppedOutsideClawops)]
    );
    assert_eq!(
        cause_of("qa", Op::SleepAgent),
        vec![Cause::Drift(Drift::StartedOutsideClawops)]
    );
    assert_eq!(
        cause_of("ops", Op::CreateAgent),
        vec![Cause::Drift(Drift::RemovedOutsideClawops)]
    );
    assert_eq!(
        cause_of("lead", Op::RecreateAgent),
        vec![Cause::Drift(Drift::ImageChanged {
            applied: "hiclaw/worker:v1".into(),
            running: "hiclaw/worker:debug".into()
        })]
    );
}

#[test]
fn objects_edited_outside_clawops_are_reapplied_naming_the_fields() {
    let dev = agent("dev", "alpha", AgentState::Running);
    let mut edited = applied(&dev);
    edited.edited = vec!["spec.template.spec.containers.0.env".to_owned()];
    let desired = fleet(vec![dev.clone()]);
    let plan = plan_of(&desired, &observed(vec![edited]));
    let step = plan
        .steps
        .iter()
        .find(|step| step.op == Op::RecreateAgent)
        .expect("a re-apply");
    assert_eq!(
        step.causes,
        vec![Cause::Drift(Drift::EditedOutsideClawops {
            fields: vec!["spec.template.spec.containers.0.env".to_owned()]
        })]
    );
    assert_eq!(
        step.causes[0].to_string(),
        "drift: edited outside clawops: spec.template.spec.containers.0.env"
    );
    let untouched = plan_of(&desired, &observed(vec![applied(&dev)]));
    assert!(!untouched.summary.has_changes());
}

#[test]
fn a_removed_stopped_agent_brought_back_is_a_state_change_not_drift() {
    let dev = agent("dev", "alpha", AgentState::Running);
    let mut removed = applied(&dev);
    removed.status = ObservedStatus::Missing;
    removed.applied_state = Some(AgentState::Stopped);
    let plan = plan_of(&fleet(vec![dev]), &observed(vec![removed]));
    assert_eq!(
        plan.steps[0].causes,
        vec![Cause::StateChanged {
            before: AgentState::Stopped,
            after: AgentState::Running
        }]
    );
}

#[test]
fn sensitive_env_changes_carry_no_values() {
    let mut before = agent("dev", "alpha", AgentState::Running);
    before.env.insert(
        "GITHUB_TOKEN".into(),
        EnvVar {
            value: "old-secret".into(),
            secret_ref: false,
            sensitive: true,
        },
    );
    before.env.insert(
        "LOG_LEVEL".into(),
        EnvVar {
            value: "info".into(),
            secret_ref: false,
            sensitive: false,
        },
    );
    let mut after = before.clone();
    after.env.insert(
        "GITHUB_TOKEN".into(),
        EnvVar {
            value: "new-secret".into(),
            secret_ref: false,
            sensitive: true,
        },
    );
    after.env.insert(
        "LOG_LEVEL".into(),
        EnvVar {
            value: "debug".into(),
            secret_ref: false,
            sensitive: false,
        },
    );
    after.runtime_hash = "runtime-2".into();
    let plan = plan_of(&fleet(vec![after]), &observed(vec![applied(&before)]));
    assert_eq!(
        plan.steps[0].causes,
        vec![
            Cause::SensitiveChanged {
                path: "env.GITHUB_TOKEN".into()
            },
            Cause::FieldChanged {
                path: "env.LOG_LEVEL".into(),
                before: Some("info".into()),
                after: Some("debug".into())
            },
        ]
    );
    let json = serde_json::to_string(&plan).expect("plan json");
    assert!(!json.contains("secret"), "{json}");
}

/// `dev` with a secret-looking literal, a credential URL under a plain key, a secret
/// reference and a plain value.
fn with_secrets(database: &str) -> Agent {
    let mut agent = agent("dev", "alpha", AgentState::Running);
    let mut rebuilt = Agent::builder("dev")
        .env("API_TOKEN", "hunter2")
        .env("DATABASE_URL", database)
        .env("LOG_LEVEL", "info")
        .secret_env("SEARCH_PASSWORD", "search-password")
        .build();
    agent.env = std::mem::take(&mut rebuilt.env);
    agent
}

#[test]
fn recorded_digests_match_the_values_they_were_made_from() {
    let before = with_secrets("postgres://app:pw-4242@db/x");
    // What Docker's label holds: digests of the sensitive literals.
    let mut observed_agent = applied(&before);
    observed_agent.last_applied = Some(crate::desired::with_digests(&before));
    let unchanged = plan_of(
        &fleet(vec![before.clone()]),
        &observed(vec![observed_agent.clone()]),
    );
    assert!(unchanged.steps.is_empty(), "{:?}", unchanged.steps);
    let mut after = before.clone();
    after.image = "hiclaw/worker:v2".into();
    after.runtime_hash = "runtime-2".into();
    let plan = plan_of(&fleet(vec![after]), &observed(vec![observed_agent]));
    assert_eq!(
        plan.steps[0].causes,
        vec![Cause::FieldChanged {
            path: "image".into(),
            before: Some("hiclaw/worker:v1".into()),
            after: Some("hiclaw/worker:v2".into())
        }],
        "an unchanged secret is no cause"
    );
}

#[test]
fn a_changed_secret_shows_as_a_change_against_its_digest() {
    let before = with_secrets("postgres://app:pw-4242@db/x");
    let mut observed_agent = applied(&before);
    observed_agent.last_applied = Some(crate::desired::with_digests(&before));
    let mut after = with_secrets("postgres://app:pw-5353@db/x");
    after.env.get_mut("API_TOKEN").expect("API_TOKEN").value = "hunter3".into();
    after.runtime_hash = "runtime-2".into();
    let plan = plan_of(&fleet(vec![after]), &observed(vec![observed_agent]));
    assert_eq!(
        plan.steps[0].causes,
        vec![
            Cause::SensitiveChanged {
                path: "env.API_TOKEN".into()
            },
            Cause::SensitiveChanged {
                path: "env.DATABASE_URL".into()
            },
        ]
    );
    let json = serde_json::to_string(&plan).expect("plan json");
    for value in [
        "hunter",
        "pw-4242",
        "pw-5353",
        crate::desired::DIGEST_PREFIX,
    ] {
        assert!(!json.contains(value), "{value}: {json}");
    }
}

#[test]
fn credential_urls_under_plain_keys_carry_no_values() {
    // A record written before such values counted as sensitive: the flag is unset.
    let mut before = agent("dev", "alpha", AgentState::Running);
    for (key, value) in [
        ("DATABASE_URL", "postgres://app:old-pw@db/x"),
        ("WEBHOOK", "https://hooks.example.com/x"),
    ] {
        let variable = EnvVar {
            value: value.into(),
            secret_ref: false,
            sensitive: false,
        };
        before.env.insert(key.into(), variable);
    }
    let mut after = before.clone();
    let mut rebuilt = Agent::builder("dev")
        .env("DATABASE_URL", "postgres://db2/x")
        .env(
            "WEBHOOK",
            "https://hooks.example.com/x?access_token=new-tok",
        )
        .build();
    after.env = std::mem::take(&mut rebuilt.env);
    after.runtime_hash = "runtime-2".into();
    let plan = plan_of(&fleet(vec![after]), &observed(vec![applied(&before)]));
    assert_eq!(
        plan.steps[0].causes,
        vec![
            Cause::SensitiveChanged {
                path: "env.DATABASE_URL".into()
            },
            Cause::SensitiveChanged {
                path: "env.WEBHOOK".into()
            },
        ]
    );
    let json = serde_json::to_string(&plan).expect("plan json");
    assert!(
        !json.contains("old-pw") && !json.contains("new-tok"),
        "{json}"
    );
}

#[test]
fn without_the_applied_record_hash_changes_are_the_causes() {
    let before = agent("dev", "alpha", AgentState::Running);
    let mut observed_agent = applied(&before);
    observed_agent.last_applied = None;
    let mut after = upgraded(before);
    after.config_hash = "config-2".into();
    let plan = plan_of(&fleet(vec![after]), &observed(vec![observed_agent]));
    assert_eq!(
        plan.steps[0].causes,
        vec![
            Cause::RuntimeChanged {
                before: "runtime-1".into(),
                after: "runtime-2".into()
            },
            Cause::WorkspaceChanged {
                before: "config-1".into(),
                after: "config-2".into()
            },
        ]
    );
}

mod pilot;
mod rollout;
