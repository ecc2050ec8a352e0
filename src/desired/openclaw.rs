//! `openclaw.json`: the agent's runtime configuration (model, runtime, skills, MCP servers,
//! package, access entries, channel allow-lists, heartbeat), as pretty JSON with a fixed
//! key order.
//!
//! Channel allow-lists come from team membership: a team member's group list holds its
//! teammates, the team's admin and its human members; a worker takes direct messages from
//! its leader and the admin, a leader from the admin and the human members. The Manager
//! hears every admin; standalone Workers and Pilot roles hear the admin-like Humans and
//! those who list them in `accessibleWorkers`; a DebugWorker hears its allowed users.
//! The team's and then the agent's `channelPolicy` add and remove names on top.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::spec::Spec;
use crate::spec::hiclaw::{AccessEntry, ChannelPolicy, McpTransport, RemoteSkillSource, Runtime};

use super::agent::AgentRole;
use super::profile::{Profile, Specifics, admin_like_humans};
use super::workspace::{DEFAULT_WORKER_IDLE_TIMEOUT, Roster, leader_heartbeat};

/// The Manager's heartbeat interval when `config.heartbeatInterval` is not written.
pub const DEFAULT_MANAGER_HEARTBEAT: &str = "15m";
/// Where the Manager notifies when `config.notifyChannel` is not written.
pub const DEFAULT_NOTIFY_CHANNEL: &str = "admin-dm";

/// The file, in key order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OpenclawFile<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<&'a str>,
    runtime: Runtime,
    skills: &'a [String],
    remote_skills: &'a [RemoteSkillSource],
    mcp_servers: Vec<McpServerEntry<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    package: Option<&'a str>,
    access_entries: &'a [AccessEntry],
    channels: Channels,
    #[serde(skip_serializing_if = "Option::is_none")]
    heartbeat: Option<HeartbeatSettings<'a>>,
}

/// An MCP server with its transport spelled out.
#[derive(Serialize)]
struct McpServerEntry<'a> {
    name: &'a str,
    url: &'a str,
    transport: McpTransport,
}

/// Who the agent listens to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Channels {
    /// Users heard in group rooms.
    pub group_allow_from: Vec<String>,
    /// Users who may send direct messages.
    pub dm_allow_from: Vec<String>,
    /// Whether team members may mention each other (team members only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_mentions: Option<bool>,
}

/// How often the agent wakes to check on others.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HeartbeatSettings<'a> {
    every: &'a str,
    worker_idle_timeout: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    notify_channel: Option<&'a str>,
}

/// The content of `openclaw.json`.
pub(crate) fn file(spec: &Spec, profile: &Profile<'_>) -> String {
    let content = OpenclawFile {
        model: profile.model.as_deref(),
        runtime: profile.runtime,
        skills: &profile.skills,
        remote_skills: profile.remote_skills,
        mcp_servers: profile
            .mcp_servers
            .iter()
            .map(|server| McpServerEntry {
                name: &server.name,
                url: &server.url,
                transport: server.transport.unwrap_or_default(),
            })
            .collect(),
        package: profile.package,
        access_entries: profile.access_entries,
        channels: channels(spec, profile),
        heartbeat: heartbeat(profile),
    };
    // Strings, booleans and derived enums always serialize.
    let mut json = serde_json::to_string_pretty(&content).unwrap_or_default();
    json.push('\n');
    json
}

fn heartbeat<'a>(profile: &Profile<'a>) -> Option<HeartbeatSettings<'a>> {
    if let Specifics::Manager { config } = &profile.specifics {
        let config = config.as_ref();
        return Some(HeartbeatSettings {
            every: config
                .and_then(|config| config.heartbeat_interval.as_ref())
                .map_or(DEFAULT_MANAGER_HEARTBEAT, |every| every.value.as_str()),
            worker_idle_timeout: config
                .and_then(|config| config.worker_idle_timeout.as_ref())
                .map_or(DEFAULT_WORKER_IDLE_TIMEOUT, |idle| idle.value.as_str()),
            notify_channel: Some(
                config
                    .and_then(|config| config.notify_channel.as_deref())
                    .unwrap_or(DEFAULT_NOTIFY_CHANNEL),
            ),
        });
    }
    leader_heartbeat(profile).map(|(every, worker_idle_timeout)| HeartbeatSettings {
        every,
        worker_idle_timeout,
        notify_channel: None,
    })
}

/// The agent's allow-lists, sorted, with every `channelPolicy` applied.
pub(crate) fn channels(spec: &Spec, profile: &Profile<'_>) -> Channels {
    let mut group: BTreeSet<String> = BTreeSet::new();
    let mut direct: BTreeSet<String> = BTreeSet::new();
    let mut peer_mentions = None;
    match (&profile.specifics, profile.team) {
        (_, Some(team)) => {
            let roster = Roster::of(team);
            group.insert(roster.leader.clone());
            group.extend(roster.workers.iter().cloned());
            group.remove(&profile.worker_name);
            group.extend(roster.admin.iter().cloned());
            group.extend(roster.human_members.iter().cloned());
            direct.extend(roster.admin.iter().cloned());
            if profile.role == AgentRole::TeamLeader {
                direct.extend(roster.human_members);
            } else {
                direct.insert(roster.leader);
            }
            peer_mentions = Some(team.spec().peer_mentions.unwrap_or(true));
            if let Some(policy) = &team.spec().channel_policy {
                apply(policy, &mut group, &mut BTreeSet::new());
            }
        }
        (Specifics::Manager { .. }, None) => {
            let admins = all_admins(spec);
            group.extend(admins.iter().cloned());
            direct.extend(admins);
        }
        (Specifics::Debug { allowed_users }, None) => direct.extend(allowed_users.iter().cloned()),
        (_, None) => {
            direct.extend(admin_like_humans(spec));
            direct.extend(
                spec.humans
                    .iter()
                    .filter(|human| {
                        let reachable = &human.spec().accessible_workers;
                        reachable
                            .iter()
                            .any(|worker| *worker.value == profile.member)
                    })
                    .map(|human| human.name().to_owned()),
            );
        }
    }
    if let Some(policy) = profile.channel_policy {
        apply(policy, &mut group, &mut direct);
    }
    Channels {
        group_allow_from: group.into_iter().collect(),
        dm_allow_from: direct.into_iter().collect(),
        peer_mentions,
    }
}

/// Admin-like Humans and every team's admin.
fn all_admins(spec: &Spec) -> Vec<String> {
    let mut admins = admin_like_humans(spec);
    admins.extend(
        spec.teams
            .iter()
            .filter_map(|team| team.spec().admin.as_ref())
            .map(|admin| admin.name.value.clone()),
    );
    admins
}

/// Adds the policy's extras, then removes its denials.
fn apply(policy: &ChannelPolicy, group: &mut BTreeSet<String>, direct: &mut BTreeSet<String>) {
    group.extend(policy.group_allow_extra.iter().cloned());
    direct.extend(policy.dm_allow_extra.iter().cloned());
    for denied in &policy.group_deny_extra {
        group.remove(denied);
    }
    for denied in &policy.dm_deny_extra {
        direct.remove(denied);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::desired::Desired;
    use crate::desired::test_support::{desired_of, edited, fleet_files};

    fn openclaw(desired: &Desired, member: &str) -> Value {
        let agent = desired
            .agents
            .iter()
            .find(|agent| agent.member == member)
            .unwrap_or_else(|| panic!("no agent {member}"));
        serde_json::from_str(&agent.workspace["openclaw.json"]).expect("openclaw.json is JSON")
    }

    fn list(value: &Value, key: &str) -> Vec<String> {
        value["channels"][key]
            .as_array()
            .expect("a list")
            .iter()
            .map(|item| item.as_str().expect("text").to_owned())
            .collect()
    }

    #[test]
    fn keys_come_in_a_fixed_order() {
        let desired = fleet_with_extras();
        let text = &desired
            .agent("hiclaw-worker-alpha-dev")
            .expect("dev")
            .workspace["openclaw.json"];
        let keys: Vec<usize> = [
            "\"model\"",
            "\"runtime\"",
            "\"skills\"",
            "\"remoteSkills\"",
            "\"mcpServers\"",
            "\"package\"",
            "\"accessEntries\"",
            "\"channels\"",
        ]
        .iter()
        .map(|key| {
            text.find(key)
                .unwrap_or_else(|| panic!("{key} missing in {text}"))
        })
        .collect();
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]), "{text}");
        assert!(text.starts_with("{\n  \"model\": \"dev-model\",\n") && text.ends_with("}\n"));
    }

    fn fleet_with_extras() -> Desired {
        let files = edited("teams.yaml", |text| {
            text.replace(
                "skills: [coding]\n",
                "skills: [coding]\n      package: packages/dev.zip\n      mcpServers: [{name: docs, url: http://docs/mcp}]\n      remoteSkills: [{source: nacos://n/s, skills: [{name: review, label: latest}]}]\n      accessEntries: [{service: ai-gateway}]\n",
            )
        });
        desired_of(&files)
    }

    #[test]
    fn skills_mcp_servers_package_and_access_are_written() {
        let dev = openclaw(&fleet_with_extras(), "alpha-dev");
        assert_eq!(dev["skills"], serde_json::json!(["coding"]));
        assert_eq!(
            dev["mcpServers"],
            serde_json::json!([{"name": "docs", "url": "http://docs/mcp", "transport": "http"}])
        );
        assert_eq!(dev["package"], "packages/dev.zip");
        assert_eq!(dev["remoteSkills"][0]["skills"][0]["label"], "latest");
        assert_eq!(dev["accessEntries"][0]["service"], "ai-gateway");
        let pilot = openclaw(&desired_of(&fleet_files()), "acme-central");
        assert_eq!(
            pilot["skills"],
            serde_json::json!(["pilot-sync", "pilot-share", "pilot-health"])
        );
    }

    #[test]
    fn allow_lists_follow_team_membership() {
        let desired = desired_of(&fleet_files());
        let dev = openclaw(&desired, "alpha-dev");
        assert_eq!(
            list(&dev, "groupAllowFrom"),
            ["alice", "alpha-lead", "alpha-qa", "bob"]
        );
        assert_eq!(list(&dev, "dmAllowFrom"), ["alice", "alpha-lead"]);
        assert_eq!(dev["channels"]["peerMentions"], true);
        let lead = openclaw(&desired, "alpha-lead");
        assert_eq!(
            list(&lead, "groupAllowFrom"),
            ["alice", "alpha-qa", "bob", "dev-bot"]
        );
        assert_eq!(list(&lead, "dmAllowFrom"), ["alice", "bob"]);
        let manager = openclaw(&desired, "default");
        assert_eq!(list(&manager, "dmAllowFrom"), ["alice"]);
        assert_eq!(manager["heartbeat"]["every"], "15m");
        assert_eq!(manager["heartbeat"]["notifyChannel"], "admin-dm");
        let solo = openclaw(&desired, "solo");
        assert_eq!(list(&solo, "dmAllowFrom"), ["alice", "carol"]);
        assert!(solo["channels"].get("peerMentions").is_none());
        let debug = openclaw(&desired, "alpha-debug");
        assert_eq!(list(&debug, "dmAllowFrom"), ["alice"]);
    }

    #[test]
    fn channel_policies_add_and_remove_names() {
        let files = edited("teams.yaml", |text| {
            text.replace(
                "  admin: {name: alice}\n",
                "  admin: {name: alice}\n  channelPolicy: {groupAllowExtra: [ops], groupDenyExtra: [bob]}\n  peerMentions: false\n",
            )
            .replace(
                "model: qa-model\n",
                "model: qa-model\n      channelPolicy: {dmAllowExtra: [bob], dmDenyExtra: [alice], groupDenyExtra: [ops]}\n",
            )
        });
        let desired = desired_of(&files);
        let dev = openclaw(&desired, "alpha-dev");
        assert_eq!(
            list(&dev, "groupAllowFrom"),
            ["alice", "alpha-lead", "alpha-qa", "ops"]
        );
        assert_eq!(dev["channels"]["peerMentions"], false);
        let qa = openclaw(&desired, "alpha-qa");
        assert_eq!(
            list(&qa, "groupAllowFrom"),
            ["alice", "alpha-lead", "dev-bot"]
        );
        assert_eq!(list(&qa, "dmAllowFrom"), ["alpha-lead", "bob"]);
    }
}
