//! A fake GitHub REST API for the `github comment` tests: a plain HTTP server on a free
//! port of 127.0.0.1, in a thread, that records every request and answers the calls the
//! command makes the way GitHub does (comment pages with `Link` headers, `GET /user`
//! answering 403 to an app installation token like GitHub Actions' or the login of a
//! user's token, 201 on create, 200 on edit, commit statuses checked as GitHub checks
//! them), or fails every request with a chosen status. `POST /hooks/<name>` answers 200:
//! the notification tests use the same server as their webhook receiver.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

/// The repository the fake serves.
pub const REPOSITORY: &str = "acme/fleet";

/// The pull request of `tests/fixtures/github/pull_request.json`.
pub const PULL_REQUEST: u64 = 42;

/// The id a created comment gets.
pub const CREATED_ID: u64 = 9_000;

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// `GET`, `POST`, `PATCH`, …
    pub method: String,
    /// The path with its query.
    pub path: String,
    /// Header names in lower case → values.
    pub headers: BTreeMap<String, String>,
    /// The body as text.
    pub body: String,
}

impl Recorded {
    /// The JSON body's `body` field.
    pub fn comment_body(&self) -> String {
        let value: Value = serde_json::from_str(&self.body).expect("a JSON body");
        value["body"].as_str().expect("a body field").to_owned()
    }
}

/// What `GET /user` answers.
#[derive(Clone, Debug, Default)]
pub enum Identity {
    /// 403 "Resource not accessible by integration", as GitHub answers an app
    /// installation token (GitHub Actions' `GITHUB_TOKEN`).
    #[default]
    Installation,
    /// 200 with this login, as for a personal access token.
    User(String),
    /// This status.
    Failing(u16),
}

#[derive(Default)]
struct State {
    pages: Vec<Vec<Value>>,
    identity: Identity,
    failure: Option<(u16, String)>,
    requests: Vec<Recorded>,
}

/// The running fake.
pub struct FakeGithub {
    state: Arc<Mutex<State>>,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

impl FakeGithub {
    /// A server whose pull request has these pages of comments.
    pub fn start(pages: Vec<Vec<Value>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let url = format!(
            "http://127.0.0.1:{}",
            listener.local_addr().expect("address").port()
        );
        let state = Arc::new(Mutex::new(State {
            pages,
            ..State::default()
        }));
        let shared = Arc::clone(&state);
        let base = url.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                serve(stream, &shared, &base);
            }
        });
        Self { state, url }
    }

    /// A server failing every request with `status` and a JSON `message`; the message may
    /// hold `{authorization}`, replaced by the request's `Authorization` header (to prove
    /// the command scrubs what GitHub says).
    pub fn failing(status: u16, message: &str) -> Self {
        let server = Self::start(Vec::new());
        server.state.lock().expect("state").failure = Some((status, message.to_owned()));
        server
    }

    /// A server whose `GET /user` answers as `identity`.
    pub fn with_identity(pages: Vec<Vec<Value>>, identity: Identity) -> Self {
        let server = Self::start(pages);
        server.state.lock().expect("state").identity = identity;
        server
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().expect("state").requests.clone()
    }

    /// The requests with this method.
    pub fn requests_of(&self, method: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|request| request.method == method)
            .collect()
    }
}

impl FakeGithub {
    /// The commit statuses set so far: (commit, state, description, context).
    pub fn statuses(&self) -> Vec<(String, String, String, String)> {
        self.requests_of("POST")
            .into_iter()
            .filter(|request| request.path.contains("/statuses/"))
            .map(|request| {
                let body: Value = serde_json::from_str(&request.body).expect("JSON status");
                let text = |field: &str| body[field].as_str().unwrap_or_default().to_owned();
                let commit = request
                    .path
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                (commit, text("state"), text("description"), text("context"))
            })
            .collect()
    }

    /// The bodies POSTed to `/hooks/<name>`, as JSON.
    pub fn hook_bodies(&self, name: &str) -> Vec<Value> {
        let path = format!("/hooks/{name}");
        self.requests_of("POST")
            .into_iter()
            .filter(|request| request.path == path)
            .map(|request| serde_json::from_str(&request.body).expect("JSON hook body"))
            .collect()
    }
}

/// A comment as GitHub lists it.
pub fn comment(id: u64, login: &str, body: &str) -> Value {
    json!({
        "id": id,
        "node_id": format!("IC_{id}"),
        "url": format!("https://api.github.com/repos/{REPOSITORY}/issues/comments/{id}"),
        "html_url": format!("https://github.com/{REPOSITORY}/pull/{PULL_REQUEST}#issuecomment-{id}"),
        "body": body,
        "user": { "login": login, "id": id + 1, "type": if login.ends_with("[bot]") { "Bot" } else { "User" } },
        "created_at": "2026-11-21T10:00:00Z",
        "updated_at": "2026-11-21T10:00:00Z",
        "author_association": "MEMBER"
    })
}

fn serve(stream: TcpStream, state: &Mutex<State>, base: &str) {
    let Some(request) = read_request(&stream) else {
        return;
    };
    let mut state = state.lock().expect("state");
    state.requests.push(request.clone());
    let (status, headers, body) = match &state.failure {
        Some((status, message)) => {
            let authorization = request
                .headers
                .get("authorization")
                .cloned()
                .unwrap_or_default();
            let message = message.replace("{authorization}", &authorization);
            (
                *status,
                Vec::new(),
                json!({ "message": message, "status": status.to_string() }),
            )
        }
        None => answer(&request, &state, base),
    };
    drop(state);
    write_response(stream, status, &headers, &body.to_string());
}

/// Routes the request like GitHub's REST API.
fn answer(request: &Recorded, state: &State, base: &str) -> (u16, Vec<String>, Value) {
    let pages = &state.pages;
    let comments_path = format!("/repos/{REPOSITORY}/issues/{PULL_REQUEST}/comments");
    let (path, query) = request
        .path
        .split_once('?')
        .unwrap_or((request.path.as_str(), ""));
    match request.method.as_str() {
        "GET" if path == "/user" => match &state.identity {
            Identity::Installation => (
                403,
                Vec::new(),
                json!({
                    "message": "Resource not accessible by integration",
                    "documentation_url": "https://docs.github.com/rest/users/users#get-the-authenticated-user",
                    "status": "403"
                }),
            ),
            Identity::User(login) => (
                200,
                Vec::new(),
                json!({ "login": login, "id": 1, "type": "User" }),
            ),
            Identity::Failing(status) => {
                (*status, Vec::new(), json!({ "message": "Server Error" }))
            }
        },
        "GET" if path == comments_path => {
            let page: usize = query
                .split('&')
                .find_map(|pair| pair.strip_prefix("page="))
                .and_then(|page| page.parse().ok())
                .unwrap_or(1);
            let comments = pages.get(page - 1).cloned().unwrap_or_default();
            let mut headers = Vec::new();
            if page < pages.len() {
                headers.push(format!(
                    "Link: <{base}{comments_path}?per_page=100&page={}>; rel=\"next\", \
                     <{base}{comments_path}?per_page=100&page={}>; rel=\"last\"",
                    page + 1,
                    pages.len()
                ));
            }
            (200, headers, Value::Array(comments))
        }
        "POST" if path == comments_path => {
            let body = request_body(request);
            (
                201,
                Vec::new(),
                comment(CREATED_ID, "github-actions[bot]", &body),
            )
        }
        "PATCH" => {
            let id: u64 = path
                .strip_prefix(&format!("/repos/{REPOSITORY}/issues/comments/"))
                .and_then(|id| id.parse().ok())
                .unwrap_or(0);
            let known = pages.iter().flatten().any(|comment| comment["id"] == id);
            if known {
                (
                    200,
                    Vec::new(),
                    comment(id, "github-actions[bot]", &request_body(request)),
                )
            } else {
                (404, Vec::new(), json!({ "message": "Not Found" }))
            }
        }
        "POST" if path.starts_with(&format!("/repos/{REPOSITORY}/statuses/")) => {
            commit_status(path, request)
        }
        // Webhook receivers (notifications) share the server.
        "POST" if path.starts_with("/hooks/") => (200, Vec::new(), json!({ "ok": true })),
        _ => (404, Vec::new(), json!({ "message": "Not Found" })),
    }
}

/// `POST /repos/{owner}/{repo}/statuses/{sha}` as GitHub checks it: a 40-hex commit, a
/// known state, a description of at most 140 characters; 201 with the status.
fn commit_status(path: &str, request: &Recorded) -> (u16, Vec<String>, Value) {
    let sha = path.rsplit('/').next().unwrap_or_default();
    let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
    let state = body["state"].as_str().unwrap_or_default();
    let description = body["description"].as_str().unwrap_or_default();
    let valid = sha.len() == 40
        && sha.chars().all(|character| character.is_ascii_hexdigit())
        && ["error", "failure", "pending", "success"].contains(&state)
        && description.chars().count() <= 140
        && body["context"].is_string();
    if !valid {
        return (422, Vec::new(), json!({ "message": "Validation Failed" }));
    }
    (
        201,
        Vec::new(),
        json!({ "id": 1, "state": state, "description": description, "context": body["context"] }),
    )
}

fn request_body(request: &Recorded) -> String {
    serde_json::from_str::<Value>(&request.body)
        .ok()
        .and_then(|value| value["body"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn read_request(stream: &TcpStream) -> Option<Recorded> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = BTreeMap::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|length| length.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Recorded {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn write_response(mut stream: TcpStream, status: u16, headers: &[String], body: &str) {
    let reason = match status {
        200 => "OK",
        201 => "Created",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        _ => "Error",
    };
    let mut response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for header in headers {
        response.push_str(header);
        response.push_str("\r\n");
    }
    response.push_str("\r\n");
    response.push_str(body);
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.flush();
}
