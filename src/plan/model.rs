//! The plan as data: steps (an [`Op`] on one agent, with its [`Cause`]s and dependencies),
//! the waves the rollout walks, and a summary. Every output format and `apply` read this
//! one value.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::resource::{HealthGate, Resource, RolloutGroup};
use crate::observe::ObservedSource;
use crate::source::Revision;
use crate::spec::hiclaw::AgentState;

/// The version of the JSON plan document.
pub const PLAN_FORMAT: &str = "clawops.plan/v1";

/// What a step does. Named verb + noun; the executor matches on every variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Create the agent (started, or left stopped when it is asleep).
    CreateAgent,
    /// Replace the agent's container (the runtime hash changed).
    RecreateAgent,
    /// Upload changed workspace files into the running agent, no restart.
    PushConfig,
    /// Stop the agent, keeping its container.
    SleepAgent,
    /// Start a stopped agent.
    WakeAgent,
    /// Remove the container of an agent whose desired state is Stopped.
    RemoveAgent,
    /// Remove an agent that left git (pruning on).
    DeleteAgent,
    /// Leave an agent that left git alone (pruning off); reported only.
    KeepAgent,
    /// Wait until an agent that just started is healthy; gates everything after it.
    WaitHealthy,
    /// Bring a team's access rules in line (Kubernetes: its NetworkPolicy, and the admin's
    /// Role naming the team's pods); the step's resource is a [`Resource::Team`].
    UpdateTeamAccess,
    /// Create or update a Human (the `hiclaw` target); the step's resource is a
    /// [`Resource::Human`].
    WriteHuman,
    /// Delete a Human that left git (pruning on).
    DeleteHuman,
    /// Run a Pilot role's bootstrap in its container: install its skills with `clawhub`
    /// (uninstalling those git dropped) and set its hostname.
    BootstrapPilot,
    /// Gate after the bootstraps of a batch: send the role's handshakes, approve its
    /// listed peers' pending requests, and wait until every peer is trusted mutually;
    /// carries the gate's timeout and failure policy.
    ConfirmPilotTrust,
}

impl Op {
    /// The Terraform-like marker of the operation in text output.
    pub fn marker(self) -> &'static str {
        match self {
            Op::CreateAgent => "+",
            Op::RecreateAgent => "-/+",
            Op::PushConfig => "~",
            Op::SleepAgent => "z",
            Op::WakeAgent => "^",
            Op::RemoveAgent | Op::DeleteAgent => "-",
            Op::KeepAgent => "!",
            Op::WaitHealthy => "?",
            Op::UpdateTeamAccess => "~",
            Op::WriteHuman => "~",
            Op::DeleteHuman => "-",
            Op::BootstrapPilot => "~",
            Op::ConfirmPilotTrust => "?",
        }
    }

    /// A short verb for the operation (`create`, `recreate`, `update in place`…).
    pub fn verb(self) -> &'static str {
        match self {
            Op::CreateAgent => "create",
            Op::RecreateAgent => "recreate",
            Op::PushConfig => "update in place",
            Op::SleepAgent => "sleep",
            Op::WakeAgent => "wake",
            Op::RemoveAgent => "remove",
            Op::DeleteAgent => "delete",
            Op::KeepAgent => "keep (not in git)",
            Op::WaitHealthy => "wait healthy",
            Op::UpdateTeamAccess => "update access",
            Op::WriteHuman => "write human",
            Op::DeleteHuman => "delete human",
            Op::BootstrapPilot => "bootstrap pilot",
            Op::ConfirmPilotTrust => "confirm pilot trust",
        }
    }
}

/// Changes clawops did not make, found by comparing the backend with what it last applied.
///
/// Tagged `drift` (not `kind`): it is nested in [`Cause::Drift`], whose tag is `kind`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "drift", rename_all = "snake_case")]
pub enum Drift {
    /// The agent should run but was stopped outside clawops.
    StoppedOutsideClawops,
    /// The agent should sleep but was started outside clawops.
    StartedOutsideClawops,
    /// The container was removed outside clawops.
    RemovedOutsideClawops,
    /// The container runs another image than the one applied.
    ImageChanged {
        /// The image clawops applied.
        applied: String,
        /// The image running now.
        running: String,
    },
    /// The team's pods were replaced since its access rules were written (the cluster
    /// rescheduled them), so the rules name pods that are gone.
    PodsReplaced,
    /// Fields of the agent's objects were edited outside clawops (found by a server-side
    /// dry run on Kubernetes).
    EditedOutsideClawops {
        /// The edited fields, e.g. `spec.template.spec.containers.0.image`.
        fields: Vec<String>,
    },
}

impl fmt::Display for Drift {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Drift::StoppedOutsideClawops => formatter.write_str("stopped outside clawops"),
            Drift::StartedOutsideClawops => formatter.write_str("started outside clawops"),
            Drift::RemovedOutsideClawops => {
                formatter.write_str("container removed outside clawops")
            }
            Drift::ImageChanged { applied, running } => {
                write!(
                    formatter,
                    "image changed outside clawops: {applied} → {running}"
                )
            }
            Drift::PodsReplaced => {
                formatter.write_str("pods replaced since the access rules were written")
            }
            Drift::EditedOutsideClawops { fields } => {
                write!(formatter, "edited outside clawops: {}", fields.join(", "))
            }
        }
    }
}

/// Why a step is in the plan.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Cause {
    /// The agent is new in git.
    NewAgent,
    /// A field that needs a new container changed.
    FieldChanged {
        /// Field path, e.g. `image` or `env.LOG_LEVEL`.
        path: String,
        /// Value before (absent: the field was not set).
        before: Option<String>,
        /// Value after (absent: the field was removed).
        after: Option<String>,
    },
    /// A sensitive value (secret reference, secret-looking env key, or a value that carries
    /// a credential, [`crate::desired::is_sensitive`]) changed; the values are never
    /// recorded.
    SensitiveChanged {
        /// Field path, e.g. `env.GITHUB_TOKEN`.
        path: String,
    },
    /// The runtime hash changed but the previous record is not known field by field.
    RuntimeChanged {
        /// Runtime hash before.
        before: String,
        /// Runtime hash after.
        after: String,
    },
    /// The config hash changed but the previous files are not known one by one.
    WorkspaceChanged {
        /// Config hash before.
        before: String,
        /// Config hash after.
        after: String,
    },
    /// A workspace file changed (hot-pushed, or written into the new container).
    FileChanged {
        /// Path relative to the agent's home, e.g. `SOUL.md`.
        path: String,
        /// Content before (absent: new file, or previous content not known).
        before: Option<String>,
        /// Content after (absent: file removed).
        after: Option<String>,
    },
    /// The desired state changed (e.g. Running → Sleeping).
    StateChanged {
        /// State before.
        before: AgentState,
        /// State after.
        after: AgentState,
    },
    /// The agent's desired state is Stopped.
    DesiredStopped,
    /// The agent is not in git any more.
    GoneFromGit,
    /// The agent stays asleep: it is recreated stopped and not started.
    StaysAsleep,
    /// Something changed outside clawops.
    Drift(Drift),
    /// The team is new in git (its access rules do not exist yet).
    NewTeam,
    /// Agents of the team start, stop or are replaced in this plan, so its pods change.
    TeamPodsChange,
    /// Gate after the step it depends on.
    HealthGate {
        /// Seconds the agent may take.
        timeout_seconds: u64,
    },
    /// A Pilot role (re)starts, its workspace changes, or its recorded bootstrap differs
    /// from its manifest: the skills to install and uninstall, and its hostname.
    PilotBootstrap {
        /// Skills not installed by clawops yet.
        install: Vec<String>,
        /// Skills clawops installed that git dropped.
        remove: Vec<String>,
        /// The hostname it sets.
        hostname: String,
    },
    /// The gate on a Pilot role's trust.
    TrustGate {
        /// The peers that must trust it mutually.
        peers: Vec<String>,
        /// Seconds it may take.
        timeout_seconds: u64,
    },
    /// The setup says `bootstrap: false`: skills, hostname and handshakes are left to the
    /// agent.
    PilotLeftToAgent,
}

impl fmt::Display for Cause {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |value: &Option<String>| value.clone().unwrap_or_else(|| "(unset)".to_owned());
        match self {
            Cause::NewAgent => formatter.write_str("new in git"),
            Cause::FieldChanged {
                path,
                before,
                after,
            } => {
                write!(formatter, "{path}: {} → {}", shown(before), shown(after))
            }
            Cause::SensitiveChanged { path } => {
                write!(formatter, "{path}: (sensitive value changed)")
            }
            Cause::RuntimeChanged { before, after } => {
                let short = |hash: &str| hash.chars().take(12).collect::<String>();
                write!(
                    formatter,
                    "runtime hash {} → {}",
                    short(before),
                    short(after)
                )
            }
            Cause::WorkspaceChanged { before, after } => {
                let short = |hash: &str| hash.chars().take(12).collect::<String>();
                write!(
                    formatter,
                    "workspace files changed (config hash {} → {})",
                    short(before),
                    short(after)
                )
            }
            Cause::FileChanged {
                path,
                before,
                after,
            } => match (before, after) {
                (None, Some(_)) => write!(formatter, "{path}: new file"),
                (Some(_), None) => write!(formatter, "{path}: removed"),
                _ => write!(formatter, "{path}: changed"),
            },
            Cause::StateChanged { before, after } => {
                write!(formatter, "state: {} → {}", before.as_str(), after.as_str())
            }
            Cause::DesiredStopped => formatter.write_str("state: Stopped"),
            Cause::GoneFromGit => formatter.write_str("not managed by git any more"),
            Cause::StaysAsleep => formatter.write_str("stays asleep"),
            Cause::Drift(drift) => write!(formatter, "drift: {drift}"),
            Cause::NewTeam => formatter.write_str("new team"),
            Cause::TeamPodsChange => formatter.write_str("the team's pods change in this plan"),
            Cause::HealthGate { timeout_seconds } => {
                write!(formatter, "healthy within {timeout_seconds}s")
            }
            Cause::PilotBootstrap {
                install,
                remove,
                hostname,
            } => {
                let mut skills: Vec<String> = install.iter().map(|s| format!("+{s}")).collect();
                skills.extend(remove.iter().map(|skill| format!("-{skill}")));
                if skills.is_empty() {
                    write!(formatter, "hostname {hostname}, skills unchanged")
                } else {
                    write!(
                        formatter,
                        "hostname {hostname}, skills {}",
                        skills.join(" ")
                    )
                }
            }
            Cause::TrustGate {
                peers,
                timeout_seconds,
            } => write!(
                formatter,
                "trusted mutually by {} within {timeout_seconds}s",
                peers.join(", ")
            ),
            Cause::PilotLeftToAgent => {
                formatter.write_str("pilot bootstrap left to the agent (bootstrap: false)")
            }
        }
    }
}

/// One operation of the plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Index of the step in [`Plan::steps`].
    pub id: usize,
    /// The operation.
    pub op: Op,
    /// What the step works on: an agent, or a team's access rules (written `agent` in
    /// the JSON plan, as `team/<name>` for a team).
    #[serde(rename = "agent")]
    pub resource: Resource,
    /// The rollout group.
    pub group: RolloutGroup,
    /// Why.
    pub causes: Vec<Cause>,
    /// Steps that must finish (successfully) before this one starts.
    pub depends_on: Vec<usize>,
    /// The wave the step belongs to.
    pub wave: usize,
    /// A `wait_healthy` step's gate: timeout, interval, failure policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<HealthGate>,
    /// A `delete_agent` step removes the agent's workspace too (`--prune-volumes`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delete_workspace: bool,
}

impl Step {
    /// A step not yet numbered nor placed in a wave (the rollout does both).
    pub(crate) fn unplaced(
        op: Op,
        resource: Resource,
        group: RolloutGroup,
        causes: Vec<Cause>,
        depends_on: Vec<usize>,
    ) -> Self {
        Self {
            id: 0,
            op,
            resource,
            group,
            causes,
            depends_on,
            wave: 0,
            gate: None,
            delete_workspace: false,
        }
    }
}

/// A set of steps that run together; waves run one after another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wave {
    /// Position in the rollout.
    pub index: usize,
    /// Groups in this wave (several teams when `teams_in_parallel` > 1).
    pub groups: Vec<RolloutGroup>,
    /// Steps of the wave.
    pub steps: Vec<usize>,
    /// Agents whose container restarts in this wave.
    pub restarts: Vec<String>,
}

/// Counts per kind of change.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Agents created.
    pub create: usize,
    /// Agents recreated.
    pub recreate: usize,
    /// Agents updated in place (config hot push).
    pub update: usize,
    /// Agents put to sleep.
    pub sleep: usize,
    /// Agents woken.
    pub wake: usize,
    /// Agents removed (desired Stopped).
    pub remove: usize,
    /// Agents deleted (gone from git, pruning on).
    pub delete: usize,
    /// Agents gone from git but kept (pruning off).
    pub kept: usize,
    /// Agents with nothing to do.
    pub unchanged: usize,
    /// Teams whose access rules are updated.
    #[serde(default)]
    pub access: usize,
    /// Humans written or deleted.
    #[serde(default)]
    pub humans: usize,
    /// Pilot roles bootstrapped.
    #[serde(default)]
    pub pilot: usize,
}

impl Summary {
    /// Whether the plan changes anything.
    pub fn has_changes(&self) -> bool {
        self.create
            + self.recreate
            + self.update
            + self.sleep
            + self.wake
            + self.remove
            + self.delete
            + self.access
            + self.humans
            + self.pilot
            > 0
    }
}

/// A plan that would take away too much of the fleet at once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MassDeletion {
    /// Agents deleted or removed.
    pub count: usize,
    /// Agents in the fleet now.
    pub fleet_size: usize,
    /// The configured limit in percent.
    pub limit_percent: u32,
    /// Groups (teams…) losing agents, sorted.
    pub groups: Vec<String>,
}

/// The plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Always [`PLAN_FORMAT`].
    pub format: String,
    /// The fleet's owner label.
    pub fleet: String,
    /// The commit of the desired state.
    pub revision: Option<Revision>,
    /// What the plan compares against.
    pub against: ObservedSource,
    /// Fingerprint of the observed state the plan was made from.
    pub observed_fingerprint: String,
    /// Every step, in rollout order.
    pub steps: Vec<Step>,
    /// The waves, in order.
    pub waves: Vec<Wave>,
    /// Agents with nothing to do.
    pub unchanged: Vec<String>,
    /// Counts.
    pub summary: Summary,
    /// Set when the plan removes more than `[prune] max_delete_percent` of the fleet.
    pub mass_deletion: Option<MassDeletion>,
}
