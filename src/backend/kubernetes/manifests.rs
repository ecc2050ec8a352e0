//! The Kubernetes objects of one agent, as pure data: a Deployment, a ConfigMap with its
//! workspace files, a ServiceAccount, a Secret with what must not sit in the pod spec,
//! and a Service when it exposes ports. No I/O: `clawops render` prints these, apply sends
//! them.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource,
    EnvVar as KubeEnvVar, EnvVarSource, ExecAction, KeyToPath, PodSpec, PodTemplateSpec,
    Probe as KubeProbe, ResourceRequirements, Secret, SecretKeySelector, Service, ServiceAccount,
    ServicePort, ServiceSpec, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::settings::KubernetesSettings;
use crate::backend::labels::{
    AGENT_LABEL, COMMIT_LABEL, FLEET_LABEL, RUNTIME_HASH_LABEL, STATE_LABEL,
};
use crate::desired::{Agent, AgentRole, DEBUG_WORKSPACES};
use crate::spec::hiclaw::AgentState;

// The fleet and agent labels, and the runtime-hash (pod template), commit and state
// annotations (Deployment and ConfigMap) use the keys both backends share, in
// `crate::backend::labels`; the keys below are this backend's own.

/// Annotation on the ConfigMap: data key → path under `HOME`, as JSON.
pub const PATHS_ANNOTATION: &str = "clawops.dev/paths";
/// Key of the applied record (JSON, workspace left out) in the agent's Secret.
pub const RECORD_KEY: &str = "applied.json";
/// Prefix of the Secret keys that hold sensitive env values written in git.
pub const ENV_KEY_PREFIX: &str = "env.";
/// Seconds a pod must stay Ready before it counts as available.
pub const MIN_READY_SECONDS: i32 = 2;
/// What `clawops render` prints instead of a sensitive value.
pub const REDACTED: &str = "(redacted: written by clawops apply)";

/// Everything one agent is made of on a cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentObjects {
    /// The Deployment; `None` for a `Stopped` agent (its ConfigMap stays).
    pub deployment: Option<Deployment>,
    /// Workspace files, mounted at `HOME`.
    pub config_map: ConfigMap,
    /// The agent's own identity; it gets no API token.
    pub service_account: ServiceAccount,
    /// The applied record and the sensitive env values written in git.
    pub secret: Secret,
    /// A Service for the exposed ports, if any.
    pub service: Option<Service>,
}

/// The name of an agent's workspace ConfigMap.
pub fn config_map_name(agent: &str) -> String {
    format!("{agent}-workspace")
}

/// The name of an agent's Secret (applied record, sensitive env).
pub fn secret_name(agent: &str) -> String {
    format!("{agent}-clawops")
}

/// Labels on every object of `agent`: the agent's own (HiClaw's and the fleet's), `app`,
/// and the agent label that selects its pod.
pub fn agent_labels(agent: &Agent) -> BTreeMap<String, String> {
    let mut labels = agent.labels.clone();
    let app = match agent.role {
        AgentRole::Manager => "hiclaw-manager",
        _ => "hiclaw-worker",
    };
    labels.insert("app".to_owned(), app.to_owned());
    labels.insert(AGENT_LABEL.to_owned(), agent.name.clone());
    labels
}

/// The selector of the agent's pod.
pub fn selector_labels(agent: &Agent, fleet: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (FLEET_LABEL.to_owned(), fleet.to_owned()),
        (AGENT_LABEL.to_owned(), agent.name.clone()),
    ])
}

fn metadata(
    name: String,
    settings: &KubernetesSettings,
    labels: &BTreeMap<String, String>,
) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: Some(settings.namespace.clone()),
        labels: Some(labels.clone()),
        ..Default::default()
    }
}

/// Annotations recording what was applied (on the Deployment and the ConfigMap). The
/// config hash is not one of them: observing hashes the files the ConfigMap holds.
fn record_annotations(agent: &Agent, commit: Option<&str>) -> BTreeMap<String, String> {
    let mut annotations =
        BTreeMap::from([(STATE_LABEL.to_owned(), agent.state.as_str().to_owned())]);
    if let Some(commit) = commit {
        annotations.insert(COMMIT_LABEL.to_owned(), commit.to_owned());
    }
    annotations
}

/// Every object of `agent`. `reveal` puts sensitive values in the Secret (apply);
/// without it they are [`REDACTED`] (render).
pub fn agent_objects(
    agent: &Agent,
    settings: &KubernetesSettings,
    commit: Option<&str>,
    reveal: bool,
) -> AgentObjects {
    let labels = agent_labels(agent);
    AgentObjects {
        deployment: (agent.state != AgentState::Stopped)
            .then(|| deployment(agent, settings, &labels, commit)),
        config_map: config_map(agent, settings, &labels, commit),
        service_account: ServiceAccount {
            metadata: metadata(agent.name.clone(), settings, &labels),
            automount_service_account_token: Some(false),
            ..Default::default()
        },
        secret: secret(agent, settings, &labels, reveal),
        service: service(agent, settings, &labels),
    }
}

/// Data keys of the workspace files: the path with `/` as `--` and anything a key cannot
/// hold as `_`; a clash gets the file's index appended.
pub fn workspace_keys(agent: &Agent) -> BTreeMap<String, String> {
    let mut keys = BTreeMap::new();
    for (index, path) in agent.workspace.keys().enumerate() {
        let mut key: String = path
            .replace('/', "--")
            .chars()
            .map(|character| {
                if character.is_ascii_alphanumeric() || "-._".contains(character) {
                    character
                } else {
                    '_'
                }
            })
            .collect();
        if keys.contains_key(&key) {
            key = format!("{key}.{index}");
        }
        keys.insert(key, path.clone());
    }
    keys
}

fn config_map(
    agent: &Agent,
    settings: &KubernetesSettings,
    labels: &BTreeMap<String, String>,
    commit: Option<&str>,
) -> ConfigMap {
    let keys = workspace_keys(agent);
    let data: BTreeMap<String, String> = keys
        .iter()
        .map(|(key, path)| (key.clone(), agent.workspace[path].clone()))
        .collect();
    let mut annotations = record_annotations(agent, commit);
    annotations.insert(
        PATHS_ANNOTATION.to_owned(),
        serde_json::to_string(&keys).unwrap_or_default(),
    );
    let mut metadata = metadata(config_map_name(&agent.name), settings, labels);
    metadata.annotations = Some(annotations);
    ConfigMap {
        metadata,
        data: Some(data),
        ..Default::default()
    }
}

/// The applied record as stored: the workspace (in the ConfigMap) left out, sensitive
/// literal values left out (they are keys of their own in the Secret).
pub fn stored_record(agent: &Agent) -> Agent {
    let mut record = agent.clone();
    record.workspace.clear();
    for variable in record.env.values_mut() {
        if variable.sensitive && !variable.secret_ref {
            variable.value.clear();
        }
    }
    record
}

fn secret(
    agent: &Agent,
    settings: &KubernetesSettings,
    labels: &BTreeMap<String, String>,
    reveal: bool,
) -> Secret {
    let mut data = BTreeMap::from([(
        RECORD_KEY.to_owned(),
        serde_json::to_string(&stored_record(agent)).unwrap_or_default(),
    )]);
    for (key, variable) in &agent.env {
        if variable.sensitive && !variable.secret_ref {
            let value = if reveal {
                variable.value.clone()
            } else {
                REDACTED.to_owned()
            };
            data.insert(format!("{ENV_KEY_PREFIX}{key}"), value);
        }
    }
    // `data`, not the write-only `stringData`: server-side apply then owns every key, and
    // a key clawops stops sending is removed.
    let data = data
        .into_iter()
        .map(|(key, value)| (key, k8s_openapi::ByteString(value.into_bytes())))
        .collect();
    Secret {
        metadata: metadata(secret_name(&agent.name), settings, labels),
        data: Some(data),
        type_: Some("Opaque".to_owned()),
        ..Default::default()
    }
}

fn service(
    agent: &Agent,
    settings: &KubernetesSettings,
    labels: &BTreeMap<String, String>,
) -> Option<Service> {
    if agent.ports.is_empty() {
        return None;
    }
    let ports = agent
        .ports
        .iter()
        .map(|port| ServicePort {
            name: Some(format!("port-{}", port.port)),
            port: i32::from(port.port),
            protocol: Some("TCP".to_owned()),
            ..Default::default()
        })
        .collect();
    Some(Service {
        metadata: metadata(agent.name.clone(), settings, labels),
        spec: Some(ServiceSpec {
            selector: Some(selector_labels(agent, &settings.fleet)),
            ports: Some(ports),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// The container's env: literal values inline, sensitive literals from the agent's Secret,
/// secret references from the fleet's Secret (`[kubernetes] secret`).
fn container_env(agent: &Agent, settings: &KubernetesSettings) -> Vec<KubeEnvVar> {
    agent
        .env
        .iter()
        .map(|(key, variable)| {
            let from = |name: String, key: String| {
                Some(EnvVarSource {
                    secret_key_ref: Some(SecretKeySelector {
                        name,
                        key,
                        optional: Some(false),
                    }),
                    ..Default::default()
                })
            };
            let (value, value_from) = if variable.secret_ref {
                (None, from(settings.secret.clone(), variable.value.clone()))
            } else if variable.sensitive {
                (
                    None,
                    from(secret_name(&agent.name), format!("{ENV_KEY_PREFIX}{key}")),
                )
            } else {
                (Some(variable.value.clone()), None)
            };
            KubeEnvVar {
                name: key.clone(),
                value,
                value_from,
            }
        })
        .collect()
}

fn quantities(cpu: &str, memory: &str) -> BTreeMap<String, Quantity> {
    BTreeMap::from([
        ("cpu".to_owned(), Quantity(cpu.to_owned())),
        ("memory".to_owned(), Quantity(memory.to_owned())),
    ])
}

/// The rollout's probe as the container's readiness probe: the pod is Ready (and the
/// health gate passes) only while it succeeds.
fn readiness_probe(probe: &crate::spec::hiclaw::Probe) -> KubeProbe {
    KubeProbe {
        exec: Some(ExecAction {
            command: Some(probe.exec.clone()),
        }),
        period_seconds: Some(2),
        failure_threshold: Some(3),
        timeout_seconds: Some(5),
        ..Default::default()
    }
}

/// The agent's requests and limits: its own, else `[kubernetes.resources]`. A request
/// above the default limit raises the limit to it (the API server refuses a request
/// above its limit).
fn resources(agent: &Agent, settings: &KubernetesSettings) -> ResourceRequirements {
    let (own, defaults) = (&agent.resources, &settings.resources);
    let pick = |own: &Option<String>, default: &String| own.clone().unwrap_or(default.clone());
    let requests_cpu = pick(&own.requests_cpu, &defaults.requests_cpu);
    let requests_memory = pick(&own.requests_memory, &defaults.requests_memory);
    let at_least = |limit: Option<&String>,
                    default: &String,
                    request: &String,
                    read: fn(&str) -> Option<i64>| {
        limit
            .cloned()
            .unwrap_or_else(|| match (read(default), read(request)) {
                (Some(limit), Some(asked)) if asked > limit => request.clone(),
                _ => default.clone(),
            })
    };
    let limits_cpu = at_least(
        own.limits_cpu.as_ref(),
        &defaults.limits_cpu,
        &requests_cpu,
        crate::desired::cpu_nanos,
    );
    let limits_memory = at_least(
        own.limits_memory.as_ref(),
        &defaults.limits_memory,
        &requests_memory,
        crate::desired::memory_bytes,
    );
    ResourceRequirements {
        requests: Some(quantities(&requests_cpu, &requests_memory)),
        limits: Some(quantities(&limits_cpu, &limits_memory)),
        ..Default::default()
    }
}

/// The workspace ConfigMap at `HOME`, a scratch `/tmp`, and a DebugWorker's targets'
/// workspace files read-only.
fn volumes(agent: &Agent, home: &str) -> (Vec<Volume>, Vec<VolumeMount>) {
    let config_volume = |volume: &str, config_map: String, items: Option<Vec<KeyToPath>>| Volume {
        name: volume.to_owned(),
        config_map: Some(ConfigMapVolumeSource {
            name: config_map,
            items,
            ..Default::default()
        }),
        ..Default::default()
    };
    let items = workspace_keys(agent)
        .into_iter()
        .map(|(key, path)| KeyToPath {
            key,
            path,
            mode: None,
        })
        .collect();
    let mut volumes = vec![
        config_volume("workspace", config_map_name(&agent.name), Some(items)),
        Volume {
            name: "scratch".to_owned(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Default::default()
        },
    ];
    let mount = |name: String, path: String, read_only: bool| VolumeMount {
        name,
        mount_path: path,
        read_only: Some(read_only),
        ..Default::default()
    };
    let mut mounts = vec![
        mount("workspace".to_owned(), home.to_owned(), true),
        mount("scratch".to_owned(), "/tmp".to_owned(), false),
    ];
    for (index, target) in agent.debug_targets.iter().enumerate() {
        let volume = format!("target-{index}");
        let target_agent = agent.debug_target_agent(target);
        // Without items the ConfigMap's keys are the file names: the target's files by key.
        volumes.push(config_volume(&volume, config_map_name(&target_agent), None));
        mounts.push(mount(volume, format!("{DEBUG_WORKSPACES}/{target}"), true));
    }
    (volumes, mounts)
}

fn deployment(
    agent: &Agent,
    settings: &KubernetesSettings,
    labels: &BTreeMap<String, String>,
    commit: Option<&str>,
) -> Deployment {
    let home = agent
        .env
        .get("HOME")
        .map(|home| home.value.clone())
        .unwrap_or_default();
    let (volumes, volume_mounts) = volumes(agent, &home);
    let ports: Vec<ContainerPort> = agent
        .ports
        .iter()
        .map(|port| ContainerPort {
            container_port: i32::from(port.port),
            protocol: Some("TCP".to_owned()),
            ..Default::default()
        })
        .collect();
    let container = Container {
        name: "worker".to_owned(),
        image: Some(agent.image.clone()),
        image_pull_policy: Some(agent.pull_policy.as_str().to_owned()),
        env: Some(container_env(agent, settings)),
        working_dir: Some(home),
        ports: (!ports.is_empty()).then_some(ports),
        resources: Some(resources(agent, settings)),
        readiness_probe: agent.probe.as_ref().map(readiness_probe),
        volume_mounts: Some(volume_mounts),
        ..Default::default()
    };
    let hostname = match agent.role {
        AgentRole::Pilot => agent.hostname.clone(),
        _ => None,
    };
    let template_metadata = ObjectMeta {
        labels: Some(labels.clone()),
        annotations: Some(BTreeMap::from([(
            RUNTIME_HASH_LABEL.to_owned(),
            agent.runtime_hash.clone(),
        )])),
        ..Default::default()
    };
    let mut metadata = metadata(agent.name.clone(), settings, labels);
    metadata.annotations = Some(record_annotations(agent, commit));
    Deployment {
        metadata,
        spec: Some(DeploymentSpec {
            replicas: Some(i32::from(agent.state == AgentState::Running)),
            // Available (what the health gate waits for) only after staying Ready this long:
            // the stability window the Docker backend waits out.
            min_ready_seconds: Some(MIN_READY_SECONDS),
            selector: LabelSelector {
                match_labels: Some(selector_labels(agent, &settings.fleet)),
                ..Default::default()
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("Recreate".to_owned()),
                ..Default::default()
            }),
            template: PodTemplateSpec {
                metadata: Some(template_metadata),
                spec: Some(PodSpec {
                    containers: vec![container],
                    service_account_name: Some(agent.name.clone()),
                    automount_service_account_token: Some(false),
                    hostname: hostname.map(|hostname| hostname.replace('.', "-")),
                    volumes: Some(volumes),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_keys_are_valid_and_distinct() {
        let mut agent =
            crate::desired::test_support::desired_of(&crate::desired::test_support::fleet_files())
                .agents[0]
                .clone();
        agent.workspace = BTreeMap::from([
            ("skills/a b/SKILL.md".to_owned(), "x".to_owned()),
            ("skills--a_b--SKILL.md".to_owned(), "y".to_owned()),
            ("SOUL.md".to_owned(), "z".to_owned()),
        ]);
        let keys = workspace_keys(&agent);
        assert_eq!(keys.len(), 3);
        let pattern = regex::Regex::new("^[-._a-zA-Z0-9]+$").expect("pattern");
        assert!(keys.keys().all(|key| pattern.is_match(key)), "{keys:?}");
        assert_eq!(keys["SOUL.md"], "SOUL.md");
    }

    #[test]
    fn sensitive_literals_stay_out_of_the_pod_spec_and_the_record() {
        let mut agent =
            crate::desired::test_support::desired_of(&crate::desired::test_support::fleet_files())
                .agents[0]
                .clone();
        agent.env.insert(
            "API_TOKEN".to_owned(),
            crate::desired::EnvVar {
                value: "s3cr3t-value".to_owned(),
                secret_ref: false,
                sensitive: true,
            },
        );
        let settings = KubernetesSettings::for_fleet("f", "ns");
        let objects = agent_objects(&agent, &settings, None, false);
        let deployment = serde_json::to_string(&objects.deployment).expect("json");
        let secret = serde_json::to_string(&objects.secret).expect("json");
        assert!(!deployment.contains("s3cr3t-value"));
        assert!(!secret.contains("s3cr3t-value"), "render redacts");
        let revealed = agent_objects(&agent, &settings, None, true);
        let data = revealed.secret.data.expect("data");
        let text = |key: &str| String::from_utf8(data[key].0.clone()).expect("utf-8");
        assert_eq!(text("env.API_TOKEN"), "s3cr3t-value");
        assert!(!text(RECORD_KEY).contains("s3cr3t-value"));
        let redacted = objects.secret.data.expect("data");
        assert_eq!(redacted["env.API_TOKEN"].0, REDACTED.as_bytes());
    }

    #[test]
    fn credential_urls_under_plain_keys_come_from_the_secret() {
        let agent = Agent::builder("dev")
            .env("DATABASE_URL", "postgres://app:pw-4242@db/x")
            .env("ENDPOINT", "https://api.example.com/v1")
            .build();
        let settings = KubernetesSettings::for_fleet("f", "ns");
        let objects = agent_objects(&agent, &settings, None, true);
        let deployment = objects.deployment.expect("deployment");
        let env = deployment
            .spec
            .expect("spec")
            .template
            .spec
            .expect("pod")
            .containers[0]
            .env
            .clone()
            .expect("env");
        let variable = |name: &str| env.iter().find(|variable| variable.name == name);
        let database = variable("DATABASE_URL").expect("DATABASE_URL");
        assert_eq!(database.value, None);
        let reference = database
            .value_from
            .as_ref()
            .and_then(|from| from.secret_key_ref.as_ref());
        assert_eq!(
            reference.map(|selector| (selector.name.as_str(), selector.key.as_str())),
            Some((secret_name(&agent.name).as_str(), "env.DATABASE_URL"))
        );
        let endpoint = variable("ENDPOINT").and_then(|variable| variable.value.clone());
        assert_eq!(endpoint.as_deref(), Some("https://api.example.com/v1"));
        let data = objects.secret.data.expect("data");
        assert_eq!(data["env.DATABASE_URL"].0, b"postgres://app:pw-4242@db/x");
        let record = String::from_utf8(data[RECORD_KEY].0.clone()).expect("utf-8");
        assert!(!record.contains("pw-4242"), "{record}");
    }
}
