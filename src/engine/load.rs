//! Loading the desired state: read a snapshot of the source, check it, resolve it. One
//! call for every command and the daemon; an invalid state is an error that carries its
//! diagnostics, so nothing is planned or applied from a broken commit.

use crate::desired::{self, Desired};
use crate::source::{self, Snapshot, SourceError, SourceOptions};
use crate::spec::config::{BackendKind, Config};
use crate::spec::{self, Checked};

/// A valid desired state, resolved.
#[derive(Debug)]
pub struct Loaded {
    /// One record per agent, with the hashes that decide restart or hot push.
    pub desired: Desired,
    /// The fleet settings (`clawops.toml`): backend, rollout, prune.
    pub config: Config,
    /// The commit read, when the source is git (named in notifications).
    pub revision: Option<source::Revision>,
}

/// Why the desired state could not be loaded.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LoadError {
    /// The source could not be read at all.
    #[error(transparent)]
    #[diagnostic(transparent)]
    ReadSource(#[from] SourceError),
    /// The source was read but is not a valid desired state.
    #[error("invalid desired state: {} error(s); nothing was planned", .0.checked.error_count())]
    #[diagnostic(
        code(clawops::engine::invalid),
        help(
            "run `clawops validate` on the source for every problem with its file, line and column"
        )
    )]
    CheckSpec(Box<Invalid>),
}

/// An invalid desired state: the snapshot and every diagnostic, to show where and why.
#[derive(Debug)]
pub struct Invalid {
    /// The files as read.
    pub snapshot: Snapshot,
    /// The documents and their diagnostics.
    pub checked: Checked,
}

impl Invalid {
    /// One line: the count and the first error with its place, for logs.
    pub fn first_error(&self) -> String {
        let first = self
            .checked
            .diagnostics
            .iter()
            .find(|diagnostic| diagnostic.is_error())
            .map(|diagnostic| {
                format!(
                    "; first: {}:{}:{} [{}] {}",
                    diagnostic.file,
                    diagnostic.line,
                    diagnostic.column,
                    diagnostic.code,
                    diagnostic.message
                )
            })
            .unwrap_or_default();
        format!("invalid: {} error(s){first}", self.checked.error_count())
    }
}

/// Reads and checks the source at `options`, valid or not, with the rules of the target
/// `backend` names (else `[fleet] backend`) when given (`validate` reports everything).
pub fn read_checked(
    options: &SourceOptions,
    target: Option<Option<BackendKind>>,
) -> Result<(Snapshot, Checked), SourceError> {
    let snapshot = source::read(options)?;
    let checked = match target {
        Some(backend) => check_for_target(&snapshot, backend),
        None => spec::check(&snapshot),
    };
    Ok((snapshot, checked))
}

/// Checks `snapshot`, then what the backend `backend` names (else `[fleet] backend`)
/// cannot realize of it: what `apply`, `plan` and `validate` all report.
pub fn check_for_target(snapshot: &Snapshot, backend: Option<BackendKind>) -> Checked {
    let mut checked = spec::check(snapshot);
    checked.add_target_diagnostics(target_of(&checked, backend));
    checked
}

/// The backend `--backend` names, else `[fleet] backend`.
fn target_of(checked: &Checked, backend: Option<BackendKind>) -> BackendKind {
    backend.unwrap_or(checked.spec.config.fleet.backend)
}

/// Reads, checks and resolves the desired state at `options`, for the backend `backend`
/// names (`--backend`), else the one `[fleet] backend` names.
pub fn load(options: &SourceOptions, backend: Option<BackendKind>) -> Result<Loaded, LoadError> {
    check(source::read(options)?, backend)
}

/// Checks and resolves an already read snapshot (the daemon fetches first, then decides)
/// for the backend `backend` names, else `[fleet] backend`: what only some targets can
/// realize is checked against it, and the `hiclaw` target gets each agent's member spec.
pub fn check(snapshot: Snapshot, backend: Option<BackendKind>) -> Result<Loaded, LoadError> {
    let checked = check_for_target(&snapshot, backend);
    let target = target_of(&checked, backend);
    if !checked.is_valid() {
        return Err(LoadError::CheckSpec(Box::new(Invalid {
            snapshot,
            checked,
        })));
    }
    let desired = if target == BackendKind::Hiclaw {
        let mut desired = desired::resolve_with(&checked.spec, desired::Workspaces::Skip);
        desired::hiclaw::retarget(&checked.spec, &mut desired);
        desired
    } else {
        desired::resolve(&checked.spec)
    };
    Ok(Loaded {
        desired,
        config: checked.spec.config,
        revision: snapshot.revision,
    })
}
