//! Human steps, on backends that realize Humans (the `hiclaw` target, where the controller
//! makes each Human's chat account): a Human new in git or whose spec changed is written
//! before any Team that names it; a Human that left git is deleted with the other
//! deletes, and only when pruning.

use super::compare::spec_causes;
use super::model::{Cause, Op};
use super::resource::Resource;
use crate::desired::Desired;
use crate::observe::Observed;

/// The Human steps (human, op, causes), in name order: writes, then deletes.
pub(super) fn human_steps(
    desired: &Desired,
    observed: &Observed,
    prune: bool,
) -> Vec<(Resource, Op, Vec<Cause>)> {
    let (Some(fleet), Some(seen)) = (&desired.hiclaw, &observed.humans) else {
        return Vec::new();
    };
    let mut steps = Vec::new();
    for human in &fleet.humans {
        let causes = match seen.iter().find(|seen| seen.name == human.name) {
            None => vec![Cause::NewAgent],
            Some(seen) => match &seen.spec {
                Some(spec) => spec_causes(spec, &human.spec),
                None => Vec::new(),
            },
        };
        if !causes.is_empty() {
            steps.push((Resource::Human(human.name.clone()), Op::WriteHuman, causes));
        }
    }
    if prune {
        for gone in seen
            .iter()
            .filter(|seen| !fleet.humans.iter().any(|human| human.name == seen.name))
        {
            steps.push((
                Resource::Human(gone.name.clone()),
                Op::DeleteHuman,
                vec![Cause::GoneFromGit],
            ));
        }
    }
    steps
}
