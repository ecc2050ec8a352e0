//! [`resolve`]: a valid [`Spec`] to the [`Desired`] fleet. Every profile becomes one
//! [`Agent`] with its name, image, env, labels, ports, workspace and hashes.

use std::collections::BTreeMap;

use crate::spec::hiclaw::{EnvValue, Runtime};
use crate::spec::{ImageSetSpec, Spec};

use super::agent::{Agent, AgentPort, AgentRole, EnvVar};
use super::profile::{Profile, profiles};
use super::sensitive::is_sensitive;
use super::{Desired, groups, hash, images, workspace};

/// The port HiClaw's agent console listens on (`HICLAW_CONSOLE_PORT`).
pub const CONSOLE_PORT: u16 = 8088;
/// Where HiClaw mounts agent workspaces; an agent's `HOME` is `<root>/<workerName>`.
pub const AGENTS_ROOT: &str = "/root/hiclaw-fs/agents";

/// Env variables clawops sets on every agent; the spec's `env` cannot override them, since
/// the runtime finds its identity and workspace through them (a spec value for one of these
/// keys is ignored).
pub const RESERVED_ENV_KEYS: [&str; 5] = [
    "HICLAW_WORKER_NAME",
    "HICLAW_WORKER_CR_NAME",
    "HICLAW_CONSOLE_PORT",
    "HOME",
    "PILOT_HOSTNAME",
];

/// Label: the member name of a worker-like agent (upstream HiClaw's).
pub const WORKER_LABEL: &str = "hiclaw.io/worker";
/// Label: the Manager's name (upstream HiClaw's).
pub const MANAGER_LABEL: &str = "hiclaw.io/manager";
/// Label: the agent's role (upstream HiClaw's).
pub const ROLE_LABEL: &str = "hiclaw.io/role";
/// Label: the agent's runtime (upstream HiClaw's).
pub const RUNTIME_LABEL: &str = "hiclaw.io/runtime";
/// Label: the team of a team member (upstream HiClaw's).
pub const TEAM_LABEL: &str = "hiclaw.io/team";
/// Label: the fleet that owns the agent.
pub const FLEET_LABEL: &str = "clawops.dev/fleet";

/// Resource name of a worker-like agent: `<prefix>worker-<member>`.
pub fn worker_resource_name(prefix: &str, member: &str) -> String {
    format!("{prefix}worker-{member}")
}

/// Resource name of the Manager: `<prefix>manager`.
pub fn manager_resource_name(prefix: &str) -> String {
    format!("{prefix}manager")
}

/// The resource name of an agent of this role.
pub(crate) fn resource_name(prefix: &str, role: AgentRole, member: &str) -> String {
    match role {
        AgentRole::Manager => manager_resource_name(prefix),
        _ => worker_resource_name(prefix, member),
    }
}

/// Resolves a valid spec into one record per agent, the rollout groups and their settings.
/// Pure: the same spec always gives the same value, hashes included.
pub fn resolve(spec: &Spec) -> Desired {
    resolve_with(spec, Workspaces::Render)
}

/// Whether resolving renders each agent's workspace files (and the hashes over them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workspaces {
    /// Render them: the direct backends write them into the agent.
    Render,
    /// Leave them empty: the `hiclaw` target gives the controller member specs instead
    /// (see [`super::hiclaw::retarget`]), and rendering 11,000 workspaces to throw them
    /// away was a tenth of a plan.
    Skip,
}

/// [`resolve`], rendering workspaces or not.
pub fn resolve_with(spec: &Spec, workspaces: Workspaces) -> Desired {
    let prefix = spec.config.fleet.prefix.clone();
    let image_set = spec.image_sets.first().map(|image_set| image_set.spec());
    let profiles = profiles(spec);
    let mut agents: Vec<Agent> = profiles
        .iter()
        .map(|profile| agent(spec, image_set, profile, workspaces))
        .collect();
    agents.sort_by(|left, right| left.name.cmp(&right.name));
    let groups = groups::groups(spec, &profiles);
    let rollout = groups::rollout(spec, &groups);
    for agent in &mut agents {
        agent.probe = rollout
            .get(&agent.group)
            .and_then(|settings| settings.probe.clone());
    }
    let teams = team_access(spec, &agents);
    Desired {
        fleet: spec.fleet_name.clone(),
        prefix,
        revision: spec.revision.clone(),
        agents,
        groups,
        rollout,
        teams_in_parallel: spec.config.rollout.teams_in_parallel,
        prune: spec.config.prune.clone(),
        teams,
        hiclaw: None,
    }
}

/// Every team, its admin and its agents, sorted by name. The agents are grouped by team
/// in one pass (a filter per team was 11 million comparisons for 1,000 teams).
fn team_access(spec: &Spec, agents: &[Agent]) -> Vec<super::TeamAccess> {
    let mut members: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for agent in agents {
        if let Some(team) = agent.team.as_deref() {
            members.entry(team).or_default().push(agent.name.clone());
        }
    }
    let mut teams: Vec<super::TeamAccess> = spec
        .teams
        .iter()
        .map(|team| super::TeamAccess {
            name: team.name().to_owned(),
            admin: team
                .spec()
                .admin
                .as_ref()
                .map(|admin| admin.name.value.clone()),
            agents: members.get(team.name()).cloned().unwrap_or_default(),
        })
        .collect();
    teams.sort_by(|left, right| left.name.cmp(&right.name));
    teams.dedup_by(|left, right| left.name == right.name);
    teams
}

fn agent(
    spec: &Spec,
    image_set: Option<&ImageSetSpec>,
    profile: &Profile<'_>,
    workspaces: Workspaces,
) -> Agent {
    let (image, image_source) =
        images::resolve_image(profile.images, image_set, profile.image_slot);
    let mut ports: Vec<AgentPort> = profile
        .expose
        .iter()
        .filter_map(|expose| {
            u16::try_from(expose.port.value).ok().map(|port| AgentPort {
                port,
                protocol: expose.protocol.unwrap_or_default(),
            })
        })
        .collect();
    ports.sort();
    ports.dedup();
    let workspace = match workspaces {
        Workspaces::Render => workspace::workspace(spec, profile),
        Workspaces::Skip => super::Workspace::new(),
    };
    let mut agent = Agent {
        name: resource_name(&spec.config.fleet.prefix, profile.role, &profile.member),
        member: profile.member.clone(),
        worker_name: profile.worker_name.clone(),
        role: profile.role,
        group: profile.group.clone(),
        team: profile.team.map(|team| team.name().to_owned()),
        runtime: profile.runtime,
        image,
        image_source,
        pull_policy: images::pull_policy(image_set),
        state: profile.state,
        container_managed: profile.container_managed,
        env: environment(profile),
        labels: labels(&spec.fleet_name, profile),
        ports,
        hostname: profile.hostname.clone(),
        debug_targets: profile.debug_targets.clone(),
        probe: None,
        resources: super::resources::AgentResources::of(profile.resources),
        config_hash: hash::config_hash(&workspace),
        workspace,
        file: profile.file.to_owned(),
        line: profile.line,
        runtime_hash: String::new(),
        hiclaw: None,
        pilot: pilot_bootstrap(profile),
    };
    if workspaces == Workspaces::Render {
        agent.runtime_hash = hash::runtime_hash(&agent);
    }
    agent
}

/// A Pilot role's bootstrap, from its setup manifest.
fn pilot_bootstrap(profile: &Profile<'_>) -> Option<super::PilotBootstrap> {
    match &profile.specifics {
        super::profile::Specifics::Pilot {
            manifest,
            run_by_clawops,
            ..
        } => Some(super::PilotBootstrap::of(manifest, *run_by_clawops)),
        _ => None,
    }
}

/// The spec's env, then HiClaw's variables over it (see [`RESERVED_ENV_KEYS`]).
fn environment(profile: &Profile<'_>) -> BTreeMap<String, EnvVar> {
    let mut env: BTreeMap<String, EnvVar> = profile
        .env
        .iter()
        .map(|(key, value)| {
            let (value, secret_ref) = match value {
                EnvValue::Text(text) => (text.clone(), false),
                EnvValue::SecretRef { secret_ref } => (secret_ref.clone(), true),
            };
            let variable = EnvVar {
                sensitive: secret_ref || is_sensitive(key, &value),
                value,
                secret_ref,
            };
            (key.value.clone(), variable)
        })
        .collect();
    let home = format!("{AGENTS_ROOT}/{}", profile.worker_name);
    let mut hiclaw = vec![
        ("HICLAW_WORKER_NAME", profile.worker_name.clone()),
        ("HICLAW_WORKER_CR_NAME", profile.member.clone()),
        ("HICLAW_CONSOLE_PORT", CONSOLE_PORT.to_string()),
        ("HOME", home),
    ];
    if let Some(hostname) = &profile.hostname {
        hiclaw.push(("PILOT_HOSTNAME", hostname.clone()));
    }
    for (key, value) in hiclaw {
        let variable = EnvVar {
            sensitive: is_sensitive(key, &value),
            value,
            secret_ref: false,
        };
        env.insert(key.to_owned(), variable);
    }
    env
}

/// The spec's labels, then clawops' and HiClaw's over them (they identify what clawops owns).
fn labels(fleet: &str, profile: &Profile<'_>) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = profile
        .labels
        .iter()
        .map(|(key, value)| (key.value.clone(), value.clone()))
        .collect();
    let identity = if profile.role == AgentRole::Manager {
        MANAGER_LABEL
    } else {
        WORKER_LABEL
    };
    let runtime: Runtime = profile.runtime;
    let mut own = vec![
        (identity, profile.member.clone()),
        (ROLE_LABEL, profile.role.as_str().to_owned()),
        (RUNTIME_LABEL, runtime.as_str().to_owned()),
        (FLEET_LABEL, fleet.to_owned()),
    ];
    if let Some(team) = profile.team {
        own.push((TEAM_LABEL, team.name().to_owned()));
    }
    for (key, value) in own {
        labels.insert(key.to_owned(), value);
    }
    labels
}
