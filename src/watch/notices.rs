//! What the daemon tells the outside world, as `[notify]` of the commit it works on asks:
//! the rollout of each new commit (through the reconcile), a quarantined commit, and
//! drift when the set of drifted agents changes (not at every interval).

use std::time::Duration;

use super::daemon::{Daemon, short};
use super::status::DriftedAgent;
use crate::engine::Loaded;
use crate::notify::{self, DriftNote, Event, Notifier, NotifyEnvironment, Origin};
use crate::spec::notify::{EventKind, NotifyConfig};

/// How long a stopping daemon waits for its last notifications.
const FINISH_WAIT: Duration = Duration::from_secs(5);

/// The daemon's notifier and what it was made from.
#[derive(Debug)]
pub(super) struct Notices {
    /// Where the sinks' addresses and token come from.
    environment: NotifyEnvironment,
    /// The `[notify]` the notifier was made from (`None` before any commit loaded).
    config: Option<NotifyConfig>,
    /// The fleet named in events.
    fleet: String,
    /// Queues events.
    pub notifier: Notifier,
    /// The drift last told (told again only when it changes).
    drift_told: Vec<DriftedAgent>,
}

impl Notices {
    /// Nobody told yet: the notifier is made from the first commit loaded.
    pub fn new(environment: NotifyEnvironment) -> Self {
        Self {
            environment,
            config: None,
            fleet: String::new(),
            notifier: Notifier::off(),
            drift_told: Vec::new(),
        }
    }

    /// Follows `loaded`'s `[notify]`: a new notifier when it changed (the old one
    /// delivers what it has queued, then ends).
    pub fn follow(&mut self, loaded: &Loaded) {
        self.fleet.clone_from(&loaded.desired.fleet);
        if self.config.as_ref() == Some(&loaded.config.notify) {
            return;
        }
        let sinks = notify::sinks(&loaded.config.notify, &self.environment);
        self.notifier = Notifier::start(sinks);
        self.config = Some(loaded.config.notify.clone());
    }

    /// An event about `commit` now.
    fn event(&self, kind: EventKind, commit: &str, summary: String) -> Event {
        Event::new(kind, Origin::Watch, &self.fleet, Some(commit), summary)
    }

    /// Tells the drift from `commit` when it differs from the drift last told.
    pub fn tell_drift(&mut self, commit: &str, drift: &[DriftedAgent], self_heal: bool) {
        if drift == self.drift_told.as_slice() {
            return;
        }
        self.drift_told = drift.to_vec();
        if drift.is_empty() {
            return;
        }
        let summary = format!(
            "{} agent(s) differ from the last applied commit{}.",
            drift.len(),
            if self_heal {
                "; correcting (--self-heal)"
            } else {
                "; left as they are (no --self-heal)"
            }
        );
        let notes = drift
            .iter()
            .map(|agent| DriftNote {
                agent: agent.agent.clone(),
                cause: agent.cause.clone(),
            })
            .collect();
        let event = self
            .event(EventKind::Drift, commit, summary)
            .with_drift(notes);
        self.notifier.tell(event);
    }

    /// The drift told is over (a new commit applied, or drift corrected).
    pub fn forget_drift(&mut self) {
        self.drift_told.clear();
    }

    /// Lets the last events go out.
    pub async fn finish(self) {
        self.notifier.finish(FINISH_WAIT).await;
    }
}

impl Daemon {
    /// Tells that `commit` is quarantined, and why.
    pub(super) fn tell_quarantined(&self, commit: &str, reason: &str) {
        let kept = match &self.memory.last_applied {
            Some(last) => format!("the fleet keeps running {}", short(&last.commit)),
            None => "the fleet is left as it is".to_owned(),
        };
        let summary =
            format!("Not applied, and not tried again until a newer commit arrives; {kept}.");
        let event = self
            .notices
            .event(EventKind::Quarantined, commit, summary)
            .with_reason(reason.to_owned());
        self.notices.notifier.tell(event);
    }
}
