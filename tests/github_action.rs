//! The GitHub Action: `action.yml` declares the inputs and outputs the docs promise, its
//! scripts take inputs through `env:` only, the example workflow and the repository's own
//! workflows are pinned and minimal, all pass zizmor and actionlint (the scripts
//! shellcheck), the steps (run here as the runner runs them) never execute anything of
//! the pull request's checkout (a hostile rust-toolchain.toml and .cargo/config.toml),
//! the plan step sets the outputs from a real plan, and what it shows on GitHub is
//! scrubbed. The install step with a release `version` is tested in `action_install.rs`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::{Repo, clawops, copy_recursively, example, project_root};

const ACTION: &str = "action.yml";
const WORKFLOW: &str = "examples/github-workflow/clawops-plan.yml";
const PLAN_SCRIPT: &str = "scripts/github-action/plan.sh";
const INSTALL_SCRIPT: &str = "scripts/github-action/install.sh";
/// The repository's own workflows (the release and CI).
const OWN_WORKFLOWS: [&str; 2] = [".github/workflows/release.yml", ".github/workflows/ci.yml"];

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
    for script in [PLAN_SCRIPT, INSTALL_SCRIPT] {
        let referenced = action["runs"]["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .filter_map(|step| step["run"].as_str())
            .any(|run| run.contains(script));
        assert!(referenced, "a step runs {script}");
        let syntax = Command::new("bash")
            .arg("-n")
            .arg(project_root().join(script))
            .status()
            .expect("bash runs");
        assert!(syntax.success(), "{script} parses");
    }
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
fn zizmor_finds_nothing_in_the_action_or_the_workflows() {
    let Some(zizmor) = linter("zizmor") else {
        return;
    };
    let mut command = Command::new(zizmor);
    command
        .args(["--offline", "--no-progress", "--strict-collection"])
        .args(["--persona", "pedantic", ACTION, WORKFLOW])
        .args(OWN_WORKFLOWS);
    assert_passes(command, "zizmor");
}

/// actionlint checks the workflows (expressions, job graph, runner labels, and the
/// `run:` scripts through shellcheck, which must be on its PATH for that).
#[test]
fn actionlint_finds_nothing_in_the_workflows() {
    let Some(actionlint) = linter("actionlint") else {
        return;
    };
    let Some(shellcheck) = linter("shellcheck") else {
        return;
    };
    let mut command = Command::new(actionlint);
    command
        .arg("-shellcheck")
        .arg(shellcheck)
        .args(["-no-color", WORKFLOW])
        .args(OWN_WORKFLOWS);
    assert_passes(command, "actionlint");
}

#[test]
fn shellcheck_finds_nothing_in_the_action_scripts() {
    let Some(shellcheck) = linter("shellcheck") else {
        return;
    };
    let mut command = Command::new(shellcheck);
    command.args([PLAN_SCRIPT, INSTALL_SCRIPT]);
    assert_passes(command, "shellcheck");
}

#[test]
fn the_repositorys_workflows_are_pinned_and_least_privileged() {
    for relative in OWN_WORKFLOWS {
        let workflow = yaml(relative);
        let text = std::fs::read_to_string(project_root().join(relative)).expect("workflow");
        assert_eq!(
            workflow["permissions"],
            serde_json::json!({}),
            "{relative}: nothing granted at the top"
        );
        for (name, job) in workflow["jobs"].as_object().expect("jobs") {
            assert!(
                job["permissions"].is_object(),
                "{relative}: job {name} names its permissions"
            );
            for step in job["steps"].as_array().into_iter().flatten() {
                let Some(uses) = step["uses"].as_str() else {
                    continue;
                };
                assert!(
                    uses.starts_with("actions/checkout@"),
                    "{relative}: {uses} (only actions/checkout is used)"
                );
                let (_, reference) = uses.split_once('@').expect("a pinned reference");
                assert!(
                    reference.len() == 40 && reference.chars().all(|c| c.is_ascii_hexdigit()),
                    "{relative}: {uses} is not pinned by a full commit id"
                );
                let line = text
                    .lines()
                    .find(|line| line.contains(uses))
                    .expect("the line");
                assert!(line.contains("# v"), "{uses} has no version comment");
                assert_eq!(
                    step["with"]["persist-credentials"], false,
                    "{relative}: {name} keeps no credentials"
                );
            }
        }
    }
    let release = yaml(OWN_WORKFLOWS[0]);
    let tags = &release["on"]["push"]["tags"];
    assert_eq!(tags, &serde_json::json!(["v*"]), "releases on v* tags");
    for relative in OWN_WORKFLOWS {
        let workflow = yaml(relative);
        let mut scripts = Vec::new();
        for job in workflow["jobs"].as_object().expect("jobs").values() {
            scripts.extend(run_scripts(&job["steps"]));
        }
        for script in scripts {
            assert!(
                !script.contains("${{"),
                "an expression inside a run script:\n{script}"
            );
        }
    }
}

/// A runner for the action's steps: a temp folder, the pull request's checkout, and the
/// action's own folder (a copy of the plan script and, for the install step, a tiny crate
/// called clawops that builds in a second, so the real toolchain resolution is exercised).
struct Runner {
    temp: tempfile::TempDir,
    workspace: PathBuf,
    base: String,
    head: String,
}

impl Runner {
    fn new(repository: &Repo, base: &str, head: &str) -> Self {
        let temp = tempfile::tempdir().expect("temp dir");
        let action = temp.path().join("action");
        for relative in [PLAN_SCRIPT, INSTALL_SCRIPT] {
            let script = action.join(relative);
            std::fs::create_dir_all(script.parent().expect("folder")).expect("mkdir");
            std::fs::copy(project_root().join(relative), &script).expect("copy script");
        }
        std::fs::create_dir_all(action.join("src")).expect("mkdir src");
        std::fs::write(
            action.join("Cargo.toml"),
            "[package]\nname = \"clawops\"\nversion = \"0.0.0\"\nedition = \"2021\"\n",
        )
        .expect("manifest");
        std::fs::write(
            action.join("Cargo.lock"),
            "version = 4\n\n[[package]]\nname = \"clawops\"\nversion = \"0.0.0\"\n",
        )
        .expect("lock");
        std::fs::write(action.join("src/main.rs"), "fn main() {}\n").expect("main");
        std::fs::create_dir_all(temp.path().join("runner")).expect("runner temp");
        Self {
            temp,
            workspace: repository.path().to_owned(),
            base: base.to_owned(),
            head: head.to_owned(),
        }
    }

    fn runner_temp(&self) -> PathBuf {
        self.temp.path().join("runner")
    }

    fn outputs(&self) -> PathBuf {
        self.temp.path().join("outputs.txt")
    }

    fn summary(&self) -> PathBuf {
        self.temp.path().join("summary.md")
    }

    /// The value of an expression of action.yml, as the runner would give it.
    fn expression(&self, expression: &str) -> String {
        let path = |path: PathBuf| path.display().to_string();
        match expression {
            "inputs.version" | "github.action_repository" => String::new(),
            "inputs.path" => "fleet".to_owned(),
            "inputs.token" => "ghs_T0KEN_of_the_action_run_12345".to_owned(),
            "github.action_path" => path(self.temp.path().join("action")),
            "github.server_url" => "https://github.com".to_owned(),
            "github.event_name" => "pull_request".to_owned(),
            "github.event.pull_request.base.sha" => self.base.clone(),
            "github.event.pull_request.head.sha" => self.head.clone(),
            "github.workspace" => path(self.workspace.clone()),
            "runner.temp" => path(self.runner_temp()),
            other => panic!("the test runner does not know ${{{{ {other} }}}}"),
        }
    }

    /// `text` with every `${{ … }}` replaced.
    fn substitute(&self, text: &str) -> String {
        let mut result = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            let end = rest[start..].find("}}").expect("a closed expression") + start;
            result.push_str(&rest[..start]);
            result.push_str(&self.expression(rest[start + 3..end].trim()));
            rest = &rest[end + 2..];
        }
        result.push_str(rest);
        result
    }

    /// Runs the `run:` script of the step called `name` as the runner does: bash in the
    /// step's working directory with the step's `env:` and the runner's variables, and
    /// nothing of this test's environment but PATH (the built clawops first) and HOME.
    fn run_step(&self, name: &str) -> std::process::Output {
        let action = yaml(ACTION);
        let step = action["runs"]["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .find(|step| step["name"] == name)
            .unwrap_or_else(|| panic!("no step {name}"));
        // The runner's default is the workspace: the pull request's checkout.
        let directory = step["working-directory"].as_str().map_or_else(
            || self.workspace.clone(),
            |folder| self.substitute(folder).into(),
        );
        let binary = PathBuf::from(env!("CARGO_BIN_EXE_clawops"));
        let script = step["run"].as_str().expect("a script");
        let bin_folder = binary.parent().expect("bin folder");
        let mut command = support::runner_step(script, &directory, bin_folder);
        command
            .env("HOME", std::env::var_os("HOME").unwrap_or_default())
            .env("CARGO_INSTALL_ROOT", self.temp.path().join("installed"))
            .env("GITHUB_ACTION_PATH", self.expression("github.action_path"))
            .env("GITHUB_WORKSPACE", &self.workspace)
            .env("RUNNER_TEMP", self.runner_temp())
            .env("GITHUB_OUTPUT", self.outputs())
            .env("GITHUB_STEP_SUMMARY", self.summary());
        for variable in ["RUSTUP_HOME", "CARGO_HOME"] {
            if let Some(value) = std::env::var_os(variable) {
                command.env(variable, value);
            }
        }
        if let Some(env) = step["env"].as_object() {
            for (key, value) in env {
                let value = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned);
                command.env(key, self.substitute(&value));
            }
        }
        command.output().expect("bash runs")
    }

    /// Runs the plan step, which never fails by itself; returns its outputs.
    fn plan(&self) -> Vec<String> {
        let result = self.run_step("Plan");
        assert!(
            result.status.success(),
            "the plan step never fails by itself:\n{}",
            String::from_utf8_lossy(&result.stderr)
        );
        std::fs::read_to_string(self.outputs())
            .expect("outputs written")
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// Runs the plan step on `base..head` of `repository`; returns its outputs.
fn run_plan_script(repository: &Repo, base: &str, head: &str, output: &Path) -> Vec<String> {
    let runner = Runner::new(repository, base, head);
    let outputs = runner.plan();
    let kept = output.join("plan");
    copy_recursively(&runner.runner_temp().join("clawops-plan"), &kept);
    let old = runner
        .runner_temp()
        .join("clawops-plan")
        .display()
        .to_string();
    let new = kept.display().to_string();
    outputs
        .into_iter()
        .map(|line| line.replace(&old, &new))
        .collect()
}

/// A hostile pull request: a rust-toolchain.toml whose toolchain, and a
/// .cargo/config.toml whose rustc wrapper, write `marker` when run.
fn plant_a_hostile_toolchain(repository: &Repo, marker: &Path) {
    let evil = repository.path().join("evil");
    let script = format!(
        "#!/bin/sh\necho \"$0 $*\" >> '{}'\nexit 1\n",
        marker.display()
    );
    for tool in ["bin/cargo", "bin/rustc", "wrapper"] {
        repository.write(&format!("evil/{tool}"), &script);
        let path = evil.join(tool);
        let mut permissions = std::fs::metadata(&path).expect("metadata").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
        std::fs::set_permissions(&path, permissions).expect("chmod");
    }
    repository.write(
        "rust-toolchain.toml",
        format!("[toolchain]\npath = \"{}\"\n", evil.display()),
    );
    repository.write(
        ".cargo/config.toml",
        format!(
            "[build]\nrustc-wrapper = \"{}\"\n",
            evil.join("wrapper").display()
        ),
    );
}

/// A pull request changing scout's soul in the example fleet under `fleet/`.
fn soul_change(repository: &Repo) -> (String, String) {
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
    (base, repository.commit("a new soul for scout"))
}

#[test]
fn every_step_runs_outside_the_pull_requests_checkout() {
    let action = yaml(ACTION);
    let steps = action["runs"]["steps"].as_array().expect("steps");
    for step in steps {
        if let Some(uses) = step["uses"].as_str() {
            // An action step runs no script (and takes no working-directory); the only one
            // is the cache, which restores a folder of the runner's temp folder.
            assert!(uses.starts_with("actions/cache@"), "{uses}");
            let path = step["with"]["path"].as_str().expect("a cache path");
            assert!(path.starts_with("${{ runner.temp }}/"), "{path}");
            continue;
        }
        assert_eq!(
            step["working-directory"], "${{ runner.temp }}",
            "step {} runs in the checkout",
            step["name"]
        );
    }
    let install = steps
        .iter()
        .find(|step| step["name"] == "Install clawops")
        .expect("the install step");
    assert_eq!(
        install["env"]["RUSTUP_TOOLCHAIN"], "stable",
        "an explicit toolchain"
    );
}

#[test]
fn the_install_and_plan_steps_never_run_the_pull_requests_toolchain() {
    let repository = Repo::new("hostile-pr");
    let (base, _) = soul_change(&repository);
    let runner_marker = tempfile::tempdir().expect("temp dir");
    let marker = runner_marker.path().join("ran");
    plant_a_hostile_toolchain(&repository, &marker);
    let head = repository.commit("a new soul, and a toolchain of our own");
    let runner = Runner::new(&repository, &base, &head);

    let install = runner.run_step("Install clawops");
    let ran = || std::fs::read_to_string(&marker).unwrap_or_default();
    assert!(
        !marker.exists(),
        "the pull request's toolchain ran:\n{}",
        ran()
    );
    assert!(
        install.status.success(),
        "the install step builds the action's own source:\n{}",
        String::from_utf8_lossy(&install.stderr)
    );
    assert!(
        runner.temp.path().join("installed/bin/clawops").is_file(),
        "installed from the action's folder"
    );
    let outputs = runner.plan();
    assert_eq!(outputs[0], "exit-code=2", "{outputs:?}");
    assert!(
        !marker.exists(),
        "the pull request's toolchain ran:\n{}",
        ran()
    );
}

#[test]
fn what_the_plan_step_shows_on_github_is_scrubbed() {
    let repository = Repo::new("leaky-pr");
    let (base, _) = soul_change(&repository);
    repository.write(
        "fleet/workers/scout.yaml",
        "kind: Worker\nmetadata: {name: scout}\nspec:\n  env: {API_TOKEN: PLANTED-1, DEBUG: x\n  \
         args: [--db, SECRET_KEY=PLANTED-2]\n  [\n",
    );
    let head = repository.commit("a leaky, broken worker");
    let direct = clawops()
        .args(["plan", "--base", &base, "--rev", &head, "--path", "fleet"])
        .arg(repository.path())
        .output()
        .expect("clawops runs");
    let raw = String::from_utf8_lossy(&direct.stderr);
    assert!(
        raw.contains("PLANTED-1"),
        "the error quotes the line:\n{raw}"
    );

    let runner = Runner::new(&repository, &base, &head);
    let result = runner.run_step("Plan");
    assert!(result.status.success());
    let outputs: Vec<String> = std::fs::read_to_string(runner.outputs())
        .expect("outputs")
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(outputs[0], "exit-code=1", "{outputs:?}");
    let body_path = outputs[4].strip_prefix("plan-markdown=").expect("markdown");
    let body = std::fs::read_to_string(body_path).expect("body");
    let summary = std::fs::read_to_string(runner.summary()).expect("job summary");
    let log = String::from_utf8_lossy(&result.stderr).into_owned();
    for (what, text) in [
        ("comment body", &body),
        ("job summary", &summary),
        ("log", &log),
    ] {
        assert!(!text.contains("PLANTED"), "a secret in the {what}:\n{text}");
        assert!(
            text.contains("workers/scout.yaml"),
            "the {what} says where:\n{text}"
        );
    }
    assert!(summary.contains("API_TOKEN: ***"), "{summary}");
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
