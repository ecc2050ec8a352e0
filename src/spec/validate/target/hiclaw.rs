//! The rules of the `hiclaw` target: what a HiClaw controller cannot be given (a `!secret`
//! env value, a PilotSetup), clawops extensions it has no field for, and, over the
//! embedded controller's REST API, the fields its bodies lack.

use super::{
    Member, Slot, allowed_users_ignored, env_position, first, remote_skills_position,
    resources_position,
};
use crate::spec::config::BackendKind;
use crate::spec::hiclaw::EnvValue;
use crate::spec::{Code, Diagnostic, Position, Spec};

/// The rules of the `hiclaw` target, whatever the transport.
pub(super) fn check(spec: &Spec, members: &[Member<'_>], diagnostics: &mut Vec<Diagnostic>) {
    for member in members.iter().filter(|member| member.slot != Slot::Pilot) {
        for key in member
            .env
            .iter()
            .filter(|(_, value)| matches!(value, EnvValue::SecretRef { .. }))
            .map(|(key, _)| key)
        {
            diagnostics.push(
                Diagnostic::error(
                    Code::UnsupportedSecretEnv,
                    member.file,
                    key.position,
                    format!(
                        "env `{}` of {} is a `!secret` reference, which the hiclaw backend cannot carry: a HiClaw Worker's env is plain text in the object the controller is given",
                        key.value, member.what
                    ),
                )
                .with_help(
                    "let the HiClaw controller hand the agent its credentials (its gateway key, storage keys and `accessEntries`), or deploy with `[fleet] backend = \"docker\"` or `\"kubernetes\"`, which resolve `!secret` at apply time",
                ),
            );
        }
        if let Some(resources) = member.resources {
            diagnostics.push(
                Diagnostic::warning(
                    Code::IgnoredExtension,
                    member.file,
                    resources_position(resources).unwrap_or(member.anchor),
                    format!(
                        "`resources` of {} is a clawops extension the HiClaw controller has no field for: it is not sent, and the controller sizes the agent's container itself",
                        member.what
                    ),
                )
                .with_help("remove `resources`, or deploy with the docker or kubernetes backend, which set them"),
            );
        }
    }
    for setup in &spec.pilot_setups {
        diagnostics.push(
            Diagnostic::error(
                Code::UnsupportedKind,
                &setup.file,
                setup.name_position(),
                format!(
                    "PilotSetup `{}` cannot be deployed by a HiClaw controller: HiClaw has no kind for it",
                    setup.name()
                ),
            )
            .with_help(
                "Pilot setups are deployed by the docker and kubernetes backends: set `[fleet] backend` to one of them, or keep the setup in a fleet that uses one",
            ),
        );
    }
    for team in &spec.teams {
        let written = team.spec();
        let leader = &written.leader;
        let lead = format!("leader `{}` of Team `{}`", leader.name.value, team.name());
        let mut ignored = |position: Position, message: String, help: &str| {
            diagnostics.push(
                Diagnostic::warning(Code::IgnoredExtension, &team.file, position, message)
                    .with_help(help),
            );
        };
        if let Some(image) = &leader.image {
            ignored(
                image.position,
                format!(
                    "`image` of {lead} is not sent: upstream leaders run the copaw image the HiClaw controller picks"
                ),
                "remove the leader's `image`",
            );
        }
        if let Some(runtime) = &leader.runtime {
            ignored(
                runtime.position,
                format!("`runtime` of {lead} is not sent: upstream leaders always run copaw"),
                "remove the leader's `runtime`",
            );
        }
        let leader_has_own = leader.image.as_ref().is_some_and(|own| !own.is_empty());
        if let Some(image) = written.image.as_ref().filter(|image| !image.is_empty())
            && !leader_has_own
        {
            ignored(
                image.position,
                format!(
                    "`image` of Team `{}` does not reach its leader `{}`: upstream leaders run the copaw image the HiClaw controller picks (the workers still get it)",
                    team.name(),
                    leader.name.value
                ),
                "set the image on the workers (`workers[].image`) instead of the Team to silence this",
            );
        }
        for worker in written
            .workers
            .iter()
            .filter(|worker| worker.container_managed.is_some())
        {
            ignored(
                worker.name.position,
                format!(
                    "`containerManaged` of worker `{}` of Team `{}` is not sent: the Team CRD has no such field, so the controller manages every member's container",
                    worker.name.value,
                    team.name()
                ),
                "remove `containerManaged`, or make the agent a standalone Worker (the Worker CRD has the field)",
            );
        }
    }
    for debug in &spec.debug_workers {
        allowed_users_ignored(debug, BackendKind::Hiclaw, diagnostics);
    }
}

/// The REST API's bodies by member kind: which of `env`, `labels`, `accessEntries`,
/// `remoteSkills` they lack.
fn rest_lacks(slot: Slot) -> &'static [&'static str] {
    match slot {
        Slot::Standalone | Slot::TeamWorker => &["env", "labels", "accessEntries", "remoteSkills"],
        Slot::Leader => &["env", "labels", "remoteSkills"],
        Slot::Manager => &["env", "labels", "accessEntries"],
        Slot::Debug => &["env", "labels"],
        Slot::Pilot => &[],
    }
}

/// The rules of the `hiclaw` target over the embedded controller's REST API.
pub(super) fn rest(spec: &Spec, members: &[Member<'_>], diagnostics: &mut Vec<Diagnostic>) {
    for member in members {
        for field in rest_lacks(member.slot) {
            let written = match *field {
                "env" => (!member.env.is_empty())
                    .then(|| env_position(member.env).unwrap_or(member.anchor)),
                "labels" => (!member.labels.is_empty()).then_some(member.anchor),
                "accessEntries" => (!member.access_entries.is_empty()).then_some(member.anchor),
                _ => (!member.remote_skills.is_empty())
                    .then(|| remote_skills_position(member.remote_skills).unwrap_or(member.anchor)),
            };
            if let Some(position) = written {
                diagnostics.push(
                    Diagnostic::error(
                        Code::RestDropsField,
                        member.file,
                        position,
                        format!(
                            "`{field}` of {} cannot go through the embedded controller's REST API: its bodies have no `{field}` for this member, so the controller would silently drop it",
                            member.what
                        ),
                    )
                    .with_help(format!(
                        "set `[hiclaw] transport = \"kubernetes\"` (the controller in a cluster takes every field), or remove `{field}`"
                    )),
                );
            }
        }
    }
    for debug in &spec.debug_workers {
        let written = debug.spec();
        let targets = written.targets.iter().map(|target| target.position);
        let position = first(targets.chain(written.target.iter().map(|t| t.name.position)))
            .unwrap_or_else(|| debug.name_position());
        diagnostics.push(
            Diagnostic::error(
                Code::RestDropsField,
                &debug.file,
                position,
                format!(
                    "DebugWorker `{}` reads its targets' workspaces through an `accessEntries` grant, which the embedded controller's REST API would silently drop: the agent would run without access to them",
                    debug.name()
                ),
            )
            .with_help("set `[hiclaw] transport = \"kubernetes\"`, or remove the DebugWorker"),
        );
    }
}
