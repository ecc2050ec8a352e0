//! The `clawops watch` HTTP server through its router and over a real socket: the health
//! check, the status document, Prometheus metrics and every GitHub webhook decision,
//! including which of them wake the daemon.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{Request, Response, StatusCode, header};
use clawops::watch::http::{MAX_WEBHOOK_BODY, Shared, router, serve};
use clawops::watch::metrics::{Metrics, ReconcileResult};
use clawops::watch::status::{CommitAt, DaemonStatus, DriftedAgent, FailedCommit, Rollout};
use hmac::{Hmac, KeyInit, Mac};
use prometheus_parse::{LineInfo, Scrape, Value};
use sha2::Sha256;
use tokio::sync::{Notify, RwLock};
use tower::ServiceExt;

const SECRET: &[u8] = b"webhook test secret";

fn shared(secret: Option<&[u8]>) -> Shared {
    Shared {
        status: Arc::new(RwLock::new(DaemonStatus::default())),
        metrics: Arc::new(Metrics::new()),
        wake: Arc::new(Notify::new()),
        webhook_secret: secret.map(|secret| Arc::new(secret.to_vec())),
        branch: "main".to_string(),
    }
}

/// The `X-Hub-Signature-256` value for `body`. The signing itself is checked against an
/// independently computed vector in the webhook module's unit tests.
fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn hook(event: Option<&str>, signature: Option<&str>, body: Body) -> Request<Body> {
    let mut request = Request::post("/hooks/github");
    if let Some(event) = event {
        request = request.header("X-GitHub-Event", event);
    }
    if let Some(signature) = signature {
        request = request.header("X-Hub-Signature-256", signature);
    }
    request.body(body).expect("request")
}

fn signed_hook(event: &str, body: &'static [u8]) -> Request<Body> {
    hook(Some(event), Some(&sign(SECRET, body)), Body::from(body))
}

async fn send(shared: &Shared, request: Request<Body>) -> Response<Body> {
    router(shared.clone())
        .oneshot(request)
        .await
        .expect("the router is infallible")
}

async fn body_text(response: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    String::from_utf8(bytes.to_vec()).expect("utf-8 body")
}

/// Whether the daemon was woken: `notify_one` leaves a permit when no one waits yet.
async fn woken(shared: &Shared) -> bool {
    tokio::time::timeout(Duration::from_millis(50), shared.wake.notified())
        .await
        .is_ok()
}

/// Sends `request` and asserts the status and whether the daemon was woken.
async fn assert_hook(shared: &Shared, request: Request<Body>, status: StatusCode, wake: bool) {
    let response = send(shared, request).await;
    assert_eq!(response.status(), status);
    assert_eq!(woken(shared).await, wake, "wake for a {status} answer");
}

const PUSH_MAIN: &[u8] = br#"{"ref":"refs/heads/main","after":"0123abcd","before":"ffff"}"#;

#[tokio::test]
async fn healthz_answers_ok() {
    let response = send(
        &shared(None),
        Request::get("/healthz").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_text(response).await, "ok");
}

#[tokio::test]
async fn push_to_the_watched_branch_wakes_the_daemon() {
    let shared = shared(Some(SECRET));
    assert_hook(
        &shared,
        signed_hook("push", PUSH_MAIN),
        StatusCode::ACCEPTED,
        true,
    )
    .await;
}

#[tokio::test]
async fn push_to_another_branch_or_a_tag_is_ignored() {
    let shared = shared(Some(SECRET));
    let other = br#"{"ref":"refs/heads/feature","after":"0123abcd"}"#;
    assert_hook(
        &shared,
        signed_hook("push", other),
        StatusCode::NO_CONTENT,
        false,
    )
    .await;
    let tag = br#"{"ref":"refs/tags/main","after":"0123abcd"}"#;
    assert_hook(
        &shared,
        signed_hook("push", tag),
        StatusCode::NO_CONTENT,
        false,
    )
    .await;
}

#[tokio::test]
async fn ping_and_other_events() {
    let shared = shared(Some(SECRET));
    assert_hook(&shared, signed_hook("ping", b"{}"), StatusCode::OK, false).await;
    let issue = br#"{"action":"opened"}"#;
    assert_hook(
        &shared,
        signed_hook("issues", issue),
        StatusCode::NO_CONTENT,
        false,
    )
    .await;
}

#[tokio::test]
async fn webhook_without_a_secret_is_disabled() {
    let shared = shared(None);
    let signature = sign(SECRET, PUSH_MAIN);
    let request = hook(Some("push"), Some(&signature), Body::from(PUSH_MAIN));
    assert_hook(&shared, request, StatusCode::NOT_FOUND, false).await;
}

#[tokio::test]
async fn missing_or_wrong_signature_is_refused_before_the_event() {
    let shared = shared(Some(SECRET));
    let unsigned = hook(Some("push"), None, Body::from(PUSH_MAIN));
    assert_hook(&shared, unsigned, StatusCode::UNAUTHORIZED, false).await;
    let wrong_secret = sign(b"another secret", PUSH_MAIN);
    let request = hook(Some("push"), Some(&wrong_secret), Body::from(PUSH_MAIN));
    assert_hook(&shared, request, StatusCode::UNAUTHORIZED, false).await;
    // Signed for another body: the tampered one is refused.
    let tampered = br#"{"ref":"refs/heads/main","after":"evil"}"#;
    let request = hook(
        Some("push"),
        Some(&sign(SECRET, PUSH_MAIN)),
        Body::from(&tampered[..]),
    );
    assert_hook(&shared, request, StatusCode::UNAUTHORIZED, false).await;
    // A ping or an unparsable body unsigned: still 401, not 200 or 400.
    let ping = hook(Some("ping"), Some("sha256=00"), Body::from("{}"));
    assert_hook(&shared, ping, StatusCode::UNAUTHORIZED, false).await;
    let garbage = hook(Some("push"), None, Body::from("not json"));
    assert_hook(&shared, garbage, StatusCode::UNAUTHORIZED, false).await;
}

#[tokio::test]
async fn unparsable_push_or_missing_event_is_a_bad_request() {
    let shared = shared(Some(SECRET));
    assert_hook(
        &shared,
        signed_hook("push", b"not json"),
        StatusCode::BAD_REQUEST,
        false,
    )
    .await;
    let missing_ref = br#"{"after":"0123abcd"}"#;
    assert_hook(
        &shared,
        signed_hook("push", missing_ref),
        StatusCode::BAD_REQUEST,
        false,
    )
    .await;
    let no_event = hook(None, Some(&sign(SECRET, PUSH_MAIN)), Body::from(PUSH_MAIN));
    assert_hook(&shared, no_event, StatusCode::BAD_REQUEST, false).await;
}

#[tokio::test]
async fn body_over_the_limit_with_a_content_length_is_too_large() {
    let shared = shared(Some(SECRET));
    let body = vec![b' '; MAX_WEBHOOK_BODY + 1];
    let signature = sign(SECRET, &body);
    let mut request = hook(Some("push"), Some(&signature), Body::from(body));
    request
        .headers_mut()
        .insert(header::CONTENT_LENGTH, (MAX_WEBHOOK_BODY + 1).into());
    assert_hook(&shared, request, StatusCode::PAYLOAD_TOO_LARGE, false).await;
}

#[tokio::test]
async fn chunked_body_growing_past_the_limit_is_too_large() {
    let shared = shared(Some(SECRET));
    // 17 chunks of 64 KiB, no length known in advance: 1 MiB + 64 KiB in all.
    let chunks = (0..17).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b' '; 64 * 1024])));
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    let request = hook(Some("push"), Some("sha256=00"), body);
    assert_hook(&shared, request, StatusCode::PAYLOAD_TOO_LARGE, false).await;
}

#[tokio::test]
async fn body_at_the_limit_is_read() {
    let shared = shared(Some(SECRET));
    let body = vec![b' '; MAX_WEBHOOK_BODY];
    let request = hook(Some("issues"), Some(&sign(SECRET, &body)), Body::from(body));
    assert_hook(&shared, request, StatusCode::NO_CONTENT, false).await;
}

fn sample_status() -> DaemonStatus {
    DaemonStatus {
        remote: "https://example.invalid/fleet.git".to_string(),
        branch: "main".to_string(),
        path: Some("fleet".to_string()),
        self_heal: true,
        last_fetched: Some(CommitAt {
            commit: "b".repeat(40),
            subject: "Scale the reviewers".to_string(),
            at: 1_700_000_100,
        }),
        last_applied: Some(CommitAt {
            commit: "a".repeat(40),
            subject: "Add a reviewer".to_string(),
            at: 1_700_000_000,
        }),
        failed: vec![FailedCommit {
            commit: "c".repeat(40),
            reason: "invalid: unknown model".to_string(),
            at: 1_700_000_050,
        }],
        drift: vec![DriftedAgent {
            agent: "reviewer-1".to_string(),
            cause: "container missing".to_string(),
        }],
        rollout: Some(Rollout {
            commit: "b".repeat(40),
            started_at: 1_700_000_101,
            steps_total: 4,
            steps_done: 1,
        }),
    }
}

#[tokio::test]
async fn status_round_trips_as_json() {
    let shared = shared(None);
    *shared.status.write().await = sample_status();
    let response = send(
        &shared,
        Request::get("/status").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
    assert_eq!(content_type.unwrap(), "application/json");
    let status: DaemonStatus = serde_json::from_str(&body_text(response).await).expect("json");
    assert_eq!(status, sample_status());
}

fn value_of<'a>(scrape: &'a Scrape, metric: &str, label: Option<(&str, &str)>) -> &'a Value {
    let sample = scrape.samples.iter().find(|sample| {
        sample.metric == metric
            && label.is_none_or(|(name, value)| sample.labels.get(name) == Some(value))
    });
    &sample
        .unwrap_or_else(|| panic!("no {metric} {label:?}"))
        .value
}

fn scalar(value: &Value) -> f64 {
    match value {
        Value::Counter(number) | Value::Gauge(number) | Value::Untyped(number) => *number,
        other => panic!("not a scalar: {other:?}"),
    }
}

/// The histogram's cumulative count of observations up to `bound`.
fn bucket(value: &Value, bound: f64) -> f64 {
    let Value::Histogram(buckets) = value else {
        panic!("not a histogram: {value:?}")
    };
    buckets
        .iter()
        .find(|bucket| bucket.less_than == bound)
        .unwrap_or_else(|| panic!("no bucket {bound}"))
        .count
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text() {
    let shared = shared(None);
    shared
        .metrics
        .observe_reconcile(0.3, ReconcileResult::Applied);
    shared
        .metrics
        .observe_reconcile(42.0, ReconcileResult::RolledBack);
    shared
        .metrics
        .observe_reconcile(0.02, ReconcileResult::NoChange);
    shared.metrics.observe_fetch(1.5);
    shared.metrics.set_drifted(3);
    shared.metrics.set_last_applied("0123abcd");
    let response = send(
        &shared,
        Request::get("/metrics").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers().get(header::CONTENT_TYPE).unwrap(),
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let text = body_text(response).await;
    // prometheus-parse reads the classic text format line by line; every line of the
    // OpenMetrics page must be one it understands, except the `# EOF` terminator, which
    // it skips as a comment (so there is nothing to strip).
    for line in text.lines().filter(|line| *line != "# EOF") {
        assert_ne!(
            LineInfo::parse(line),
            LineInfo::Ignored,
            "unparsed line: {line}"
        );
    }
    let scrape = Scrape::parse(text.lines().map(|line| Ok(line.to_string()))).expect("parse");

    let reconcile = value_of(&scrape, "clawops_reconcile_duration_seconds", None);
    assert_eq!(bucket(reconcile, 0.01), 0.0);
    assert_eq!(bucket(reconcile, 0.025), 1.0);
    assert_eq!(bucket(reconcile, 0.5), 2.0);
    assert_eq!(bucket(reconcile, 60.0), 3.0);
    assert_eq!(bucket(reconcile, f64::INFINITY), 3.0);
    let count = value_of(&scrape, "clawops_reconcile_duration_seconds_count", None);
    assert_eq!(scalar(count), 3.0);

    // OpenMetrics types the counter by its family name, without `_total`, so the
    // classic-format parser reports the `_total` samples as untyped; `scalar` takes both.
    let outcomes = "clawops_reconcile_outcomes_total";
    assert_eq!(
        scalar(value_of(&scrape, outcomes, Some(("result", "applied")))),
        1.0
    );
    assert_eq!(
        scalar(value_of(&scrape, outcomes, Some(("result", "rolled_back")))),
        1.0
    );
    assert_eq!(
        scalar(value_of(&scrape, outcomes, Some(("result", "failed")))),
        0.0
    );

    assert_eq!(
        scalar(value_of(&scrape, "clawops_drifted_agents", None)),
        3.0
    );
    let fetch = value_of(&scrape, "clawops_git_fetch_duration_seconds", None);
    assert_eq!(bucket(fetch, 1.0), 0.0);
    assert_eq!(bucket(fetch, 2.5), 1.0);
    let commit = value_of(&scrape, "clawops_last_applied_commit_info", None);
    assert_eq!(scalar(commit), 1.0);
    let commit_sample = scrape
        .samples
        .iter()
        .filter(|sample| sample.metric == "clawops_last_applied_commit_info")
        .collect::<Vec<_>>();
    assert_eq!(commit_sample.len(), 1);
    assert_eq!(commit_sample[0].labels.get("commit"), Some("0123abcd"));
}

#[tokio::test]
async fn serve_answers_over_tcp_and_shuts_down() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, shared(None), async {
        let _ = stopped.await;
    }));
    let response = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(address).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        response
    })
    .await
    .expect("client");
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.ends_with("\r\n\r\nok"), "{response}");

    stop.send(()).expect("server still running");
    let finished = tokio::time::timeout(Duration::from_secs(10), server).await;
    assert!(matches!(finished, Ok(Ok(Ok(())))), "{finished:?}");
}
