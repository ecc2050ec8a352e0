//! Pilot bootstrap steps: when they are planned, what they carry, how they are ordered.

use super::*;
use crate::desired::PilotBootstrap;
use crate::observe::PilotRecord;

fn role(name: &str, skills: &[&str], peers: &[&str]) -> Agent {
    let mut agent = agent(name, "pilot:sync", AgentState::Running);
    agent.team = None;
    agent.role = AgentRole::Pilot;
    agent.pilot = Some(PilotBootstrap {
        setup: "sync".to_owned(),
        hostname: format!("acme-{name}"),
        skills: skills.iter().map(|skill| (*skill).to_owned()).collect(),
        peers: peers.iter().map(|peer| (*peer).to_owned()).collect(),
        handshakes: peers.iter().map(|peer| (*peer).to_owned()).collect(),
        run_by_clawops: true,
    });
    agent
}

fn setup() -> Desired {
    fleet(vec![
        role("origin", &["pilot-sync", "pilot-share"], &["acme-edge"]),
        role("edge", &["pilot-sync"], &["acme-origin"]),
    ])
}

#[test]
fn roles_started_together_are_bootstrapped_after_their_gates_then_confirmed_together() {
    let desired = setup();
    let plan = plan_of(&desired, &Observed::empty());
    let ops = ops(&plan);
    let id = |op: Op, agent: &str| {
        ops.iter()
            .position(|step| *step == (op, format!("hiclaw-worker-{agent}")))
            .expect("step")
    };
    for agent in ["origin", "edge"] {
        let bootstrap = &plan.steps[id(Op::BootstrapPilot, agent)];
        assert_eq!(bootstrap.depends_on, vec![id(Op::WaitHealthy, agent)]);
        assert_eq!(bootstrap.gate.map(|gate| gate.timeout_seconds), Some(90));
        let confirm = &plan.steps[id(Op::ConfirmPilotTrust, agent)];
        let mut after = confirm.depends_on.clone();
        after.sort_unstable();
        let mut bootstraps = vec![
            id(Op::BootstrapPilot, "origin"),
            id(Op::BootstrapPilot, "edge"),
        ];
        bootstraps.sort_unstable();
        assert_eq!(
            after, bootstraps,
            "every role has a hostname before any handshake"
        );
    }
    assert_eq!(
        plan.steps[id(Op::BootstrapPilot, "origin")].causes,
        vec![Cause::PilotBootstrap {
            install: vec!["pilot-sync".to_owned(), "pilot-share".to_owned()],
            remove: Vec::new(),
            hostname: "acme-origin".to_owned(),
        }]
    );
    assert_eq!(plan.summary.pilot, 2);
}

#[test]
fn a_completed_bootstrap_plans_nothing_and_a_changed_skill_list_only_the_difference() {
    let desired = setup();
    let mut seen: Vec<ObservedAgent> = desired.agents.iter().map(applied).collect();
    let plan = plan_of(&desired, &observed(seen.clone()));
    assert!(plan.steps.is_empty(), "{:?}", ops(&plan));
    assert!(!plan.summary.has_changes());

    // The origin's last bootstrap installed another skill list (git changed it since).
    seen[1].pilot = Some(PilotRecord {
        hash: "older".to_owned(),
        skills: vec!["pilot-sync".to_owned(), "pilot-broadcast".to_owned()],
    });
    let plan = plan_of(&desired, &observed(seen));
    assert_eq!(
        ops(&plan),
        vec![
            (Op::BootstrapPilot, "hiclaw-worker-origin".into()),
            (Op::ConfirmPilotTrust, "hiclaw-worker-origin".into()),
        ]
    );
    assert_eq!(
        plan.steps[0].causes,
        vec![Cause::PilotBootstrap {
            install: vec!["pilot-share".to_owned()],
            remove: vec!["pilot-broadcast".to_owned()],
            hostname: "acme-origin".to_owned(),
        }]
    );
    assert_eq!(skills_removed(&plan.steps[0].causes), ["pilot-broadcast"]);
    assert!(plan.summary.has_changes());
}

#[test]
fn a_setup_that_leaves_the_bootstrap_to_the_agent_gets_no_pilot_steps() {
    let mut desired = setup();
    for agent in &mut desired.agents {
        if let Some(pilot) = agent.pilot.as_mut() {
            pilot.run_by_clawops = false;
        }
    }
    let plan = plan_of(&desired, &Observed::empty());
    assert!(
        plan.steps
            .iter()
            .all(|step| !matches!(step.op, Op::BootstrapPilot | Op::ConfirmPilotTrust))
    );
    let created = plan
        .steps
        .iter()
        .find(|step| step.op == Op::CreateAgent)
        .expect("a create");
    assert!(created.causes.contains(&Cause::PilotLeftToAgent));
    let seen: Vec<ObservedAgent> = desired.agents.iter().map(applied).collect();
    assert!(plan_of(&desired, &observed(seen)).steps.is_empty());
}
