//! [`AgentBuilder`]: the one way tests and tools make an [`Agent`] record by hand, without
//! a spec to resolve. Defaults describe a plain running team worker; setters change what a
//! caller needs; [`AgentBuilder::build`] names the agent and computes its two hashes the
//! way the resolver does.

use std::collections::BTreeMap;

use crate::spec::clawops::PullPolicy;
use crate::spec::hiclaw::{AgentState, ExposeProtocol, Runtime};

use super::agent::{Agent, AgentPort, AgentRole, EnvVar, ImageSource};
use super::images::DEFAULT_OPENCLAW_IMAGE;
use super::resolve::resource_name;
use super::sensitive::is_sensitive;
use super::{STANDALONE_GROUP, hash};

/// The resource name prefix a builder uses unless told otherwise.
const DEFAULT_PREFIX: &str = "hiclaw-";
/// The team a builder's agent belongs to unless told otherwise.
const DEFAULT_TEAM: &str = "alpha";

/// Builds an [`Agent`] by hand: the one way tests and tools make a record without
/// resolving a spec (the resolver, [`resolve`](super::resolve), makes the real ones).
///
/// Defaults: resource name `hiclaw-worker-<member>`, worker name `<member>`, a
/// [`Worker`](AgentRole::Worker) of team `alpha` (its rollout group), the OpenClaw
/// runtime on HiClaw's default OpenClaw image, `IfNotPresent`, `Running`, managed by
/// clawops, no env, labels, ports or workspace files, defined in `fleet.yaml` line 1.
///
/// [`build`](Self::build) computes the runtime hash and the config hash from the finished
/// record as the resolver does, unless
/// [`runtime_hash`](Self::runtime_hash) or [`config_hash`](Self::config_hash) fixed them.
/// Change a field of the built record by hand and its hashes no longer match it: set it
/// through the builder instead.
///
/// ```
/// use clawops::desired::{Agent, AgentRole};
/// use clawops::spec::hiclaw::AgentState;
///
/// let agent = Agent::builder("dev")
///     .team("beta")
///     .state(AgentState::Sleeping)
///     .workspace_file("SOUL.md", "You build things.\n")
///     .build();
/// assert_eq!(agent.name, "hiclaw-worker-dev");
/// assert_eq!((agent.role, agent.group.as_str()), (AgentRole::Worker, "beta"));
/// assert_eq!(agent.runtime_hash.len(), 64);
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct AgentBuilder {
    agent: Agent,
    prefix: String,
    runtime_hash: Option<String>,
    config_hash: Option<String>,
}

impl Agent {
    /// A builder of an agent of member `member` (see [`AgentBuilder`]).
    pub fn builder(member: &str) -> AgentBuilder {
        AgentBuilder::new(member)
    }
}

impl AgentBuilder {
    /// A running team worker `member` with the defaults above.
    pub fn new(member: &str) -> Self {
        let agent = Agent {
            name: String::new(),
            member: member.to_owned(),
            worker_name: member.to_owned(),
            role: AgentRole::Worker,
            group: DEFAULT_TEAM.to_owned(),
            team: Some(DEFAULT_TEAM.to_owned()),
            runtime: Runtime::Openclaw,
            image: DEFAULT_OPENCLAW_IMAGE.to_owned(),
            image_source: ImageSource::Default,
            pull_policy: PullPolicy::IfNotPresent,
            state: AgentState::Running,
            container_managed: true,
            env: BTreeMap::new(),
            labels: BTreeMap::new(),
            ports: Vec::new(),
            hostname: None,
            debug_targets: Vec::new(),
            probe: None,
            resources: Default::default(),
            workspace: BTreeMap::new(),
            file: "fleet.yaml".to_owned(),
            line: 1,
            runtime_hash: String::new(),
            config_hash: String::new(),
            hiclaw: None,
            pilot: None,
        };
        Self {
            agent,
            prefix: DEFAULT_PREFIX.to_owned(),
            runtime_hash: None,
            config_hash: None,
        }
    }

    /// The resource name prefix (`hiclaw-` by default): the agent is `<prefix>worker-<member>`,
    /// or `<prefix>manager` for the Manager.
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.to_owned();
        self
    }

    /// The runtime identity (`workerName`; the member name by default).
    pub fn worker_name(mut self, worker_name: &str) -> Self {
        self.agent.worker_name = worker_name.to_owned();
        self
    }

    /// What the agent is; its group and team stay as they are.
    pub fn role(mut self, role: AgentRole) -> Self {
        self.agent.role = role;
        self
    }

    /// A member of `team`: the team is also its rollout group.
    pub fn team(mut self, team: &str) -> Self {
        self.agent.group = team.to_owned();
        self.agent.team = Some(team.to_owned());
        self
    }

    /// In rollout group `group` and no team (e.g. `manager`, `debug`, `pilot:<setup>`).
    pub fn group(mut self, group: &str) -> Self {
        self.agent.group = group.to_owned();
        self.agent.team = None;
        self
    }

    /// A standalone Worker: role [`Standalone`](AgentRole::Standalone), group
    /// `standalone`, no team.
    pub fn standalone(self) -> Self {
        self.role(AgentRole::Standalone).group(STANDALONE_GROUP)
    }

    /// The runtime.
    pub fn runtime(mut self, runtime: Runtime) -> Self {
        self.agent.runtime = runtime;
        self
    }

    /// The agent's own image (its source becomes [`Own`](ImageSource::Own)).
    pub fn image(self, image: &str) -> Self {
        self.image_from(image, ImageSource::Own)
    }

    /// An image and where it came from.
    pub fn image_from(mut self, image: &str, source: ImageSource) -> Self {
        self.agent.image = image.to_owned();
        self.agent.image_source = source;
        self
    }

    /// Running, Sleeping or Stopped.
    pub fn state(mut self, state: AgentState) -> Self {
        self.agent.state = state;
        self
    }

    /// Whether clawops manages a container for it (`true` by default).
    pub fn container_managed(mut self, managed: bool) -> Self {
        self.agent.container_managed = managed;
        self
    }

    /// An env variable with a written value; sensitive when its key looks secret or its
    /// value carries a credential, as the resolver decides.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        let variable = EnvVar {
            value: value.to_owned(),
            secret_ref: false,
            sensitive: is_sensitive(key, value),
        };
        self.agent.env.insert(key.to_owned(), variable);
        self
    }

    /// An env variable whose value is the secret named `secret` (always sensitive).
    pub fn secret_env(mut self, key: &str, secret: &str) -> Self {
        let variable = EnvVar {
            value: secret.to_owned(),
            secret_ref: true,
            sensitive: true,
        };
        self.agent.env.insert(key.to_owned(), variable);
        self
    }

    /// A label on the container or pod.
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.agent.labels.insert(key.to_owned(), value.to_owned());
        self
    }

    /// An exposed port (kept sorted, as the resolver keeps them).
    pub fn port(mut self, port: u16, protocol: ExposeProtocol) -> Self {
        self.agent.ports.push(AgentPort { port, protocol });
        self.agent.ports.sort();
        self.agent.ports.dedup();
        self
    }

    /// Member names whose workspaces a DebugWorker mounts read-only.
    pub fn debug_targets(mut self, targets: &[&str]) -> Self {
        self.agent.debug_targets = targets.iter().map(|&target| target.to_owned()).collect();
        self
    }

    /// A workspace file (path relative to `HOME`).
    pub fn workspace_file(mut self, path: &str, content: &str) -> Self {
        self.agent
            .workspace
            .insert(path.to_owned(), content.to_owned());
        self
    }

    /// The repository-relative file the agent is defined in.
    pub fn file(mut self, file: &str) -> Self {
        self.agent.file = file.to_owned();
        self
    }

    /// A fixed runtime hash instead of the computed one (a test naming its versions).
    pub fn runtime_hash(mut self, runtime_hash: &str) -> Self {
        self.runtime_hash = Some(runtime_hash.to_owned());
        self
    }

    /// A fixed config hash instead of the computed one (a test naming its versions).
    pub fn config_hash(mut self, config_hash: &str) -> Self {
        self.config_hash = Some(config_hash.to_owned());
        self
    }

    /// The record: its resource name, and its hashes unless they were fixed.
    pub fn build(self) -> Agent {
        let mut agent = self.agent;
        agent.name = resource_name(&self.prefix, agent.role, &agent.member);
        agent.config_hash = self
            .config_hash
            .unwrap_or_else(|| hash::config_hash(&agent.workspace));
        agent.runtime_hash = self
            .runtime_hash
            .unwrap_or_else(|| hash::runtime_hash(&agent));
        agent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_a_running_worker_of_team_alpha_named_with_the_prefix() {
        let agent = Agent::builder("dev").build();
        assert_eq!(agent.name, "hiclaw-worker-dev");
        assert_eq!(
            (agent.member.as_str(), agent.worker_name.as_str()),
            ("dev", "dev")
        );
        assert_eq!(agent.role, AgentRole::Worker);
        assert_eq!(
            (agent.group.as_str(), agent.team.as_deref()),
            ("alpha", Some("alpha"))
        );
        assert_eq!(agent.state, AgentState::Running);
        assert!(agent.container_managed);
        let manager = Agent::builder("default")
            .prefix("ops-")
            .role(AgentRole::Manager)
            .group("manager")
            .build();
        assert_eq!(manager.name, "ops-manager");
        assert_eq!(manager.team, None);
    }

    #[test]
    fn the_hashes_are_computed_as_the_resolver_computes_them() {
        let agent = Agent::builder("dev")
            .env("GREETING", "hello")
            .workspace_file("SOUL.md", "You test.\n")
            .build();
        assert_eq!(agent.config_hash, hash::config_hash(&agent.workspace));
        assert_eq!(agent.runtime_hash, hash::runtime_hash(&agent));
        let bumped = Agent::builder("dev")
            .env("GREETING", "hello")
            .workspace_file("SOUL.md", "You test.\n")
            .image("hiclaw/worker:v2")
            .build();
        assert_ne!(bumped.runtime_hash, agent.runtime_hash);
        assert_eq!(bumped.config_hash, agent.config_hash);
        let fixed = Agent::builder("dev")
            .runtime_hash("runtime-1")
            .config_hash("config-1")
            .build();
        assert_eq!(
            (fixed.runtime_hash.as_str(), fixed.config_hash.as_str()),
            ("runtime-1", "config-1")
        );
    }

    #[test]
    fn env_keys_that_look_secret_are_sensitive() {
        let agent = Agent::builder("dev")
            .env("LOG_LEVEL", "info")
            .env("GITHUB_TOKEN", "t")
            .secret_env("PLAIN", "a-secret")
            .build();
        assert!(!agent.env["LOG_LEVEL"].sensitive);
        assert!(agent.env["GITHUB_TOKEN"].sensitive);
        assert!(agent.env["PLAIN"].sensitive && agent.env["PLAIN"].secret_ref);
    }
}
