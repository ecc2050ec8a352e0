//! What the live commands (apply, status, unlock, watch, plan against the fleet) share:
//! the async runtime, and opening the configured backend (`[fleet] backend`, or
//! `--backend`) as one [`LiveBackend`].

use crate::backend::BackendError;
use crate::spec::config::BackendKind;

/// Why a live command could not start.
#[cfg_attr(not(any(feature = "docker", feature = "kubernetes")), allow(dead_code))]
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub(crate) enum LiveError {
    /// The async runtime could not start.
    #[error("could not start the async runtime")]
    #[diagnostic(code(clawops::live::runtime))]
    StartRuntime(#[source] std::io::Error),
    /// The backend could not be opened.
    #[error(transparent)]
    #[diagnostic(transparent)]
    OpenBackend(#[from] BackendError),
    /// The configured backend is not part of this build.
    #[error("the {backend} backend is not available in this build")]
    #[diagnostic(
        code(clawops::live::backend_unavailable),
        help("build clawops with the `{backend}` cargo feature, or choose another backend")
    )]
    BackendUnavailable {
        /// The backend asked for.
        backend: &'static str,
    },
}

/// A multi-threaded runtime for one command.
#[cfg_attr(not(any(feature = "docker", feature = "kubernetes")), allow(dead_code))]
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, LiveError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(LiveError::StartRuntime)
}

/// The name of a backend kind.
pub(crate) fn backend_name(kind: BackendKind) -> &'static str {
    match kind {
        BackendKind::Docker => "docker",
        BackendKind::Kubernetes => "kubernetes",
    }
}

/// Without any backend compiled in, every live command says so.
#[cfg(not(any(feature = "docker", feature = "kubernetes")))]
pub(crate) fn unavailable(config: &crate::spec::config::Config) -> LiveError {
    LiveError::BackendUnavailable {
        backend: backend_name(config.fleet.backend),
    }
}

#[cfg(any(feature = "docker", feature = "kubernetes"))]
pub(crate) use with_backend::{LiveBackend, open};

#[cfg(any(feature = "docker", feature = "kubernetes"))]
mod with_backend {
    use std::time::Duration;

    use super::{LiveError, backend_name};
    use crate::backend::{Backend, BackendError, LockHolder};
    use crate::commands::Context;
    use crate::desired::{Agent, Desired, TeamAccess};
    use crate::observe::Observed;
    use crate::spec::config::{BackendKind, Config};
    use crate::spec::hiclaw::Probe;

    /// The backend a live command works on.
    #[derive(Debug)]
    pub(crate) enum LiveBackend {
        /// A Docker Engine.
        #[cfg(feature = "docker")]
        Docker(crate::backend::docker::DockerBackend),
        /// A Kubernetes cluster.
        #[cfg(feature = "kubernetes")]
        Kubernetes(Box<crate::backend::kubernetes::KubernetesBackend>),
    }

    /// Opens the backend `clawops.toml` (or `--backend`) names for `fleet`.
    pub(crate) async fn open(
        context: &Context,
        config: &Config,
        fleet: &str,
    ) -> Result<LiveBackend, LiveError> {
        let config = context.backend.over(config);
        match config.fleet.backend {
            #[cfg(feature = "docker")]
            BackendKind::Docker => Ok(LiveBackend::Docker(
                crate::backend::docker::DockerBackend::connect(
                    &config.docker.host,
                    fleet,
                    &config.docker.network,
                )
                .await?,
            )),
            #[cfg(feature = "kubernetes")]
            BackendKind::Kubernetes => {
                use crate::backend::kubernetes::{KubernetesBackend, settings::KubernetesSettings};
                let settings = KubernetesSettings::from_config(
                    &config.kubernetes,
                    fleet,
                    &config.fleet.prefix,
                );
                let backend = KubernetesBackend::connect(
                    &config.kubernetes.kubeconfig,
                    settings,
                    context.backend.force_conflicts,
                )
                .await?;
                Ok(LiveBackend::Kubernetes(Box::new(backend)))
            }
            #[allow(unreachable_patterns)]
            other => Err(LiveError::BackendUnavailable {
                backend: backend_name(other),
            }),
        }
    }

    /// Calls `$method` on whichever backend this is.
    macro_rules! each {
        ($self:ident, $backend:ident => $call:expr) => {
            match $self {
                #[cfg(feature = "docker")]
                LiveBackend::Docker($backend) => $call,
                #[cfg(feature = "kubernetes")]
                LiveBackend::Kubernetes($backend) => $call,
            }
        };
    }

    impl Backend for LiveBackend {
        fn describe(&self) -> String {
            each!(self, backend => backend.describe())
        }
        async fn observe(&self) -> Result<Observed, BackendError> {
            each!(self, backend => backend.observe().await)
        }
        async fn check_drift(
            &self,
            desired: &Desired,
            observed: Observed,
        ) -> Result<Observed, BackendError> {
            each!(self, backend => backend.check_drift(desired, observed).await)
        }
        async fn finish(&self) -> Result<(), BackendError> {
            each!(self, backend => backend.finish().await)
        }
        async fn update_team_access(
            &self,
            team: &str,
            access: Option<&TeamAccess>,
        ) -> Result<(), BackendError> {
            each!(self, backend => backend.update_team_access(team, access).await)
        }
        async fn prepare(&self, agents: &[&Agent]) -> Result<(), BackendError> {
            each!(self, backend => backend.prepare(agents).await)
        }
        async fn create_agent(
            &self,
            agent: &Agent,
            commit: Option<&str>,
        ) -> Result<(), BackendError> {
            each!(self, backend => backend.create_agent(agent, commit).await)
        }
        async fn recreate_agent(
            &self,
            agent: &Agent,
            commit: Option<&str>,
        ) -> Result<(), BackendError> {
            each!(self, backend => backend.recreate_agent(agent, commit).await)
        }
        async fn finish_recreate(&self, name: &str) -> Result<(), BackendError> {
            each!(self, backend => backend.finish_recreate(name).await)
        }
        async fn roll_back(&self, name: &str) -> Result<(), BackendError> {
            each!(self, backend => backend.roll_back(name).await)
        }
        async fn push_config(
            &self,
            agent: &Agent,
            commit: Option<&str>,
        ) -> Result<(), BackendError> {
            each!(self, backend => backend.push_config(agent, commit).await)
        }
        async fn sleep_agent(&self, name: &str) -> Result<(), BackendError> {
            each!(self, backend => backend.sleep_agent(name).await)
        }
        async fn wake_agent(&self, name: &str) -> Result<(), BackendError> {
            each!(self, backend => backend.wake_agent(name).await)
        }
        async fn remove_agent(&self, name: &str) -> Result<(), BackendError> {
            each!(self, backend => backend.remove_agent(name).await)
        }
        async fn delete_agent(&self, name: &str, workspace: bool) -> Result<(), BackendError> {
            each!(self, backend => backend.delete_agent(name, workspace).await)
        }
        async fn try_lock(&self, holder: &LockHolder) -> Result<(), BackendError> {
            each!(self, backend => backend.try_lock(holder).await)
        }
        async fn renew_lock(&self, holder: &LockHolder) -> Result<(), BackendError> {
            each!(self, backend => backend.renew_lock(holder).await)
        }
        async fn unlock(&self, holder: Option<&LockHolder>) -> Result<(), BackendError> {
            each!(self, backend => backend.unlock(holder).await)
        }
        async fn wait_healthy(
            &self,
            agent: &Agent,
            timeout: Duration,
            probe: Option<&Probe>,
        ) -> Result<(), BackendError> {
            each!(self, backend => backend.wait_healthy(agent, timeout, probe).await)
        }
    }
}
