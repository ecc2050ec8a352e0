//! The Docker backend against a real engine. Every test has its own fleet, container
//! prefix and network, and removes all it made (a Drop guard), even on failure. Without
//! an engine the tests print a note and pass, unless `CI` is set: then they fail.
#![cfg(feature = "docker")]

mod docker_support;

use std::time::Duration;

use clawops::backend::{Backend, BackendError};
use clawops::desired::{AgentRole, EnvVar};
use clawops::observe::{Health, ObservedStatus};
use clawops::spec::clawops::PullPolicy;
use clawops::spec::hiclaw::{AgentState, Probe};
use docker_support::{BASE_IMAGE, HEALTH_IMAGE, SICK_IMAGE, container_id, docker, fleet, inspect};

#[tokio::test]
async fn creates_running_and_asleep_agents_with_labels_env_volume_and_workdir() {
    let Some(fleet) = fleet().await else { return };
    let awake = fleet.agent("alpha", BASE_IMAGE);
    let mut asleep = fleet.agent("beta", BASE_IMAGE);
    asleep.state = AgentState::Sleeping;
    fleet
        .backend
        .prepare(&[&awake, &asleep])
        .await
        .expect("prepare");
    for agent in [&awake, &asleep] {
        fleet
            .backend
            .create_agent(agent, Some("abc123"))
            .await
            .expect("create");
    }
    let name = &awake.name;
    assert_eq!(inspect(name, "{{.State.Running}}"), "true");
    assert_eq!(inspect(&asleep.name, "{{.State.Running}}"), "false");
    assert_eq!(
        inspect(name, "{{.Config.WorkingDir}}"),
        "/root/hiclaw-fs/agents/alpha"
    );
    let label = |key: &str| inspect(name, &format!("{{{{index .Config.Labels \"{key}\"}}}}"));
    assert_eq!(label("clawops.dev/fleet"), fleet.name);
    assert_eq!(label("clawops.dev/runtime-hash"), "runtime-alpha-1");
    assert_eq!(label("clawops.dev/config-hash"), "config-alpha-1");
    assert_eq!(label("clawops.dev/commit"), "abc123");
    assert_eq!(label("clawops.dev/state"), "Running");
    assert_eq!(label("clawops.dev/role"), "standalone");
    assert_eq!(label("team.example/owner"), "qa");
    assert!(label("clawops.dev/applied").contains("\"runtime_hash\""));
    let env = inspect(name, "{{json .Config.Env}}");
    assert!(env.contains("HICLAW_WORKER_NAME=alpha"), "{env}");
    assert!(inspect(name, "{{json .Config.ExposedPorts}}").contains("8088/tcp"));
    let bindings = inspect(name, "{{json .HostConfig.PortBindings}}");
    assert!(
        bindings == "null" || bindings == "{}",
        "no host publishing: {bindings}"
    );
    let mounts = inspect(name, "{{range .Mounts}}{{.Name}} {{.Destination}}{{end}}");
    assert_eq!(
        mounts,
        format!("{name}-workspace /root/hiclaw-fs/agents/alpha")
    );
    let soul = fleet.exec(name, &["cat", "/root/hiclaw-fs/agents/alpha/SOUL.md"]);
    assert_eq!(soul.expect("SOUL.md"), "I am alpha.");
    let volume_fleet = docker(&[
        "volume",
        "inspect",
        "-f",
        "{{index .Labels \"clawops.dev/fleet\"}}",
        &format!("{}-workspace", asleep.name),
    ]);
    assert_eq!(volume_fleet.expect("volume"), fleet.name);
}

#[tokio::test]
async fn a_second_observe_after_create_reports_what_was_applied() {
    let Some(fleet) = fleet().await else { return };
    let awake = fleet.agent("alpha", BASE_IMAGE);
    let mut asleep = fleet.agent("beta", BASE_IMAGE);
    asleep.state = AgentState::Sleeping;
    fleet
        .backend
        .prepare(&[&awake, &asleep])
        .await
        .expect("prepare");
    for agent in [&awake, &asleep] {
        fleet
            .backend
            .create_agent(agent, Some("abc123"))
            .await
            .expect("create");
    }
    let first = fleet.backend.observe().await.expect("observe");
    let second = fleet.backend.observe().await.expect("observe again");
    assert_eq!(first.agents, second.agents);
    assert_eq!(second.agents.len(), 2);
    for (agent, status) in [
        (&awake, ObservedStatus::Running),
        (&asleep, ObservedStatus::Stopped),
    ] {
        let observed = second.agent(&agent.name).expect("observed");
        assert_eq!(observed.status, status);
        assert_eq!(observed.image, agent.image);
        assert_eq!(observed.runtime_hash, agent.runtime_hash);
        assert_eq!(observed.config_hash, agent.config_hash);
        assert_eq!(observed.commit.as_deref(), Some("abc123"));
        assert_eq!(observed.applied_state, Some(agent.state));
        assert_eq!(observed.last_applied.as_ref(), Some(agent));
    }
    assert_eq!(
        second.agent(&awake.name).map(|a| a.health),
        Some(Health::Healthy)
    );
}

#[tokio::test]
async fn recreate_keeps_the_old_container_aside_until_finish() {
    let Some(fleet) = fleet().await else { return };
    let agent = fleet.agent("alpha", BASE_IMAGE);
    fleet.backend.prepare(&[&agent]).await.expect("prepare");
    fleet
        .backend
        .create_agent(&agent, None)
        .await
        .expect("create");
    let old_id = container_id(&agent.name);
    let mut changed = agent.clone();
    changed.runtime_hash = "runtime-alpha-2".to_owned();
    fleet
        .backend
        .recreate_agent(&changed, None)
        .await
        .expect("recreate");
    let aside = format!("{}--previous", agent.name);
    assert_eq!(container_id(&aside), old_id);
    assert_eq!(inspect(&aside, "{{.State.Running}}"), "false");
    assert_ne!(container_id(&agent.name), old_id);
    let observed = fleet.backend.observe().await.expect("observe");
    assert_eq!(
        observed.agents.len(),
        1,
        "the set-aside container is no agent"
    );
    assert_eq!(observed.agents[0].runtime_hash, "runtime-alpha-2");
    fleet
        .backend
        .finish_recreate(&agent.name)
        .await
        .expect("finish");
    assert!(docker(&["inspect", &old_id]).is_err(), "old container gone");
    let soul = fleet.exec(
        &agent.name,
        &["cat", "/root/hiclaw-fs/agents/alpha/SOUL.md"],
    );
    assert_eq!(soul.expect("workspace kept"), "I am alpha.");
}

#[tokio::test]
async fn roll_back_restores_the_old_container() {
    let Some(fleet) = fleet().await else { return };
    let agent = fleet.agent("alpha", BASE_IMAGE);
    fleet.backend.prepare(&[&agent]).await.expect("prepare");
    fleet
        .backend
        .create_agent(&agent, None)
        .await
        .expect("create");
    let old_id = container_id(&agent.name);
    let mut changed = agent.clone();
    changed.runtime_hash = "runtime-alpha-2".to_owned();
    changed.config_hash = "config-alpha-2".to_owned();
    changed
        .workspace
        .insert("SOUL.md".to_owned(), "new soul\n".to_owned());
    fleet
        .backend
        .recreate_agent(&changed, None)
        .await
        .expect("recreate");
    fleet
        .backend
        .roll_back(&agent.name)
        .await
        .expect("roll back");
    assert_eq!(container_id(&agent.name), old_id);
    assert_eq!(inspect(&agent.name, "{{.State.Running}}"), "true");
    let observed = fleet.backend.observe().await.expect("observe");
    assert_eq!(observed.agents.len(), 1);
    assert_eq!(observed.agents[0].runtime_hash, agent.runtime_hash);
    assert_eq!(observed.agents[0].config_hash, agent.config_hash);
    let soul = fleet.exec(
        &agent.name,
        &["cat", "/root/hiclaw-fs/agents/alpha/SOUL.md"],
    );
    assert_eq!(soul.expect("SOUL.md"), "I am alpha.");
}

#[tokio::test]
async fn push_config_changes_files_without_a_restart() {
    let Some(fleet) = fleet().await else { return };
    let agent = fleet.agent("alpha", BASE_IMAGE);
    fleet.backend.prepare(&[&agent]).await.expect("prepare");
    fleet
        .backend
        .create_agent(&agent, Some("one"))
        .await
        .expect("create");
    let id = container_id(&agent.name);
    let started = inspect(&agent.name, "{{.State.StartedAt}}");
    let mut pushed = agent.clone();
    pushed.config_hash = "config-alpha-2".to_owned();
    pushed
        .workspace
        .insert("SOUL.md".to_owned(), "A new soul.\n".to_owned());
    fleet
        .backend
        .push_config(&pushed, Some("two"))
        .await
        .expect("push");
    assert_eq!(container_id(&agent.name), id);
    assert_eq!(inspect(&agent.name, "{{.State.StartedAt}}"), started);
    let soul = fleet.exec(
        &agent.name,
        &["cat", "/root/hiclaw-fs/agents/alpha/SOUL.md"],
    );
    assert_eq!(soul.expect("SOUL.md"), "A new soul.");
    let observed = fleet.backend.observe().await.expect("observe");
    let observed = observed.agent(&agent.name).expect("observed");
    assert_eq!(observed.config_hash, "config-alpha-2");
    assert_eq!(observed.runtime_hash, agent.runtime_hash);
    assert_eq!(observed.commit.as_deref(), Some("two"));
    assert_eq!(observed.last_applied.as_ref(), Some(&pushed));
}

#[tokio::test]
async fn sleep_and_wake_record_the_applied_state() {
    let Some(fleet) = fleet().await else { return };
    let agent = fleet.agent("alpha", BASE_IMAGE);
    fleet.backend.prepare(&[&agent]).await.expect("prepare");
    fleet
        .backend
        .create_agent(&agent, None)
        .await
        .expect("create");
    fleet.backend.sleep_agent(&agent.name).await.expect("sleep");
    let observed = fleet.backend.observe().await.expect("observe");
    assert_eq!(observed.agents[0].status, ObservedStatus::Stopped);
    assert_eq!(observed.agents[0].applied_state, Some(AgentState::Sleeping));
    fleet.backend.wake_agent(&agent.name).await.expect("wake");
    let observed = fleet.backend.observe().await.expect("observe");
    assert_eq!(observed.agents[0].status, ObservedStatus::Running);
    assert_eq!(observed.agents[0].applied_state, Some(AgentState::Running));
}

#[tokio::test]
async fn remove_keeps_the_workspace_and_delete_drops_it() {
    let Some(fleet) = fleet().await else { return };
    let agent = fleet.agent("alpha", BASE_IMAGE);
    let volume = format!("{}-workspace", agent.name);
    fleet.backend.prepare(&[&agent]).await.expect("prepare");
    fleet
        .backend
        .create_agent(&agent, None)
        .await
        .expect("create");
    fleet
        .backend
        .remove_agent(&agent.name)
        .await
        .expect("remove");
    assert!(docker(&["inspect", &agent.name]).is_err());
    assert!(docker(&["volume", "inspect", &volume]).is_ok());
    let observed = fleet.backend.observe().await.expect("observe");
    assert_eq!(observed.agents.len(), 1);
    assert_eq!(observed.agents[0].status, ObservedStatus::Missing);
    // Removed on purpose: recorded as Stopped, so it is not drift ("removed by hand").
    assert_eq!(observed.agents[0].applied_state, Some(AgentState::Stopped));
    fleet
        .backend
        .create_agent(&agent, None)
        .await
        .expect("create again");
    let soul = fleet.exec(
        &agent.name,
        &["cat", "/root/hiclaw-fs/agents/alpha/SOUL.md"],
    );
    assert_eq!(soul.expect("SOUL.md"), "I am alpha.");
    fleet
        .backend
        .delete_agent(&agent.name, true)
        .await
        .expect("delete");
    assert!(docker(&["inspect", &agent.name]).is_err());
    assert!(docker(&["volume", "inspect", &volume]).is_err());
    assert!(
        fleet
            .backend
            .observe()
            .await
            .expect("observe")
            .agents
            .is_empty()
    );
}

#[tokio::test]
async fn a_container_stopped_by_hand_is_visible_as_drift() {
    let Some(fleet) = fleet().await else { return };
    let agent = fleet.agent("alpha", BASE_IMAGE);
    fleet.backend.prepare(&[&agent]).await.expect("prepare");
    fleet
        .backend
        .create_agent(&agent, None)
        .await
        .expect("create");
    docker(&["stop", "-t", "1", &agent.name]).expect("docker stop");
    let observed = fleet.backend.observe().await.expect("observe");
    assert_eq!(observed.agents[0].status, ObservedStatus::Stopped);
    assert_eq!(observed.agents[0].applied_state, Some(AgentState::Running));
    assert_eq!(observed.agents[0].health, Health::Unknown);
}

#[tokio::test]
async fn a_missing_image_fails_before_anything_is_created() {
    let Some(fleet) = fleet().await else { return };
    let mut agent = fleet.agent("alpha", "clawops-test/absent:never");
    agent.pull_policy = PullPolicy::Never;
    let error = fleet
        .backend
        .prepare(&[&agent])
        .await
        .expect_err("must fail");
    assert!(
        matches!(&error, BackendError::ImageMissing { image } if image == "clawops-test/absent:never"),
        "{error:?}"
    );
    agent.pull_policy = PullPolicy::IfNotPresent;
    let error = fleet
        .backend
        .prepare(&[&agent])
        .await
        .expect_err("pull fails");
    assert!(
        matches!(error, BackendError::ImageMissing { .. }),
        "{error:?}"
    );
    assert!(docker(&["network", "inspect", &format!("{}-net", fleet.name)]).is_err());
    assert!(
        fleet
            .backend
            .observe()
            .await
            .expect("observe")
            .agents
            .is_empty()
    );
}

#[tokio::test]
async fn secrets_resolve_from_the_environment_and_a_missing_one_is_named() {
    let Some(fleet) = fleet().await else { return };
    let mut agent = fleet.agent("alpha", BASE_IMAGE);
    let secret = format!("api-token.{}", fleet.name);
    agent.env.insert(
        "API_TOKEN".to_owned(),
        EnvVar {
            value: secret.clone(),
            secret_ref: true,
            sensitive: true,
        },
    );
    let error = fleet
        .backend
        .prepare(&[&agent])
        .await
        .expect_err("missing secret");
    assert!(matches!(&error, BackendError::SecretMissing { secret: s, .. } if *s == secret));
    let variable = format!(
        "CLAWOPS_SECRET_{}",
        secret.to_ascii_uppercase().replace(['-', '.'], "_")
    );
    // SAFETY: only this test reads or writes this variable.
    unsafe { std::env::set_var(&variable, "s3cr3t") };
    fleet.backend.prepare(&[&agent]).await.expect("prepare");
    fleet
        .backend
        .create_agent(&agent, None)
        .await
        .expect("create");
    assert!(inspect(&agent.name, "{{json .Config.Env}}").contains("API_TOKEN=s3cr3t"));
}

/// How often the tests' health gates look (the planner's default).
const INTERVAL: Duration = Duration::from_millis(clawops::plan::HEALTH_INTERVAL_MILLISECONDS);

/// `agent` with a health probe of its own.
fn probed(agent: &clawops::desired::Agent, probe: Probe) -> clawops::desired::Agent {
    let mut agent = agent.clone();
    agent.probe = Some(probe);
    agent
}

#[tokio::test]
async fn wait_healthy_follows_the_image_health_check() {
    let Some(fleet) = fleet().await else { return };
    let agent = fleet.agent("alpha", HEALTH_IMAGE);
    fleet.backend.prepare(&[&agent]).await.expect("prepare");
    fleet
        .backend
        .create_agent(&agent, None)
        .await
        .expect("create");
    fleet
        .backend
        .wait_healthy(&agent, Duration::from_secs(30), INTERVAL)
        .await
        .expect("healthy");
    let observed = fleet.backend.observe().await.expect("observe");
    assert_eq!(observed.agents[0].health, Health::Healthy);
}

#[tokio::test]
async fn wait_healthy_fails_when_the_probe_never_passes() {
    let Some(fleet) = fleet().await else { return };
    let agent = fleet.agent("alpha", BASE_IMAGE);
    fleet.backend.prepare(&[&agent]).await.expect("prepare");
    fleet
        .backend
        .create_agent(&agent, None)
        .await
        .expect("create");
    let probe = Probe {
        exec: vec!["test".to_owned(), "-f".to_owned(), "/nope".to_owned()],
    };
    let error = fleet
        .backend
        .wait_healthy(&probed(&agent, probe), Duration::from_secs(1), INTERVAL)
        .await
        .expect_err("unhealthy");
    assert!(
        matches!(error, BackendError::Unhealthy { seconds: 1, .. }),
        "{error:?}"
    );
    let good = Probe {
        exec: vec!["true".to_owned()],
    };
    fleet
        .backend
        .wait_healthy(&probed(&agent, good), Duration::from_secs(10), INTERVAL)
        .await
        .expect("healthy by probe");
    fleet
        .backend
        .wait_healthy(&agent, Duration::from_secs(10), INTERVAL)
        .await
        .expect("healthy by stability");
}

#[tokio::test]
async fn a_debug_worker_reads_its_target_workspace_read_only() {
    let Some(fleet) = fleet().await else { return };
    let target = fleet.agent("alpha", BASE_IMAGE);
    let mut debug = fleet.agent("debugger", BASE_IMAGE);
    debug.role = AgentRole::Debug;
    debug.debug_targets = vec!["alpha".to_owned()];
    fleet
        .backend
        .prepare(&[&target, &debug])
        .await
        .expect("prepare");
    fleet
        .backend
        .create_agent(&target, None)
        .await
        .expect("create target");
    fleet
        .backend
        .create_agent(&debug, None)
        .await
        .expect("create debug");
    let seen = fleet.exec(
        &debug.name,
        &["cat", "/root/debug/workspaces/alpha/SOUL.md"],
    );
    assert_eq!(seen.expect("target file"), "I am alpha.");
    let write = fleet.exec(
        &debug.name,
        &["sh", "-c", "echo x > /root/debug/workspaces/alpha/x"],
    );
    assert!(write.is_err(), "mount is read-only");
}

#[tokio::test]
async fn wait_healthy_fails_fast_on_an_unhealthy_health_check() {
    let Some(fleet) = fleet().await else { return };
    let agent = fleet.agent("alpha", SICK_IMAGE);
    fleet.backend.prepare(&[&agent]).await.expect("prepare");
    fleet
        .backend
        .create_agent(&agent, None)
        .await
        .expect("create");
    let started = std::time::Instant::now();
    let error = fleet
        .backend
        .wait_healthy(&agent, Duration::from_secs(60), INTERVAL)
        .await
        .expect_err("unhealthy");
    assert!(
        matches!(&error, BackendError::Unhealthy { reason, .. } if reason.contains("unhealthy")),
        "{error:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(30), "failed fast");
}

#[tokio::test]
async fn settling_recovers_from_an_interrupted_recreate() {
    let Some(fleet) = fleet().await else { return };
    let kept = fleet.agent("alpha", BASE_IMAGE);
    let restored = fleet.agent("beta", BASE_IMAGE);
    fleet
        .backend
        .prepare(&[&kept, &restored])
        .await
        .expect("prepare");
    for agent in [&kept, &restored] {
        fleet
            .backend
            .create_agent(agent, None)
            .await
            .expect("create");
    }
    let restored_id = container_id(&restored.name);
    // alpha: interrupted after the new container was created; beta: right after set-aside.
    fleet
        .backend
        .recreate_agent(&kept, None)
        .await
        .expect("recreate");
    let new_id = container_id(&kept.name);
    let aside = format!("{}--previous", restored.name);
    docker(&["rename", &restored.name, &aside]).expect("rename");
    fleet.backend.settle_interrupted().await.expect("recover");
    assert!(docker(&["inspect", &format!("{}--previous", kept.name)]).is_err());
    assert_eq!(container_id(&kept.name), new_id);
    assert!(docker(&["inspect", &aside]).is_err());
    assert_eq!(container_id(&restored.name), restored_id);
}

#[tokio::test]
async fn containers_of_other_fleets_are_never_listed_or_removed() {
    let Some(fleet) = fleet().await else { return };
    let Some(other) = docker_support::fleet().await else {
        return;
    };
    let agent = other.agent("alpha", BASE_IMAGE);
    other.backend.prepare(&[&agent]).await.expect("prepare");
    other
        .backend
        .create_agent(&agent, None)
        .await
        .expect("create");
    assert!(
        fleet
            .backend
            .observe()
            .await
            .expect("observe")
            .agents
            .is_empty()
    );
    fleet
        .backend
        .delete_agent(&agent.name, true)
        .await
        .expect("delete");
    assert!(docker(&["inspect", &agent.name]).is_ok(), "left alone");
    assert!(docker(&["volume", "inspect", &format!("{}-workspace", agent.name)]).is_ok());
}
