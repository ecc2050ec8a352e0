//! Hand-built plans for the render tests.

use crate::observe::ObservedSource;
use crate::plan::{
    Cause, Drift, MassDeletion, Op, PLAN_FORMAT, Plan, Resource, RolloutGroup, Step, Summary, Wave,
};
use crate::source::Revision;
use crate::spec::hiclaw::AgentState;

/// Builds a plan step by step.
pub struct PlanBuilder {
    plan: Plan,
}

impl PlanBuilder {
    pub fn new() -> Self {
        Self {
            plan: Plan {
                format: PLAN_FORMAT.to_owned(),
                fleet: "prod".to_owned(),
                revision: Some(Revision {
                    commit: "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d".to_owned(),
                    subject: "Bump worker images to v1.2.0".to_owned(),
                }),
                against: ObservedSource::Backend {
                    description: "docker unix:///var/run/docker.sock".to_owned(),
                },
                observed_fingerprint: "f".repeat(64),
                steps: Vec::new(),
                waves: Vec::new(),
                unchanged: Vec::new(),
                summary: Summary::default(),
                mass_deletion: None,
            },
        }
    }

    /// Adds a step to the current (last) wave and returns its id.
    pub fn step(&mut self, op: Op, agent: &str, group: &str, causes: Vec<Cause>) -> usize {
        let id = self.plan.steps.len();
        let depends_on = id.checked_sub(1).into_iter().collect();
        let wave = self.plan.waves.len().saturating_sub(1);
        let group = RolloutGroup::parse(group);
        self.plan.steps.push(Step {
            id,
            wave,
            ..Step::unplaced(
                op,
                Resource::parse(agent),
                group.clone(),
                causes,
                depends_on,
            )
        });
        if let Some(current) = self.plan.waves.last_mut() {
            current.steps.push(id);
            if !current.groups.contains(&group) {
                current.groups.push(group);
            }
            let restarts = matches!(op, Op::CreateAgent | Op::RecreateAgent | Op::WakeAgent);
            if restarts && !current.restarts.iter().any(|name| name == agent) {
                current.restarts.push(agent.to_owned());
            }
        }
        match op {
            Op::CreateAgent => self.plan.summary.create += 1,
            Op::RecreateAgent => self.plan.summary.recreate += 1,
            Op::PushConfig => self.plan.summary.update += 1,
            Op::SleepAgent => self.plan.summary.sleep += 1,
            Op::WakeAgent => self.plan.summary.wake += 1,
            Op::RemoveAgent => self.plan.summary.remove += 1,
            Op::DeleteAgent => self.plan.summary.delete += 1,
            Op::KeepAgent => self.plan.summary.kept += 1,
            Op::UpdateTeamAccess => self.plan.summary.access += 1,
            Op::WriteHuman | Op::DeleteHuman => self.plan.summary.humans += 1,
            Op::BootstrapPilot => self.plan.summary.pilot += 1,
            Op::WaitHealthy | Op::ConfirmPilotTrust => {}
        }
        id
    }

    /// A restart followed by its health gate.
    pub fn restart(&mut self, op: Op, agent: &str, group: &str, causes: Vec<Cause>, timeout: u64) {
        self.step(op, agent, group, causes);
        self.step(
            Op::WaitHealthy,
            agent,
            group,
            vec![Cause::HealthGate {
                timeout_seconds: timeout,
            }],
        );
    }

    /// Starts a new wave; following steps belong to it.
    pub fn wave(&mut self) -> &mut Self {
        let index = self.plan.waves.len();
        self.plan.waves.push(Wave {
            index,
            groups: Vec::new(),
            steps: Vec::new(),
            restarts: Vec::new(),
        });
        self
    }

    pub fn unchanged(&mut self, count: usize) -> &mut Self {
        self.plan.unchanged = (0..count)
            .map(|index| format!("hiclaw-worker-steady-{index:02}"))
            .collect();
        self.plan.summary.unchanged = count;
        self
    }

    pub fn build(&self) -> Plan {
        self.plan.clone()
    }

    pub fn plan_mut(&mut self) -> &mut Plan {
        &mut self.plan
    }
}

pub fn field(path: &str, before: Option<&str>, after: Option<&str>) -> Cause {
    Cause::FieldChanged {
        path: path.to_owned(),
        before: before.map(str::to_owned),
        after: after.map(str::to_owned),
    }
}

pub fn file(path: &str, before: Option<&str>, after: Option<&str>) -> Cause {
    Cause::FileChanged {
        path: path.to_owned(),
        before: before.map(str::to_owned),
        after: after.map(str::to_owned),
    }
}

pub fn state(before: AgentState, after: AgentState) -> Cause {
    Cause::StateChanged { before, after }
}

const SOUL_BEFORE: &str = "# Soul\n\nYou are the lead of team alpha.\nBe concise.\nReview every pull request.\nEscalate outages to the Manager.\nSign off as alpha-lead.\n";
const SOUL_AFTER: &str = "# Soul\n\nYou are the lead of team alpha.\nBe concise and kind.\nReview every pull request.\nEscalate outages to the Manager.\nSign off as alpha-lead.\n";

/// Every operation and every kind of cause, a mass deletion, 11 unchanged agents.
pub fn every_change() -> Plan {
    let mut builder = PlanBuilder::new();
    alpha_wave(&mut builder);
    standalone_wave(&mut builder);
    last_waves(&mut builder);
    builder.unchanged(11);
    builder.plan_mut().mass_deletion = Some(MassDeletion {
        count: 3,
        fleet_size: 25,
        limit_percent: 10,
        groups: vec!["deletes".to_owned(), "standalone".to_owned()],
    });
    builder.build()
}

/// Team alpha: an image bump, a workspace change, field changes including a secret.
fn alpha_wave(builder: &mut PlanBuilder) {
    let image = "registry.example.com/hiclaw/hiclaw-worker";
    builder.wave();
    builder.restart(
        Op::RecreateAgent,
        "hiclaw-worker-alpha-dev",
        "alpha",
        vec![field(
            "image",
            Some(&format!("{image}:v1.1.2")),
            Some(&format!("{image}:v1.2.0")),
        )],
        90,
    );
    builder.step(
        Op::PushConfig,
        "hiclaw-worker-alpha-lead",
        "alpha",
        vec![file("SOUL.md", Some(SOUL_BEFORE), Some(SOUL_AFTER))],
    );
    builder.restart(
        Op::RecreateAgent,
        "hiclaw-worker-alpha-ops",
        "alpha",
        vec![
            field("env.LOG_LEVEL", Some("info"), Some("debug")),
            Cause::SensitiveChanged {
                path: "env.GITHUB_TOKEN".to_owned(),
            },
            field("ports", None, Some("8080/http")),
            field("labels.tier", Some("gold"), None),
        ],
        90,
    );
}

/// Standalone agents: create, sleep, wake, recreate asleep, remove, and every drift.
fn standalone_wave(builder: &mut PlanBuilder) {
    let image = "registry.example.com/hiclaw/hiclaw-worker";
    builder.wave();
    builder.restart(
        Op::CreateAgent,
        "hiclaw-worker-scout",
        "standalone",
        vec![Cause::NewAgent],
        60,
    );
    builder.step(
        Op::SleepAgent,
        "hiclaw-worker-night",
        "standalone",
        vec![state(AgentState::Running, AgentState::Sleeping)],
    );
    builder.restart(
        Op::WakeAgent,
        "hiclaw-worker-morning",
        "standalone",
        vec![state(AgentState::Sleeping, AgentState::Running)],
        60,
    );
    builder.step(
        Op::RecreateAgent,
        "hiclaw-worker-dreamer",
        "standalone",
        vec![
            Cause::RuntimeChanged {
                before: "0123456789abcdef0123".to_owned(),
                after: "fedcba9876543210fedc".to_owned(),
            },
            Cause::StaysAsleep,
        ],
    );
    builder.step(
        Op::RemoveAgent,
        "hiclaw-worker-retired",
        "standalone",
        vec![Cause::DesiredStopped],
    );
    builder.restart(
        Op::RecreateAgent,
        "hiclaw-worker-drifter",
        "standalone",
        vec![Cause::Drift(Drift::ImageChanged {
            applied: format!("{image}:v1.2.0"),
            running: format!("{image}:v1.2.0-hotfix"),
        })],
        120,
    );
    builder.restart(
        Op::WakeAgent,
        "hiclaw-worker-sleepy",
        "standalone",
        vec![Cause::Drift(Drift::StoppedOutsideClawops)],
        60,
    );
    builder.step(
        Op::SleepAgent,
        "hiclaw-worker-insomniac",
        "standalone",
        vec![Cause::Drift(Drift::StartedOutsideClawops)],
    );
    builder.restart(
        Op::CreateAgent,
        "hiclaw-worker-lost",
        "standalone",
        vec![Cause::Drift(Drift::RemovedOutsideClawops)],
        60,
    );
}

/// A Pilot setup (new and removed files), debug, the Manager, deletions.
fn last_waves(builder: &mut PlanBuilder) {
    builder.wave();
    builder.step(
        Op::PushConfig,
        "hiclaw-worker-pilot-a",
        "pilot:lab",
        vec![file("AGENTS.md", None, Some("# Agents\n\nPilot a.\n"))],
    );
    builder.step(
        Op::PushConfig,
        "hiclaw-worker-pilot-b",
        "pilot:lab",
        vec![file("notes.md", Some("scratch\n"), None)],
    );
    builder.wave();
    builder.restart(
        Op::CreateAgent,
        "hiclaw-worker-debug",
        "debug",
        vec![Cause::NewAgent],
        60,
    );
    builder.wave();
    builder.restart(
        Op::RecreateAgent,
        "hiclaw-manager",
        "manager",
        vec![field(
            "image",
            Some("registry.example.com/hiclaw/hiclaw-manager:v1.1.2"),
            Some("registry.example.com/hiclaw/hiclaw-manager:v1.2.0"),
        )],
        180,
    );
    builder.wave();
    builder.step(
        Op::DeleteAgent,
        "hiclaw-worker-old-1",
        "deletes",
        vec![Cause::GoneFromGit],
    );
    builder.step(
        Op::DeleteAgent,
        "hiclaw-worker-old-2",
        "deletes",
        vec![Cause::GoneFromGit],
    );
}

/// One hot push, and one agent kept because pruning is off.
pub fn kept_agent() -> Plan {
    let mut builder = PlanBuilder::new();
    builder.wave();
    builder.step(
        Op::PushConfig,
        "hiclaw-worker-beta-dev",
        "beta",
        vec![file(
            "SOUL.md",
            Some("Be brief.\n"),
            Some("Be brief and kind.\n"),
        )],
    );
    builder.step(
        Op::KeepAgent,
        "hiclaw-worker-x",
        "deletes",
        vec![Cause::GoneFromGit],
    );
    builder.unchanged(4);
    builder.build()
}

/// Nothing to do.
pub fn no_changes() -> Plan {
    let mut builder = PlanBuilder::new();
    builder.unchanged(11);
    builder.build()
}

/// `teams` teams of `members` agents, each recreated for the same image, a wave per team.
pub fn identical_recreates(teams: usize, members: usize) -> Plan {
    let image = "registry.example.com/hiclaw/hiclaw-worker";
    let mut builder = PlanBuilder::new();
    for team in 1..=teams {
        let group = format!("team-{team:04}");
        builder.wave();
        for member in 0..members {
            builder.restart(
                Op::RecreateAgent,
                &format!("hiclaw-worker-{group}-w{member:02}"),
                &group,
                vec![field(
                    "image",
                    Some(&format!("{image}:v1.1.2")),
                    Some(&format!("{image}:v1.2.0")),
                )],
                90,
            );
        }
    }
    builder.build()
}

/// 1,000 teams of 11 agents where every agent has its own values for every kind of cause.
pub fn distinct_everything() -> Plan {
    let mut builder = PlanBuilder::new();
    for team in 1..=1000 {
        let group = format!("team-{team:04}");
        builder.wave();
        for member in 0..11 {
            let agent = format!("hiclaw-worker-{group}-w{member:02}");
            let (op, causes) = distinct_causes(&agent, member);
            builder.restart(op, &agent, &group, causes, 90);
        }
    }
    builder.build()
}

/// Cycles through every op and cause kind, with values unique to the agent.
fn distinct_causes(agent: &str, member: usize) -> (Op, Vec<Cause>) {
    let body: String = (0..40)
        .map(|line| format!("{agent} line {line}\n"))
        .collect();
    let drift = match member % 4 {
        0 => Drift::StoppedOutsideClawops,
        1 => Drift::StartedOutsideClawops,
        2 => Drift::RemovedOutsideClawops,
        _ => Drift::ImageChanged {
            applied: format!("r.io/{agent}:v1"),
            running: format!("r.io/{agent}:v2"),
        },
    };
    let causes = vec![
        Cause::NewAgent,
        field(
            "image",
            Some(&format!("r.io/{agent}:v1")),
            Some(&format!("r.io/{agent}:v2")),
        ),
        field(
            "env.SECRET_KEY",
            Some(&format!("{agent}-old")),
            Some(&format!("{agent}-new")),
        ),
        Cause::SensitiveChanged {
            path: format!("env.{agent}_TOKEN"),
        },
        Cause::RuntimeChanged {
            before: format!("{agent}-before"),
            after: format!("{agent}-after"),
        },
        file(
            "SOUL.md",
            Some(&body),
            Some(&body.replace("line 20", "line twenty")),
        ),
        state(AgentState::Running, AgentState::Sleeping),
        Cause::DesiredStopped,
        Cause::GoneFromGit,
        Cause::StaysAsleep,
        Cause::Drift(drift),
    ];
    let ops = [
        Op::CreateAgent,
        Op::RecreateAgent,
        Op::PushConfig,
        Op::SleepAgent,
        Op::WakeAgent,
        Op::RemoveAgent,
        Op::DeleteAgent,
        Op::KeepAgent,
    ];
    (ops[member % ops.len()], causes)
}
