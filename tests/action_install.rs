//! The GitHub Action's install step with a `version`: action.yml's "Install clawops" step
//! (its `run:` and `env:`, as the runner would give them) runs the real
//! `scripts/github-action/install.sh` against a release served over HTTP on 127.0.0.1:
//! a tarball holding a copy of the clawops binary built for these tests, and its
//! SHA256SUMS. A stand-in `cargo` first on PATH records any build from source (the
//! fallback) and installs a copy of the same binary.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use sha2::Digest;

const ACTION: &str = "action.yml";
const VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"));
const REPOSITORY: &str = "acme/clawops";
const SERVER_URL: &str = "https://github.invalid";

fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn action() -> Value {
    let text = std::fs::read_to_string(project_root().join(ACTION)).expect("read action.yml");
    serde_saphyr::from_str(&text).expect("action.yml parses")
}

fn step(action: &Value, name: &str) -> Value {
    action["runs"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|step| step["name"] == name)
        .unwrap_or_else(|| panic!("action.yml has no step {name}"))
        .clone()
}

/// The Rust target the release names the archive of this machine after.
fn host_target() -> String {
    format!("{}-unknown-linux-gnu", std::env::consts::ARCH)
}

fn archive_name(version: &str) -> String {
    format!("clawops-{version}-{}.tar.gz", host_target())
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The release archive of the binary these tests built (`clawops` at its root), made once
/// per run of this test binary: compressing a debug build takes a while. It is kept in
/// cargo's temp folder for integration tests under one name, replaced by each run (written
/// aside, then renamed, so runs at the same time never see half an archive).
fn shared_archive() -> &'static Path {
    static ARCHIVE: OnceLock<PathBuf> = OnceLock::new();
    ARCHIVE.get_or_init(|| {
        let folder = Path::new(env!("CARGO_TARGET_TMPDIR")).join("action_install");
        std::fs::create_dir_all(&folder).expect("mkdir");
        let staging = tempfile::Builder::new()
            .prefix("staging-")
            .tempdir_in(&folder)
            .expect("temp dir");
        std::fs::copy(
            env!("CARGO_BIN_EXE_clawops"),
            staging.path().join("clawops"),
        )
        .expect("copy the binary");
        let partial = staging.path().join("archive.tar.gz");
        let tar = Command::new("tar")
            .args(["--use-compress-program", "gzip -1", "-cf"])
            .arg(&partial)
            .arg("-C")
            .arg(staging.path())
            .arg("clawops")
            .status()
            .expect("tar runs");
        assert!(tar.success(), "tar made the archive");
        let archive = folder.join(archive_name(VERSION));
        std::fs::rename(&partial, &archive).expect("rename the archive");
        archive
    })
}

/// Files served over HTTP on 127.0.0.1 from a folder, every request path recorded; the
/// server stops when dropped.
struct ReleaseServer {
    address: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Clone)]
struct Served {
    root: PathBuf,
    requests: Arc<Mutex<Vec<String>>>,
}

async fn serve_file(State(served): State<Served>, uri: Uri) -> Response {
    let path = uri.path().to_owned();
    served.requests.lock().expect("lock").push(path.clone());
    let relative = path.trim_start_matches('/');
    if relative
        .split('/')
        .any(|part| part == ".." || part.is_empty())
    {
        return StatusCode::NOT_FOUND.into_response();
    }
    match std::fs::read(served.root.join(relative)) {
        Ok(bytes) => bytes.into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

impl ReleaseServer {
    fn start(root: &Path) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).expect("non-blocking");
        let address = listener.local_addr().expect("address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let served = Served {
            root: root.to_owned(),
            requests: Arc::clone(&requests),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let app = axum::Router::new().fallback(serve_file).with_state(served);
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .expect("serve");
            });
        });
        Self {
            address,
            requests,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("lock").clone()
    }
}

impl Drop for ReleaseServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One run of the install step: a temp folder (removed when dropped) holding the release
/// to serve, the runner's temp folder, GITHUB_PATH, and the stand-in `cargo`.
struct Case {
    temp: tempfile::TempDir,
}

impl Case {
    fn new(name: &str) -> Self {
        let temp = tempfile::Builder::new()
            .prefix(&format!("clawops-action-install-{name}-"))
            .tempdir()
            .expect("temp dir");
        for folder in ["release", "runner", "home", "tmp", "stubs"] {
            std::fs::create_dir_all(temp.path().join(folder)).expect("mkdir");
        }
        let stub = format!(
            "#!/bin/sh\n\
             printf '%s\\n' \"$@\" > '{record}'\n\
             root=''\n\
             while [ $# -gt 0 ]; do\n\
             \x20 if [ \"$1\" = --root ]; then root=\"$2\"; fi\n\
             \x20 shift\n\
             done\n\
             mkdir -p \"$root/bin\"\n\
             cp '{binary}' \"$root/bin/clawops\"\n",
            record = temp.path().join("cargo-args").display(),
            binary = env!("CARGO_BIN_EXE_clawops"),
        );
        let cargo = temp.path().join("stubs/cargo");
        std::fs::write(&cargo, stub).expect("write stub");
        let mut permissions = std::fs::metadata(&cargo).expect("stat").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
        std::fs::set_permissions(&cargo, permissions).expect("chmod");
        Self { temp }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.temp.path().join(relative)
    }

    /// Where the step installs a release (`CLAWOPS_INSTALL_ROOT`, as action.yml sets it).
    fn install_root(&self) -> PathBuf {
        self.path("runner/clawops-install")
    }

    fn installed(&self) -> PathBuf {
        self.install_root().join("bin/clawops")
    }

    /// A release `version` made of a tarball with the real binary, and a SHA256SUMS; the
    /// bytes of the archive.
    fn publish(&self, version: &str) -> Vec<u8> {
        let folder = self.path("release").join(version);
        std::fs::create_dir_all(&folder).expect("mkdir release");
        let archive = folder.join(archive_name(version));
        let shared = shared_archive();
        if std::fs::hard_link(shared, &archive).is_err() {
            std::fs::copy(shared, &archive).expect("copy the archive");
        }
        let bytes = std::fs::read(&archive).expect("read archive");
        self.write_sums(
            version,
            &format!(
                "{}  {}\n{}  clawops-{version}-riscv64gc-unknown-linux-gnu.tar.gz\n",
                sha256_hex(&bytes),
                archive_name(version),
                "0".repeat(64)
            ),
        );
        bytes
    }

    fn write_sums(&self, version: &str, text: &str) {
        let folder = self.path("release").join(version);
        std::fs::create_dir_all(&folder).expect("mkdir release");
        std::fs::write(folder.join("SHA256SUMS"), text).expect("write SHA256SUMS");
    }

    /// The value of an expression of action.yml, as the runner would give it.
    fn expression(&self, expression: &str, version: &str) -> String {
        match expression {
            "inputs.version" => version.to_owned(),
            "github.action_repository" => REPOSITORY.to_owned(),
            "github.action_path" => project_root().display().to_string(),
            "github.server_url" => SERVER_URL.to_owned(),
            "runner.temp" => self.path("runner").display().to_string(),
            other => panic!("the test does not know ${{{{ {other} }}}}"),
        }
    }

    fn substitute(&self, text: &str, version: &str) -> String {
        let mut result = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            let end = rest[start..].find("}}").expect("a closed expression") + start;
            result.push_str(&rest[..start]);
            result.push_str(&self.expression(rest[start + 3..end].trim(), version));
            rest = &rest[end + 2..];
        }
        result.push_str(rest);
        result
    }

    /// Runs action.yml's install step for `version`, downloading from `base_url`: bash in
    /// the step's working directory with the step's `env:`, the runner's variables, and a
    /// PATH that starts with the stand-in `cargo`.
    fn install(&self, version: &str, base_url: &str) -> Output {
        let step = step(&action(), "Install clawops");
        let directory = self.substitute(
            step["working-directory"]
                .as_str()
                .expect("working-directory"),
            version,
        );
        let script = step["run"].as_str().expect("a script");
        let mut command = support::runner_step(script, Path::new(&directory), &self.path("stubs"));
        command
            .env("HOME", self.path("home"))
            .env("TMPDIR", self.path("tmp"))
            .env("GITHUB_ACTION_PATH", project_root())
            .env("RUNNER_TEMP", self.path("runner"))
            .env("GITHUB_PATH", self.path("github_path"))
            .env("CLAWOPS_RELEASE_BASE_URL", base_url);
        for (key, value) in step["env"].as_object().expect("env") {
            let value = value.as_str().expect("a string");
            command.env(key, self.substitute(value, version));
        }
        command.output().expect("bash runs")
    }

    fn github_path(&self) -> String {
        std::fs::read_to_string(self.path("github_path")).unwrap_or_default()
    }

    fn cargo_args(&self) -> Option<Vec<String>> {
        std::fs::read_to_string(self.path("cargo-args"))
            .ok()
            .map(|text| text.lines().map(str::to_owned).collect())
    }

    /// Nothing the script downloaded is left behind in TMPDIR.
    fn assert_no_leftovers(&self) {
        let left: Vec<_> = std::fs::read_dir(self.path("tmp"))
            .expect("read tmp")
            .map(|entry| entry.expect("entry").file_name())
            .collect();
        assert!(left.is_empty(), "left in TMPDIR: {left:?}");
    }
}

fn log(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn version_of(binary: &Path) -> String {
    let output = Command::new(binary)
        .arg("--version")
        .output()
        .expect("the installed binary runs");
    assert!(output.status.success());
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[test]
fn a_release_is_downloaded_checked_and_put_on_the_path() {
    let case = Case::new("good");
    case.publish(VERSION);
    let server = ReleaseServer::start(&case.path("release"));

    let output = case.install(VERSION, &server.base_url());
    assert!(output.status.success(), "{}", log(&output));

    let expected = format!("clawops {}", env!("CARGO_PKG_VERSION"));
    assert_eq!(version_of(&case.installed()), expected);
    let bin = case.install_root().join("bin");
    assert_eq!(case.github_path(), format!("{}\n", bin.display()));
    assert_eq!(
        server.requests(),
        vec![
            format!("/{VERSION}/{}", archive_name(VERSION)),
            format!("/{VERSION}/SHA256SUMS"),
        ]
    );
    assert_eq!(case.cargo_args(), None, "nothing was built");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("as SHA256SUMS lists"), "{}", log(&output));
    // The installed clawops runs from the folder GITHUB_PATH names, alone on PATH.
    let run = Command::new("clawops")
        .arg("--version")
        .env("PATH", &bin)
        .output()
        .expect("clawops on the new PATH");
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), expected);
    case.assert_no_leftovers();
}

#[test]
fn a_release_without_the_archive_falls_back_to_building_the_tag() {
    let case = Case::new("missing");
    // The release exists (with its checksums) but has no archive for this machine.
    case.write_sums(
        VERSION,
        &format!(
            "{}  clawops-{VERSION}-riscv64gc-unknown-linux-gnu.tar.gz\n",
            "0".repeat(64)
        ),
    );
    let server = ReleaseServer::start(&case.path("release"));

    let output = case.install(VERSION, &server.base_url());
    assert!(output.status.success(), "{}", log(&output));

    let root = case.install_root().display().to_string();
    let git = format!("{SERVER_URL}/{REPOSITORY}");
    assert_eq!(
        case.cargo_args().expect("cargo was run"),
        [
            "install",
            "--locked",
            "--no-default-features",
            "--force",
            "--root",
            &root,
            "--git",
            &git,
            "--tag",
            VERSION,
            "clawops",
        ]
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("::warning::") && stdout.contains("404"),
        "a warning says why:\n{}",
        log(&output)
    );
    assert_eq!(
        server.requests(),
        vec![format!("/{VERSION}/{}", archive_name(VERSION))]
    );
    assert!(case.installed().is_file());
    assert_eq!(
        case.github_path(),
        format!("{}\n", case.install_root().join("bin").display())
    );
    case.assert_no_leftovers();
}

#[test]
fn a_checksum_that_does_not_match_fails_without_installing_or_building() {
    let case = Case::new("bad-checksum");
    let bytes = case.publish(VERSION);
    let mut wrong = sha256_hex(&bytes).into_bytes();
    wrong[0] = if wrong[0] == b'0' { b'1' } else { b'0' };
    let wrong = String::from_utf8(wrong).expect("hex");
    case.write_sums(VERSION, &format!("{wrong}  {}\n", archive_name(VERSION)));
    let server = ReleaseServer::start(&case.path("release"));

    let output = case.install(VERSION, &server.base_url());
    assert!(!output.status.success(), "{}", log(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("::error::checksum mismatch") && stdout.contains(&wrong),
        "{}",
        log(&output)
    );
    assert!(!case.installed().exists(), "nothing installed");
    assert!(!case.install_root().exists(), "not even the install folder");
    assert_eq!(case.cargo_args(), None, "no fallback to a build");
    assert_eq!(case.github_path(), "", "nothing added to the PATH");
    assert_eq!(server.requests().len(), 2, "{:?}", server.requests());
    case.assert_no_leftovers();
}

#[test]
fn an_archive_that_sha256sums_does_not_list_is_refused() {
    let case = Case::new("unlisted");
    let bytes = case.publish(VERSION);
    // The right hash, under another name.
    case.write_sums(
        VERSION,
        &format!(
            "{}  clawops-{VERSION}-riscv64gc-unknown-linux-gnu.tar.gz\n",
            sha256_hex(&bytes)
        ),
    );
    let server = ReleaseServer::start(&case.path("release"));

    let output = case.install(VERSION, &server.base_url());
    assert!(!output.status.success(), "{}", log(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("::error::SHA256SUMS") && stdout.contains("does not list"),
        "{}",
        log(&output)
    );
    assert!(!case.installed().exists());
    assert_eq!(case.cargo_args(), None);
    assert_eq!(case.github_path(), "");
}

#[test]
fn a_release_without_sha256sums_is_refused() {
    let case = Case::new("no-sums");
    case.publish(VERSION);
    std::fs::remove_file(case.path("release").join(VERSION).join("SHA256SUMS")).expect("rm");
    let server = ReleaseServer::start(&case.path("release"));

    let output = case.install(VERSION, &server.base_url());
    assert!(!output.status.success(), "{}", log(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("::error::"), "{}", log(&output));
    assert!(!case.installed().exists());
    assert_eq!(case.cargo_args(), None);
}

#[test]
fn a_cached_binary_of_the_version_is_used_without_any_request() {
    let case = Case::new("cached");
    case.publish(VERSION);
    // What actions/cache restores: the bin folder of an earlier run.
    std::fs::create_dir_all(case.install_root().join("bin")).expect("mkdir");
    std::fs::copy(env!("CARGO_BIN_EXE_clawops"), case.installed()).expect("copy");
    let server = ReleaseServer::start(&case.path("release"));

    let output = case.install(VERSION, &server.base_url());
    assert!(output.status.success(), "{}", log(&output));
    assert_eq!(server.requests(), Vec::<String>::new(), "no request made");
    assert_eq!(case.cargo_args(), None);
    assert_eq!(
        case.github_path(),
        format!("{}\n", case.install_root().join("bin").display())
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("from the cache"), "{}", log(&output));
}

#[test]
fn a_cached_binary_of_another_version_is_replaced_by_the_release() {
    let case = Case::new("stale-cache");
    case.publish(VERSION);
    std::fs::create_dir_all(case.install_root().join("bin")).expect("mkdir");
    std::fs::write(case.installed(), "#!/bin/sh\necho 'clawops 0.0.1'\n")
        .expect("write stale binary");
    let mut permissions = std::fs::metadata(case.installed())
        .expect("stat")
        .permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(case.installed(), permissions).expect("chmod");
    let server = ReleaseServer::start(&case.path("release"));

    let output = case.install(VERSION, &server.base_url());
    assert!(output.status.success(), "{}", log(&output));
    assert_eq!(server.requests().len(), 2, "{:?}", server.requests());
    assert_eq!(
        version_of(&case.installed()),
        format!("clawops {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn a_release_binary_that_reports_another_version_is_installed_with_a_warning() {
    let case = Case::new("other-version");
    case.publish("v9.9.9");
    let server = ReleaseServer::start(&case.path("release"));

    let output = case.install("v9.9.9", &server.base_url());
    assert!(output.status.success(), "{}", log(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("::warning::") && stdout.contains("not 'clawops 9.9.9'"),
        "{}",
        log(&output)
    );
    assert!(case.installed().is_file());
    assert_eq!(case.cargo_args(), None);
}

#[test]
fn a_version_that_is_not_a_tag_is_refused_before_any_request() {
    let case = Case::new("bad-version");
    let server = ReleaseServer::start(&case.path("release"));
    let output = case.install("../../etc", &server.base_url());
    assert!(!output.status.success(), "{}", log(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("::error::"),
        "{}",
        log(&output)
    );
    assert_eq!(server.requests(), Vec::<String>::new());
    assert_eq!(case.cargo_args(), None);
}

#[test]
fn the_action_caches_the_folder_the_script_installs_into() {
    let action = action();
    let steps = action["runs"]["steps"].as_array().expect("steps");
    let cache_index = steps
        .iter()
        .position(|step| {
            step["uses"]
                .as_str()
                .is_some_and(|uses| uses.starts_with("actions/cache@"))
        })
        .expect("an actions/cache step");
    let install_index = steps
        .iter()
        .position(|step| step["name"] == "Install clawops")
        .expect("the install step");
    assert!(cache_index < install_index, "restored before the install");
    let cache = &steps[cache_index];
    let install = &steps[install_index];
    assert_eq!(cache["if"], "inputs.version != ''");
    let root = install["env"]["CLAWOPS_INSTALL_ROOT"]
        .as_str()
        .expect("CLAWOPS_INSTALL_ROOT");
    assert_eq!(cache["with"]["path"], format!("{root}/bin"));
    let key = cache["with"]["key"].as_str().expect("a cache key");
    for part in ["inputs.version", "runner.os", "runner.arch"] {
        assert!(key.contains(part), "the key {key} lacks {part}");
    }
    let uses = cache["uses"].as_str().expect("uses");
    let (_, pin) = uses.split_once('@').expect("pinned");
    assert!(
        pin.len() == 40 && pin.chars().all(|c| c.is_ascii_hexdigit()),
        "{uses} is pinned by a full commit id"
    );
    assert_eq!(
        install["run"],
        "bash \"$GITHUB_ACTION_PATH/scripts/github-action/install.sh\""
    );
}

/// The release workflow's steps, run here as a runner would (bash, the step's `env:`), with
/// a stand-in `gh` that keeps the release in a folder: what the build jobs pack and upload
/// and the publish job sums is what the action's install step accepts, and what the image
/// job downloads and checks.
mod release_workflow {
    use super::*;

    const RELEASE: &str = ".github/workflows/release.yml";

    fn workflow() -> Value {
        let text =
            std::fs::read_to_string(project_root().join(RELEASE)).expect("read the workflow");
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
        let mut command = super::support::runner_step(script, directory, &case.path("stubs"));
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
}
