//! The daemon's HTTP connections, bounded: every connection must send its request
//! headers within [`Limits::header_read_timeout`] (an idle keep-alive connection too),
//! every request is answered within [`Limits::request_timeout`] (a body that trickles in
//! gets 408), at most [`Limits::max_connections`] are open at once, and shutdown waits
//! [`Limits::shutdown_grace`] at most for the connections still open.
//!
//! The cap protects the daemon's file descriptors (git fetches need them) without letting
//! idle clients lock out the health check: when the cap is reached, the connection that
//! has been idle the longest (no request in flight: waiting for headers, or kept alive)
//! is closed to make room for the new one; only when every connection has a request in
//! flight is the new connection closed at once. A request in flight ends within the
//! request timeout, so the cap frees up within that time whatever clients do.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::{Service, service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

/// What a connection may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// How long a connection may take to send a request's headers, counted from when the
    /// server starts waiting for them (a new or a kept-alive connection).
    pub header_read_timeout: Duration,
    /// How long a request may take once its headers are in: reading the body and
    /// answering. Past it the answer is 408.
    pub request_timeout: Duration,
    /// The most connections open at once.
    pub max_connections: usize,
    /// How long shutdown waits for the connections still open before closing them.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            max_connections: 64,
            shutdown_grace: Duration::from_secs(3),
        }
    }
}

/// One open connection, as the cap sees it.
struct Entry {
    /// Requests in flight (0 or 1 over HTTP/1 without pipelining).
    busy: usize,
    /// Since when it has had no request in flight.
    idle_since: Instant,
    /// Closes the connection at once.
    close: Arc<Notify>,
}

/// The open connections.
#[derive(Default)]
struct Registry {
    next_id: u64,
    open: HashMap<u64, Entry>,
}

/// The open connections and the cap on them.
struct Connections {
    registry: Mutex<Registry>,
    max: usize,
}

impl Connections {
    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits a new connection, closing the longest-idle one when the cap is reached;
    /// `None` (close the new one) when every open connection has a request in flight.
    fn admit(self: &Arc<Self>) -> Option<Slot> {
        let mut registry = self.lock();
        if registry.open.len() >= self.max {
            let evicted = registry
                .open
                .iter()
                .filter(|(_, entry)| entry.busy == 0)
                .min_by_key(|(_, entry)| entry.idle_since)
                .map(|(id, _)| *id)?;
            if let Some(entry) = registry.open.remove(&evicted) {
                tracing::debug!(
                    id = evicted,
                    "connection cap reached: closing the longest-idle connection"
                );
                entry.close.notify_one();
            }
        }
        let id = registry.next_id;
        registry.next_id += 1;
        let close = Arc::new(Notify::new());
        registry.open.insert(
            id,
            Entry {
                busy: 0,
                idle_since: Instant::now(),
                close: Arc::clone(&close),
            },
        );
        Some(Slot {
            id,
            connections: Arc::clone(self),
            close,
        })
    }
}

/// A connection's place under the cap; freed when dropped.
struct Slot {
    id: u64,
    connections: Arc<Connections>,
    close: Arc<Notify>,
}

impl Slot {
    /// Marks a request in flight until the guard is dropped.
    fn busy(&self) -> Busy {
        if let Some(entry) = self.connections.lock().open.get_mut(&self.id) {
            entry.busy += 1;
        }
        Busy {
            id: self.id,
            connections: Arc::clone(&self.connections),
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.connections.lock().open.remove(&self.id);
    }
}

/// A request in flight.
struct Busy {
    id: u64,
    connections: Arc<Connections>,
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Some(entry) = self.connections.lock().open.get_mut(&self.id) {
            entry.busy = entry.busy.saturating_sub(1);
            entry.idle_since = Instant::now();
        }
    }
}

/// Serves `router` on `listener` within `limits` until `shutdown` completes; then stops
/// accepting, lets the open connections finish for [`Limits::shutdown_grace`] at most,
/// closes the rest and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let connections = Arc::new(Connections {
        registry: Mutex::new(Registry::default()),
        max: limits.max_connections.max(1),
    });
    let (stop, stopping) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => match connections.admit() {
                    Some(slot) => {
                        let connection =
                            connection(stream, router.clone(), limits, slot, stopping.clone());
                        tasks.spawn(connection);
                    }
                    None => tracing::warn!(
                        max = connections.max,
                        "connection closed: every connection has a request in flight"
                    ),
                },
                Err(error) => {
                    // Out of file descriptors, most likely: wait for some to close.
                    tracing::warn!(%error, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stop.send(true);
    let drained = tokio::time::timeout(limits.shutdown_grace, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::info!(
            open = tasks.len(),
            "closing the connections still open after the shutdown grace"
        );
        tasks.shutdown().await;
    }
    Ok(())
}

/// Serves one connection until it ends, is evicted, or shutdown starts (then it ends
/// after the request in flight, if any; [`serve`] bounds how long that may take).
async fn connection(
    stream: TcpStream,
    router: Router,
    limits: Limits,
    slot: Slot,
    mut stopping: watch::Receiver<bool>,
) {
    let close = Arc::clone(&slot.close);
    let slot = Arc::new(slot);
    let inner = TowerToHyperService::new(router);
    let service = service_fn(move |request: hyper::Request<Incoming>| {
        let busy = slot.busy();
        let call = inner.call(request);
        async move {
            let answer = match tokio::time::timeout(limits.request_timeout, call).await {
                Ok(answer) => answer,
                Err(_) => Ok((StatusCode::REQUEST_TIMEOUT, "request timed out").into_response()),
            };
            drop(busy);
            answer
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let mut served = std::pin::pin!(builder.serve_connection(TokioIo::new(stream), service));
    tokio::select! {
        result = served.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%error, "connection ended");
            }
            return;
        }
        () = close.notified() => return,
        _ = stopping.changed() => served.as_mut().graceful_shutdown(),
    }
    if let Err(error) = served.await {
        tracing::debug!(%error, "connection ended");
    }
}
