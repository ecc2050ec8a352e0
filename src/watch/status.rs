//! The daemon's status document: what it watches, what it last fetched and applied,
//! which commits it quarantined, which agents drifted and what rollout is under way.
//!
//! Plain serde data, served as JSON at `GET /status` and kept current by the daemon loop.

use serde::{Deserialize, Serialize};

/// Everything the daemon reports about itself at one moment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DaemonStatus {
    /// The watched remote, with credentials already redacted by the caller.
    pub remote: String,
    /// The watched branch.
    pub branch: String,
    /// The folder inside the repository holding the configuration, if not its root.
    pub path: Option<String>,
    /// Whether the daemon re-applies the last good commit when agents drift from it.
    pub self_heal: bool,
    /// The last commit seen on the branch.
    pub last_fetched: Option<CommitAt>,
    /// The last commit applied successfully (the last good one).
    pub last_applied: Option<CommitAt>,
    /// Quarantined commits, newest last.
    pub failed: Vec<FailedCommit>,
    /// Agents that drifted from the last applied commit.
    pub drift: Vec<DriftedAgent>,
    /// The rollout in progress, if any.
    pub rollout: Option<Rollout>,
}

/// A commit and the moment the daemon saw or applied it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CommitAt {
    /// The full commit id.
    pub commit: String,
    /// The first line of the commit message.
    pub subject: String,
    /// When, in unix seconds.
    pub at: u64,
}

/// A commit the daemon quarantined: it will not be applied again.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FailedCommit {
    /// The full commit id.
    pub commit: String,
    /// Why it was quarantined (invalid configuration, failed apply, rollback).
    pub reason: String,
    /// When it was quarantined, in unix seconds.
    pub at: u64,
}

/// An agent whose running state no longer matches the last applied commit.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DriftedAgent {
    /// The agent's name.
    pub agent: String,
    /// What differs, in a few words.
    pub cause: String,
}

/// A rollout under way: the apply of one commit, step by step.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rollout {
    /// The commit being applied.
    pub commit: String,
    /// When the rollout started, in unix seconds.
    pub started_at: u64,
    /// How many plan steps the rollout has in all.
    pub steps_total: usize,
    /// How many of them are done.
    pub steps_done: usize,
}
