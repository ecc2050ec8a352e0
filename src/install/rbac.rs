//! The rights the daemon's ServiceAccount gets, per backend, as plain data (so tests and
//! docs can compare them with what the backends call), and as typed RBAC objects.
//!
//! - **kubernetes**: a ClusterRole to read and create the fleet's namespace, and a Role in
//!   the fleet's namespace for the objects of every agent and team, the pods the health
//!   gate reads and the Pilot bootstrap execs in, and the Lease of the apply lock; the
//!   same rules as docs/kubernetes.md, "The RBAC clawops needs".
//! - **hiclaw**: a Role in the controller's namespace for HiClaw's `hiclaw.io` objects,
//!   the inventory ConfigMap and the Lease. A server-side apply that creates an object is
//!   authorized as `create` too, hence `create` beside `patch`.

/// One rule: these verbs on these resources of these API groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// API groups (`""` is the core group).
    pub api_groups: &'static [&'static str],
    /// Resources (a subresource as `pods/exec`).
    pub resources: &'static [&'static str],
    /// Verbs.
    pub verbs: &'static [&'static str],
}

/// What one backend needs: cluster-wide rules, and rules in the fleet's namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grants {
    /// Rules of the ClusterRole (none: no ClusterRole).
    pub cluster: &'static [Rule],
    /// Rules of the Role in the fleet's (or the controller's) namespace.
    pub namespaced: &'static [Rule],
}

/// Read and create the fleet's namespace (the Kubernetes backend creates it if missing).
const NAMESPACES: Rule = Rule {
    api_groups: &[""],
    resources: &["namespaces"],
    verbs: &["get", "create"],
};

/// The apply lock: a Lease taken, renewed by replace, deleted.
const LEASES: Rule = Rule {
    api_groups: &["coordination.k8s.io"],
    resources: &["leases"],
    verbs: &["get", "create", "update", "delete"],
};

/// Objects applied by server-side apply, listed by label and pruned.
const WRITE: &[&str] = &["get", "list", "create", "update", "patch", "delete"];

/// The Kubernetes backend's rights.
pub const KUBERNETES: Grants = Grants {
    cluster: &[NAMESPACES],
    namespaced: &[
        Rule {
            api_groups: &["apps"],
            resources: &["deployments"],
            verbs: &[
                "get", "list", "watch", "create", "update", "patch", "delete",
            ],
        },
        Rule {
            api_groups: &[""],
            resources: &["configmaps", "secrets", "serviceaccounts", "services"],
            verbs: WRITE,
        },
        Rule {
            api_groups: &[""],
            resources: &["pods"],
            verbs: &["get", "list", "watch"],
        },
        Rule {
            api_groups: &[""],
            resources: &["pods/log"],
            verbs: &["get"],
        },
        // The Pilot bootstrap: `kubectl exec`'s call (a WebSocket upgrade of a GET, which
        // the API server authorizes as `create`).
        Rule {
            api_groups: &[""],
            resources: &["pods/exec"],
            verbs: &["create", "get"],
        },
        Rule {
            api_groups: &["networking.k8s.io"],
            resources: &["networkpolicies"],
            verbs: WRITE,
        },
        // The team admins' Roles; clawops holds every right they grant, so it needs
        // neither `escalate` nor `bind`.
        Rule {
            api_groups: &["rbac.authorization.k8s.io"],
            resources: &["roles", "rolebindings"],
            verbs: WRITE,
        },
        LEASES,
    ],
};

/// The HiClaw target's rights (kubernetes transport).
pub const HICLAW: Grants = Grants {
    cluster: &[],
    namespaced: &[
        Rule {
            api_groups: &["hiclaw.io"],
            resources: &["workers", "teams", "humans", "managers"],
            verbs: &["get", "list", "create", "patch", "delete"],
        },
        // The inventory `clawops-hiclaw-<fleet>`.
        Rule {
            api_groups: &[""],
            resources: &["configmaps"],
            verbs: &["get", "create", "patch"],
        },
        LEASES,
    ],
};

/// The rights of `target`.
pub fn grants(target: super::Target) -> &'static Grants {
    match target {
        super::Target::Kubernetes => &KUBERNETES,
        super::Target::Hiclaw => &HICLAW,
    }
}

/// The name of the ClusterRole and its binding.
pub const CLUSTER_ROLE: &str = "clawops-namespaces";

#[cfg(feature = "kubernetes")]
pub use objects::{cluster_role, cluster_role_binding, role, role_binding};

#[cfg(feature = "kubernetes")]
mod objects {
    use k8s_openapi::api::rbac::v1::{
        ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
    };

    use super::{CLUSTER_ROLE, Rule, grants};
    use crate::install::daemon::meta;
    use crate::install::{NAME, Options};

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|value| (*value).to_owned()).collect()
    }

    fn policy_rules(rules: &[Rule]) -> Vec<PolicyRule> {
        rules
            .iter()
            .map(|rule| PolicyRule {
                api_groups: Some(strings(rule.api_groups)),
                resources: Some(strings(rule.resources)),
                verbs: strings(rule.verbs),
                ..PolicyRule::default()
            })
            .collect()
    }

    fn subject(options: &Options) -> Subject {
        Subject {
            kind: "ServiceAccount".to_owned(),
            name: NAME.to_owned(),
            namespace: Some(options.namespace.clone()),
            api_group: None,
        }
    }

    fn role_ref(kind: &str, name: &str) -> RoleRef {
        RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: kind.to_owned(),
            name: name.to_owned(),
        }
    }

    /// The ClusterRole, when the backend needs cluster-wide rights.
    pub fn cluster_role(options: &Options) -> Option<ClusterRole> {
        let rules = grants(options.target).cluster;
        (!rules.is_empty()).then(|| ClusterRole {
            metadata: meta(CLUSTER_ROLE, None),
            rules: Some(policy_rules(rules)),
            ..ClusterRole::default()
        })
    }

    /// The ClusterRole's binding to the daemon's ServiceAccount.
    pub fn cluster_role_binding(options: &Options) -> Option<ClusterRoleBinding> {
        (!grants(options.target).cluster.is_empty()).then(|| ClusterRoleBinding {
            metadata: meta(CLUSTER_ROLE, None),
            role_ref: role_ref("ClusterRole", CLUSTER_ROLE),
            subjects: Some(vec![subject(options)]),
        })
    }

    /// The Role in the fleet's namespace.
    pub fn role(options: &Options) -> Role {
        Role {
            metadata: meta(NAME, Some(&options.fleet_namespace)),
            rules: Some(policy_rules(grants(options.target).namespaced)),
        }
    }

    /// The Role's binding to the daemon's ServiceAccount (in the daemon's namespace).
    pub fn role_binding(options: &Options) -> RoleBinding {
        RoleBinding {
            metadata: meta(NAME, Some(&options.fleet_namespace)),
            role_ref: role_ref("Role", NAME),
            subjects: Some(vec![subject(options)]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(grants: &Grants, group: &str, resource: &str, verb: &str) -> bool {
        grants.namespaced.iter().chain(grants.cluster).any(|rule| {
            rule.api_groups.contains(&group)
                && rule.resources.contains(&resource)
                && rule.verbs.contains(&verb)
        })
    }

    #[test]
    fn the_kubernetes_backend_can_exec_for_the_pilot_bootstrap_and_make_its_namespace() {
        assert!(allows(&KUBERNETES, "", "pods/exec", "create"));
        assert!(allows(&KUBERNETES, "", "namespaces", "create"));
        assert!(
            KUBERNETES
                .cluster
                .iter()
                .all(|rule| rule.resources == ["namespaces"])
        );
        assert!(allows(
            &KUBERNETES,
            "coordination.k8s.io",
            "leases",
            "update"
        ));
    }

    #[test]
    fn hiclaw_writes_its_objects_and_needs_nothing_cluster_wide() {
        for kind in ["workers", "teams", "humans", "managers"] {
            for verb in ["get", "list", "create", "patch", "delete"] {
                assert!(allows(&HICLAW, "hiclaw.io", kind, verb), "{kind} {verb}");
            }
        }
        assert!(HICLAW.cluster.is_empty());
        assert!(!allows(&HICLAW, "", "pods/exec", "create"));
    }
}
