//! `clawops apply`: load the desired state, open the backend, and run one
//! [`engine::Reconcile`] with the plan shown, a confirmation asked, and the rollout's
//! progress on stderr.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{Context, block_on, load};
use crate::apply::{BarProgress, LogProgress, Progress};
use crate::cli::ApplyArgs;
use crate::engine::{self, PlanSettings, Reconcile, ReconcileError, Reconciled};
use crate::notify::{self, Announce, Notifier, NotifyEnvironment, Origin};
use crate::plan::Plan;

/// How long `apply` waits, at the end, for its notifications to go out.
const NOTIFY_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

/// Applies; exit 0 when every step succeeded (or nothing changes), 1 otherwise.
pub fn run(context: &Context, args: &ApplyArgs) -> ExitCode {
    let Some(loaded) = load(context, &args.source.options()) else {
        return ExitCode::FAILURE;
    };
    let saved = match args.plan.as_deref().map(engine::saved::read).transpose() {
        Ok(saved) => saved,
        Err(error) => {
            context.printer.error(&error);
            return ExitCode::FAILURE;
        }
    };
    let Some(lock_timeout) = crate::desired::parse_duration(&args.lock_timeout) else {
        context.printer.err(&format!(
            "--lock-timeout {} is not a duration such as 30s or 2m",
            args.lock_timeout
        ));
        return ExitCode::FAILURE;
    };
    block_on(context, async {
        let backend =
            match engine::open(&loaded.config, &context.connection, &loaded.desired.fleet).await {
                Ok(backend) => backend,
                Err(error) => {
                    context.printer.error(&error);
                    return ExitCode::FAILURE;
                }
            };
        let environment = NotifyEnvironment::from_process(Some(&args.source.source));
        let notifier = Notifier::start(notify::sinks(&loaded.config.notify, &environment));
        let commit = loaded
            .revision
            .as_ref()
            .map(|revision| revision.commit.as_str());
        let stop = stop_on_ctrl_c();
        let progress = progress(context);
        let show = |plan: &Plan| {
            let printer = &context.printer;
            printer.out(&crate::render::text(plan, printer.colour_stdout()));
        };
        let confirm = |_: &Plan| confirmed(context, args.yes);
        let reconcile = Reconcile {
            desired: &loaded.desired,
            backend: backend.as_ref(),
            settings: PlanSettings {
                prune: args.prune,
                prune_volumes: args.prune_volumes,
                allow_mass_delete: args.allow_mass_delete,
            },
            lock_timeout,
            saved,
            show: &show,
            confirm: &confirm,
            progress: progress.as_ref(),
            stop: &stop,
            announce: Announce {
                notifier: &notifier,
                origin: Origin::Apply,
                commit,
            },
        };
        let result = reconcile.run().await;
        notifier.finish(NOTIFY_WAIT).await;
        finish(context, result)
    })
}

/// Prints what the reconcile did; the exit status.
fn finish(context: &Context, result: Result<Reconciled, ReconcileError>) -> ExitCode {
    match result {
        Ok(Reconciled::NoChanges) => ExitCode::SUCCESS,
        Ok(Reconciled::Applied {
            plan,
            report,
            elapsed,
        }) => {
            for line in engine::report::failure_lines(&plan, &report) {
                context.printer.err(&line);
            }
            context.printer.out(&engine::report::closing_line(
                &report,
                elapsed.as_secs_f64(),
            ));
            if report.succeeded() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            context.printer.error(&error);
            if matches!(error, ReconcileError::Prepare(_)) {
                context.printer.err("nothing was changed");
            }
            ExitCode::FAILURE
        }
    }
}

/// Set by Ctrl-C: the running steps finish, nothing new starts.
fn stop_on_ctrl_c() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let signal_stop = Arc::clone(&stop);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            signal_stop.store(true, Ordering::SeqCst);
        }
    });
    stop
}

/// Bars on a terminal, a line per wave and step otherwise.
fn progress(context: &Context) -> Box<dyn Progress> {
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        Box::new(BarProgress::default())
    } else {
        Box::new(LogProgress::new(context.printer.clone()))
    }
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
