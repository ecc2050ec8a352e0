//! `clawops github comment` against a fake GitHub API: one comment per pull request,
//! found again by its marker across pages, the token never printed, secrets scrubbed.

mod github_support;
mod support;

use std::path::{Path, PathBuf};

use clawops::render::MARKDOWN_MARKER;
use github_support::{CREATED_ID, FakeGithub, Identity, PULL_REQUEST, REPOSITORY, comment};
use support::{Repo, clawops, example, project_root};

/// A token no output may ever contain.
const TOKEN: &str = "ghs_T0KEN_that_must_never_print_7f3a9c";

fn event_fixture() -> PathBuf {
    project_root().join("tests/fixtures/github/pull_request.json")
}

/// Writes `body` to a file in a fresh temporary folder.
fn body_file(body: &str) -> (tempfile::TempDir, PathBuf) {
    let folder = tempfile::tempdir().expect("temp dir");
    let path = folder.path().join("plan.md");
    std::fs::write(&path, body).expect("write body");
    (folder, path)
}

/// `clawops github comment` with the environment GitHub Actions sets, pointed at `server`.
fn comment_command(server: &FakeGithub, event: &Path, body: &Path) -> assert_cmd::Command {
    let mut command = clawops();
    command
        .env("GITHUB_API_URL", &server.url)
        .env("GITHUB_REPOSITORY", REPOSITORY)
        .env("GITHUB_EVENT_PATH", event)
        .env("GITHUB_TOKEN", TOKEN)
        .env("CLAWOPS_LOG", "trace")
        .args(["github", "comment", "--body-file"])
        .arg(body);
    command
}

/// Runs the command, asserts its exit code and that the token appears in neither stream;
/// returns stdout and stderr.
fn run(mut command: assert_cmd::Command, code: i32) -> (String, String) {
    let output = command.assert().code(code).get_output().clone();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !stdout.contains(TOKEN) && !stderr.contains(TOKEN),
        "the token leaked:\n{stdout}\n{stderr}"
    );
    (stdout, stderr)
}

#[test]
fn without_a_plan_comment_one_is_created_with_the_api_headers() {
    let server = FakeGithub::start(vec![vec![comment(1, "octocat", "Looks good to me")]]);
    let (_folder, body) = body_file(&format!("{MARKDOWN_MARKER}\n**Plan: 1 to create.**\n"));
    let (stdout, _) = run(comment_command(&server, &event_fixture(), &body), 0);

    let comments_url = format!("https://github.com/{REPOSITORY}/pull/{PULL_REQUEST}");
    assert_eq!(
        stdout.trim(),
        format!("created comment {comments_url}#issuecomment-{CREATED_ID}")
    );
    let requests = server.requests();
    let methods: Vec<&str> = requests
        .iter()
        .map(|request| request.method.as_str())
        .collect();
    assert_eq!(methods, ["GET", "POST"]);
    assert_eq!(
        requests[0].path,
        format!("/repos/{REPOSITORY}/issues/{PULL_REQUEST}/comments?per_page=100")
    );
    assert_eq!(
        requests[1].path,
        format!("/repos/{REPOSITORY}/issues/{PULL_REQUEST}/comments")
    );
    for request in &requests {
        assert_eq!(request.headers["authorization"], format!("Bearer {TOKEN}"));
        assert_eq!(request.headers["accept"], "application/vnd.github+json");
        assert_eq!(request.headers["x-github-api-version"], "2022-11-28");
        assert!(request.headers["user-agent"].starts_with("clawops/"));
    }
    assert_eq!(
        requests[1].comment_body(),
        format!("{MARKDOWN_MARKER}\n**Plan: 1 to create.**\n")
    );
}

#[test]
fn the_plan_comment_on_a_later_page_is_edited_in_place() {
    let first_page: Vec<_> = (1..=100)
        .map(|id| comment(id, "octocat", &format!("review note {id}")))
        .collect();
    let second_page = vec![
        comment(
            101,
            "someone",
            &format!("> {MARKDOWN_MARKER}\n> quoting the bot is not the bot"),
        ),
        comment(
            202,
            "github-actions[bot]",
            &format!("{MARKDOWN_MARKER}\nold plan"),
        ),
        comment(303, "octocat", "another note"),
    ];
    let server = FakeGithub::start(vec![first_page, second_page]);
    let (_folder, body) = body_file("**Plan: 2 to recreate.**\n");
    let (stdout, _) = run(comment_command(&server, &event_fixture(), &body), 0);

    assert!(
        stdout
            .starts_with("updated comment https://github.com/acme/fleet/pull/42#issuecomment-202"),
        "{stdout}"
    );
    let methods: Vec<String> = server
        .requests()
        .iter()
        .map(|request| request.method.clone())
        .collect();
    assert_eq!(
        methods,
        ["GET", "GET", "GET", "PATCH"],
        "no POST, no other edit"
    );
    let gets = server.requests_of("GET");
    assert!(
        gets[1].path.ends_with("per_page=100&page=2"),
        "{}",
        gets[1].path
    );
    assert_eq!(gets[2].path, "/user", "the author is checked");
    let patch = &server.requests_of("PATCH")[0];
    assert_eq!(
        patch.path,
        format!("/repos/{REPOSITORY}/issues/comments/202")
    );
    assert_eq!(
        patch.comment_body(),
        format!("{MARKDOWN_MARKER}\n**Plan: 2 to recreate.**\n"),
        "the marker is added when the body lacks it"
    );
}

/// The paths of the requests with `method`.
fn paths_of(server: &FakeGithub, method: &str) -> Vec<String> {
    server
        .requests_of(method)
        .into_iter()
        .map(|request| request.path)
        .collect()
}

#[test]
fn a_comment_with_the_marker_by_someone_else_is_never_edited() {
    let forged = comment(
        5,
        "mallory",
        &format!(
            "{MARKDOWN_MARKER}
No changes, merge it"
        ),
    );
    let ours = comment(
        6,
        "github-actions[bot]",
        &format!(
            "{MARKDOWN_MARKER}
old"
        ),
    );
    let server = FakeGithub::start(vec![vec![forged.clone(), ours]]);
    let (_folder, body) = body_file("**Plan: 1 to create.**\n");
    let (stdout, _) = run(comment_command(&server, &event_fixture(), &body), 0);
    assert!(stdout.contains("#issuecomment-6"), "{stdout}");
    assert_eq!(
        paths_of(&server, "PATCH"),
        [format!("/repos/{REPOSITORY}/issues/comments/6")]
    );

    let server = FakeGithub::start(vec![vec![forged]]);
    let (stdout, _) = run(comment_command(&server, &event_fixture(), &body), 0);
    assert!(stdout.starts_with("created comment"), "{stdout}");
    assert!(paths_of(&server, "PATCH").is_empty(), "mallory's is left");
    assert_eq!(server.requests_of("POST").len(), 1);
}

#[test]
fn a_user_token_edits_the_comment_of_its_own_login_only() {
    let bots = comment(
        7,
        "github-actions[bot]",
        &format!(
            "{MARKDOWN_MARKER}
old"
        ),
    );
    let own = comment(
        8,
        "Clawops-CI",
        &format!(
            "{MARKDOWN_MARKER}
old"
        ),
    );
    let server = FakeGithub::with_identity(
        vec![vec![bots, own]],
        Identity::User("clawops-ci".to_owned()),
    );
    let (_folder, body) = body_file("plan");
    run(comment_command(&server, &event_fixture(), &body), 0);
    assert_eq!(
        paths_of(&server, "PATCH"),
        [format!("/repos/{REPOSITORY}/issues/comments/8")]
    );
    assert_eq!(
        paths_of(&server, "GET")
            .iter()
            .filter(|p| *p == "/user")
            .count(),
        1
    );
}

#[test]
fn an_identity_that_cannot_be_learned_writes_nothing() {
    let marked = comment(
        9,
        "github-actions[bot]",
        &format!(
            "{MARKDOWN_MARKER}
old"
        ),
    );
    let server = FakeGithub::with_identity(vec![vec![marked]], Identity::Failing(500));
    let (_folder, body) = body_file("plan");
    let (_, stderr) = run(comment_command(&server, &event_fixture(), &body), 1);
    assert!(
        stderr.contains("asking GitHub whose token this is failed: GitHub answered 500"),
        "{stderr}"
    );
    assert!(server.requests_of("PATCH").is_empty());
    assert!(server.requests_of("POST").is_empty());
}

#[test]
fn secret_looking_values_in_the_body_are_scrubbed() {
    let server = FakeGithub::start(vec![Vec::new()]);
    let (_folder, body) = body_file(&format!(
        "{MARKDOWN_MARKER}\nclawops plan failed:\n  OPENAI_API_KEY: sk-live-PLANTED1\n  \
         DB_PASSWORD=\"PLANTED2\"\n  the token {TOKEN}\n  LOG_LEVEL: debug\n"
    ));
    run(comment_command(&server, &event_fixture(), &body), 0);
    let posted = server.requests_of("POST")[0].comment_body();
    assert!(
        !posted.contains("PLANTED"),
        "a secret was posted:\n{posted}"
    );
    assert!(!posted.contains(TOKEN), "the token was posted:\n{posted}");
    assert!(posted.contains("OPENAI_API_KEY: ***"), "{posted}");
    assert!(posted.contains("LOG_LEVEL: debug"), "{posted}");
}

#[test]
fn assignments_nested_in_other_values_are_scrubbed() {
    let server = FakeGithub::start(vec![Vec::new()]);
    let (_folder, body) = body_file(&format!(
        "{MARKDOWN_MARKER}\n```text\n  env: {{API_TOKEN: PLANTED1, LOG: info}}\n  \
         args: [--env=SECRET_KEY=PLANTED2, --password=PLANTED3]\n  \
         {{\"env\":{{\"DB_PASSWORD\":\"PLANTED4\"}}}}\n```\n"
    ));
    run(comment_command(&server, &event_fixture(), &body), 0);
    let posted = server.requests_of("POST")[0].comment_body();
    assert!(
        !posted.contains("PLANTED"),
        "a secret was posted:\n{posted}"
    );
    assert!(posted.contains("{API_TOKEN: ***, LOG: info}"), "{posted}");
}

#[test]
fn a_body_over_the_limit_is_cut_with_a_note() {
    let server = FakeGithub::start(vec![Vec::new()]);
    let long: String = (0..5_000)
        .map(|index| format!("| agent-{index} | recreated because its image changed |\n"))
        .collect();
    let (_folder, body) = body_file(&format!("{MARKDOWN_MARKER}\n{long}"));
    run(comment_command(&server, &event_fixture(), &body), 0);
    let posted = server.requests_of("POST")[0].comment_body();
    assert!(
        posted.chars().count() <= 65_536,
        "{} characters",
        posted.len()
    );
    assert!(posted.starts_with(MARKDOWN_MARKER));
    assert!(posted.contains("This comment was cut"), "the cut is said");
}

#[test]
fn a_refused_token_names_the_step_and_status_without_the_token() {
    let server = FakeGithub::failing(401, "Bad credentials for {authorization}");
    let (_folder, body) = body_file("plan");
    let (stdout, stderr) = run(comment_command(&server, &event_fixture(), &body), 1);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("listing the pull request's comments failed: GitHub answered 401"),
        "{stderr}"
    );
    assert!(stderr.contains("Bad credentials"), "{stderr}");
    assert_eq!(
        server.requests().len(),
        1,
        "nothing is posted after a failure"
    );
}

#[test]
fn a_server_error_on_create_names_the_step_and_status() {
    let server = FakeGithub::failing(500, "Server Error");
    let (_folder, body) = body_file("plan");
    let (_, stderr) = run(comment_command(&server, &event_fixture(), &body), 1);
    assert!(
        stderr.contains("GitHub answered 500: Server Error"),
        "{stderr}"
    );
}

#[test]
fn a_missing_variable_or_a_non_pull_request_event_is_a_clear_error() {
    let server = FakeGithub::start(vec![Vec::new()]);
    let (folder, body) = body_file("plan");
    for variable in ["GITHUB_TOKEN", "GITHUB_REPOSITORY", "GITHUB_EVENT_PATH"] {
        let mut command = comment_command(&server, &event_fixture(), &body);
        command.env_remove(variable);
        let (_, stderr) = run(command, 1);
        assert!(
            stderr.contains(&format!("the environment variable {variable} is not set")),
            "{stderr}"
        );
    }
    let push_event = folder.path().join("push.json");
    std::fs::write(&push_event, r#"{"ref": "refs/heads/main", "after": "abc"}"#)
        .expect("write event");
    let (_, stderr) = run(comment_command(&server, &push_event, &body), 1);
    assert!(stderr.contains("names no pull request"), "{stderr}");
    let (_, stderr) = run(
        comment_command(&server, &folder.path().join("absent.json"), &body),
        1,
    );
    assert!(
        stderr.contains("could not read the event payload"),
        "{stderr}"
    );
    assert!(server.requests().is_empty(), "no request without settings");
}

#[test]
fn a_markdown_plan_of_a_pull_request_is_posted_with_its_marker() {
    let repository = Repo::new("fleet");
    repository.copy_folder(&example("hiclaw-fleet"), "");
    let base = repository.commit("the fleet");
    let worker = repository.path().join("workers/scout.yaml");
    let text = std::fs::read_to_string(&worker).expect("read worker");
    assert!(
        text.contains("You watch upstream projects"),
        "the example worker has a soul"
    );
    let changed = text.replace(
        "You watch upstream projects",
        "You watch upstream repositories",
    );
    std::fs::write(&worker, changed).expect("write worker");
    let head = repository.commit("change the fleet");

    let output = clawops()
        .args([
            "plan", "--format", "markdown", "--base", &base, "--rev", &head,
        ])
        .arg(repository.path())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let markdown = String::from_utf8(output).expect("UTF-8 markdown");
    let (_folder, body) = body_file(&markdown);
    let server = FakeGithub::start(vec![Vec::new()]);
    run(comment_command(&server, &event_fixture(), &body), 0);

    let posted = server.requests_of("POST")[0].comment_body();
    assert!(posted.starts_with(MARKDOWN_MARKER), "{posted}");
    assert_eq!(posted.matches(MARKDOWN_MARKER).count(), 1);
    assert_eq!(posted, markdown, "a plan is posted as rendered");
    assert!(posted.contains("Plan: "), "{posted}");
}

#[test]
fn a_hostile_commit_subject_is_posted_inert() {
    let repository = Repo::new("fleet");
    repository.copy_folder(&example("hiclaw-fleet"), "");
    let base = repository.commit("the fleet");
    let worker = repository.path().join("workers/scout.yaml");
    let text = std::fs::read_to_string(&worker).expect("read worker");
    let changed = text.replace(
        "You watch upstream projects",
        "You watch upstream repositories",
    );
    assert_ne!(text, changed, "the example worker has a soul");
    std::fs::write(&worker, changed).expect("write worker");
    let head = repository.commit(
        "Fix [login](https://evil.example/phish) ![pixel](https://evil.example/p.png) \
         cc @acme/admins <img src=x> **now** \\[x](y)",
    );
    let output = clawops()
        .args([
            "plan", "--format", "markdown", "--base", &base, "--rev", &head,
        ])
        .arg(repository.path())
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let (_folder, body) = body_file(&String::from_utf8(output).expect("UTF-8"));
    let server = FakeGithub::start(vec![Vec::new()]);
    run(comment_command(&server, &event_fixture(), &body), 0);
    let posted = server.requests_of("POST")[0].comment_body();

    assert!(
        posted.contains(
            "Fix [login&#93;(https://evil.example/phish) \
             ![pixel&#93;(https://evil.example/p.png) cc @\u{200d}acme/admins \
             &lt;img src=x&gt; **now** &#92;[x&#93;(y)"
        ),
        "the subject is shown as text:\n{posted}"
    );
    for live in ["](", "@acme", "<img", "\\["] {
        assert!(!posted.contains(live), "{live} is live:\n{posted}");
    }
}
