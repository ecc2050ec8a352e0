//! [`RestTransport`]: the embedded HiClaw controller (the installer's all-in-one
//! `hiclaw-controller` container) driven through its REST API, by default
//! `http://localhost:8090`, with `Authorization: Bearer <token>` ([`AuthToken`], from
//! `HICLAW_AUTH_TOKEN` or the file `HICLAW_AUTH_TOKEN_FILE` names).
//!
//! Routes (JSON): `POST /api/v1/<plural>` creates (body: `name` plus the spec fields),
//! `GET /api/v1/<plural>` lists (`{"items": […], "total": n}`), `GET|PUT|DELETE
//! /api/v1/<plural>/<name>` reads, replaces and deletes one object (Humans have no PUT: a
//! changed Human is deleted and created again), `GET /api/v1/workers?team=<t>` lists a
//! Team's members as worker entries, `GET /api/v1/workers/<name>/status` reads one
//! Worker. Answers are read leniently: every field is optional, unknown ones are ignored.
//!
//! The API returns no specs and keeps nothing for clawops, so what clawops applied (specs
//! included) is kept in a record file on this machine, and the fleet's apply lock is a
//! file beside it (see `record_file`): that lock only guards clawops runs sharing the
//! record folder (point it at a shared volume with `--hiclaw-record`).
//!
//! The token is only ever put in the `Authorization` header (marked sensitive): it is not
//! in this type's `Debug` form, in errors (a server message echoing it is scrubbed) or in
//! logs.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, Url};
use serde_json::Value;

use super::model::{Applied, Kind, LiveObject, MemberStatus, ObjectId, Record};
use super::record_file::RecordFiles;
use super::transport::Transport;
use crate::backend::error::transient_status;
use crate::backend::{BackendError, LockHolder};
use crate::desired::hiclaw::SpecFields;

pub use super::record_file::default_record_dir;
pub use auth::{AuthToken, TOKEN_FILE_VARIABLE, TOKEN_VARIABLE};

use wire::{
    AgentEntry, NamedAgent, StatusError, agents_object, body_of, decode, entry_name, human_differs,
    items, not_found, server_message, transient_send,
};

mod auth;
mod wire;

/// How long connecting to the controller may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one request may take, answer included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How many Teams' member lists [`Transport::list`] asks for at once.
const TEAMS_AT_ONCE: usize = 8;
/// The embedded controller's REST API as a [`Transport`].
pub struct RestTransport {
    http: reqwest::Client,
    /// The controller's address as given, without a trailing `/`.
    url: String,
    base: Url,
    token: Option<AuthToken>,
    /// `Bearer <token>`, marked sensitive.
    authorization: Option<HeaderValue>,
    controller: String,
    fleet: String,
    files: RecordFiles,
    /// The record as last loaded, saved or written to (`None`: not read yet).
    record: Mutex<Option<Record>>,
}

impl std::fmt::Debug for RestTransport {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RestTransport")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("controller", &self.controller)
            .field("fleet", &self.fleet)
            .field("record", &self.files.record_path())
            .finish_non_exhaustive()
    }
}

impl RestTransport {
    /// A transport for `fleet` on the controller `controller` at `url` (`http://` or
    /// `https://`, without credentials in it), sending `token` when given, keeping its
    /// record under `record_dir` (see [`default_record_dir`]). Nothing is sent yet.
    pub fn new(
        url: &str,
        token: Option<AuthToken>,
        controller: &str,
        fleet: &str,
        record_dir: &Path,
    ) -> Result<Self, BackendError> {
        let url = url.trim().trim_end_matches('/');
        let base = auth::parse_base(url)?;
        let token = token.filter(|token| !token.is_empty());
        let authorization = token
            .as_ref()
            .map(|token| auth::bearer(url, token))
            .transpose()?;
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("clawops/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| BackendError::Connect {
                address: url.to_owned(),
                source: Box::new(error.without_url()),
            })?;
        Ok(Self {
            http,
            url: url.to_owned(),
            base,
            token,
            authorization,
            controller: controller.to_owned(),
            fleet: fleet.to_owned(),
            files: RecordFiles::new(record_dir, url, fleet),
            record: Mutex::new(None),
        })
    }

    /// The record file this transport keeps.
    pub fn record_path(&self) -> std::path::PathBuf {
        self.files.record_path()
    }

    /// `<base>/api/v1/<segments…>`, with `?team=<team>` when given.
    fn endpoint(&self, segments: &[&str], team: Option<&str>) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(["api", "v1"]).extend(segments);
        }
        if let Some(team) = team {
            url.query_pairs_mut().append_pair("team", team);
        }
        url
    }

    fn object_url(&self, id: &ObjectId) -> Url {
        self.endpoint(&[id.kind.plural(), &id.name], None)
    }

    /// Sends one request; the answer's body on a 2xx, `None` on a 404, else an error
    /// naming `operation` and `agent`.
    async fn call(
        &self,
        operation: &'static str,
        agent: &str,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<Option<Vec<u8>>, BackendError> {
        tracing::debug!(%method, path = url.path(), query = url.query(), "hiclaw rest request");
        let mut request = self.http.request(method, url);
        if let Some(authorization) = &self.authorization {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let response = request
            .send()
            .await
            .map_err(|error| self.send_error(operation, agent, error))?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|error| self.send_error(operation, agent, error))?;
        tracing::debug!(status, "hiclaw rest answer");
        match status {
            200..=299 => Ok(Some(bytes.to_vec())),
            404 => Ok(None),
            _ => Err(BackendError::Request {
                operation,
                agent: agent.to_owned(),
                transient: transient_status(status),
                source: Box::new(self.status_error(status, &bytes)),
            }),
        }
    }

    /// A request that did not get an answer: the controller unreachable ([`BackendError::Connect`]
    /// at its URL) or the exchange cut short.
    fn send_error(
        &self,
        operation: &'static str,
        agent: &str,
        error: reqwest::Error,
    ) -> BackendError {
        if error.is_connect() {
            return BackendError::Connect {
                address: self.url.clone(),
                source: Box::new(error),
            };
        }
        BackendError::Request {
            operation,
            agent: agent.to_owned(),
            transient: transient_send(&error),
            source: Box::new(error),
        }
    }

    /// What an error status says, with the server's message (the token scrubbed from it).
    fn status_error(&self, status: u16, body: &[u8]) -> StatusError {
        let mut message = server_message(body);
        if let Some(token) = &self.token {
            message = token.scrub(&message);
        }
        let reason = match (status, &self.token) {
            (401 | 403, Some(_)) => format!(
                "the controller refused the token ({TOKEN_VARIABLE} / {TOKEN_FILE_VARIABLE}); check that it is this controller's current token"
            ),
            (401 | 403, None) => format!(
                "the controller asks for a token: set {TOKEN_VARIABLE} or {TOKEN_FILE_VARIABLE}"
            ),
            _ => reqwest::StatusCode::from_u16(status)
                .ok()
                .and_then(|code| code.canonical_reason())
                .unwrap_or("error")
                .to_owned(),
        };
        StatusError {
            status,
            message: if message.is_empty() {
                reason
            } else {
                format!("{reason}: {message}")
            },
        }
    }

    /// Sends `body` and requires an answer (a 404 is an error: the route or the object is
    /// missing).
    async fn send_body(
        &self,
        operation: &'static str,
        id: &ObjectId,
        method: Method,
        url: Url,
        body: &Value,
    ) -> Result<(), BackendError> {
        match self
            .call(operation, &id.to_string(), method, url, Some(body))
            .await?
        {
            Some(_) => Ok(()),
            None => Err(not_found(operation, id, operation == "update")),
        }
    }

    /// One object's entry (`None`: not there).
    async fn get_entry(&self, id: &ObjectId, url: Url) -> Result<Option<Value>, BackendError> {
        let agent = id.to_string();
        match self.call("read", &agent, Method::GET, url, None).await? {
            Some(bytes) => decode("read", &agent, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Every entry of one kind.
    async fn list_kind(&self, kind: Kind) -> Result<Vec<Value>, BackendError> {
        let url = self.endpoint(&[kind.plural()], None);
        let agent = format!("/api/v1/{}", kind.plural());
        let Some(bytes) = self.call("list", &agent, Method::GET, url, None).await? else {
            return Err(BackendError::Request {
                operation: "list",
                agent,
                transient: false,
                source: format!("{} answers 404 here: is it a HiClaw controller?", self.url).into(),
            });
        };
        decode("list", &agent, &bytes).map(items)
    }

    /// A Team's members as worker entries (`None`: no such Team).
    async fn team_members(&self, team: &str) -> Result<Option<Vec<NamedAgent>>, BackendError> {
        let url = self.endpoint(&["workers"], Some(team));
        let agent = ObjectId::new(Kind::Team, team).to_string();
        let Some(bytes) = self
            .call("list members", &agent, Method::GET, url, None)
            .await?
        else {
            return Ok(None);
        };
        let entries = decode("list members", &agent, &bytes).map(items)?;
        Ok(Some(
            entries.into_iter().filter_map(AgentEntry::parse).collect(),
        ))
    }

    /// Records `applied` (with `spec`, which the API cannot give back) for `id`, and saves
    /// the record.
    fn remember(
        &self,
        id: &ObjectId,
        spec: &SpecFields,
        applied: &Applied,
    ) -> Result<(), BackendError> {
        let mut applied = applied.clone();
        applied.spec = Some(spec.clone());
        self.update_record(|record| {
            record.objects.insert(id.clone(), applied);
            true
        })
    }

    /// `DELETE` of the object.
    async fn send_delete(&self, id: &ObjectId) -> Result<(), BackendError> {
        self.call(
            "delete",
            &id.to_string(),
            Method::DELETE,
            self.object_url(id),
            None,
        )
        .await
        .map(drop)
    }

    /// Changes the in-memory record (read from the file first if need be) and saves it
    /// when `change` says it changed it.
    fn update_record(&self, change: impl FnOnce(&mut Record) -> bool) -> Result<(), BackendError> {
        let mut guard = self.record.lock().unwrap_or_else(PoisonError::into_inner);
        let mut record = match guard.take() {
            Some(record) => record,
            None => self.files.load()?,
        };
        let saved = if change(&mut record) {
            self.files.save(&record)
        } else {
            Ok(())
        };
        *guard = Some(record);
        saved
    }
}

#[async_trait::async_trait]
impl Transport for RestTransport {
    fn describe(&self) -> String {
        format!("hiclaw rest {}", self.url)
    }

    async fn list(&self) -> Result<BTreeMap<ObjectId, LiveObject>, BackendError> {
        let (humans, teams, workers, managers) = futures_util::try_join!(
            self.list_kind(Kind::Human),
            self.list_kind(Kind::Team),
            self.list_kind(Kind::Worker),
            self.list_kind(Kind::Manager),
        )?;
        let mut live = BTreeMap::new();
        for name in humans.iter().filter_map(entry_name) {
            live.insert(ObjectId::new(Kind::Human, name), LiveObject::default());
        }
        for (kind, entries) in [(Kind::Worker, workers), (Kind::Manager, managers)] {
            // Team members listed among the workers are their Team's, not Worker objects.
            for entry in entries.into_iter().filter_map(AgentEntry::parse) {
                if entry.entry.team.is_none() {
                    let id = ObjectId::new(kind, &entry.name);
                    live.insert(id, agents_object(vec![entry.member_status()]));
                }
            }
        }
        let team_names: Vec<&str> = teams.iter().filter_map(entry_name).collect();
        let lookups: Vec<_> = team_names
            .iter()
            .map(|team| self.team_members(team))
            .collect();
        let members: Vec<_> = futures_util::stream::iter(lookups)
            .buffered(TEAMS_AT_ONCE)
            .try_collect()
            .await?;
        for (team, members) in team_names.into_iter().zip(members) {
            let agents = members
                .unwrap_or_default()
                .iter()
                .map(NamedAgent::member_status)
                .collect();
            live.insert(ObjectId::new(Kind::Team, team), agents_object(agents));
        }
        Ok(live)
    }

    async fn load_record(
        &self,
        live: &BTreeMap<ObjectId, LiveObject>,
    ) -> Result<Record, BackendError> {
        let mut guard = self.record.lock().unwrap_or_else(PoisonError::into_inner);
        let record = self.files.load()?;
        let gone = record
            .objects
            .keys()
            .filter(|id| !live.contains_key(id))
            .count();
        tracing::debug!(
            record = %self.files.record_path().display(),
            objects = record.objects.len(),
            gone,
            "hiclaw record loaded"
        );
        *guard = Some(record.clone());
        Ok(record)
    }

    async fn save_record(&self, record: &Record) -> Result<(), BackendError> {
        let mut guard = self.record.lock().unwrap_or_else(PoisonError::into_inner);
        self.files.save(record)?;
        *guard = Some(record.clone());
        Ok(())
    }

    async fn write(
        &self,
        id: &ObjectId,
        spec: &SpecFields,
        applied: &Applied,
    ) -> Result<(), BackendError> {
        let body = body_of(id, spec);
        let collection = self.endpoint(&[id.kind.plural()], None);
        match self.get_entry(id, self.object_url(id)).await? {
            None => {
                self.send_body("create", id, Method::POST, collection, &body)
                    .await?;
            }
            Some(entry) if id.kind == Kind::Human => {
                if human_differs(&entry, spec) {
                    tracing::info!(object = %id, "replacing a changed Human (no PUT for Humans)");
                    self.send_delete(id).await?;
                    self.send_body("create", id, Method::POST, collection, &body)
                        .await?;
                }
            }
            Some(_) => {
                self.send_body("update", id, Method::PUT, self.object_url(id), &body)
                    .await?;
            }
        }
        self.remember(id, spec, applied)
    }

    /// The REST API answers with a summary of each member, not its whole spec: every
    /// write starts from the record's spec instead.
    async fn spec(
        &self,
        _id: &ObjectId,
    ) -> Result<Option<crate::desired::hiclaw::SpecFields>, BackendError> {
        Ok(None)
    }

    async fn delete(&self, id: &ObjectId) -> Result<(), BackendError> {
        self.send_delete(id).await?;
        self.update_record(|record| record.objects.remove(id).is_some())
    }

    async fn status(
        &self,
        id: &ObjectId,
        member: &str,
    ) -> Result<Option<MemberStatus>, BackendError> {
        let url = match id.kind {
            Kind::Human => return Ok(None),
            Kind::Team => {
                let members = self.team_members(&id.name).await?.unwrap_or_default();
                return Ok(members
                    .into_iter()
                    .find(|entry| entry.name == member)
                    .map(|entry| entry.member_status()));
            }
            Kind::Worker => self.endpoint(&["workers", &id.name, "status"], None),
            Kind::Manager => self.object_url(id),
        };
        let entry = self.get_entry(id, url).await?;
        Ok(entry
            .and_then(AgentEntry::parse)
            .map(|entry| entry.member_status()))
    }

    async fn try_lock(&self, holder: &LockHolder) -> Result<(), BackendError> {
        self.files.try_lock(holder).await
    }

    async fn renew_lock(&self, holder: &LockHolder) -> Result<(), BackendError> {
        self.files.renew_lock(holder)
    }

    async fn unlock(&self, holder: Option<&LockHolder>) -> Result<(), BackendError> {
        self.files.unlock(holder)
    }

    fn reports_spec_hash(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests;
