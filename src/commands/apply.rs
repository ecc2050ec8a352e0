//! `clawops apply`: observe the live fleet, plan, show the plan, confirm, and walk the
//! waves with health gates.

use std::path::Path;
use std::process::ExitCode;

use super::{Context, resolve_at};
use crate::cli::ApplyArgs;
use crate::desired::Desired;
use crate::plan::Plan;
use crate::spec::Config;

/// Agents of one wave worked on at once, at least: creating and health-gating is mostly
/// waiting on the engine, and the waves already bound how many agents restart together.
#[cfg(feature = "docker")]
const MIN_CONCURRENCY: usize = 32;

/// Applies; exit 0 when every step succeeded (or nothing changes), 1 otherwise.
pub fn run(context: &Context, args: &ApplyArgs) -> ExitCode {
    let Some((desired, config)) = resolve_at(context, &args.source.options()) else {
        return ExitCode::FAILURE;
    };
    let saved = match args.plan.as_deref().map(load_plan).transpose() {
        Ok(saved) => saved,
        Err(message) => {
            context.printer.err(&message);
            return ExitCode::FAILURE;
        }
    };
    execute(context, args, &desired, &config, saved)
}

fn load_plan(path: &Path) -> Result<Plan, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("could not read the plan {}: {error}", path.display()))?;
    let plan: Plan = serde_json::from_str(&text)
        .map_err(|error| format!("{} is not a clawops plan: {error}", path.display()))?;
    if plan.format != crate::plan::PLAN_FORMAT {
        return Err(format!(
            "{} is a {} plan; this clawops reads {}",
            path.display(),
            plan.format,
            crate::plan::PLAN_FORMAT
        ));
    }
    Ok(plan)
}

#[cfg(feature = "docker")]
/// Checks that a saved plan still matches what would be planned now.
pub(crate) fn check_saved(saved: &Plan, desired: &Desired, fresh: &Plan) -> Result<(), String> {
    let commit = |plan_revision: &Option<crate::source::Revision>| {
        plan_revision
            .as_ref()
            .map(|revision| revision.commit.clone())
    };
    if commit(&saved.revision) != commit(&desired.revision) {
        return Err(format!(
            "refused: the saved plan was made from commit {}, but the source is now at {}; plan again",
            commit(&saved.revision).unwrap_or_else(|| "(none)".to_owned()),
            commit(&desired.revision).unwrap_or_else(|| "(none)".to_owned())
        ));
    }
    if saved.observed_fingerprint != fresh.observed_fingerprint {
        return Err(
            "refused: the live fleet changed since the plan was saved; plan again".to_owned(),
        );
    }
    Ok(())
}

#[cfg(feature = "docker")]
/// Asks on a terminal; without one, `--yes` is required.
fn confirmed(context: &Context, yes: bool) -> bool {
    use std::io::{BufRead, IsTerminal};
    if yes {
        return true;
    }
    if !std::io::stdin().is_terminal() {
        context
            .printer
            .err("refused: stdin is not a terminal; pass --yes to apply without asking");
        return false;
    }
    context
        .printer
        .err("Apply this plan? Only `yes` is accepted: ");
    let mut answer = String::new();
    let read = std::io::stdin().lock().read_line(&mut answer).is_ok();
    read && answer.trim() == "yes"
}

#[cfg(feature = "docker")]
fn report(context: &Context, plan: &Plan, report: &crate::apply::ApplyReport, seconds: f64) {
    let (done, failed, not_attempted) = report.counts();
    for outcome in &report.outcomes {
        let step = &plan.steps[outcome.step];
        match &outcome.outcome {
            crate::apply::Outcome::Failed(message) => context.printer.err(&format!(
                "failed: {} {}: {message}",
                step.op.verb(),
                step.agent
            )),
            crate::apply::Outcome::RolledBack(message) => context.printer.err(&format!(
                "rolled back: {} {}: {message}",
                step.op.verb(),
                step.agent
            )),
            crate::apply::Outcome::Done | crate::apply::Outcome::NotAttempted => {}
        }
    }
    let verdict = if report.succeeded() {
        "Apply complete"
    } else {
        "Apply stopped"
    };
    context.printer.out(&format!(
        "{verdict}: {done} steps done, {failed} failed, {not_attempted} not attempted, in {seconds:.1}s."
    ));
}

#[cfg(feature = "docker")]
fn execute(
    context: &Context,
    args: &ApplyArgs,
    desired: &Desired,
    config: &Config,
    saved: Option<Plan>,
) -> ExitCode {
    let Some(lock_timeout) = crate::desired::parse_duration(&args.lock_timeout) else {
        context.printer.err(&format!(
            "--lock-timeout {} is not a duration such as 30s or 2m",
            args.lock_timeout
        ));
        return ExitCode::FAILURE;
    };
    let runtime = match super::live::runtime() {
        Ok(runtime) => runtime,
        Err(error) => {
            context.printer.error(&error);
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let backend = match super::live::open(config, &desired.fleet).await {
            Ok(backend) => backend,
            Err(error) => {
                context.printer.error(&error);
                return ExitCode::FAILURE;
            }
        };
        if saved.is_none() && already_settled(context, args, desired, &backend).await {
            return ExitCode::SUCCESS;
        }
        let holder = match crate::apply::lock::acquire(&backend, lock_timeout).await {
            Ok(holder) => holder,
            Err(error) => {
                context.printer.error(&error);
                return ExitCode::FAILURE;
            }
        };
        crate::apply::lock::hold_while(
            &backend,
            holder,
            locked(context, args, desired, saved, &backend),
        )
        .await
    })
}

/// Whether the live fleet already is what `desired` says (and no interrupted apply left
/// anything unsettled): then there is nothing to apply, the lock is not needed, and the
/// empty plan is shown. Any doubt (an error, a change) goes the locked way, which observes
/// again under the lock.
#[cfg(feature = "docker")]
async fn already_settled(
    context: &Context,
    args: &ApplyArgs,
    desired: &Desired,
    backend: &super::live::LiveBackend,
) -> bool {
    use crate::backend::Backend;
    let Ok(observed) = backend.observe().await else {
        return false;
    };
    let options = crate::plan::PlanOptions {
        prune: args.prune || desired.prune.enabled,
    };
    let plan = crate::plan::plan(desired, &observed, &options);
    if plan.summary.has_changes() || !observed.interrupted.is_empty() {
        return false;
    }
    context
        .printer
        .out(&crate::render::text(&plan, context.printer.colour_stdout()));
    true
}

/// Everything an apply does while it holds the fleet's lock: observe, plan, confirm,
/// prepare, walk the waves, report.
#[cfg(feature = "docker")]
async fn locked(
    context: &Context,
    args: &ApplyArgs,
    desired: &Desired,
    saved: Option<Plan>,
    backend: &super::live::LiveBackend,
) -> ExitCode {
    use crate::backend::Backend;
    use crate::plan::PlanOptions;

    // Finish what an interrupted apply left behind (a recreate cut short) before looking
    // at the fleet, so the plan starts from a settled state.
    if let Err(error) = backend.prepare(&[]).await {
        context.printer.error(&error);
        return ExitCode::FAILURE;
    }
    let observed = match backend.observe().await {
        Ok(observed) => observed,
        Err(error) => {
            context.printer.error(&error);
            return ExitCode::FAILURE;
        }
    };
    let options = PlanOptions {
        prune: args.prune || desired.prune.enabled,
    };
    let fresh = crate::plan::plan(desired, &observed, &options);
    let plan = match saved {
        Some(saved) => match check_saved(&saved, desired, &fresh) {
            Ok(()) => saved,
            Err(message) => {
                context.printer.err(&message);
                return ExitCode::FAILURE;
            }
        },
        None => fresh,
    };
    context
        .printer
        .out(&crate::render::text(&plan, context.printer.colour_stdout()));
    if !plan.summary.has_changes() {
        return ExitCode::SUCCESS;
    }
    if super::refused_by_guard(context, &plan, args.allow_mass_delete) {
        return ExitCode::FAILURE;
    }
    if !confirmed(context, args.yes) {
        return ExitCode::FAILURE;
    }
    walk(context, args, desired, &plan, backend).await
}

/// Prepares the backend and walks the plan's waves with progress and a stop on Ctrl-C.
#[cfg(feature = "docker")]
async fn walk(
    context: &Context,
    args: &ApplyArgs,
    desired: &Desired,
    plan: &Plan,
    backend: &super::live::LiveBackend,
) -> ExitCode {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use crate::apply::{ApplyOptions, BarProgress, LogProgress, Progress};
    use crate::backend::Backend;
    use crate::plan::Op;

    // Images and secrets are checked for every agent that gets a new container.
    let touched: Vec<&crate::desired::Agent> = plan
        .steps
        .iter()
        .filter(|step| matches!(step.op, Op::CreateAgent | Op::RecreateAgent))
        .filter_map(|step| desired.agent(&step.agent))
        .collect();
    if let Err(error) = backend.prepare(&touched).await {
        context.printer.error(&error);
        context.printer.err("nothing was changed");
        return ExitCode::FAILURE;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let signal_stop = Arc::clone(&stop);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            signal_stop.store(true, Ordering::SeqCst);
        }
    });
    let progress: Box<dyn Progress> = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        Box::new(BarProgress::default())
    } else {
        Box::new(LogProgress::new(context.printer.clone()))
    };
    let width = desired.teams_in_parallel.max(1) as usize
        * desired
            .rollout
            .values()
            .map(|settings| settings.max_unavailable.max(1) as usize)
            .max()
            .unwrap_or(1);
    let apply_options = ApplyOptions {
        concurrency: width.max(MIN_CONCURRENCY),
        delete_workspaces: args.prune_volumes,
    };
    let started = std::time::Instant::now();
    let outcome = crate::apply::apply(
        backend,
        desired,
        plan,
        &apply_options,
        progress.as_ref(),
        &stop,
    )
    .await;
    report(context, plan, &outcome, started.elapsed().as_secs_f64());
    if outcome.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(not(feature = "docker"))]
fn execute(
    context: &Context,
    _args: &ApplyArgs,
    _desired: &Desired,
    config: &Config,
    _saved: Option<Plan>,
) -> ExitCode {
    context.printer.error(&super::live::unavailable(config));
    ExitCode::FAILURE
}
