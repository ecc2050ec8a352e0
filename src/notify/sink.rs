//! Where notifications go and how: a webhook (POST of the JSON event or a Slack `text`
//! body) or GitHub's commit-status API. One worker delivers the queue in order; each
//! request is bounded by [`super::REQUEST_TIMEOUT`] and tried at most [`ATTEMPTS`] times
//! when the failure is transient (no answer, 429, 5xx).
//!
//! A sink is named in logs by its host (`webhook 1 (hooks.example.com)`), never by its
//! address: a webhook's path is often its credential.

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap, USER_AGENT};
use reqwest::{Client, Url};
use serde_json::json;
use tokio::sync::mpsc;

use super::event::Event;
use crate::github::settings::Token;
use crate::printer::chain;
use crate::spec::notify::{EventKind, WebhookFormat};

/// Tries per request when the failure is transient.
pub const ATTEMPTS: u32 = 3;

/// The wait before the second try (doubled before the third).
const FIRST_RETRY: Duration = Duration::from_millis(500);

/// A webhook: its address and what it hears.
#[derive(Clone, Debug)]
pub struct Webhook {
    /// `webhook N (host)`.
    pub label: String,
    /// Where to POST.
    pub url: Url,
    /// The body's shape.
    pub format: WebhookFormat,
    /// The events it hears.
    pub events: Vec<EventKind>,
}

/// GitHub's commit statuses of one repository.
#[derive(Clone, Debug)]
pub struct CommitStatus {
    /// The REST API's base address, without a trailing slash.
    pub api_url: String,
    /// `owner/name`.
    pub repository: String,
    /// The API's headers, the token (`GITHUB_TOKEN`) among them, marked sensitive.
    pub headers: HeaderMap,
}

/// One receiver of notifications.
#[derive(Clone, Debug)]
pub enum Sink {
    /// A webhook.
    Webhook(Webhook),
    /// GitHub commit statuses.
    CommitStatus(CommitStatus),
}

impl Sink {
    /// How logs name it.
    pub fn label(&self) -> String {
        match self {
            Sink::Webhook(webhook) => webhook.label.clone(),
            Sink::CommitStatus(status) => format!("GitHub commit status ({})", status.repository),
        }
    }

    /// Whether it is told about `event`.
    fn hears(&self, event: &Event) -> bool {
        match self {
            Sink::Webhook(webhook) => !event.statuses_only && webhook.events.contains(&event.event),
            Sink::CommitStatus(_) => {
                super::commit_state(event.event).is_some() && event.commit.is_some()
            }
        }
    }
}

/// Why a notification was not delivered.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum NotifyError {
    /// The request got no answer (refused, timed out, TLS).
    #[error("could not reach {sink}")]
    #[diagnostic(code(clawops::notify::reach))]
    Reach {
        /// The sink.
        sink: String,
        /// Why (without the address).
        #[source]
        source: reqwest::Error,
    },
    /// The receiver answered with an error status.
    #[error("{sink} answered HTTP {status}")]
    #[diagnostic(code(clawops::notify::refused))]
    Refused {
        /// The sink.
        sink: String,
        /// The status.
        status: u16,
    },
}

impl NotifyError {
    /// Whether trying again may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            NotifyError::Reach { .. } => true,
            NotifyError::Refused { status, .. } => *status == 429 || *status >= 500,
        }
    }
}

/// The worker: delivers each event to every sink that hears it (sinks side by side,
/// events one after another), until every sender is gone. `hidden` (the GitHub token)
/// is scrubbed from every body.
pub async fn deliver_all(
    sinks: Vec<Sink>,
    hidden: Option<Token>,
    mut receiver: mpsc::Receiver<Event>,
) {
    let client = match Client::builder()
        .timeout(super::REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(error = %chain(&error), "notifications are off: no HTTP client");
            return;
        }
    };
    while let Some(event) = receiver.recv().await {
        let deliveries = sinks
            .iter()
            .filter(|sink| sink.hears(&event))
            .map(|sink| deliver_logged(&client, sink, &event, hidden.as_ref()));
        futures_util::future::join_all(deliveries).await;
    }
}

/// Delivers, retrying transient failures; a final failure is logged.
async fn deliver_logged(client: &Client, sink: &Sink, event: &Event, hidden: Option<&Token>) {
    let mut wait = FIRST_RETRY;
    for attempt in 1..=ATTEMPTS {
        match deliver(client, sink, event, hidden).await {
            Ok(()) => {
                tracing::debug!(sink = %sink.label(), event = event.event.as_str(), "notified");
                return;
            }
            Err(error) if error.is_transient() && attempt < ATTEMPTS => {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            Err(error) => {
                tracing::warn!(
                    sink = %sink.label(),
                    event = event.event.as_str(),
                    error = %chain(&error),
                    "notification not delivered"
                );
                return;
            }
        }
    }
}

/// One request.
async fn deliver(
    client: &Client,
    sink: &Sink,
    event: &Event,
    hidden: Option<&Token>,
) -> Result<(), NotifyError> {
    let (request, body) = match sink {
        Sink::Webhook(webhook) => {
            let body = match webhook.format {
                WebhookFormat::Json => serde_json::to_value(event).unwrap_or_default(),
                WebhookFormat::Slack => json!({ "text": event.text() }),
            };
            let request = client
                .post(webhook.url.clone())
                .header(USER_AGENT, concat!("clawops/", env!("CARGO_PKG_VERSION")));
            (request, body)
        }
        Sink::CommitStatus(status) => {
            let commit = event.commit.as_deref().unwrap_or_default();
            let url = format!(
                "{}/repos/{}/statuses/{commit}",
                status.api_url, status.repository
            );
            let body = json!({
                "state": super::commit_state(event.event).unwrap_or("error"),
                "description": event.status_description(),
                "context": format!("clawops/{}", event.fleet),
            });
            let request = client.post(url).headers(status.headers.clone());
            (request, body)
        }
    };
    // A step's error could, in principle, quote the token: never send it on.
    let body = match hidden {
        Some(token) => crate::github::body::scrub(&body.to_string(), token.expose()),
        None => body.to_string(),
    };
    let response = request
        .header(CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|source| NotifyError::Reach {
            sink: sink.label(),
            source: source.without_url(),
        })?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(NotifyError::Refused {
            sink: sink.label(),
            status: status.as_u16(),
        })
    }
}
