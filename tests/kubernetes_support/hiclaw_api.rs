//! What tests see of the simulated HiClaw controller (see `hiclaw`): object and agent
//! names, spec hashes, containers, the history of spec changes, and the handles on
//! [`FakeApi`]: the ready delay, the objects with their status, and the runtime's own
//! sleep and wake switch (what a team leader or the auto-sleep loop does).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::fields::RUNTIME_MANAGER;
use super::{FakeApi, NAMESPACE, State, object_path};

/// The group and version of every HiClaw object's path.
pub const GROUP_VERSION: &str = "hiclaw.io/v1beta1";
/// The label that says which controller an object belongs to.
pub const CONTROLLER_LABEL: &str = "hiclaw.io/controller";
/// The Matrix server name of every simulated account.
pub const MATRIX_DOMAIN: &str = "hiclaw.local";
/// How long a changed agent takes to be ready, unless told otherwise.
pub const DEFAULT_READY_DELAY: Duration = Duration::from_millis(100);
/// The four kinds, by their plural.
pub const KINDS: [&str; 4] = ["workers", "teams", "humans", "managers"];

/// A HiClaw object, as its path names it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectRef {
    pub namespace: String,
    /// `workers`, `teams`, `humans` or `managers`.
    pub kind: String,
    pub name: String,
}

impl ObjectRef {
    /// The object at `path`, if it is a HiClaw object (not a subresource, not a list).
    pub fn parse(path: &str) -> Option<Self> {
        let rest = path.strip_prefix(&format!("/apis/{GROUP_VERSION}/namespaces/"))?;
        match rest.split('/').collect::<Vec<_>>().as_slice() {
            [namespace, kind, name] if KINDS.contains(kind) && !name.is_empty() => Some(Self {
                namespace: (*namespace).to_owned(),
                kind: (*kind).to_owned(),
                name: (*name).to_owned(),
            }),
            _ => None,
        }
    }

    /// The object's path.
    pub fn path(&self) -> String {
        format!(
            "/apis/{GROUP_VERSION}/namespaces/{}/{}/{}",
            self.namespace, self.kind, self.name
        )
    }
}

/// One agent: a Worker or Manager (`member` none) or one member of a Team.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AgentKey {
    pub object: ObjectRef,
    pub member: Option<String>,
}

/// What the simulated container of an agent is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContainerState {
    Running,
    Stopped,
    Removed,
}

impl ContainerState {
    /// `running`, `stopped` or `removed`, as upstream reports it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Stopped => "stopped",
            Self::Removed => "removed",
        }
    }
}

/// An agent's container as a test sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Container {
    pub state: ContainerState,
    /// How often it came back up after going down (a recreate or a wake); not the first start.
    pub restarts: u32,
}

/// One spec change of one agent, in the order they were written.
#[derive(Clone, Debug)]
pub struct SpecChange {
    /// `workers`, `teams` or `managers`.
    pub kind: String,
    /// The object's name (the Team's, for a member).
    pub object: String,
    /// The Team member, if any.
    pub member: Option<String>,
    /// When the change reached the store.
    pub written: Instant,
    /// When the controller caught up with it (hash, observedGeneration); none while pending
    /// or when a later change replaced it first.
    pub reconciled: Option<Instant>,
    /// When the agent became ready on this spec; none if it never did (broken, asleep,
    /// replaced by a later change, or still pending).
    pub ready: Option<Instant>,
    /// Made by the runtime (a leader or auto-sleep setting `state`), not by a client.
    pub by_runtime: bool,
}

impl SpecChange {
    /// `team/member`, or the Worker's or Manager's name.
    pub fn agent(&self) -> String {
        match &self.member {
            Some(member) => format!("{}/{member}", self.object),
            None => self.object.clone(),
        }
    }
}

/// The FNV-1a 64-bit hash (lower-case hex) of `spec` as canonical JSON (keys sorted at
/// every level, no spaces): a Team member's `specHash`.
pub fn spec_hash(spec: &Value) -> String {
    let text = canonical(spec).to_string();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, Value> = map
                .iter()
                .map(|(key, value)| (key, canonical(value)))
                .collect();
            Value::Object(
                sorted
                    .into_iter()
                    .map(|(key, value)| (key.clone(), value))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// A Team's members from its spec: name, role, spec (leader first, then the workers).
pub fn members(spec: &Value) -> Vec<(String, &'static str, Value)> {
    let leader = spec
        .get("leader")
        .into_iter()
        .map(|leader| (leader, "team_leader"));
    let workers = spec["workers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|worker| (worker, "worker"));
    leader
        .chain(workers)
        .filter_map(|(member, role)| {
            let name = member["name"].as_str()?;
            Some((name.to_owned(), role, member.clone()))
        })
        .collect()
}

/// The runtime identity of an agent's spec: `workerName`, else its name.
pub fn runtime_name<'a>(spec: &'a Value, name: &'a str) -> &'a str {
    spec["workerName"]
        .as_str()
        .filter(|worker_name| !worker_name.is_empty())
        .unwrap_or(name)
}

/// `@<runtime name>:hiclaw.local`.
pub fn matrix_id(runtime_name: &str) -> String {
    format!("@{runtime_name}:{MATRIX_DOMAIN}")
}

/// The simulated personal room of an agent.
pub fn room_id(runtime_name: &str) -> String {
    format!("!{runtime_name}-room:{MATRIX_DOMAIN}")
}

/// `Worker`, `Team`, `Human` or `Manager`, from the plural.
pub fn kind_name(kind: &str) -> &'static str {
    match kind {
        "workers" => "Worker",
        "teams" => "Team",
        "humans" => "Human",
        _ => "Manager",
    }
}

/// The path of a HiClaw object in the test namespace.
pub fn hiclaw_path(kind: &str, name: &str) -> String {
    object_path(GROUP_VERSION, kind, name)
}

impl FakeApi {
    /// How long a changed agent takes to be ready (changes written from now on).
    pub fn set_ready_delay(&self, delay: Duration) {
        self.state.lock().expect("state").hiclaw.set_delay(delay);
    }

    /// The simulated controller reconciles only objects labelled
    /// `hiclaw.io/controller=<controller>`, as upstream's cache does (default: all).
    pub fn set_controller(&self, controller: &str) {
        self.state
            .lock()
            .expect("state")
            .hiclaw
            .set_controller(controller);
    }

    /// The HiClaw object `kind` (plural) `name` in the test namespace, status up to date.
    pub fn hiclaw_object(&self, kind: &str, name: &str) -> Option<Value> {
        let mut state = self.state.lock().expect("state");
        state.settle_hiclaw();
        state.objects.get(&hiclaw_path(kind, name)).cloned()
    }

    /// Every spec change of every agent so far, in the order written, with when each was
    /// reconciled and became ready.
    pub fn member_history(&self) -> Vec<SpecChange> {
        let mut state = self.state.lock().expect("state");
        state.settle_hiclaw();
        state.hiclaw.history().to_vec()
    }

    /// The container of a Worker or Manager (`member` none) or of a Team member.
    pub fn container(&self, kind: &str, object: &str, member: Option<&str>) -> Option<Container> {
        let mut state = self.state.lock().expect("state");
        state.settle_hiclaw();
        let key = AgentKey {
            object: ObjectRef {
                namespace: NAMESPACE.to_owned(),
                kind: kind.to_owned(),
                name: object.to_owned(),
            },
            member: member.map(str::to_owned),
        };
        state.hiclaw.agent(&key).map(|agent| agent.container())
    }

    /// The runtime puts an agent to sleep (`spec.state: Sleeping`, written by the
    /// controller's field manager): its container stops at once, its hash follows at once.
    pub fn sleep_at_runtime(&self, kind: &str, object: &str, member: Option<&str>) {
        let mut state = self.state.lock().expect("state");
        state
            .switch_at_runtime(&hiclaw_path(kind, object), member, "Sleeping")
            .expect("an agent to put to sleep");
    }

    /// The runtime wakes an agent (`spec.state: Running`): the reverse of
    /// [`FakeApi::sleep_at_runtime`].
    pub fn wake_at_runtime(&self, kind: &str, object: &str, member: Option<&str>) {
        let mut state = self.state.lock().expect("state");
        state
            .switch_at_runtime(&hiclaw_path(kind, object), member, "Running")
            .expect("an agent to wake");
    }
}

impl State {
    /// Settles the controller's due changes and rewrites the status they touch (a status
    /// change is a new resourceVersion, as it is when a controller writes it).
    pub(super) fn settle_hiclaw(&mut self) {
        for object_ref in self.hiclaw.tick(Instant::now()) {
            let Some(object) = self.objects.get_mut(&object_ref.path()) else {
                continue;
            };
            let before = object.get("status").cloned();
            self.hiclaw.render(&object_ref, object);
            if object.get("status") != before.as_ref() {
                self.version += 1;
                object["metadata"]["resourceVersion"] = json!(self.version.to_string());
            }
        }
    }

    /// The runtime sets the `state` of the Worker or Manager at `path`, or of its Team
    /// `member`: an update by the controller's field manager, which then owns the field.
    pub(super) fn switch_at_runtime(
        &mut self,
        path: &str,
        member: Option<&str>,
        wanted: &str,
    ) -> Result<(), String> {
        self.settle_hiclaw();
        let object_ref =
            ObjectRef::parse(path).ok_or_else(|| format!("{path} is not a HiClaw object"))?;
        let object = self
            .objects
            .get_mut(path)
            .ok_or_else(|| format!("{path} not found"))?;
        let (at, owned) = match (object_ref.kind.as_str(), member) {
            ("workers" | "managers", None) => ("/spec".to_owned(), "/spec/state".to_owned()),
            ("teams", Some(member)) if object["spec"]["leader"]["name"] == member => {
                ("/spec/leader".to_owned(), "/spec/leader/state".to_owned())
            }
            ("teams", Some(member)) => {
                let index = object["spec"]["workers"]
                    .as_array()
                    .and_then(|workers| workers.iter().position(|w| w["name"] == member))
                    .ok_or_else(|| format!("team {} has no member {member}", object_ref.name))?;
                (format!("/spec/workers/{index}"), "/spec/workers".to_owned())
            }
            _ => return Err(format!("{path} has no agent {member:?}")),
        };
        let spec = object
            .pointer_mut(&at)
            .and_then(Value::as_object_mut)
            .ok_or_else(|| format!("{path} has no spec"))?;
        if spec
            .get("state")
            .and_then(Value::as_str)
            .unwrap_or("Running")
            == wanted
        {
            return Ok(());
        }
        spec.insert("state".into(), json!(wanted));
        let agent_spec = Value::Object(spec.clone());
        self.version += 1;
        let generation = object["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
        object["metadata"]["generation"] = json!(generation);
        object["metadata"]["resourceVersion"] = json!(self.version.to_string());
        self.hiclaw
            .owners_mut(path)
            .updated(&owned, RUNTIME_MANAGER);
        let key = AgentKey {
            object: object_ref.clone(),
            member: member.map(str::to_owned),
        };
        self.hiclaw
            .switched(&key, agent_spec, generation, Instant::now());
        self.hiclaw.render(&object_ref, object);
        Ok(())
    }
}
