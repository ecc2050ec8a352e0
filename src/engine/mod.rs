//! The use-case layer: what `apply`, `plan`, `status`, `unlock` and the watch daemon do,
//! written once, below the commands and above the pipeline stages.
//!
//! - [`load`]: read the source, check it, resolve it (one typed error, with the
//!   diagnostics of an invalid state);
//! - [`observe`]: open the backend the settings name and observe it fully (its records and
//!   the drift it finds);
//! - [`settings`]: what the command line decides (connection, prune, blast radius), and
//!   the one place the planner's options are derived;
//! - [`reconcile`]: lock, settle, observe, plan, check, confirm, prepare, walk, record;
//! - [`report`]: the words for what a reconcile did.
//!
//! Commands parse settings, call these, and print; the daemon calls the same functions.
//! Nothing here prints.

pub mod load;
pub mod observe;
pub mod reconcile;
pub mod report;
pub mod saved;
pub mod settings;

pub use load::{Invalid, LoadError, Loaded, check, load};
pub use observe::{PilotRow, fleet_status, observe, observe_fleet, open};
pub use reconcile::{Reconcile, ReconcileError, Reconciled};
pub use saved::SavedPlanError;
pub use settings::{Connection, PlanSettings};

/// A multi-threaded runtime for one command.
pub fn runtime() -> Result<tokio::runtime::Runtime, RuntimeError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(RuntimeError)
}

/// The async runtime could not start.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("could not start the async runtime")]
#[diagnostic(code(clawops::engine::runtime))]
pub struct RuntimeError(#[source] std::io::Error);
