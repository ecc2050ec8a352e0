//! The one harness the integration tests share: the `clawops` binary with a clean
//! environment, the examples, and real git repositories in temporary folders ([`git`]).

#![allow(dead_code, unused_imports)]

pub mod git;
pub mod kubernetes_validate;

pub use git::Repo;

use std::path::{Path, PathBuf};

use assert_cmd::Command;

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

/// Copies every file of `source` (recursively) into `target`.
pub fn copy_recursively(source: &Path, target: &Path) {
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

/// A child process (a daemon under test), killed and reaped when dropped.
pub struct KilledOnDrop(pub std::process::Child);

impl Drop for KilledOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A workflow or action step's `run:` script, run the way GitHub's runner runs a `bash`
/// step (`bash --noprofile --norc -eo pipefail -c`), in `directory`, with a clean
/// environment whose `PATH` is `first_on_path` ahead of this process's `PATH`.
pub fn runner_step(script: &str, directory: &Path, first_on_path: &Path) -> std::process::Command {
    let path = format!(
        "{}:{}",
        first_on_path.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut command = std::process::Command::new("bash");
    command
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c"])
        .arg(script)
        .current_dir(directory)
        .env_clear()
        .env("PATH", path);
    command
}
