//! `clawops validate` end to end: the examples from folders and from git revisions, the
//! report formats and exit codes.

mod support;

use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;
use serde_json::Value;
use support::{Repo, clawops, example, project_root};

#[test]
fn the_examples_validate_from_their_folders() {
    for name in ["hiclaw-fleet", "multi-region-content-sync"] {
        clawops()
            .arg("validate")
            .arg(example(name))
            .assert()
            .success()
            .stdout(contains("valid:"));
    }
}

#[test]
fn the_examples_validate_from_a_git_repository_at_a_revision() {
    let repository = Repo::new("fleet");
    repository.copy_folder(&example("hiclaw-fleet"), "fleet");
    repository.copy_folder(&example("multi-region-content-sync"), "pilot");
    let good = repository.commit("both examples");
    repository.write(
        "fleet/teams/broken.yaml",
        "apiVersion: hiclaw.io/v1beta1\nkind: Team\nmetadata: {name: broken}\nspec: {}\n",
    );
    repository.commit("a broken team");

    for subfolder in ["fleet", "pilot"] {
        clawops()
            .args(["validate", "--rev", &good, "--path", subfolder])
            .arg(repository.path())
            .assert()
            .success()
            .stdout(contains(&good[..12]));
    }
    clawops()
        .args(["validate", "--path", "fleet"])
        .arg(repository.path())
        .assert()
        .code(1)
        .stdout(contains("fleet/teams/broken.yaml:4:7"))
        .stdout(contains("missing required field `leader`"));
}

#[test]
fn the_work_tree_is_ignored_unless_asked_for() {
    let repository = Repo::new("fleet");
    repository.copy_folder(&example("hiclaw-fleet"), "");
    repository.commit("fleet");
    repository.write(
        "teams/draft.yaml",
        "apiVersion: hiclaw.io/v1beta1\nkind: Team\n",
    );
    clawops()
        .arg("validate")
        .arg(repository.path())
        .assert()
        .success();
    clawops()
        .args(["validate", "--worktree"])
        .arg(repository.path())
        .assert()
        .code(1)
        .stdout(contains("teams/draft.yaml"));
}

#[test]
fn json_reports_list_every_problem_with_its_location() {
    let output = clawops()
        .args(["validate", "--format", "json"])
        .arg(project_root().join("tests/fixtures/invalid/unknown-human"))
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let report: Value = serde_json::from_slice(&output).expect("json report");
    assert_eq!(report["valid"], Value::Bool(false));
    let diagnostics: Vec<&Value> = report["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .filter(|diagnostic| diagnostic["severity"] == "error")
        .collect();
    assert_eq!(diagnostics.len(), 2);
    let first = &diagnostics[0];
    assert_eq!(first["code"], "unknown-human");
    assert_eq!(first["severity"], "error");
    assert_eq!(first["file"], "team.yaml");
    assert_eq!(first["line"], 7);
    assert_eq!(first["column"], 11);
    assert_eq!(first["message"], "admin `alcie` names no Human");
    assert_eq!(first["help"], "did you mean `alice`?");
}

#[test]
fn a_valid_json_report_is_valid_and_empty() {
    let fleet = tempfile::tempdir().expect("folder");
    std::fs::write(
        fleet.path().join("worker.yaml"),
        "apiVersion: hiclaw.io/v1beta1\nkind: Worker\nmetadata: {name: plain}\nspec: {model: m}\n",
    )
    .expect("worker.yaml");
    let output = clawops()
        .args(["validate", "--format", "json"])
        .arg(fleet.path())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let report: Value = serde_json::from_slice(&output).expect("json report");
    assert_eq!(
        report,
        serde_json::json!({"valid": true, "diagnostics": []})
    );
}

#[test]
fn the_text_report_shows_the_source_line_and_the_hint() {
    clawops()
        .arg("validate")
        .arg(project_root().join("tests/fixtures/invalid/unknown-field"))
        .assert()
        .code(1)
        .stdout(contains("worker.yaml:6:3: unknown field `modle`"))
        .stdout(contains("  modle: a"))
        .stdout(contains("did you mean `model`?"))
        .stdout(contains("invalid: 1 error(s)"));
}

#[test]
fn an_unreadable_source_is_a_clear_error() {
    clawops()
        .args(["validate", "/nonexistent/clawops-fleet"])
        .assert()
        .code(1)
        .stderr(contains("does not exist"));
    clawops()
        .args(["validate", "--rev", "main"])
        .arg(example("hiclaw-fleet"))
        .assert()
        .code(1)
        .stderr(contains("--rev needs a git repository"));
}

#[test]
fn yaml_one_one_scalars_stay_strings() {
    let repository = Repo::new("fleet");
    repository.write(
        "worker.yaml",
        "apiVersion: hiclaw.io/v1beta1\nkind: Worker\nmetadata: {name: w}\nspec:\n  model: m\n  env: {A: yes, B: 0755, C: 1_000, D: on}\n  containerManaged: yes\n",
    );
    repository.commit("yes is not a boolean");
    clawops()
        .args(["validate", "--format", "json"])
        .arg(repository.path())
        .assert()
        .code(1)
        .stdout(contains("\"line\": 7"))
        .stdout(contains("invalid boolean"));
}

#[test]
fn validate_checks_what_the_target_can_realize() {
    let home = tempfile::tempdir().expect("folder");
    let fleet = home.path().join("fleet");
    support::copy_recursively(&example("hiclaw-fleet"), &fleet);
    // On docker (the example's backend) a Human reaches no agent: a warning, still valid.
    clawops()
        .args(["validate", "--format", "json"])
        .arg(&fleet)
        .assert()
        .success()
        .stdout(contains("needs-hiclaw-controller"));
    // A PilotSetup cannot go to a HiClaw controller: `--backend hiclaw` makes it an error.
    let pilot = example("multi-region-content-sync");
    clawops()
        .args(["validate", "--backend", "hiclaw"])
        .arg(&pilot)
        .assert()
        .failure()
        .stdout(contains("unsupported-kind"));
    // The REST transport would drop `env`: an error at its key, from `clawops.toml` alone.
    let config = fleet.join("clawops.toml");
    let text = std::fs::read_to_string(&config).expect("clawops.toml");
    let text = text.replace(
        "backend = \"docker\"",
        "backend = \"hiclaw\"\n\n[hiclaw]\ntransport = \"rest\"",
    );
    std::fs::write(&config, text).expect("write clawops.toml");
    clawops()
        .arg("validate")
        .arg(&fleet)
        .assert()
        .failure()
        .stdout(contains("rest-drops-field"))
        .stdout(contains("workers/scout.yaml:14:5"));
}

#[test]
fn many_warnings_of_one_code_are_shown_five_and_counted() {
    let fleet = tempfile::tempdir().expect("folder");
    let workers: String = (0..8)
        .map(|index| {
            format!(
                "apiVersion: hiclaw.io/v1beta1\nkind: Worker\nmetadata:\n  name: w{index}\nspec:\n  model: m\n  skills: [web-search]\n---\n"
            )
        })
        .collect();
    std::fs::write(fleet.path().join("workers.yaml"), workers).expect("write");
    let output = clawops()
        .args(["validate", "--backend", "docker"])
        .arg(fleet.path())
        .output()
        .expect("runs");
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(text.matches("help: deploy with").count(), 5, "{text}");
    assert!(
        text.contains("3 more warning(s) like the 5 above"),
        "{text}"
    );
    assert!(text.contains("8 warning(s)"), "{text}");
    // The JSON report lists every one.
    let json = clawops()
        .args(["validate", "--backend", "docker", "--format", "json"])
        .arg(fleet.path())
        .output()
        .expect("runs");
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(report["diagnostics"].as_array().map(Vec::len), Some(8));
}

#[test]
fn clawopsignore_leaves_out_other_yaml_from_the_same_revision() {
    let repository = Repo::new("fleet");
    repository.copy_folder(&example("hiclaw-fleet"), "");
    repository.write(
        "ci/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n",
    );
    repository.commit("a kustomization beside the fleet");
    clawops()
        .arg("validate")
        .arg(repository.path())
        .assert()
        .code(1)
        .stdout(contains("unknown-kind").and(contains(".clawopsignore")));

    // Ignored in the work tree only: the commit is still read as it is.
    repository.write(".clawopsignore", "# not fleet files\nci/\n");
    clawops()
        .arg("validate")
        .arg(repository.path())
        .assert()
        .code(1);
    clawops()
        .args(["validate", "--worktree"])
        .arg(repository.path())
        .assert()
        .success();
    repository.commit("ignore the CI folder");
    clawops()
        .arg("validate")
        .arg(repository.path())
        .assert()
        .success();
}
