//! Progress of an apply: one bar per wave on a terminal, plain log lines otherwise.

use std::collections::BTreeMap;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::StepOutcome;
use crate::plan::{Plan, Step, Wave};
use crate::printer::Printer;

/// Told about every wave and step as the apply walks the plan.
pub trait Progress: Send + Sync {
    /// A wave starts.
    fn wave_started(&self, wave: &Wave, plan: &Plan);
    /// A step finished.
    fn step_finished(&self, step: &Step, outcome: &StepOutcome);
    /// A wave finished.
    fn wave_finished(&self, wave: &Wave);
}

/// Plain lines on stderr through the printer, one per step (for logs and pipes).
#[derive(Debug)]
pub struct LogProgress {
    printer: Printer,
}

impl LogProgress {
    /// Progress lines written through `printer`.
    pub fn new(printer: Printer) -> Self {
        Self { printer }
    }
}

impl Progress for LogProgress {
    fn wave_started(&self, wave: &Wave, plan: &Plan) {
        self.printer.err(&format!(
            "wave {}/{} ({}): {} steps",
            wave.index + 1,
            plan.waves.len(),
            groups_of(wave),
            wave.steps.len()
        ));
    }

    fn step_finished(&self, step: &Step, outcome: &StepOutcome) {
        self.printer.err(&format!(
            "  {} {}: {}",
            step.op.verb(),
            step.resource,
            outcome.outcome
        ));
    }

    fn wave_finished(&self, _wave: &Wave) {}
}

/// One progress bar per wave (on a terminal); waves that overlap show their bars
/// together.
#[derive(Debug, Default)]
pub struct BarProgress {
    bars: MultiProgress,
    /// The bar of each wave in flight, by wave index.
    open: Mutex<BTreeMap<usize, ProgressBar>>,
}

impl Progress for BarProgress {
    fn wave_started(&self, wave: &Wave, plan: &Plan) {
        let bar = self.bars.add(ProgressBar::new(wave.steps.len() as u64));
        if let Ok(style) = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}") {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(format!(
            "wave {}/{} ({})",
            wave.index + 1,
            plan.waves.len(),
            groups_of(wave)
        ));
        if let Ok(mut open) = self.open.lock() {
            open.insert(wave.index, bar);
        }
    }

    fn step_finished(&self, step: &Step, outcome: &StepOutcome) {
        if let Ok(open) = self.open.lock()
            && let Some(bar) = open.get(&step.wave)
        {
            bar.set_message(format!(
                "{} {}: {}",
                step.op.verb(),
                step.resource,
                outcome.outcome
            ));
            bar.inc(1);
        }
    }

    fn wave_finished(&self, wave: &Wave) {
        if let Ok(mut open) = self.open.lock()
            && let Some(bar) = open.remove(&wave.index)
        {
            bar.finish();
        }
    }
}

/// The wave's groups, as a list.
fn groups_of(wave: &Wave) -> String {
    let groups: Vec<String> = wave.groups.iter().map(ToString::to_string).collect();
    groups.join(", ")
}
