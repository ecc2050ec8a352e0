//! Plan stage: a pure function from the desired state and the observed state to a
//! [`Plan`]. No I/O, no clock, no async: the same inputs always give the same plan.

mod model;

pub use model::{Cause, Drift, MassDeletion, Op, PLAN_FORMAT, Plan, Step, Summary, Wave};

use crate::desired::Desired;
use crate::observe::Observed;

/// Choices that change the plan but are not part of the desired state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Delete agents that left git (`[prune] enabled`, or `--prune`).
    pub prune: bool,
}

/// Computes the plan that takes the observed fleet to the desired one.
pub fn plan(desired: &Desired, observed: &Observed, options: &PlanOptions) -> Plan {
    let _ = (desired, observed, options);
    Plan {
        format: PLAN_FORMAT.to_owned(),
        fleet: desired.fleet.clone(),
        revision: desired.revision.clone(),
        against: observed.source.clone(),
        observed_fingerprint: observed.fingerprint(),
        steps: Vec::new(),
        waves: Vec::new(),
        unchanged: Vec::new(),
        summary: Summary::default(),
        mass_deletion: None,
    }
}
