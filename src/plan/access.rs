//! Team access steps: when the backend realizes access rules (Kubernetes: a team's
//! NetworkPolicy, and the admin's Role naming the team's Deployments and pods), a team
//! gets an [`Op::UpdateTeamAccess`] step when its rules are missing, name another admin or
//! other agents, name pods that are gone, or its pods change in this plan. A team that
//! left git loses its rules once none of its agents is left.

use std::collections::BTreeMap;

use super::compare::Actions;
use super::model::{Cause, Drift, Op};
use super::resource::Resource;
use super::rollout::Gone;
use crate::desired::Desired;
use crate::observe::Observed;

/// Whether an operation starts, stops or replaces an agent's pod.
fn changes_pods(op: Op) -> bool {
    matches!(
        op,
        Op::CreateAgent
            | Op::RecreateAgent
            | Op::WakeAgent
            | Op::SleepAgent
            | Op::RemoveAgent
            | Op::DeleteAgent
    )
}

/// The access steps (team, causes), one per team that needs one, in team order.
pub(super) fn team_steps(
    desired: &Desired,
    observed: &Observed,
    actions: &BTreeMap<String, Actions>,
    gone: &[Gone],
) -> Vec<(Resource, Vec<Cause>)> {
    let Some(observed_teams) = &observed.teams else {
        return Vec::new();
    };
    let team_of_observed = |agent: &str| {
        observed
            .agent(agent)
            .and_then(|agent| agent.last_applied.as_ref())
            .and_then(|applied| applied.team.clone())
    };
    let pods_change = |team: &str| {
        let desired_change = actions.iter().any(|(agent, needed)| {
            desired.agent(agent).and_then(|agent| agent.team.as_deref()) == Some(team)
                && needed.iter().any(|(op, _)| changes_pods(*op))
        });
        let deleted = gone.iter().any(|gone| {
            team_of_observed(&gone.agent).as_deref() == Some(team)
                && gone.actions.iter().any(|(op, _)| changes_pods(*op))
        });
        desired_change || deleted
    };
    let mut steps = Vec::new();
    for team in &desired.teams {
        let mut causes = Vec::new();
        let settings = desired
            .hiclaw
            .as_ref()
            .and_then(|fleet| fleet.team(&team.name))
            .map(|hiclaw| &hiclaw.settings);
        match observed_teams.iter().find(|seen| seen.name == team.name) {
            None => causes.push(Cause::NewTeam),
            // The `hiclaw` target: the Team object's own fields, nothing about pods.
            Some(seen) if settings.is_some() => {
                if let (Some(before), Some(after)) = (&seen.settings, settings) {
                    causes.extend(super::compare::spec_causes(before, after));
                }
            }
            Some(seen) => {
                if seen.admin != team.admin {
                    causes.push(Cause::FieldChanged {
                        path: "admin".to_owned(),
                        before: seen.admin.clone(),
                        after: team.admin.clone(),
                    });
                }
                if team.admin.is_some() && seen.admin.is_some() {
                    if seen.agents != team.agents {
                        causes.push(Cause::FieldChanged {
                            path: "agents".to_owned(),
                            before: Some(seen.agents.join(", ")),
                            after: Some(team.agents.join(", ")),
                        });
                    }
                    if !seen.pods_named {
                        causes.push(Cause::Drift(Drift::PodsReplaced));
                    }
                }
                if team.admin.is_some() && pods_change(&team.name) {
                    causes.push(Cause::TeamPodsChange);
                }
            }
        }
        if !causes.is_empty() {
            steps.push((Resource::Team(team.name.clone()), causes));
        }
    }
    let deleted: Vec<&str> = gone
        .iter()
        .filter(|gone| gone.actions.iter().any(|(op, _)| *op == Op::DeleteAgent))
        .map(|gone| gone.agent.as_str())
        .collect();
    for seen in observed_teams {
        if desired.teams.iter().any(|team| team.name == seen.name) {
            continue;
        }
        let remaining = observed.agents.iter().any(|agent| {
            team_of_observed(&agent.name).as_deref() == Some(seen.name.as_str())
                && !deleted.contains(&agent.name.as_str())
        });
        if !remaining {
            steps.push((Resource::Team(seen.name.clone()), vec![Cause::GoneFromGit]));
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::test_support::{desired_of, fleet_files};
    use crate::observe::ObservedTeam;
    use crate::plan::{PlanOptions, plan};

    /// The test fleet, and what a cluster reports once it was applied exactly.
    fn applied() -> (Desired, Observed) {
        let desired = desired_of(&fleet_files());
        let mut observed = Observed::from_desired(&desired);
        observed.teams = Some(
            desired
                .teams
                .iter()
                .map(|team| ObservedTeam {
                    name: team.name.clone(),
                    admin: team.admin.clone(),
                    agents: team.agents.clone(),
                    pods_named: true,
                    settings: None,
                })
                .collect(),
        );
        (desired, observed)
    }

    fn access_steps(
        desired: &Desired,
        observed: &Observed,
        prune: bool,
    ) -> Vec<(Resource, Vec<Cause>)> {
        let options = PlanOptions {
            prune,
            ..PlanOptions::default()
        };
        plan(desired, observed, &options)
            .steps
            .into_iter()
            .filter(|step| step.op == Op::UpdateTeamAccess)
            .map(|step| (step.resource, step.causes))
            .collect()
    }

    #[test]
    fn without_access_rules_observed_no_access_step_is_planned() {
        let (desired, mut observed) = applied();
        observed.teams = None;
        observed.agents.clear();
        assert!(access_steps(&desired, &observed, false).is_empty());
    }

    #[test]
    fn new_teams_get_their_rules_last_after_everything_else() {
        let (desired, mut observed) = applied();
        observed.teams = Some(Vec::new());
        observed.agents.clear();
        let plan = plan(&desired, &observed, &PlanOptions::default());
        let access: Vec<&crate::plan::Step> = plan
            .steps
            .iter()
            .filter(|step| step.op == Op::UpdateTeamAccess)
            .collect();
        assert_eq!(access.len(), desired.teams.len());
        assert!(access.iter().all(|step| step.causes == [Cause::NewTeam]));
        let last = plan.waves.last().expect("waves");
        assert_eq!(last.groups, [crate::plan::RolloutGroup::Access]);
        let before: Vec<usize> = plan.waves[last.index - 1].steps.clone();
        assert!(access.iter().all(|step| !step.depends_on.is_empty()
            && step.depends_on.iter().all(|id| before.contains(id))));
    }

    #[test]
    fn rules_as_desired_need_nothing_and_rules_naming_gone_pods_are_drift() {
        let (desired, mut observed) = applied();
        assert!(access_steps(&desired, &observed, false).is_empty());
        let teams = observed.teams.as_mut().expect("teams");
        teams[0].pods_named = false;
        let name = teams[0].name.clone();
        assert_eq!(
            access_steps(&desired, &observed, false),
            [(
                Resource::Team(name),
                vec![Cause::Drift(Drift::PodsReplaced)]
            )]
        );
    }

    #[test]
    fn a_restarted_member_updates_only_its_own_teams_rules() {
        let (mut desired, observed) = applied();
        let team = desired
            .teams
            .iter()
            .find(|team| team.admin.is_some())
            .expect("a team with an admin")
            .clone();
        let member = desired
            .agents
            .iter_mut()
            .find(|agent| agent.team.as_deref() == Some(team.name.as_str()))
            .expect("member");
        member.runtime_hash = "changed".to_owned();
        assert_eq!(
            access_steps(&desired, &observed, false),
            [(
                Resource::Team(team.name.clone()),
                vec![Cause::TeamPodsChange]
            )]
        );
    }

    #[test]
    fn a_team_that_left_git_loses_its_rules_only_when_no_agent_is_left() {
        let (desired, mut observed) = applied();
        let mut gone = observed.agents[0].clone();
        gone.name = "hiclaw-worker-gamma-dev".to_owned();
        if let Some(record) = gone.last_applied.as_mut() {
            record.name = gone.name.clone();
            record.team = Some("gamma".to_owned());
        }
        observed.agents.push(gone);
        observed
            .agents
            .sort_by(|left, right| left.name.cmp(&right.name));
        observed.teams.as_mut().expect("teams").push(ObservedTeam {
            name: "gamma".to_owned(),
            admin: Some("alice".to_owned()),
            agents: vec!["hiclaw-worker-gamma-dev".to_owned()],
            pods_named: true,
            settings: None,
        });
        assert!(
            access_steps(&desired, &observed, false).is_empty(),
            "its agent is kept"
        );
        assert_eq!(
            access_steps(&desired, &observed, true),
            [(Resource::Team("gamma".to_owned()), vec![Cause::GoneFromGit])],
            "its agent is deleted in this plan"
        );
    }
}
