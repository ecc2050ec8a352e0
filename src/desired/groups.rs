//! Rollout groups and their settings. Groups upgrade in this order: canary teams (in the
//! order `[rollout] canary` lists them), the other teams in file order, standalone
//! Workers, each Pilot setup, DebugWorkers, and the Manager last. Inside a team, agents
//! restart workers first then the leader, or the reverse (`order`).

use std::collections::BTreeMap;

use crate::spec::hiclaw::UpgradeOrder;
use crate::spec::{Sourced, Spec, TeamSpec};

use super::agent::{AgentRole, Group, RolloutSettings};
use super::duration::duration_seconds;
use super::profile::{DEBUG_GROUP, MANAGER_GROUP, Profile, STANDALONE_GROUP, pilot_group};
use super::resolve::resource_name;

/// `[rollout] health_timeout`'s default, for a timeout that cannot be read.
const DEFAULT_HEALTH_TIMEOUT_SECONDS: u64 = 120;

/// Every non-empty group, in upgrade order, each with its agents in restart order.
pub(crate) fn groups(spec: &Spec, profiles: &[Profile<'_>]) -> Vec<Group> {
    let prefix = &spec.config.fleet.prefix;
    // The profiles of each group, in their order, found in one pass (a filter per group
    // was 22 million comparisons for 1,000 teams).
    let mut by_group: BTreeMap<&str, Vec<&Profile<'_>>> = BTreeMap::new();
    for profile in profiles {
        by_group.entry(&profile.group).or_default().push(profile);
    }
    let names_in = |group: &str, role: Option<AgentRole>| -> Vec<String> {
        by_group
            .get(group)
            .into_iter()
            .flatten()
            .filter(|profile| role.is_none_or(|role| profile.role == role))
            .map(|profile| resource_name(prefix, profile.role, &profile.member))
            .collect()
    };
    let mut canary: Vec<&Sourced<TeamSpec>> = Vec::new();
    let is_canary =
        |canary: &[&Sourced<TeamSpec>], name: &str| canary.iter().any(|team| team.name() == name);
    for name in &spec.config.rollout.canary {
        let team = spec.teams.iter().find(|team| team.name() == name);
        if let Some(team) = team.filter(|team| !is_canary(&canary, team.name())) {
            canary.push(team);
        }
    }
    let others = spec
        .teams
        .iter()
        .filter(|team| !is_canary(&canary, team.name()));
    let mut groups = Vec::new();
    for (team, is_canary) in canary
        .iter()
        .copied()
        .map(|team| (team, true))
        .chain(others.map(|team| (team, false)))
    {
        let leader = names_in(team.name(), Some(AgentRole::TeamLeader));
        let workers = names_in(team.name(), Some(AgentRole::Worker));
        let agents = match team_order(spec, team) {
            UpgradeOrder::WorkersFirst => [workers, leader].concat(),
            UpgradeOrder::LeaderFirst => [leader, workers].concat(),
        };
        groups.push(Group {
            name: team.name().to_owned(),
            is_team: true,
            canary: is_canary,
            agents,
        });
    }
    let mut other_groups = vec![STANDALONE_GROUP.to_owned()];
    for setup in &spec.pilot_setups {
        let name = pilot_group(setup.name());
        if !other_groups.contains(&name) {
            other_groups.push(name);
        }
    }
    other_groups.extend([DEBUG_GROUP.to_owned(), MANAGER_GROUP.to_owned()]);
    for name in other_groups {
        groups.push(Group {
            agents: names_in(&name, None),
            name,
            is_team: false,
            canary: false,
        });
    }
    groups.retain(|group| !group.agents.is_empty());
    groups
}

fn team_order(spec: &Spec, team: &Sourced<TeamSpec>) -> UpgradeOrder {
    team.spec()
        .upgrade
        .as_ref()
        .and_then(|upgrade| upgrade.order)
        .unwrap_or(spec.config.rollout.order)
}

/// Rollout settings per group: `[rollout]`, with a team's `spec.upgrade` over it.
pub(crate) fn rollout(spec: &Spec, groups: &[Group]) -> BTreeMap<String, RolloutSettings> {
    let config = &spec.config.rollout;
    let fleet_wide = RolloutSettings {
        order: config.order,
        max_unavailable: config.max_unavailable,
        health_timeout_seconds: duration_seconds(&config.health_timeout)
            .unwrap_or(DEFAULT_HEALTH_TIMEOUT_SECONDS),
        on_failure: config.on_failure,
        probe: config.probe.clone(),
    };
    groups
        .iter()
        .map(|group| {
            let upgrade = spec
                .teams
                .iter()
                .filter(|_| group.is_team)
                .find(|team| team.name() == group.name)
                .and_then(|team| team.spec().upgrade.as_ref());
            let mut settings = fleet_wide.clone();
            if let Some(upgrade) = upgrade {
                settings.order = upgrade.order.unwrap_or(settings.order);
                if let Some(max) = upgrade
                    .max_unavailable
                    .as_ref()
                    .and_then(|max| u32::try_from(max.value).ok())
                    .filter(|max| *max >= 1)
                {
                    settings.max_unavailable = max;
                }
                if let Some(seconds) = upgrade
                    .health_timeout
                    .as_ref()
                    .and_then(|timeout| duration_seconds(timeout))
                {
                    settings.health_timeout_seconds = seconds;
                }
                settings.on_failure = upgrade.on_failure.unwrap_or(settings.on_failure);
                settings.probe = upgrade.probe.clone().or(settings.probe);
            }
            (group.name.clone(), settings)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::desired::test_support::{desired_of, edited, fleet_files};
    use crate::desired::{Desired, Group};
    use crate::spec::hiclaw::{FailurePolicy, Probe, UpgradeOrder};

    fn with_config(config: &str) -> Desired {
        desired_of(&edited("clawops.toml", |_| config.to_owned()))
    }

    fn summary(groups: &[Group]) -> Vec<(&str, bool, bool)> {
        groups
            .iter()
            .map(|group| (group.name.as_str(), group.is_team, group.canary))
            .collect()
    }

    #[test]
    fn groups_upgrade_teams_then_standalone_pilot_debug_and_manager_last() {
        let desired = desired_of(&fleet_files());
        assert_eq!(
            summary(&desired.groups),
            [
                ("alpha", true, false),
                ("beta", true, false),
                ("standalone", false, false),
                ("pilot:relay", false, false),
                ("debug", false, false),
                ("manager", false, false),
            ]
        );
        assert_eq!(desired.groups[5].agents, ["hiclaw-manager"]);
        assert_eq!(
            desired.groups[3].agents,
            [
                "hiclaw-worker-acme-source",
                "hiclaw-worker-acme-central",
                "hiclaw-worker-acme-sink"
            ]
        );
    }

    #[test]
    fn canary_teams_go_first_in_the_listed_order() {
        let desired = with_config("[rollout]\ncanary = [\"beta\", \"beta\"]\n");
        let names: Vec<(&str, bool, bool)> = summary(&desired.groups);
        assert_eq!(names[..2], [("beta", true, true), ("alpha", true, false)]);
        assert_eq!(desired.groups.len(), 6);
    }

    #[test]
    fn empty_groups_are_skipped() {
        let files: Vec<(String, String)> = fleet_files()
            .into_iter()
            .filter(|(path, _)| path == "teams.yaml" || path == "humans.yaml")
            .map(|(path, text)| (path, text.replace(", accessibleWorkers: [solo]", "")))
            .collect();
        let desired = desired_of(&files);
        assert_eq!(
            summary(&desired.groups),
            [("alpha", true, false), ("beta", true, false)]
        );
    }

    #[test]
    fn team_members_restart_workers_first_or_leader_first() {
        let workers_first = desired_of(&fleet_files());
        assert_eq!(
            workers_first.groups[0].agents,
            [
                "hiclaw-worker-alpha-dev",
                "hiclaw-worker-alpha-qa",
                "hiclaw-worker-alpha-lead"
            ]
        );
        let leader_first = with_config("[rollout]\norder = \"leader-first\"\n");
        assert_eq!(
            leader_first.groups[0].agents,
            [
                "hiclaw-worker-alpha-lead",
                "hiclaw-worker-alpha-dev",
                "hiclaw-worker-alpha-qa"
            ]
        );
        let team_override = edited("teams.yaml", |text| {
            text.replace(
                "  description: Builds the product.\n",
                "  description: Builds the product.\n  upgrade: {order: leader-first}\n",
            )
        });
        let overridden = desired_of(&team_override);
        assert_eq!(overridden.groups[0].agents[0], "hiclaw-worker-alpha-lead");
        assert_eq!(overridden.rollout["alpha"].order, UpgradeOrder::LeaderFirst);
        assert_eq!(overridden.rollout["beta"].order, UpgradeOrder::WorkersFirst);
    }

    #[test]
    fn team_upgrade_settings_override_the_fleet_rollout() {
        let mut files = edited("clawops.toml", |_| {
            "[rollout]\nteams_in_parallel = 2\nmax_unavailable = 2\nhealth_timeout = \"1m30s\"\nprobe = { exec = [\"true\"] }\n\n[prune]\nenabled = true\n".to_owned()
        });
        for (path, text) in &mut files {
            if path == "teams.yaml" {
                *text = text.replace(
                    "  description: Builds the product.\n",
                    "  description: Builds the product.\n  upgrade: {maxUnavailable: 3, healthTimeout: 1500ms, onFailure: rollback, probe: {exec: [check]}}\n",
                );
            }
        }
        let desired = desired_of(&files);
        let alpha = &desired.rollout["alpha"];
        assert_eq!(
            (
                alpha.max_unavailable,
                alpha.health_timeout_seconds,
                alpha.on_failure
            ),
            (3, 2, FailurePolicy::Rollback)
        );
        assert_eq!(
            alpha.probe,
            Some(Probe {
                exec: vec!["check".to_owned()]
            })
        );
        for group in ["beta", "standalone", "manager"] {
            let settings = &desired.rollout[group];
            assert_eq!(
                (
                    settings.max_unavailable,
                    settings.health_timeout_seconds,
                    settings.on_failure
                ),
                (2, 90, FailurePolicy::Halt),
                "{group}"
            );
            assert_eq!(
                settings.probe,
                Some(Probe {
                    exec: vec!["true".to_owned()]
                })
            );
        }
        assert_eq!(desired.rollout.len(), desired.groups.len());
        assert_eq!(desired.teams_in_parallel, 2);
        assert!(desired.prune.enabled);
    }
}
