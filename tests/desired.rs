//! Resolving the examples end to end: source → spec → desired.

mod support;

use clawops::desired::{self, AgentRole, Desired};
use clawops::source::{self, SourceOptions};
use clawops::spec;

fn resolve_example(name: &str) -> Desired {
    let options = SourceOptions::new(support::example(name).to_string_lossy());
    let snapshot = source::read(&options).expect("example is readable");
    let checked = spec::check(&snapshot);
    assert!(checked.is_valid(), "{:#?}", checked.diagnostics);
    desired::resolve(&checked.spec)
}

fn members(desired: &Desired) -> Vec<&str> {
    desired
        .agents
        .iter()
        .map(|agent| agent.member.as_str())
        .collect()
}

#[test]
fn the_hiclaw_fleet_resolves_to_ten_agents() {
    let desired = resolve_example("hiclaw-fleet");
    let mut names = members(&desired);
    names.sort_unstable();
    let mut expected = [
        "default",
        "alpha-lead",
        "alpha-dev",
        "alpha-qa",
        "beta-lead",
        "beta-writer",
        "beta-editor",
        "scout",
        "scribe",
        "alpha-debug",
    ];
    expected.sort_unstable();
    assert_eq!(names, expected);
    assert_eq!(desired.fleet, "acme");
    let manager = desired.agent("hiclaw-manager").expect("the Manager");
    assert_eq!(manager.role, AgentRole::Manager);
    let group_names: Vec<&str> = desired
        .groups
        .iter()
        .map(|group| group.name.as_str())
        .collect();
    assert_eq!(
        group_names,
        ["alpha", "beta", "standalone", "debug", "manager"]
    );
    assert_eq!(desired.rollout["alpha"].health_timeout_seconds, 90);
    assert_eq!(desired.rollout["beta"].health_timeout_seconds, 120);
    let debug = desired.agent("hiclaw-worker-alpha-debug").expect("debug");
    assert_eq!(debug.debug_targets, ["alpha-dev", "alpha-lead", "alpha-qa"]);
}

#[test]
fn the_pilot_example_resolves_to_one_agent_per_role() {
    let desired = resolve_example("multi-region-content-sync");
    assert_eq!(
        members(&desired),
        [
            "acme-edge-asia",
            "acme-edge-eu",
            "acme-edge-us",
            "acme-origin"
        ]
    );
    assert!(desired.agents.iter().all(|agent| {
        agent.role == AgentRole::Pilot
            && agent
                .workspace
                .contains_key(".pilot/setups/multi-region-content-sync.json")
    }));
    assert_eq!(desired.groups.len(), 1);
    assert_eq!(desired.groups[0].name, "pilot:multi-region-content-sync");
}

#[test]
fn resolving_twice_gives_the_same_hashes() {
    let first = resolve_example("hiclaw-fleet");
    let second = resolve_example("hiclaw-fleet");
    assert_eq!(first, second);
    assert!(
        first
            .agents
            .iter()
            .all(|agent| agent.runtime_hash.len() == 64 && agent.config_hash.len() == 64)
    );
}
