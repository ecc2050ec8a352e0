//! What the daemon remembers across restarts (the last good commit and the quarantined
//! ones), and the pure decision of what to do with the branch's newest commit.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::status::{CommitAt, FailedCommit};

/// Quarantined commits remembered, at most (the oldest are forgotten first).
const FAILED_KEPT: usize = 20;

/// Why the memory could not be read or written.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum MemoryError {
    /// The state file exists but could not be read or parsed.
    #[error("could not read the daemon state {path}")]
    #[diagnostic(
        code(clawops::watch::read_state),
        help("move the file away to start from a clean state")
    )]
    ReadState {
        /// The state file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The state file could not be written.
    #[error("could not write the daemon state {path}")]
    #[diagnostic(code(clawops::watch::write_state))]
    WriteState {
        /// The state file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The daemon's memory, kept in a JSON file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    /// The last commit applied successfully (the fleet runs it).
    pub last_applied: Option<CommitAt>,
    /// Commits that failed (invalid, refused, or a failed rollout), newest last; none of
    /// them is tried again.
    pub failed: Vec<FailedCommit>,
}

/// What to do with the branch's newest commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// It is the last applied commit: only look for drift.
    UpToDate,
    /// It failed before: leave it alone until a newer commit arrives.
    Quarantined,
    /// It is new: validate and apply it.
    Apply,
}

impl Memory {
    /// Reads the memory; a missing file is an empty memory.
    pub fn load(path: &Path) -> Result<Self, MemoryError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self::default());
            }
            Err(error) => {
                return Err(MemoryError::ReadState {
                    path: path.to_owned(),
                    source: Box::new(error),
                });
            }
        };
        serde_json::from_str(&text).map_err(|error| MemoryError::ReadState {
            path: path.to_owned(),
            source: Box::new(error),
        })
    }

    /// Writes the memory (to a temporary file first, then renamed over the old one, so a
    /// crash never leaves half a file).
    pub fn save(&self, path: &Path) -> Result<(), MemoryError> {
        let write_error = |source| MemoryError::WriteState {
            path: path.to_owned(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(write_error)?;
        }
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other);
        let temporary = path.with_extension("json.tmp");
        std::fs::write(&temporary, text.map_err(write_error)?).map_err(write_error)?;
        std::fs::rename(&temporary, path).map_err(write_error)
    }

    /// What to do with `commit`, the branch's newest.
    pub fn decide(&self, commit: &str) -> Decision {
        if self
            .last_applied
            .as_ref()
            .is_some_and(|applied| applied.commit == commit)
        {
            Decision::UpToDate
        } else if self.failed.iter().any(|failed| failed.commit == commit) {
            Decision::Quarantined
        } else {
            Decision::Apply
        }
    }

    /// `commit` now runs.
    pub fn record_applied(&mut self, commit: CommitAt) {
        self.failed.retain(|failed| failed.commit != commit.commit);
        self.last_applied = Some(commit);
    }

    /// `commit` failed; it is not tried again.
    pub fn record_failed(&mut self, commit: &str, reason: &str, at: u64) {
        self.failed.retain(|failed| failed.commit != commit);
        self.failed.push(FailedCommit {
            commit: commit.to_owned(),
            reason: reason.to_owned(),
            at,
        });
        let excess = self.failed.len().saturating_sub(FAILED_KEPT);
        self.failed.drain(..excess);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(id: &str) -> CommitAt {
        CommitAt {
            commit: id.to_owned(),
            subject: format!("commit {id}"),
            at: 1,
        }
    }

    #[test]
    fn new_commits_apply_failed_ones_wait_and_the_applied_one_is_up_to_date() {
        let mut memory = Memory::default();
        assert_eq!(memory.decide("a"), Decision::Apply);
        memory.record_applied(commit("a"));
        assert_eq!(memory.decide("a"), Decision::UpToDate);
        memory.record_failed("b", "health gate failed", 2);
        assert_eq!(memory.decide("b"), Decision::Quarantined);
        assert_eq!(memory.decide("c"), Decision::Apply);
        assert_eq!(
            memory.last_applied,
            Some(commit("a")),
            "the last good one stays"
        );
    }

    #[test]
    fn memory_survives_a_restart_and_forgets_the_oldest_failures() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("state/watch.json");
        assert_eq!(
            Memory::load(&path).expect("missing is empty"),
            Memory::default()
        );
        let mut memory = Memory::default();
        memory.record_applied(commit("good"));
        for index in 0..25 {
            memory.record_failed(&format!("bad{index}"), "invalid", index);
        }
        memory.save(&path).expect("save");
        let loaded = Memory::load(&path).expect("load");
        assert_eq!(loaded, memory);
        assert_eq!(loaded.failed.len(), FAILED_KEPT);
        assert_eq!(loaded.decide("bad24"), Decision::Quarantined);
        assert_eq!(loaded.decide("bad0"), Decision::Apply, "forgotten");
        assert_eq!(loaded.decide("good"), Decision::UpToDate);
    }

    #[test]
    fn a_broken_state_file_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("watch.json");
        std::fs::write(&path, "{not json").expect("write");
        let error = Memory::load(&path).expect_err("broken");
        assert!(error.to_string().contains("watch.json"));
    }
}
