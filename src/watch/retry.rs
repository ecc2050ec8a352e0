//! Failures that are not the commit's fault (the backend unreachable or refusing, the lock
//! held, a fetch that failed, a step cut short by a transient error) are tried again with
//! exponential backoff, from one second up to the daemon's interval; a commit that is
//! invalid, refused, names a missing image or secret, or whose rollout fails a gate is
//! quarantined.

use std::time::Duration;

use crate::apply::{ApplyReport, StepError};

/// The first retry's delay.
const FIRST_DELAY: Duration = Duration::from_secs(1);

/// Consecutive transient failures, and how long to wait before the next try.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    /// One more transient failure.
    pub fn failed(&mut self) {
        self.failures = self.failures.saturating_add(1);
    }

    /// A cycle that did not fail transiently: back to the normal interval.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// Consecutive transient failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The wait before the next cycle: the interval when nothing failed, else 1 s, 2 s,
    /// 4 s… capped at the interval.
    pub fn delay(&self, interval: Duration) -> Option<Duration> {
        let exponent = self.failures.checked_sub(1)?;
        let factor = 2u32.saturating_pow(exponent.min(16));
        Some(FIRST_DELAY.saturating_mul(factor).min(interval))
    }
}

/// Whether the failure that stopped a rollout is worth another try: its first failed
/// step failed for a transient reason (the backend went away mid-rollout), not a gate.
pub fn transient_rollout(report: &ApplyReport) -> bool {
    report
        .first_failure()
        .and_then(|failure| failure.outcome.error())
        .is_some_and(StepError::is_transient)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_from_one_second_up_to_the_interval_and_resets() {
        let interval = Duration::from_secs(10);
        let mut backoff = Backoff::default();
        assert_eq!(
            backoff.delay(interval),
            None,
            "nothing failed: the interval"
        );
        let mut delays = Vec::new();
        for _ in 0..6 {
            backoff.failed();
            delays.push(backoff.delay(interval).map(|delay| delay.as_secs()));
        }
        assert_eq!(
            delays,
            [Some(1), Some(2), Some(4), Some(8), Some(10), Some(10)]
        );
        backoff.reset();
        assert_eq!(backoff.delay(interval), None);
        for _ in 0..100 {
            backoff.failed();
        }
        assert_eq!(backoff.delay(interval), Some(interval), "no overflow");
    }
}
