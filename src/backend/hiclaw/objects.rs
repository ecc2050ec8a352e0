//! The whole objects the HiClaw target writes: a Worker's or Manager's spec is its member
//! spec plus `state`; a Team's is its own fields plus its leader and workers, each a
//! member spec plus `state`. [`render`] prints them for `clawops render`.

use serde_json::{Map, Value, json};

use super::model::{Kind, ObjectId};
use crate::desired::hiclaw::{HiclawMember, MemberObject, SpecFields};
use crate::desired::{Agent, Desired};
use crate::spec::hiclaw::AgentState;

/// The API group and version of every object.
pub const API_VERSION: &str = "hiclaw.io/v1beta1";
/// The label a controller selects its objects by.
pub const CONTROLLER_LABEL: &str = "hiclaw.io/controller";
/// The annotation recording what clawops applied to an object (Kubernetes transport).
pub const APPLIED_ANNOTATION: &str = "clawops.dev/applied";

/// The object an agent's member spec lives in.
pub fn object_of(member: &HiclawMember) -> ObjectId {
    match &member.object {
        MemberObject::Worker { name } => ObjectId::new(Kind::Worker, name),
        MemberObject::Manager { name } => ObjectId::new(Kind::Manager, name),
        MemberObject::Leader { team } | MemberObject::TeamWorker { team } => {
            ObjectId::new(Kind::Team, team)
        }
    }
}

/// A member spec with `state` written in.
pub fn with_state(spec: &SpecFields, state: AgentState) -> Value {
    let mut fields = spec.clone();
    fields.insert("state".to_owned(), Value::String(state.as_str().to_owned()));
    Value::Object(fields)
}

/// The member named `member` of a Team spec, and whether it is the leader.
pub fn team_member<'a>(team: &'a SpecFields, member: &str) -> Option<(&'a Value, bool)> {
    let leader = team.get("leader").filter(|leader| leader["name"] == member);
    if let Some(leader) = leader {
        return Some((leader, true));
    }
    team.get("workers")
        .and_then(Value::as_array)
        .and_then(|workers| workers.iter().find(|worker| worker["name"] == member))
        .map(|worker| (worker, false))
}

/// Puts `member` (a member spec with its state) into a Team spec: as its leader, or in
/// place of the worker of the same name, or appended.
pub fn put_team_member(team: &mut SpecFields, member: Value, leader: bool) {
    if leader {
        team.insert("leader".to_owned(), member);
        return;
    }
    let workers = team
        .entry("workers".to_owned())
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(workers) = workers {
        match workers
            .iter_mut()
            .find(|worker| worker["name"] == member["name"])
        {
            Some(slot) => *slot = member,
            None => workers.push(member),
        }
    }
}

/// Removes the worker `member` from a Team spec.
pub fn remove_team_worker(team: &mut SpecFields, member: &str) {
    if let Some(Value::Array(workers)) = team.get_mut("workers") {
        workers.retain(|worker| worker["name"] != member);
        if workers.is_empty() {
            team.remove("workers");
        }
    }
}

/// Sets the `state` of the agent `member` inside an object's spec (the object itself for
/// a Worker or Manager).
pub fn set_state(kind: Kind, spec: &mut SpecFields, member: &str, state: AgentState) {
    let state = Value::String(state.as_str().to_owned());
    if kind != Kind::Team {
        spec.insert("state".to_owned(), state);
        return;
    }
    if let Some(leader) = spec
        .get_mut("leader")
        .filter(|leader| leader["name"] == member)
    {
        leader["state"] = state;
        return;
    }
    if let Some(Value::Array(workers)) = spec.get_mut("workers")
        && let Some(worker) = workers.iter_mut().find(|worker| worker["name"] == member)
    {
        worker["state"] = state;
    }
}

/// The `state` of the agent `member` inside an object's spec.
pub fn state_in(kind: Kind, spec: &SpecFields, member: &str) -> Option<AgentState> {
    let value = if kind == Kind::Team {
        team_member(spec, member).map(|(member, _)| &member["state"])
    } else {
        spec.get("state")
    };
    value
        .and_then(Value::as_str)
        .map_or(Some(AgentState::Running), AgentState::from_name)
}

/// A member spec without its `state` (what the desired member spec holds).
pub fn without_state(member: &Value) -> SpecFields {
    let mut fields = member.as_object().cloned().unwrap_or_default();
    fields.remove("state");
    fields
}

/// The whole Team `team` as the desired state has it: its fields, every member with its
/// desired state (a new Team is written whole: the CRD requires its leader).
pub fn desired_team(desired: &Desired, team: &str) -> Option<SpecFields> {
    let fleet = desired.hiclaw.as_ref()?.team(team)?;
    let mut spec = fleet.settings.clone();
    // Members are found by resource name (a binary search: a linear scan per member made
    // planning 11,000 agents quadratic).
    let member_spec = |member: &str| {
        desired
            .agent(&crate::desired::worker_resource_name(
                &desired.prefix,
                member,
            ))
            .filter(|agent| agent.team.as_deref() == Some(team) && agent.member == member)
            .and_then(|agent| Some(with_state(&agent.hiclaw.as_ref()?.spec, agent.state)))
    };
    spec.insert("leader".to_owned(), member_spec(&fleet.leader)?);
    let workers: Vec<Value> = fleet
        .workers
        .iter()
        .filter_map(|w| member_spec(w))
        .collect();
    if !workers.is_empty() {
        spec.insert("workers".to_owned(), Value::Array(workers));
    }
    Some(spec)
}

/// The object as JSON: apiVersion, kind, metadata (name, namespace, labels) and spec.
pub fn object(
    id: &ObjectId,
    spec: &SpecFields,
    namespace: &str,
    labels: &Map<String, Value>,
) -> Value {
    json!({
        "apiVersion": API_VERSION,
        "kind": id.kind.as_str(),
        "metadata": {"name": id.name, "namespace": namespace, "labels": labels},
        "spec": spec,
    })
}

/// The labels on every object: the controller's, and the fleet's.
pub fn labels(controller: &str, fleet: &str) -> Map<String, Value> {
    let mut labels = Map::new();
    labels.insert(
        CONTROLLER_LABEL.to_owned(),
        Value::String(controller.to_owned()),
    );
    labels.insert(
        crate::backend::labels::FLEET_LABEL.to_owned(),
        Value::String(fleet.to_owned()),
    );
    labels
}

/// Every object the desired state gives the controller, in apply order (Humans, Teams,
/// Workers, the Manager), each a JSON object.
pub fn desired_objects(desired: &Desired, namespace: &str, controller: &str) -> Vec<Value> {
    let labels = labels(controller, &desired.fleet);
    let mut objects = Vec::new();
    let Some(fleet) = &desired.hiclaw else {
        return objects;
    };
    for human in &fleet.humans {
        let id = ObjectId::new(Kind::Human, &human.name);
        objects.push(object(&id, &human.spec, namespace, &labels));
    }
    for team in &fleet.teams {
        if let Some(spec) = desired_team(desired, &team.name) {
            let id = ObjectId::new(Kind::Team, &team.name);
            objects.push(object(&id, &spec, namespace, &labels));
        }
    }
    let mut singles: Vec<(ObjectId, SpecFields)> =
        desired.agents.iter().filter_map(single).collect();
    singles.sort_by(|left, right| left.0.cmp(&right.0));
    for (id, spec) in singles {
        objects.push(object(&id, &spec, namespace, &labels));
    }
    objects
}

/// A Worker's or Manager's object id and spec (`None` for team members).
fn single(agent: &Agent) -> Option<(ObjectId, SpecFields)> {
    let member = agent.hiclaw.as_ref()?;
    let id = object_of(member);
    if id.kind == Kind::Team {
        return None;
    }
    let Value::Object(spec) = with_state(&member.spec, agent.state) else {
        return None;
    };
    Some((id, spec))
}

/// `clawops render` on the `hiclaw` target: every object as one YAML stream, sensitive env
/// values (secret-looking keys, values that carry a credential) redacted.
pub fn render(desired: &Desired, namespace: &str, controller: &str) -> String {
    let mut out = String::new();
    for mut object in desired_objects(desired, namespace, controller) {
        redact(&mut object);
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(&object).unwrap_or_default());
    }
    out
}

/// Replaces every sensitive env value ([`crate::desired::is_sensitive`]), wherever an
/// `env` map is.
fn redact(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            for (key, inner) in fields.iter_mut() {
                if key == "env"
                    && let Value::Object(env) = inner
                {
                    for (name, text) in env.iter_mut() {
                        let value = text.as_str().unwrap_or_default();
                        if crate::desired::is_sensitive(name, value) {
                            *text = Value::String("(redacted)".to_owned());
                        }
                    }
                } else {
                    redact(inner);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_redacts_credentials_in_values_under_any_key() {
        let mut object = json!({"spec": {"leader": {"env": {
            "DATABASE_URL": "postgres://app:pw-4242@db/x",
            "WEBHOOK": "https://hooks.example.com/in?token=tok-4242",
            "API_TOKEN": "plain-4242",
            "LOG_LEVEL": "info",
        }}}});
        redact(&mut object);
        let env = &object["spec"]["leader"]["env"];
        for key in ["DATABASE_URL", "WEBHOOK", "API_TOKEN"] {
            assert_eq!(env[key], "(redacted)", "{key}");
        }
        assert_eq!(env["LOG_LEVEL"], "info");
    }
}
