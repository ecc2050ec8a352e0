//! The rules of the direct backends (`docker`, `kubernetes`): fields and kinds only a
//! HiClaw controller realizes reach no agent there.

use super::{Member, Slot, allowed_users_ignored, first, remote_skills_position};
use crate::spec::config::BackendKind;
use crate::spec::{Code, Diagnostic, Spec};

/// The rules of the direct backends (`docker`, `kubernetes`), which run containers without
/// a HiClaw controller.
pub(super) fn check(
    spec: &Spec,
    backend: BackendKind,
    members: &[Member<'_>],
    diagnostics: &mut Vec<Diagnostic>,
) {
    let name = backend.as_str();
    let warn = |diagnostics: &mut Vec<Diagnostic>,
                file: &str,
                position,
                field: &str,
                what: &str,
                pilot| {
        let help = if pilot {
            format!(
                "remove `{field}`: Pilot roles are deployed only by the docker and kubernetes backends, which do not realize it"
            )
        } else {
            format!(
                "deploy with `[fleet] backend = \"hiclaw\"` to have a HiClaw controller realize it, or remove `{field}`"
            )
        };
        diagnostics.push(
            Diagnostic::warning(
                Code::NeedsHiclawController,
                file,
                position,
                format!("`{field}` of {what} is realized only by a HiClaw controller: the {name} backend does not pass it to the agent"),
            )
            .with_help(help),
        );
    };
    for member in members {
        let pilot = member.slot == Slot::Pilot;
        let written = [
            (
                "skills",
                (!member.skills.is_empty()).then_some(member.anchor),
            ),
            ("remoteSkills", remote_skills_position(member.remote_skills)),
            (
                "mcpServers",
                (!member.mcp_servers.is_empty()).then_some(member.anchor),
            ),
            ("package", member.package.map(|package| package.position)),
            (
                "channelPolicy",
                member.channel_policy.map(|_| member.anchor),
            ),
            (
                "accessEntries",
                (!member.access_entries.is_empty()).then_some(member.anchor),
            ),
        ];
        for (field, position) in written {
            if let Some(position) = position {
                warn(
                    diagnostics,
                    member.file,
                    position,
                    field,
                    &member.what,
                    pilot,
                );
            }
        }
    }
    for team in &spec.teams {
        let written = team.spec();
        let what = format!("Team `{}`", team.name());
        let anchor = team.name_position();
        if written.channel_policy.is_some() {
            warn(
                diagnostics,
                &team.file,
                anchor,
                "channelPolicy",
                &what,
                false,
            );
        }
        if written.peer_mentions.is_some() {
            warn(
                diagnostics,
                &team.file,
                anchor,
                "peerMentions",
                &what,
                false,
            );
        }
        if let Some(admin) = written
            .admin
            .as_ref()
            .filter(|_| backend == BackendKind::Docker)
        {
            diagnostics.push(
                Diagnostic::warning(
                    Code::NeedsHiclawController,
                    &team.file,
                    admin.name.position,
                    format!("`admin` of {what} is realized only by a HiClaw controller (room power levels) or by Kubernetes RBAC: the docker backend only names the admin in the team's AGENTS.md"),
                )
                .with_help("deploy with `[fleet] backend = \"kubernetes\"` or `\"hiclaw\"`, or remove `admin`"),
            );
        }
        let leader = &written.leader;
        let lead = format!("leader `{}` of Team `{}`", leader.name.value, team.name());
        if let Some(heartbeat) = &leader.heartbeat {
            let position = heartbeat
                .every
                .as_ref()
                .map_or(leader.name.position, |every| every.position);
            warn(diagnostics, &team.file, position, "heartbeat", &lead, false);
        }
        if let Some(timeout) = &leader.worker_idle_timeout {
            warn(
                diagnostics,
                &team.file,
                timeout.position,
                "workerIdleTimeout",
                &lead,
                false,
            );
        }
    }
    for manager in &spec.managers {
        if let Some(config) = &manager.spec().config {
            let written = [&config.heartbeat_interval, &config.worker_idle_timeout];
            let position = first(written.into_iter().flatten().map(|value| value.position))
                .unwrap_or_else(|| manager.name_position());
            let what = format!("Manager `{}`", manager.name());
            warn(diagnostics, &manager.file, position, "config", &what, false);
        }
    }
    for human in &spec.humans {
        diagnostics.push(
            Diagnostic::warning(
                Code::NeedsHiclawController,
                &human.file,
                human.name_position(),
                format!("Human `{}` gets no account: only a HiClaw controller makes Matrix accounts for Humans, and the {name} backend deploys agents only", human.name()),
            )
            .with_help("deploy with `[fleet] backend = \"hiclaw\"` to create the account; here the Human is only a name that Teams and DebugWorkers refer to"),
        );
    }
    for debug in &spec.debug_workers {
        allowed_users_ignored(debug, backend, diagnostics);
    }
}
