//! Workspace files of new agents on a real engine: creates that run at once share the
//! helpers that write their files, every agent still gets exactly its own files, and no
//! helper outlives the write (nor a killed apply: `prepare` removes leftovers).
#![cfg(feature = "docker")]

mod docker_support;

use std::time::{SystemTime, UNIX_EPOCH};

use clawops::backend::Backend;
use clawops::backend::docker::SEED_LABEL;
use docker_support::{BASE_IMAGE, Fleet, docker, fleet};
use futures_util::future::join_all;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// The containers carrying this fleet's helper label.
fn helpers(fleet: &str) -> Vec<String> {
    docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label={SEED_LABEL}={fleet}"),
    ])
    .expect("docker ps")
    .lines()
    .map(str::to_owned)
    .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_creates_share_workspace_helpers_and_each_gets_its_own_files() {
    let Some(fleet) = fleet().await else { return };
    let members: Vec<String> = (0..12).map(|index| format!("w{index}")).collect();
    let agents: Vec<_> = members
        .iter()
        .map(|member| fleet.agent(member, BASE_IMAGE))
        .collect();
    let refs: Vec<_> = agents.iter().collect();
    fleet.backend.prepare(&refs).await.expect("prepare");
    let since = now();
    let created = join_all(
        agents
            .iter()
            .map(|agent| fleet.backend.create_agent(agent, Some("abc123"))),
    )
    .await;
    let until = now() + 1;
    for result in created {
        result.expect("create");
    }
    for (member, agent) in members.iter().zip(&agents) {
        let soul = fleet.exec(
            &agent.name,
            &["cat", &format!("/root/hiclaw-fs/agents/{member}/SOUL.md")],
        );
        assert_eq!(soul.expect("SOUL.md"), format!("I am {member}."));
    }
    assert!(helpers(&fleet.name).is_empty(), "no helper is left behind");
    let events = docker(&[
        "events",
        "--since",
        &since.to_string(),
        "--until",
        &until.to_string(),
        "--filter",
        "type=container",
        "--filter",
        "event=create",
        "--filter",
        &format!("label={SEED_LABEL}={}", fleet.name),
        "--format",
        "{{.Actor.Attributes.name}}",
    ])
    .expect("docker events");
    let used = events.lines().count();
    assert!(
        (1..agents.len()).contains(&used),
        "{} agents written through {used} helpers",
        agents.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn settling_removes_a_helper_a_killed_apply_left_behind() {
    let Some(fleet) = fleet().await else { return };
    let agent = fleet.agent("alpha", BASE_IMAGE);
    fleet.backend.prepare(&[&agent]).await.expect("prepare");
    let name = format!("clawops-seed-{}-left", fleet.name);
    docker(&[
        "create",
        "--name",
        &name,
        "--label",
        &format!("{SEED_LABEL}={}", fleet.name),
        BASE_IMAGE,
    ])
    .expect("a leftover helper");
    assert_eq!(helpers(&fleet.name).len(), 1);
    fleet.backend.settle_interrupted().await.expect("settle");
    assert!(helpers(&fleet.name).is_empty(), "the leftover is removed");
}

/// Recreates `changed` and drops the container set aside.
async fn recreate(fleet: &Fleet, changed: &clawops::desired::Agent) {
    fleet
        .backend
        .recreate_agent(changed, None)
        .await
        .expect("recreate");
    fleet
        .backend
        .finish_recreate(&changed.name)
        .await
        .expect("finish");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recreate_writes_changed_files_and_keeps_unchanged_ones_under_a_new_home() {
    let Some(fleet) = fleet().await else { return };
    let agent = fleet.started("alpha", BASE_IMAGE).await;

    // Runtime and workspace change together: the new files are written.
    let mut changed = agent.clone();
    changed.runtime_hash = "runtime-alpha-2".to_owned();
    changed
        .workspace
        .insert("SOUL.md".to_owned(), "I am alpha, upgraded.\n".to_owned());
    recreate(&fleet, &changed).await;
    let soul = fleet.exec(
        &agent.name,
        &["cat", "/root/hiclaw-fs/agents/alpha/SOUL.md"],
    );
    assert_eq!(soul.expect("SOUL.md"), "I am alpha, upgraded.");

    // Only HOME moves: nothing is written, and the files show at the new HOME.
    let mut moved = changed.clone();
    moved.runtime_hash = "runtime-alpha-3".to_owned();
    if let Some(home) = moved.env.get_mut("HOME") {
        home.value = "/root/elsewhere".to_owned();
    }
    recreate(&fleet, &moved).await;
    let soul = fleet.exec(&agent.name, &["cat", "/root/elsewhere/SOUL.md"]);
    assert_eq!(
        soul.expect("SOUL.md at the new HOME"),
        "I am alpha, upgraded."
    );
    assert!(helpers(&fleet.name).is_empty());
}
