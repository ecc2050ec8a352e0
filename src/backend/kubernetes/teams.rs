//! Team access rules on a cluster: observing them (each team's NetworkPolicy, the admin's
//! Role and RoleBinding, and whether the Role names the team's pods as they are now), and
//! the plan's `UpdateTeamAccess` step (apply them with the current pod names, or delete
//! them once a team that left git has no agent left).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::ResourceExt;

use super::{KubernetesBackend, access, fleet};
use crate::backend::BackendError;
use crate::backend::labels::AGENT_LABEL;
use crate::desired::{TEAM_LABEL, TeamAccess};
use crate::observe::ObservedTeam;

fn by_name<K: ResourceExt>(objects: Vec<K>) -> BTreeMap<String, K> {
    objects
        .into_iter()
        .map(|object| (object.name_any(), object))
        .collect()
}

/// The names a Role's rule for `resource` lists, sorted.
fn named(role: &Role, resource: &str) -> Vec<String> {
    let mut names: Vec<String> = role
        .rules
        .iter()
        .flatten()
        .filter(|rule| {
            rule.resources
                .iter()
                .flatten()
                .any(|listed| listed == resource)
        })
        .flat_map(|rule| rule.resource_names.clone().unwrap_or_default())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The team's pods as they are now, by team, sorted.
async fn pods_by_team(
    backend: &KubernetesBackend,
) -> Result<BTreeMap<String, Vec<String>>, BackendError> {
    let mut pods: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pod in backend.list::<Pod>(AGENT_LABEL).await? {
        let gone = pod.metadata.deletion_timestamp.is_some();
        if let Some(team) = pod.labels().get(TEAM_LABEL).filter(|_| !gone) {
            pods.entry(team.clone()).or_default().push(pod.name_any());
        }
    }
    for names in pods.values_mut() {
        names.sort();
    }
    Ok(pods)
}

/// Every team's access rules as the cluster has them.
pub(super) async fn observe_teams(
    backend: &KubernetesBackend,
) -> Result<Vec<ObservedTeam>, BackendError> {
    let (policies, roles, bindings, pods) = tokio::try_join!(
        backend.list::<NetworkPolicy>(TEAM_LABEL),
        backend.list::<Role>(TEAM_LABEL),
        backend.list::<RoleBinding>(TEAM_LABEL),
        pods_by_team(backend),
    )?;
    let (roles, bindings) = (by_name(roles), by_name(bindings));
    let mut teams = Vec::new();
    for policy in policies {
        let Some(team) = policy.labels().get(TEAM_LABEL).cloned() else {
            continue;
        };
        let name = access::admin_role_name(&backend.settings, &team);
        let admin = bindings.get(&name).and_then(|binding| {
            binding
                .subjects
                .as_ref()?
                .first()
                .map(|subject| subject.name.clone())
        });
        let role = roles.get(&name);
        let current = pods.get(&team).cloned().unwrap_or_default();
        teams.push(ObservedTeam {
            agents: role
                .map(|role| named(role, "deployments"))
                .unwrap_or_default(),
            pods_named: admin.is_none() || role.is_some_and(|role| named(role, "pods") == current),
            settings: None,
            admin,
            name: team,
        });
    }
    teams.sort_by(|left, right| left.name.cmp(&right.name));
    Ok(teams)
}

/// Applies `access` (the admin's Role naming the team's pods as they are now), or, for a
/// team that left git, deletes its rules once none of its Deployments is left.
pub(super) async fn update_team_access(
    backend: &KubernetesBackend,
    team: &str,
    wanted: Option<&TeamAccess>,
) -> Result<(), BackendError> {
    let Some(wanted) = wanted else {
        let staffed: BTreeSet<String> = backend
            .list::<Deployment>(&format!("{TEAM_LABEL}={team}"))
            .await?
            .iter()
            .map(|deployment| deployment.name_any())
            .collect();
        if staffed.is_empty() {
            let policy = access::network_policy_name(&backend.settings, team);
            backend.delete_listed::<NetworkPolicy>(&policy).await?;
            fleet::delete_admin_access(backend, team).await?;
        }
        return Ok(());
    };
    let pods = pods_by_team(backend).await?;
    let names = pods.get(team).cloned().unwrap_or_default();
    let objects = access::team_objects(&backend.settings, wanted, &names);
    backend.apply_listed(&objects.network_policy).await?;
    match (&objects.role, &objects.role_binding) {
        (Some(role), Some(binding)) => {
            backend.apply_listed(role).await?;
            backend.apply_listed(binding).await.map(drop)
        }
        _ => fleet::delete_admin_access(backend, team).await,
    }
}
