//! Every change the HiClaw target makes, one object write at a time: a member's spec (a
//! Team rewritten with that one member changed; a new Team written whole), a state, a
//! Team's own fields, a Human, a delete, a rollback. Each write updates the model the
//! next write starts from, so a Team's members are never written from a stale copy.

use serde_json::Value;

use super::model::{Applied, Kind, ObjectId};
use super::objects::{
    object_of, put_team_member, remove_team_worker, set_state, state_in, team_member, with_state,
};
use super::{HiclawBackend, Known, Model, Pending};
use crate::backend::BackendError;
use crate::desired::Agent;
use crate::desired::hiclaw::HiclawHuman;
use crate::spec::hiclaw::AgentState;

/// The error of an agent the target cannot find (not a HiClaw member, or not observed).
fn unknown(agent: &str) -> BackendError {
    BackendError::Request {
        operation: "find",
        agent: agent.to_owned(),
        transient: false,
        source: "not a member of any HiClaw object clawops knows; plan again".into(),
    }
}

/// Writes `agent`'s member spec: the object is created (a new Team whole) or its member
/// replaced. A `recreate` keeps the state the fleet put the agent in at run time unless
/// git changed it, and remembers the previous spec for a rollback.
pub(super) async fn write_member(
    backend: &HiclawBackend,
    agent: &Agent,
    commit: Option<&str>,
    recreate: bool,
) -> Result<(), BackendError> {
    let member = agent.hiclaw.as_ref().ok_or_else(|| unknown(&agent.name))?;
    let id = object_of(member);
    let mut model = backend.model.lock().await;
    let before = fresh(backend, &model, &id).await?;
    let mut known = match before.clone() {
        Some(known) => known,
        None if id.kind == Kind::Team => Known {
            spec: model
                .desired_teams
                .get(&id.name)
                .cloned()
                .ok_or_else(|| unknown(&agent.name))?,
            applied: Applied::default(),
        },
        None => Known::default(),
    };
    let state = match &before {
        Some(before) if recreate => {
            let applied = before.applied.states.get(&agent.member).copied();
            let live = state_in(id.kind, &before.spec, &agent.member);
            if applied == Some(agent.state) {
                live.unwrap_or(agent.state)
            } else {
                agent.state
            }
        }
        _ => agent.state,
    };
    let spec = with_state(&member.spec, state);
    if !recreate
        && before
            .as_ref()
            .is_some_and(|before| holds(before, &id, &agent.member, &member.spec))
    {
        // Written already (with its new Team): the fleet may have changed its state since.
        if let Ok(mut pendings) = backend.pending.lock() {
            pendings.insert(agent.name.clone(), Pending::default());
        }
        model
            .agents
            .insert(agent.name.clone(), (id.clone(), agent.member.clone()));
        return Ok(());
    }
    if id.kind == Kind::Team {
        let leader = matches!(
            member.object,
            crate::desired::hiclaw::MemberObject::Leader { .. }
        );
        put_team_member(&mut known.spec, spec, leader);
        if before.is_none() {
            for (name, member_state) in team_states(&known.spec) {
                known.applied.states.insert(name, member_state);
            }
        }
    } else if let Value::Object(fields) = spec {
        known.spec = fields;
    }
    known.applied.states.insert(agent.member.clone(), state);
    known.applied.commit = commit.map(str::to_owned);
    let pending = Pending {
        spec_hash: spec_hash_now(backend, &id, &agent.member).await?,
        recreate: before.as_ref().is_some_and(|before| {
            id.kind != Kind::Team || team_member(&before.spec, &agent.member).is_some()
        }),
    };
    backend
        .transport
        .write(&id, &known.spec, &known.applied)
        .await?;
    if let (Some(before), true) = (before, recreate)
        && let Ok(mut previous) = backend.previous.lock()
    {
        previous.insert(agent.name.clone(), (id.clone(), before));
    }
    if let Ok(mut pendings) = backend.pending.lock() {
        pendings.insert(agent.name.clone(), pending);
    }
    model
        .agents
        .insert(agent.name.clone(), (id.clone(), agent.member.clone()));
    model.objects.insert(id, known);
    Ok(())
}

/// The object as known, its spec replaced by the live one where the transport reads it.
async fn fresh(
    backend: &HiclawBackend,
    model: &Model,
    id: &ObjectId,
) -> Result<Option<Known>, BackendError> {
    let known = model.objects.get(id).cloned();
    Ok(match backend.transport.spec(id).await? {
        Some(spec) => Some(Known {
            spec,
            applied: known.map(|known| known.applied).unwrap_or_default(),
        }),
        None => known,
    })
}

/// Whether the object already holds `member` with exactly this spec (state aside).
fn holds(
    known: &Known,
    id: &ObjectId,
    member: &str,
    spec: &crate::desired::hiclaw::SpecFields,
) -> bool {
    let live = match id.kind {
        Kind::Team => team_member(&known.spec, member).map(|(value, _)| value.clone()),
        _ => Some(Value::Object(known.spec.clone())),
    };
    live.is_some_and(|live| super::objects::without_state(&live) == *spec)
}

/// Every member of a Team spec with the state written for it.
fn team_states(spec: &crate::desired::hiclaw::SpecFields) -> Vec<(String, AgentState)> {
    let leader = spec.get("leader").into_iter();
    let workers = spec
        .get("workers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    leader
        .chain(workers)
        .filter_map(|member| {
            let name = member["name"].as_str()?.to_owned();
            let state = member["state"]
                .as_str()
                .and_then(AgentState::from_name)
                .unwrap_or_default();
            Some((name, state))
        })
        .collect()
}

/// The member's spec hash before a write, for the gate (transports that report one).
async fn spec_hash_now(
    backend: &HiclawBackend,
    id: &ObjectId,
    member: &str,
) -> Result<Option<String>, BackendError> {
    if !backend.transport.reports_spec_hash() || id.kind != Kind::Team {
        return Ok(None);
    }
    let status = backend.transport.status(id, member).await?;
    Ok(status.and_then(|status| status.spec_hash))
}

/// The object and member of the agent named `name`, and the model.
async fn located<'a>(
    backend: &'a HiclawBackend,
    name: &str,
) -> Result<(tokio::sync::MutexGuard<'a, Model>, ObjectId, String), BackendError> {
    let model = backend.model.lock().await;
    let (id, member) = model
        .agents
        .get(name)
        .cloned()
        .ok_or_else(|| unknown(name))?;
    Ok((model, id, member))
}

/// Writes only the agent's `state` (sleep, wake, stop: git changed it).
pub(super) async fn write_state(
    backend: &HiclawBackend,
    name: &str,
    state: AgentState,
) -> Result<(), BackendError> {
    let (mut model, id, member) = located(backend, name).await?;
    let mut known = fresh(backend, &model, &id)
        .await?
        .ok_or_else(|| unknown(name))?;
    set_state(id.kind, &mut known.spec, &member, state);
    known.applied.states.insert(member, state);
    store(backend, &mut model, id, known).await?;
    Ok(())
}

/// Deletes an agent that left git: its Worker or Manager object; a Team's leader takes
/// the Team with it; a Team's worker is written out of the Team.
pub(super) async fn delete_member(backend: &HiclawBackend, name: &str) -> Result<(), BackendError> {
    let (mut model, id, member) = located(backend, name).await?;
    let Some(mut known) = fresh(backend, &model, &id).await? else {
        return Ok(());
    };
    let is_leader = team_member(&known.spec, &member).is_some_and(|(_, leader)| leader);
    if id.kind != Kind::Team || is_leader {
        backend.transport.delete(&id).await?;
        model.objects.remove(&id);
    } else {
        remove_team_worker(&mut known.spec, &member);
        known.applied.states.remove(&member);
        store(backend, &mut model, id, known).await?;
    }
    model.agents.remove(name);
    Ok(())
}

/// Deletes an object clawops applied (a Human that left git, a Team that did).
pub(super) async fn delete_object(
    backend: &HiclawBackend,
    id: &ObjectId,
) -> Result<(), BackendError> {
    let mut model = backend.model.lock().await;
    if model.objects.contains_key(id) {
        backend.transport.delete(id).await?;
        model.objects.remove(id);
    }
    Ok(())
}

/// Writes a Human's spec.
pub(super) async fn write_human(
    backend: &HiclawBackend,
    human: &HiclawHuman,
) -> Result<(), BackendError> {
    let id = ObjectId::new(Kind::Human, &human.name);
    let mut model = backend.model.lock().await;
    let known = Known {
        spec: human.spec.clone(),
        applied: Applied::default(),
    };
    store(backend, &mut model, id, known).await?;
    Ok(())
}

/// Writes a Team's own fields (its members as they are), or deletes a Team that left git.
pub(super) async fn write_team_settings(
    backend: &HiclawBackend,
    team: &str,
    in_git: bool,
) -> Result<(), BackendError> {
    let id = ObjectId::new(Kind::Team, team);
    if !in_git {
        return delete_object(backend, &id).await;
    }
    let mut model = backend.model.lock().await;
    let Some(wanted) = model.desired_teams.get(team).cloned() else {
        return Ok(());
    };
    let mut known = fresh(backend, &model, &id).await?.unwrap_or(Known {
        spec: wanted.clone(),
        applied: Applied::default(),
    });
    for (key, value) in &wanted {
        if key != "leader" && key != "workers" {
            known.spec.insert(key.clone(), value.clone());
        }
    }
    known
        .spec
        .retain(|key, _| key == "leader" || key == "workers" || wanted.contains_key(key));
    store(backend, &mut model, id, known).await?;
    Ok(())
}

/// Writes `known` to the controller and keeps it as what is known of the object.
async fn store(
    backend: &HiclawBackend,
    model: &mut Model,
    id: ObjectId,
    known: Known,
) -> Result<(), BackendError> {
    backend
        .transport
        .write(&id, &known.spec, &known.applied)
        .await?;
    model.objects.insert(id, known);
    Ok(())
}

/// Writes back the member's previous spec after its gate failed under `rollback`.
pub(super) async fn roll_back(backend: &HiclawBackend, name: &str) -> Result<(), BackendError> {
    let previous = backend
        .previous
        .lock()
        .ok()
        .and_then(|mut previous| previous.remove(name));
    let Some((id, before)) = previous else {
        return Ok(());
    };
    let (mut model, _, member) = located(backend, name).await?;
    let mut known = fresh(backend, &model, &id).await?.unwrap_or_default();
    match id.kind {
        Kind::Team => {
            if let Some((old, leader)) = team_member(&before.spec, &member) {
                put_team_member(&mut known.spec, old.clone(), leader);
            }
        }
        _ => known.spec = before.spec.clone(),
    }
    if let Some(state) = before.applied.states.get(&member) {
        known.applied.states.insert(member.clone(), *state);
    }
    store(backend, &mut model, id, known).await?;
    Ok(())
}
