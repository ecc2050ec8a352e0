//! `clawops plan` end to end: against an empty fleet and against another git revision,
//! the three formats, exit codes, the blast-radius guard, saved plans and secrets.

mod support;

use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;
use serde_json::Value;
use support::{Repo, clawops, example};

fn stdout_of(arguments: &[&str], source: &std::path::Path, code: i32) -> String {
    let output = clawops()
        .args(arguments)
        .arg(source)
        .assert()
        .code(code)
        .get_output()
        .stdout
        .clone();
    String::from_utf8(output).expect("utf-8 output")
}

#[test]
fn the_examples_plan_against_an_empty_fleet() {
    for name in ["hiclaw-fleet", "multi-region-content-sync"] {
        let text = stdout_of(&["plan", "--empty"], &example(name), 0);
        insta::assert_snapshot!(format!("empty_text_{name}"), text);
        let markdown = stdout_of(
            &["plan", "--empty", "--format", "markdown"],
            &example(name),
            0,
        );
        insta::assert_snapshot!(format!("empty_markdown_{name}"), markdown);
    }
}

/// A repository holding the hiclaw-fleet example, committed once.
fn fleet_repository() -> Repo {
    let repository = Repo::new("fleet");
    repository.copy_folder(&example("hiclaw-fleet"), "");
    repository.commit("hiclaw fleet");
    repository
}

fn edit(repository: &Repo, file: &str, from: &str, to: &str) {
    let path = repository.path().join(file);
    let text = std::fs::read_to_string(&path).expect("read file");
    assert!(text.contains(from), "{file} does not contain {from}");
    std::fs::write(path, text.replace(from, to)).expect("write file");
}

#[test]
fn an_image_set_upgrade_recreates_every_agent_that_inherits_it() {
    let repository = fleet_repository();
    edit(
        &repository,
        "images.yaml",
        "hiclaw-worker:v1.1.2",
        "hiclaw-worker:v1.2.0",
    );
    repository.commit("upgrade openclaw agents");
    let text = stdout_of(
        &["plan", "--base", "HEAD~1", "--detailed-exitcode"],
        repository.path(),
        2,
    );
    assert!(
        text.contains(
            "-/+ hiclaw-worker-alpha-dev  recreate: image: …/hiclaw-worker:v1.1.2 → v1.2.0"
        ),
        "{text}"
    );
    assert!(
        text.contains("hiclaw-worker-alpha-qa") && text.contains("stays asleep"),
        "{text}"
    );
    assert!(
        !text.contains("hiclaw-worker-beta-writer"),
        "copaw agents keep their image: {text}"
    );
    assert!(text.contains("Plan: 0 to create, 4 to recreate"), "{text}");
    insta::assert_snapshot!("image_set_upgrade_text", text);
}

#[test]
fn a_soul_change_is_a_hot_push_with_a_diff() {
    let repository = fleet_repository();
    edit(
        &repository,
        "teams/alpha.yaml",
        "You write and refactor code",
        "You write, review and refactor code",
    );
    repository.commit("alpha-dev reviews too");
    let text = stdout_of(&["plan", "--base", "HEAD~1"], repository.path(), 0);
    assert!(
        text.contains(" ~ hiclaw-worker-alpha-dev  update in place: SOUL.md: changed"),
        "{text}"
    );
    assert!(
        text.contains("+You write, review and refactor code for team alpha."),
        "{text}"
    );
    assert!(
        text.contains("-You write and refactor code for team alpha."),
        "{text}"
    );
    assert!(
        text.contains(
            "Plan: 0 to create, 0 to recreate, 1 to update in place, 0 to delete (9 unchanged)."
        ),
        "{text}"
    );
}

#[test]
fn detailed_exit_codes_say_whether_anything_changes() {
    let repository = fleet_repository();
    clawops()
        .args(["plan", "--base", "HEAD", "--detailed-exitcode"])
        .arg(repository.path())
        .assert()
        .code(0)
        .stdout(contains("No changes."));
    clawops()
        .args(["plan", "--empty", "--detailed-exitcode"])
        .arg(repository.path())
        .assert()
        .code(2);
    repository.write(
        "teams/broken.yaml",
        "apiVersion: hiclaw.io/v1beta1\nkind: Team\nmetadata: {name: broken}\nspec: {}\n",
    );
    repository.commit("broken team");
    clawops()
        .args(["plan", "--base", "HEAD~1", "--detailed-exitcode"])
        .arg(repository.path())
        .assert()
        .code(1)
        .stderr(contains("teams/broken.yaml:4:7").and(contains("nothing was planned")));
}

#[test]
fn a_plan_taking_away_most_of_the_fleet_is_refused() {
    let repository = fleet_repository();
    edit(
        &repository,
        "clawops.toml",
        "enabled = false",
        "enabled = true",
    );
    repository.commit("prune on");
    for file in [
        "teams/alpha.yaml",
        "teams/beta.yaml",
        "debug/alpha-debug.yaml",
    ] {
        std::fs::remove_file(repository.path().join(file)).expect("remove file");
    }
    edit(
        &repository,
        "humans/bob.yaml",
        "  accessibleTeams: [alpha]\n",
        "",
    );
    edit(
        &repository,
        "humans/carol.yaml",
        "  accessibleTeams: [beta]\n",
        "",
    );
    repository.commit("drop both teams");
    clawops()
        .args(["plan", "--base", "HEAD~1"])
        .arg(repository.path())
        .assert()
        .code(1)
        .stdout(contains("- 7 agents (hiclaw-worker-alpha-debug … hiclaw-worker-beta-writer)  delete: not managed by git any more"))
        .stderr(contains("refused: this plan takes away 7 of the fleet's 10 agents").and(contains("alpha, beta, debug")));
    clawops()
        .args(["plan", "--base", "HEAD~1", "--allow-mass-delete"])
        .arg(repository.path())
        .assert()
        .code(0);
    clawops()
        .args([
            "plan",
            "--base",
            "HEAD~1",
            "--allow-mass-delete",
            "--detailed-exitcode",
        ])
        .arg(repository.path())
        .assert()
        .code(2);
}

#[test]
fn a_saved_plan_is_the_versioned_json_document() {
    let repository = fleet_repository();
    let head = repository.rev_parse("HEAD");
    let saved = tempfile::NamedTempFile::new().expect("temp file");
    clawops()
        .args(["plan", "--empty", "--out"])
        .arg(saved.path())
        .arg(repository.path())
        .assert()
        .success();
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(saved.path()).expect("saved plan"))
            .expect("json");
    assert_eq!(plan["format"], "clawops.plan/v1");
    assert_eq!(plan["revision"]["commit"], Value::String(head));
    assert_eq!(plan["summary"]["create"], 10);
    assert_eq!(plan["against"]["kind"], "empty");
    let json = stdout_of(
        &["plan", "--empty", "--format", "json"],
        repository.path(),
        0,
    );
    assert_eq!(serde_json::from_str::<Value>(&json).expect("json"), plan);
}

#[test]
fn secrets_never_appear_in_any_format_or_log() {
    let repository = Repo::new("secret-fleet");
    let worker = |token: &str, password: &str, api_key: &str, secret: &str| {
        format!(
            "apiVersion: hiclaw.io/v1beta1\nkind: Worker\nmetadata: {{name: vault}}\nspec:\n  model: m\n  env:\n    GITHUB_TOKEN: {token}\n    DB_PASSWORD: \"{password}\"\n    OPENAI_API_KEY: {api_key}\n    SIGNING: !secret {secret}\n    LOG_LEVEL: info\n"
        )
    };
    repository.write(
        "worker.yaml",
        worker(
            "ghp_before_S3CR3T",
            "pw-before-S3CR3T",
            "sk-before-S3CR3T",
            "vault-before-S3CR3T",
        ),
    );
    repository.commit("worker with secrets");
    repository.write(
        "worker.yaml",
        worker(
            "ghp_after_S3CR3T",
            "pw-after-S3CR3T",
            "sk-after-S3CR3T",
            "vault-after-S3CR3T",
        ),
    );
    repository.commit("rotate every secret");
    let mut seen = String::new();
    for format in ["text", "markdown", "json"] {
        for log_format in ["text", "json"] {
            for against in [&["--base", "HEAD~1"][..], &["--empty"][..]] {
                let output = clawops()
                    .env("CLAWOPS_LOG", "trace")
                    .args(["plan", "--format", format, "--log-format", log_format])
                    .args(against)
                    .arg(repository.path())
                    .assert()
                    .success()
                    .get_output()
                    .clone();
                seen.push_str(&String::from_utf8_lossy(&output.stdout));
                seen.push_str(&String::from_utf8_lossy(&output.stderr));
            }
        }
    }
    assert!(
        seen.contains("(sensitive value changed)"),
        "the change is still reported"
    );
    assert!(seen.contains("planned"), "logs were captured");
    assert!(!seen.contains("S3CR3T"), "a secret leaked:\n{seen}");
}
