//! Pilot bootstrap steps. A Pilot role that (re)starts, gets new workspace files, or whose
//! recorded bootstrap differs from the one its manifest asks for is bootstrapped: a
//! `bootstrap_pilot` step (skills, hostname) after its start and health gate, then a
//! `confirm_pilot_trust` gate (handshakes, approvals, mutual trust) once every role of the
//! batch is bootstrapped, so peers started together find each other. A setup with
//! `bootstrap: false` gets no steps; its create says the bootstrap is left to the agent.

use super::compare::Actions;
use super::model::{Cause, Op};
use crate::desired::Agent;
use crate::observe::ObservedAgent;
use crate::spec::hiclaw::AgentState;

/// Appends the role's bootstrap to `actions` when it needs one.
pub(super) fn bootstrap_actions(
    desired: &Agent,
    observed: Option<&ObservedAgent>,
    actions: &mut Actions,
) {
    let Some(pilot) = &desired.pilot else {
        return;
    };
    if desired.state != AgentState::Running {
        return;
    }
    if !pilot.run_by_clawops {
        if let Some((_, causes)) = actions
            .iter_mut()
            .find(|(op, _)| matches!(op, Op::CreateAgent | Op::RecreateAgent))
        {
            causes.push(Cause::PilotLeftToAgent);
        }
        return;
    }
    let recorded = observed.and_then(|observed| observed.pilot.as_ref());
    let changes_agent = actions.iter().any(|(op, _)| {
        matches!(
            op,
            Op::CreateAgent | Op::RecreateAgent | Op::WakeAgent | Op::PushConfig
        )
    });
    if !changes_agent && recorded.is_some_and(|recorded| recorded.hash == pilot.hash()) {
        return;
    }
    let before: &[String] = recorded.map_or(&[], |recorded| recorded.skills.as_slice());
    let install = pilot
        .skills
        .iter()
        .filter(|skill| !before.contains(skill))
        .cloned()
        .collect();
    let remove = before
        .iter()
        .filter(|skill| !pilot.skills.contains(skill))
        .cloned()
        .collect();
    actions.push((
        Op::BootstrapPilot,
        vec![Cause::PilotBootstrap {
            install,
            remove,
            hostname: pilot.hostname.clone(),
        }],
    ));
}

/// The skills a `bootstrap_pilot` step uninstalls, as its cause names them.
pub fn skills_removed(causes: &[Cause]) -> Vec<String> {
    causes
        .iter()
        .find_map(|cause| match cause {
            Cause::PilotBootstrap { remove, .. } => Some(remove.clone()),
            _ => None,
        })
        .unwrap_or_default()
}
