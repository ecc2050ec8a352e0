//! The release the GitHub Action installs from, made and served here: a tarball holding a
//! copy of the clawops binary built for these tests and its SHA256SUMS, an HTTP server on
//! 127.0.0.1 that records every request, and one run of action.yml's install step (a
//! temp folder with the runner's folders and a stand-in `cargo`). Shared by
//! `action_install.rs` and `release_workflow.rs`.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use sha2::Digest;

pub use super::support::project_root;

pub const ACTION: &str = "action.yml";
pub const VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"));
pub const REPOSITORY: &str = "acme/clawops";
pub const SERVER_URL: &str = "https://github.invalid";

pub fn action() -> Value {
    let text = std::fs::read_to_string(project_root().join(ACTION)).expect("read action.yml");
    serde_saphyr::from_str(&text).expect("action.yml parses")
}

pub fn step(action: &Value, name: &str) -> Value {
    action["runs"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|step| step["name"] == name)
        .unwrap_or_else(|| panic!("action.yml has no step {name}"))
        .clone()
}

/// The Rust target the release names the archive of this machine after.
pub fn host_target() -> String {
    format!("{}-unknown-linux-gnu", std::env::consts::ARCH)
}

pub fn archive_name(version: &str) -> String {
    format!("clawops-{version}-{}.tar.gz", host_target())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The release archive of the binary these tests built (`clawops` at its root), made once
/// per run of this test binary: compressing a debug build takes a while. It is kept in
/// cargo's temp folder for integration tests under one name, replaced by each run (written
/// aside, then renamed, so runs at the same time never see half an archive).
pub fn shared_archive() -> &'static Path {
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
pub struct ReleaseServer {
    pub address: SocketAddr,
    pub requests: Arc<Mutex<Vec<String>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Clone)]
pub struct Served {
    pub root: PathBuf,
    pub requests: Arc<Mutex<Vec<String>>>,
}

pub async fn serve_file(State(served): State<Served>, uri: Uri) -> Response {
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
    pub fn start(root: &Path) -> Self {
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

    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn requests(&self) -> Vec<String> {
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
pub struct Case {
    pub temp: tempfile::TempDir,
}

impl Case {
    pub fn new(name: &str) -> Self {
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

    pub fn path(&self, relative: &str) -> PathBuf {
        self.temp.path().join(relative)
    }

    /// Where the step installs a release (`CLAWOPS_INSTALL_ROOT`, as action.yml sets it).
    pub fn install_root(&self) -> PathBuf {
        self.path("runner/clawops-install")
    }

    pub fn installed(&self) -> PathBuf {
        self.install_root().join("bin/clawops")
    }

    /// A release `version` made of a tarball with the real binary, and a SHA256SUMS; the
    /// bytes of the archive.
    pub fn publish(&self, version: &str) -> Vec<u8> {
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

    pub fn write_sums(&self, version: &str, text: &str) {
        let folder = self.path("release").join(version);
        std::fs::create_dir_all(&folder).expect("mkdir release");
        std::fs::write(folder.join("SHA256SUMS"), text).expect("write SHA256SUMS");
    }

    /// The value of an expression of action.yml, as the runner would give it.
    pub fn expression(&self, expression: &str, version: &str) -> String {
        match expression {
            "inputs.version" => version.to_owned(),
            "github.action_repository" => REPOSITORY.to_owned(),
            "github.action_path" => project_root().display().to_string(),
            "github.server_url" => SERVER_URL.to_owned(),
            "runner.temp" => self.path("runner").display().to_string(),
            other => panic!("the test does not know ${{{{ {other} }}}}"),
        }
    }

    pub fn substitute(&self, text: &str, version: &str) -> String {
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
    pub fn install(&self, version: &str, base_url: &str) -> Output {
        let step = step(&action(), "Install clawops");
        let directory = self.substitute(
            step["working-directory"]
                .as_str()
                .expect("working-directory"),
            version,
        );
        let script = step["run"].as_str().expect("a script");
        let mut command =
            super::support::runner_step(script, Path::new(&directory), &self.path("stubs"));
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

    pub fn github_path(&self) -> String {
        std::fs::read_to_string(self.path("github_path")).unwrap_or_default()
    }

    pub fn cargo_args(&self) -> Option<Vec<String>> {
        std::fs::read_to_string(self.path("cargo-args"))
            .ok()
            .map(|text| text.lines().map(str::to_owned).collect())
    }

    /// Nothing the script downloaded is left behind in TMPDIR.
    pub fn assert_no_leftovers(&self) {
        let left: Vec<_> = std::fs::read_dir(self.path("tmp"))
            .expect("read tmp")
            .map(|entry| entry.expect("entry").file_name())
            .collect();
        assert!(left.is_empty(), "left in TMPDIR: {left:?}");
    }
}

pub fn log(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

pub fn version_of(binary: &Path) -> String {
    let output = Command::new(binary)
        .arg("--version")
        .output()
        .expect("the installed binary runs");
    assert!(output.status.success());
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}
