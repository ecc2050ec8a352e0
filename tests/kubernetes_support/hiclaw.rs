//! The HiClaw controller's reconciler, simulated over the fake API server's store: it
//! writes the `status` of `hiclaw.io/v1beta1` Workers, Managers, Teams and Humans as
//! upstream does, lazily (whenever the store is read or written) from the time since each
//! agent's last spec change.
//!
//! Every agent (a Worker, a Manager, each member of a Team) is tracked on its own: its
//! spec as last written, the hash of the spec the controller last reconciled, and a
//! container (`running`, `stopped`, `removed`) with a restart count. A spec change waits
//! [`FakeApi::set_ready_delay`] (100 ms by default) before the controller catches up:
//! until then a Worker is `Pending` (new) or `Updating`, a Team member keeps its old
//! `specHash` with `ready: false`, and the container of a running agent whose change is
//! more than `state` is `stopped` (it is being recreated). Then the hash and
//! `observedGeneration` catch up and the container follows `state`. An image ending in
//! `:broken` never starts: `Failed`, container `stopped`, never ready.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::fields::Owners;
use super::hiclaw_api::{
    AgentKey, CONTROLLER_LABEL, Container, ContainerState, DEFAULT_READY_DELAY, ObjectRef,
    SpecChange, matrix_id, members, room_id, runtime_name, spec_hash,
};

/// The controller's view of one agent.
#[derive(Clone, Debug)]
pub struct Agent {
    /// `standalone`, `manager`, `team_leader` or `worker`.
    pub role: &'static str,
    pub spec: Value,
    hash: String,
    /// The hash of the spec last reconciled; none before the first time.
    pub reconciled: Option<String>,
    /// When the pending change settles.
    due: Option<Instant>,
    generation: i64,
    observed_generation: Option<i64>,
    pub container: ContainerState,
    started: bool,
    restarts: u32,
    change: usize,
}

impl Agent {
    /// `spec.state`, `Running` by default.
    pub fn state(&self) -> &str {
        self.spec["state"].as_str().unwrap_or("Running")
    }

    /// Its image can never start.
    pub fn broken(&self) -> bool {
        self.spec["image"]
            .as_str()
            .is_some_and(|image| image.ends_with(":broken"))
    }

    /// Running on its current spec.
    pub fn ready(&self) -> bool {
        self.due.is_none() && self.state() == "Running" && !self.broken()
    }

    /// `Pending`, `Updating`, `Running`, `Sleeping`, `Stopped` or `Failed`.
    pub fn phase(&self) -> &'static str {
        match (self.due, self.reconciled.is_some(), self.state()) {
            (Some(_), false, _) => "Pending",
            (Some(_), true, _) => "Updating",
            (None, _, "Sleeping") => "Sleeping",
            (None, _, "Stopped") => "Stopped",
            (None, _, _) if self.broken() => "Failed",
            (None, _, _) => "Running",
        }
    }

    /// Why it failed, or nothing.
    pub fn message(&self) -> String {
        if self.phase() == "Failed" {
            format!(
                "container failed to start: image {} cannot be pulled",
                self.spec["image"].as_str().unwrap_or_default()
            )
        } else {
            String::new()
        }
    }

    fn settled_container(&self) -> ContainerState {
        match self.state() {
            "Sleeping" => ContainerState::Stopped,
            "Stopped" => ContainerState::Removed,
            _ if self.broken() => ContainerState::Stopped,
            _ => ContainerState::Running,
        }
    }

    fn set_container(&mut self, next: ContainerState) {
        if next == ContainerState::Running && self.container != ContainerState::Running {
            self.restarts += u32::from(self.started);
            self.started = true;
        }
        self.container = next;
    }

    /// Its container as a test sees it.
    pub fn container(&self) -> Container {
        Container {
            state: self.container,
            restarts: self.restarts,
        }
    }
}

/// The simulated controller: every agent it tracks, their pending changes, the history.
#[derive(Clone, Debug)]
pub struct Controller {
    delay: Duration,
    /// Only objects with this `hiclaw.io/controller` label are reconciled, if set.
    controller: Option<String>,
    agents: BTreeMap<AgentKey, Agent>,
    pending: BTreeSet<(Instant, AgentKey)>,
    history: Vec<SpecChange>,
    owners: BTreeMap<String, Owners>,
}

impl Default for Controller {
    fn default() -> Self {
        Self {
            delay: DEFAULT_READY_DELAY,
            controller: None,
            agents: BTreeMap::new(),
            pending: BTreeSet::new(),
            history: Vec::new(),
            owners: BTreeMap::new(),
        }
    }
}

impl Controller {
    /// How long a change takes from now on.
    pub fn set_delay(&mut self, delay: Duration) {
        self.delay = delay;
    }

    /// Reconcile only objects labelled `hiclaw.io/controller=<controller>`.
    pub fn set_controller(&mut self, controller: &str) {
        self.controller = Some(controller.to_owned());
    }

    /// Every spec change so far, in order.
    pub fn history(&self) -> &[SpecChange] {
        &self.history
    }

    /// Field ownership of the object at `path`, if anyone applied it.
    pub fn owners(&self, path: &str) -> Option<&Owners> {
        self.owners.get(path)
    }

    /// Field ownership of the object at `path`, to change.
    pub fn owners_mut(&mut self, path: &str) -> &mut Owners {
        self.owners.entry(path.to_owned()).or_default()
    }

    /// One agent, if tracked.
    pub fn agent(&self, key: &AgentKey) -> Option<&Agent> {
        self.agents.get(key)
    }

    /// Whether the controller reconciles `object` (its label, if a controller is named).
    pub fn watches(&self, object: &Value) -> bool {
        self.controller.as_deref().is_none_or(|controller| {
            object["metadata"]["labels"][CONTROLLER_LABEL].as_str() == Some(controller)
        })
    }

    /// The object at `path` was written (created, applied, replaced): track its agents and
    /// lay the status over `object`.
    pub fn written(&mut self, path: &str, object: &mut Value, now: Instant) {
        let Some(object_ref) = ObjectRef::parse(path) else {
            return;
        };
        if !self.watches(object) {
            self.forget_agents(&object_ref);
            return;
        }
        let generation = object["metadata"]["generation"].as_i64().unwrap_or(1);
        match object_ref.kind.as_str() {
            "workers" | "managers" => {
                let key = AgentKey {
                    object: object_ref.clone(),
                    member: None,
                };
                let role = if object_ref.kind == "workers" {
                    "standalone"
                } else {
                    "manager"
                };
                let spec = object.get("spec").cloned().unwrap_or_else(|| json!({}));
                self.observe(key, role, spec, generation, now);
            }
            "teams" => {
                let members = members(&object["spec"]);
                let names: BTreeSet<&String> = members.iter().map(|(name, _, _)| name).collect();
                let gone: Vec<AgentKey> = self
                    .agents_of(&object_ref)
                    .filter(|(key, _)| key.member.as_ref().is_none_or(|m| !names.contains(m)))
                    .map(|(key, _)| key.clone())
                    .collect();
                for key in gone {
                    self.forget(&key);
                }
                for (name, role, spec) in members {
                    let key = AgentKey {
                        object: object_ref.clone(),
                        member: Some(name),
                    };
                    self.observe(key, role, spec, generation, now);
                }
            }
            _ => {}
        }
        self.render(&object_ref, object);
    }

    /// The object at `path` is gone.
    pub fn deleted(&mut self, path: &str) {
        if let Some(object_ref) = ObjectRef::parse(path) {
            self.forget_agents(&object_ref);
            self.owners.remove(path);
        }
    }

    fn forget_agents(&mut self, object_ref: &ObjectRef) {
        let keys: Vec<AgentKey> = self
            .agents_of(object_ref)
            .map(|(key, _)| key.clone())
            .collect();
        for key in keys {
            self.forget(&key);
        }
    }

    fn forget(&mut self, key: &AgentKey) {
        if let Some(agent) = self.agents.remove(key)
            && let Some(due) = agent.due
        {
            self.pending.remove(&(due, key.clone()));
        }
    }

    /// Every agent of one object (a Team's members in name order).
    fn agents_of<'a>(
        &'a self,
        object_ref: &'a ObjectRef,
    ) -> impl Iterator<Item = (&'a AgentKey, &'a Agent)> + 'a {
        let start = AgentKey {
            object: object_ref.clone(),
            member: None,
        };
        self.agents
            .range(start..)
            .take_while(move |(key, _)| key.object == *object_ref)
    }

    /// An agent's spec as written now: a change starts the delay.
    fn observe(
        &mut self,
        key: AgentKey,
        role: &'static str,
        spec: Value,
        generation: i64,
        now: Instant,
    ) {
        let due = now + self.delay;
        let change = self.history.len();
        self.history.push(SpecChange {
            kind: key.object.kind.clone(),
            object: key.object.name.clone(),
            member: key.member.clone(),
            written: now,
            reconciled: None,
            ready: None,
            by_runtime: false,
        });
        match self.agents.get_mut(&key) {
            Some(agent) if agent.spec == spec => {
                self.history.pop();
                return;
            }
            Some(agent) => {
                agent.role = role;
                let only_state = without_state(&agent.spec) == without_state(&spec);
                if !only_state && agent.container == ContainerState::Running {
                    agent.container = ContainerState::Stopped;
                }
                if let Some(before) = agent.due.replace(due) {
                    self.pending.remove(&(before, key.clone()));
                }
                agent.hash = spec_hash(&spec);
                agent.spec = spec;
                agent.generation = generation;
                agent.change = change;
            }
            None => {
                let agent = Agent {
                    role,
                    hash: spec_hash(&spec),
                    spec,
                    reconciled: None,
                    due: Some(due),
                    generation,
                    observed_generation: None,
                    container: ContainerState::Stopped,
                    started: false,
                    restarts: 0,
                    change,
                };
                self.agents.insert(key.clone(), agent);
            }
        }
        self.pending.insert((due, key));
    }

    /// Settles every change due by `now`; answers the objects whose status may change.
    pub fn tick(&mut self, now: Instant) -> BTreeSet<ObjectRef> {
        let mut touched = BTreeSet::new();
        while let Some((due, key)) = self.pending.first().cloned()
            && due <= now
        {
            self.pending.pop_first();
            if let Some(agent) = self.agents.get_mut(&key) {
                agent.due = None;
                agent.reconciled = Some(agent.hash.clone());
                agent.observed_generation = Some(agent.generation);
                agent.set_container(agent.settled_container());
                if let Some(change) = self.history.get_mut(agent.change) {
                    change.reconciled = Some(due);
                    change.ready = agent.ready().then_some(due);
                }
            }
            touched.insert(key.object);
        }
        touched
    }

    /// The runtime set the `state` of an agent (already in the store): the controller has
    /// it at once, no delay, no recreate.
    pub fn switched(&mut self, key: &AgentKey, spec: Value, generation: i64, now: Instant) {
        let change = self.history.len();
        let Some(agent) = self.agents.get_mut(key) else {
            return;
        };
        agent.hash = spec_hash(&spec);
        agent.spec = spec;
        agent.generation = generation;
        let settled = agent.due.is_none();
        if settled {
            agent.reconciled = Some(agent.hash.clone());
            agent.observed_generation = Some(generation);
            agent.set_container(agent.settled_container());
            agent.change = change;
        }
        self.history.push(SpecChange {
            kind: key.object.kind.clone(),
            object: key.object.name.clone(),
            member: key.member.clone(),
            written: now,
            reconciled: settled.then_some(now),
            ready: (settled && agent.ready()).then_some(now),
            by_runtime: true,
        });
    }

    /// Lays the controller's status fields over `object`'s status.
    pub fn render(&self, object_ref: &ObjectRef, object: &mut Value) {
        let rendered = match object_ref.kind.as_str() {
            "humans" => {
                let username = object["spec"]["username"]
                    .as_str()
                    .filter(|username| !username.is_empty())
                    .unwrap_or(&object_ref.name);
                json!({"phase": "Active", "matrixUserID": matrix_id(username)})
            }
            "teams" => self.team_status(object_ref),
            _ => {
                let key = AgentKey {
                    object: object_ref.clone(),
                    member: None,
                };
                let Some(agent) = self.agents.get(&key) else {
                    return;
                };
                let mut status = json!({
                    "phase": agent.phase(),
                    "containerState": agent.container.as_str(),
                    "matrixUserID": matrix_id(runtime_name(&agent.spec, &object_ref.name)),
                    "roomID": room_id(runtime_name(&agent.spec, &object_ref.name)),
                    "message": agent.message(),
                });
                if let Some(generation) = agent.observed_generation {
                    status["observedGeneration"] = json!(generation);
                }
                status
            }
        };
        let current = object.get("status").cloned().unwrap_or_else(|| json!({}));
        object["status"] = super::merged(&current, &rendered);
    }

    fn team_status(&self, team: &ObjectRef) -> Value {
        let mut members = Vec::new();
        let mut messages = Vec::new();
        let (mut leader_ready, mut ready_workers, mut total_workers) = (false, 0, 0);
        let (mut any_observed, mut all_ready) = (false, true);
        for (key, agent) in self.agents_of(team) {
            let name = key.member.as_deref().unwrap_or_default();
            let leader = agent.role == "team_leader";
            let mut member = Map::new();
            member.insert("name".into(), json!(name));
            member.insert("runtimeName".into(), json!(runtime_name(&agent.spec, name)));
            member.insert("role".into(), json!(agent.role));
            if let Some(hash) = &agent.reconciled {
                member.insert("specHash".into(), json!(hash));
            }
            member.insert("observed".into(), json!(agent.reconciled.is_some()));
            member.insert("ready".into(), json!(agent.ready()));
            members.push(Value::Object(member));
            any_observed |= agent.reconciled.is_some();
            if agent.state() == "Running" && !agent.ready() {
                all_ready = false;
            }
            if leader {
                leader_ready = agent.ready();
            } else {
                total_workers += 1;
                ready_workers += usize::from(agent.ready());
            }
            if agent.phase() == "Failed" {
                messages.push(format!("member {name}: {}", agent.message()));
            }
        }
        let phase = match (any_observed, all_ready) {
            (false, _) => "Pending",
            (true, true) => "Active",
            (true, false) => "Degraded",
        };
        json!({
            "phase": phase, "leaderReady": leader_ready, "readyWorkers": ready_workers,
            "totalWorkers": total_workers, "message": messages.join("; "), "members": members,
        })
    }
}

fn without_state(spec: &Value) -> Value {
    let mut spec = spec.clone();
    if let Some(map) = spec.as_object_mut() {
        map.remove("state");
    }
    spec
}
