//! Rules that depend on the target the fleet is applied to (placeholder until merged).

use crate::spec::config::BackendKind;
use crate::spec::{Diagnostic, Spec};

/// What `backend` cannot realize of `spec`.
pub fn target(spec: &Spec, backend: BackendKind) -> Vec<Diagnostic> {
    let _ = (spec, backend);
    Vec::new()
}
