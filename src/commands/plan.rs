//! `clawops plan`: compare the desired state with another revision, an empty fleet or the
//! live fleet (the backend the settings name), and show the plan.

use std::process::ExitCode;

use super::{Context, block_on, load};
use crate::cli::{PlanArgs, PlanFormat};
use crate::engine::{self, Loaded, PlanSettings};
use crate::observe::Observed;
use crate::plan::{self, Plan};
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
    let (loaded, base) = std::thread::scope(|scope| {
        let base = base_options
            .as_ref()
            .map(|base_options| scope.spawn(|| load(context, base_options)));
        let loaded = load(context, &options);
        (
            loaded,
            base.map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            }),
        )
    });
    let Some(loaded) = loaded else {
        return ExitCode::FAILURE;
    };
    let observed = match base {
        None => Observed::empty_for(&loaded.desired),
        Some(Some(base)) => Observed::from_desired(&base.desired),
        Some(None) => {
            let base = args.base.as_deref().unwrap_or_default();
            context.printer.err(&format!(
                "the base revision {base} is not a valid desired state; fix it or plan with --empty"
            ));
            return ExitCode::FAILURE;
        }
    };
    finish(context, args, &loaded, &observed)
}

/// Plans against the live fleet.
fn live(context: &Context, args: &PlanArgs, options: &SourceOptions) -> ExitCode {
    let Some(loaded) = load(context, options) else {
        return ExitCode::FAILURE;
    };
    let code = block_on(context, async {
        match engine::observe_fleet(&loaded, &context.connection).await {
            Ok(observed) => {
                let code = finish(context, args, &loaded, &observed);
                // The process ends next: freeing every observed record one by one would
                // only delay the exit (a twentieth of a large fleet's plan).
                std::mem::forget(observed);
                code
            }
            Err(error) => {
                context.printer.error(&error);
                ExitCode::FAILURE
            }
        }
    });
    std::mem::forget(loaded);
    code
}

/// Plans against the observed state, prints, saves and applies the guard.
fn finish(context: &Context, args: &PlanArgs, loaded: &Loaded, observed: &Observed) -> ExitCode {
    let settings = PlanSettings {
        prune: args.prune,
        prune_volumes: false,
        allow_mass_delete: args.allow_mass_delete,
    };
    let plan = plan::plan(
        &loaded.desired,
        observed,
        &settings.options(&loaded.desired),
    );
    tracing::info!(
        fleet = %plan.fleet,
        steps = plan.steps.len(),
        waves = plan.waves.len(),
        changes = plan.summary.has_changes(),
        "planned"
    );
    show(context, &plan, args.format);
    if let Some(path) = &args.out
        && let Err(error) = engine::saved::write(path, &plan)
    {
        context.printer.error(&error);
        return ExitCode::FAILURE;
    }
    if let Some(mass_deletion) = settings.refused(&plan) {
        context
            .printer
            .err(&engine::report::mass_deletion_refusal(mass_deletion));
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
