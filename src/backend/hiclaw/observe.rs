//! Observing the controller: its objects (those clawops's record lists) become one
//! observed agent per member. The state clawops last wrote decides the observed status;
//! a different state in the live spec is the fleet's own run-time decision, reported as
//! `runtime_state` and never planned as drift. The field-by-field comparison happens in
//! [`with_records`], which gives each observed agent the desired record with the live
//! (or, through REST, last written) member spec in it.

use std::collections::BTreeMap;

use super::model::{Kind, MemberStatus, ObjectId};
use super::objects::{desired_team, set_state, state_in, team_member, without_state};
use super::{HiclawBackend, Known, Model};
use crate::backend::BackendError;
use crate::desired::hiclaw::{HiclawMember, MemberObject, SpecFields, member_hash};
use crate::desired::{Agent, AgentRole, Desired, manager_resource_name, worker_resource_name};
use crate::observe::{
    Health, Observed, ObservedAgent, ObservedHuman, ObservedSource, ObservedStatus, ObservedTeam,
};
use crate::spec::hiclaw::AgentState;

/// Reads every object and the record, once.
pub(super) async fn observe(backend: &HiclawBackend) -> Result<Observed, BackendError> {
    let live = backend.transport.list().await?;
    let record = backend.transport.load_record(&live).await?;
    let mut model = Model {
        observed: true,
        ..Model::default()
    };
    let mut agents = Vec::new();
    let mut teams = Vec::new();
    let mut humans = Vec::new();
    for (id, applied) in record.objects {
        let Some(object) = live.get(&id) else {
            continue;
        };
        let spec = match &object.spec {
            Some(spec) => spec.clone(),
            None => last_written_with_live_states(&id, &applied, object),
        };
        let known = Known {
            spec,
            applied: object.applied.clone().unwrap_or(applied),
        };
        match id.kind {
            Kind::Human => humans.push(ObservedHuman {
                name: id.name.clone(),
                spec: Some(known.spec.clone()),
            }),
            Kind::Team => {
                let settings: SpecFields = known
                    .spec
                    .iter()
                    .filter(|(key, _)| *key != "leader" && *key != "workers")
                    .map(|(key, value)| (key.clone(), value.clone()))
                    .collect();
                teams.push(ObservedTeam {
                    name: id.name.clone(),
                    admin: None,
                    agents: Vec::new(),
                    pods_named: true,
                    settings: Some(settings),
                });
            }
            Kind::Worker | Kind::Manager => {}
        }
        for member in members(&id, &known.spec) {
            let name = agent_name(&backend.settings.prefix, &id, &member);
            let status = object.agents.iter().find(|status| status.name == member);
            agents.push(observed_agent(&name, &id, &member, &known, status));
            model.agents.insert(name, (id.clone(), member));
        }
        model.objects.insert(id, known);
    }
    agents.sort_by(|left, right| left.name.cmp(&right.name));
    *backend.model.lock().await = model;
    Ok(Observed {
        source: ObservedSource::Backend {
            description: backend.transport.describe(),
        },
        agents,
        interrupted: Vec::new(),
        teams: Some(teams),
        humans: Some(humans),
    })
}

/// The member names of an object: itself for a Worker or Manager, the leader and the
/// workers of a Team.
fn members(id: &ObjectId, spec: &SpecFields) -> Vec<String> {
    match id.kind {
        Kind::Human => Vec::new(),
        Kind::Worker | Kind::Manager => vec![id.name.clone()],
        Kind::Team => {
            let name = |member: &serde_json::Value| member["name"].as_str().map(str::to_owned);
            let leader = spec.get("leader").and_then(name);
            let workers = spec
                .get("workers")
                .and_then(serde_json::Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(name);
            leader.into_iter().chain(workers).collect()
        }
    }
}

/// The resource name clawops gives the agent `member` of object `id`.
fn agent_name(prefix: &str, id: &ObjectId, member: &str) -> String {
    match id.kind {
        Kind::Manager => manager_resource_name(prefix),
        _ => worker_resource_name(prefix, member),
    }
}

/// The spec last written (a transport that cannot read specs back, REST), with each
/// member's state as the controller reports it now: a state the fleet changed at run time
/// is the object's, and a write starting from it keeps it.
fn last_written_with_live_states(
    id: &ObjectId,
    applied: &crate::backend::hiclaw::model::Applied,
    object: &super::model::LiveObject,
) -> SpecFields {
    let mut spec = applied.spec.clone().unwrap_or_default();
    for status in &object.agents {
        if let Some(state) = status.state {
            set_state(id.kind, &mut spec, &status.name, state);
        }
    }
    spec
}

/// The member spec (without state) of `member` in an object's spec.
fn member_spec(id: &ObjectId, spec: &SpecFields, member: &str) -> SpecFields {
    match id.kind {
        Kind::Team => team_member(spec, member)
            .map(|(value, _)| without_state(value))
            .unwrap_or_default(),
        _ => without_state(&serde_json::Value::Object(spec.clone())),
    }
}

fn member_object(id: &ObjectId, spec: &SpecFields, member: &str) -> MemberObject {
    match id.kind {
        Kind::Manager => MemberObject::Manager {
            name: id.name.clone(),
        },
        Kind::Team => match team_member(spec, member) {
            Some((_, true)) => MemberObject::Leader {
                team: id.name.clone(),
            },
            _ => MemberObject::TeamWorker {
                team: id.name.clone(),
            },
        },
        _ => MemberObject::Worker {
            name: id.name.clone(),
        },
    }
}

fn observed_agent(
    name: &str,
    id: &ObjectId,
    member: &str,
    known: &Known,
    status: Option<&MemberStatus>,
) -> ObservedAgent {
    let live_state = status
        .and_then(|status| status.state)
        .or_else(|| state_in(id.kind, &known.spec, member));
    let applied_state = known.applied.states.get(member).copied().or(live_state);
    let hiclaw = HiclawMember {
        object: member_object(id, &known.spec, member),
        spec: member_spec(id, &known.spec, member),
    };
    let image = hiclaw
        .spec
        .get("image")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    ObservedAgent {
        name: name.to_owned(),
        status: match applied_state {
            Some(AgentState::Sleeping) => ObservedStatus::Stopped,
            Some(AgentState::Stopped) => ObservedStatus::Missing,
            _ => ObservedStatus::Running,
        },
        health: match status {
            Some(status) if status.ready => Health::Healthy,
            Some(status) if status.phase.as_deref() == Some("Failed") => Health::Unhealthy,
            Some(_) => Health::Starting,
            None => Health::Unknown,
        },
        image: image.to_owned(),
        runtime_hash: member_hash(&hiclaw),
        config_hash: crate::desired::config_hash(&Default::default()),
        commit: known.applied.commit.clone(),
        applied_state,
        last_applied: Some(placeholder(name, member, id, hiclaw)),
        edited: Vec::new(),
        runtime_state: live_state.filter(|live| Some(*live) != applied_state),
        pilot: None,
    }
}

/// A record of an agent known only from the controller: enough for the plan to name its
/// group and team, and to compare its member spec field by field.
fn placeholder(name: &str, member: &str, id: &ObjectId, hiclaw: HiclawMember) -> Agent {
    let role = match &hiclaw.object {
        MemberObject::Worker { .. } => AgentRole::Standalone,
        MemberObject::Manager { .. } => AgentRole::Manager,
        MemberObject::Leader { .. } => AgentRole::TeamLeader,
        MemberObject::TeamWorker { .. } => AgentRole::Worker,
    };
    let builder = Agent::builder(member).role(role);
    let builder = match id.kind {
        Kind::Team => builder.team(&id.name),
        Kind::Manager => builder.group(crate::desired::MANAGER_GROUP),
        _ => builder.standalone(),
    };
    let mut agent = builder.build();
    agent.name = name.to_owned();
    agent.hiclaw = Some(std::sync::Arc::new(hiclaw));
    agent
}

/// Gives each observed agent that is also desired the desired record with the live member
/// spec in it (so the plan names every changed field), and keeps the whole desired Teams
/// for the first write of a new Team.
pub(super) async fn with_records(
    backend: &HiclawBackend,
    desired: &Desired,
    mut observed: Observed,
) -> Result<Observed, BackendError> {
    let mut model = backend.model.lock().await;
    // A Team the controller has gets its fields written onto the live spec; only a new
    // one is written whole, so only new Teams need their whole desired spec.
    let mut desired_teams = BTreeMap::new();
    for team in desired.hiclaw.iter().flat_map(|fleet| &fleet.teams) {
        let spec = if model
            .objects
            .contains_key(&ObjectId::new(Kind::Team, &team.name))
        {
            Some(team.settings.clone())
        } else {
            desired_team(desired, &team.name)
        };
        if let Some(spec) = spec {
            desired_teams.insert(team.name.clone(), spec);
        }
    }
    model.desired_teams = desired_teams;
    for agent in &mut observed.agents {
        let Some(wanted) = desired.agent(&agent.name) else {
            continue;
        };
        if let Some(applied) = agent.last_applied.as_mut()
            && let Some(live) = applied.hiclaw.take()
        {
            let mut record = wanted.clone();
            record.hiclaw = Some(live);
            record.runtime_hash.clone_from(&agent.runtime_hash);
            *applied = record;
        }
        agent.image.clone_from(&wanted.image);
    }
    Ok(observed)
}
