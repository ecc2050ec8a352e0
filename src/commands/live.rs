//! What the live commands (apply, status, unlock, watch, plan against the fleet) share:
//! the async runtime, and opening the configured backend (`[fleet] backend`, or
//! `--backend`) through [`crate::backend::open`].

use crate::backend::{Backend, BackendError};
use crate::spec::config::Config;

use super::Context;

/// Why a live command could not start.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub(crate) enum LiveError {
    /// The async runtime could not start.
    #[error("could not start the async runtime")]
    #[diagnostic(code(clawops::live::runtime))]
    StartRuntime(#[source] std::io::Error),
    /// The backend could not be opened, or failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Backend(#[from] BackendError),
}

/// A multi-threaded runtime for one command.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, LiveError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(LiveError::StartRuntime)
}

/// Opens the backend `clawops.toml` (or `--backend`) names for `fleet`, with the command
/// line's backend settings over the file's.
pub(crate) async fn open(
    context: &Context,
    config: &Config,
    fleet: &str,
) -> Result<Box<dyn Backend>, BackendError> {
    let config = context.backend.over(config);
    crate::backend::open(&config, fleet, context.backend.force_conflicts).await
}
