//! The desired state as a HiClaw controller is given it: for each agent the upstream
//! member spec (a Worker's, a Manager's, a Team leader's or a Team worker's, with HiClaw's
//! own field names), for each Team its own fields, and every Human.
//!
//! [`retarget`] turns a resolved [`Desired`] into the one the `hiclaw` target plans with:
//! each agent carries its member spec ([`HiclawMember`]) and its runtime hash becomes a
//! hash of that spec. Upstream's controller recreates a member whenever its spec hash
//! moves, so on this target every spec change is a recreate, gated on the controller
//! reporting the member ready on its new spec. `state` is left out of the spec and of the
//! hash: sleeping and waking are operations of their own, and the fleet itself (leaders,
//! the Manager, auto-sleep) changes it at run time.
//!
//! Fields only clawops knows (a Team's `image` and `upgrade`, a leader's `image` and
//! `runtime`, `resources`) are resolved here or left out; the validation of the target
//! (`spec::validate::target`) warns about the ones that cannot reach the controller.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::agent::{Agent, AgentRole, ImageSource, Workspace};
use super::{Desired, hash};
use crate::spec::hiclaw::{DebugWorkerSpec, EnvMap, EnvValue, TeamSpec};
use crate::spec::{Sourced, Spec};

/// An upstream spec: field name → value, as the CRD spells it.
pub type SpecFields = Map<String, Value>;

/// Which object an agent's member spec lives in.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MemberObject {
    /// A standalone Worker object (also a DebugWorker, realized as a Worker).
    Worker {
        /// `metadata.name`.
        name: String,
    },
    /// A Manager object.
    Manager {
        /// `metadata.name`.
        name: String,
    },
    /// `spec.leader` of a Team object.
    Leader {
        /// The Team's `metadata.name`.
        team: String,
    },
    /// One of `spec.workers` of a Team object.
    TeamWorker {
        /// The Team's `metadata.name`.
        team: String,
    },
}

impl MemberObject {
    /// The Team the member belongs to, if any.
    pub fn team(&self) -> Option<&str> {
        match self {
            MemberObject::Leader { team } | MemberObject::TeamWorker { team } => Some(team),
            MemberObject::Worker { .. } | MemberObject::Manager { .. } => None,
        }
    }
}

/// One agent as the controller is given it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HiclawMember {
    /// Where its spec is written.
    pub object: MemberObject,
    /// The member spec without `state` (a Team member's includes its `name`), defaults
    /// filled in as the API server fills them, so it compares equal to the live one.
    pub spec: SpecFields,
}

/// A Team's own fields (everything but `leader` and `workers`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HiclawTeam {
    /// `metadata.name`.
    pub name: String,
    /// `description`, `teamName`, `admin`, `humanMembers`, `peerMentions`, `channelPolicy`.
    pub settings: SpecFields,
    /// The leader's member name.
    pub leader: String,
    /// The workers' member names, in the order git lists them.
    pub workers: Vec<String>,
}

/// A Human.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HiclawHuman {
    /// `metadata.name`.
    pub name: String,
    /// Its spec.
    pub spec: SpecFields,
}

/// The fleet's Teams and Humans as the controller is given them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HiclawFleet {
    /// Every Team, sorted by name.
    pub teams: Vec<HiclawTeam>,
    /// Every Human, sorted by name.
    pub humans: Vec<HiclawHuman>,
}

impl HiclawFleet {
    /// The Team named `name`.
    pub fn team(&self, name: &str) -> Option<&HiclawTeam> {
        self.teams.iter().find(|team| team.name == name)
    }
}

/// Fields the `hiclaw` target never sends: clawops extensions, and `state` (its own
/// operations).
const NOT_SENT: [&str; 4] = ["state", "resources", "upgrade", "image"];

/// The desired state of `spec` (already resolved into `desired`) for the `hiclaw` target:
/// every agent gets its member spec and a runtime hash over it; Teams and Humans are
/// recorded. Agents that no HiClaw kind carries (Pilot roles) keep no member spec; the
/// validation of the target refuses them before this runs.
pub fn retarget(spec: &Spec, desired: &mut Desired) {
    let empty_config = hash::config_hash(&Workspace::new());
    let teams_by_name: HashMap<&str, &Sourced<TeamSpec>> =
        spec.teams.iter().map(|team| (team.name(), team)).collect();
    for agent in &mut desired.agents {
        let Some(member) = member_of(spec, &teams_by_name, agent) else {
            continue;
        };
        agent.runtime_hash = member_hash(&member);
        agent.config_hash.clone_from(&empty_config);
        agent.workspace = Workspace::new();
        agent.hiclaw = Some(std::sync::Arc::new(member));
    }
    let mut teams: Vec<HiclawTeam> = spec.teams.iter().map(team).collect();
    teams.sort_by(|left, right| left.name.cmp(&right.name));
    let mut humans: Vec<HiclawHuman> = spec
        .humans
        .iter()
        .map(|human| HiclawHuman {
            name: human.name().to_owned(),
            spec: normalized(to_fields(human.spec())),
        })
        .collect();
    humans.sort_by(|left, right| left.name.cmp(&right.name));
    desired.hiclaw = Some(HiclawFleet { teams, humans });
}

/// The hash that decides whether the controller must be given a member's spec again: the
/// object it lives in and the spec, in canonical form.
pub fn member_hash(member: &HiclawMember) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(canonical(
        &serde_json::to_value(&member.object).unwrap_or_default(),
    ));
    hasher.update([0]);
    hasher.update(canonical_fields(&member.spec));
    hex::encode(hasher.finalize())
}

/// JSON with every object's keys sorted, so equal values give equal text.
pub fn canonical(value: &Value) -> String {
    serde_json::to_string(&sorted(value)).unwrap_or_default()
}

/// The canonical text of a spec's fields (as [`canonical`] of the object they make,
/// without copying them into one first).
fn canonical_fields(fields: &SpecFields) -> String {
    serde_json::to_string(&sorted_fields(fields)).unwrap_or_default()
}

/// A copy of `value` with every object's keys sorted.
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(fields) => sorted_fields(fields),
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

fn sorted_fields(fields: &SpecFields) -> Value {
    let mut keys: Vec<&String> = fields.keys().collect();
    keys.sort_unstable();
    Value::Object(
        keys.into_iter()
            .map(|key| (key.clone(), sorted(&fields[key])))
            .collect(),
    )
}

/// A spec as the API server keeps it: the CRDs' defaults filled in (`transport: http`
/// on MCP servers, `protocol: http` on exposed ports) and empty values left out.
pub fn normalized(mut fields: SpecFields) -> SpecFields {
    for (list, key) in [("mcpServers", "transport"), ("expose", "protocol")] {
        if let Some(Value::Array(items)) = fields.get_mut(list) {
            for item in items.iter_mut().filter_map(Value::as_object_mut) {
                item.entry(key.to_owned())
                    .or_insert_with(|| Value::String("http".to_owned()));
            }
        }
    }
    fields.retain(|_, value| !is_empty(value));
    fields
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(fields) => fields.is_empty(),
        _ => false,
    }
}

fn to_fields(value: &impl Serialize) -> SpecFields {
    match serde_json::to_value(value) {
        Ok(Value::Object(fields)) => fields,
        _ => SpecFields::new(),
    }
}

/// The env map as upstream writes it: text values only (`!secret` references never
/// reach this target; its validation refuses them).
fn env_fields(env: &EnvMap) -> Value {
    Value::Object(
        env.iter()
            .filter_map(|(key, value)| match value {
                EnvValue::Text(text) => Some((key.value.clone(), Value::String(text.clone()))),
                EnvValue::SecretRef { .. } => None,
            })
            .collect(),
    )
}

/// The member spec of `agent`, from the document that defines it.
fn member_of(
    spec: &Spec,
    teams_by_name: &HashMap<&str, &Sourced<TeamSpec>>,
    agent: &Agent,
) -> Option<HiclawMember> {
    let (object, mut fields, env) = match agent.role {
        AgentRole::Standalone => {
            let worker = spec.workers.iter().find(|w| w.name() == agent.member)?;
            let object = MemberObject::Worker {
                name: worker.name().to_owned(),
            };
            (object, to_fields(worker.spec()), &worker.spec().env)
        }
        AgentRole::Manager => {
            let manager = spec.managers.first()?;
            let object = MemberObject::Manager {
                name: manager.name().to_owned(),
            };
            (object, to_fields(manager.spec()), &manager.spec().env)
        }
        AgentRole::TeamLeader | AgentRole::Worker => {
            let team = teams_by_name.get(agent.team.as_deref()?)?;
            let team_spec = team.spec();
            let name = team.name().to_owned();
            if agent.role == AgentRole::TeamLeader {
                let mut fields = to_fields(&team_spec.leader);
                fields.remove("runtime");
                let object = MemberObject::Leader { team: name };
                (object, fields, &team_spec.leader.env)
            } else {
                let worker = team_spec.workers.iter().find(|w| *w.name == agent.member)?;
                let mut fields = to_fields(worker);
                fields.remove("containerManaged");
                (MemberObject::TeamWorker { team: name }, fields, &worker.env)
            }
        }
        AgentRole::Debug => {
            let debug = spec
                .debug_workers
                .iter()
                .find(|d| d.name() == agent.member)?;
            return Some(debug_member(spec, debug, agent));
        }
        AgentRole::Pilot => return None,
    };
    for key in NOT_SENT {
        fields.remove(key);
    }
    if !env.is_empty() {
        fields.insert("env".to_owned(), env_fields(env));
    }
    if agent.image_source != ImageSource::Default && agent.role != AgentRole::TeamLeader {
        fields.insert("image".to_owned(), Value::String(agent.image.clone()));
    }
    Some(HiclawMember {
        object,
        spec: normalized(fields),
    })
}

/// A DebugWorker realized as a Worker object: its model, image, SOUL and env, and read
/// access (`accessEntries`) to its targets' workspaces in the installation's object
/// storage, where the controller runs with a credential provider. Its `AGENTS.md` names
/// the targets and where their workspaces are.
fn debug_member(spec: &Spec, debug: &Sourced<DebugWorkerSpec>, agent: &Agent) -> HiclawMember {
    let written = debug.spec();
    let mut fields = SpecFields::new();
    let model = written
        .model
        .clone()
        .or_else(|| {
            agent
                .debug_targets
                .iter()
                .find_map(|target| super::profile::member_model(spec, target))
        })
        .unwrap_or_default();
    fields.insert("model".to_owned(), Value::String(model));
    if agent.image_source != ImageSource::Default {
        fields.insert("image".to_owned(), Value::String(agent.image.clone()));
    }
    if let Some(soul) = &written.soul {
        fields.insert("soul".to_owned(), Value::String(soul.clone()));
    }
    let prefixes: Vec<Value> = agent
        .debug_targets
        .iter()
        .map(|target| Value::String(format!("agents/{}/", runtime_name(spec, target))))
        .collect();
    let listed: Vec<String> = agent
        .debug_targets
        .iter()
        .map(|target| format!("- {target}: agents/{}/", runtime_name(spec, target)))
        .collect();
    fields.insert(
        "agents".to_owned(),
        Value::String(format!(
            "You debug these agents. Read their workspaces in the shared storage (read only) and write your findings to your own workspace:\n{}\n",
            listed.join("\n")
        )),
    );
    fields.insert(
        "accessEntries".to_owned(),
        serde_json::json!([{
            "service": "object-storage",
            "permissions": ["read", "list"],
            "scope": {"prefixes": prefixes},
        }]),
    );
    if !written.env.is_empty() {
        fields.insert("env".to_owned(), env_fields(&written.env));
    }
    if !written.labels.is_empty() {
        fields.insert("labels".to_owned(), serde_json::json!(written.labels));
    }
    HiclawMember {
        object: MemberObject::Worker {
            name: debug.name().to_owned(),
        },
        spec: normalized(fields),
    }
}

/// The runtime name (`workerName`, else the member name) of the member `member`.
fn runtime_name(spec: &Spec, member: &str) -> String {
    let written = spec
        .workers
        .iter()
        .find(|worker| worker.name() == member)
        .and_then(|worker| worker.spec().worker_name.as_ref())
        .or_else(|| {
            spec.teams.iter().find_map(|team| {
                let team_spec = team.spec();
                if *team_spec.leader.name == member {
                    return team_spec.leader.worker_name.as_ref();
                }
                team_spec
                    .workers
                    .iter()
                    .find(|worker| *worker.name == member)
                    .and_then(|worker| worker.worker_name.as_ref())
            })
        });
    written.map_or_else(|| member.to_owned(), |name| name.value.clone())
}

/// A Team's own fields, and its members' names.
fn team(team: &Sourced<crate::spec::TeamSpec>) -> HiclawTeam {
    let written = team.spec();
    let mut settings = to_fields(written);
    for key in ["leader", "workers", "image", "upgrade"] {
        settings.remove(key);
    }
    HiclawTeam {
        name: team.name().to_owned(),
        settings: normalized(settings),
        leader: written.leader.name.value.clone(),
        workers: written
            .workers
            .iter()
            .map(|worker| worker.name.value.clone())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::test_support::{fleet_files, spec_of};

    #[test]
    fn canonical_text_is_compact_json_with_sorted_keys_at_every_depth() {
        let value = serde_json::json!({
            "b": [{"z": 1, "a": "x\"y"}, null, true, 2.5],
            "a": {"d": {}, "c": []},
        });
        let expected = r#"{"a":{"c":[],"d":{}},"b":[{"a":"x\"y","z":1},null,true,2.5]}"#;
        assert_eq!(canonical(&value), expected);
    }

    fn retargeted() -> Desired {
        let files: Vec<(String, String)> = fleet_files()
            .into_iter()
            .filter(|(path, _)| path != "pilot.yaml")
            .collect();
        let spec = spec_of(&files);
        let mut desired = crate::desired::resolve(&spec);
        retarget(&spec, &mut desired);
        desired
    }

    #[test]
    fn every_agent_carries_its_upstream_member_spec_without_state() {
        let desired = retargeted();
        let qa = desired.agent("hiclaw-worker-alpha-qa").expect("alpha-qa");
        let member = qa.hiclaw.as_ref().expect("member spec");
        assert_eq!(
            member.object,
            MemberObject::TeamWorker {
                team: "alpha".into()
            }
        );
        assert_eq!(member.spec["name"], "alpha-qa");
        assert!(!member.spec.contains_key("state"));
        let solo = desired.agent("hiclaw-worker-solo").expect("solo");
        let spec = &solo.hiclaw.as_ref().expect("member").spec;
        assert_eq!(spec["expose"][1]["protocol"], "http", "defaults filled");
        let lead = desired.agent("hiclaw-worker-alpha-lead").expect("lead");
        let spec = &lead.hiclaw.as_ref().expect("member").spec;
        assert!(!spec.contains_key("image") && !spec.contains_key("runtime"));
        let debug = desired.agent("hiclaw-worker-alpha-debug").expect("debug");
        let spec = &debug.hiclaw.as_ref().expect("member").spec;
        assert_eq!(
            spec["accessEntries"][0]["scope"]["prefixes"][0],
            "agents/dev-bot/"
        );
        let fleet = desired.hiclaw.as_ref().expect("fleet");
        assert_eq!(fleet.humans.len(), 3);
        let alpha = fleet.team("alpha").expect("alpha");
        assert_eq!(alpha.settings["admin"]["name"], "alice");
        assert_eq!(alpha.workers, ["alpha-dev", "alpha-qa"]);
    }

    #[test]
    fn the_hash_follows_the_spec_not_the_state_nor_the_key_order() {
        let desired = retargeted();
        let agent = desired.agent("hiclaw-worker-solo").expect("solo");
        let member = agent.hiclaw.as_deref().expect("member").clone();
        let mut reordered = member.clone();
        reordered.spec = member.spec.clone().into_iter().rev().collect();
        assert_eq!(member_hash(&member), member_hash(&reordered));
        let mut changed = member.clone();
        changed
            .spec
            .insert("model".into(), Value::String("other".into()));
        assert_ne!(member_hash(&member), member_hash(&changed));
        assert_eq!(agent.runtime_hash, member_hash(&member));
    }
}
