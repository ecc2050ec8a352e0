//! The fake API server at the HTTP layer: reading a request into a [`Recorded`], and
//! serving the store over HTTP on 127.0.0.1 for the `clawops` binary.

use http::Request;
use kube::client::Body;

use super::{FakeApi, NAMESPACE, Recorded};

/// A request as recorded: method, path, decoded query, content type, JSON body.
pub(super) fn record(parts: &http::request::Parts, bytes: &[u8]) -> Recorded {
    Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts
            .uri
            .query()
            .unwrap_or_default()
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (key.to_owned(), decode(value))
            })
            .collect(),
        content_type: parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        body: serde_json::from_slice(bytes).ok(),
    }
}

fn decode(value: &str) -> String {
    let mut out = Vec::new();
    let bytes = value.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'%' if index + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).unwrap_or("00");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                index += 3;
            }
            b'+' => {
                out.push(b' ');
                index += 1;
            }
            byte => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl FakeApi {
    /// Serves this API over HTTP on 127.0.0.1 (for the `clawops` binary); returns a
    /// kubeconfig file pointing at it, in `folder`.
    pub fn serve(&self, folder: &std::path::Path) -> std::path::PathBuf {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        listener.set_nonblocking(true).expect("non-blocking");
        let api = self.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let router = axum::Router::new()
                    .route(
                        "/api/v1/namespaces/{namespace}/pods/{pod}/exec",
                        axum::routing::get(super::exec::exec),
                    )
                    .fallback(serve_one)
                    .with_state(api);
                axum::serve(listener, router).await.expect("serve");
            });
        });
        let kubeconfig = folder.join("kubeconfig");
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://{address}\nusers:\n- name: tester\n  user: {{}}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: tester\n    namespace: {NAMESPACE}\ncurrent-context: fake\n"
        );
        std::fs::write(&kubeconfig, text).expect("write kubeconfig");
        kubeconfig
    }
}

async fn serve_one(
    axum::extract::State(api): axum::extract::State<FakeApi>,
    request: axum::extract::Request,
) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let response = api
        .answer(Request::from_parts(parts, Body::from(bytes.to_vec())))
        .await;
    let (parts, body) = response.into_parts();
    let bytes = body.collect_bytes().await.unwrap_or_default();
    axum::response::Response::from_parts(parts, axum::body::Body::from(bytes))
}
