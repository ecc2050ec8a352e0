//! Executor tests against a scripted fake backend.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use super::*;
use crate::desired::{Agent, Group, ImageSource, RolloutSettings};
use crate::observe::{Observed, ObservedAgent};
use crate::plan::{PlanOptions, plan};
use crate::spec::config::PruneConfig;
use crate::spec::hiclaw::{AgentState, UpgradeOrder};

/// Records every call; fails the health gate of the agents named in `unhealthy`.
#[derive(Default)]
struct ScriptedBackend {
    calls: Mutex<Vec<String>>,
    unhealthy: BTreeSet<String>,
    /// Agents whose health gate takes a while.
    slow: BTreeSet<String>,
    running_now: AtomicUsize,
    most_at_once: AtomicUsize,
}

impl ScriptedBackend {
    fn failing(agents: &[&str]) -> Self {
        Self {
            unhealthy: agents
                .iter()
                .map(|agent| format!("hiclaw-worker-{agent}"))
                .collect(),
            ..Self::default()
        }
    }

    fn record(&self, call: String) {
        self.calls.lock().expect("calls").push(call);
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("calls").clone()
    }

    async fn busy(&self) {
        let now = self.running_now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_at_once.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.running_now.fetch_sub(1, Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl Backend for ScriptedBackend {
    fn describe(&self) -> String {
        "scripted".to_owned()
    }
    async fn observe(&self) -> Result<Observed, BackendError> {
        Ok(Observed::empty())
    }
    async fn prepare(&self, _agents: &[&Agent]) -> Result<(), BackendError> {
        Ok(())
    }
    async fn create_agent(&self, agent: &Agent, _commit: Option<&str>) -> Result<(), BackendError> {
        self.busy().await;
        self.record(format!("create {}", agent.member));
        Ok(())
    }
    async fn recreate_agent(
        &self,
        agent: &Agent,
        _commit: Option<&str>,
    ) -> Result<(), BackendError> {
        self.record(format!("recreate {}", agent.member));
        Ok(())
    }
    async fn finish_recreate(&self, name: &str) -> Result<(), BackendError> {
        self.record(format!(
            "finish {}",
            name.trim_start_matches("hiclaw-worker-")
        ));
        Ok(())
    }
    async fn roll_back(&self, name: &str) -> Result<(), BackendError> {
        self.record(format!(
            "roll back {}",
            name.trim_start_matches("hiclaw-worker-")
        ));
        Ok(())
    }
    async fn push_config(&self, agent: &Agent, _commit: Option<&str>) -> Result<(), BackendError> {
        self.record(format!("push {}", agent.member));
        Ok(())
    }
    async fn sleep_agent(&self, name: &str) -> Result<(), BackendError> {
        self.record(format!("sleep {name}"));
        Ok(())
    }
    async fn wake_agent(&self, name: &str) -> Result<(), BackendError> {
        self.record(format!("wake {name}"));
        Ok(())
    }
    async fn remove_agent(&self, name: &str) -> Result<(), BackendError> {
        self.record(format!("remove {name}"));
        Ok(())
    }
    async fn delete_agent(&self, name: &str, workspace: bool) -> Result<(), BackendError> {
        self.record(format!("delete {name} workspace={workspace}"));
        Ok(())
    }
    async fn try_lock(&self, _holder: &crate::backend::LockHolder) -> Result<(), BackendError> {
        Ok(())
    }
    async fn renew_lock(&self, _holder: &crate::backend::LockHolder) -> Result<(), BackendError> {
        Ok(())
    }
    async fn unlock(
        &self,
        _holder: Option<&crate::backend::LockHolder>,
    ) -> Result<(), BackendError> {
        Ok(())
    }
    async fn wait_healthy(
        &self,
        agent: &Agent,
        timeout: Duration,
        _interval: Duration,
    ) -> Result<(), BackendError> {
        if self.slow.contains(&agent.name) {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        self.record(format!("wait {}", agent.member));
        if self.unhealthy.contains(&agent.name) {
            return Err(BackendError::Unhealthy {
                agent: agent.name.clone(),
                seconds: timeout.as_secs(),
                reason: "probe failed".to_owned(),
            });
        }
        Ok(())
    }
}

/// Progress that records nothing.
struct Quiet;

impl Progress for Quiet {
    fn wave_started(&self, _wave: &crate::plan::Wave, _plan: &Plan) {}
    fn step_finished(&self, _step: &Step, _outcome: &StepOutcome) {}
    fn wave_finished(&self, _wave: &crate::plan::Wave) {}
}

fn agent(member: &str, image: &str) -> Agent {
    Agent::builder(member)
        .image_from(image, ImageSource::ImageSet)
        .file("alpha.yaml")
        .build()
}

fn team(members: &[&str], image: &str, on_failure: FailurePolicy) -> Desired {
    let agents: Vec<Agent> = members.iter().map(|member| agent(member, image)).collect();
    let group = Group {
        name: "alpha".to_owned(),
        is_team: true,
        canary: false,
        agents: agents.iter().map(|agent| agent.name.clone()).collect(),
    };
    let mut sorted = agents;
    sorted.sort_by(|left, right| left.name.cmp(&right.name));
    let settings = RolloutSettings {
        order: UpgradeOrder::WorkersFirst,
        max_unavailable: 1,
        health_timeout_seconds: 5,
        on_failure,
        probe: None,
    };
    Desired {
        fleet: "acme".to_owned(),
        prefix: "hiclaw-".to_owned(),
        revision: None,
        agents: sorted,
        groups: vec![group],
        rollout: BTreeMap::from([("alpha".to_owned(), settings)]),
        teams_in_parallel: 1,
        prune: PruneConfig::default(),
        teams: Vec::new(),
        hiclaw: None,
    }
}

/// Two teams upgraded side by side (`teams_in_parallel = 2`), then a standalone worker.
fn two_teams_upgrade(alpha: &[&str], beta: &[&str]) -> (Desired, Plan) {
    let fleet = |image: &str| {
        let mut desired = team(alpha, image, FailurePolicy::Halt);
        let mut beta_agents: Vec<Agent> = beta.iter().map(|member| agent(member, image)).collect();
        for agent in &mut beta_agents {
            agent.group = "beta".to_owned();
            agent.team = Some("beta".to_owned());
        }
        let mut scout = agent("scout", image);
        scout.group = "standalone".to_owned();
        scout.team = None;
        let settings = desired.rollout["alpha"].clone();
        for (name, members, is_team) in [
            ("beta", beta_agents.clone(), true),
            ("standalone", vec![scout.clone()], false),
        ] {
            desired.groups.push(Group {
                name: name.to_owned(),
                is_team,
                canary: false,
                agents: members.iter().map(|agent| agent.name.clone()).collect(),
            });
            desired.rollout.insert(name.to_owned(), settings.clone());
        }
        desired.agents.extend(beta_agents);
        desired.agents.push(scout);
        desired
            .agents
            .sort_by(|left, right| left.name.cmp(&right.name));
        desired.teams_in_parallel = 2;
        desired
    };
    planned_from(&fleet("worker:v1"), fleet("worker:v2"))
}

/// `after` and its plan against a backend where `before` was applied exactly.
fn planned_from(before: &Desired, after: Desired) -> (Desired, Plan) {
    let mut observed = Observed::empty();
    observed.agents = before
        .agents
        .iter()
        .map(|agent| ObservedAgent::applied_exactly(agent, None))
        .collect();
    let plan = plan(&after, &observed, &PlanOptions::default());
    (after, plan)
}

fn upgrade(members: &[&str], on_failure: FailurePolicy) -> (Desired, Plan) {
    planned_from(
        &team(members, "worker:v1", on_failure),
        team(members, "worker:v2", on_failure),
    )
}

fn options() -> ApplyOptions {
    ApplyOptions { concurrency: 4 }
}

async fn run(backend: &ScriptedBackend, desired: &Desired, plan: &Plan) -> ApplyReport {
    apply(
        backend,
        desired,
        plan,
        &options(),
        &Quiet,
        &AtomicBool::new(false),
    )
    .await
}

#[tokio::test]
async fn an_upgrade_walks_the_waves_gate_by_gate() {
    let (desired, plan) = upgrade(&["dev", "qa", "lead"], FailurePolicy::Halt);
    let backend = ScriptedBackend::default();
    let report = run(&backend, &desired, &plan).await;
    assert!(report.succeeded());
    assert_eq!(
        backend.calls(),
        [
            "recreate dev",
            "wait dev",
            "finish dev",
            "recreate qa",
            "wait qa",
            "finish qa",
            "recreate lead",
            "wait lead",
            "finish lead"
        ]
    );
    assert_eq!(report.outcomes.len(), plan.steps.len());
}

#[tokio::test]
async fn a_slow_gate_in_one_team_does_not_hold_back_the_other() {
    let (desired, plan) = two_teams_upgrade(&["a1", "a2"], &["b1", "b2", "b3"]);
    let backend = ScriptedBackend {
        slow: BTreeSet::from(["hiclaw-worker-a1".to_owned()]),
        ..ScriptedBackend::default()
    };
    let report = run(&backend, &desired, &plan).await;
    assert!(report.succeeded(), "{report:?}");
    let calls = backend.calls();
    let position = |call: &str| {
        calls
            .iter()
            .position(|made| made == call)
            .unwrap_or_else(|| panic!("{call} in {calls:?}"))
    };
    // beta walks all its batches while alpha's first gate still waits (waves 1 and 2
    // overlap), but alpha's next agent waits for that gate.
    assert!(position("recreate b3") < position("wait a1"), "{calls:?}");
    assert!(position("wait a1") < position("recreate a2"), "{calls:?}");
    // The standalone group comes after both teams, slow one included.
    assert!(
        position("wait a2") < position("recreate scout"),
        "{calls:?}"
    );
    assert!(
        position("wait b3") < position("recreate scout"),
        "{calls:?}"
    );
}

#[tokio::test]
async fn a_failed_gate_halts_and_leaves_the_agent_for_inspection() {
    let (desired, plan) = upgrade(&["dev", "qa", "lead"], FailurePolicy::Halt);
    let backend = ScriptedBackend::failing(&["qa"]);
    let report = run(&backend, &desired, &plan).await;
    assert!(!report.succeeded() && report.stopped_early);
    assert_eq!(
        backend.calls(),
        [
            "recreate dev",
            "wait dev",
            "finish dev",
            "recreate qa",
            "wait qa"
        ]
    );
    assert_eq!(
        report.counts(),
        (3, 1, 2),
        "dev done twice (recreate, gate), qa recreate done, qa gate failed, lead not attempted"
    );
    let failed = report
        .outcomes
        .iter()
        .find(|outcome| matches!(outcome.outcome, Outcome::Failed(_)))
        .expect("a failure");
    assert!(
        matches!(&failed.outcome, Outcome::Failed(error) if error.to_string().contains("did not become healthy"))
    );
}

#[tokio::test]
async fn a_failed_gate_rolls_back_when_asked() {
    let (desired, plan) = upgrade(&["dev", "lead"], FailurePolicy::Rollback);
    let backend = ScriptedBackend::failing(&["dev"]);
    let report = run(&backend, &desired, &plan).await;
    assert_eq!(
        backend.calls(),
        ["recreate dev", "wait dev", "roll back dev"]
    );
    assert!(
        report
            .outcomes
            .iter()
            .any(|outcome| matches!(outcome.outcome, Outcome::RolledBack(_)))
    );
    assert_eq!(
        report
            .outcomes
            .iter()
            .filter(|outcome| outcome.outcome.is_not_attempted())
            .count(),
        2
    );
}

#[tokio::test]
async fn the_gate_runs_as_the_plan_step_says_not_as_the_desired_state_says() {
    // The desired state says halt and 5 s; the saved plan's gate says rollback and 7 s.
    let (desired, mut plan) = upgrade(&["dev", "lead"], FailurePolicy::Halt);
    for gate in plan.steps.iter_mut().filter_map(|step| step.gate.as_mut()) {
        gate.on_failure = FailurePolicy::Rollback;
        gate.timeout_seconds = 7;
    }
    let backend = ScriptedBackend::failing(&["dev"]);
    let report = run(&backend, &desired, &plan).await;
    assert_eq!(
        backend.calls(),
        ["recreate dev", "wait dev", "roll back dev"]
    );
    let failure = report.first_failure().expect("the gate failed");
    assert!(matches!(failure.outcome, Outcome::RolledBack(_)));
    let message = failure.outcome.error().expect("an error").to_string();
    assert!(message.contains("within 7s"), "{message}");
}

#[tokio::test]
async fn a_recreate_no_gate_judged_drops_its_previous_container() {
    // A sleeping agent is recreated stopped: no gate follows, its old container goes.
    let before = team(&["dev"], "worker:v1", FailurePolicy::Halt);
    let mut after = team(&["dev"], "worker:v2", FailurePolicy::Halt);
    after.agents[0].state = AgentState::Sleeping;
    let mut asleep = before.clone();
    asleep.agents[0].state = AgentState::Sleeping;
    let (after, plan) = planned_from(&asleep, after);
    assert!(plan.steps.iter().all(|step| step.gate.is_none()));
    let backend = ScriptedBackend::default();
    let report = run(&backend, &after, &plan).await;
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(backend.calls(), ["recreate dev", "finish dev"]);
}

#[tokio::test]
async fn creates_in_one_wave_run_concurrently_up_to_the_bound() {
    let members: Vec<String> = (0..8).map(|index| format!("w{index}")).collect();
    let members: Vec<&str> = members.iter().map(String::as_str).collect();
    let desired = team(&members, "worker:v1", FailurePolicy::Halt);
    let plan = plan(&desired, &Observed::empty(), &PlanOptions::default());
    let backend = ScriptedBackend::default();
    let report = run(&backend, &desired, &plan).await;
    assert!(report.succeeded());
    assert_eq!(backend.most_at_once.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn a_stop_request_starts_nothing_new() {
    let (desired, plan) = upgrade(&["dev", "lead"], FailurePolicy::Halt);
    let backend = ScriptedBackend::default();
    let report = apply(
        &backend,
        &desired,
        &plan,
        &options(),
        &Quiet,
        &AtomicBool::new(true),
    )
    .await;
    assert!(backend.calls().is_empty());
    assert!(report.stopped_early);
    assert!(
        report
            .outcomes
            .iter()
            .all(|outcome| outcome.outcome.is_not_attempted())
    );
}

#[tokio::test]
async fn every_other_operation_reaches_the_backend() {
    let mut before = team(
        &["dev", "qa", "gone", "stop"],
        "worker:v1",
        FailurePolicy::Halt,
    );
    before
        .agents
        .iter_mut()
        .filter(|agent| agent.member == "qa")
        .for_each(|agent| agent.state = AgentState::Sleeping);
    let mut observed = Observed::empty();
    observed.agents = before
        .agents
        .iter()
        .map(|agent| ObservedAgent::applied_exactly(agent, None))
        .collect();
    let mut after = team(&["dev", "qa", "stop"], "worker:v1", FailurePolicy::Halt);
    for agent in &mut after.agents {
        match agent.member.as_str() {
            "dev" => {
                agent.config_hash = "config-2".to_owned();
                agent
                    .workspace
                    .insert("SOUL.md".to_owned(), "new soul".to_owned());
                agent.state = AgentState::Sleeping;
            }
            "stop" => agent.state = AgentState::Stopped,
            _ => {}
        }
    }
    let plan_options = PlanOptions {
        prune: true,
        delete_workspaces: true,
    };
    let plan = plan(&after, &observed, &plan_options);
    let backend = ScriptedBackend::default();
    let report = apply(
        &backend,
        &after,
        &plan,
        &ApplyOptions { concurrency: 1 },
        &Quiet,
        &AtomicBool::new(false),
    )
    .await;
    assert!(report.succeeded(), "{report:?}");
    let calls: BTreeSet<String> = backend.calls().into_iter().collect();
    let expected: BTreeSet<String> = [
        "push dev",
        "sleep hiclaw-worker-dev",
        "wake hiclaw-worker-qa",
        "wait qa",
        "remove hiclaw-worker-stop",
        "delete hiclaw-worker-gone workspace=true",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(calls, expected);
}
