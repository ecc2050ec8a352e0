//! Running a command inside an agent's container, the one primitive the Pilot bootstrap
//! ([`super::pilot`]) needs from a backend: Docker implements it with an exec, Kubernetes
//! with the pod's `exec` subresource. Every call ends by a deadline, and its output is
//! capped, so an agent cannot stall the reconciler.

use std::time::Instant;

use super::BackendError;

/// How much of a command's output is kept.
pub const OUTPUT_CAP: usize = 64 * 1024;

/// What running a command gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Ran {
    /// It exited with this code (`-1` when the backend does not say), and wrote this (its
    /// first [`OUTPUT_CAP`] bytes, stdout then stderr, lossily decoded).
    Exited {
        /// The exit code.
        code: i64,
        /// What it wrote.
        output: String,
    },
    /// It had not ended by the deadline: nothing more is read or awaited.
    TimedOut,
}

/// Runs commands inside a fleet's agents.
#[async_trait::async_trait]
pub trait AgentShell: Send + Sync {
    /// Runs `command` (no shell unless it names one) in the agent `agent`'s container,
    /// ending at `deadline`.
    async fn run_in(
        &self,
        agent: &str,
        command: &[String],
        deadline: Instant,
    ) -> Result<Ran, BackendError>;
}
