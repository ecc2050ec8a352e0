//! What the Kubernetes objects of a fleet depend on besides the desired state: fleet name,
//! namespace, the fleet's Secret, container resources.

use crate::spec::config::{KubernetesConfig, KubernetesResources};

/// Settings of one fleet on one cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct KubernetesSettings {
    /// The fleet (value of `clawops.dev/fleet` on every object).
    pub fleet: String,
    /// Resource name prefix (`hiclaw-`), for team objects.
    pub prefix: String,
    /// The namespace everything lives in.
    pub namespace: String,
    /// The Secret holding `!secret` values.
    pub secret: String,
    /// Container resources.
    pub resources: KubernetesResources,
}

impl KubernetesSettings {
    /// The settings `[kubernetes]` gives `fleet`.
    pub fn from_config(config: &KubernetesConfig, fleet: &str, prefix: &str) -> Self {
        Self {
            fleet: fleet.to_owned(),
            prefix: prefix.to_owned(),
            namespace: config.namespace.clone(),
            secret: config.secret.clone(),
            resources: config.resources.clone(),
        }
    }

    /// Default settings for `fleet` in `namespace`.
    pub fn for_fleet(fleet: &str, namespace: &str) -> Self {
        let config = KubernetesConfig {
            namespace: namespace.to_owned(),
            ..Default::default()
        };
        Self::from_config(&config, fleet, "hiclaw-")
    }
}
