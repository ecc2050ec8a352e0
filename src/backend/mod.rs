//! Backends: the one trait through which clawops reads and changes a fleet. Every
//! backend's I/O lives behind it (Docker in [`docker`], Kubernetes in [`kubernetes`], each
//! behind its cargo feature); the core stages never reach for a backend, and the backends
//! never reach for the stages above them.
//!
//! A backend does exactly what it is told, one agent at a time; deciding what to do is
//! the planner's job, ordering it the executor's. [`open`] is the one place that picks a
//! backend (as a `Box<dyn Backend>`) from the fleet's settings. What the backends share
//! lives beside the trait: the error type ([`error`]), the label keys ([`labels`]), the
//! poll loop ([`wait`]) and the lock's lease ([`lock`]).

#[cfg(feature = "docker")]
pub mod docker;
pub mod error;
#[cfg(feature = "hiclaw")]
pub mod hiclaw;
#[cfg(feature = "kubernetes")]
pub mod kubernetes;
pub mod labels;
pub mod lock;
pub mod pilot;
pub mod shell;
pub mod wait;

use std::time::Duration;

pub use error::BackendError;
pub use lock::LockHolder;
pub use wait::{Look, WaitError, wait_until};

use crate::desired::hiclaw::HiclawHuman;
use crate::desired::{Agent, Desired, TeamAccess};
use crate::observe::Observed;
use crate::spec::config::Config;

/// Where and with which credentials a backend connects beyond `clawops.toml`: flags and
/// the environment only, never the repository.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Endpoint {
    /// `--kubeconfig`: the cluster (else `KUBECONFIG`, `~/.kube/config`, in-cluster).
    pub kubeconfig: Option<std::path::PathBuf>,
    /// `--force-conflicts`: Kubernetes takes over fields another manager owns.
    pub force_conflicts: bool,
    /// `--hiclaw-url` / `HICLAW_CONTROLLER_URL`: the embedded controller's REST API.
    pub hiclaw_url: Option<String>,
    /// `HICLAW_AUTH_TOKEN`: the REST API's bearer token (never printed).
    pub hiclaw_token: Option<String>,
    /// `HICLAW_AUTH_TOKEN_FILE`: a file holding that token.
    pub hiclaw_token_file: Option<std::path::PathBuf>,
    /// `--hiclaw-record` / `CLAWOPS_HICLAW_RECORD`: where the REST transport keeps its
    /// record of what clawops applied.
    pub hiclaw_record: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Endpoint")
            .field("kubeconfig", &self.kubeconfig)
            .field("force_conflicts", &self.force_conflicts)
            .field("hiclaw_url", &self.hiclaw_url)
            .field(
                "hiclaw_token",
                &self.hiclaw_token.as_ref().map(|_| "(redacted)"),
            )
            .field("hiclaw_token_file", &self.hiclaw_token_file)
            .field("hiclaw_record", &self.hiclaw_record)
            .finish()
    }
}

impl Endpoint {
    /// `--kubeconfig` as the Kubernetes client takes it (empty: find the cluster as
    /// `kubectl` does).
    pub fn kubeconfig_path(&self) -> String {
        self.kubeconfig
            .as_ref()
            .map(|path| path.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// The embedded HiClaw controller's REST API when neither `--hiclaw-url` nor
/// `HICLAW_CONTROLLER_URL` names one (as upstream's `hiclaw` CLI).
pub const DEFAULT_HICLAW_URL: &str = "http://localhost:8090";

/// Opens the backend `config` names (`[fleet] backend`, already overridden by the command
/// line) for `fleet`, reached as `endpoint` says (Docker: `DOCKER_HOST`, else the local
/// socket; nothing in `config` says where or as whom to connect). A backend left out of this build is
/// [`BackendError::Unavailable`].
pub async fn open(
    config: &Config,
    fleet: &str,
    endpoint: &Endpoint,
) -> Result<Box<dyn Backend>, BackendError> {
    let force_conflicts = endpoint.force_conflicts;
    match config.fleet.backend {
        #[cfg(feature = "docker")]
        crate::spec::config::BackendKind::Docker => {
            let backend = docker::DockerBackend::connect("", fleet, &config.docker.network).await?;
            Ok(Box::new(backend))
        }
        #[cfg(feature = "kubernetes")]
        crate::spec::config::BackendKind::Kubernetes => {
            let settings = kubernetes::settings::KubernetesSettings::from_config(
                &config.kubernetes,
                fleet,
                &config.fleet.prefix,
            );
            let backend = kubernetes::KubernetesBackend::connect(
                &endpoint.kubeconfig_path(),
                settings,
                force_conflicts,
            )
            .await?;
            Ok(Box::new(backend))
        }
        #[cfg(feature = "hiclaw")]
        crate::spec::config::BackendKind::Hiclaw => hiclaw::open(config, fleet, endpoint).await,
        #[allow(unreachable_patterns)]
        other => {
            let _ = (fleet, force_conflicts);
            Err(BackendError::Unavailable {
                backend: other.as_str(),
            })
        }
    }
}

/// Why [`render`] has nothing to print.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RenderError {
    /// The backend runs containers itself: it has no objects to show.
    #[error("the {backend} backend has no objects to render")]
    #[diagnostic(
        code(clawops::render::nothing),
        help(
            "render shows Kubernetes manifests or HiClaw objects: run it with --backend kubernetes or --backend hiclaw (or set [fleet] backend)"
        )
    )]
    NothingToRender {
        /// The backend asked for.
        backend: &'static str,
    },
    /// The backend is not part of this build.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Unavailable(BackendError),
    /// A Kubernetes manifest could not be written.
    #[cfg(feature = "kubernetes")]
    #[error(transparent)]
    #[diagnostic(transparent)]
    WriteManifest(#[from] kubernetes::render::RenderError),
}

/// Every object the backend `config` names would apply for `desired`, as one YAML stream
/// (sensitive values redacted); the other selection point beside [`open`].
pub fn render(config: &Config, desired: &Desired) -> Result<String, RenderError> {
    match config.fleet.backend {
        crate::spec::config::BackendKind::Docker => Err(RenderError::NothingToRender {
            backend: crate::spec::config::BackendKind::Docker.as_str(),
        }),
        #[cfg(feature = "kubernetes")]
        crate::spec::config::BackendKind::Kubernetes => {
            let settings = kubernetes::settings::KubernetesSettings::from_config(
                &config.kubernetes,
                &desired.fleet,
                &config.fleet.prefix,
            );
            Ok(kubernetes::render::render(desired, &settings)?)
        }
        #[cfg(feature = "hiclaw")]
        crate::spec::config::BackendKind::Hiclaw => Ok(hiclaw::objects::render(
            desired,
            &config.hiclaw.namespace,
            &config.hiclaw.controller,
        )),
        #[allow(unreachable_patterns)]
        other => {
            let _ = desired;
            Err(RenderError::Unavailable(BackendError::Unavailable {
                backend: other.as_str(),
            }))
        }
    }
}

/// One fleet on one backend. Every method is one operation of the plan. The trait is
/// dyn-compatible (through `async_trait`): the backend chosen at run time is a
/// `Box<dyn Backend>`.
#[async_trait::async_trait]
pub trait Backend: Send + Sync {
    /// e.g. `docker unix:///var/run/docker.sock`.
    fn describe(&self) -> String;

    /// Reads every agent of the fleet, once.
    async fn observe(&self) -> Result<Observed, BackendError>;

    /// Finishes what an interrupted apply left behind (a recreate cut short: its previous
    /// container restored or dropped) before the fleet is observed under the lock; the
    /// default has nothing to settle.
    async fn settle_interrupted(&self) -> Result<(), BackendError> {
        Ok(())
    }

    /// Makes sure shared resources (network, images, secrets, namespace) exist for
    /// `agents`, the agents the confirmed plan starts in a new container, before anything
    /// changes.
    async fn prepare(&self, agents: &[&Agent]) -> Result<(), BackendError>;

    /// Looks for changes made outside clawops that the observed records cannot show (a
    /// Kubernetes object edited by hand), comparing `desired` with the live fleet; the
    /// default finds none.
    async fn check_drift(
        &self,
        desired: &Desired,
        observed: Observed,
    ) -> Result<Observed, BackendError> {
        let _ = desired;
        Ok(observed)
    }

    /// Records fleet-level state after the plan was walked, even a halted one (Kubernetes:
    /// the inventory of the objects clawops applied); the default has none.
    async fn finish(&self) -> Result<(), BackendError> {
        Ok(())
    }

    /// Brings team `team`'s access rules in line with `access`, or removes them when the
    /// team left git (`None`) and none of its agents is left. Only backends that report
    /// teams in [`Observed::teams`] are given this step; the default has nothing to do.
    async fn update_team_access(
        &self,
        team: &str,
        access: Option<&TeamAccess>,
    ) -> Result<(), BackendError> {
        let _ = (team, access);
        Ok(())
    }

    /// Creates or updates a Human (only backends that report Humans in
    /// [`Observed::humans`] are given this step; the default has nothing to do).
    async fn write_human(&self, human: &HiclawHuman) -> Result<(), BackendError> {
        let _ = human;
        Ok(())
    }

    /// Deletes a Human that left git.
    async fn delete_human(&self, name: &str) -> Result<(), BackendError> {
        let _ = name;
        Ok(())
    }

    /// Runs a Pilot role's bootstrap in its container (skills, hostname; see
    /// [`pilot::bootstrap`]), uninstalling the skills in `remove`, within `timeout`. Only
    /// backends that run agents themselves can; the others refuse Pilot setups when they
    /// validate, so the default is never reached and fails.
    async fn bootstrap_pilot(
        &self,
        agent: &Agent,
        remove: &[String],
        timeout: Duration,
    ) -> Result<(), BackendError> {
        let _ = (remove, timeout);
        Err(pilot::unsupported(agent))
    }

    /// Sends a Pilot role's handshakes and waits until every peer trusts it mutually, at
    /// most `timeout` (see [`pilot::confirm_trust`]); then records the bootstrap as done.
    async fn confirm_pilot_trust(
        &self,
        agent: &Agent,
        timeout: Duration,
    ) -> Result<(), BackendError> {
        let _ = timeout;
        Err(pilot::unsupported(agent))
    }

    /// What a Pilot role's node reports now (hostname, skills, trusted peers), for
    /// `clawops status`.
    async fn pilot_status(&self, agent: &Agent) -> Result<pilot::PilotStatus, BackendError> {
        Err(pilot::unsupported(agent))
    }

    /// Creates the agent; starts it unless it is asleep.
    async fn create_agent(&self, agent: &Agent, commit: Option<&str>) -> Result<(), BackendError>;

    /// Replaces the agent's container, keeping the old one aside (stopped) until
    /// [`Backend::finish_recreate`] or [`Backend::roll_back`].
    async fn recreate_agent(&self, agent: &Agent, commit: Option<&str>)
    -> Result<(), BackendError>;

    /// Drops the container set aside by a recreate, once the new one is healthy.
    async fn finish_recreate(&self, name: &str) -> Result<(), BackendError>;

    /// Restores the container set aside by a recreate (the new one is removed).
    async fn roll_back(&self, name: &str) -> Result<(), BackendError>;

    /// Writes the agent's workspace files into it without a restart, and verifies them.
    async fn push_config(&self, agent: &Agent, commit: Option<&str>) -> Result<(), BackendError>;

    /// Stops the agent, keeping its container.
    async fn sleep_agent(&self, name: &str) -> Result<(), BackendError>;

    /// Starts a stopped agent.
    async fn wake_agent(&self, name: &str) -> Result<(), BackendError>;

    /// Removes the agent's container (desired Stopped); its workspace stays.
    async fn remove_agent(&self, name: &str) -> Result<(), BackendError>;

    /// Removes an agent that left git; its workspace too when `workspace` is set.
    async fn delete_agent(&self, name: &str, workspace: bool) -> Result<(), BackendError>;

    /// Takes the fleet's apply lock for `holder`, or reports the current holder. An expired
    /// lease is taken over.
    async fn try_lock(&self, holder: &LockHolder) -> Result<(), BackendError>;

    /// Extends `holder`'s lease to `holder.expires`; fails when the lock is not `holder`'s.
    async fn renew_lock(&self, holder: &LockHolder) -> Result<(), BackendError>;

    /// Releases the lock: `holder`'s only, or whoever holds it when `None` (`clawops unlock`).
    async fn unlock(&self, holder: Option<&LockHolder>) -> Result<(), BackendError>;

    /// Waits until the agent runs and is healthy, at most `timeout`, looking every
    /// `interval` (a backend may look less often to spare its API): healthy by the image's
    /// HEALTHCHECK when it has one, else by the agent's `probe` when it has one, else by
    /// staying up for a stability window.
    async fn wait_healthy(
        &self,
        agent: &Agent,
        timeout: Duration,
        interval: Duration,
    ) -> Result<(), BackendError>;
}
