//! The `resources` of every agent: each amount readable (`500m`, `2`; `256Mi`, `2Gi`), and
//! no request above its limit.

use crate::desired::{cpu_nanos, memory_bytes};
use crate::spec::hiclaw::{Quantity, ResourceAmounts, Resources};
use crate::spec::{Code, Diagnostic, Located, Spec};

/// Checks the resources of every agent in the spec.
pub(super) fn check(spec: &Spec, diagnostics: &mut Vec<Diagnostic>) {
    let mut written: Vec<(&str, &Resources)> = Vec::new();
    for worker in &spec.workers {
        written.extend(
            worker
                .spec()
                .resources
                .as_ref()
                .map(|r| (worker.file.as_str(), r)),
        );
    }
    for team in &spec.teams {
        let team_spec = team.spec();
        written.extend(
            team_spec
                .leader
                .resources
                .as_ref()
                .map(|r| (team.file.as_str(), r)),
        );
        for worker in &team_spec.workers {
            written.extend(worker.resources.as_ref().map(|r| (team.file.as_str(), r)));
        }
    }
    for manager in &spec.managers {
        written.extend(
            manager
                .spec()
                .resources
                .as_ref()
                .map(|r| (manager.file.as_str(), r)),
        );
    }
    for debug in &spec.debug_workers {
        written.extend(
            debug
                .spec()
                .resources
                .as_ref()
                .map(|r| (debug.file.as_str(), r)),
        );
    }
    for setup in &spec.pilot_setups {
        for role in &setup.spec().roles {
            written.extend(
                role.agent
                    .resources
                    .as_ref()
                    .map(|r| (setup.file.as_str(), r)),
            );
        }
    }
    for (file, resources) in written {
        check_one(file, resources, diagnostics);
    }
}

type Reader = fn(&str) -> Option<i64>;

fn check_one(file: &str, resources: &Resources, diagnostics: &mut Vec<Diagnostic>) {
    let amounts = |amounts: &Option<ResourceAmounts>| amounts.clone().unwrap_or_default();
    let (requests, limits) = (amounts(&resources.requests), amounts(&resources.limits));
    let kinds: [(&str, Reader, &str, _, _); 2] = [
        (
            "cpu",
            cpu_nanos,
            "cores (`2`, `0.5`) or millicores (`500m`)",
            requests.cpu,
            limits.cpu,
        ),
        (
            "memory",
            memory_bytes,
            "bytes with a unit: `256Mi`, `2Gi`, `512M`",
            requests.memory,
            limits.memory,
        ),
    ];
    for (kind, read, form, request, limit) in kinds {
        let mut amount = |value: &Option<Located<Quantity>>| {
            let value = value.as_ref()?;
            let read_value = read(&value.value.0);
            if read_value.is_none() {
                diagnostics.push(
                    Diagnostic::error(
                        Code::InvalidQuantity,
                        file,
                        value.position,
                        format!("`{}` is not a {kind} amount", value.value.0),
                    )
                    .with_help(format!("write {form}")),
                );
            }
            read_value.map(|read_value| (read_value, value.position))
        };
        let (request, limit) = (amount(&request), amount(&limit));
        if let (Some((request, position)), Some((limit, _))) = (request, limit)
            && request > limit
        {
            diagnostics.push(
                Diagnostic::error(
                    Code::InvalidQuantity,
                    file,
                    position,
                    format!("the {kind} request is above its limit"),
                )
                .with_help("request at most the limit, or raise the limit"),
            );
        }
    }
}
