//! The health gate's stability window on a real engine (images without a health check,
//! no probe): it is honoured in full, and a container that dies inside it (and is
//! restarted by its restart policy) does not pass. A probe that never ends does not hold
//! the gate past its deadline.
#![cfg(feature = "docker")]

mod docker_support;

use std::time::{Duration, Instant};

use clawops::backend::{Backend, BackendError};
use docker_support::{BASE_IMAGE, CRASHING_IMAGE, fleet};

#[tokio::test(flavor = "multi_thread")]
async fn a_steady_container_passes_only_after_the_whole_window() {
    let Some(fleet) = fleet().await else { return };
    let agent = fleet.started("alpha", BASE_IMAGE).await;
    let started = Instant::now();
    fleet
        .backend
        .wait_healthy(&agent, Duration::from_secs(30), Duration::from_millis(200))
        .await
        .expect("healthy");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "the 2-second window is waited out: {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_container_that_dies_inside_the_window_fails_the_gate() {
    let Some(fleet) = fleet().await else { return };
    let agent = fleet.started("alpha", CRASHING_IMAGE).await;
    let error = fleet
        .backend
        .wait_healthy(&agent, Duration::from_secs(8), Duration::from_millis(200))
        .await
        .expect_err("a crash-looping agent is not healthy");
    match error {
        BackendError::Unhealthy { agent: name, .. } => assert_eq!(name, agent.name),
        other => panic!("expected Unhealthy, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_probe_that_never_ends_fails_the_gate_at_its_deadline() {
    let Some(fleet) = fleet().await else { return };
    let mut agent = fleet.started("alpha", BASE_IMAGE).await;
    agent.probe = Some(clawops::spec::hiclaw::Probe {
        exec: vec!["sleep".to_owned(), "600".to_owned()],
    });
    let started = Instant::now();
    let error = fleet
        .backend
        .wait_healthy(&agent, Duration::from_secs(3), Duration::from_millis(200))
        .await
        .expect_err("a probe that never ends is no pass");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the gate ends at its deadline: {:?}",
        started.elapsed()
    );
    match error {
        BackendError::Unhealthy {
            agent: name,
            reason,
            ..
        } => {
            assert_eq!(name, agent.name);
            assert!(reason.contains("probe did not end"), "{reason}");
        }
        other => panic!("expected Unhealthy, got {other}"),
    }
}
