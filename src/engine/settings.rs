//! The settings a use case takes from the command line rather than from git: where the
//! backend is and with which switches ([`Connection`]), and how a plan treats agents that
//! left git ([`PlanSettings`]).

use crate::desired::Desired;
use crate::plan::{MassDeletion, Plan, PlanOptions};
use crate::spec::config::{BackendKind, Config};

/// Where and how to connect, from flags and environment (never from the repository).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Connection {
    /// `--backend`, over `[fleet] backend`.
    pub backend: Option<BackendKind>,
    /// `--kubeconfig`, `--force-conflicts`, the HiClaw controller's URL and token, and
    /// where the REST transport keeps its record.
    pub endpoint: crate::backend::Endpoint,
}

impl Connection {
    /// `config` with these settings laid over it (the endpoint is never in `config`).
    pub fn over(&self, config: &Config) -> Config {
        let mut config = config.clone();
        if let Some(backend) = self.backend {
            config.fleet.backend = backend;
        }
        config
    }
}

/// How a plan treats agents that left git, and how much it may take away.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlanSettings {
    /// `--prune`: delete agents that left git (also on with `[prune] enabled`).
    pub prune: bool,
    /// `--prune-volumes`: a delete removes the agent's workspace too.
    pub prune_volumes: bool,
    /// `--allow-mass-delete`: let a plan over `[prune] max_delete_percent` through.
    pub allow_mass_delete: bool,
}

impl PlanSettings {
    /// The planner's options for `desired`: the one place the prune rule is written.
    pub fn options(&self, desired: &Desired) -> PlanOptions {
        PlanOptions {
            prune: self.prune || desired.prune.enabled,
            delete_workspaces: self.prune_volumes,
        }
    }

    /// What the blast-radius guard refuses in `plan`, unless mass deletes are allowed.
    pub fn refused<'a>(&self, plan: &'a Plan) -> Option<&'a MassDeletion> {
        plan.mass_deletion
            .as_ref()
            .filter(|_| !self.allow_mass_delete)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::test_support::{desired_of, fleet_files};
    use crate::observe::Observed;

    #[test]
    fn prune_is_on_with_the_flag_or_the_fleet_setting_and_volumes_follow_the_flag() {
        let mut desired = desired_of(&fleet_files());
        let settings = PlanSettings::default();
        assert!(!settings.options(&desired).prune);
        desired.prune.enabled = true;
        assert!(settings.options(&desired).prune);
        desired.prune.enabled = false;
        let flagged = PlanSettings {
            prune: true,
            prune_volumes: true,
            allow_mass_delete: false,
        };
        let options = flagged.options(&desired);
        assert!(options.prune && options.delete_workspaces);
    }

    #[test]
    fn the_guard_refuses_a_mass_deletion_unless_allowed() {
        let desired = desired_of(&fleet_files());
        let observed = Observed::from_desired(&desired);
        let mut empty = desired.clone();
        empty.agents.clear();
        empty.groups.clear();
        let settings = PlanSettings {
            prune: true,
            ..PlanSettings::default()
        };
        let plan = crate::plan::plan(&empty, &observed, &settings.options(&empty));
        assert!(settings.refused(&plan).is_some());
        let allowed = PlanSettings {
            allow_mass_delete: true,
            ..settings
        };
        assert!(allowed.refused(&plan).is_none());
    }

    #[test]
    fn the_connection_lays_the_flags_over_the_file() {
        let desired_config = Config::default();
        let connection = Connection {
            backend: Some(BackendKind::Kubernetes),
            endpoint: crate::backend::Endpoint {
                force_conflicts: true,
                kubeconfig: Some("/tmp/kubeconfig".into()),
                ..Default::default()
            },
        };
        let config = connection.over(&desired_config);
        assert_eq!(config.fleet.backend, BackendKind::Kubernetes);
        assert_eq!(Connection::default().over(&desired_config), desired_config);
    }
}
