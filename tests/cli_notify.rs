//! Notifications from `clawops apply` against a real Docker Engine: the webhooks (JSON
//! and Slack text) and the GitHub commit statuses of `[notify]`, received by a local
//! server that answers like GitHub's API; a rollout that fails and is rolled back; and
//! receivers that fail, which never fail the apply.
#![cfg(feature = "docker")]

mod docker_support;
mod github_support;
mod support;

use docker_support::{BASE_IMAGE, SICK_IMAGE, fleet};
use github_support::{FakeGithub, REPOSITORY};
use predicates::str::contains;
use serde_json::Value;
use support::{Repo, clawops};

const TOKEN: &str = "ghs_notifytoken0123456789abcdefghijklmnopq";
const HOOK_SECRET: &str = "T000/B000/hooksecretpath";

/// A fleet of one worker on `image`, telling `notify` (a `[notify]` table).
fn one_worker(repository: &Repo, fleet: &str, image: &str, notify: &str) -> String {
    repository.write(
        "clawops.toml",
        format!(
            "[fleet]\nname = \"{fleet}\"\nprefix = \"{fleet}-\"\n\n[docker]\nnetwork = \"{fleet}-net\"\n\n[rollout]\nhealth_timeout = \"6s\"\non_failure = \"rollback\"\n\n{notify}"
        ),
    );
    repository.write(
        "images.yaml",
        format!(
            "apiVersion: clawops.dev/v1alpha1\nkind: ImageSet\nmetadata:\n  name: test\nspec:\n  runtimes:\n    openclaw: {image}\n  manager: {BASE_IMAGE}\n  pullPolicy: Never\n"
        ),
    );
    repository.write(
        "workers/alpha.yaml",
        "apiVersion: hiclaw.io/v1beta1\nkind: Worker\nmetadata:\n  name: alpha\nspec:\n  model: qwen3.5-plus\n  runtime: openclaw\n  env:\n    API_KEY: !secret NOTIFY_TEST_API_KEY\n",
    );
    repository.commit(&format!("alpha on {image}"))
}

fn notify_table(server: &FakeGithub) -> String {
    format!(
        "[notify]\ngithub_status = true\n\n[[notify.webhook]]\nurl = \"{}/hooks/json\"\n\n[[notify.webhook]]\nurl_env = \"NOTIFY_TEST_SLACK_URL\"\nformat = \"slack\"\nevents = [\"apply_succeeded\", \"apply_failed\", \"rolled_back\"]\n",
        server.url
    )
}

fn apply(repository: &Repo, server: &FakeGithub) -> assert_cmd::assert::Assert {
    clawops()
        .args(["apply", "--yes"])
        .arg(repository.path())
        .env("GITHUB_TOKEN", TOKEN)
        .env("GITHUB_REPOSITORY", REPOSITORY)
        .env("GITHUB_API_URL", &server.url)
        .env(
            "NOTIFY_TEST_SLACK_URL",
            format!("{}/hooks/slack/{HOOK_SECRET}", server.url),
        )
        .env(
            "CLAWOPS_SECRET_NOTIFY_TEST_API_KEY",
            "sk-notify-secret-value",
        )
        .env("CLAWOPS_LOG", "clawops=debug")
        .assert()
}

fn events(bodies: &[Value]) -> Vec<(String, String)> {
    bodies
        .iter()
        .map(|body| {
            (
                body["event"].as_str().unwrap_or_default().to_owned(),
                body["commit"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_tells_webhooks_and_sets_commit_statuses() {
    let Some(fleet) = fleet().await else { return };
    let server = FakeGithub::start(Vec::new());
    let repository = Repo::new("notify");
    let first = one_worker(&repository, &fleet.name, BASE_IMAGE, &notify_table(&server));
    let output = apply(&repository, &server).success().get_output().clone();

    let json = server.hook_bodies("json");
    assert_eq!(
        events(&json),
        [
            ("apply_started".to_owned(), first.clone()),
            ("apply_succeeded".to_owned(), first.clone())
        ]
    );
    for body in &json {
        assert_eq!(body["fleet"], fleet.name.as_str());
        assert_eq!(body["origin"], "apply");
        assert!(
            body["time"]
                .as_str()
                .is_some_and(|time| time.ends_with('Z'))
        );
        assert!(
            body["summary"]
                .as_str()
                .is_some_and(|summary| summary.starts_with("Plan: 1 to create")),
            "{body}"
        );
    }
    let slack_path = format!("/hooks/slack/{HOOK_SECRET}");
    let slack: Vec<String> = server
        .requests_of("POST")
        .into_iter()
        .filter(|request| request.path == slack_path)
        .map(|request| {
            let body: Value = serde_json::from_str(&request.body).expect("slack JSON");
            body["text"].as_str().expect("a text field").to_owned()
        })
        .collect();
    assert_eq!(slack.len(), 1, "only the events it names: {slack:?}");
    assert!(
        slack[0].starts_with(&format!(
            "clawops fleet `{}`: applied {}",
            fleet.name,
            &first[..12]
        )),
        "{}",
        slack[0]
    );

    let statuses = server.statuses();
    let states: Vec<&str> = statuses.iter().map(|status| status.1.as_str()).collect();
    assert_eq!(states, ["pending", "success"]);
    for (commit, _, description, context) in &statuses {
        assert_eq!(commit, &first);
        assert_eq!(context, &format!("clawops/{}", fleet.name));
        assert!(description.contains("Plan: 1 to create"), "{description}");
    }
    let status_request = server
        .requests_of("POST")
        .into_iter()
        .find(|request| request.path.contains("/statuses/"))
        .expect("a status request");
    assert_eq!(
        status_request
            .headers
            .get("authorization")
            .map(String::as_str),
        Some(format!("Bearer {TOKEN}").as_str())
    );

    // Nothing to change: the commit gets its green status, and the webhooks hear nothing.
    let before = server.requests().len();
    apply(&repository, &server).success();
    let after = server.requests();
    assert_eq!(
        after.len(),
        before + 1,
        "one request: {:?}",
        &after[before..]
    );
    assert!(after[before].path.ends_with(&format!("/statuses/{first}")));
    let (_, state, description, _) = server.statuses().pop().expect("a status");
    assert_eq!(state, "success");
    assert_eq!(
        description,
        "No changes: the fleet already matches this commit."
    );

    // Secrets appear in no body and no log line.
    let stderr = String::from_utf8_lossy(&output.stderr);
    for request in server.requests() {
        for secret in [TOKEN, "sk-notify-secret-value", HOOK_SECRET] {
            assert!(
                !request.body.contains(secret),
                "{secret} in {}",
                request.body
            );
        }
    }
    for secret in [TOKEN, "sk-notify-secret-value", HOOK_SECRET] {
        assert!(!stderr.contains(secret), "{secret} in the log: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rolled_back_apply_says_so_and_fails_its_commit_status() {
    let Some(fleet) = fleet().await else { return };
    let server = FakeGithub::start(Vec::new());
    let repository = Repo::new("notify-rollback");
    let table = notify_table(&server);
    one_worker(&repository, &fleet.name, BASE_IMAGE, &table);
    apply(&repository, &server).success();
    let sick = one_worker(&repository, &fleet.name, SICK_IMAGE, &table);
    apply(&repository, &server)
        .code(1)
        .stderr(contains("rolled back: wait healthy"));

    let json = server.hook_bodies("json");
    let last = json.last().expect("events");
    assert_eq!(
        events(&json[2..]),
        [
            ("apply_started".to_owned(), sick.clone()),
            ("rolled_back".to_owned(), sick.clone())
        ]
    );
    let reason = last["reason"].as_str().expect("a reason");
    assert!(reason.starts_with("wait healthy"), "{reason}");
    assert!(
        last["summary"]
            .as_str()
            .is_some_and(|summary| summary.contains("Apply stopped")),
        "{last}"
    );
    let statuses = server.statuses();
    let (commit, state, description, _) = statuses.last().expect("statuses");
    assert_eq!(
        (commit.as_str(), state.as_str()),
        (sick.as_str(), "failure")
    );
    assert!(
        description.contains("rolled back: wait healthy"),
        "{description}"
    );
    let slack = server
        .requests_of("POST")
        .into_iter()
        .filter(|request| request.path.starts_with("/hooks/slack/"))
        .count();
    assert_eq!(slack, 2, "applied, then rolled back");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_halted_apply_is_a_failure_not_a_rollback() {
    let Some(fleet) = fleet().await else { return };
    let server = FakeGithub::start(Vec::new());
    let repository = Repo::new("notify-halt");
    let table = notify_table(&server);
    one_worker(&repository, &fleet.name, BASE_IMAGE, &table);
    apply(&repository, &server).success();
    one_worker(&repository, &fleet.name, SICK_IMAGE, &table);
    let settings = repository.path().join("clawops.toml");
    let text = std::fs::read_to_string(&settings).expect("clawops.toml");
    repository.write(
        "clawops.toml",
        text.replace("on_failure = \"rollback\"", "on_failure = \"halt\""),
    );
    let halted = repository.commit("halt on failure");
    apply(&repository, &server)
        .code(1)
        .stderr(contains("failed: wait healthy"));

    let json = server.hook_bodies("json");
    assert_eq!(
        events(&json[2..]),
        [
            ("apply_started".to_owned(), halted.clone()),
            ("apply_failed".to_owned(), halted.clone())
        ]
    );
    let reason = json.last().expect("events")["reason"]
        .as_str()
        .expect("a reason")
        .to_owned();
    assert!(reason.starts_with("wait healthy"), "{reason}");
    let (commit, state, description, _) = server.statuses().pop().expect("statuses");
    assert_eq!(
        (commit.as_str(), state.as_str()),
        (halted.as_str(), "failure")
    );
    assert!(
        description.contains("failed: wait healthy"),
        "{description}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_receivers_are_logged_and_never_fail_the_apply() {
    let Some(fleet) = fleet().await else { return };
    let failing = FakeGithub::failing(500, "boom");
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let repository = Repo::new("notify-failing");
    let table = format!(
        "[notify]\ngithub_status = true\n\n[[notify.webhook]]\nurl = \"{}/hooks/{HOOK_SECRET}\"\n\n[[notify.webhook]]\nurl = \"http://127.0.0.1:{closed_port}/hooks/{HOOK_SECRET}\"\n",
        failing.url
    );
    one_worker(&repository, &fleet.name, BASE_IMAGE, &table);
    let output = apply(&repository, &failing)
        .success()
        .stdout(contains("Apply complete"))
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("notification not delivered")
            && stderr.contains("webhook 1 (127.0.0.1) answered HTTP 500")
            && stderr.contains("could not reach webhook 2 (127.0.0.1)")
            && stderr.contains(&format!(
                "GitHub commit status ({REPOSITORY}) answered HTTP 500"
            )),
        "{stderr}"
    );
    assert!(
        !stderr.contains(HOOK_SECRET) && !stderr.contains(TOKEN),
        "{stderr}"
    );
    // Transient failures (5xx) are tried three times: two events, two sinks on the server.
    assert_eq!(failing.requests().len(), 2 * 2 * 3);
}
