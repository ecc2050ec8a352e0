//! Validation that depends on the target: what the backend named by `[fleet] backend` (and,
//! for `hiclaw`, `[hiclaw] transport`) can realize of a spec that is valid on its own.
//!
//! - `hiclaw`: a HiClaw controller is given `hiclaw.io/v1beta1` objects. A `!secret` env
//!   value and a PilotSetup cannot be carried (errors); clawops extensions the CRDs have no
//!   field for are not sent (warnings).
//! - `hiclaw` over `rest`: the embedded controller's REST API has no `env`, `labels`,
//!   `accessEntries` or `remoteSkills` for most members and drops them silently (errors).
//! - `docker` and `kubernetes`: fields only a HiClaw controller realizes (skills, MCP
//!   servers, packages, channel rules, platform access, Humans' accounts…) reach no agent
//!   (warnings).
//!
//! The `hiclaw` rules are in [`hiclaw`], the direct backends' in [`direct`]. Every
//! diagnostic points at the offending key or value when the spec kept its position, else
//! at the member's name (a team member's `name`, else `metadata.name`).

use crate::spec::config::{BackendKind, HiclawTransport};
use crate::spec::hiclaw::{
    AccessEntry, ChannelPolicy, EnvMap, McpServer, RemoteSkillSource, ResourceAmounts, Resources,
};
use crate::spec::{Code, DebugWorkerSpec, Diagnostic, Located, Position, Sourced, Spec};

mod direct;
mod hiclaw;

/// The diagnostics of `spec` on `backend` (its transport is `spec.config.hiclaw.transport`).
pub fn target(spec: &Spec, backend: BackendKind) -> Vec<Diagnostic> {
    let members = members(spec);
    let mut diagnostics = Vec::new();
    match backend {
        BackendKind::Hiclaw => {
            hiclaw::check(spec, &members, &mut diagnostics);
            if spec.config.hiclaw.transport == HiclawTransport::Rest {
                hiclaw::rest(spec, &members, &mut diagnostics);
            }
        }
        BackendKind::Docker | BackendKind::Kubernetes => {
            direct::check(spec, backend, &members, &mut diagnostics);
        }
    }
    crate::spec::in_file_order(&mut diagnostics);
    diagnostics
}

/// What an agent is in the spec, where the rules differ by kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Standalone,
    TeamWorker,
    Leader,
    Manager,
    Debug,
    Pilot,
}

/// One agent of the spec, with the fields the target rules look at.
struct Member<'a> {
    slot: Slot,
    file: &'a str,
    /// The agent in words: "Worker `scout`", "worker `alpha-dev` of Team `alpha`".
    what: String,
    /// Where the agent is named: the position of fields that keep none of their own.
    anchor: Position,
    env: &'a EnvMap,
    labels: &'a crate::spec::hiclaw::LabelMap,
    access_entries: &'a [AccessEntry],
    remote_skills: &'a [RemoteSkillSource],
    skills: &'a [String],
    mcp_servers: &'a [McpServer],
    package: Option<&'a Located<String>>,
    channel_policy: Option<&'a ChannelPolicy>,
    resources: Option<&'a Resources>,
}

/// A member from any struct that has every Worker field.
macro_rules! worker_member {
    ($slot:expr, $file:expr, $what:expr, $anchor:expr, $written:expr) => {
        Member {
            slot: $slot,
            file: $file,
            what: $what,
            anchor: $anchor,
            env: &$written.env,
            labels: &$written.labels,
            access_entries: &$written.access_entries,
            remote_skills: &$written.remote_skills,
            skills: &$written.skills,
            mcp_servers: &$written.mcp_servers,
            package: $written.package.as_ref(),
            channel_policy: $written.channel_policy.as_ref(),
            resources: $written.resources.as_ref(),
        }
    };
}

/// Every agent of the spec: Managers, Teams' leaders and workers, standalone Workers,
/// DebugWorkers, Pilot roles.
fn members(spec: &Spec) -> Vec<Member<'_>> {
    let mut members = Vec::new();
    for manager in &spec.managers {
        let written = manager.spec();
        members.push(Member {
            slot: Slot::Manager,
            file: &manager.file,
            what: format!("Manager `{}`", manager.name()),
            anchor: manager.name_position(),
            env: &written.env,
            labels: &written.labels,
            access_entries: &written.access_entries,
            remote_skills: &[],
            skills: &written.skills,
            mcp_servers: &written.mcp_servers,
            package: written.package.as_ref(),
            channel_policy: None,
            resources: written.resources.as_ref(),
        });
    }
    for team in &spec.teams {
        let leader = &team.spec().leader;
        members.push(Member {
            slot: Slot::Leader,
            file: &team.file,
            what: format!("leader `{}` of Team `{}`", leader.name.value, team.name()),
            anchor: leader.name.position,
            env: &leader.env,
            labels: &leader.labels,
            access_entries: &leader.access_entries,
            remote_skills: &leader.remote_skills,
            skills: &[],
            mcp_servers: &leader.mcp_servers,
            package: leader.package.as_ref(),
            channel_policy: leader.channel_policy.as_ref(),
            resources: leader.resources.as_ref(),
        });
        for worker in &team.spec().workers {
            let what = format!("worker `{}` of Team `{}`", worker.name.value, team.name());
            let anchor = worker.name.position;
            members.push(worker_member!(
                Slot::TeamWorker,
                &team.file,
                what,
                anchor,
                worker
            ));
        }
    }
    for worker in &spec.workers {
        let what = format!("Worker `{}`", worker.name());
        let anchor = worker.name_position();
        members.push(worker_member!(
            Slot::Standalone,
            &worker.file,
            what,
            anchor,
            worker.spec()
        ));
    }
    for debug in &spec.debug_workers {
        let written = debug.spec();
        members.push(Member {
            slot: Slot::Debug,
            file: &debug.file,
            what: format!("DebugWorker `{}`", debug.name()),
            anchor: debug.name_position(),
            env: &written.env,
            labels: &written.labels,
            access_entries: &[],
            remote_skills: &[],
            skills: &[],
            mcp_servers: &[],
            package: None,
            channel_policy: None,
            resources: written.resources.as_ref(),
        });
    }
    for setup in &spec.pilot_setups {
        for role in &setup.spec().roles {
            let what = format!(
                "the agent of role `{}` of PilotSetup `{}`",
                role.role.value,
                setup.name()
            );
            let anchor = role.role.position;
            members.push(worker_member!(
                Slot::Pilot,
                &setup.file,
                what,
                anchor,
                role.agent
            ));
        }
    }
    members
}

/// The first position among `positions` (in file order), if any.
fn first(positions: impl IntoIterator<Item = Position>) -> Option<Position> {
    positions.into_iter().min()
}

/// The first env key as written.
fn env_position(env: &EnvMap) -> Option<Position> {
    first(env.keys().map(|key| key.position))
}

/// The first remote skill source as written.
fn remote_skills_position(sources: &[RemoteSkillSource]) -> Option<Position> {
    first(sources.iter().map(|source| source.source.position))
}

/// The first amount written under `resources`.
fn resources_position(resources: &Resources) -> Option<Position> {
    let written = |amounts: &ResourceAmounts| {
        [&amounts.cpu, &amounts.memory]
            .into_iter()
            .flatten()
            .map(|amount| amount.position)
            .min()
    };
    first(
        [&resources.requests, &resources.limits]
            .into_iter()
            .flatten()
            .filter_map(written),
    )
}

/// A DebugWorker's `accessControl.allowedUsers`, which no backend enforces.
fn allowed_users_ignored(
    debug: &Sourced<DebugWorkerSpec>,
    backend: BackendKind,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let users = debug
        .spec()
        .access_control
        .iter()
        .flat_map(|access| &access.allowed_users);
    let Some(position) = first(users.map(|user| user.position)) else {
        return;
    };
    let realized = match backend {
        BackendKind::Hiclaw => {
            "the hiclaw backend realizes it as a Worker object with read access to its targets' storage, and the controller has no field for who may talk to it"
        }
        BackendKind::Docker | BackendKind::Kubernetes => {
            "the backend mounts its targets' workspaces and has no rule for who may talk to it"
        }
    };
    diagnostics.push(
        Diagnostic::warning(
            Code::IgnoredExtension,
            &debug.file,
            position,
            format!(
                "`accessControl.allowedUsers` of DebugWorker `{}` is not enforced: {realized}",
                debug.name()
            ),
        )
        .with_help("remove `accessControl.allowedUsers`; it changes nothing on this backend"),
    );
}

#[cfg(test)]
mod tests;
