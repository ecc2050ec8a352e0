//! The pods `exec` subresource of the simulated API server, as the kubelet answers it
//! through the API server: a WebSocket on the `v4.channel.k8s.io` protocol, the output on
//! channel 1 and the exit status as a `Status` on channel 3. Each command is answered by
//! a script the test gives, and recorded.

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::FakeApi;

/// Answers a command run in a pod: its exit code and output.
pub type ExecScript = Arc<dyn Fn(&str, &[String]) -> (i64, String) + Send + Sync>;

/// One `exec` request as the API server received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exec {
    /// The pod.
    pub pod: String,
    /// The `container` parameter.
    pub container: String,
    /// The `command` parameters, in order.
    pub command: Vec<String>,
    /// `stdin`, `stdout`, `stderr`, `tty` as sent (`stdin=` when not sent: no stdin).
    pub streams: String,
}

impl FakeApi {
    /// Makes the pods answer `exec` with `script`.
    pub fn on_exec(
        &self,
        script: impl Fn(&str, &[String]) -> (i64, String) + Send + Sync + 'static,
    ) {
        self.state.lock().expect("state").exec_script = Some(Arc::new(script));
    }

    /// Every `exec` received so far.
    pub fn execs(&self) -> Vec<Exec> {
        self.state.lock().expect("state").execs.clone()
    }
}

/// `GET /api/v1/namespaces/{namespace}/pods/{pod}/exec?command=…&container=…`, upgraded.
pub async fn exec(
    State(api): State<FakeApi>,
    Path((_namespace, pod)): Path<(String, String)>,
    Query(query): Query<Vec<(String, String)>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let values = |key: &str| -> Vec<String> {
        query
            .iter()
            .filter(|(name, _)| name == key)
            .map(|(_, value)| value.clone())
            .collect()
    };
    let command = values("command");
    let streams = ["stdin", "stdout", "stderr", "tty"]
        .map(|stream| format!("{stream}={}", values(stream).join(",")))
        .join(" ");
    let script = {
        let mut state = api.state.lock().expect("state");
        state.execs.push(Exec {
            pod: pod.clone(),
            container: values("container").join(","),
            command: command.clone(),
            streams,
        });
        state.exec_script.clone()
    };
    let (code, output) = script.map_or((127, "no such command".to_owned()), |script| {
        script(&pod, &command)
    });
    upgrade
        .protocols(["v4.channel.k8s.io"])
        .on_upgrade(move |mut socket| async move {
            let mut stdout = vec![1_u8];
            stdout.extend_from_slice(output.as_bytes());
            let status = if code == 0 {
                json!({"metadata": {}, "status": "Success"})
            } else {
                json!({"metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
                       "message": format!("command terminated with non-zero exit code: {code}"),
                       "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]}})
            };
            let mut error = vec![3_u8];
            error.extend_from_slice(status.to_string().as_bytes());
            let _ = socket.send(Message::Binary(stdout.into())).await;
            let _ = socket.send(Message::Binary(error.into())).await;
            let _ = socket.send(Message::Close(None)).await;
        })
        .into_response()
}
