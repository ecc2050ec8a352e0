//! The apply lock on a real engine: a lock container without a readable lease is taken
//! over once its grace has passed (and not before), a lease that expires while an apply
//! waits is taken over then, of several applies racing to take over one stale lock exactly
//! one wins while the others wait, and an apply whose lease is taken from under it starts
//! no further step and fails saying so.
#![cfg(feature = "docker")]

mod docker_support;
mod support;

use std::time::{Duration, Instant};

use clawops::backend::docker::{DockerBackend, LEASE_GRACE_SECONDS, lock_name};
use clawops::backend::{Backend, BackendError, LockHolder};
use docker_support::{BASE_IMAGE, Fleet, docker, fleet};
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;
use support::{Repo, clawops, example};

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

fn holder(host: &str, pid: u32, expires: u64) -> LockHolder {
    LockHolder {
        host: host.to_owned(),
        pid,
        since: unix_now(),
        expires,
    }
}

/// The holder the lock names now, as a stranger trying to take it sees it.
async fn current_holder(fleet: &Fleet) -> LockHolder {
    let stranger = holder("stranger", 1, unix_now() + 60);
    match fleet.backend.try_lock(&stranger).await {
        Err(BackendError::Locked { holder }) => holder,
        other => panic!("the lock should be held, got {other:?}"),
    }
}

/// A lock container as a taker leaves it between creating it and writing its lease,
/// made at Unix time `made`.
async fn lock_without_lease(fleet: &Fleet, made: u64) {
    // Builds the lock image the engine needs (taking and releasing the lock once).
    let setup = holder("setup", 1, unix_now() + 60);
    fleet.backend.try_lock(&setup).await.expect("lock once");
    fleet.backend.unlock(None).await.expect("unlock");
    docker(&[
        "create",
        "--name",
        &lock_name(&fleet.name),
        "--label",
        &format!("clawops.dev/lock={}", fleet.name),
        "--label",
        &format!("clawops.dev/lock-made={made}"),
        "clawops/lock:1",
    ])
    .expect("create a lock container without lease");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lock_without_a_readable_lease_is_taken_over_once_its_grace_has_passed() {
    let Some(fleet) = fleet().await else { return };
    lock_without_lease(&fleet, unix_now()).await;
    let ours = holder("ci-1", 11, unix_now() + 60);
    let error = fleet
        .backend
        .try_lock(&ours)
        .await
        .expect_err("a taker may still be writing its lease");
    assert!(
        matches!(&error, BackendError::Locked { holder } if holder.host == "unknown"),
        "{error:?}"
    );
    fleet.backend.unlock(None).await.expect("unlock");

    lock_without_lease(&fleet, unix_now() - LEASE_GRACE_SECONDS - 5).await;
    fleet
        .backend
        .try_lock(&ours)
        .await
        .expect("a lock whose taker never wrote its lease is taken over");
    assert_eq!(current_holder(&fleet).await, ours);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lease_that_expires_while_an_apply_waits_is_taken_over_then() {
    let Some(fleet) = fleet().await else { return };
    let other = holder("build-box-7", 4242, unix_now() + 2);
    fleet.backend.try_lock(&other).await.expect("another apply");
    let started = Instant::now();
    let ours = clawops::apply::lock::acquire(&fleet.backend, Duration::from_secs(20))
        .await
        .expect("the lease ran out while waiting");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "taken soon after the lease ran out: {:?}",
        started.elapsed()
    );
    assert_eq!(current_holder(&fleet).await, ours);
}

#[tokio::test(flavor = "multi_thread")]
async fn of_applies_racing_to_take_over_a_stale_lock_one_wins_and_the_others_wait() {
    const RACERS: u32 = 6;
    let Some(fleet) = fleet().await else { return };
    let mut racers = Vec::new();
    for _ in 0..RACERS {
        let backend = DockerBackend::connect("", &fleet.name, &format!("{}-net", fleet.name))
            .await
            .expect("connect");
        racers.push(std::sync::Arc::new(backend));
    }
    for round in 0..4 {
        let dead = LockHolder {
            since: unix_now() - 600,
            ..holder("gone", 1, unix_now() - 300)
        };
        fleet.backend.try_lock(&dead).await.expect("a stale lease");
        let tasks: Vec<_> = racers
            .iter()
            .zip(1..)
            .map(|(backend, pid)| {
                let backend = std::sync::Arc::clone(backend);
                let racer = holder("racer", pid + 100 * round, unix_now() + 60);
                tokio::spawn(async move {
                    let result = backend.try_lock(&racer).await;
                    (racer, result)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            let (racer, result) = task.await.expect("racer");
            match result {
                Ok(()) => winners.push(racer),
                Err(BackendError::Locked { .. }) => {}
                Err(error) => panic!("round {round}: a loser failed instead of waiting: {error}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        assert_eq!(current_holder(&fleet).await, winners[0], "round {round}");
        fleet.backend.unlock(None).await.expect("unlock");
    }
}

/// The example fleet with a probe that takes 25 s, longer than a lease renewal period.
fn slow_fleet_repository(fleet: &str) -> Repo {
    let repository = Repo::new("fleet");
    repository.copy_folder(&example("hiclaw-fleet"), "");
    repository.write(
        "clawops.toml",
        format!(
            "[fleet]\nname = \"{fleet}\"\nprefix = \"{fleet}-\"\n\n[docker]\nnetwork = \"{fleet}-net\"\n\n[rollout]\nhealth_timeout = \"90s\"\nprobe = {{ exec = [\"sleep\", \"25\"] }}\n"
        ),
    );
    repository.write(
        "images.yaml",
        format!(
            "apiVersion: clawops.dev/v1alpha1\nkind: ImageSet\nmetadata:\n  name: test\nspec:\n  runtimes:\n    openclaw: {BASE_IMAGE}\n    copaw: {BASE_IMAGE}\n    hermes: {BASE_IMAGE}\n  manager: {BASE_IMAGE}\n  debug: {BASE_IMAGE}\n  pullPolicy: Never\n"
        ),
    );
    repository.commit("the example fleet, slow to become healthy");
    repository
}

#[tokio::test(flavor = "multi_thread")]
async fn an_apply_whose_lease_is_taken_from_it_starts_no_further_step_and_fails() {
    let Some(fleet) = fleet().await else { return };
    let repository = slow_fleet_repository(&fleet.name);
    let apply = std::process::Command::new(assert_cmd::cargo::cargo_bin("clawops"))
        .args(["apply", "--yes"])
        .arg(repository.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start clawops");
    // Once its first agent exists the apply is in its first health gate (25 s): the lock
    // is taken from it, as an operator's `unlock` and another apply would.
    let filter = format!("label=clawops.dev/fleet={}", fleet.name);
    let deadline = Instant::now() + Duration::from_secs(15);
    while docker(&["ps", "-aq", "--filter", &filter])
        .expect("ps")
        .is_empty()
    {
        assert!(Instant::now() < deadline, "the apply never started");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    fleet.backend.unlock(None).await.expect("unlock");
    let other = holder("build-box-7", 4242, unix_now() + 600);
    fleet.backend.try_lock(&other).await.expect("another apply");
    let output = apply.wait_with_output().expect("apply");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("lost the apply lock"), "{stderr}");
    assert_eq!(
        current_holder(&fleet).await,
        other,
        "the other apply keeps the lock"
    );
    fleet.backend.unlock(None).await.expect("unlock");
    clawops()
        .args(["plan"])
        .arg(repository.path())
        .assert()
        .stdout(contains("to create").and(contains("No changes.").not()));
}
