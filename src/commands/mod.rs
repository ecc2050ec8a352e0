//! Command shells: each takes the shared [`Context`] and its resolved settings, runs the
//! pipeline stages it needs, prints through the printer and returns an exit status.

pub mod apply;
pub mod github;
pub mod live;
pub mod pilot;
pub mod plan;
pub mod reconcile;
pub mod render;
pub mod schema;
pub mod status;
pub mod unlock;
pub mod validate;
pub mod watch;

use std::process::ExitCode;

use crate::cli::{Cli, Command, GithubCommand, PilotCommand};
use crate::desired::{self, Desired};
use crate::printer::Printer;
use crate::source::{self, Snapshot, SourceOptions};
use crate::spec::config::Config;
use crate::spec::{self, Checked};

/// State every command shares.
#[derive(Debug)]
pub struct Context {
    /// Where output goes.
    pub printer: Printer,
    /// Backend settings from the command line (`--backend`, `--kubeconfig`,
    /// `--force-conflicts`).
    pub backend: crate::cli::BackendOverrides,
}

/// Runs the command the user asked for.
pub fn run(cli: Cli) -> ExitCode {
    let context = Context {
        printer: Printer::new(cli.color),
        backend: cli.backend_overrides(),
    };
    match cli.command {
        Command::Validate(args) => validate::run(&context, &args.source.options(), args.format),
        Command::Plan(args) => plan::run(&context, &args),
        Command::Apply(args) => apply::run(&context, &args),
        Command::Status(args) => status::run(&context, &args),
        Command::Unlock(args) => unlock::run(&context, &args),
        Command::Watch(args) => watch::run(&context, &args),
        Command::Render(args) => render::run(&context, &args.source.options()),
        Command::Schema(args) => schema::run(&context, &args.out),
        Command::Pilot {
            command: PilotCommand::Manifests(args),
        } => pilot::manifests(&context, &args.source.options(), args.out.as_deref()),
        Command::Github {
            command: GithubCommand::Comment(args),
        } => github::comment(&context, &args.body_file),
    }
}

/// Reads, checks and resolves the desired state; prints the problems and returns `None`
/// when it is unreadable or invalid (nothing is planned or applied from a broken commit).
pub(crate) fn desired_at(context: &Context, options: &SourceOptions) -> Option<Desired> {
    resolve_at(context, options).map(|(desired, _)| desired)
}

/// Like [`desired_at`], also returning the fleet settings the backends need.
pub(crate) fn resolve_at(context: &Context, options: &SourceOptions) -> Option<(Desired, Config)> {
    let (snapshot, checked) = read_and_check(context, options)?;
    if !checked.is_valid() {
        context
            .printer
            .diagnostics_on_stderr(&checked.diagnostics, &snapshot);
        context.printer.err(&format!(
            "invalid desired state: {} error(s); nothing was planned",
            checked.error_count()
        ));
        return None;
    }
    let desired = desired::resolve(&checked.spec);
    Some((desired, checked.spec.config))
}

/// The blast-radius guard: prints the refusal and returns `true` when the plan takes away
/// too much of the fleet and `--allow-mass-delete` was not given.
pub(crate) fn refused_by_guard(context: &Context, plan: &crate::plan::Plan, allowed: bool) -> bool {
    match guard_refusal(plan, allowed) {
        Some(reason) => {
            context.printer.err(&reason);
            true
        }
        None => false,
    }
}

/// Why the blast-radius guard refuses `plan`, unless `allowed`.
pub(crate) fn guard_refusal(plan: &crate::plan::Plan, allowed: bool) -> Option<String> {
    let guard = plan.mass_deletion.as_ref().filter(|_| !allowed)?;
    Some(format!(
        "refused: this plan takes away {} of the fleet's {} agents ({}%), over the {}% limit of [prune] max_delete_percent; groups: {}.\n\
         If that is really intended, run again with --allow-mass-delete.",
        guard.count,
        guard.fleet_size,
        guard.count * 100 / guard.fleet_size.max(1),
        guard.limit_percent,
        guard.groups.join(", ")
    ))
}

/// Reads and checks the desired state; prints the source error and returns `None` when the
/// source cannot be read at all.
pub(crate) fn read_and_check(
    context: &Context,
    options: &SourceOptions,
) -> Option<(Snapshot, Checked)> {
    match source::read(options) {
        Ok(snapshot) => {
            let checked = spec::check(&snapshot);
            Some((snapshot, checked))
        }
        Err(error) => {
            context.printer.error(&error);
            None
        }
    }
}
