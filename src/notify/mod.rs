//! Telling people what `apply` and `watch` did: GitHub commit statuses on the applied
//! commit, and webhooks (JSON events or Slack-compatible text), as `[notify]` of
//! `clawops.toml` asks.
//!
//! Notifying never holds up or fails a reconcile: [`Notifier::tell`] queues the event and
//! returns at once; one worker task delivers the queue in order (a commit status goes
//! pending before it goes success), each request bounded in time and retried a little
//! when the failure is transient. A failure is logged (the receiver named by its host,
//! never its full address) and dropped. A full queue drops the event, with a warning.
//!
//! - [`event`]: what is sent (the event and its bodies);
//! - [`sink`]: where it goes and how (HTTP);
//! - [`settings`]: the sinks `[notify]` and the environment make.

pub mod event;
pub mod settings;
pub mod sink;

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use event::{DriftNote, Event, Origin};
pub use settings::{NotifyEnvironment, Sinks, sinks};
pub use sink::{NotifyError, Sink};

use crate::spec::notify::EventKind;

/// Events waiting for the worker at most; more are dropped (with a warning) rather than
/// held in memory or waited for.
const QUEUE: usize = 256;

/// Queues events for one worker that delivers them to every sink that hears them.
#[derive(Debug)]
pub struct Notifier {
    sender: Option<mpsc::Sender<Event>>,
    worker: Option<JoinHandle<()>>,
}

impl Notifier {
    /// A notifier that tells nobody.
    pub fn off() -> Self {
        Self {
            sender: None,
            worker: None,
        }
    }

    /// Starts the worker for `sinks` (must run inside a Tokio runtime); none makes
    /// [`Notifier::off`].
    pub fn start(sinks: Sinks) -> Self {
        if sinks.sinks.is_empty() {
            return Self::off();
        }
        let (sender, receiver) = mpsc::channel(QUEUE);
        let worker = tokio::spawn(sink::deliver_all(sinks.sinks, sinks.hidden, receiver));
        Self {
            sender: Some(sender),
            worker: Some(worker),
        }
    }

    /// Whether any sink is listening.
    pub fn is_on(&self) -> bool {
        self.sender.is_some()
    }

    /// Queues `event`; never waits.
    pub fn tell(&self, event: Event) {
        let Some(sender) = &self.sender else {
            return;
        };
        let kind = event.event;
        if let Err(error) = sender.try_send(event) {
            let why = match error {
                mpsc::error::TrySendError::Full(_) => "the queue is full",
                mpsc::error::TrySendError::Closed(_) => "the sender stopped",
            };
            tracing::warn!(event = kind.as_str(), why, "notification dropped");
        }
    }

    /// Lets the queued events go out, waiting at most `within`; `false` when some were
    /// still undelivered then (they are abandoned).
    pub async fn finish(mut self, within: Duration) -> bool {
        drop(self.sender.take());
        let Some(worker) = self.worker.take() else {
            return true;
        };
        match tokio::time::timeout(within, worker).await {
            Ok(_) => true,
            Err(_) => {
                tracing::warn!(
                    seconds = within.as_secs(),
                    "notifications still undelivered; given up"
                );
                false
            }
        }
    }
}

impl Default for Notifier {
    fn default() -> Self {
        Self::off()
    }
}

/// Whether `kind` sets a commit status, and which state.
pub(crate) fn commit_state(kind: EventKind) -> Option<&'static str> {
    match kind {
        EventKind::ApplyStarted => Some("pending"),
        EventKind::ApplySucceeded => Some("success"),
        EventKind::ApplyFailed | EventKind::RolledBack | EventKind::Quarantined => Some("failure"),
        EventKind::Drift => None,
    }
}

/// How long one request may take.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What a reconcile needs to announce its rollout: whom to tell, which command it is,
/// and the commit it applies.
#[derive(Clone, Copy, Debug)]
pub struct Announce<'a> {
    /// Whom to tell.
    pub notifier: &'a Notifier,
    /// `apply` or `watch`.
    pub origin: Origin,
    /// The commit applied; `None` for a plain folder.
    pub commit: Option<&'a str>,
}

impl<'a> Announce<'a> {
    /// An event of `kind` about `fleet` now, with `summary`.
    pub fn event(&self, kind: EventKind, fleet: &str, summary: String) -> Event {
        Event::new(kind, self.origin, fleet, self.commit, summary)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::sink::Webhook;
    use super::*;
    use crate::spec::notify::WebhookFormat;

    #[tokio::test]
    async fn a_receiver_that_never_answers_holds_up_nothing() {
        // Accepts connections and never answers them.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                open.push(stream);
            }
        });
        let webhook = Webhook {
            label: "webhook 1 (127.0.0.1)".to_owned(),
            url: reqwest::Url::parse(&format!("http://{address}/hook")).unwrap(),
            format: WebhookFormat::Json,
            events: EventKind::ALL.to_vec(),
        };
        let notifier = Notifier::start(Sinks {
            sinks: vec![Sink::Webhook(webhook)],
            hidden: None,
        });
        assert!(notifier.is_on());
        let started = Instant::now();
        for _ in 0..(QUEUE + 50) {
            notifier.tell(Event::new(
                EventKind::ApplyStarted,
                Origin::Apply,
                "demo",
                None,
                "Plan: …".to_owned(),
            ));
        }
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "telling queued and returned at once: {:?}",
            started.elapsed()
        );
        assert!(!notifier.finish(Duration::from_millis(300)).await);
        assert!(started.elapsed() < Duration::from_secs(2));
        held.abort();
    }

    #[tokio::test]
    async fn an_off_notifier_finishes_at_once() {
        let notifier = Notifier::off();
        assert!(!notifier.is_on());
        notifier.tell(Event::new(
            EventKind::Drift,
            Origin::Watch,
            "demo",
            None,
            String::new(),
        ));
        assert!(notifier.finish(Duration::ZERO).await);
    }
}
