//! `clawops.toml`: fleet-wide settings. The file is optional and every key has a default.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

use super::hiclaw::{FailurePolicy, Probe, UpgradeOrder};
use super::notify::NotifyConfig;

/// Which backend realizes the fleet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// A Docker Engine.
    #[default]
    Docker,
    /// A Kubernetes cluster.
    Kubernetes,
    /// A running HiClaw controller, which provisions each agent (Matrix account, gateway
    /// key, storage) and runs it.
    Hiclaw,
}

impl BackendKind {
    /// The backend's name, as `[fleet] backend` and `--backend` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Docker => "docker",
            BackendKind::Kubernetes => "kubernetes",
            BackendKind::Hiclaw => "hiclaw",
        }
    }
}

/// The whole of `clawops.toml`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Fleet identity and backend.
    pub fleet: FleetConfig,
    /// Docker backend settings.
    pub docker: DockerConfig,
    /// Kubernetes backend settings.
    pub kubernetes: KubernetesConfig,
    /// HiClaw target settings.
    pub hiclaw: HiclawConfig,
    /// How upgrades roll through the fleet.
    pub rollout: RolloutConfig,
    /// Deleting agents that left git.
    pub prune: PruneConfig,
    /// Who is told what `apply` and `watch` did: GitHub commit statuses, webhooks.
    pub notify: NotifyConfig,
}

/// `[fleet]`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct FleetConfig {
    /// Owner label on everything clawops creates; default: the repository folder name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Resource name prefix, as upstream HiClaw (`hiclaw-`).
    pub prefix: String,
    /// `docker`, `kubernetes` or `hiclaw`.
    pub backend: BackendKind,
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self {
            name: None,
            prefix: "hiclaw-".to_owned(),
            backend: BackendKind::Docker,
        }
    }
}

/// A connection setting the repository may no longer make (`[docker] host`,
/// `[kubernetes] kubeconfig`): where and with which credentials clawops connects is the
/// operator's choice (flags and environment), never the repository's, or a checkout could
/// point `plan` at a kubeconfig whose `exec:` plugin runs a command of its choosing. The
/// key is still read, so older files load, but its value is dropped unread; validation
/// warns where it is written (`ignored-connection-setting`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IgnoredSetting;

impl<'de> Deserialize<'de> for IgnoredSetting {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(deserializer).map(|_| IgnoredSetting)
    }
}

/// `[docker]`. The engine's address is not here: it comes from `DOCKER_HOST` (else the
/// local socket).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DockerConfig {
    /// Network every agent joins.
    pub network: String,
    /// Formerly the engine's address: ignored, with a warning (set `DOCKER_HOST`).
    #[serde(skip_serializing)]
    #[schemars(skip)]
    pub host: Option<IgnoredSetting>,
}

impl Default for DockerConfig {
    fn default() -> Self {
        Self {
            network: "hiclaw-net".to_owned(),
            host: None,
        }
    }
}

/// `[kubernetes]`. The cluster and its credentials are not here: they come from
/// `--kubeconfig`, else `KUBECONFIG`, `~/.kube/config`, else the pod's service account.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct KubernetesConfig {
    /// Namespace of the fleet (created if missing).
    pub namespace: String,
    /// Secret in that namespace holding the values of `!secret NAME` env references, one
    /// key per name.
    pub secret: String,
    /// Resources of every agent's container.
    pub resources: KubernetesResources,
    /// Formerly the kubeconfig file: ignored, with a warning (pass `--kubeconfig`).
    #[serde(skip_serializing)]
    #[schemars(skip)]
    pub kubeconfig: Option<IgnoredSetting>,
}

impl Default for KubernetesConfig {
    fn default() -> Self {
        Self {
            namespace: "hiclaw".to_owned(),
            secret: "clawops-secrets".to_owned(),
            resources: KubernetesResources::default(),
            kubeconfig: None,
        }
    }
}

/// `[kubernetes.resources]`: requests and limits of an agent's container (HiClaw's
/// defaults: 100m/256Mi requested, 1000m/2Gi at most).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct KubernetesResources {
    /// CPU requested.
    pub requests_cpu: String,
    /// Memory requested.
    pub requests_memory: String,
    /// CPU limit.
    pub limits_cpu: String,
    /// Memory limit.
    pub limits_memory: String,
}

impl Default for KubernetesResources {
    fn default() -> Self {
        Self {
            requests_cpu: "100m".to_owned(),
            requests_memory: "256Mi".to_owned(),
            limits_cpu: "1000m".to_owned(),
            limits_memory: "2Gi".to_owned(),
        }
    }
}

/// How clawops reaches a HiClaw controller.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HiclawTransport {
    /// Server-side apply of `hiclaw.io/v1beta1` objects through the Kubernetes API (the
    /// controller installed in a cluster by Helm).
    #[default]
    Kubernetes,
    /// The embedded controller's REST API (`HICLAW_CONTROLLER_URL`).
    Rest,
}

impl HiclawTransport {
    /// The transport's name, as `[hiclaw] transport` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            HiclawTransport::Kubernetes => "kubernetes",
            HiclawTransport::Rest => "rest",
        }
    }
}

/// `[hiclaw]`: which controller owns the fleet's objects and how clawops writes them.
/// Where the controller is and with which credentials clawops connects are not here: they
/// come from flags and the environment (`--kubeconfig`, `HICLAW_CONTROLLER_URL`,
/// `HICLAW_AUTH_TOKEN`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct HiclawConfig {
    /// `kubernetes` (default) or `rest`.
    pub transport: HiclawTransport,
    /// The controller's name: every object is labelled `hiclaw.io/controller=<name>` (the
    /// controller only sees objects with its label; Helm: the release's full name).
    pub controller: String,
    /// The controller's namespace (kubernetes transport).
    pub namespace: String,
}

impl Default for HiclawConfig {
    fn default() -> Self {
        Self {
            transport: HiclawTransport::Kubernetes,
            controller: "hiclaw-controller".to_owned(),
            namespace: "hiclaw".to_owned(),
        }
    }
}

/// `[rollout]`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RolloutConfig {
    /// How many teams upgrade at once (1 to 1000).
    #[serde(deserialize_with = "at_most_1000")]
    #[schemars(range(min = 1, max = 1000))]
    pub teams_in_parallel: u32,
    /// `workers-first` or `leader-first`.
    pub order: UpgradeOrder,
    /// How many agents of a team restart at once (1 to 1000).
    #[serde(deserialize_with = "at_most_1000")]
    #[schemars(range(min = 1, max = 1000))]
    pub max_unavailable: u32,
    /// How long an agent may take to become healthy, e.g. `120s`.
    pub health_timeout: String,
    /// `halt` or `rollback`.
    pub on_failure: FailurePolicy,
    /// Teams that go first, one at a time, before all others.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub canary: Vec<String>,
    /// Health probe for every agent that has none of its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<Probe>,
}

impl Default for RolloutConfig {
    fn default() -> Self {
        Self {
            teams_in_parallel: 1,
            order: UpgradeOrder::WorkersFirst,
            max_unavailable: 1,
            health_timeout: "120s".to_owned(),
            on_failure: FailurePolicy::Halt,
            canary: Vec::new(),
            probe: None,
        }
    }
}

/// `[prune]`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PruneConfig {
    /// Delete agents that left git (otherwise they are reported and kept).
    pub enabled: bool,
    /// A plan removing more than this share of the fleet's agents is refused (0 to 100).
    #[serde(deserialize_with = "percent")]
    #[schemars(range(max = 100))]
    pub max_delete_percent: u32,
}

impl Default for PruneConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            max_delete_percent: 30,
        }
    }
}

/// The largest `teams_in_parallel` and `max_unavailable`: far above any fleet's need, and
/// small enough that the walk's concurrency and batch sizes cannot overflow.
pub const MAX_PARALLEL: u32 = 1000;

/// A whole number in `min..=max`; out of range it is refused where it is written (toml
/// reports the value's position), never clamped behind the operator's back.
fn bounded<'de, D: Deserializer<'de>>(
    deserializer: D,
    min: u32,
    max: u32,
) -> Result<u32, D::Error> {
    let value = i64::deserialize(deserializer)?;
    u32::try_from(value)
        .ok()
        .filter(|value| (min..=max).contains(value))
        .ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{value} is out of range: use a whole number from {min} to {max}"
            ))
        })
}

fn at_most_1000<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    bounded(deserializer, 1, MAX_PARALLEL)
}

fn percent<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    bounded(deserializer, 0, 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn numeric_settings_are_bounded_where_they_are_written() {
        for (text, line) in [
            (
                "[rollout]\nteams_in_parallel = 4294967295\n",
                "teams_in_parallel",
            ),
            (
                "[rollout]\nmax_unavailable = 4294967295\n",
                "max_unavailable",
            ),
            ("[rollout]\nmax_unavailable = 0\n", "max_unavailable"),
            ("[rollout]\nteams_in_parallel = -1\n", "teams_in_parallel"),
            ("[prune]\nmax_delete_percent = 101\n", "max_delete_percent"),
        ] {
            let error = parse(text).expect_err(text);
            assert!(error.message().contains("out of range"), "{error}");
            let span = error.span().expect("a position");
            let value_at = text.find(line).expect("key") + line.len() + 3;
            assert_eq!(span.start, value_at, "{text}");
        }
        let config = parse(
            "[rollout]\nteams_in_parallel = 1000\nmax_unavailable = 1\n[prune]\nmax_delete_percent = 100\n",
        )
        .expect("in range");
        assert_eq!(config.rollout.teams_in_parallel, 1000);
        assert_eq!(config.prune.max_delete_percent, 100);
    }
}
