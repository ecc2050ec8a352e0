//! `clawops plan`: compare the desired state with another revision, an empty fleet or
//! (with a backend) the live fleet, and show the plan.

use std::process::ExitCode;

use super::{Context, desired_at};
use crate::cli::{PlanArgs, PlanFormat};
use crate::desired::Desired;
use crate::observe::Observed;
use crate::plan::{self, Plan, PlanOptions};
use crate::render;
use crate::source::SourceOptions;

/// Exit code for "the plan changes something" with `--detailed-exitcode`.
const EXIT_CHANGES: u8 = 2;

/// Plans and prints; see [`PlanArgs`] for the exit codes.
pub fn run(context: &Context, args: &PlanArgs) -> ExitCode {
    let options = args.source.options();
    if args.base.is_none() && !args.empty {
        return live(context, args, &options);
    }
    let base_options = args.base.as_ref().map(|base| SourceOptions {
        revision: Some(base.clone()),
        ..options.clone()
    });
    // The two revisions are independent: read, check and resolve them side by side.
    let (desired, base) = std::thread::scope(|scope| {
        let base = base_options
            .as_ref()
            .map(|base_options| scope.spawn(|| desired_at(context, base_options)));
        let desired = desired_at(context, &options);
        (
            desired,
            base.map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            }),
        )
    });
    let Some(desired) = desired else {
        return ExitCode::FAILURE;
    };
    let observed = match base {
        None => Observed::empty(),
        Some(Some(base_desired)) => Observed::from_desired(&base_desired),
        Some(None) => {
            let base = args.base.as_deref().unwrap_or_default();
            context.printer.err(&format!(
                "the base revision {base} is not a valid desired state; fix it or plan with --empty"
            ));
            return ExitCode::FAILURE;
        }
    };
    finish(context, args, &desired, &observed)
}

/// Plans against the observed state, prints, saves and applies the guard.
fn finish(context: &Context, args: &PlanArgs, desired: &Desired, observed: &Observed) -> ExitCode {
    let plan_options = PlanOptions {
        prune: args.prune || desired.prune.enabled,
        delete_workspaces: false,
    };
    let plan = plan::plan(desired, observed, &plan_options);
    tracing::info!(
        fleet = %plan.fleet,
        steps = plan.steps.len(),
        waves = plan.waves.len(),
        changes = plan.summary.has_changes(),
        "planned"
    );
    show(context, &plan, args.format);
    if let Some(path) = &args.out
        && let Err(error) = std::fs::write(path, render::json(&plan))
    {
        context.printer.err(&format!(
            "could not save the plan to {}: {error}",
            path.display()
        ));
        return ExitCode::FAILURE;
    }
    if super::refused_by_guard(context, &plan, args.allow_mass_delete) {
        return ExitCode::FAILURE;
    }
    if args.detailed_exitcode && plan.summary.has_changes() {
        ExitCode::from(EXIT_CHANGES)
    } else {
        ExitCode::SUCCESS
    }
}

/// Plans against the live fleet (the backend `clawops.toml` names).
fn live(context: &Context, args: &PlanArgs, options: &SourceOptions) -> ExitCode {
    let Some((desired, config)) = super::resolve_at(context, options) else {
        return ExitCode::FAILURE;
    };
    let observed = super::live::runtime().and_then(|runtime| {
        runtime.block_on(async {
            let backend = super::live::open(context, &config, &desired.fleet).await?;
            let observed = backend.observe().await?;
            Ok::<_, super::live::LiveError>(backend.check_drift(&desired, observed).await?)
        })
    });
    match observed {
        Ok(observed) => finish(context, args, &desired, &observed),
        Err(error) => {
            context.printer.error(&error);
            ExitCode::FAILURE
        }
    }
}

fn show(context: &Context, plan: &Plan, format: PlanFormat) {
    let text = match format {
        PlanFormat::Text => render::text(plan, context.printer.colour_stdout()),
        PlanFormat::Markdown => render::markdown(plan),
        PlanFormat::Json => render::json(plan),
    };
    context.printer.out(&text);
}
