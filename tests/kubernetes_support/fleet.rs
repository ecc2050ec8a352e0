//! What the Kubernetes tests share: the example fleet resolved, request filters, and
//! walking a plan against the fake API server as `clawops apply` does.

use std::sync::atomic::AtomicBool;

use clawops::apply::{ApplyOptions, Progress, StepOutcome};
use clawops::backend::Backend;
use clawops::desired::{Agent, Desired};
use clawops::observe::Observed;
use clawops::plan::{Op, Plan, PlanOptions, Step, Wave};

use super::{Recorded, object_path};

/// The example fleet of the repository, resolved.
pub fn example() -> Desired {
    resolved("examples/hiclaw-fleet")
}

/// The fleet in `folder`, resolved.
pub fn resolved(folder: &str) -> Desired {
    let mut options = clawops::source::SourceOptions::new(folder);
    options.worktree = true;
    let snapshot = clawops::source::read(&options).expect("example source");
    let checked = clawops::spec::check(&snapshot);
    assert!(checked.is_valid(), "the example is valid");
    clawops::desired::resolve(&checked.spec)
}

pub fn agent<'a>(desired: &'a Desired, name: &str) -> &'a Agent {
    desired
        .agent(name)
        .unwrap_or_else(|| panic!("no agent {name}"))
}

pub fn deployment_path(name: &str) -> String {
    object_path("apps/v1", "deployments", name)
}

pub fn patches(requests: &[Recorded]) -> Vec<&Recorded> {
    requests
        .iter()
        .filter(|request| request.method == "PATCH")
        .collect()
}

pub const DEV: &str = "hiclaw-worker-alpha-dev";

/// Plans `desired` against the cluster and walks the plan as `clawops apply` does.
pub async fn apply_all(backend: &impl Backend, desired: &Desired) -> Plan {
    let planned = plan(desired, &observe(backend, desired).await);
    let touched: Vec<&Agent> = planned
        .steps
        .iter()
        .filter(|step| matches!(step.op, Op::CreateAgent | Op::RecreateAgent))
        .filter_map(|step| step.resource.agent_name())
        .filter_map(|name| desired.agent(name))
        .collect();
    backend.prepare(&touched).await.expect("prepare");
    let stop = AtomicBool::new(false);
    let options = ApplyOptions { concurrency: 8 };
    let report = clawops::apply::apply(backend, desired, &planned, &options, &Quiet, &stop).await;
    assert!(report.succeeded(), "{report:?}");
    backend.finish().await.expect("finish");
    planned
}

pub async fn observe(backend: &impl Backend, desired: &Desired) -> Observed {
    let observed = backend.observe().await.expect("observe");
    backend
        .check_drift(desired, observed)
        .await
        .expect("dry runs")
}

pub fn plan(desired: &Desired, observed: &Observed) -> Plan {
    clawops::plan::plan(desired, observed, &PlanOptions::default())
}

pub struct Quiet;

impl Progress for Quiet {
    fn wave_started(&self, _wave: &Wave, _plan: &Plan) {}
    fn step_finished(&self, _step: &Step, _outcome: &StepOutcome) {}
    fn wave_finished(&self, _wave: &Wave) {}
}
