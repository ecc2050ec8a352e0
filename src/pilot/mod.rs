//! Pilot topologies: derive each role's setup manifest from a PilotSetup and check the
//! topology against Pilot's rules.

use crate::spec::{Diagnostic, PilotSetupSpec, Sourced};

/// Checks a PilotSetup against Pilot's rules.
pub fn validate(setup: &Sourced<PilotSetupSpec>) -> Vec<Diagnostic> {
    let _ = setup;
    Vec::new()
}
