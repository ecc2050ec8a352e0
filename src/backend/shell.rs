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

/// Output kept up to [`OUTPUT_CAP`] bytes; the rest is read and dropped, so a chatty
/// command cannot fill the memory of the apply.
#[derive(Default)]
pub struct Capped(Vec<u8>);

impl Capped {
    /// Keeps what of `chunk` fits under the cap.
    pub fn push(&mut self, chunk: &[u8]) {
        let room = OUTPUT_CAP.saturating_sub(self.0.len());
        self.0.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }

    /// What was kept.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// What was kept, lossily decoded.
    pub fn into_string(self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }
}

/// The agent's home in its container: its `HOME` (the folder its workspace files live in
/// and its working directory), `/root` without one.
pub fn home(agent: &crate::desired::Agent) -> String {
    agent
        .env
        .get("HOME")
        .map(|variable| variable.value.clone())
        .filter(|home| !home.is_empty())
        .unwrap_or_else(|| "/root".to_owned())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_kept_up_to_the_cap_and_the_rest_dropped() {
        let mut output = Capped::default();
        output.push(b"first line\n");
        let chunk = vec![b'x'; OUTPUT_CAP];
        output.push(&chunk);
        output.push(b"never kept");
        let kept = output.into_string();
        assert_eq!(kept.len(), OUTPUT_CAP);
        assert!(kept.starts_with("first line\nxxx"));
        assert!(!kept.contains("never kept"));
    }
}
