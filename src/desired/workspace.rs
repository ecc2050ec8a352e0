//! Workspace files of an agent (paths relative to its `HOME`): `SOUL.md`, `AGENTS.md`,
//! `IDENTITY.md`, `openclaw.json`, `HEARTBEAT.md` for leaders whose heartbeat is on, and
//! `.pilot/setups/<setup>.json` for Pilot roles. An agent refuses to start without
//! `openclaw.json`, `SOUL.md` and `AGENTS.md`, so those three are always written.

use crate::spec::hiclaw::TeamSpec;
use crate::spec::{Sourced, Spec};

use super::agent::{AgentRole, Workspace};
use super::openclaw;
use super::profile::{Profile, Specifics, worker_name};

/// Interval of a leader's heartbeat when `every` is not written (the design's default).
pub const DEFAULT_HEARTBEAT_EVERY: &str = "30m";
/// Idle time after which a leader puts a worker to sleep when not written.
pub const DEFAULT_WORKER_IDLE_TIMEOUT: &str = "720m";
/// Where a DebugWorker finds the workspaces it reads.
pub const DEBUG_WORKSPACES: &str = "/root/debug/workspaces";
/// Where a DebugWorker writes its reports.
pub const DEBUG_OUTPUT: &str = "/root/debug/output";

/// The members of a team by runtime identity (`workerName`), with its Humans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Roster {
    pub leader: String,
    pub workers: Vec<String>,
    pub admin: Option<String>,
    pub human_members: Vec<String>,
}

impl Roster {
    /// The roster of a team.
    pub fn of(team: &Sourced<TeamSpec>) -> Self {
        let written = team.spec();
        Self {
            leader: worker_name(&written.leader.name, written.leader.worker_name.as_ref()),
            workers: written
                .workers
                .iter()
                .map(|worker| worker_name(&worker.name, worker.worker_name.as_ref()))
                .collect(),
            admin: written.admin.as_ref().map(|admin| admin.name.value.clone()),
            human_members: written
                .human_members
                .iter()
                .map(|member| member.name.value.clone())
                .collect(),
        }
    }
}

/// A leader's heartbeat interval and worker idle timeout, when its heartbeat is on: a
/// `heartbeat` block turns it on unless it says `enabled: false`.
pub(crate) fn leader_heartbeat<'a>(profile: &Profile<'a>) -> Option<(&'a str, &'a str)> {
    let Specifics::Leader {
        heartbeat: Some(heartbeat),
        worker_idle_timeout,
    } = &profile.specifics
    else {
        return None;
    };
    if heartbeat.enabled == Some(false) {
        return None;
    }
    let every = heartbeat
        .every
        .as_ref()
        .map_or(DEFAULT_HEARTBEAT_EVERY, |every| every.value.as_str());
    Some((
        every,
        worker_idle_timeout.unwrap_or(DEFAULT_WORKER_IDLE_TIMEOUT),
    ))
}

/// Every workspace file of an agent.
pub(crate) fn workspace(spec: &Spec, profile: &Profile<'_>) -> Workspace {
    let mut files = Workspace::new();
    let soul = match profile.soul {
        Some(soul) => soul.to_owned(),
        None => format!(
            "# Soul\n\nYou are {}, {}.\n",
            profile.worker_name,
            role_phrase(profile)
        ),
    };
    files.insert("SOUL.md".to_owned(), soul);
    files.insert("AGENTS.md".to_owned(), agents_file(spec, profile));
    let identity = match profile.identity {
        Some(identity) => identity.to_owned(),
        None => identity_file(profile),
    };
    files.insert("IDENTITY.md".to_owned(), identity);
    files.insert("openclaw.json".to_owned(), openclaw::file(spec, profile));
    if let (Some(team), Some((every, idle))) = (profile.team, leader_heartbeat(profile)) {
        files.insert("HEARTBEAT.md".to_owned(), heartbeat_file(team, every, idle));
    }
    if let Specifics::Pilot {
        setup, manifest, ..
    } = &profile.specifics
    {
        // Exactly what `clawops pilot manifests --out` writes for this role.
        let mut json = serde_json::to_string_pretty(manifest).unwrap_or_default();
        json.push('\n');
        files.insert(format!(".pilot/setups/{setup}.json"), json);
    }
    files
}

/// What the agent is, in a few words: "a worker of team `alpha`".
fn role_phrase(profile: &Profile<'_>) -> String {
    let team = profile.team.map_or("", |team| team.name());
    match &profile.specifics {
        Specifics::Pilot { setup, role, .. } => {
            format!("role `{}` of Pilot setup `{setup}`", role.role.value)
        }
        _ => match profile.role {
            AgentRole::Manager => "the Manager".to_owned(),
            AgentRole::TeamLeader => format!("the leader of team `{team}`"),
            AgentRole::Worker => format!("a worker of team `{team}`"),
            AgentRole::Standalone => "a standalone worker".to_owned(),
            AgentRole::Debug => "a debug worker".to_owned(),
            AgentRole::Pilot => "a Pilot role".to_owned(),
        },
    }
}

fn identity_file(profile: &Profile<'_>) -> String {
    let mut text = format!(
        "# Identity\n\n- Name: {}\n- Role: {}\n",
        profile.worker_name, profile.role
    );
    if let Some(team) = profile.team {
        text.push_str(&format!("- Team: {}\n", team.name()));
    }
    if let Some(hostname) = &profile.hostname {
        text.push_str(&format!("- Pilot hostname: {hostname}\n"));
    }
    text
}

/// The built-in block, the team coordination block (team members), then the user's part.
fn agents_file(spec: &Spec, profile: &Profile<'_>) -> String {
    let mut text = format!(
        "<!-- Generated by clawops from fleet `{}`; change the desired state in git, not this file. -->\n\n# {}\n\n## Your role\n\nYou are `{}`, {} in fleet `{}`. {}\n\n{}\n",
        spec.fleet_name,
        profile.worker_name,
        profile.worker_name,
        role_phrase(profile),
        spec.fleet_name,
        role_duties(profile),
        LIFECYCLE,
    );
    if let Some(team) = profile.team {
        text.push('\n');
        text.push_str(&team_block(team, &profile.worker_name));
    }
    if let Some(agents) = profile.agents {
        text.push_str("\n## Instructions\n\n");
        text.push_str(agents);
        if !agents.ends_with('\n') {
            text.push('\n');
        }
    }
    text
}

/// How clawops treats every agent's container and workspace.
const LIFECYCLE: &str = "clawops deploys you from git. Your workspace files are updated in \
place when they change; an upgrade may replace your container, and you are asked to save \
your state first: write what you need into your workspace and acknowledge.";

fn role_duties(profile: &Profile<'_>) -> String {
    match &profile.specifics {
        Specifics::Leader { .. } => "Split incoming work between your workers, review their \
results and report to the team's admin. On each heartbeat (HEARTBEAT.md) wake sleeping \
workers that have work and put idle ones to sleep; you may wake or sleep only your own \
team's workers."
            .to_owned(),
        Specifics::Manager { .. } => "Route work to teams and standalone workers, watch their \
health and keep the admins informed. Agents are created, upgraded and removed from git by \
clawops, not by you."
            .to_owned(),
        Specifics::Debug { .. } => {
            let mounts: Vec<String> = profile
                .debug_targets
                .iter()
                .map(|target| format!("`{DEBUG_WORKSPACES}/{target}/`"))
                .collect();
            format!(
                "You diagnose other agents. Their workspaces are mounted read-only: {}. Write \
your reports to `{DEBUG_OUTPUT}/`; never change the agents you debug.",
                mounts.join(", ")
            )
        }
        Specifics::Pilot {
            setup,
            role,
            manifest,
        } => format!(
            "You play {} on the Pilot network as host `{}`. {} Your peers, data flows and \
handshakes are in `~/.pilot/setups/{setup}.json`.",
            role.role_name, manifest.hostname, role.description
        ),
        Specifics::Plain if profile.role == AgentRole::Worker => {
            let leader = profile.team.map(|team| Roster::of(team).leader);
            format!(
                "Take tasks from your leader `{}` and report your results back to it.",
                leader.unwrap_or_default()
            )
        }
        Specifics::Plain => "Take tasks from the Manager and from the humans allowed to \
reach you, and report your results back to them."
            .to_owned(),
    }
}

/// The team coordination block: who leads, who works, which Humans run the team.
fn team_block(team: &Sourced<TeamSpec>, own_worker_name: &str) -> String {
    let written = team.spec();
    let roster = Roster::of(team);
    let mark = |name: &str| {
        if name == own_worker_name {
            format!("`{name}` (you)")
        } else {
            format!("`{name}`")
        }
    };
    let mut text = format!("## Team `{}`\n\n", team.name());
    if let Some(description) = &written.description {
        text.push_str(&format!("{}\n\n", description.trim_end()));
    }
    text.push_str(&format!("- Leader: {}\n", mark(&roster.leader)));
    let workers: Vec<String> = roster.workers.iter().map(|name| mark(name)).collect();
    if !workers.is_empty() {
        text.push_str(&format!("- Workers: {}\n", workers.join(", ")));
    }
    if let Some(admin) = &roster.admin {
        text.push_str(&format!("- Admin: `{admin}`\n"));
    }
    let humans: Vec<String> = written
        .human_members
        .iter()
        .map(|member| match member.role {
            Some(role) => format!("`{}` ({})", member.name.value, human_role(role)),
            None => format!("`{}`", member.name.value),
        })
        .collect();
    if !humans.is_empty() {
        text.push_str(&format!("- Human members: {}\n", humans.join(", ")));
    }
    let mentions = if written.peer_mentions.unwrap_or(true) {
        "Team members may mention each other in the team room."
    } else {
        "Team members do not mention each other; go through the leader."
    };
    text.push_str(&format!("\n{mentions}\n"));
    text
}

fn human_role(role: crate::spec::hiclaw::HumanRole) -> &'static str {
    match role {
        crate::spec::hiclaw::HumanRole::Coordinator => "coordinator",
    }
}

fn heartbeat_file(team: &Sourced<TeamSpec>, every: &str, idle: &str) -> String {
    let roster = Roster::of(team);
    let workers: Vec<String> = roster
        .workers
        .iter()
        .map(|name| format!("`{name}`"))
        .collect();
    let escalate = roster.admin.map_or_else(
        || "the Manager".to_owned(),
        |admin| format!("the admin `{admin}`"),
    );
    format!(
        "# Heartbeat\n\nEvery {every}, check on the workers of team `{}`: {}.\n\n\
- Wake a sleeping worker that has work waiting.\n\
- Put a worker to sleep when it has been idle for longer than {idle}.\n\
- Report a running worker that has not answered for 60 minutes to {escalate}.\n",
        team.name(),
        if workers.is_empty() {
            "none yet".to_owned()
        } else {
            workers.join(", ")
        },
    )
}

#[cfg(test)]
mod tests {
    use crate::desired::test_support::{desired_of, edited, fleet_files};
    use crate::desired::{Agent, Desired};

    fn fleet() -> Desired {
        desired_of(&fleet_files())
    }

    fn file<'a>(desired: &'a Desired, member: &str, path: &str) -> Option<&'a str> {
        let agent: &Agent = desired
            .agents
            .iter()
            .find(|agent| agent.member == member)
            .unwrap_or_else(|| panic!("no agent {member}"));
        agent.workspace.get(path).map(String::as_str)
    }

    #[test]
    fn every_agent_gets_the_files_it_cannot_start_without() {
        let desired = fleet();
        for agent in &desired.agents {
            for path in ["openclaw.json", "SOUL.md", "AGENTS.md", "IDENTITY.md"] {
                assert!(
                    agent.workspace.contains_key(path),
                    "{} lacks {path}",
                    agent.name
                );
            }
        }
    }

    #[test]
    fn soul_and_identity_are_the_spec_texts_or_generated() {
        let files = edited("teams.yaml", |text| {
            text.replace(
                "model: qa-model\n",
                "model: qa-model\n      soul: You test.\n      identity: QA bot\n",
            )
        });
        let desired = desired_of(&files);
        assert_eq!(file(&desired, "alpha-qa", "SOUL.md"), Some("You test."));
        assert_eq!(file(&desired, "alpha-qa", "IDENTITY.md"), Some("QA bot"));
        assert_eq!(
            file(&desired, "alpha-dev", "SOUL.md"),
            Some("# Soul\n\nYou are dev-bot, a worker of team `alpha`.\n")
        );
        assert_eq!(
            file(&desired, "alpha-dev", "IDENTITY.md"),
            Some("# Identity\n\n- Name: dev-bot\n- Role: worker\n- Team: alpha\n")
        );
    }

    #[test]
    fn agents_md_has_the_role_then_the_team_then_the_users_part() {
        let files = edited("teams.yaml", |text| {
            text.replace(
                "model: qa-model\n",
                "model: qa-model\n      agents: Run the tests twice.\n",
            )
        });
        let desired = desired_of(&files);
        let text = file(&desired, "alpha-qa", "AGENTS.md").expect("AGENTS.md");
        let role = text.find("## Your role").expect("role block");
        let team = text.find("## Team `alpha`").expect("team block");
        let user = text.find("Run the tests twice.").expect("user part");
        assert!(role < team && team < user, "{text}");
        assert!(text.contains("Take tasks from your leader `alpha-lead`"));
        assert!(text.contains("- Leader: `alpha-lead`\n"));
        assert!(text.contains("- Workers: `dev-bot`, `alpha-qa` (you)\n"));
        assert!(text.contains("- Admin: `alice`\n- Human members: `bob` (coordinator)\n"));
        let solo = file(&desired, "solo", "AGENTS.md").expect("AGENTS.md");
        assert!(!solo.contains("## Team"));
        let debug = file(&desired, "alpha-debug", "AGENTS.md").expect("AGENTS.md");
        assert!(debug.contains("`/root/debug/workspaces/alpha-dev/`"));
    }

    #[test]
    fn heartbeat_md_only_for_leaders_whose_heartbeat_is_on() {
        let desired = fleet();
        let heartbeat = file(&desired, "alpha-lead", "HEARTBEAT.md").expect("HEARTBEAT.md");
        assert!(heartbeat.starts_with(
            "# Heartbeat\n\nEvery 1h, check on the workers of team `alpha`: `dev-bot`, `alpha-qa`."
        ));
        assert!(heartbeat.contains("idle for longer than 720m"));
        assert!(heartbeat.contains("to the admin `alice`"));
        for member in ["beta-lead", "alpha-dev", "default", "solo"] {
            assert_eq!(file(&desired, member, "HEARTBEAT.md"), None, "{member}");
        }
        let off = edited("teams.yaml", |text| {
            text.replace("enabled: true", "enabled: false")
        });
        assert_eq!(file(&desired_of(&off), "alpha-lead", "HEARTBEAT.md"), None);
        let defaults = edited("teams.yaml", |text| {
            text.replace(
                "{enabled: true, every: 1h}",
                "{}\n    workerIdleTimeout: 2h",
            )
        });
        let defaults = desired_of(&defaults);
        let text = file(&defaults, "alpha-lead", "HEARTBEAT.md").expect("HEARTBEAT.md");
        assert!(text.contains("Every 30m,") && text.contains("longer than 2h"));
    }

    #[test]
    fn pilot_roles_get_their_manifest_as_pilot_manifests_writes_it() {
        let desired = fleet();
        let folder = tempfile::tempdir().expect("tempdir");
        let spec = crate::desired::test_support::spec_of(&fleet_files());
        let setup = &spec.pilot_setups[0];
        let manifests = crate::pilot::manifests(setup.name(), setup.spec());
        crate::pilot::write_manifests(folder.path(), &manifests).expect("written");
        for member in ["acme-source", "acme-central", "acme-sink"] {
            let written = std::fs::read_to_string(folder.path().join(member).join("relay.json"))
                .expect("manifest file");
            assert_eq!(
                file(&desired, member, ".pilot/setups/relay.json"),
                Some(written.as_str())
            );
        }
        assert_eq!(file(&desired, "solo", ".pilot/setups/relay.json"), None);
    }
}
