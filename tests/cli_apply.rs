//! `clawops apply`, `plan` and `status` against a real Docker Engine, end to end: the
//! hiclaw-fleet example with its images swapped for a tiny local one.
#![cfg(feature = "docker")]

mod docker_support;
mod support;

use docker_support::{BASE_IMAGE, docker, fleet, inspect};
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;
use support::{Repo, clawops, example};

/// The example fleet as a repository owned by `fleet`, every image the local test image.
fn fleet_repository(fleet: &str) -> Repo {
    let repository = Repo::new("fleet");
    repository.copy_folder(&example("hiclaw-fleet"), "");
    repository.write(
        "clawops.toml",
        format!(
            "[fleet]\nname = \"{fleet}\"\nprefix = \"{fleet}-\"\n\n[docker]\nnetwork = \"{fleet}-net\"\n\n[rollout]\nhealth_timeout = \"30s\"\n"
        ),
    );
    repository.write("images.yaml", images(BASE_IMAGE));
    repository.commit("the example fleet on the test image");
    repository
}

fn images(openclaw: &str) -> String {
    format!(
        "apiVersion: clawops.dev/v1alpha1\nkind: ImageSet\nmetadata:\n  name: test\nspec:\n  runtimes:\n    openclaw: {openclaw}\n    copaw: {BASE_IMAGE}\n    hermes: {BASE_IMAGE}\n  manager: {BASE_IMAGE}\n  debug: {BASE_IMAGE}\n  pullPolicy: Never\n"
    )
}

/// Removes an image tag the test made, even when the test fails.
struct Untag(String);

impl Drop for Untag {
    fn drop(&mut self) {
        let _ = docker(&["rmi", &self.0]);
    }
}

fn started_at(container: &str) -> String {
    inspect(container, "{{.State.StartedAt}}")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_example_fleet_applies_converges_hot_pushes_and_upgrades_in_order() {
    let Some(fleet) = fleet().await else { return };
    let name = fleet.name.clone();
    let repository = fleet_repository(&name);
    let agent = |member: &str| format!("{name}-worker-{member}");

    clawops()
        .args(["apply", "--yes"])
        .arg(repository.path())
        .assert()
        .success()
        .stdout(contains("Apply complete"));
    assert_eq!(inspect(&agent("alpha-dev"), "{{.State.Running}}"), "true");
    assert_eq!(
        inspect(&agent("alpha-qa"), "{{.State.Running}}"),
        "false",
        "a sleeping agent is created stopped"
    );
    assert_eq!(
        inspect(&format!("{name}-manager"), "{{.State.Running}}"),
        "true"
    );

    clawops()
        .args(["plan", "--detailed-exitcode"])
        .arg(repository.path())
        .assert()
        .code(0)
        .stdout(contains("No changes."));
    clawops()
        .args(["apply", "--yes"])
        .arg(repository.path())
        .assert()
        .success();
    clawops()
        .arg("status")
        .arg(repository.path())
        .assert()
        .success()
        .stdout(
            contains(agent("alpha-dev"))
                .and(contains("running"))
                .and(contains("stopped")),
        );

    let before = docker_support::container_id(&agent("alpha-dev"));
    let soul = repository.path().join("teams/alpha.yaml");
    let text = std::fs::read_to_string(&soul).expect("team file");
    std::fs::write(
        &soul,
        text.replace(
            "You write and refactor code",
            "You write, review and refactor code",
        ),
    )
    .expect("write");
    repository.commit("alpha-dev reviews");
    clawops()
        .args(["apply", "--yes"])
        .arg(repository.path())
        .assert()
        .success()
        .stdout(contains("update in place"));
    assert_eq!(
        docker_support::container_id(&agent("alpha-dev")),
        before,
        "a hot push keeps the container"
    );
    let home = "/root/hiclaw-fs/agents/alpha-dev";
    let soul_now = docker(&[
        "exec",
        &agent("alpha-dev"),
        "cat",
        &format!("{home}/SOUL.md"),
    ])
    .expect("read SOUL.md");
    assert!(
        soul_now.contains("You write, review and refactor code"),
        "{soul_now}"
    );

    let upgraded = format!("clawops-test/agent:{name}");
    docker(&["tag", BASE_IMAGE, &upgraded]).expect("tag the upgrade image");
    let _untag = Untag(upgraded.clone());
    repository.write("images.yaml", images(&upgraded));
    repository.commit("upgrade openclaw agents");
    clawops()
        .args(["apply", "--yes"])
        .arg(repository.path())
        .assert()
        .success()
        .stdout(contains("recreate"));
    assert_eq!(inspect(&agent("scout"), "{{.Config.Image}}"), upgraded);
    assert_eq!(
        inspect(&agent("alpha-qa"), "{{.State.Running}}"),
        "false",
        "recreated asleep"
    );
    let (team_start, standalone_start) =
        (started_at(&agent("alpha-dev")), started_at(&agent("scout")));
    assert!(
        team_start < standalone_start,
        "the team's wave before the standalone one: {team_start} {standalone_start}"
    );
    assert_eq!(
        inspect(&agent("beta-writer"), "{{.Config.Image}}"),
        BASE_IMAGE,
        "copaw agents keep their image"
    );
    assert_eq!(
        docker(&["ps", "-aq", "--filter", &format!("name={name}.*--previous")]).expect("ps"),
        "",
        "no container left aside"
    );

    docker(&["stop", "-t", "1", &agent("scout")]).expect("stop by hand");
    clawops()
        .args(["plan", "--detailed-exitcode"])
        .arg(repository.path())
        .assert()
        .code(2)
        .stdout(contains("drift: stopped outside clawops"));
    clawops()
        .args(["apply", "--yes"])
        .arg(repository.path())
        .assert()
        .success();
    assert_eq!(inspect(&agent("scout"), "{{.State.Running}}"), "true");
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_refuses_without_yes_when_stdin_is_not_a_terminal_and_touches_nothing() {
    let Some(fleet) = fleet().await else { return };
    let repository = fleet_repository(&fleet.name);
    clawops()
        .arg("apply")
        .arg(repository.path())
        .assert()
        .code(1)
        .stderr(contains("pass --yes"));
    let filter = format!("label=clawops.dev/fleet={}", fleet.name);
    assert_eq!(docker(&["ps", "-aq", "--filter", &filter]).expect("ps"), "");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_image_is_named_before_any_container_changes() {
    let Some(fleet) = fleet().await else { return };
    let repository = fleet_repository(&fleet.name);
    repository.write("images.yaml", images("clawops-test/agent:does-not-exist"));
    repository.commit("an image nobody built");
    clawops()
        .args(["apply", "--yes"])
        .arg(repository.path())
        .assert()
        .code(1)
        .stderr(contains("clawops-test/agent:does-not-exist").and(contains("nothing was changed")));
    let filter = format!("label=clawops.dev/fleet={}", fleet.name);
    assert_eq!(docker(&["ps", "-aq", "--filter", &filter]).expect("ps"), "");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_applies_only_while_nothing_moved() {
    let Some(fleet) = fleet().await else { return };
    let repository = fleet_repository(&fleet.name);
    let saved = tempfile::NamedTempFile::new().expect("temp file");
    clawops()
        .args(["plan", "--out"])
        .arg(saved.path())
        .arg(repository.path())
        .assert()
        .success();
    repository.write(
        "workers/extra.yaml",
        "apiVersion: hiclaw.io/v1beta1\nkind: Worker\nmetadata: {name: extra}\nspec: {model: m}\n",
    );
    repository.commit("one more worker");
    clawops()
        .args(["apply", "--yes", "--plan"])
        .arg(saved.path())
        .arg(repository.path())
        .assert()
        .code(1)
        .stderr(contains("refused: the saved plan was made from commit"));
    let filter = format!("label=clawops.dev/fleet={}", fleet.name);
    assert_eq!(
        docker(&["ps", "-aq", "--filter", &filter]).expect("ps"),
        "",
        "a refused plan touches nothing"
    );
    clawops()
        .args(["plan", "--out"])
        .arg(saved.path())
        .arg(repository.path())
        .assert()
        .success();
    clawops()
        .args(["apply", "--yes", "--plan"])
        .arg(saved.path())
        .arg(repository.path())
        .assert()
        .success();
    assert_eq!(
        inspect(
            &format!("{}-worker-extra", fleet.name),
            "{{.State.Running}}"
        ),
        "true"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edited_saved_plan_is_refused_and_deletes_nothing() {
    let Some(fleet) = fleet().await else { return };
    let repository = fleet_repository(&fleet.name);
    clawops()
        .args(["apply", "--yes"])
        .arg(repository.path())
        .assert()
        .success();
    repository.write(
        "workers/extra.yaml",
        "apiVersion: hiclaw.io/v1beta1\nkind: Worker\nmetadata: {name: extra}\nspec: {model: m}\n",
    );
    repository.commit("one more worker");
    let saved = tempfile::NamedTempFile::new().expect("temp file");
    clawops()
        .args(["plan", "--out"])
        .arg(saved.path())
        .arg(repository.path())
        .assert()
        .success();
    // The file says: delete an agent git still has (no --prune anywhere), and its summary
    // says nothing is deleted, so a guard reading it would let it through.
    let dev = format!("{}-worker-alpha-dev", fleet.name);
    let text = std::fs::read_to_string(saved.path()).expect("saved plan");
    let mut plan: serde_json::Value = serde_json::from_str(&text).expect("JSON plan");
    let step = plan["steps"]
        .as_array_mut()
        .and_then(|steps| steps.first_mut())
        .expect("a step");
    step["op"] = "delete_agent".into();
    step["agent"] = dev.clone().into();
    std::fs::write(saved.path(), plan.to_string()).expect("edited plan");
    clawops()
        .args(["apply", "--yes", "--plan"])
        .arg(saved.path())
        .arg(repository.path())
        .assert()
        .code(1)
        .stderr(contains("the saved plan differs from what clawops plans"));
    assert_eq!(inspect(&dev, "{{.State.Running}}"), "true");
    assert_eq!(
        docker(&[
            "ps",
            "-aq",
            "--filter",
            &format!("name=^{}-worker-extra$", fleet.name)
        ])
        .expect("ps"),
        "",
        "a refused plan touches nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_probe_rolls_the_team_back_and_stops_the_rollout() {
    let Some(fleet) = fleet().await else { return };
    let name = fleet.name.clone();
    let repository = fleet_repository(&name);
    clawops()
        .args(["apply", "--yes"])
        .arg(repository.path())
        .assert()
        .success();
    let dev = format!("{name}-worker-alpha-dev");
    let before = docker_support::container_id(&dev);
    let team = repository.path().join("teams/alpha.yaml");
    let text = std::fs::read_to_string(&team).expect("team file");
    let text = text
        .replace(
            "    healthTimeout: 90s\n",
            "    healthTimeout: 3s\n    probe:\n      exec: [test, -f, /never-there]\n",
        )
        .replace(
            "      env:\n        GIT_AUTHOR_NAME: alpha-dev\n",
            "      env:\n        GIT_AUTHOR_NAME: alpha-dev-2\n",
        );
    std::fs::write(&team, text).expect("write team");
    std::fs::write(
        repository.path().join("workers/scout.yaml"),
        std::fs::read_to_string(repository.path().join("workers/scout.yaml"))
            .expect("scout")
            .replace("SCOUT_INTERVAL: 1h", "SCOUT_INTERVAL: 2h"),
    )
    .expect("write scout");
    repository.commit("a change the probe rejects");
    clawops()
        .args(["apply", "--yes"])
        .arg(repository.path())
        .assert()
        .code(1)
        .stderr(contains("rolled back: wait healthy").and(contains(dev.as_str())))
        .stdout(contains("Apply stopped"));
    assert_eq!(
        docker_support::container_id(&dev),
        before,
        "the previous container is back"
    );
    assert_eq!(inspect(&dev, "{{.State.Running}}"), "true");
    let scout_env = inspect(&format!("{name}-worker-scout"), "{{json .Config.Env}}");
    assert!(
        scout_env.contains("SCOUT_INTERVAL=1h"),
        "later waves were not attempted: {scout_env}"
    );
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_lock_makes_apply_wait_then_fail_naming_the_holder_until_unlocked() {
    use clawops::backend::{Backend, LockHolder};
    let Some(fleet) = fleet().await else { return };
    let repository = fleet_repository(&fleet.name);
    let other = LockHolder {
        host: "build-box-7".to_owned(),
        pid: 4242,
        since: unix_now(),
        expires: unix_now() + 3600,
    };
    fleet
        .backend
        .try_lock(&other)
        .await
        .expect("take the lock as another apply");
    let started = std::time::Instant::now();
    clawops()
        .args(["apply", "--yes", "--lock-timeout", "2s"])
        .arg(repository.path())
        .assert()
        .code(1)
        .stderr(contains("being applied by host build-box-7, pid 4242"));
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(2),
        "it waited for the lock"
    );
    let filter = format!("label=clawops.dev/fleet={}", fleet.name);
    assert_eq!(
        docker(&["ps", "-aq", "--filter", &filter]).expect("ps"),
        "",
        "nothing applied without the lock"
    );
    clawops()
        .arg("unlock")
        .arg(repository.path())
        .assert()
        .success()
        .stdout(contains("released"));
    clawops()
        .args(["apply", "--yes"])
        .arg(repository.path())
        .assert()
        .success();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_lease_is_taken_over() {
    use clawops::backend::{Backend, LockHolder};
    let Some(fleet) = fleet().await else { return };
    let repository = fleet_repository(&fleet.name);
    let dead = LockHolder {
        host: "gone".to_owned(),
        pid: 1,
        since: unix_now() - 600,
        expires: unix_now() - 300,
    };
    fleet.backend.try_lock(&dead).await.expect("an old lease");
    clawops()
        .args(["apply", "--yes", "--lock-timeout", "0s"])
        .arg(repository.path())
        .assert()
        .success();
}

#[tokio::test(flavor = "multi_thread")]
async fn two_applies_at_once_take_turns_and_create_each_agent_once() {
    let Some(fleet) = fleet().await else { return };
    let repository = fleet_repository(&fleet.name);
    let start = || {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("clawops"))
            .args(["apply", "--yes", "--lock-timeout", "120s"])
            .arg(repository.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start clawops")
    };
    let (first, second) = (start(), start());
    let (first, second) = (
        first.wait_with_output().expect("first"),
        second.wait_with_output().expect("second"),
    );
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let outputs = format!(
        "{}{}",
        String::from_utf8_lossy(&first.stdout),
        String::from_utf8_lossy(&second.stdout)
    );
    assert_eq!(
        outputs.matches("Apply complete").count(),
        1,
        "the second found nothing left to do: {outputs}"
    );
    assert!(outputs.contains("No changes."), "{outputs}");
    let filter = format!("label=clawops.dev/fleet={}", fleet.name);
    assert_eq!(
        docker(&["ps", "-aq", "--filter", &filter])
            .expect("ps")
            .lines()
            .count(),
        10
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pruning_on_the_live_fleet_is_guarded_and_deletes_only_with_consent() {
    let Some(fleet) = fleet().await else { return };
    let name = fleet.name.clone();
    let repository = fleet_repository(&name);
    clawops()
        .args(["apply", "--yes"])
        .arg(repository.path())
        .assert()
        .success();
    for file in [
        "teams/alpha.yaml",
        "teams/beta.yaml",
        "debug/alpha-debug.yaml",
    ] {
        std::fs::remove_file(repository.path().join(file)).expect("remove file");
    }
    for (human, line) in [
        ("bob", "  accessibleTeams: [alpha]\n"),
        ("carol", "  accessibleTeams: [beta]\n"),
    ] {
        let path = repository.path().join(format!("humans/{human}.yaml"));
        let text = std::fs::read_to_string(&path)
            .expect("human")
            .replace(line, "");
        std::fs::write(path, text).expect("write human");
    }
    repository.commit("both teams leave git");
    clawops()
        .args(["apply", "--yes"])
        .arg(repository.path())
        .assert()
        .success()
        .stdout(contains("not managed by git any more"));
    assert_eq!(
        inspect(&format!("{name}-worker-alpha-dev"), "{{.State.Running}}"),
        "true",
        "kept without pruning"
    );
    clawops()
        .args(["apply", "--yes", "--prune"])
        .arg(repository.path())
        .assert()
        .code(1)
        .stderr(contains(
            "refused: this plan takes away 7 of the fleet's 10 agents",
        ));
    assert_eq!(
        inspect(&format!("{name}-worker-alpha-dev"), "{{.State.Running}}"),
        "true",
        "the guard touched nothing"
    );
    clawops()
        .args([
            "apply",
            "--yes",
            "--prune",
            "--allow-mass-delete",
            "--prune-volumes",
        ])
        .arg(repository.path())
        .assert()
        .success();
    let filter = format!("label=clawops.dev/fleet={name}");
    assert_eq!(
        docker(&["ps", "-aq", "--filter", &filter])
            .expect("ps")
            .lines()
            .count(),
        3
    );
    let volumes = docker(&["volume", "ls", "-q", "--filter", &filter]).expect("volumes");
    assert!(
        !volumes.contains("alpha-dev"),
        "--prune-volumes removed the workspace: {volumes}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_apply_killed_mid_upgrade_converges_on_the_next_apply() {
    let Some(fleet) = fleet().await else { return };
    let name = fleet.name.clone();
    let repository = fleet_repository(&name);
    clawops()
        .args(["apply", "--yes"])
        .arg(repository.path())
        .assert()
        .success();
    let upgraded = format!("clawops-test/agent:{name}");
    docker(&["tag", BASE_IMAGE, &upgraded]).expect("tag the upgrade image");
    let _untag = Untag(upgraded.clone());
    repository.write("images.yaml", images(&upgraded));
    repository.commit("upgrade openclaw agents");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("clawops"))
        .args(["apply", "--yes"])
        .arg(repository.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start clawops");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let previous = format!("name={name}.*--previous");
    while docker(&["ps", "-aq", "--filter", &previous])
        .expect("ps")
        .is_empty()
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().expect("SIGKILL clawops mid-recreate");
    let _ = child.wait();
    clawops()
        .arg("unlock")
        .arg(repository.path())
        .assert()
        .success();
    clawops()
        .args(["apply", "--yes"])
        .arg(repository.path())
        .assert()
        .success();
    clawops()
        .args(["plan", "--detailed-exitcode"])
        .arg(repository.path())
        .assert()
        .code(0)
        .stdout(contains("No changes."));
    assert_eq!(
        docker(&["ps", "-aq", "--filter", &previous]).expect("ps"),
        "",
        "no container left aside"
    );
    let filter = format!("label=clawops.dev/fleet={name}");
    assert_eq!(
        docker(&["ps", "-aq", "--filter", &filter])
            .expect("ps")
            .lines()
            .count(),
        10,
        "no duplicate or orphan"
    );
    assert_eq!(
        inspect(&format!("{name}-worker-scout"), "{{.Config.Image}}"),
        upgraded
    );
}
