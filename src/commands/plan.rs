//! `clawops plan`: compare the desired state with another revision, an empty fleet or
//! (with a backend) the live fleet, and show the plan.

use std::process::ExitCode;

use super::{Context, desired_at};
use crate::cli::{PlanArgs, PlanFormat};
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
        context
            .printer
            .err("planning against a live backend needs the Docker or Kubernetes backend; use --base REV or --empty");
        return ExitCode::FAILURE;
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
    let plan_options = PlanOptions {
        prune: args.prune || desired.prune.enabled,
    };
    let plan = plan::plan(&desired, &observed, &plan_options);
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
    if let Some(guard) = plan
        .mass_deletion
        .as_ref()
        .filter(|_| !args.allow_mass_delete)
    {
        context.printer.err(&format!(
            "refused: this plan takes away {} of the fleet's {} agents ({}%), over the {}% limit of [prune] max_delete_percent; groups: {}.\n\
             If that is really intended, run again with --allow-mass-delete.",
            guard.count,
            guard.fleet_size,
            guard.count * 100 / guard.fleet_size.max(1),
            guard.limit_percent,
            guard.groups.join(", ")
        ));
        return ExitCode::FAILURE;
    }
    if args.detailed_exitcode && plan.summary.has_changes() {
        ExitCode::from(EXIT_CHANGES)
    } else {
        ExitCode::SUCCESS
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
