//! The GitHub Action: `action.yml` declares the inputs and outputs the docs promise, its
//! scripts take inputs through `env:` only, the example workflow is pinned and minimal,
//! both pass zizmor, and the plan script sets the
//! outputs from a real plan.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::{Repo, example, project_root};

const ACTION: &str = "action.yml";
const WORKFLOW: &str = "examples/github-workflow/clawops-plan.yml";
const PLAN_SCRIPT: &str = "scripts/github-action/plan.sh";

fn yaml(relative: &str) -> Value {
    let text = std::fs::read_to_string(project_root().join(relative)).expect("read YAML");
    serde_saphyr::from_str(&text).unwrap_or_else(|error| panic!("{relative}: {error}"))
}

/// Every `run:` script of a list of steps.
fn run_scripts(steps: &Value) -> Vec<String> {
    steps
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|step| step["run"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn the_action_declares_its_inputs_and_outputs() {
    let action = yaml(ACTION);
    let inputs = &action["inputs"];
    for (name, default) in [
        ("path", "."),
        ("version", ""),
        ("comment", "true"),
        ("token", "${{ github.token }}"),
        ("fail-on-invalid", "true"),
    ] {
        assert_eq!(inputs[name]["default"], default, "input {name}");
        assert!(inputs[name]["description"].is_string(), "input {name}");
    }
    assert_eq!(action["runs"]["using"], "composite");
    let script = std::fs::read_to_string(project_root().join(PLAN_SCRIPT)).expect("script");
    for name in [
        "has-changes",
        "summary",
        "plan-json",
        "plan-markdown",
        "exit-code",
    ] {
        let output = &action["outputs"][name];
        assert_eq!(
            output["value"],
            format!("${{{{ steps.plan.outputs.{name} }}}}"),
            "output {name}"
        );
        assert!(script.contains(&format!("echo \"{name}=")), "{name} is set");
    }
}

#[test]
fn scripts_take_inputs_through_the_environment_only() {
    let action = yaml(ACTION);
    let workflow = yaml(WORKFLOW);
    let mut scripts = run_scripts(&action["runs"]["steps"]);
    for job in workflow["jobs"].as_object().expect("jobs").values() {
        scripts.extend(run_scripts(&job["steps"]));
    }
    assert!(scripts.len() >= 4, "{scripts:?}");
    for script in scripts {
        assert!(
            !script.contains("${{"),
            "an expression inside a run script:\n{script}"
        );
    }
    let referenced = action["runs"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|step| step["run"].as_str())
        .any(|run| run.contains(PLAN_SCRIPT));
    assert!(referenced, "the plan step runs {PLAN_SCRIPT}");
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(project_root().join(PLAN_SCRIPT))
        .status()
        .expect("bash runs");
    assert!(syntax.success(), "{PLAN_SCRIPT} parses");
}

#[test]
fn the_example_workflow_is_pinned_and_minimal() {
    let workflow = yaml(WORKFLOW);
    assert!(
        workflow["on"].get("pull_request").is_some(),
        "runs on pull_request"
    );
    assert_eq!(workflow["permissions"], serde_json::json!({}));
    let job = &workflow["jobs"]["plan"];
    assert_eq!(
        job["permissions"],
        serde_json::json!({ "contents": "read", "pull-requests": "write" })
    );
    let steps = job["steps"].as_array().expect("steps");
    let text = std::fs::read_to_string(project_root().join(WORKFLOW)).expect("workflow");
    for step in steps.iter().filter(|step| step["uses"].is_string()) {
        let uses = step["uses"].as_str().expect("uses");
        let (_, reference) = uses.split_once('@').expect("a pinned reference");
        assert!(
            reference.len() == 40 && reference.chars().all(|c| c.is_ascii_hexdigit()),
            "{uses} is not pinned by a full commit id"
        );
        let line = text
            .lines()
            .find(|line| line.contains(uses))
            .expect("the line");
        assert!(line.contains("# v"), "{uses} has no version comment");
    }
    let checkout = steps
        .iter()
        .find(|step| {
            step["uses"]
                .as_str()
                .is_some_and(|uses| uses.starts_with("actions/checkout@"))
        })
        .expect("a checkout step");
    assert_eq!(checkout["with"]["persist-credentials"], false);
}

/// A linter from the venv `.ci/run` makes, or from PATH; `None` (with a note) when absent
/// outside CI; a failure when absent in CI.
#[allow(
    clippy::print_stderr,
    reason = "a check that cannot run says so on stderr; under CI it fails instead"
)]
fn linter(name: &str) -> Option<PathBuf> {
    let venv = project_root().join(".ci/.venv/bin").join(name);
    if venv.is_file() {
        return Some(venv);
    }
    let on_path = Command::new(name).arg("--version").output().is_ok();
    if on_path {
        return Some(PathBuf::from(name));
    }
    let in_ci = std::env::var_os("CI").is_some_and(|value| !value.is_empty());
    assert!(
        !in_ci,
        "{name} is not installed; .ci/run installs it into .ci/.venv"
    );
    eprintln!("note: {name} is not installed; skipping its check (.ci/run installs it)");
    None
}

fn assert_passes(mut command: Command, what: &str) {
    let output = command
        .current_dir(project_root())
        .output()
        .expect("linter runs");
    assert!(
        output.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn zizmor_finds_nothing_in_the_action_or_the_example() {
    let Some(zizmor) = linter("zizmor") else {
        return;
    };
    let mut command = Command::new(zizmor);
    command
        .args(["--offline", "--no-progress", "--strict-collection"])
        .args(["--persona", "pedantic", ACTION, WORKFLOW]);
    assert_passes(command, "zizmor");
}

/// Runs the plan script as the action does, with `clawops` on PATH; returns its outputs.
fn run_plan_script(repository: &Repo, base: &str, head: &str, output: &Path) -> Vec<String> {
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_clawops"));
    let path = format!(
        "{}:{}",
        binary.parent().expect("bin folder").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let outputs = output.join("outputs.txt");
    let result = Command::new("bash")
        .arg(project_root().join(PLAN_SCRIPT))
        .current_dir(repository.path())
        .env("PATH", path)
        .env("EVENT_NAME", "pull_request")
        .env("BASE_SHA", base)
        .env("HEAD_SHA", head)
        .env("FLEET_PATH", "fleet")
        .env("FETCH_TOKEN", "unused")
        .env("SERVER_URL", "https://github.com")
        .env("OUTPUT_DIR", output.join("plan"))
        .env("GITHUB_OUTPUT", &outputs)
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .expect("bash runs");
    assert!(
        result.status.success(),
        "the plan step never fails by itself:\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    std::fs::read_to_string(outputs)
        .expect("outputs written")
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_plan_script_sets_the_outputs_and_reports_an_invalid_head() {
    let repository = Repo::new("fleet-repo");
    repository.copy_folder(&example("hiclaw-fleet"), "fleet");
    let base = repository.commit("the fleet");
    let worker = repository.path().join("fleet/workers/scout.yaml");
    let text = std::fs::read_to_string(&worker).expect("read worker");
    let changed = text.replace(
        "You watch upstream projects",
        "You watch upstream repositories",
    );
    assert_ne!(text, changed, "the example worker has a soul");
    std::fs::write(&worker, changed).expect("write");
    let head = repository.commit("a new soul for scout");
    let first = tempfile::tempdir().expect("temp dir");

    let outputs = run_plan_script(&repository, &base, &head, first.path());
    assert_eq!(outputs[0], "exit-code=2");
    assert_eq!(outputs[1], "has-changes=true");
    assert!(outputs[2].starts_with("summary=Plan: "), "{outputs:?}");
    let plan_json = outputs[3].strip_prefix("plan-json=").expect("plan-json");
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(plan_json).expect("plan")).expect("JSON");
    assert_eq!(plan["format"], "clawops.plan/v1");

    std::fs::write(&worker, "kind: Worker\nspec: [\n").expect("break the worker");
    let broken = repository.commit("a broken worker");
    let second = tempfile::tempdir().expect("temp dir");
    let outputs = run_plan_script(&repository, &head, &broken, second.path());
    assert_eq!(outputs[0], "exit-code=1");
    assert_eq!(outputs[1], "has-changes=false");
    assert_eq!(outputs[3], "plan-json=");
    let markdown_path = outputs[4].strip_prefix("plan-markdown=").expect("markdown");
    let markdown = std::fs::read_to_string(markdown_path).expect("comment body");
    assert!(
        markdown.starts_with(clawops::render::MARKDOWN_MARKER),
        "{markdown}"
    );
    assert!(markdown.contains("**clawops plan failed**"), "{markdown}");
    assert!(markdown.contains("workers/scout.yaml"), "{markdown}");
}
