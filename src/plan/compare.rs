//! Per-agent comparison: what must happen to one agent, and why.

use std::collections::BTreeMap;

use serde_json::Value;

use super::model::{Cause, Drift, Op};
use crate::desired::hiclaw::SpecFields;
use crate::desired::{Agent, EnvVar, is_sensitive, same_variable};
use crate::observe::{ObservedAgent, ObservedStatus};
use crate::spec::hiclaw::AgentState;

/// The operations one agent needs, in the order they run, each with its causes.
pub(super) type Actions = Vec<(Op, Vec<Cause>)>;

/// Decides what a desired agent needs given what is observed of it.
pub(super) fn desired_agent(desired: &Agent, observed: Option<&ObservedAgent>) -> Actions {
    let Some(observed) = observed.filter(|observed| observed.status != ObservedStatus::Missing)
    else {
        return absent(desired, observed);
    };
    if desired.state == AgentState::Stopped {
        return vec![(Op::RemoveAgent, vec![Cause::DesiredStopped])];
    }
    let image_drift = observed
        .last_applied
        .as_ref()
        .map(|applied| applied.image.as_str())
        .filter(|applied| *applied != observed.image)
        .map(|applied| {
            Cause::Drift(Drift::ImageChanged {
                applied: applied.to_owned(),
                running: observed.image.clone(),
            })
        });
    let edited = (!observed.edited.is_empty()).then(|| {
        Cause::Drift(Drift::EditedOutsideClawops {
            fields: observed.edited.clone(),
        })
    });
    let drift: Vec<Cause> = image_drift.into_iter().chain(edited).collect();
    if observed.runtime_hash != desired.runtime_hash || !drift.is_empty() {
        return vec![(Op::RecreateAgent, recreate_causes(desired, observed, drift))];
    }
    let files = file_causes(desired, observed);
    let mut actions = Actions::new();
    match (desired.state, observed.status) {
        (AgentState::Running, ObservedStatus::Stopped) => {
            let cause = if observed.applied_state == Some(AgentState::Running) {
                Cause::Drift(Drift::StoppedOutsideClawops)
            } else {
                state_change(observed, desired)
            };
            actions.push((Op::WakeAgent, vec![cause]));
            if !files.is_empty() {
                actions.push((Op::PushConfig, files));
            }
        }
        (AgentState::Sleeping, ObservedStatus::Running) => {
            if !files.is_empty() {
                actions.push((Op::PushConfig, files));
            }
            let cause = if observed.applied_state == Some(AgentState::Sleeping) {
                Cause::Drift(Drift::StartedOutsideClawops)
            } else {
                state_change(observed, desired)
            };
            actions.push((Op::SleepAgent, vec![cause]));
        }
        _ if !files.is_empty() => actions.push((Op::PushConfig, files)),
        _ => {}
    }
    actions
}

/// An agent with no container: created unless its desired state is Stopped.
fn absent(desired: &Agent, observed: Option<&ObservedAgent>) -> Actions {
    if desired.state == AgentState::Stopped {
        return Actions::new();
    }
    let mut causes = match observed {
        None => vec![Cause::NewAgent],
        Some(missing) if missing.applied_state == Some(AgentState::Stopped) => {
            vec![Cause::StateChanged {
                before: AgentState::Stopped,
                after: desired.state,
            }]
        }
        Some(_) => vec![Cause::Drift(Drift::RemovedOutsideClawops)],
    };
    if desired.state == AgentState::Sleeping {
        causes.push(Cause::StaysAsleep);
    }
    vec![(Op::CreateAgent, causes)]
}

/// An observed agent that is not in git any more.
pub(super) fn gone_agent(prune: bool) -> Actions {
    let op = if prune {
        Op::DeleteAgent
    } else {
        Op::KeepAgent
    };
    vec![(op, vec![Cause::GoneFromGit])]
}

fn recreate_causes(desired: &Agent, observed: &ObservedAgent, drift: Vec<Cause>) -> Vec<Cause> {
    let mut causes = drift;
    if let Some(applied) = &observed.last_applied {
        causes.extend(field_causes(applied, desired));
    }
    let field_found = causes.iter().any(|cause| {
        matches!(
            cause,
            Cause::FieldChanged { .. } | Cause::SensitiveChanged { .. }
        )
    });
    if !field_found && observed.runtime_hash != desired.runtime_hash {
        causes.push(Cause::RuntimeChanged {
            before: observed.runtime_hash.clone(),
            after: desired.runtime_hash.clone(),
        });
    }
    causes.extend(file_causes(desired, observed));
    if applied_state(observed) != desired.state {
        causes.push(state_change(observed, desired));
    }
    if desired.state == AgentState::Sleeping {
        causes.push(Cause::StaysAsleep);
    }
    causes
}

/// Every runtime field that differs between the applied record and the desired one (on
/// the `hiclaw` target: every field of the member spec).
fn field_causes(applied: &Agent, desired: &Agent) -> Vec<Cause> {
    if let (Some(before), Some(after)) = (&applied.hiclaw, &desired.hiclaw) {
        return spec_causes(&before.spec, &after.spec);
    }
    let mut causes = Vec::new();
    let mut field = |path: &str, before: String, after: String| {
        if before != after {
            causes.push(Cause::FieldChanged {
                path: path.to_owned(),
                before: Some(before),
                after: Some(after),
            });
        }
    };
    field("image", applied.image.clone(), desired.image.clone());
    field(
        "runtime",
        applied.runtime.as_str().to_owned(),
        desired.runtime.as_str().to_owned(),
    );
    field(
        "pullPolicy",
        applied.pull_policy.as_str().to_owned(),
        desired.pull_policy.as_str().to_owned(),
    );
    field(
        "hostname",
        applied.hostname.clone().unwrap_or_default(),
        desired.hostname.clone().unwrap_or_default(),
    );
    field("expose", ports(applied), ports(desired));
    field(
        "resources",
        applied.resources.describe(),
        desired.resources.describe(),
    );
    field(
        "debugTargets",
        applied.debug_targets.join(", "),
        desired.debug_targets.join(", "),
    );
    causes.extend(env_causes(&desired.name, &applied.env, &desired.env));
    causes.extend(map_causes("labels", &applied.labels, &desired.labels));
    causes
}

/// Spec fields whose values are texts shown as unified diffs.
const TEXT_FIELDS: [&str; 3] = ["soul", "agents", "identity"];

/// Every field of an upstream spec that differs: `soul`, `agents` and `identity` as texts
/// (shown as diffs), `env` and `labels` key by key (sensitive env values never shown),
/// anything else as its JSON value.
pub(super) fn spec_causes(before: &SpecFields, after: &SpecFields) -> Vec<Cause> {
    let mut causes = Vec::new();
    let text = |value: Option<&Value>| {
        value.map(|value| match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
    };
    for key in before
        .keys()
        .chain(after.keys().filter(|key| !before.contains_key(*key)))
    {
        let (old, new) = (before.get(key), after.get(key));
        if old == new {
            continue;
        }
        match key.as_str() {
            // Both sides are literals here (a controller's spec holds no digests).
            "env" => causes.extend(env_causes("", &plain_env(old), &plain_env(new))),
            "labels" => causes.extend(map_causes("labels", &plain_map(old), &plain_map(new))),
            field if TEXT_FIELDS.contains(&field) => causes.push(Cause::FileChanged {
                path: field.to_owned(),
                before: text(old),
                after: text(new),
            }),
            field => causes.push(Cause::FieldChanged {
                path: field.to_owned(),
                before: text(old),
                after: text(new),
            }),
        }
    }
    causes
}

fn plain_map(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_object)
        .map(|fields| {
            fields
                .iter()
                .map(|(key, value)| (key.clone(), value.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn plain_env(value: Option<&Value>) -> BTreeMap<String, EnvVar> {
    plain_map(value)
        .into_iter()
        .map(|(key, value)| {
            let sensitive = is_sensitive(&key, &value);
            (
                key,
                EnvVar {
                    value,
                    secret_ref: false,
                    sensitive,
                },
            )
        })
        .collect()
}

fn ports(agent: &Agent) -> String {
    let ports: Vec<String> = agent
        .ports
        .iter()
        .map(|port| {
            format!(
                "{}/{}",
                port.port,
                serde_json::to_value(port.protocol)
                    .ok()
                    .and_then(|value| value.as_str().map(str::to_owned))
                    .unwrap_or_default()
            )
        })
        .collect();
    ports.join(", ")
}

/// Env variables of agent `agent` that differ, key by key: a recorded digest of a
/// sensitive value matches the value it was made from ([`same_variable`]), and a change
/// where either side is sensitive carries no values.
fn env_causes(
    agent: &str,
    before: &BTreeMap<String, EnvVar>,
    after: &BTreeMap<String, EnvVar>,
) -> Vec<Cause> {
    let mut causes = Vec::new();
    for key in before
        .keys()
        .chain(after.keys().filter(|key| !before.contains_key(*key)))
    {
        let (old, new) = (before.get(key), after.get(key));
        let same = match (old, new) {
            (Some(old), Some(new)) => same_variable(agent, key, old, new),
            _ => false,
        };
        if same {
            continue;
        }
        let path = format!("env.{key}");
        // The flag, or the rule itself: a record written before a value counted as
        // sensitive has the flag unset.
        let sensitive = [old, new]
            .into_iter()
            .flatten()
            .any(|variable| variable.sensitive || is_sensitive(key, &variable.value));
        causes.push(if sensitive {
            Cause::SensitiveChanged { path }
        } else {
            Cause::FieldChanged {
                path,
                before: old.map(|variable| variable.value.clone()),
                after: new.map(|variable| variable.value.clone()),
            }
        });
    }
    causes
}

fn map_causes(
    prefix: &str,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> Vec<Cause> {
    before
        .keys()
        .chain(after.keys().filter(|key| !before.contains_key(*key)))
        .filter(|key| before.get(*key) != after.get(*key))
        .map(|key| Cause::FieldChanged {
            path: format!("{prefix}.{key}"),
            before: before.get(key).cloned(),
            after: after.get(key).cloned(),
        })
        .collect()
}

/// Workspace files that differ; without the applied record, one cause per hash change.
fn file_causes(desired: &Agent, observed: &ObservedAgent) -> Vec<Cause> {
    if observed.config_hash == desired.config_hash {
        return Vec::new();
    }
    let Some(applied) = &observed.last_applied else {
        return vec![Cause::WorkspaceChanged {
            before: observed.config_hash.clone(),
            after: desired.config_hash.clone(),
        }];
    };
    let before = &applied.workspace;
    let after = &desired.workspace;
    before
        .keys()
        .chain(after.keys().filter(|path| !before.contains_key(*path)))
        .filter(|path| before.get(*path) != after.get(*path))
        .map(|path| Cause::FileChanged {
            path: path.clone(),
            before: before.get(path).cloned(),
            after: after.get(path).cloned(),
        })
        .collect()
}

fn state_change(observed: &ObservedAgent, desired: &Agent) -> Cause {
    Cause::StateChanged {
        before: applied_state(observed),
        after: desired.state,
    }
}

/// The state clawops last applied, or (without a record) the one the container shows.
fn applied_state(observed: &ObservedAgent) -> AgentState {
    observed.applied_state.unwrap_or(match observed.status {
        ObservedStatus::Running => AgentState::Running,
        _ => AgentState::Sleeping,
    })
}
