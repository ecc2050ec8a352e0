//! The `hiclaw` target: clawops writes HiClaw's own `hiclaw.io/v1beta1` objects (Worker,
//! Team, Human, Manager) to a running HiClaw controller, which provisions each agent
//! (Matrix account and rooms, AI-gateway key, storage, workspace) and runs it. Two
//! transports reach the controller ([`transport::Transport`]): the Kubernetes API
//! ([`kube`]) and the embedded controller's REST API ([`rest`]).
//!
//! The core here is written once over the transport:
//! - [`observe`](observe): the live objects and the record of what clawops applied
//!   become one observed agent per member, compared field by field with the desired
//!   member spec; the state the fleet set at run time is reported, never drift.
//! - [`writes`]: one member change per write (a Team is rewritten with one member
//!   changed), a new Team whole (its leader is required), Humans, deletes.
//! - [`gate`]: the health gate: the member is ready on its new spec.

mod gate;
pub mod kube;
pub mod model;
pub mod objects;
mod observe;
mod record_file;
pub mod rest;
pub mod transport;
mod writes;

pub use record_file::default_record_dir;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use super::{Backend, BackendError, LockHolder};
use crate::desired::hiclaw::{HiclawHuman, SpecFields};
use crate::desired::{Agent, Desired, TeamAccess};
use crate::observe::Observed;
use crate::spec::hiclaw::AgentState;
use model::{Applied, ObjectId, Record};
use transport::Transport;

/// Opens the target `[hiclaw]` describes, through its transport.
pub async fn open(
    config: &crate::spec::config::Config,
    fleet: &str,
    endpoint: &super::Endpoint,
) -> Result<Box<dyn Backend>, BackendError> {
    let settings = HiclawSettings {
        fleet: fleet.to_owned(),
        prefix: config.fleet.prefix.clone(),
    };
    let transport: Box<dyn Transport> = match config.hiclaw.transport {
        crate::spec::config::HiclawTransport::Kubernetes => {
            let kube_config = super::kubernetes::load_config(&endpoint.kubeconfig_path()).await?;
            let address = kube_config.cluster_url.to_string();
            let client =
                ::kube::Client::try_from(kube_config).map_err(|error| BackendError::Connect {
                    address: address.clone(),
                    source: error.to_string().into(),
                })?;
            Box::new(kube::KubeTransport::new(
                client,
                &config.hiclaw.namespace,
                &config.hiclaw.controller,
                fleet,
                &address,
            ))
        }
        crate::spec::config::HiclawTransport::Rest => {
            Box::new(rest_transport(config, fleet, endpoint)?)
        }
    };
    Ok(Box::new(HiclawBackend::new(transport, settings)))
}

/// The REST transport `endpoint` points at: `--hiclaw-url` else the controller's default
/// address, the token given (else read from its file), the record under `--hiclaw-record`
/// else the user's state folder.
fn rest_transport(
    config: &crate::spec::config::Config,
    fleet: &str,
    endpoint: &super::Endpoint,
) -> Result<rest::RestTransport, BackendError> {
    let url = endpoint
        .hiclaw_url
        .as_deref()
        .unwrap_or(super::DEFAULT_HICLAW_URL);
    let token = match (&endpoint.hiclaw_token, &endpoint.hiclaw_token_file) {
        (Some(token), _) => Some(rest::AuthToken::new(token)),
        (None, Some(file)) => {
            let file = file.to_string_lossy().into_owned();
            rest::AuthToken::from_lookup(|name| {
                (name == rest::TOKEN_FILE_VARIABLE).then(|| file.clone())
            })?
        }
        (None, None) => None,
    };
    let record_dir = endpoint
        .hiclaw_record
        .clone()
        .unwrap_or_else(default_record_dir);
    rest::RestTransport::new(url, token, &config.hiclaw.controller, fleet, &record_dir)
}

/// What names the fleet's objects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HiclawSettings {
    /// The fleet (label `clawops.dev/fleet`).
    pub fleet: String,
    /// Resource name prefix of the agents (`hiclaw-`).
    pub prefix: String,
}

/// One object as clawops knows it: its whole spec (live, or as last written) and what
/// clawops applied to it.
#[derive(Clone, Debug, Default, PartialEq)]
struct Known {
    spec: SpecFields,
    applied: Applied,
}

/// Everything known of the controller's objects: read by observe, kept up to date by
/// every write, saved by finish.
#[derive(Debug, Default)]
struct Model {
    objects: BTreeMap<ObjectId, Known>,
    /// Agent resource name → its object and member name.
    agents: BTreeMap<String, (ObjectId, String)>,
    /// Desired Teams: whole for a Team the controller did not have when observed (written
    /// whole the first time), only its own fields for one it had (written onto the live
    /// spec; a Team deleted by hand after the plan is written again by the next apply).
    desired_teams: BTreeMap<String, SpecFields>,
    observed: bool,
}

/// What a gate needs to know of the write it judges.
#[derive(Clone, Debug, Default)]
struct Pending {
    /// The member's spec hash before the write (Kubernetes).
    spec_hash: Option<String>,
    /// The write replaced the agent's spec (not only created it).
    recreate: bool,
}

/// One fleet on one HiClaw controller.
pub struct HiclawBackend {
    transport: Box<dyn Transport>,
    settings: HiclawSettings,
    model: tokio::sync::Mutex<Model>,
    pending: Mutex<HashMap<String, Pending>>,
    /// Agent → its object's spec before a recreate, for a rollback.
    previous: Mutex<HashMap<String, (ObjectId, Known)>>,
    poll_interval: Duration,
}

impl std::fmt::Debug for HiclawBackend {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("HiclawBackend")
            .field("transport", &self.transport.describe())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl HiclawBackend {
    /// A backend over `transport`.
    pub fn new(transport: Box<dyn Transport>, settings: HiclawSettings) -> Self {
        Self {
            transport,
            settings,
            model: tokio::sync::Mutex::new(Model::default()),
            pending: Mutex::new(HashMap::new()),
            previous: Mutex::new(HashMap::new()),
            poll_interval: Duration::from_millis(200),
        }
    }

    /// The gates look at most this often (tests go faster).
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    fn record(model: &Model) -> Record {
        Record {
            objects: model
                .objects
                .iter()
                .map(|(id, known)| {
                    // The spec as known goes with it: a transport that cannot read specs
                    // back (REST) starts from it next time.
                    let mut applied = known.applied.clone();
                    applied.spec = Some(known.spec.clone());
                    (id.clone(), applied)
                })
                .collect(),
        }
    }
}

#[async_trait::async_trait]
impl Backend for HiclawBackend {
    fn describe(&self) -> String {
        self.transport.describe()
    }

    async fn observe(&self) -> Result<Observed, BackendError> {
        observe::observe(self).await
    }

    async fn check_drift(
        &self,
        desired: &Desired,
        observed: Observed,
    ) -> Result<Observed, BackendError> {
        observe::with_records(self, desired, observed).await
    }

    async fn prepare(&self, _agents: &[&Agent]) -> Result<(), BackendError> {
        Ok(())
    }

    async fn finish(&self) -> Result<(), BackendError> {
        let model = self.model.lock().await;
        if !model.observed {
            return Ok(());
        }
        self.transport.save_record(&Self::record(&model)).await
    }

    async fn update_team_access(
        &self,
        team: &str,
        access: Option<&TeamAccess>,
    ) -> Result<(), BackendError> {
        writes::write_team_settings(self, team, access.is_some()).await
    }

    async fn write_human(&self, human: &HiclawHuman) -> Result<(), BackendError> {
        writes::write_human(self, human).await
    }

    async fn delete_human(&self, name: &str) -> Result<(), BackendError> {
        writes::delete_object(self, &ObjectId::new(model::Kind::Human, name)).await
    }

    async fn create_agent(&self, agent: &Agent, commit: Option<&str>) -> Result<(), BackendError> {
        writes::write_member(self, agent, commit, false).await
    }

    async fn recreate_agent(
        &self,
        agent: &Agent,
        commit: Option<&str>,
    ) -> Result<(), BackendError> {
        writes::write_member(self, agent, commit, true).await
    }

    async fn finish_recreate(&self, name: &str) -> Result<(), BackendError> {
        if let Ok(mut previous) = self.previous.lock() {
            previous.remove(name);
        }
        Ok(())
    }

    async fn roll_back(&self, name: &str) -> Result<(), BackendError> {
        writes::roll_back(self, name).await
    }

    async fn push_config(&self, agent: &Agent, commit: Option<&str>) -> Result<(), BackendError> {
        writes::write_member(self, agent, commit, true).await
    }

    async fn sleep_agent(&self, name: &str) -> Result<(), BackendError> {
        writes::write_state(self, name, AgentState::Sleeping).await
    }

    async fn wake_agent(&self, name: &str) -> Result<(), BackendError> {
        writes::write_state(self, name, AgentState::Running).await
    }

    async fn remove_agent(&self, name: &str) -> Result<(), BackendError> {
        writes::write_state(self, name, AgentState::Stopped).await
    }

    async fn delete_agent(&self, name: &str, _workspace: bool) -> Result<(), BackendError> {
        writes::delete_member(self, name).await
    }

    async fn try_lock(&self, holder: &LockHolder) -> Result<(), BackendError> {
        self.transport.try_lock(holder).await
    }

    async fn renew_lock(&self, holder: &LockHolder) -> Result<(), BackendError> {
        self.transport.renew_lock(holder).await
    }

    async fn unlock(&self, holder: Option<&LockHolder>) -> Result<(), BackendError> {
        self.transport.unlock(holder).await
    }

    async fn wait_healthy(
        &self,
        agent: &Agent,
        timeout: Duration,
        interval: Duration,
    ) -> Result<(), BackendError> {
        gate::wait_healthy(self, agent, timeout, interval.max(self.poll_interval)).await
    }
}
