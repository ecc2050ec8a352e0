//! What the live commands (apply, status, plan against the fleet) share: the async
//! runtime, and opening the configured backend.

use crate::backend::BackendError;
use crate::spec::config::{BackendKind, Config};

/// The backend the live commands use.
#[cfg(feature = "docker")]
pub(crate) type LiveBackend = crate::backend::docker::DockerBackend;

/// Why a live command could not start.
#[cfg_attr(not(feature = "docker"), allow(dead_code))]
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
    /// The configured backend is not part of this build or not available yet.
    #[error("the {backend} backend is not available in this build")]
    #[diagnostic(
        code(clawops::live::backend_unavailable),
        help(
            "use backend = \"docker\" in clawops.toml with a build that has the `docker` feature"
        )
    )]
    BackendUnavailable {
        /// The backend asked for.
        backend: &'static str,
    },
}

/// A multi-threaded runtime for one command.
#[cfg_attr(not(feature = "docker"), allow(dead_code))]
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, LiveError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(LiveError::StartRuntime)
}

/// Opens the backend `clawops.toml` names for `fleet`.
#[cfg(feature = "docker")]
pub(crate) async fn open(config: &Config, fleet: &str) -> Result<LiveBackend, LiveError> {
    match config.fleet.backend {
        BackendKind::Docker => {
            Ok(LiveBackend::connect(&config.docker.host, fleet, &config.docker.network).await?)
        }
        BackendKind::Kubernetes => Err(LiveError::BackendUnavailable {
            backend: "kubernetes",
        }),
    }
}

/// Without a backend compiled in, every live command says so.
#[cfg(not(feature = "docker"))]
pub(crate) fn unavailable(config: &Config) -> LiveError {
    LiveError::BackendUnavailable {
        backend: match config.fleet.backend {
            BackendKind::Docker => "docker",
            BackendKind::Kubernetes => "kubernetes",
        },
    }
}
