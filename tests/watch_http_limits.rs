//! The `clawops watch` HTTP server's connection limits over real sockets: a client that
//! trickles its headers (slowloris) is cut off within the header timeout, a body that
//! trickles in gets 408, idle connections past the cap never lock out `/healthz`, a new
//! connection is closed at once only when every connection is busy, and shutdown ends
//! within its grace with slow clients still connected.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use clawops::watch::http::{Limits, Shared, serve, serve_with};
use clawops::watch::metrics::Metrics;
use clawops::watch::status::DaemonStatus;
use tokio::sync::{Notify, RwLock};

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

/// A server on a free port of 127.0.0.1 within `limits`, its address, the sender that
/// stops it and its task.
async fn start(
    limits: Limits,
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_with(listener, shared(Some(SECRET)), limits, async {
        let _ = stopped.await;
    }));
    (address, stop, server)
}

/// Whether the server closed `stream` within `within`: a read sees the end (or a reset)
/// before the time is up. Bytes the server sends (a 408) are read past.
fn closed_within(stream: &mut std::net::TcpStream, within: Duration) -> bool {
    let deadline = std::time::Instant::now() + within;
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut buffer = [0_u8; 1024];
    while std::time::Instant::now() < deadline {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return true,
        }
    }
    false
}

/// `GET /healthz` on a new connection: the status line, or the error.
fn healthz(address: std::net::SocketAddr) -> Result<String, std::io::Error> {
    let mut stream = std::net::TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response.lines().next().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn a_slowloris_client_is_cut_off_within_the_header_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let _server = tokio::spawn(serve(listener, shared(None), std::future::pending()));
    let limit = Limits::default().header_read_timeout;
    assert!(limit <= Duration::from_secs(10), "{limit:?}");
    let (cut, elapsed) = tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let mut stream = std::net::TcpStream::connect(address).expect("connect");
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\n")
            .expect("write");
        // One header byte every half second, never the blank line.
        for _ in 0..60 {
            if stream.write_all(b"X").is_err()
                || closed_within(&mut stream, Duration::from_millis(500))
            {
                return (true, started.elapsed());
            }
        }
        (false, started.elapsed())
    })
    .await
    .expect("client");
    assert!(cut, "still open after {elapsed:?}");
    assert!(
        elapsed < limit + Duration::from_secs(10),
        "cut after {elapsed:?}"
    );
}

#[tokio::test]
async fn a_body_that_trickles_in_is_answered_408() {
    let limits = Limits {
        request_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let (address, _stop, _server) = start(limits).await;
    let response = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(address).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        stream
            .write_all(
                b"POST /hooks/github HTTP/1.1\r\nHost: localhost\r\nX-GitHub-Event: push\r\n\
                  Content-Length: 1000\r\n\r\n{\"ref\":",
            )
            .expect("write");
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        response
    })
    .await
    .expect("client");
    assert!(response.starts_with("HTTP/1.1 408 "), "{response:?}");
}

#[tokio::test]
async fn idle_connections_beyond_the_cap_do_not_stop_healthz() {
    let limits = Limits {
        max_connections: 8,
        header_read_timeout: Duration::from_secs(120),
        ..Limits::default()
    };
    let (address, _stop, _server) = start(limits).await;
    let (closed, answer) = tokio::task::spawn_blocking(move || {
        let mut idle: Vec<std::net::TcpStream> = (0..20)
            .map(|_| {
                let stream = std::net::TcpStream::connect(address).expect("connect");
                std::thread::sleep(Duration::from_millis(20));
                stream
            })
            .collect();
        let answer = healthz(address);
        let closed = idle
            .iter_mut()
            .map(|stream| closed_within(stream, Duration::from_millis(500)))
            .filter(|closed| *closed)
            .count();
        (closed, answer)
    })
    .await
    .expect("client");
    assert_eq!(answer.expect("healthz answers"), "HTTP/1.1 200 OK");
    assert!(
        closed >= 20 - 8,
        "only {closed} of 20 idle connections closed: the cap is 8"
    );
}

#[tokio::test]
async fn with_every_connection_busy_a_new_one_is_closed_at_once() {
    let limits = Limits {
        max_connections: 2,
        request_timeout: Duration::from_secs(120),
        ..Limits::default()
    };
    let (address, _stop, _server) = start(limits).await;
    let closed = tokio::task::spawn_blocking(move || {
        let busy: Vec<std::net::TcpStream> = (0..2)
            .map(|_| {
                let mut stream = std::net::TcpStream::connect(address).expect("connect");
                stream
                    .write_all(
                        b"POST /hooks/github HTTP/1.1\r\nHost: localhost\r\n\
                          Content-Length: 1000\r\n\r\n{",
                    )
                    .expect("write");
                stream
            })
            .collect();
        std::thread::sleep(Duration::from_millis(500));
        let mut extra = std::net::TcpStream::connect(address).expect("connect");
        let closed = closed_within(&mut extra, Duration::from_secs(5));
        drop(busy);
        closed
    })
    .await
    .expect("client");
    assert!(closed, "a connection over the cap stayed open");
}

#[tokio::test]
async fn shutdown_completes_within_the_grace_with_slow_clients_open() {
    let limits = Limits::default();
    let (address, stop, server) = start(limits).await;
    let clients = tokio::task::spawn_blocking(move || {
        let idle = std::net::TcpStream::connect(address).expect("connect");
        let mut headers = std::net::TcpStream::connect(address).expect("connect");
        headers
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x")
            .expect("write");
        let mut body = std::net::TcpStream::connect(address).expect("connect");
        body.write_all(b"POST /hooks/github HTTP/1.1\r\nContent-Length: 99\r\n\r\n{")
            .expect("write");
        std::thread::sleep(Duration::from_millis(500));
        vec![idle, headers, body]
    })
    .await
    .expect("clients");
    let started = std::time::Instant::now();
    stop.send(()).expect("server running");
    let finished = tokio::time::timeout(Duration::from_secs(8), server).await;
    assert!(matches!(finished, Ok(Ok(Ok(())))), "{finished:?}");
    assert!(
        started.elapsed() < limits.shutdown_grace + Duration::from_secs(3),
        "shutdown took {:?}",
        started.elapsed()
    );
    let still_open = tokio::task::spawn_blocking(move || {
        clients
            .into_iter()
            .filter(|client| {
                let mut client = client.try_clone().expect("clone");
                !closed_within(&mut client, Duration::from_secs(2))
            })
            .count()
    })
    .await
    .expect("clients");
    assert_eq!(still_open, 0, "the server left connections open");
}
