//! `--backend hiclaw` end to end over the Kubernetes transport: the binary writes
//! `hiclaw.io/v1beta1` objects to the simulated HiClaw controller of `kubernetes_support`
//! (an in-memory API server whose reconciler writes status as upstream's controller does)
//! and gates each member change on the controller reporting it ready on its new spec.
#![cfg(feature = "hiclaw")]

mod kubernetes_support;
mod support;

use std::path::PathBuf;
use std::time::Duration;

use kubernetes_support::FakeApi;
use predicates::str::contains;
use support::{clawops, copy_recursively, example};

/// The controller every test fleet is written for.
const CONTROLLER: &str = "hiclaw-controller";

/// A simulated controller served over HTTP, and the example fleet copied into a folder
/// with `backend = "hiclaw"`.
struct Fixture {
    api: FakeApi,
    home: tempfile::TempDir,
    kubeconfig: PathBuf,
    fleet: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let home = tempfile::tempdir().expect("home");
        let api = FakeApi::new();
        api.set_controller(CONTROLLER);
        api.set_ready_delay(Duration::from_millis(50));
        let kubeconfig = api.serve(home.path());
        let fleet = home.path().join("fleet");
        copy_recursively(&example("hiclaw-fleet"), &fleet);
        let fixture = Self {
            api,
            home,
            kubeconfig,
            fleet,
        };
        fixture.edit("clawops.toml", |text| {
            text.replace("backend = \"docker\"", "backend = \"hiclaw\"")
                .replace("health_timeout = \"120s\"", "health_timeout = \"5s\"")
        });
        fixture.edit("teams/alpha.yaml", |text| {
            text.replace("healthTimeout: 90s", "healthTimeout: 3s")
        });
        fixture
    }

    fn edit(&self, file: &str, change: impl FnOnce(&str) -> String) {
        let path = self.fleet.join(file);
        let text = std::fs::read_to_string(&path).expect("read fleet file");
        std::fs::write(&path, change(&text)).expect("write fleet file");
    }

    fn clawops(&self, args: &[&str]) -> assert_cmd::Command {
        let mut command = clawops();
        command
            .env("HOME", self.home.path())
            .env("KUBECONFIG", &self.kubeconfig)
            .args(args)
            .arg(&self.fleet);
        command
    }

    fn apply(&self) -> assert_cmd::assert::Assert {
        self.clawops(&["apply", "--yes"]).assert()
    }

    fn team(&self, name: &str) -> serde_json::Value {
        self.api.hiclaw_object("teams", name).expect("team")
    }
}

fn member<'a>(team: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    if team["spec"]["leader"]["name"] == name {
        return &team["spec"]["leader"];
    }
    team["spec"]["workers"]
        .as_array()
        .and_then(|workers| workers.iter().find(|worker| worker["name"] == name))
        .expect("member")
}

#[test]
fn first_apply_writes_every_object_for_the_controller_then_nothing_changes() {
    let fixture = Fixture::new();
    fixture
        .apply()
        .success()
        .stdout(contains("hiclaw kubernetes http://127.0.0.1"))
        .stdout(contains("~ human/alice"));
    let alpha = fixture.team("alpha");
    assert_eq!(
        alpha["metadata"]["labels"]["hiclaw.io/controller"],
        CONTROLLER
    );
    assert_eq!(alpha["spec"]["admin"]["name"], "alice");
    assert_eq!(member(&alpha, "alpha-lead")["heartbeat"]["every"], "30m");
    assert_eq!(member(&alpha, "alpha-qa")["state"], "Sleeping");
    assert_eq!(
        member(&alpha, "alpha-dev")["image"],
        "higress-registry.cn-hangzhou.cr.aliyuncs.com/higress/hiclaw-worker:v1.1.2"
    );
    assert!(
        alpha["spec"].get("upgrade").is_none(),
        "clawops' own fields stay home"
    );
    for (kind, name) in [
        ("humans", "alice"),
        ("workers", "scout"),
        ("workers", "scribe"),
        ("workers", "alpha-debug"),
        ("managers", "default"),
        ("teams", "beta"),
    ] {
        assert!(
            fixture.api.hiclaw_object(kind, name).is_some(),
            "{kind}/{name} written"
        );
    }
    let debug = fixture
        .api
        .hiclaw_object("workers", "alpha-debug")
        .expect("debug");
    assert_eq!(
        debug["spec"]["accessEntries"][0]["service"], "object-storage",
        "the DebugWorker reads its targets' workspaces from storage"
    );
    fixture
        .clawops(&["plan", "--detailed-exitcode"])
        .assert()
        .code(0)
        .stdout(contains("No changes"));
}

#[test]
fn a_team_image_bump_is_written_one_member_at_a_time_each_gated_on_ready() {
    let fixture = Fixture::new();
    fixture.apply().success();
    let before = fixture.api.member_history().len();
    fixture.edit("images.yaml", |text| {
        text.replace("hiclaw-copaw-worker:v1.1.2", "hiclaw-copaw-worker:v1.1.3")
    });
    fixture
        .clawops(&["plan"])
        .assert()
        .success()
        .stdout(contains(
            "-/+ hiclaw-worker-beta-writer  recreate: image: …/hiclaw-copaw-worker:v1.1.2 → v1.1.3",
        ))
        .stdout(contains("wave 2 (beta): start hiclaw-worker-beta-editor"));
    fixture.apply().success();
    let changes: Vec<_> = fixture.api.member_history()[before..]
        .iter()
        .filter(|change| !change.by_runtime)
        .cloned()
        .collect();
    let agents: Vec<String> = changes.iter().map(|change| change.agent()).collect();
    assert_eq!(
        agents,
        ["beta/beta-writer", "beta/beta-editor"],
        "git order, workers first"
    );
    let first_ready = changes[0].ready.expect("the first member became ready");
    assert!(
        changes[1].written >= first_ready,
        "the second member was written only once the first was ready"
    );
    assert_eq!(
        member(&fixture.team("beta"), "beta-editor")["image"],
        "higress-registry.cn-hangzhou.cr.aliyuncs.com/higress/hiclaw-copaw-worker:v1.1.3"
    );
}

#[test]
fn a_broken_member_halts_the_rollout_and_under_rollback_gets_its_previous_spec_back() {
    let fixture = Fixture::new();
    fixture.apply().success();
    fixture.edit("teams/alpha.yaml", |text| {
        text.replace(
            "    - name: alpha-dev\n      model: qwen3.5-plus\n",
            "    - name: alpha-dev\n      model: qwen3.5-plus\n      image: hiclaw/worker:broken\n",
        )
    });
    fixture
        .apply()
        .failure()
        .stdout(contains("hiclaw-worker-alpha-dev"));
    let alpha = fixture.team("alpha");
    assert_eq!(
        member(&alpha, "alpha-dev")["image"],
        "higress-registry.cn-hangzhou.cr.aliyuncs.com/higress/hiclaw-worker:v1.1.2",
        "rollback wrote the previous spec back"
    );
}

#[test]
fn an_agent_put_to_sleep_at_run_time_is_reported_not_woken() {
    let fixture = Fixture::new();
    fixture.apply().success();
    fixture
        .api
        .sleep_at_runtime("teams", "alpha", Some("alpha-dev"));
    fixture
        .clawops(&["plan", "--detailed-exitcode"])
        .assert()
        .code(0);
    fixture
        .clawops(&["status"])
        .assert()
        .success()
        .stdout(contains("sleeping (run time)"));
    fixture.apply().success();
    assert_eq!(
        member(&fixture.team("alpha"), "alpha-dev")["state"],
        "Sleeping"
    );
    // A change from git to the sleeping member is written, and it stays asleep.
    fixture.edit("teams/alpha.yaml", |text| {
        text.replace(
            "You write and refactor code",
            "You write, test and refactor code",
        )
    });
    fixture
        .clawops(&["plan"])
        .assert()
        .success()
        .stdout(contains(
            "+You write, test and refactor code for team alpha.",
        ))
        .stdout(contains("-You write and refactor code for team alpha."));
    fixture.apply().success();
    let alpha = fixture.team("alpha");
    assert_eq!(member(&alpha, "alpha-dev")["state"], "Sleeping");
    assert!(
        member(&alpha, "alpha-dev")["soul"]
            .as_str()
            .is_some_and(|soul| soul.contains("write, test and refactor"))
    );
}

#[test]
fn prune_deletes_only_what_clawops_applied_behind_the_guard() {
    let fixture = Fixture::new();
    fixture.apply().success();
    // Someone else's Worker for the same controller: never clawops's to delete.
    fixture.api.put(
        &kubernetes_support::hiclaw_path("workers", "stranger"),
        serde_json::json!({"apiVersion": "hiclaw.io/v1beta1", "kind": "Worker",
            "metadata": {"name": "stranger", "namespace": "hiclaw",
                         "labels": {"hiclaw.io/controller": CONTROLLER}},
            "spec": {"model": "m"}}),
    );
    std::fs::remove_file(fixture.fleet.join("workers/scout.yaml")).expect("remove scout");
    fixture
        .clawops(&["plan"])
        .assert()
        .success()
        .stdout(contains("hiclaw-worker-scout"))
        .stdout(contains("kept"));
    fixture
        .clawops(&["apply", "--yes", "--prune"])
        .assert()
        .success();
    assert!(fixture.api.hiclaw_object("workers", "scout").is_none());
    assert!(fixture.api.hiclaw_object("workers", "stranger").is_some());
    // Most of the fleet at once (team alpha, its DebugWorker): refused.
    for file in [
        "teams/alpha.yaml",
        "debug/alpha-debug.yaml",
        "humans/bob.yaml",
    ] {
        std::fs::remove_file(fixture.fleet.join(file)).expect("remove a file");
    }
    fixture
        .clawops(&["apply", "--yes", "--prune"])
        .assert()
        .failure()
        .stderr(contains("refused"));
    assert!(fixture.api.hiclaw_object("teams", "alpha").is_some());
    fixture
        .clawops(&["apply", "--yes", "--prune", "--allow-mass-delete"])
        .assert()
        .success();
    assert!(fixture.api.hiclaw_object("teams", "alpha").is_none());
    assert!(fixture.api.hiclaw_object("humans", "bob").is_none());
    assert!(fixture.api.hiclaw_object("humans", "alice").is_some());
}

#[test]
fn the_lock_held_by_another_apply_stops_this_one() {
    let fixture = Fixture::new();
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 600;
    let holder = serde_json::json!({"host": "elsewhere", "pid": 7, "since": 1, "expires": expires});
    fixture.api.put(
        &kubernetes_support::object_path("coordination.k8s.io/v1", "leases", "clawops-lock"),
        serde_json::json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "clawops-lock", "namespace": "hiclaw",
                         "annotations": {"clawops.dev/holder": holder.to_string()}},
            "spec": {"holderIdentity": "elsewhere/7", "leaseDurationSeconds": 600}}),
    );
    fixture
        .clawops(&["apply", "--yes", "--lock-timeout", "1s"])
        .assert()
        .failure()
        .stderr(contains("elsewhere"));
    assert!(fixture.api.hiclaw_object("teams", "alpha").is_none());
}

#[test]
fn a_saved_plan_applies_only_while_the_controller_holds_what_it_saw() {
    let fixture = Fixture::new();
    fixture.apply().success();
    fixture.edit("teams/alpha.yaml", |text| {
        text.replace(
            "You write and refactor code",
            "You write, test and refactor code",
        )
    });
    let saved = fixture.home.path().join("plan.json");
    let saved_text = saved.to_string_lossy().into_owned();
    fixture
        .clawops(&["plan", "--out", &saved_text])
        .assert()
        .success();
    // Someone edits a member by hand after the plan was saved.
    fixture.api.edit(
        &kubernetes_support::hiclaw_path("teams", "beta"),
        |object| {
            object["spec"]["workers"][0]["model"] = serde_json::json!("edited-by-hand");
        },
    );
    fixture
        .clawops(&["apply", "--yes", "--plan", &saved_text])
        .assert()
        .code(1)
        .stderr(contains("the live fleet changed since the plan was saved"));
    let alpha = fixture.team("alpha");
    assert!(
        !member(&alpha, "alpha-dev")["soul"]
            .as_str()
            .unwrap_or_default()
            .contains("write, test and refactor"),
        "a refused plan writes nothing"
    );
    fixture
        .clawops(&["plan", "--out", &saved_text])
        .assert()
        .success();
    fixture
        .clawops(&["apply", "--yes", "--plan", &saved_text])
        .assert()
        .success();
    let alpha = fixture.team("alpha");
    assert!(
        member(&alpha, "alpha-dev")["soul"]
            .as_str()
            .unwrap_or_default()
            .contains("write, test and refactor")
    );
    assert_eq!(
        fixture.team("beta")["spec"]["workers"][0]["model"],
        "qwen3.5-plus",
        "the hand edit is undone by the plan made after it"
    );
}
