//! The one harness the end-to-end tests share: the `clawops` binary with a clean
//! environment, and real git repositories in temporary folders.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::Command;
use tempfile::TempDir;

/// The repository root (where `examples/` lives).
pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// An example folder by name.
pub fn example(name: &str) -> PathBuf {
    project_root().join("examples").join(name)
}

/// The `clawops` binary, without colour, with a private cache folder.
pub fn clawops() -> Command {
    let mut command = Command::cargo_bin("clawops").expect("clawops binary");
    command.env("NO_COLOR", "1").env_remove("CLICOLOR_FORCE");
    command
}

/// A real git repository in a temporary folder, removed on drop.
pub struct GitRepository {
    folder: TempDir,
}

impl GitRepository {
    /// `git init` in a fresh temporary folder (branch `main`).
    pub fn new() -> Self {
        let folder = tempfile::Builder::new()
            .prefix("clawops-test-repo-")
            .tempdir()
            .expect("temp dir");
        let repository = Self { folder };
        repository.git(&["init", "-q", "-b", "main"]);
        repository.git(&["config", "user.email", "test@clawops.dev"]);
        repository.git(&["config", "user.name", "clawops test"]);
        repository.git(&["config", "commit.gpgsign", "false"]);
        repository
    }

    /// The work tree.
    pub fn path(&self) -> &Path {
        self.folder.path()
    }

    /// Runs git in the repository and returns its trimmed stdout.
    pub fn git(&self, arguments: &[&str]) -> String {
        let output = Process::new("git")
            .arg("-C")
            .arg(self.path())
            .args(arguments)
            .output()
            .expect("run git");
        assert!(
            output.status.success(),
            "git {arguments:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Copies every file of `source` (recursively) into the work tree under `target`.
    pub fn copy_folder(&self, source: &Path, target: &str) {
        copy_recursively(source, &self.path().join(target));
    }

    /// Writes one file (creating folders).
    pub fn write(&self, relative: &str, text: &str) {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("create folders");
        std::fs::write(path, text).expect("write file");
    }

    /// Stages everything and commits; returns the commit id.
    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }
}

fn copy_recursively(source: &Path, target: &Path) {
    std::fs::create_dir_all(target).expect("create folder");
    for entry in std::fs::read_dir(source).expect("read folder") {
        let entry = entry.expect("entry");
        let destination = target.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_recursively(&entry.path(), &destination);
        } else {
            std::fs::copy(entry.path(), destination).expect("copy file");
        }
    }
}
