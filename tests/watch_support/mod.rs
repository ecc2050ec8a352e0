//! The `clawops watch` harness: a bare repository that commits are pushed to from a
//! second clone, and a running daemon binary with its HTTP status, killed when dropped.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::docker_support::{BASE_IMAGE, docker};
use super::support::git::git;

pub const SECRET: &str = "a webhook secret for the tests";

/// A bare repository, and a clone of it that commits are pushed from.
pub struct Remote {
    _temp: tempfile::TempDir,
    pub bare: PathBuf,
    pub clone: PathBuf,
    pub fleet: String,
}

impl Remote {
    pub fn new(fleet: &str) -> Self {
        let temp = tempfile::tempdir().expect("temp dir");
        let bare = temp.path().join("fleet.git");
        let clone = temp.path().join("clone");
        std::fs::create_dir_all(&bare).expect("bare dir");
        git(&bare, &["init", "-q", "--bare"]);
        git(
            temp.path(),
            &["clone", "-q", &bare.to_string_lossy(), "clone"],
        );
        Self {
            _temp: temp,
            bare,
            clone,
            fleet: fleet.to_owned(),
        }
    }

    /// Where a daemon for this remote keeps its memory.
    pub fn state(&self) -> PathBuf {
        self.bare.with_extension("state.json")
    }

    pub fn url(&self) -> String {
        format!("file://{}", self.bare.display())
    }

    /// Commits a fleet of one worker (`soul`, `image`, health gate settings) and pushes it;
    /// returns the commit id.
    pub fn push_worker(&self, soul: &str, image: &str) -> String {
        self.push_worker_with(soul, image, "")
    }

    /// Like [`Remote::push_worker`], with `extra` appended to `clawops.toml`.
    pub fn push_worker_with(&self, soul: &str, image: &str, extra: &str) -> String {
        let fleet = &self.fleet;
        self.write(
            "clawops.toml",
            &format!(
                "[fleet]\nname = \"{fleet}\"\nprefix = \"{fleet}-\"\n\n[docker]\nnetwork = \"{fleet}-net\"\n\n[rollout]\nhealth_timeout = \"6s\"\non_failure = \"rollback\"\n{extra}"
            ),
        );
        self.write(
            "images.yaml",
            &format!(
                "apiVersion: clawops.dev/v1alpha1\nkind: ImageSet\nmetadata:\n  name: test\nspec:\n  runtimes:\n    openclaw: {image}\n  manager: {BASE_IMAGE}\n  pullPolicy: Never\n"
            ),
        );
        self.write(
            "workers/alpha.yaml",
            &format!(
                "apiVersion: hiclaw.io/v1beta1\nkind: Worker\nmetadata:\n  name: alpha\nspec:\n  model: qwen3.5-plus\n  runtime: openclaw\n  soul: {soul}\n"
            ),
        );
        self.push(soul)
    }

    pub fn write(&self, relative: &str, content: &str) {
        let path = self.clone.join(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("folders");
        std::fs::write(path, content).expect("write");
    }

    pub fn push(&self, subject: &str) -> String {
        git(&self.clone, &["add", "-A"]);
        git(
            &self.clone,
            &["commit", "-q", "--allow-empty", "-m", subject],
        );
        git(&self.clone, &["push", "-q", "origin", "HEAD:main"]);
        git(&self.clone, &["rev-parse", "HEAD"])
    }
}

/// A running `clawops watch`, killed when dropped.
pub struct Watch {
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Watch {
    pub fn start(url: &str, state: &Path, extra: &[&str]) -> Self {
        Self::start_with_env(url, state, extra, &[])
    }

    /// Like [`Watch::start`], with extra environment variables.
    pub fn start_with_env(url: &str, state: &Path, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let secret = state.with_extension("secret");
        std::fs::write(&secret, format!("{SECRET}\n")).expect("secret file");
        Self::start_with_secret_file(url, state, extra, env, &secret)
    }

    /// Like [`Watch::start_with_env`], the webhook secret read from `secret` (which may
    /// not exist).
    pub fn start_with_secret_file(
        url: &str,
        state: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
        secret: &Path,
    ) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("free port")
            .port();
        let log = state.with_extension(format!("{port}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_clawops"))
            .args(["watch", url, "--branch", "main", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--state-file")
            .arg(state)
            .arg("--cache-dir")
            .arg(state.with_extension("cache"))
            .arg("--webhook-secret-file")
            .arg(secret)
            .args(["--log-format", "json"])
            .args(extra)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("clawops watch starts");
        let watch = Self { child, port, log };
        watch.wait_for("the server to answer", Duration::from_secs(20), || {
            watch.get("/healthz").0 == 200
        });
        watch
    }

    /// (status code, body) of a request to the daemon.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String) {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return (0, String::new());
        };
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(body);
        if stream.write_all(request.as_bytes()).is_err() {
            return (0, String::new());
        }
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        let code = response
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default();
        (code, body)
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        self.request("GET", path, &[], "")
    }

    pub fn status(&self) -> serde_json::Value {
        let (code, body) = self.get("/status");
        assert_eq!(code, 200, "GET /status");
        // The body may be chunked: take the JSON object inside.
        let start = body.find('{').expect("JSON in /status");
        let end = body.rfind('}').expect("JSON in /status");
        serde_json::from_str(&body[start..=end]).expect("status JSON")
    }

    pub fn last_applied(&self) -> Option<String> {
        self.status()["last_applied"]["commit"]
            .as_str()
            .map(str::to_owned)
    }

    pub fn failed(&self) -> Vec<(String, String)> {
        self.status()["failed"]
            .as_array()
            .map(|failed| {
                failed
                    .iter()
                    .map(|entry| {
                        (
                            entry["commit"].as_str().unwrap_or_default().to_owned(),
                            entry["reason"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits until the daemon reports `commit` as its last applied commit.
    pub fn wait_applied(&self, what: &str, commit: &str) {
        self.wait_for(what, Duration::from_secs(60), || {
            self.last_applied().as_deref() == Some(commit)
        });
    }

    pub fn wait_for(&self, what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        while !done() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; daemon log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and returns the exit code.
    pub fn terminate(mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A remote with a first commit, and a daemon (polling every second) that applied it.
pub fn following_first_commit(fleet: &str) -> (Remote, Watch, String) {
    let remote = Remote::new(fleet);
    let first = remote.push_worker("first", BASE_IMAGE);
    let watch = Watch::start(&remote.url(), &remote.state(), &["--interval", "1s"]);
    watch.wait_applied("the first commit", &first);
    (remote, watch, first)
}

/// `sha256=<hex>` of `body` with the tests' secret, computed by `openssl`-free means: the
/// same HMAC the daemon checks, from Python's standard library (independent of our code).
pub fn signature(body: &str) -> String {
    let output = Command::new("python3")
        .args([
            "-c",
            "import hmac,hashlib,sys;print(hmac.new(sys.argv[1].encode(),sys.argv[2].encode(),hashlib.sha256).hexdigest())",
            SECRET,
            body,
        ])
        .output()
        .expect("python3 computes the HMAC");
    format!("sha256={}", String::from_utf8_lossy(&output.stdout).trim())
}

pub fn push_event(commit: &str) -> String {
    format!(
        "{{\"ref\":\"refs/heads/main\",\"before\":\"0000000000000000000000000000000000000000\",\"after\":\"{commit}\",\"repository\":{{\"full_name\":\"acme/fleet\"}}}}"
    )
}

pub fn soul_of(container: &str) -> String {
    docker(&[
        "exec",
        container,
        "cat",
        "/root/hiclaw-fs/agents/alpha/SOUL.md",
    ])
    .unwrap_or_default()
}
