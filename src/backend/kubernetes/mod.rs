//! The Kubernetes backend (kube + k8s-openapi): per agent a Deployment (one replica
//! running, none asleep, none at all when Stopped), a ConfigMap with its workspace files at
//! `HOME`, a ServiceAccount without API token, a Secret with the applied record and the
//! sensitive env values, and a Service for exposed ports; per team a NetworkPolicy and the
//! admin's Role and RoleBinding ([`access`]).
//!
//! Every change is a server-side apply with field manager `clawops`; what is applied is
//! recorded in annotations (hashes, commit, state) and in the agent's Secret (the record),
//! so observing is three lists however large the fleet. Objects clawops applied are listed
//! in the fleet's inventory ConfigMap, and only listed objects carrying the fleet's label
//! are ever deleted. The apply lock is a `coordination.k8s.io` Lease.

pub mod access;
mod agents;
pub(crate) mod client;
pub use client::FIELD_MANAGER;
mod connect;
pub use connect::load_config;
mod drift;
mod fleet;
mod health;
mod lock;
pub use lock::LEASE_NAME;
pub mod manifests;
mod observe;
mod pilot;
pub mod render;
pub mod settings;
mod teams;

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use super::{Backend, BackendError, LockHolder};
use crate::desired::{Agent, Desired, TeamAccess};
use crate::observe::Observed;
use settings::KubernetesSettings;

/// Name of the fleet's inventory ConfigMap.
pub const INVENTORY_NAME: &str = "clawops-inventory";

/// One fleet in one namespace of one cluster.
pub struct KubernetesBackend {
    client: kube::Client,
    settings: KubernetesSettings,
    description: String,
    force_conflicts: bool,
    poll_interval: Duration,
    /// Objects (`Kind/name`) clawops applied and has not deleted: read once, written by
    /// [`Backend::finish`].
    inventory: tokio::sync::Mutex<Option<BTreeSet<String>>>,
    /// Records (and commits) of agents being recreated, for [`Backend::roll_back`].
    previous: Mutex<HashMap<String, (Agent, Option<String>)>>,
}

impl std::fmt::Debug for KubernetesBackend {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("KubernetesBackend")
            .field("description", &self.description)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl KubernetesBackend {
    /// A backend over `client` (from [`load_config`], or a test's service).
    pub fn new(
        client: kube::Client,
        settings: KubernetesSettings,
        description: String,
        force_conflicts: bool,
    ) -> Self {
        Self {
            client,
            settings,
            description,
            force_conflicts,
            poll_interval: Duration::from_secs(1),
            inventory: tokio::sync::Mutex::new(None),
            previous: Mutex::new(HashMap::new()),
        }
    }

    /// Connects with the kubeconfig at `kubeconfig` (empty: `KUBECONFIG`,
    /// `~/.kube/config`, in-cluster).
    pub async fn connect(
        kubeconfig: &str,
        settings: KubernetesSettings,
        force_conflicts: bool,
    ) -> Result<Self, BackendError> {
        let (client, description) = connect::connect(kubeconfig).await?;
        Ok(Self::new(client, settings, description, force_conflicts))
    }

    /// The health gate looks at most this often, whatever the plan's gate asks (1 s, to
    /// spare the API server; tests go faster).
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    fn forget_previous(&self, name: &str) {
        if let Ok(mut previous) = self.previous.lock() {
            previous.remove(name);
        }
    }

    /// The settings the objects are made with.
    pub fn settings(&self) -> &KubernetesSettings {
        &self.settings
    }
}

#[async_trait::async_trait]
impl Backend for KubernetesBackend {
    fn describe(&self) -> String {
        format!(
            "kubernetes {} namespace {}",
            self.description, self.settings.namespace
        )
    }

    async fn observe(&self) -> Result<Observed, BackendError> {
        observe::observe(self).await
    }

    async fn check_drift(
        &self,
        desired: &Desired,
        observed: Observed,
    ) -> Result<Observed, BackendError> {
        drift::check_drift(self, desired, observed).await
    }

    async fn prepare(&self, agents: &[&Agent]) -> Result<(), BackendError> {
        fleet::prepare(self, agents).await
    }

    async fn finish(&self) -> Result<(), BackendError> {
        fleet::finish(self).await
    }

    async fn update_team_access(
        &self,
        team: &str,
        access: Option<&TeamAccess>,
    ) -> Result<(), BackendError> {
        teams::update_team_access(self, team, access).await
    }

    async fn create_agent(&self, agent: &Agent, commit: Option<&str>) -> Result<(), BackendError> {
        agents::apply_agent(self, agent, commit).await
    }

    async fn recreate_agent(
        &self,
        agent: &Agent,
        commit: Option<&str>,
    ) -> Result<(), BackendError> {
        agents::recreate_agent(self, agent, commit).await
    }

    async fn finish_recreate(&self, name: &str) -> Result<(), BackendError> {
        self.forget_previous(name);
        Ok(())
    }

    async fn roll_back(&self, name: &str) -> Result<(), BackendError> {
        agents::roll_back(self, name).await
    }

    async fn push_config(&self, agent: &Agent, commit: Option<&str>) -> Result<(), BackendError> {
        agents::push_config(self, agent, commit).await
    }

    async fn sleep_agent(&self, name: &str) -> Result<(), BackendError> {
        agents::set_state(self, name, crate::spec::hiclaw::AgentState::Sleeping).await
    }

    async fn wake_agent(&self, name: &str) -> Result<(), BackendError> {
        agents::set_state(self, name, crate::spec::hiclaw::AgentState::Running).await
    }

    async fn remove_agent(&self, name: &str) -> Result<(), BackendError> {
        agents::set_state(self, name, crate::spec::hiclaw::AgentState::Stopped).await
    }

    async fn delete_agent(&self, name: &str, _workspace: bool) -> Result<(), BackendError> {
        fleet::delete_agent(self, name).await
    }

    async fn try_lock(&self, holder: &LockHolder) -> Result<(), BackendError> {
        lock::try_lock(self, holder).await
    }

    async fn renew_lock(&self, holder: &LockHolder) -> Result<(), BackendError> {
        lock::renew_lock(self, holder).await
    }

    async fn unlock(&self, holder: Option<&LockHolder>) -> Result<(), BackendError> {
        lock::unlock(self, holder).await
    }

    async fn wait_healthy(
        &self,
        agent: &Agent,
        timeout: Duration,
        interval: Duration,
    ) -> Result<(), BackendError> {
        health::wait_healthy(self, agent, timeout, interval).await
    }

    async fn bootstrap_pilot(
        &self,
        agent: &Agent,
        remove: &[String],
        timeout: Duration,
    ) -> Result<(), BackendError> {
        crate::backend::pilot::bootstrap(self, agent, remove, timeout).await
    }

    async fn confirm_pilot_trust(
        &self,
        agent: &Agent,
        timeout: Duration,
    ) -> Result<(), BackendError> {
        pilot::confirm_trust(self, agent, timeout).await
    }

    async fn pilot_status(
        &self,
        agent: &Agent,
    ) -> Result<crate::backend::pilot::PilotStatus, BackendError> {
        crate::backend::pilot::status(self, agent).await
    }
}
