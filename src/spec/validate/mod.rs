//! Validation of a loaded [`Spec`]: field rules on each document ([`fields`]), rules across
//! documents ([`references`]) and Pilot topology rules ([`crate::pilot`]). Every rule
//! reports a [`Diagnostic`] with a stable code and never stops the others. What a given
//! backend can realize of a valid spec is checked apart, by [`target()`].

mod fields;
mod references;
mod resources;
mod target;

pub use target::target;

use super::{Diagnostic, Spec};

/// Whether a text is a duration such as `30m` or `1h30m`.
pub fn is_duration(text: &str) -> bool {
    fields::DURATION.is_match(text)
}

/// Runs every rule over the spec.
pub fn validate(spec: &Spec) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    fields::check(spec, &mut diagnostics);
    resources::check(spec, &mut diagnostics);
    references::check(spec, &mut diagnostics);
    for setup in &spec.pilot_setups {
        diagnostics.extend(crate::pilot::validate(setup));
    }
    diagnostics
}
