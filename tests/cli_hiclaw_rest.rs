//! `--backend hiclaw` end to end over the REST transport: the binary drives the embedded
//! controller's REST API of the simulated HiClaw controller (`kubernetes_support`), with
//! the URL and token from the environment and its record of what it applied in a folder.
#![cfg(feature = "hiclaw")]

mod kubernetes_support;
mod support;

use std::path::PathBuf;
use std::time::Duration;

use kubernetes_support::FakeApi;
use predicates::str::contains;
use support::{clawops, copy_recursively, example};

const CONTROLLER: &str = "hiclaw-controller";
const TOKEN: &str = "s3cr3t-admin-token-4711";

/// The simulated controller's REST API, and the example fleet on the `rest` transport.
struct Fixture {
    api: FakeApi,
    home: tempfile::TempDir,
    url: String,
    fleet: PathBuf,
}

impl Fixture {
    /// The example as written (with fields REST cannot carry).
    fn as_written() -> Self {
        let home = tempfile::tempdir().expect("home");
        let api = FakeApi::new();
        // Slow enough that the gate sees a replaced container go down.
        api.set_ready_delay(Duration::from_millis(600));
        let url = api.serve_rest(TOKEN, CONTROLLER);
        let fleet = home.path().join("fleet");
        copy_recursively(&example("hiclaw-fleet"), &fleet);
        let fixture = Self {
            api,
            home,
            url,
            fleet,
        };
        fixture.edit("clawops.toml", |text| {
            text.replace(
                "backend = \"docker\"",
                "backend = \"hiclaw\"\n\n[hiclaw]\ntransport = \"rest\"",
            )
            .replace("health_timeout = \"120s\"", "health_timeout = \"10s\"")
        });
        fixture.edit("teams/alpha.yaml", |text| {
            text.replace("healthTimeout: 90s", "healthTimeout: 4s")
        });
        fixture
    }

    /// The example without the fields REST cannot carry (env, remoteSkills, accessEntries,
    /// the DebugWorker).
    fn new() -> Self {
        let fixture = Self::as_written();
        fixture.edit("teams/alpha.yaml", |text| {
            text.replace("      env:\n        GIT_AUTHOR_NAME: alpha-dev\n", "")
        });
        fixture.edit("workers/scout.yaml", |text| {
            text.split("  env:").next().unwrap_or_default().to_owned()
        });
        fixture.edit("workers/scribe.yaml", |text| {
            text.split("  accessEntries:")
                .next()
                .unwrap_or_default()
                .to_owned()
        });
        std::fs::remove_file(fixture.fleet.join("debug/alpha-debug.yaml")).expect("remove debug");
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
            .env("HICLAW_CONTROLLER_URL", &self.url)
            .env("HICLAW_AUTH_TOKEN", TOKEN)
            .env("CLAWOPS_HICLAW_RECORD", self.home.path().join("record"))
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

fn output_of(assert: &assert_cmd::assert::Assert) -> String {
    let output = assert.get_output();
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn fields_rest_cannot_carry_are_located_errors_and_nothing_is_sent() {
    let fixture = Fixture::as_written();
    let assert = fixture.clawops(&["apply", "--yes"]).assert().failure();
    let output = output_of(&assert);
    for place in [
        "debug/alpha-debug.yaml:10:11",
        "teams/alpha.yaml:30:9",
        "workers/scout.yaml:14:5",
        "workers/scout.yaml:16:15",
        "workers/scribe.yaml:6:9",
    ] {
        assert!(output.contains(place), "{place} in:\n{output}");
    }
    assert!(
        fixture.api.rest_requests().is_empty(),
        "nothing reached the controller"
    );
}

#[test]
fn apply_plan_status_over_rest_with_the_token_never_shown() {
    let fixture = Fixture::new();
    let assert = fixture
        .apply()
        .success()
        .stdout(contains("hiclaw rest http://127.0.0.1"));
    assert!(!output_of(&assert).contains(TOKEN));
    let alpha = fixture.team("alpha");
    assert_eq!(
        alpha["metadata"]["labels"]["hiclaw.io/controller"],
        CONTROLLER
    );
    assert_eq!(member(&alpha, "alpha-qa")["state"], "Sleeping");
    assert!(fixture.api.hiclaw_object("humans", "alice").is_some());
    assert!(fixture.api.hiclaw_object("managers", "default").is_some());
    let plan = fixture
        .clawops(&["plan", "--detailed-exitcode"])
        .assert()
        .code(0);
    assert!(!output_of(&plan).contains(TOKEN));
    let record = fixture.home.path().join("record");
    assert!(record.is_dir(), "the record is kept in the record folder");
    // A wrong token: refused, and said so without either token.
    let refused = fixture
        .clawops(&["status"])
        .env("HICLAW_AUTH_TOKEN", "wrong-token-0000")
        .assert()
        .failure()
        .stderr(contains("HICLAW_AUTH_TOKEN"));
    let output = output_of(&refused);
    assert!(!output.contains("wrong-token-0000") && !output.contains(TOKEN));
    // The token from a file.
    let file = fixture.home.path().join("cli-token");
    std::fs::write(&file, format!("{TOKEN}\n")).expect("token file");
    fixture
        .clawops(&["status"])
        .env_remove("HICLAW_AUTH_TOKEN")
        .env("HICLAW_AUTH_TOKEN_FILE", &file)
        .assert()
        .success()
        .stdout(contains("hiclaw-worker-alpha-dev"));
}

#[test]
fn a_team_image_bump_over_rest_goes_one_member_at_a_time() {
    let fixture = Fixture::new();
    fixture.apply().success();
    let before = fixture.api.member_history().len();
    fixture.edit("images.yaml", |text| {
        text.replace("hiclaw-copaw-worker:v1.1.2", "hiclaw-copaw-worker:v1.1.3")
    });
    fixture.apply().success();
    let changes: Vec<_> = fixture.api.member_history()[before..]
        .iter()
        .filter(|change| !change.by_runtime)
        .cloned()
        .collect();
    let agents: Vec<String> = changes.iter().map(|change| change.agent()).collect();
    assert_eq!(agents, ["beta/beta-writer", "beta/beta-editor"]);
    let first_ready = changes[0].ready.expect("the first member became ready");
    assert!(changes[1].written >= first_ready, "one member at a time");
}

#[test]
fn a_broken_member_over_rest_is_rolled_back() {
    let fixture = Fixture::new();
    fixture.apply().success();
    fixture.edit("teams/alpha.yaml", |text| {
        text.replace(
            "    - name: alpha-dev\n      model: qwen3.5-plus\n",
            "    - name: alpha-dev\n      model: qwen3.5-plus\n      image: hiclaw/worker:broken\n",
        )
    });
    fixture.apply().failure();
    assert_eq!(
        member(&fixture.team("alpha"), "alpha-dev")["image"],
        "higress-registry.cn-hangzhou.cr.aliyuncs.com/higress/hiclaw-worker:v1.1.2"
    );
}

#[test]
fn runtime_sleep_a_soul_diff_and_prune_over_rest() {
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
        ));
    fixture.apply().success();
    let alpha = fixture.team("alpha");
    assert_eq!(member(&alpha, "alpha-dev")["state"], "Sleeping");
    std::fs::remove_file(fixture.fleet.join("workers/scout.yaml")).expect("remove scout");
    fixture
        .clawops(&["apply", "--yes", "--prune"])
        .assert()
        .success();
    assert!(fixture.api.hiclaw_object("workers", "scout").is_none());
    for file in ["teams/alpha.yaml", "humans/bob.yaml"] {
        std::fs::remove_file(fixture.fleet.join(file)).expect("remove a file");
    }
    fixture
        .clawops(&["apply", "--yes", "--prune"])
        .assert()
        .failure()
        .stderr(contains("refused"));
    assert!(fixture.api.hiclaw_object("teams", "alpha").is_some());
}

#[test]
fn the_record_folder_lock_stops_a_second_apply() {
    let fixture = Fixture::new();
    fixture.apply().success();
    fixture.clawops(&["unlock"]).assert().success();
    // A change to apply, while another apply holds the lock: a lock file with a live
    // lease next to the record.
    fixture.edit("workers/scout.yaml", |text| {
        text.replace(
            "You watch upstream projects",
            "You watch upstream repositories",
        )
    });
    let folder = std::fs::read_dir(fixture.home.path().join("record"))
        .expect("record folder")
        .filter_map(Result::ok)
        .find(|entry| entry.path().is_dir())
        .expect("the controller's folder")
        .path();
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 600;
    std::fs::write(
        folder.join("acme.lock"),
        serde_json::json!({"host": "elsewhere", "pid": 7, "since": 1, "expires": expires})
            .to_string(),
    )
    .expect("lock file");
    fixture
        .clawops(&["apply", "--yes", "--lock-timeout", "1s"])
        .assert()
        .failure()
        .stderr(contains("elsewhere"));
}
