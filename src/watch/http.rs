//! The daemon's HTTP server: liveness at `GET /healthz`, the status document at
//! `GET /status`, Prometheus metrics at `GET /metrics`, and GitHub push webhooks at
//! `POST /hooks/github`, which wake the daemon to fetch at once. Connections are bounded
//! in time and number ([`Limits`], see [`super::connections`]).

use std::future::Future;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::{Notify, RwLock};

pub use super::connections::Limits;

use super::connections;
use super::metrics::Metrics;
use super::status::DaemonStatus;
use super::webhook::{Event, parse_event, signature_valid};

/// The largest webhook body accepted, in bytes; larger deliveries get 413.
pub const MAX_WEBHOOK_BODY: usize = 1024 * 1024;

/// The content type of `GET /metrics`: the OpenMetrics text format.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The header carrying the delivery's HMAC-SHA256 signature.
const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// The header naming the delivery's event.
const EVENT_HEADER: &str = "x-github-event";

/// What the server shares with the daemon loop.
#[derive(Clone)]
pub struct Shared {
    /// The status document, written by the daemon and served at `GET /status`.
    pub status: Arc<RwLock<DaemonStatus>>,
    /// The daemon's metrics, served at `GET /metrics`.
    pub metrics: Arc<Metrics>,
    /// `notify_one()` makes the daemon fetch at once.
    pub wake: Arc<Notify>,
    /// The GitHub webhook secret; `None` disables `POST /hooks/github` (404).
    pub webhook_secret: Option<Arc<Vec<u8>>>,
    /// The watched branch: only pushes to it wake the daemon.
    pub branch: String,
}

/// The server's routes over `shared`.
pub fn router(shared: Shared) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .route(
            "/hooks/github",
            post(github_webhook).layer(DefaultBodyLimit::max(MAX_WEBHOOK_BODY)),
        )
        .with_state(shared)
}

/// Serves [`router`] on `listener` within the default [`Limits`] until `shutdown`
/// completes, then lets the requests in flight finish for a few seconds at most.
pub async fn serve(
    listener: TcpListener,
    shared: Shared,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, shared, Limits::default(), shutdown).await
}

/// [`serve`] within `limits` (see [`super::connections`]).
pub async fn serve_with(
    listener: TcpListener,
    shared: Shared,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(address) = listener.local_addr() {
        tracing::info!(
            %address,
            max_connections = limits.max_connections,
            "serving status, metrics and webhooks"
        );
    }
    connections::serve(listener, router(shared), limits, shutdown).await
}

async fn healthz() -> &'static str {
    "ok"
}

async fn status(State(shared): State<Shared>) -> Json<DaemonStatus> {
    Json(shared.status.read().await.clone())
}

async fn metrics(State(shared): State<Shared>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)],
        shared.metrics.encode(),
    )
}

/// How the server answered one webhook delivery, for the response and the log line.
struct Decision {
    status: StatusCode,
    outcome: &'static str,
    event: Option<String>,
    branch: Option<String>,
    wake: bool,
}

impl Decision {
    fn new(status: StatusCode, outcome: &'static str) -> Self {
        Decision {
            status,
            outcome,
            event: None,
            branch: None,
            wake: false,
        }
    }
}

async fn github_webhook(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> (StatusCode, &'static str) {
    let decision = decide(&shared, &headers, body);
    tracing::info!(
        event = decision.event.as_deref().unwrap_or("-"),
        branch = decision.branch.as_deref().unwrap_or("-"),
        outcome = decision.outcome,
        status = decision.status.as_u16(),
        "github webhook"
    );
    if decision.wake {
        shared.wake.notify_one();
    }
    (decision.status, decision.outcome)
}

/// Decides what to do with a delivery: the signature is checked before the event is
/// looked at, so an unsigned request learns nothing about what the server would accept.
fn decide(shared: &Shared, headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Decision {
    let Some(secret) = shared.webhook_secret.as_deref() else {
        return Decision::new(StatusCode::NOT_FOUND, "webhook disabled");
    };
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Decision::new(StatusCode::PAYLOAD_TOO_LARGE, "body too large");
        }
        Err(_) => return Decision::new(StatusCode::BAD_REQUEST, "body unreadable"),
    };
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok());
    if !signature_valid(secret, &body, signature) {
        return Decision::new(StatusCode::UNAUTHORIZED, "signature invalid");
    }
    let Some(event_name) = headers
        .get(EVENT_HEADER)
        .and_then(|value| value.to_str().ok())
    else {
        return Decision::new(StatusCode::BAD_REQUEST, "event header missing");
    };
    let mut decision = match parse_event(event_name, &body) {
        Err(_) => Decision::new(StatusCode::BAD_REQUEST, "body unparsable"),
        Ok(Event::Ping) => Decision::new(StatusCode::OK, "pong"),
        Ok(Event::Other(_)) => Decision::new(StatusCode::NO_CONTENT, "event ignored"),
        Ok(Event::Push { branch, .. }) => {
            let watched = branch.as_deref() == Some(shared.branch.as_str());
            let mut decision = if watched {
                Decision::new(StatusCode::ACCEPTED, "fetch triggered")
            } else {
                Decision::new(StatusCode::NO_CONTENT, "other ref ignored")
            };
            decision.wake = watched;
            decision.branch = branch;
            decision
        }
    };
    decision.event = Some(event_name.to_string());
    decision
}
