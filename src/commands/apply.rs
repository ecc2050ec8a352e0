//! `clawops apply`: observe the live fleet, plan, show the plan, confirm, and walk the
//! waves with health gates.

use std::path::Path;
use std::process::ExitCode;

use super::{Context, resolve_at};
use crate::cli::ApplyArgs;
use crate::desired::Desired;
use crate::plan::Plan;
use crate::spec::Config;

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

fn report(context: &Context, plan: &Plan, report: &crate::apply::ApplyReport, seconds: f64) {
    let (done, failed, not_attempted) = report.counts();
    for outcome in &report.outcomes {
        let step = &plan.steps[outcome.step];
        let verdict = match &outcome.outcome {
            crate::apply::Outcome::Failed(error) => ("failed", error),
            crate::apply::Outcome::RolledBack(error) => ("rolled back", error),
            crate::apply::Outcome::Done | crate::apply::Outcome::NotAttempted => continue,
        };
        context.printer.err(&format!(
            "{}: {} {}: {}",
            verdict.0,
            step.op.verb(),
            step.resource,
            crate::printer::chain(verdict.1.as_ref())
        ));
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

fn execute(
    context: &Context,
    args: &ApplyArgs,
    desired: &Desired,
    config: &Config,
    saved: Option<Plan>,
) -> ExitCode {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::reconcile::{Reconcile, Reconciled};
    use crate::apply::{BarProgress, LogProgress, Progress};

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
        let backend = match super::live::open(context, config, &desired.fleet).await {
            Ok(backend) => backend,
            Err(error) => {
                context.printer.error(&error);
                return ExitCode::FAILURE;
            }
        };
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
        let confirm = |_: &Plan| confirmed(context, args.yes);
        let reconcile = Reconcile {
            context,
            desired,
            backend: backend.as_ref(),
            prune: args.prune,
            prune_volumes: args.prune_volumes,
            allow_mass_delete: args.allow_mass_delete,
            lock_timeout,
            saved,
            show_plan: true,
            confirm: &confirm,
            progress: progress.as_ref(),
            stop: &stop,
        };
        match reconcile.run().await {
            Ok(Reconciled::NoChanges) => ExitCode::SUCCESS,
            Ok(Reconciled::Applied {
                plan,
                report: outcome,
                elapsed,
            }) => {
                report(context, &plan, &outcome, elapsed.as_secs_f64());
                if outcome.succeeded() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }
            Err(error) => {
                context.printer.error(&error);
                if matches!(error, super::reconcile::ReconcileError::Prepare(_)) {
                    context.printer.err("nothing was changed");
                }
                ExitCode::FAILURE
            }
        }
    })
}
