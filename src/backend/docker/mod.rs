//! The Docker backend (bollard): one container per agent, a named volume per agent for its
//! workspace, everything labelled with the fleet so nothing else is ever touched.
//!
//! What clawops applied is recorded on the container's labels at creation (runtime hash,
//! config hash, commit, state and the whole applied [`Agent`], workspace files included,
//! sensitive env values only as salted digests),
//! and what changes later without a new container (hot push, sleep, wake, removal for
//! `Stopped`) in the fleet's record container, see [`records`]. Observing is one list of
//! containers, one of volumes and one read of the records, however large the fleet.
//!
//! A recreate renames the old container to `<name>--previous`: that name is the marker of
//! a container set aside (labels cannot change on a live container). It is never reported
//! as an agent, and [`Backend::prepare`] cleans up after an interrupted recreate.
//!
//! Removing an agent (desired `Stopped`) keeps its volume and stores a `Stopped` record;
//! such an agent is observed as `Missing` with that state.

mod connect;
mod containers;
mod health;
mod lock;
pub use lock::{LEASE_GRACE_SECONDS, lock_name};
mod observe;
mod pilot;
mod records;
pub use records::records_name;
mod seed;
pub use seed::SEED_LABEL;
mod workspace;

use std::time::Duration;

use bollard::Docker;

use super::{Backend, BackendError, LockHolder};
use crate::desired::Agent;
use crate::observe::Observed;

// The fleet, agent, runtime-hash, commit and state labels use the keys both backends
// share, in `crate::backend::labels`; the labels below are this backend's own.

/// Label holding the config hash applied at creation.
pub const CONFIG_HASH_LABEL: &str = "clawops.dev/config-hash";
/// Label holding the agent's role.
pub const ROLE_LABEL: &str = "clawops.dev/role";
/// Label holding the applied [`Agent`] record as JSON, sensitive env values replaced by
/// their digests ([`crate::desired::with_digests`]); secret references by name only.
pub const APPLIED_LABEL: &str = "clawops.dev/applied";
/// Suffix of the name of a container set aside by a recreate (reserved in validation).
pub const SET_ASIDE_SUFFIX: &str = crate::spec::reserved::SET_ASIDE_SUFFIX;
/// How long a stopping container gets before it is killed, in seconds.
const STOP_GRACE_SECONDS: i32 = 5;

/// One fleet on one Docker Engine.
#[derive(Clone, Debug)]
pub struct DockerBackend {
    docker: Docker,
    address: String,
    fleet: String,
    network: String,
    seeder: std::sync::Arc<seed::Seeder>,
    /// Record writes take turns: steps running side by side (Pilot trust gates) would
    /// otherwise race to create the record container.
    records_turn: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// The fleet network is known to exist.
    network_ready: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl DockerBackend {
    /// Connects to the engine at `host` (empty: `DOCKER_HOST` or the local socket) and
    /// negotiates the API version; `fleet` owns everything, agents join `network`.
    pub async fn connect(host: &str, fleet: &str, network: &str) -> Result<Self, BackendError> {
        let (docker, address) = connect::connect(host).await?;
        Ok(Self {
            docker,
            address,
            fleet: fleet.to_owned(),
            network: network.to_owned(),
            seeder: Default::default(),
            records_turn: Default::default(),
            network_ready: Default::default(),
        })
    }

    /// The fleet this backend manages.
    pub fn fleet(&self) -> &str {
        &self.fleet
    }

    /// The bollard client (for tests and tools).
    pub fn client(&self) -> &Docker {
        &self.docker
    }
}

/// The name of an agent's workspace volume.
pub fn volume_name(agent_name: &str) -> String {
    format!("{agent_name}-workspace")
}

/// The name of an agent's container while set aside by a recreate.
pub fn set_aside_name(agent_name: &str) -> String {
    format!("{agent_name}{SET_ASIDE_SUFFIX}")
}

/// Wraps a client error as [`BackendError::Request`], transient as [`is_transient`] says.
fn request_error(
    operation: &'static str,
    agent: &str,
) -> impl FnOnce(bollard::errors::Error) -> BackendError + use<> {
    let agent = agent.to_owned();
    move |source| BackendError::Request {
        operation,
        agent,
        transient: is_transient(&source),
        source: Box::new(source),
    }
}

/// Whether a client error may go away by trying again: the engine answered 408, 429 or a
/// 5xx, or the request did not get through (connection refused or lost, timeout).
pub fn is_transient(error: &bollard::errors::Error) -> bool {
    use bollard::errors::Error;
    match error {
        Error::DockerResponseServerError { status_code, .. } => {
            crate::backend::error::transient_status(*status_code)
        }
        Error::IOError { err } => crate::backend::error::transient_io(err),
        Error::RequestTimeoutError
        | Error::HyperResponseError { .. }
        | Error::HyperLegacyError { .. } => true,
        _ => false,
    }
}

/// Whether a client error is the engine's 404.
fn is_not_found(error: &bollard::errors::Error) -> bool {
    matches!(
        error,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

#[async_trait::async_trait]
impl Backend for DockerBackend {
    fn describe(&self) -> String {
        format!("docker {}", self.address)
    }

    async fn observe(&self) -> Result<Observed, BackendError> {
        observe::observe(self).await
    }

    async fn settle_interrupted(&self) -> Result<(), BackendError> {
        connect::settle_interrupted(self).await
    }

    async fn prepare(&self, agents: &[&Agent]) -> Result<(), BackendError> {
        connect::prepare(self, agents).await
    }

    async fn create_agent(&self, agent: &Agent, commit: Option<&str>) -> Result<(), BackendError> {
        containers::create_agent(self, agent, commit).await
    }

    async fn recreate_agent(
        &self,
        agent: &Agent,
        commit: Option<&str>,
    ) -> Result<(), BackendError> {
        containers::recreate_agent(self, agent, commit).await
    }

    async fn finish_recreate(&self, name: &str) -> Result<(), BackendError> {
        containers::remove_container(self, &set_aside_name(name), "finish recreate").await
    }

    async fn roll_back(&self, name: &str) -> Result<(), BackendError> {
        containers::roll_back(self, name).await
    }

    async fn push_config(&self, agent: &Agent, commit: Option<&str>) -> Result<(), BackendError> {
        workspace::push_config(self, agent, commit).await
    }

    async fn sleep_agent(&self, name: &str) -> Result<(), BackendError> {
        containers::sleep_agent(self, name).await
    }

    async fn wake_agent(&self, name: &str) -> Result<(), BackendError> {
        containers::wake_agent(self, name).await
    }

    async fn remove_agent(&self, name: &str) -> Result<(), BackendError> {
        containers::remove_agent(self, name).await
    }

    async fn delete_agent(&self, name: &str, workspace: bool) -> Result<(), BackendError> {
        containers::delete_agent(self, name, workspace).await
    }

    async fn try_lock(&self, holder: &LockHolder) -> Result<(), BackendError> {
        self.take_lock(holder).await
    }

    async fn renew_lock(&self, holder: &LockHolder) -> Result<(), BackendError> {
        self.extend_lock(holder).await
    }

    async fn unlock(&self, holder: Option<&LockHolder>) -> Result<(), BackendError> {
        self.release_lock(holder).await
    }

    async fn wait_healthy(
        &self,
        agent: &Agent,
        timeout: Duration,
        interval: Duration,
    ) -> Result<(), BackendError> {
        health::wait_healthy(self, agent, timeout, interval).await
    }

    async fn bootstrap_pilot(
        &self,
        agent: &Agent,
        remove: &[String],
        timeout: Duration,
    ) -> Result<(), BackendError> {
        crate::backend::pilot::bootstrap(self, agent, remove, timeout).await
    }

    async fn confirm_pilot_trust(
        &self,
        agent: &Agent,
        timeout: Duration,
    ) -> Result<(), BackendError> {
        pilot::confirm_trust(self, agent, timeout).await
    }

    async fn pilot_status(
        &self,
        agent: &Agent,
    ) -> Result<crate::backend::pilot::PilotStatus, BackendError> {
        crate::backend::pilot::status(self, agent).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(status_code: u16) -> bollard::errors::Error {
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message: "from the engine".to_owned(),
        }
    }

    #[test]
    fn an_engine_in_trouble_is_transient_a_refusal_is_not() {
        assert!(is_transient(&answered(503)));
        assert!(is_transient(&answered(500)));
        assert!(!is_transient(&answered(404)));
        assert!(!is_transient(&answered(409)));
        assert!(request_error("inspect", "a")(answered(503)).is_transient());
        assert!(!request_error("create", "a")(answered(400)).is_transient());
    }

    #[tokio::test]
    async fn an_engine_that_does_not_answer_is_transient() {
        // A port that was just free: the connection is refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let docker = Docker::connect_with_http(
            &format!("http://127.0.0.1:{port}"),
            5,
            bollard::API_DEFAULT_VERSION,
        )
        .expect("a client");
        let error = docker.ping().await.expect_err("nothing listens there");
        assert!(is_transient(&error), "{error:?}");
        assert!(request_error("ping", "engine")(error).is_transient());
    }
}
