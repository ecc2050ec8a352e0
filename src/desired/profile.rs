//! Profiles: what each kind of agent (Manager, team leader, team worker, standalone Worker,
//! DebugWorker, Pilot role) says about itself, in one kind-neutral shape, with the
//! kind's defaults applied (a leader runs `copaw`, everything else `openclaw`).

use crate::pilot::{self, Manifest};
use crate::spec::clawops::PilotRole;
use crate::spec::hiclaw::{
    AgentState, DebugTargetType, EnvMap, ExposePort, Heartbeat, Resources, Runtime, TeamSpec,
};
use crate::spec::{DebugWorkerSpec, Located, PilotSetupSpec, Sourced, Spec};

use super::agent::AgentRole;
use super::images::{ImageChoices, ImageSlot};

/// Group of standalone Workers.
pub const STANDALONE_GROUP: &str = "standalone";
/// Group of DebugWorkers.
pub const DEBUG_GROUP: &str = "debug";
/// Group of the Manager.
pub const MANAGER_GROUP: &str = "manager";

/// The group of a Pilot setup's roles: `pilot:<setup>`.
pub fn pilot_group(setup: &str) -> String {
    format!("pilot:{setup}")
}

/// What only some kinds of agent have.
#[derive(Clone, Debug)]
pub(crate) enum Specifics<'a> {
    /// Nothing beyond the common fields.
    Plain,
    /// A team leader's heartbeat settings.
    Leader {
        heartbeat: Option<&'a Heartbeat>,
        worker_idle_timeout: Option<&'a str>,
    },
    /// The Manager.
    Manager,
    /// A DebugWorker.
    Debug,
    /// A Pilot role and its derived setup manifest.
    Pilot {
        setup: &'a str,
        role: &'a PilotRole,
        manifest: Box<Manifest>,
        /// clawops runs the role's bootstrap (the setup's `bootstrap`, default true).
        run_by_clawops: bool,
    },
}

/// One agent as the spec describes it, whatever its kind.
#[derive(Clone, Debug)]
pub(crate) struct Profile<'a> {
    pub member: String,
    pub worker_name: String,
    pub role: AgentRole,
    pub group: String,
    pub team: Option<&'a Sourced<TeamSpec>>,
    pub runtime: Runtime,
    pub images: ImageChoices<'a>,
    pub image_slot: ImageSlot,
    pub state: AgentState,
    pub container_managed: bool,
    pub env: &'a EnvMap,
    pub labels: &'a crate::spec::hiclaw::LabelMap,
    pub expose: &'a [ExposePort],
    pub hostname: Option<String>,
    pub debug_targets: Vec<String>,
    pub resources: Option<&'a Resources>,
    pub soul: Option<&'a str>,
    pub identity: Option<&'a str>,
    pub agents: Option<&'a str>,
    pub specifics: Specifics<'a>,
    pub file: &'a str,
    pub line: u32,
}

/// The runtime identity of a member: its `workerName`, else its name.
pub(crate) fn worker_name(name: &str, written: Option<&Located<String>>) -> String {
    written
        .map(|worker_name| worker_name.value.clone())
        .filter(|worker_name| !worker_name.is_empty())
        .unwrap_or_else(|| name.to_owned())
}

/// Borrowed Worker fields, shared by standalone Workers, team workers and Pilot role
/// agents (the spec types spell the same fields out separately).
struct WorkerFields<'a> {
    runtime: Option<&'a Located<Runtime>>,
    image: Option<&'a Located<String>>,
    worker_name: Option<&'a Located<String>>,
    identity: Option<&'a str>,
    soul: Option<&'a str>,
    agents: Option<&'a str>,
    expose: &'a [ExposePort],
    container_managed: Option<bool>,
    state: Option<AgentState>,
    env: &'a EnvMap,
    labels: &'a crate::spec::hiclaw::LabelMap,
    resources: Option<&'a Resources>,
}

/// Borrows the Worker fields of any struct declared with them.
macro_rules! worker_fields {
    ($written:expr) => {
        WorkerFields {
            runtime: $written.runtime.as_ref(),
            image: $written.image.as_ref(),
            worker_name: $written.worker_name.as_ref(),
            identity: $written.identity.as_deref(),
            soul: $written.soul.as_deref(),
            agents: $written.agents.as_deref(),
            expose: &$written.expose,
            container_managed: $written.container_managed,
            state: $written.state,
            env: &$written.env,
            labels: &$written.labels,
            resources: $written.resources.as_ref(),
        }
    };
}

/// Every agent of the spec, kind by kind, each kind in file order.
pub(crate) fn profiles(spec: &Spec) -> Vec<Profile<'_>> {
    let mut profiles = Vec::new();
    profiles.extend(spec.managers.first().map(manager));
    for team in &spec.teams {
        profiles.extend(team_members(team));
    }
    profiles.extend(spec.workers.iter().map(|worker| {
        worker_profile(
            worker.name().to_owned(),
            AgentRole::Standalone,
            STANDALONE_GROUP.to_owned(),
            worker_fields!(worker.spec()),
            &worker.file,
            worker.name_position().line,
        )
    }));
    profiles.extend(
        spec.debug_workers
            .iter()
            .map(|debug| debug_worker(spec, debug)),
    );
    for setup in &spec.pilot_setups {
        profiles.extend(pilot_roles(setup));
    }
    profiles
}

fn manager(manager: &Sourced<crate::spec::ManagerSpec>) -> Profile<'_> {
    let written = manager.spec();
    Profile {
        member: manager.name().to_owned(),
        worker_name: manager.name().to_owned(),
        role: AgentRole::Manager,
        group: MANAGER_GROUP.to_owned(),
        team: None,
        runtime: written
            .runtime
            .as_ref()
            .map_or(Runtime::Openclaw, |runtime| runtime.value),
        images: ImageChoices {
            own: written.image.as_ref(),
            team: None,
        },
        image_slot: ImageSlot::Manager,
        state: written.state.unwrap_or_default(),
        container_managed: true,
        env: &written.env,
        labels: &written.labels,
        expose: &[],
        hostname: None,
        debug_targets: Vec::new(),
        resources: written.resources.as_ref(),
        soul: written.soul.as_deref(),
        identity: None,
        agents: written.agents.as_deref(),
        specifics: Specifics::Manager,
        file: &manager.file,
        line: manager.name_position().line,
    }
}

/// The leader, then the workers in spec order.
fn team_members(team: &Sourced<TeamSpec>) -> Vec<Profile<'_>> {
    let written = team.spec();
    let leader = &written.leader;
    let leader_runtime = leader
        .runtime
        .as_ref()
        .map_or(Runtime::Copaw, |runtime| runtime.value);
    let mut members = vec![Profile {
        member: leader.name.value.clone(),
        worker_name: worker_name(&leader.name, leader.worker_name.as_ref()),
        role: AgentRole::TeamLeader,
        group: team.name().to_owned(),
        team: Some(team),
        runtime: leader_runtime,
        images: ImageChoices {
            own: leader.image.as_ref(),
            team: written.image.as_ref(),
        },
        image_slot: ImageSlot::Runtime(leader_runtime),
        state: leader.state.unwrap_or_default(),
        container_managed: true,
        env: &leader.env,
        labels: &leader.labels,
        expose: &[],
        hostname: None,
        debug_targets: Vec::new(),
        resources: leader.resources.as_ref(),
        soul: leader.soul.as_deref(),
        identity: leader.identity.as_deref(),
        agents: leader.agents.as_deref(),
        specifics: Specifics::Leader {
            heartbeat: leader.heartbeat.as_ref(),
            worker_idle_timeout: leader
                .worker_idle_timeout
                .as_ref()
                .map(|timeout| timeout.value.as_str()),
        },
        file: &team.file,
        line: leader.name.position.line,
    }];
    for worker in &written.workers {
        let mut profile = worker_profile(
            worker.name.value.clone(),
            AgentRole::Worker,
            team.name().to_owned(),
            worker_fields!(worker),
            &team.file,
            worker.name.position.line,
        );
        profile.images.team = written.image.as_ref();
        profile.team = Some(team);
        members.push(profile);
    }
    members
}

fn worker_profile<'a>(
    member: String,
    role: AgentRole,
    group: String,
    fields: WorkerFields<'a>,
    file: &'a str,
    line: u32,
) -> Profile<'a> {
    let runtime = fields
        .runtime
        .map_or(Runtime::Openclaw, |runtime| runtime.value);
    Profile {
        worker_name: worker_name(&member, fields.worker_name),
        member,
        role,
        group,
        team: None,
        runtime,
        images: ImageChoices {
            own: fields.image,
            team: None,
        },
        image_slot: ImageSlot::Runtime(runtime),
        state: fields.state.unwrap_or_default(),
        container_managed: fields.container_managed.unwrap_or(true),
        env: fields.env,
        labels: fields.labels,
        expose: fields.expose,
        hostname: None,
        debug_targets: Vec::new(),
        resources: fields.resources,
        soul: fields.soul,
        identity: fields.identity,
        agents: fields.agents,
        specifics: Specifics::Plain,
        file,
        line,
    }
}

fn debug_worker<'a>(spec: &'a Spec, debug: &'a Sourced<DebugWorkerSpec>) -> Profile<'a> {
    let written = debug.spec();
    let targets = debug_targets(spec, written);
    Profile {
        member: debug.name().to_owned(),
        worker_name: debug.name().to_owned(),
        role: AgentRole::Debug,
        group: DEBUG_GROUP.to_owned(),
        team: None,
        runtime: Runtime::Openclaw,
        images: ImageChoices {
            own: written.image.as_ref(),
            team: None,
        },
        image_slot: ImageSlot::Debug,
        state: AgentState::Running,
        container_managed: true,
        env: &written.env,
        labels: &written.labels,
        expose: &[],
        hostname: None,
        specifics: Specifics::Debug,
        debug_targets: targets,
        resources: written.resources.as_ref(),
        soul: written.soul.as_deref(),
        identity: None,
        agents: None,
        file: &debug.file,
        line: debug.name_position().line,
    }
}

/// The member names a DebugWorker mounts, sorted: its `targets`, every member of its target
/// team, or its one target worker.
fn debug_targets(spec: &Spec, written: &DebugWorkerSpec) -> Vec<String> {
    let mut targets: Vec<String> = written
        .targets
        .iter()
        .map(|target| target.value.clone())
        .collect();
    if let Some(target) = &written.target {
        match target.target_type {
            DebugTargetType::Worker => targets.push(target.name.value.clone()),
            DebugTargetType::Team => {
                let team = spec.teams.iter().find(|team| team.name() == *target.name);
                if let Some(team) = team {
                    let team_spec = team.spec();
                    targets.push(team_spec.leader.name.value.clone());
                    targets.extend(
                        team_spec
                            .workers
                            .iter()
                            .map(|worker| worker.name.value.clone()),
                    );
                }
            }
        }
    }
    targets.sort();
    targets.dedup();
    targets
}

/// The model of the agent with this member name, when it names one.
pub(crate) fn member_model(spec: &Spec, member: &str) -> Option<String> {
    let standalone = spec
        .workers
        .iter()
        .find(|worker| worker.name() == member)
        .map(|worker| worker.spec().model.clone());
    let in_team = || {
        spec.teams.iter().find_map(|team| {
            let team_spec = team.spec();
            if *team_spec.leader.name == member {
                return team_spec.leader.model.clone();
            }
            team_spec
                .workers
                .iter()
                .find(|worker| *worker.name == member)
                .map(|worker| worker.model.clone())
        })
    };
    let in_pilot = || {
        spec.pilot_setups.iter().find_map(|setup| {
            pilot::agents(setup.spec())
                .into_iter()
                .find(|agent| agent.name == member)
                .map(|agent| agent.role.agent.model.clone())
        })
    };
    standalone.or_else(in_team).or_else(in_pilot)
}

/// One profile per role of a setup, in role order.
fn pilot_roles(setup: &Sourced<PilotSetupSpec>) -> Vec<Profile<'_>> {
    let manifests = pilot::manifests(setup.name(), setup.spec());
    pilot::agents(setup.spec())
        .into_iter()
        .zip(manifests)
        .map(|(agent, manifest)| {
            let role = agent.role;
            let line = role
                .hostname
                .as_ref()
                .map_or(role.role.position.line, |hostname| hostname.position.line);
            let mut profile = worker_profile(
                agent.name,
                AgentRole::Pilot,
                pilot_group(setup.name()),
                worker_fields!(&role.agent),
                &setup.file,
                line,
            );
            profile.hostname = Some(agent.hostname);
            profile.specifics = Specifics::Pilot {
                setup: setup.name(),
                role,
                manifest: Box::new(manifest),
                run_by_clawops: setup.spec().bootstrap.unwrap_or(true),
            };
            profile
        })
        .collect()
}
