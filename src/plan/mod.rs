//! Plan stage: a pure function from the desired state and the observed state to a
//! [`Plan`]. No I/O, no clock, no async: the same inputs always give the same plan.
//!
//! [`compare`] decides what each agent needs and why; [`rollout`] orders those operations
//! into waves with health gates; this module adds the summary and the blast-radius check.

mod access;
mod compare;
mod humans;
mod model;
mod pilot;
mod resource;
mod rollout;

pub use model::{Cause, Drift, MassDeletion, Op, PLAN_FORMAT, Plan, Step, Summary, Wave};
pub use pilot::skills_removed;
pub use resource::{HealthGate, Resource, RolloutGroup};
pub use rollout::HEALTH_INTERVAL_MILLISECONDS;

use std::collections::{BTreeMap, BTreeSet};

use crate::desired::Desired;
use crate::observe::Observed;

/// Choices that change the plan but are not part of the desired state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Delete agents that left git (`[prune] enabled`, or `--prune`).
    pub prune: bool,
    /// Deleting an agent removes its workspace too (`--prune-volumes`).
    pub delete_workspaces: bool,
}

/// Computes the plan that takes the observed fleet to the desired one.
pub fn plan(desired: &Desired, observed: &Observed, options: &PlanOptions) -> Plan {
    let mut actions = BTreeMap::new();
    let mut unchanged = Vec::new();
    for agent in desired
        .agents
        .iter()
        .filter(|agent| agent.container_managed)
    {
        let seen = observed.agent(&agent.name);
        let mut needed = compare::desired_agent(agent, seen);
        pilot::bootstrap_actions(agent, seen, &mut needed);
        if needed.is_empty() {
            unchanged.push(agent.name.clone());
        } else {
            actions.insert(agent.name.clone(), needed);
        }
    }
    let gone: Vec<_> = observed
        .agents
        .iter()
        .filter(|agent| {
            desired
                .agent(&agent.name)
                .is_none_or(|desired| !desired.container_managed)
        })
        .map(|agent| rollout::Gone {
            agent: agent.name.clone(),
            mounts_others: agent
                .last_applied
                .as_ref()
                .is_some_and(|applied| !applied.debug_targets.is_empty()),
            actions: compare::gone_agent(options.prune),
        })
        .collect();
    let access = access::team_steps(desired, observed, &actions, &gone);
    let humans = humans::human_steps(desired, observed, options.prune);
    let rollout::Rollout { mut steps, waves } =
        rollout::order(desired, actions, gone, access, humans);
    for step in steps.iter_mut().filter(|step| step.op == Op::DeleteAgent) {
        step.delete_workspace = options.delete_workspaces;
    }
    let mut summary = summarize(&steps);
    summary.unchanged = unchanged.len();
    let mass_deletion = mass_deletion(desired, observed, &steps);
    Plan {
        format: PLAN_FORMAT.to_owned(),
        fleet: desired.fleet.clone(),
        revision: desired.revision.clone(),
        against: observed.source.clone(),
        observed_fingerprint: observed.fingerprint(),
        steps,
        waves,
        unchanged,
        summary,
        mass_deletion,
    }
}

fn summarize(steps: &[Step]) -> Summary {
    let mut summary = Summary::default();
    for step in steps {
        let counter = match step.op {
            Op::CreateAgent => &mut summary.create,
            Op::RecreateAgent => &mut summary.recreate,
            Op::PushConfig => &mut summary.update,
            Op::SleepAgent => &mut summary.sleep,
            Op::WakeAgent => &mut summary.wake,
            Op::RemoveAgent => &mut summary.remove,
            Op::DeleteAgent => &mut summary.delete,
            Op::KeepAgent => &mut summary.kept,
            Op::UpdateTeamAccess => &mut summary.access,
            Op::WriteHuman | Op::DeleteHuman => &mut summary.humans,
            Op::BootstrapPilot => &mut summary.pilot,
            Op::WaitHealthy | Op::ConfirmPilotTrust => continue,
        };
        *counter += 1;
    }
    summary
}

/// The blast-radius check: deletes and removals (not recreates, the normal gated upgrade
/// path) above `[prune] max_delete_percent` of the agents that exist now.
fn mass_deletion(desired: &Desired, observed: &Observed, steps: &[Step]) -> Option<MassDeletion> {
    let taken: Vec<&Step> = steps
        .iter()
        .filter(|step| matches!(step.op, Op::DeleteAgent | Op::RemoveAgent))
        .collect();
    let fleet_size = observed.agents.len();
    let limit = desired.prune.max_delete_percent;
    if taken.is_empty() || fleet_size == 0 || taken.len() * 100 <= limit as usize * fleet_size {
        return None;
    }
    let groups: BTreeSet<String> = taken
        .iter()
        .map(|step| {
            step.resource
                .agent_name()
                .and_then(|name| observed.agent(name))
                .and_then(|agent| agent.last_applied.as_ref())
                .map_or_else(|| step.group.to_string(), |agent| agent.group.clone())
        })
        .collect();
    Some(MassDeletion {
        count: taken.len(),
        fleet_size,
        limit_percent: limit,
        groups: groups.into_iter().collect(),
    })
}

#[cfg(test)]
mod golden;
#[cfg(test)]
mod tests;
