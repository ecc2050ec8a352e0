//! Which steps of a plan may start: a step is ready once every step it depends on is
//! done. Keeps each step's outcome and tells the progress when a wave starts and ends
//! (waves may overlap: a team's next batch starts as soon as its own gate passes).

use std::collections::BTreeMap;

use super::{ApplyReport, Outcome, Progress, StepOutcome};
use crate::plan::Plan;

/// The bookkeeping of one apply.
pub(super) struct Schedule<'a> {
    plan: &'a Plan,
    /// Dependencies of each step not done yet (a step becomes ready when it reaches 0,
    /// which happens once).
    pending: Vec<usize>,
    /// Steps that depend on each step.
    dependents: Vec<Vec<usize>>,
    /// Steps whose dependencies are all done, not yet handed out (in id order).
    ready: Vec<usize>,
    outcomes: BTreeMap<usize, StepOutcome>,
    /// Steps of each wave not finished yet; `None` until the wave started.
    wave_left: Vec<Option<usize>>,
}

impl<'a> Schedule<'a> {
    /// Every step waiting; those without dependencies ready.
    pub fn new(plan: &'a Plan) -> Self {
        let count = plan.steps.len();
        let mut dependents = vec![Vec::new(); count];
        let mut pending = vec![0; count];
        for step in &plan.steps {
            for dependency in &step.depends_on {
                if let Some(list) = dependents.get_mut(*dependency) {
                    list.push(step.id);
                    pending[step.id] += 1;
                }
            }
        }
        let ready = (0..count).filter(|id| pending[*id] == 0).collect();
        Self {
            plan,
            pending,
            dependents,
            ready,
            outcomes: BTreeMap::new(),
            wave_left: vec![None; plan.waves.len()],
        }
    }

    /// The steps ready to start now, in plan order; they count as started.
    pub fn take_ready(&mut self) -> Vec<usize> {
        let mut ready = std::mem::take(&mut self.ready);
        ready.sort_unstable();
        ready
    }

    /// Step `id` was handed out: its wave starts with its first step.
    pub fn started(&mut self, id: usize, progress: &dyn Progress) {
        let wave = self.plan.steps[id].wave;
        if let Some(slot) = self.wave_left.get_mut(wave)
            && slot.is_none()
            && let Some(wave_data) = self.plan.waves.get(wave)
        {
            *slot = Some(wave_data.steps.len());
            progress.wave_started(wave_data, self.plan);
        }
    }

    /// Step `id` finished with `outcome` (`None`: it never began). A done step makes the
    /// steps waiting only for it ready.
    pub fn finished(&mut self, id: usize, outcome: Option<StepOutcome>, progress: &dyn Progress) {
        let done = outcome
            .as_ref()
            .is_some_and(|outcome| outcome.outcome.is_done());
        if let Some(outcome) = outcome {
            self.outcomes.insert(id, outcome);
        }
        if done {
            for dependent in self.dependents[id].clone() {
                self.pending[dependent] -= 1;
                if self.pending[dependent] == 0 {
                    self.ready.push(dependent);
                }
            }
        }
        let wave = self.plan.steps[id].wave;
        if let Some(Some(left)) = self.wave_left.get_mut(wave) {
            *left = left.saturating_sub(1);
            if *left == 0
                && let Some(wave_data) = self.plan.waves.get(wave)
            {
                progress.wave_finished(wave_data);
            }
        }
    }

    /// The report: one outcome per step in step order, not attempted where none was
    /// recorded; waves that started but could not finish are closed for the progress.
    /// The rollout stopped early when a step failed (`halted`), or when a stop request
    /// (`stopped`) left steps not attempted.
    pub fn report(mut self, halted: bool, stopped: bool, progress: &dyn Progress) -> ApplyReport {
        let stopped_early = halted || (stopped && self.outcomes.len() < self.plan.steps.len());
        for (index, left) in self.wave_left.iter().enumerate() {
            if left.is_some_and(|left| left > 0)
                && let Some(wave) = self.plan.waves.get(index)
            {
                progress.wave_finished(wave);
            }
        }
        let outcomes = self
            .plan
            .steps
            .iter()
            .map(|step| {
                self.outcomes.remove(&step.id).unwrap_or(StepOutcome {
                    step: step.id,
                    outcome: Outcome::NotAttempted,
                    elapsed_milliseconds: 0,
                })
            })
            .collect();
        ApplyReport {
            outcomes,
            stopped_early,
        }
    }
}
