//! Spec stage: the typed, validated desired state read from a [`Snapshot`].
//!
//! [`check`] loads every document (HiClaw's `hiclaw.io/v1beta1` kinds and clawops'
//! `clawops.dev/v1alpha1` kinds) and `clawops.toml`, then validates each document and the
//! references between them. Every problem becomes a [`Diagnostic`] with file, line and
//! column; a spec with any error never reaches a backend.

pub mod clawops;
pub mod config;
pub mod diagnostic;
pub mod document;
pub mod env;
pub mod hiclaw;
mod load;
pub mod located;
pub mod notify;
pub mod reserved;
pub mod validate;
pub mod yaml;

use crate::source::{Revision, Snapshot};

pub use clawops::{ImageSetSpec, PilotSetupSpec};
pub use config::Config;
pub use diagnostic::{Code, Diagnostic, Severity};
pub use document::{Kind, Resource, Sourced};
pub use hiclaw::{DebugWorkerSpec, HumanSpec, ManagerSpec, TeamSpec, WorkerSpec};
pub use load::position_of_offset;
pub use located::{Located, Position};

/// Every document of the desired state, by kind, in file order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Spec {
    /// `clawops.toml` (defaults when absent).
    pub config: Config,
    /// The fleet's owner label: `[fleet] name`, else the repository folder name.
    pub fleet_name: String,
    /// Repository-relative path of `clawops.toml` (whether or not it exists).
    pub config_file: String,
    /// The commit the spec was read from, if any.
    pub revision: Option<Revision>,
    /// Where each `[rollout] canary` entry is written in `clawops.toml`, in the same order
    /// as `config.rollout.canary` (empty when the file is absent or unreadable).
    pub canary_positions: Vec<Position>,
    /// Standalone Workers.
    pub workers: Vec<Sourced<WorkerSpec>>,
    /// Teams.
    pub teams: Vec<Sourced<TeamSpec>>,
    /// Humans.
    pub humans: Vec<Sourced<HumanSpec>>,
    /// Managers (at most one is valid).
    pub managers: Vec<Sourced<ManagerSpec>>,
    /// DebugWorkers.
    pub debug_workers: Vec<Sourced<DebugWorkerSpec>>,
    /// ImageSets (at most one is valid).
    pub image_sets: Vec<Sourced<ImageSetSpec>>,
    /// Pilot setups.
    pub pilot_setups: Vec<Sourced<PilotSetupSpec>>,
}

impl Spec {
    /// Appends the documents of another (partial) spec, keeping their order.
    pub(crate) fn absorb(&mut self, other: Spec) {
        self.workers.extend(other.workers);
        self.teams.extend(other.teams);
        self.humans.extend(other.humans);
        self.managers.extend(other.managers);
        self.debug_workers.extend(other.debug_workers);
        self.image_sets.extend(other.image_sets);
        self.pilot_setups.extend(other.pilot_setups);
    }
}

/// A loaded spec and everything found wrong with it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Checked {
    /// The documents that could be read.
    pub spec: Spec,
    /// Errors and warnings, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    /// Whether no diagnostic is an error.
    pub fn is_valid(&self) -> bool {
        !self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// Adds what the target `backend` cannot realize (see [`validate::target`]), sorted in
    /// with the rest.
    pub fn add_target_diagnostics(&mut self, backend: config::BackendKind) {
        let added = validate::target(&self.spec, backend);
        if added.is_empty() {
            return;
        }
        self.diagnostics.extend(added);
        in_file_order(&mut self.diagnostics);
        self.diagnostics.dedup();
    }

    /// The number of errors.
    pub fn error_count(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|diagnostic| diagnostic.is_error())
            .count()
    }
}

/// Sorts diagnostics by file, line, column and code: the order every report shows.
pub(crate) fn in_file_order(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|left, right| {
        (&left.file, left.line, left.column, left.code).cmp(&(
            &right.file,
            right.line,
            right.column,
            right.code,
        ))
    });
}

/// Loads and validates a snapshot, collecting every problem.
pub fn check(snapshot: &Snapshot) -> Checked {
    let (spec, mut diagnostics) = load::load(snapshot);
    diagnostics.extend(validate::validate(&spec));
    in_file_order(&mut diagnostics);
    diagnostics.dedup();
    Checked { spec, diagnostics }
}
