//! Command shells: each parses its settings, calls the use cases in [`crate::engine`],
//! prints through the printer and returns an exit status. No orchestration lives here.

pub mod apply;
pub mod github;
pub mod install;
pub mod pilot;
pub mod plan;
pub mod render;
pub mod schema;
pub mod status;
pub mod unlock;
pub mod validate;
pub mod watch;

use std::process::ExitCode;

use crate::cli::{Cli, Command, GithubCommand, InstallCommand, PilotCommand};
use crate::engine::{self, Connection, LoadError, Loaded};
use crate::printer::Printer;
use crate::source::SourceOptions;

/// State every command shares.
#[derive(Debug)]
pub struct Context {
    /// Where output goes.
    pub printer: Printer,
    /// Where and how the live commands connect (`--backend`, `--kubeconfig`,
    /// `--force-conflicts`).
    pub connection: Connection,
}

/// Runs the command the user asked for.
pub fn run(cli: Cli) -> ExitCode {
    let context = Context {
        printer: Printer::new(cli.color),
        connection: cli.connection(),
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
        Command::Github {
            command: GithubCommand::Scrub(args),
        } => github::scrub(&context, &args.files),
        Command::Install {
            command: InstallCommand::Kubernetes(args),
        } => install::kubernetes(&context, &args),
    }
}

/// Loads the desired state; prints why and returns `None` when it is unreadable or
/// invalid (with every diagnostic, located).
pub(crate) fn load(context: &Context, options: &SourceOptions) -> Option<Loaded> {
    match engine::load(options, context.connection.backend) {
        Ok(loaded) => Some(loaded),
        Err(error) => {
            print_load_error(context, &error);
            None
        }
    }
}

/// Prints a load error: an invalid state's diagnostics with their source lines, then the
/// count; an unreadable source as the error it is.
pub(crate) fn print_load_error(context: &Context, error: &LoadError) {
    match error {
        LoadError::CheckSpec(invalid) => {
            context
                .printer
                .diagnostics_on_stderr(&invalid.checked.diagnostics, &invalid.snapshot);
            context.printer.err(&error.to_string());
        }
        LoadError::ReadSource(_) => context.printer.error(error),
    }
}

/// Reads and checks the source, valid or not; prints the error and returns `None` when
/// it cannot be read at all.
pub(crate) fn read_and_check(
    context: &Context,
    options: &SourceOptions,
    target: Option<Option<crate::spec::config::BackendKind>>,
) -> Option<(crate::source::Snapshot, crate::spec::Checked)> {
    match engine::load::read_checked(options, target) {
        Ok(read) => Some(read),
        Err(error) => {
            context.printer.error(&error);
            None
        }
    }
}

/// Runs `work` on a fresh async runtime; prints and fails when none can start.
pub(crate) fn block_on(
    context: &Context,
    work: impl std::future::Future<Output = ExitCode>,
) -> ExitCode {
    match engine::runtime() {
        Ok(runtime) => runtime.block_on(work),
        Err(error) => {
            context.printer.error(&error);
            ExitCode::FAILURE
        }
    }
}
