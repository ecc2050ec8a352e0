//! The fleet-level objects, as pure data: the namespace, and per team a NetworkPolicy
//! (only the team's agents and the Manager reach its pods) and a Role + RoleBinding that
//! let the team's admin read the team's Deployments, pods and logs, and nothing else.
//!
//! RBAC cannot select by label, so the Role names each object: the team's Deployments,
//! and its pods as they are when clawops applies (a pod the cluster replaces between
//! applies becomes readable at the next apply). A rule with no names would grant every
//! object of its kind, so such a rule is left out.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicySpec,
};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::settings::KubernetesSettings;
use crate::backend::labels::FLEET_LABEL;
use crate::desired::{TEAM_LABEL, TeamAccess};

/// The objects of one team.
#[derive(Clone, Debug, PartialEq)]
pub struct TeamObjects {
    /// Who may reach the team's pods.
    pub network_policy: NetworkPolicy,
    /// What the team's admin may read (`None` without an admin).
    pub role: Option<Role>,
    /// The admin's binding to the Role.
    pub role_binding: Option<RoleBinding>,
}

/// The name of a team's NetworkPolicy.
pub fn network_policy_name(settings: &KubernetesSettings, team: &str) -> String {
    format!("{}team-{team}", settings.prefix)
}

/// The name of a team admin's Role and RoleBinding.
pub fn admin_role_name(settings: &KubernetesSettings, team: &str) -> String {
    format!("{}team-{team}-admin", settings.prefix)
}

/// Labels on a team's objects.
pub fn team_labels(settings: &KubernetesSettings, team: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (FLEET_LABEL.to_owned(), settings.fleet.clone()),
        (TEAM_LABEL.to_owned(), team.to_owned()),
    ])
}

/// The fleet's namespace.
pub fn namespace(settings: &KubernetesSettings) -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            name: Some(settings.namespace.clone()),
            labels: Some(BTreeMap::from([(
                FLEET_LABEL.to_owned(),
                settings.fleet.clone(),
            )])),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn selector(labels: BTreeMap<String, String>) -> Option<LabelSelector> {
    Some(LabelSelector {
        match_labels: Some(labels),
        ..Default::default()
    })
}

fn team_metadata(settings: &KubernetesSettings, team: &str, name: String) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: Some(settings.namespace.clone()),
        labels: Some(team_labels(settings, team)),
        ..Default::default()
    }
}

/// The NetworkPolicy of `team`: only the team's pods and the Manager's reach its pods. It
/// depends on the team's name alone, so it can be applied before the team's pods start.
pub fn network_policy(settings: &KubernetesSettings, team: &str) -> NetworkPolicy {
    let labels = team_labels(settings, team);
    let manager = BTreeMap::from([
        (FLEET_LABEL.to_owned(), settings.fleet.clone()),
        ("app".to_owned(), "hiclaw-manager".to_owned()),
    ]);
    let peers = [labels.clone(), manager]
        .into_iter()
        .map(|labels| NetworkPolicyPeer {
            pod_selector: selector(labels),
            ..Default::default()
        })
        .collect();
    NetworkPolicy {
        metadata: team_metadata(settings, team, network_policy_name(settings, team)),
        spec: Some(NetworkPolicySpec {
            pod_selector: selector(labels),
            policy_types: Some(vec!["Ingress".to_owned()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(peers),
                ..Default::default()
            }]),
            ..Default::default()
        }),
    }
}

/// The objects of `team`; `pods` names the team's pods (empty in a render).
pub fn team_objects(
    settings: &KubernetesSettings,
    team: &TeamAccess,
    pods: &[String],
) -> TeamObjects {
    let network_policy = network_policy(settings, &team.name);
    let metadata = |name: String| team_metadata(settings, &team.name, name);
    let Some(admin) = &team.admin else {
        return TeamObjects {
            network_policy,
            role: None,
            role_binding: None,
        };
    };
    let name = admin_role_name(settings, &team.name);
    let role = Role {
        metadata: metadata(name.clone()),
        rules: Some(admin_rules(&team.agents, pods)),
    };
    let role_binding = RoleBinding {
        metadata: metadata(name.clone()),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: "Role".to_owned(),
            name,
        },
        subjects: Some(vec![Subject {
            api_group: Some("rbac.authorization.k8s.io".to_owned()),
            kind: "User".to_owned(),
            name: admin.clone(),
            namespace: None,
        }]),
    };
    TeamObjects {
        network_policy,
        role: Some(role),
        role_binding: Some(role_binding),
    }
}

/// Read access to the named Deployments and pods (and the pods' logs). A kind with no
/// names gets no rule: RBAC reads an empty name list as "all".
fn admin_rules(deployments: &[String], pods: &[String]) -> Vec<PolicyRule> {
    let rule = |group: &str, resources: &[&str], verbs: &[&str], names: &[String]| PolicyRule {
        api_groups: Some(vec![group.to_owned()]),
        resources: Some(
            resources
                .iter()
                .map(|&resource| resource.to_owned())
                .collect(),
        ),
        verbs: verbs.iter().map(|&verb| verb.to_owned()).collect(),
        resource_names: Some(names.to_vec()),
        ..Default::default()
    };
    let mut rules = Vec::new();
    if !deployments.is_empty() {
        rules.push(rule(
            "apps",
            &["deployments"],
            &["get", "watch"],
            deployments,
        ));
    }
    if !pods.is_empty() {
        rules.push(rule("", &["pods"], &["get", "watch"], pods));
        rules.push(rule("", &["pods/log"], &["get"], pods));
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team(admin: Option<&str>) -> TeamAccess {
        TeamAccess {
            name: "alpha".to_owned(),
            admin: admin.map(str::to_owned),
            agents: vec!["hiclaw-worker-alpha-dev".to_owned()],
        }
    }

    #[test]
    fn every_rule_of_the_admin_role_names_its_objects() {
        let settings = KubernetesSettings::for_fleet("f", "ns");
        for pods in [vec![], vec!["hiclaw-worker-alpha-dev-5d9c-x2x".to_owned()]] {
            let objects = team_objects(&settings, &team(Some("alice")), &pods);
            let rules = objects.role.expect("role").rules.expect("rules");
            assert_eq!(rules.len(), 1 + 2 * usize::from(!pods.is_empty()));
            for rule in rules {
                let names = rule.resource_names.unwrap_or_default();
                assert!(!names.is_empty(), "a rule without names grants everything");
                assert!(
                    rule.verbs
                        .iter()
                        .all(|verb| verb == "get" || verb == "watch")
                );
            }
        }
        let no_agents = TeamAccess {
            agents: Vec::new(),
            ..team(Some("alice"))
        };
        let role = team_objects(&settings, &no_agents, &[]).role.expect("role");
        assert_eq!(role.rules, Some(Vec::new()));
    }

    #[test]
    fn a_team_without_admin_gets_only_its_network_policy() {
        let settings = KubernetesSettings::for_fleet("f", "ns");
        let objects = team_objects(&settings, &team(None), &[]);
        assert!(objects.role.is_none() && objects.role_binding.is_none());
        let spec = objects.network_policy.spec.expect("spec");
        let from = spec.ingress.expect("ingress")[0]
            .from
            .clone()
            .expect("from");
        assert_eq!(from.len(), 2, "the team and the Manager");
    }
}
