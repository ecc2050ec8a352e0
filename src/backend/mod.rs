//! Backends: the one trait through which clawops reads and changes a fleet. Every
//! backend's I/O lives behind it (Docker in [`docker`], behind the `docker` feature); the
//! core stages never reach for a backend.
//!
//! A backend does exactly what it is told, one agent at a time; deciding what to do is
//! the planner's job, ordering it the executor's.

#[cfg(feature = "docker")]
pub mod docker;
#[cfg(feature = "kubernetes")]
pub mod kubernetes;

use std::future::Future;
use std::time::Duration;

use crate::desired::{Agent, Desired, TeamAccess};
use crate::observe::Observed;
use crate::spec::hiclaw::Probe;

/// Who holds the apply lock of a fleet, and until when (a lease: a holder that died
/// stops renewing it, and it expires by itself).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LockHolder {
    /// Host name of the holder.
    pub host: String,
    /// Process id of the holder.
    pub pid: u32,
    /// When it took the lock (seconds since the Unix epoch).
    pub since: u64,
    /// When the lease runs out unless renewed (seconds since the Unix epoch).
    pub expires: u64,
}

impl LockHolder {
    /// A holder that cannot be read (host `unknown`), its lease running until `expires`.
    pub fn unknown(expires: u64) -> Self {
        Self {
            host: "unknown".to_owned(),
            pid: 0,
            since: 0,
            expires,
        }
    }

    /// Whether this is `other`'s hold: the same host, process and start (the lease's end
    /// moves with every renewal).
    pub fn is(&self, other: &LockHolder) -> bool {
        (self.host.as_str(), self.pid, self.since) == (other.host.as_str(), other.pid, other.since)
    }
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "host {}, pid {}, since {} (Unix time), lease until {}",
            self.host, self.pid, self.since, self.expires
        )
    }
}

/// Why a backend operation failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum BackendError {
    /// The backend could not be reached.
    #[error("cannot reach {address}")]
    #[diagnostic(
        code(clawops::backend::connect),
        help(
            "check that it answers: Docker via [docker] host / DOCKER_HOST, Kubernetes via --kubeconfig, [kubernetes] kubeconfig, KUBECONFIG, ~/.kube/config or the pod's service account"
        )
    )]
    Connect {
        /// The address tried.
        address: String,
        /// The client's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An image the desired state needs is not available and cannot be pulled.
    #[error("image {image} is not available")]
    #[diagnostic(
        code(clawops::backend::image_missing),
        help("build or load the image on the engine, or make its registry reachable")
    )]
    ImageMissing {
        /// The image reference.
        image: String,
    },
    /// An agent did not become healthy in time.
    #[error("{agent} did not become healthy within {seconds}s: {reason}")]
    #[diagnostic(code(clawops::backend::unhealthy))]
    Unhealthy {
        /// The agent.
        agent: String,
        /// The timeout.
        seconds: u64,
        /// What was seen last.
        reason: String,
    },
    /// A secret an agent's env refers to is not set in clawops' environment.
    #[error("secret {secret} of {agent} is not set")]
    #[diagnostic(
        code(clawops::backend::secret_missing),
        help("export CLAWOPS_SECRET_<NAME> (the name upper-cased, `-` and `.` as `_`)")
    )]
    SecretMissing {
        /// The agent.
        agent: String,
        /// The secret's name (never its value).
        secret: String,
    },
    /// A secret an agent's env refers to is not a key of the cluster Secret that holds them.
    #[error("secret {key} of {agent} is not a key of Secret {secret} in namespace {namespace}")]
    #[diagnostic(
        code(clawops::backend::secret_key_missing),
        help(
            "add it, e.g. `kubectl -n <namespace> create secret generic <secret> --from-literal=<key>=…` (or patch the existing Secret); [kubernetes] secret names the Secret"
        )
    )]
    SecretKeyMissing {
        /// The agent.
        agent: String,
        /// The secret's name: the key looked for (never its value).
        key: String,
        /// The Secret that should hold it.
        secret: String,
        /// Its namespace.
        namespace: String,
    },
    /// A pushed workspace file did not read back as written.
    #[error("{path} of {agent} did not read back as pushed")]
    #[diagnostic(code(clawops::backend::verify_push))]
    VerifyPush {
        /// The agent.
        agent: String,
        /// The file, relative to `HOME`.
        path: String,
    },
    /// Another apply holds the fleet's lock.
    #[error("the fleet is being applied by {holder}")]
    #[diagnostic(
        code(clawops::backend::locked),
        help(
            "wait (--lock-timeout), or run `clawops unlock` if that process is gone; an abandoned lease also expires by itself"
        )
    )]
    Locked {
        /// The current holder (host `unknown` while it is still being written).
        holder: LockHolder,
    },
    /// Another field manager owns a field clawops applies (Kubernetes server-side apply).
    #[error("{object} has fields owned by another manager: {message}")]
    #[diagnostic(
        code(clawops::backend::conflict),
        help(
            "someone changed these fields with another tool; run again with --force-conflicts to take them over"
        )
    )]
    Conflict {
        /// `Kind/name` of the object.
        object: String,
        /// The API server's message naming the fields and their manager.
        message: String,
    },
    /// A request to the backend failed.
    #[error("{operation} {agent} failed")]
    #[diagnostic(code(clawops::backend::request))]
    Request {
        /// What was being done, e.g. `create`.
        operation: &'static str,
        /// The agent (or resource).
        agent: String,
        /// The client's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// One fleet on one backend. Every method is one operation of the plan.
pub trait Backend: Send + Sync {
    /// e.g. `docker unix:///var/run/docker.sock`.
    fn describe(&self) -> String;

    /// Reads every agent of the fleet, once.
    fn observe(&self) -> impl Future<Output = Result<Observed, BackendError>> + Send;

    /// Makes sure shared resources exist (network, images) before anything changes.
    fn prepare(&self, agents: &[&Agent]) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Looks for changes made outside clawops that the observed records cannot show (a
    /// Kubernetes object edited by hand), comparing `desired` with the live fleet; the
    /// default finds none.
    fn check_drift(
        &self,
        desired: &Desired,
        observed: Observed,
    ) -> impl Future<Output = Result<Observed, BackendError>> + Send {
        let _ = desired;
        async { Ok(observed) }
    }

    /// Records fleet-level state after the plan was walked, even a halted one (Kubernetes:
    /// the inventory of the objects clawops applied); the default has none.
    fn finish(&self) -> impl Future<Output = Result<(), BackendError>> + Send {
        async { Ok(()) }
    }

    /// Brings team `team`'s access rules in line with `access`, or removes them when the
    /// team left git (`None`) and none of its agents is left. Only backends that report
    /// teams in [`Observed::teams`] are given this step; the default has nothing to do.
    fn update_team_access(
        &self,
        team: &str,
        access: Option<&TeamAccess>,
    ) -> impl Future<Output = Result<(), BackendError>> + Send {
        let _ = (team, access);
        async { Ok(()) }
    }

    /// Creates the agent; starts it unless it is asleep.
    fn create_agent(
        &self,
        agent: &Agent,
        commit: Option<&str>,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Replaces the agent's container, keeping the old one aside (stopped) until
    /// [`Backend::finish_recreate`] or [`Backend::roll_back`].
    fn recreate_agent(
        &self,
        agent: &Agent,
        commit: Option<&str>,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Drops the container set aside by a recreate, once the new one is healthy.
    fn finish_recreate(&self, name: &str) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Restores the container set aside by a recreate (the new one is removed).
    fn roll_back(&self, name: &str) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Writes the agent's workspace files into it without a restart, and verifies them.
    fn push_config(
        &self,
        agent: &Agent,
        commit: Option<&str>,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Stops the agent, keeping its container.
    fn sleep_agent(&self, name: &str) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Starts a stopped agent.
    fn wake_agent(&self, name: &str) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Removes the agent's container (desired Stopped); its workspace stays.
    fn remove_agent(&self, name: &str) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Removes an agent that left git; its workspace too when `workspace` is set.
    fn delete_agent(
        &self,
        name: &str,
        workspace: bool,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Takes the fleet's apply lock for `holder`, or reports the current holder. An expired
    /// lease is taken over.
    fn try_lock(
        &self,
        holder: &LockHolder,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Extends `holder`'s lease to `holder.expires`; fails when the lock is not `holder`'s.
    fn renew_lock(
        &self,
        holder: &LockHolder,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Releases the lock: `holder`'s only, or whoever holds it when `None` (`clawops unlock`).
    fn unlock(
        &self,
        holder: Option<&LockHolder>,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Waits until the agent runs and is healthy, at most `timeout`: healthy by the image's
    /// HEALTHCHECK when it has one, else by `probe` (run inside the container) when given,
    /// else by staying up for a stability window.
    fn wait_healthy(
        &self,
        agent: &Agent,
        timeout: Duration,
        probe: Option<&Probe>,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;
}
