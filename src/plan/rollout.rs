//! Ordering: turns each agent's operations into steps grouped in waves, with health gates
//! and dependencies, following the groups' upgrade order.
//!
//! Inside a group, everything that does not restart a running agent goes first (creates,
//! wakes, hot pushes, sleeps, removals), then recreates in batches of `max_unavailable`,
//! in the group's restart order. Canary teams go first and alone, other teams
//! `teams_in_parallel` at a time, then the other groups one by one, then deletes, and
//! last the teams' access rules (they name the pods the rollout made).

use std::collections::BTreeMap;

use super::compare::Actions;
use super::model::{Cause, Op, Step, Wave};
use super::resource::{HealthGate, Resource, RolloutGroup};
use crate::desired::{Desired, Group, RolloutSettings};
use crate::spec::hiclaw::{AgentState, FailurePolicy};

/// A health gate's timeout when its group has no rollout settings.
const DEFAULT_HEALTH_TIMEOUT_SECONDS: u64 = 120;
/// How often a health gate looks at the agent.
pub const HEALTH_INTERVAL_MILLISECONDS: u64 = 200;

/// The ordered steps and waves.
pub(super) struct Rollout {
    pub steps: Vec<Step>,
    pub waves: Vec<Wave>,
}

/// One batch of a group: the steps that run together.
struct Batch {
    group: RolloutGroup,
    /// (resource, op, causes)
    actions: Vec<(Resource, Op, Vec<Cause>)>,
}

/// An agent that left git, with what happens to it.
pub(super) struct Gone {
    /// Its resource name.
    pub agent: String,
    /// It mounts other agents' workspaces (a DebugWorker): removed before them.
    pub mounts_others: bool,
    /// Delete or keep.
    pub actions: Actions,
}

/// Orders every agent's actions into steps and waves.
pub(super) fn order(
    desired: &Desired,
    mut actions: BTreeMap<String, Actions>,
    gone: Vec<Gone>,
    access: Vec<(Resource, Vec<Cause>)>,
    humans: Vec<(Resource, Op, Vec<Cause>)>,
) -> Rollout {
    let mut sets: Vec<Vec<Vec<Batch>>> = Vec::new();
    let (written, deleted): (Vec<_>, Vec<_>) = humans
        .into_iter()
        .partition(|(_, op, _)| *op == Op::WriteHuman);
    if !written.is_empty() {
        sets.push(vec![vec![Batch {
            group: RolloutGroup::Humans,
            actions: written,
        }]]);
    }
    let mut parallel_teams: Vec<Vec<Batch>> = Vec::new();
    let width = desired.teams_in_parallel.max(1) as usize;
    for group in &desired.groups {
        let batches = group_batches(desired, group, &mut actions);
        if batches.is_empty() {
            continue;
        }
        if group.is_team && !group.canary {
            parallel_teams.push(batches);
            if parallel_teams.len() == width {
                sets.push(std::mem::take(&mut parallel_teams));
            }
        } else {
            if !parallel_teams.is_empty() {
                sets.push(std::mem::take(&mut parallel_teams));
            }
            sets.push(vec![batches]);
        }
    }
    if !parallel_teams.is_empty() {
        sets.push(parallel_teams);
    }
    // Agents that mount other agents' workspaces (DebugWorkers) go first, so the
    // workspaces they mount can be deleted in the wave after.
    let (mounting, others): (Vec<_>, Vec<_>) =
        gone.into_iter().partition(|gone| gone.mounts_others);
    let batches: Vec<Batch> = [mounting, others]
        .into_iter()
        .filter(|agents| !agents.is_empty())
        .map(|agents| Batch {
            group: RolloutGroup::Deletes,
            actions: agents
                .into_iter()
                .flat_map(|gone| {
                    let agent = Resource::Agent(gone.agent);
                    gone.actions
                        .into_iter()
                        .map(move |(op, causes)| (agent.clone(), op, causes))
                })
                .collect(),
        })
        .collect();
    if !batches.is_empty() {
        sets.push(vec![batches]);
    }
    if !deleted.is_empty() {
        sets.push(vec![vec![Batch {
            group: RolloutGroup::Deletes,
            actions: deleted,
        }]]);
    }
    if !access.is_empty() {
        let actions = access
            .into_iter()
            .map(|(team, causes)| (team, Op::UpdateTeamAccess, causes))
            .collect();
        sets.push(vec![vec![Batch {
            group: RolloutGroup::Access,
            actions,
        }]]);
    }
    build(desired, sets)
}

/// Splits a group's actions into batches: everything that takes no running agent down
/// first (creates, wakes, hot pushes, sleeps, recreates of sleeping agents), then
/// recreates of running agents in chunks of `max_unavailable` (the first chunk joins the
/// first batch), in the group's restart order.
fn group_batches(
    desired: &Desired,
    group: &Group,
    actions: &mut BTreeMap<String, Actions>,
) -> Vec<Batch> {
    let rollout_group = RolloutGroup::of_desired(&group.name, group.is_team);
    let max_unavailable = desired
        .rollout
        .get(&group.name)
        .map_or(1, |settings| settings.max_unavailable.max(1) as usize);
    let mut first = Vec::new();
    // Per agent, so an agent's later steps (a Pilot bootstrap) stay in its batch.
    let mut recreates: Vec<Vec<(Resource, Op, Vec<Cause>)>> = Vec::new();
    for agent in &group.agents {
        let agent_actions = actions.remove(agent).unwrap_or_default();
        let restarts_running_agent = agent_actions.iter().any(|(op, _)| *op == Op::RecreateAgent)
            && desired
                .agent(agent)
                .is_some_and(|agent| agent.state == AgentState::Running);
        let entries = agent_actions
            .into_iter()
            .map(|(op, causes)| (Resource::agent(agent), op, causes));
        if restarts_running_agent {
            recreates.push(entries.collect());
        } else {
            first.extend(entries);
        }
    }
    let mut recreates = recreates.into_iter().peekable();
    first.extend(recreates.by_ref().take(max_unavailable).flatten());
    let mut batches = Vec::new();
    if !first.is_empty() {
        batches.push(Batch {
            group: rollout_group.clone(),
            actions: first,
        });
    }
    while recreates.peek().is_some() {
        batches.push(Batch {
            group: rollout_group.clone(),
            actions: recreates.by_ref().take(max_unavailable).flatten().collect(),
        });
    }
    batches
}

/// Numbers the steps, adds health gates, and links every batch to the one before it in
/// its group, and a group's first batch to the last batch of every group of the set
/// before (groups run side by side inside a set, one set after the other).
fn build(desired: &Desired, sets: Vec<Vec<Vec<Batch>>>) -> Rollout {
    let mut steps: Vec<Step> = Vec::new();
    let mut waves: Vec<Wave> = Vec::new();
    let mut previous_set: Vec<usize> = Vec::new();
    for set in sets {
        let depth = set.iter().map(Vec::len).max().unwrap_or(0);
        let mut last_of_group: Vec<Vec<usize>> = vec![previous_set.clone(); set.len()];
        let mut iterators: Vec<_> = set.into_iter().map(Vec::into_iter).collect();
        for _ in 0..depth {
            let mut wave = Wave {
                index: waves.len(),
                groups: Vec::new(),
                steps: Vec::new(),
                restarts: Vec::new(),
            };
            for (position, batches) in iterators.iter_mut().enumerate() {
                let Some(batch) = batches.next() else {
                    continue;
                };
                let ids = add_batch(
                    desired,
                    &mut steps,
                    &mut wave,
                    batch,
                    &last_of_group[position],
                );
                last_of_group[position] = ids;
            }
            waves.push(wave);
        }
        let mut tails: Vec<usize> = last_of_group.into_iter().flatten().collect();
        tails.sort_unstable();
        tails.dedup();
        previous_set = tails;
    }
    Rollout { steps, waves }
}

fn add_batch(
    desired: &Desired,
    steps: &mut Vec<Step>,
    wave: &mut Wave,
    batch: Batch,
    after: &[usize],
) -> Vec<usize> {
    if !wave.groups.contains(&batch.group) {
        wave.groups.push(batch.group.clone());
    }
    let settings = desired.rollout.get(&batch.group.to_string());
    let mut ids = Vec::new();
    let mut previous_of_agent: Option<(Resource, usize)> = None;
    let mut bootstraps = Vec::new();
    for (resource, op, causes) in batch.actions {
        let mut depends_on = after.to_vec();
        if let Some((previous_resource, previous_id)) = &previous_of_agent
            && *previous_resource == resource
        {
            depends_on.push(*previous_id);
        }
        let id = push(
            steps,
            wave,
            Step::unplaced(
                op,
                resource.clone(),
                batch.group.clone(),
                causes,
                depends_on,
            ),
        );
        ids.push(id);
        previous_of_agent = Some((resource.clone(), id));
        if op == Op::BootstrapPilot {
            bootstraps.push((resource.clone(), id));
            steps[id].gate = Some(health_gate(settings, None));
        }
        if starts_agent(desired, &resource, op) {
            let gate = health_gate(settings, (op == Op::RecreateAgent).then_some(id));
            if let Some(agent) = resource.agent_name() {
                wave.restarts.push(agent.to_owned());
            }
            let gate_id = push(
                steps,
                wave,
                Step {
                    gate: Some(gate),
                    ..Step::unplaced(
                        Op::WaitHealthy,
                        resource.clone(),
                        batch.group.clone(),
                        vec![Cause::HealthGate {
                            timeout_seconds: gate.timeout_seconds,
                        }],
                        vec![id],
                    )
                },
            );
            ids.push(gate_id);
            // The agent's next step (its Pilot bootstrap) waits until it is healthy.
            previous_of_agent = Some((resource, gate_id));
        }
    }
    ids.extend(trust_gates(
        desired,
        steps,
        wave,
        &batch.group,
        settings,
        &bootstraps,
    ));
    ids
}

/// One trust gate per Pilot role bootstrapped in the batch, each after every bootstrap of
/// the batch: roles started together handshake each other only once all have a hostname.
fn trust_gates(
    desired: &Desired,
    steps: &mut Vec<Step>,
    wave: &mut Wave,
    group: &RolloutGroup,
    settings: Option<&RolloutSettings>,
    bootstraps: &[(Resource, usize)],
) -> Vec<usize> {
    let after: Vec<usize> = bootstraps.iter().map(|(_, id)| *id).collect();
    let mut ids = Vec::new();
    for (resource, _) in bootstraps {
        let gate = health_gate(settings, None);
        let peers = resource
            .agent_name()
            .and_then(|name| desired.agent(name))
            .and_then(|agent| agent.pilot.as_ref())
            .map(|pilot| pilot.peers.clone())
            .unwrap_or_default();
        ids.push(push(
            steps,
            wave,
            Step {
                gate: Some(gate),
                ..Step::unplaced(
                    Op::ConfirmPilotTrust,
                    resource.clone(),
                    group.clone(),
                    vec![Cause::TrustGate {
                        peers,
                        timeout_seconds: gate.timeout_seconds,
                    }],
                    after.clone(),
                )
            },
        ));
    }
    ids
}

/// The gate after a start in a group with `settings`; `replaces` is the recreate it
/// follows, if any.
fn health_gate(settings: Option<&RolloutSettings>, replaces: Option<usize>) -> HealthGate {
    HealthGate {
        timeout_seconds: settings.map_or(DEFAULT_HEALTH_TIMEOUT_SECONDS, |settings| {
            settings.health_timeout_seconds
        }),
        interval_milliseconds: HEALTH_INTERVAL_MILLISECONDS,
        on_failure: settings.map_or(FailurePolicy::Halt, |settings| settings.on_failure),
        replaces,
    }
}

/// Numbers `step`, puts it in `wave`, returns its id.
fn push(steps: &mut Vec<Step>, wave: &mut Wave, mut step: Step) -> usize {
    let id = steps.len();
    step.id = id;
    step.wave = wave.index;
    steps.push(step);
    wave.steps.push(id);
    id
}

/// Whether the operation leaves the agent running, so a health gate must follow it.
fn starts_agent(desired: &Desired, resource: &Resource, op: Op) -> bool {
    let running = resource
        .agent_name()
        .and_then(|name| desired.agent(name))
        .is_some_and(|agent| agent.state == AgentState::Running);
    running && matches!(op, Op::CreateAgent | Op::RecreateAgent | Op::WakeAgent)
}
