//! The release workflow's steps, run here as a runner would (bash, the step's `env:`), with
//! a stand-in `gh` that keeps the release in a folder: what the build jobs pack and upload
//! and the publish job sums is what the action's install step accepts, and what the image
//! job downloads and checks.

mod release_support;
mod support;

use std::path::Path;
use std::process::{Command, Output};

use release_support::*;
use serde_json::Value;

const RELEASE: &str = ".github/workflows/release.yml";

fn workflow() -> Value {
    let text = std::fs::read_to_string(project_root().join(RELEASE)).expect("read the workflow");
    serde_saphyr::from_str(&text).expect("the workflow parses")
}

fn job_step(workflow: &Value, job: &str, name: &str) -> Value {
    workflow["jobs"][job]["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("no job {job}"))
        .iter()
        .find(|step| step["name"] == name)
        .unwrap_or_else(|| panic!("job {job} has no step {name}"))
        .clone()
}

/// The `include` entries of a job's matrix.
fn matrix(workflow: &Value, job: &str) -> Vec<Value> {
    workflow["jobs"][job]["strategy"]["matrix"]["include"]
        .as_array()
        .unwrap_or_else(|| panic!("job {job} has no matrix"))
        .clone()
}

/// A stand-in for `gh release …`: the release of tag T is the folder `<release>/T`.
fn stub_gh(case: &Case) {
    let script = format!(
        r#"#!/usr/bin/env bash
set -euo pipefail
release='{release}'
echo "gh $*" >>'{log}'
[ "$1" = release ] || exit 3
verb="$2" tag="$3"
shift 3
case "$verb" in
  download)
dir=. patterns=()
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir="$2"; shift 2 ;;
    --pattern) patterns+=("$2"); shift 2 ;;
    *) exit 3 ;;
  esac
done
mkdir -p "$dir"
for pattern in "${{patterns[@]}}"; do
  for file in "$release/$tag"/$pattern; do
    [ -f "$file" ] && cp "$file" "$dir/"
  done
done
;;
  upload)
for file in "$@"; do
  case "$file" in --*) ;; *) cp "$file" "$release/$tag/" ;; esac
done
;;
  edit) ;;
  *) exit 3 ;;
esac
"#,
        release = case.path("release").display(),
        log = case.path("gh-log").display(),
    );
    let gh = case.path("stubs/gh");
    std::fs::write(&gh, script).expect("write gh");
    let mut permissions = std::fs::metadata(&gh).expect("stat").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&gh, permissions).expect("chmod");
}

/// Runs a workflow step in `directory` with `values` for its expressions.
fn run_step(case: &Case, step: &Value, directory: &Path, values: &[(&str, &str)]) -> Output {
    let substitute = |text: &str| {
        let mut result = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            let end = rest[start..].find("}}").expect("a closed expression") + start;
            let expression = rest[start + 3..end].trim();
            let value = values
                .iter()
                .find(|(name, _)| *name == expression)
                .unwrap_or_else(|| panic!("the test does not know ${{{{ {expression} }}}}"));
            result.push_str(&rest[..start]);
            result.push_str(value.1);
            rest = &rest[end + 2..];
        }
        result.push_str(rest);
        result
    };
    std::fs::create_dir_all(directory).expect("mkdir");
    let script = step["run"].as_str().expect("a script");
    let mut command = support::runner_step(script, directory, &case.path("stubs"));
    command
        .env("HOME", case.path("home"))
        .env("GITHUB_PATH", case.path("workflow_github_path"));
    for (key, value) in step["env"].as_object().into_iter().flatten() {
        command.env(key, substitute(value.as_str().expect("a string")));
    }
    let output = command.output().expect("bash runs");
    assert!(
        output.status.success(),
        "step {}:\n{}",
        step["name"],
        log(&output)
    );
    output
}

#[test]
fn what_the_release_workflow_publishes_is_what_the_action_installs() {
    let case = Case::new("release-workflow");
    stub_gh(&case);
    let workflow = workflow();
    std::fs::create_dir_all(case.path("release").join(VERSION)).expect("mkdir");
    let checkout = case.path("checkout");
    let common = [
        ("github.token", "ghs_not_a_real_token"),
        ("github.repository", REPOSITORY),
        ("github.ref_name", VERSION),
    ];

    // Each build job packs its binary (here: the real one for this machine's target, a
    // stand-in for the others) and uploads the archive.
    let targets: Vec<String> = matrix(&workflow, "build")
        .iter()
        .map(|entry| entry["target"].as_str().expect("target").to_owned())
        .collect();
    assert!(targets.contains(&host_target()), "{targets:?}");
    for target in &targets {
        let binary = checkout.join(format!("target/{target}/release/clawops"));
        std::fs::create_dir_all(binary.parent().expect("folder")).expect("mkdir");
        if *target == host_target() {
            std::fs::copy(env!("CARGO_BIN_EXE_clawops"), &binary).expect("copy");
        } else {
            std::fs::write(&binary, "#!/bin/sh\necho 'clawops for another machine'\n")
                .expect("write");
        }
        let mut values = common.to_vec();
        values.push(("matrix.target", target));
        for name in ["Pack the archive", "Upload the archive to the release"] {
            run_step(
                &case,
                &job_step(&workflow, "build", name),
                &checkout,
                &values,
            );
        }
    }
    // The publish job sums the archives.
    run_step(
        &case,
        &job_step(
            &workflow,
            "publish",
            "Write SHA256SUMS over the archives and publish",
        ),
        &case.path("publish"),
        &common,
    );
    let sums = std::fs::read_to_string(case.path("release").join(VERSION).join("SHA256SUMS"))
        .expect("SHA256SUMS uploaded");
    assert_eq!(sums.lines().count(), targets.len(), "{sums}");

    // The action installs this machine's archive from that release.
    let server = ReleaseServer::start(&case.path("release"));
    let output = case.install(VERSION, &server.base_url());
    assert!(output.status.success(), "{}", log(&output));
    assert_eq!(
        version_of(&case.installed()),
        format!("clawops {}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(case.cargo_args(), None, "nothing was built");

    // The image job downloads the same archive, checks it and unpacks the binary.
    let image = matrix(&workflow, "image")
        .into_iter()
        .find(|entry| entry["target"] == host_target())
        .expect("an image for this machine's target");
    let mut values = common.to_vec();
    values.push(("matrix.target", image["target"].as_str().expect("target")));
    let context = case.path("image");
    let step = job_step(
        &workflow,
        "image",
        "Download the release binary and check it against SHA256SUMS",
    );
    let checked = run_step(&case, &step, &context, &values);
    assert!(
        String::from_utf8_lossy(&checked.stdout).contains(": OK"),
        "{}",
        log(&checked)
    );
    assert_eq!(
        sha256_hex(&std::fs::read(context.join("dist/clawops")).expect("dist/clawops")),
        sha256_hex(&std::fs::read(env!("CARGO_BIN_EXE_clawops")).expect("binary")),
        "the image gets the release binary"
    );

    // A tampered archive stops the image job.
    let archive = case
        .path("release")
        .join(VERSION)
        .join(archive_name(VERSION));
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&archive)
        .expect("open");
    std::io::Write::write_all(&mut file, b"tampered").expect("append");
    drop(file);
    std::fs::remove_dir_all(&context).expect("clean");
    std::fs::create_dir_all(&context).expect("mkdir");
    let mut command = Command::new("bash");
    command
        .args(["-c", step["run"].as_str().expect("script")])
        .current_dir(&context)
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin", case.path("stubs").display()),
        )
        .env("GH_TOKEN", "x")
        .env("GH_REPO", REPOSITORY)
        .env("TARGET", host_target())
        .env("TAG", VERSION);
    let refused = command.output().expect("bash runs");
    assert!(!refused.status.success(), "{}", log(&refused));
    assert!(!context.join("dist/clawops").exists());
}
