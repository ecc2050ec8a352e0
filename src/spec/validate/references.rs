//! Rules across documents: unique names per kind, unique agent names fleet-wide (HiClaw's
//! rule for team members and standalone workers), and references to Humans, Teams and
//! workers that must exist (including the teams of `[rollout] canary`).

use std::collections::HashMap;

use crate::spec::hiclaw::DebugTargetType;
use crate::spec::{Code, Diagnostic, Located, Position, Sourced, Spec};

/// Where something was first defined, for "already defined at" hints.
#[derive(Clone)]
struct Definition {
    file: String,
    position: Position,
    what: String,
}

/// Checks every cross-document rule.
pub(super) fn check(spec: &Spec, diagnostics: &mut Vec<Diagnostic>) {
    unique_per_kind(&spec.workers, "Worker", diagnostics);
    unique_per_kind(&spec.teams, "Team", diagnostics);
    unique_per_kind(&spec.humans, "Human", diagnostics);
    unique_per_kind(&spec.debug_workers, "DebugWorker", diagnostics);
    unique_per_kind(&spec.pilot_setups, "PilotSetup", diagnostics);
    single(
        &spec.image_sets,
        Code::MultipleImageSets,
        "ImageSet",
        diagnostics,
    );
    single(&spec.managers, Code::DuplicateName, "Manager", diagnostics);
    let members = unique_members(spec, diagnostics);
    human_references(spec, diagnostics);
    team_and_worker_references(spec, &members, diagnostics);
    debug_targets(spec, &members, diagnostics);
    canary_teams(spec, diagnostics);
}

fn unique_per_kind<S>(resources: &[Sourced<S>], kind: &str, diagnostics: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<&str, &Sourced<S>> = HashMap::new();
    for resource in resources {
        if let Some(first) = seen.get(resource.name()) {
            diagnostics.push(
                Diagnostic::error(
                    Code::DuplicateName,
                    &resource.file,
                    resource.name_position(),
                    format!("{kind} `{}` is defined twice", resource.name()),
                )
                .with_help(format!(
                    "first defined at {}:{}; rename or remove one",
                    first.file,
                    first.name_position()
                )),
            );
        } else {
            seen.insert(resource.name(), resource);
        }
    }
}

fn single<S>(resources: &[Sourced<S>], code: Code, kind: &str, diagnostics: &mut Vec<Diagnostic>) {
    let Some(first) = resources.first() else {
        return;
    };
    for extra in &resources[1..] {
        diagnostics.push(
            Diagnostic::error(
                code,
                &extra.file,
                extra.name_position(),
                format!(
                    "a fleet has at most one {kind}; `{}` is a second",
                    extra.name()
                ),
            )
            .with_help(format!(
                "the first is `{}` at {}:{}; merge them into one",
                first.name(),
                first.file,
                first.name_position()
            )),
        );
    }
}

/// Registers every agent name (standalone Workers, team leaders and workers, DebugWorkers)
/// and reports collisions; returns the members by name.
fn unique_members(spec: &Spec, diagnostics: &mut Vec<Diagnostic>) -> HashMap<String, Definition> {
    let mut members: HashMap<String, Definition> = HashMap::new();
    let mut register = |name: &Located<String>,
                        file: &str,
                        what: String,
                        diagnostics: &mut Vec<Diagnostic>| {
        if let Some(first) = members.get(&name.value) {
            diagnostics.push(
                Diagnostic::error(Code::DuplicateMember, file, name.position, format!("agent name `{}` is already used by {}", name.value, first.what))
                    .with_help(format!(
                        "agent names (team members, standalone Workers, DebugWorkers, Pilot role hostnames) are unique fleet-wide; {} is at {}:{}",
                        first.what, first.file, first.position
                    )),
            );
        } else {
            members.insert(
                name.value.clone(),
                Definition {
                    file: file.to_owned(),
                    position: name.position,
                    what,
                },
            );
        }
    };
    for worker in &spec.workers {
        register(
            &worker.resource.metadata.name,
            &worker.file,
            format!("Worker `{}`", worker.name()),
            diagnostics,
        );
    }
    for team in &spec.teams {
        let team_spec = team.spec();
        register(
            &team_spec.leader.name,
            &team.file,
            format!("the leader of Team `{}`", team.name()),
            diagnostics,
        );
        for worker in &team_spec.workers {
            register(
                &worker.name,
                &team.file,
                format!("a worker of Team `{}`", team.name()),
                diagnostics,
            );
        }
    }
    for debug in &spec.debug_workers {
        register(
            &debug.resource.metadata.name,
            &debug.file,
            format!("DebugWorker `{}`", debug.name()),
            diagnostics,
        );
    }
    for setup in &spec.pilot_setups {
        // Repeats inside one setup are reported by the Pilot rules (pilot-duplicate-role).
        let mut in_setup = std::collections::HashSet::new();
        for agent in crate::pilot::agents(setup.spec()) {
            if !in_setup.insert(agent.name.clone()) {
                continue;
            }
            let position = agent
                .role
                .hostname
                .as_ref()
                .map_or(agent.role.role.position, |hostname| hostname.position);
            let what = format!(
                "role `{}` of PilotSetup `{}`",
                agent.role.role.value,
                setup.name()
            );
            register(
                &Located::new(agent.name, position),
                &setup.file,
                what,
                diagnostics,
            );
        }
    }
    members
}

fn human_references(spec: &Spec, diagnostics: &mut Vec<Diagnostic>) {
    let humans: Vec<&str> = spec.humans.iter().map(|human| human.name()).collect();
    let check =
        |file: &str, name: &Located<String>, role: &str, diagnostics: &mut Vec<Diagnostic>| {
            if !humans.contains(&name.value.as_str()) {
                diagnostics.push(missing(
                    Code::UnknownHuman,
                    file,
                    name,
                    role,
                    "Human",
                    &humans,
                ));
            }
        };
    for team in &spec.teams {
        if let Some(admin) = &team.spec().admin {
            check(&team.file, &admin.name, "admin", diagnostics);
        }
        for member in &team.spec().human_members {
            check(&team.file, &member.name, "human member", diagnostics);
        }
    }
    for debug in &spec.debug_workers {
        for user in debug
            .spec()
            .access_control
            .iter()
            .flat_map(|access| &access.allowed_users)
        {
            check(&debug.file, user, "allowed user", diagnostics);
        }
    }
}

fn team_and_worker_references(
    spec: &Spec,
    members: &HashMap<String, Definition>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let teams: Vec<&str> = spec.teams.iter().map(|team| team.name()).collect();
    let workers: Vec<&str> = members.keys().map(String::as_str).collect();
    for human in &spec.humans {
        for team in &human.spec().accessible_teams {
            if !teams.contains(&team.value.as_str()) {
                diagnostics.push(missing(
                    Code::UnknownTeam,
                    &human.file,
                    team,
                    "accessible team",
                    "Team",
                    &teams,
                ));
            }
        }
        for worker in &human.spec().accessible_workers {
            if !members.contains_key(&worker.value) {
                diagnostics.push(missing(
                    Code::UnknownWorker,
                    &human.file,
                    worker,
                    "accessible worker",
                    "worker",
                    &workers,
                ));
            }
        }
    }
}

fn debug_targets(
    spec: &Spec,
    members: &HashMap<String, Definition>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let teams: Vec<&str> = spec.teams.iter().map(|team| team.name()).collect();
    let workers: Vec<&str> = members.keys().map(String::as_str).collect();
    for debug in &spec.debug_workers {
        let debug_spec = debug.spec();
        if debug_spec.targets.is_empty() == debug_spec.target.is_none() {
            let message = if debug_spec.targets.is_empty() {
                format!("DebugWorker `{}` has no target", debug.name())
            } else {
                format!(
                    "DebugWorker `{}` sets both `targets` and `target`",
                    debug.name()
                )
            };
            diagnostics.push(
                Diagnostic::error(Code::InvalidDebugTarget, &debug.file, debug.name_position(), message)
                    .with_help("set `targets: [worker, ...]` or `target: {type: team|worker, name: ...}`, not both"),
            );
        }
        for target in &debug_spec.targets {
            if !members.contains_key(&target.value) {
                diagnostics.push(missing(
                    Code::UnknownWorker,
                    &debug.file,
                    target,
                    "debug target",
                    "worker",
                    &workers,
                ));
            }
        }
        if let Some(target) = &debug_spec.target {
            match target.target_type {
                DebugTargetType::Team if !teams.contains(&target.name.value.as_str()) => {
                    diagnostics.push(missing(
                        Code::UnknownTeam,
                        &debug.file,
                        &target.name,
                        "debug target",
                        "Team",
                        &teams,
                    ));
                }
                DebugTargetType::Worker if !members.contains_key(&target.name.value) => {
                    diagnostics.push(missing(
                        Code::UnknownWorker,
                        &debug.file,
                        &target.name,
                        "debug target",
                        "worker",
                        &workers,
                    ));
                }
                DebugTargetType::Team | DebugTargetType::Worker => {}
            }
        }
    }
}

/// Every `[rollout] canary` entry must name a Team.
fn canary_teams(spec: &Spec, diagnostics: &mut Vec<Diagnostic>) {
    let teams: Vec<&str> = spec.teams.iter().map(|team| team.name()).collect();
    for (index, canary) in spec.config.rollout.canary.iter().enumerate() {
        if teams.contains(&canary.as_str()) {
            continue;
        }
        let position = spec
            .canary_positions
            .get(index)
            .copied()
            .unwrap_or(Position::new(1, 1));
        diagnostics.push(missing(
            Code::UnknownTeam,
            &spec.config_file,
            &Located::new(canary.clone(), position),
            "canary team",
            "Team",
            &teams,
        ));
    }
}

fn missing(
    code: Code,
    file: &str,
    name: &Located<String>,
    role: &str,
    kind: &str,
    known: &[&str],
) -> Diagnostic {
    let help = match crate::spec::diagnostic::did_you_mean(name, known.iter().copied()) {
        Some(suggestion) => format!("did you mean `{suggestion}`?"),
        None => format!("define a {kind} named `{}`, or fix the name", name.value),
    };
    Diagnostic::error(
        code,
        file,
        name.position,
        format!("{role} `{}` names no {kind}", name.value),
    )
    .with_help(help)
}
