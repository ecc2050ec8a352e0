//! Helpers for the source tests: real git repositories made with the `git` CLI in
//! temporary folders, and a `git daemon` serving them over `git://`.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clawops::source::{self, Snapshot, SourceError, SourceOptions};
use tempfile::TempDir;

/// Runs `git` in `dir` with a fixed identity and no user or system configuration, and
/// returns its trimmed standard output.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args([
            "-c",
            "tag.gpgsign=false",
            "-c",
            "protocol.file.allow=always",
        ])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.com")
        .env("GIT_COMMITTER_NAME", "Test Committer")
        .env("GIT_COMMITTER_EMAIL", "committer@example.com")
        .env("GIT_AUTHOR_DATE", "2026-11-22T03:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-11-22T03:00:00Z")
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("git prints UTF-8")
        .trim()
        .to_owned()
}

/// A folder in a fresh temporary directory, removed when dropped.
pub struct Folder {
    /// Keeps the temporary directory alive.
    _temp: TempDir,
    /// The folder itself (inside `temp`, so it can be named like a repository).
    pub path: PathBuf,
}

impl Folder {
    /// A new empty folder called `name`.
    pub fn new(name: &str) -> Self {
        let temp = tempfile::Builder::new()
            .prefix("clawops-source-test-")
            .tempdir()
            .expect("temp dir");
        let path = temp.path().join(name);
        std::fs::create_dir(&path).expect("create folder");
        Self { _temp: temp, path }
    }

    /// Writes a file (creating parent folders).
    pub fn write(&self, relative: &str, content: impl AsRef<[u8]>) {
        let path = self.path.join(relative);
        std::fs::create_dir_all(path.parent().expect("has parent")).expect("create parents");
        std::fs::write(path, content).expect("write file");
    }

    /// Creates a symbolic link at `relative` pointing at `target` (written as given).
    pub fn symlink(&self, relative: &str, target: &str) {
        let path = self.path.join(relative);
        std::fs::create_dir_all(path.parent().expect("has parent")).expect("create parents");
        std::os::unix::fs::symlink(target, path).expect("create symlink");
    }

    /// Options reading this folder.
    pub fn options(&self) -> SourceOptions {
        SourceOptions::new(self.path.to_string_lossy())
    }

    /// Reads this folder with default options changed by `adjust`.
    pub fn read_with(&self, adjust: impl FnOnce(&mut SourceOptions)) -> Snapshot {
        let mut options = self.options();
        adjust(&mut options);
        source::read(&options).expect("snapshot")
    }
}

/// A git repository with a work tree, made with `git init`.
pub struct Repo {
    /// The repository's folder.
    pub folder: Folder,
}

impl Repo {
    /// A new repository called `name`.
    pub fn new(name: &str) -> Self {
        let folder = Folder::new(name);
        git(&folder.path, &["init", "--quiet"]);
        Self { folder }
    }

    /// The work tree.
    pub fn path(&self) -> &Path {
        &self.folder.path
    }

    /// Runs git in the work tree.
    pub fn git(&self, args: &[&str]) -> String {
        git(self.path(), args)
    }

    /// Writes a file in the work tree.
    pub fn write(&self, relative: &str, content: impl AsRef<[u8]>) {
        self.folder.write(relative, content);
    }

    /// Copies every file of `source` into the work tree under `target` (`""`: the root).
    pub fn copy_folder(&self, source: &Path, target: &str) {
        super::copy_recursively(source, &self.path().join(target));
    }

    /// Stages everything and commits it; returns the commit id.
    pub fn commit(&self, subject: &str) -> String {
        self.git(&["add", "--all"]);
        self.git(&["commit", "--quiet", "--allow-empty", "-m", subject]);
        self.rev_parse("HEAD")
    }

    /// `git rev-parse <revision>`.
    pub fn rev_parse(&self, revision: &str) -> String {
        self.git(&["rev-parse", revision])
    }

    /// The blob id of `path` at `revision`.
    pub fn blob(&self, revision: &str, path: &str) -> String {
        self.rev_parse(&format!("{revision}:{path}"))
    }

    /// Reads the repository with default options changed by `adjust`.
    pub fn read_with(&self, adjust: impl FnOnce(&mut SourceOptions)) -> Snapshot {
        self.folder.read_with(adjust)
    }

    /// Reads the repository at `revision`.
    pub fn read_at(&self, revision: &str) -> Snapshot {
        self.read_with(|options| options.revision = Some(revision.to_owned()))
    }

    /// Reads the repository expecting an error.
    pub fn read_error(&self, adjust: impl FnOnce(&mut SourceOptions)) -> SourceError {
        let mut options = self.folder.options();
        adjust(&mut options);
        source::read(&options).expect_err("reading should fail")
    }
}

/// The text of `path` in the snapshot, panicking when absent.
pub fn text<'a>(snapshot: &'a Snapshot, path: &str) -> &'a str {
    &snapshot
        .file(path)
        .unwrap_or_else(|| panic!("{path} missing from {:?}", paths(snapshot)))
        .text
}

/// The paths of every file in the snapshot.
pub fn paths(snapshot: &Snapshot) -> Vec<&str> {
    snapshot
        .files
        .iter()
        .map(|file| file.path.as_str())
        .collect()
}

/// The commit id and subject a snapshot was read from.
pub fn commit_of(snapshot: &Snapshot) -> (&str, &str) {
    let revision = snapshot.revision.as_ref().expect("read from a commit");
    (revision.commit.as_str(), revision.subject.as_str())
}

/// A `git daemon` serving a folder's repositories on a free port of 127.0.0.1; killed when
/// dropped.
pub struct Daemon {
    child: Child,
    /// The port it listens on.
    pub port: u16,
}

impl Daemon {
    /// Starts the daemon with `base` as its base path and waits until it accepts
    /// connections.
    pub fn start(base: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("free port")
            .port();
        // `git daemon` would run `git-daemon` as a child that outlives a kill of `git`,
        // so the daemon binary is started directly and is the process killed on drop.
        let exec_path = git(base, &["--exec-path"]);
        let child = Command::new(Path::new(&exec_path).join("git-daemon"))
            .arg("--export-all")
            .arg("--reuseaddr")
            .arg("--informative-errors")
            .arg(format!("--base-path={}", base.display()))
            .arg(format!("--port={port}"))
            .arg("--listen=127.0.0.1")
            .arg(base)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("git daemon starts");
        let daemon = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "git daemon never listened on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        daemon
    }

    /// The `git://` URL of a repository below the base path.
    pub fn url(&self, relative: &str) -> String {
        format!("git://127.0.0.1:{}/{relative}", self.port)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}
