//! Command shells: each takes the shared [`Context`] and its resolved settings, runs the
//! pipeline stages it needs, prints through the printer and returns an exit status.

pub mod pilot;
pub mod plan;
pub mod schema;
pub mod validate;

use std::process::ExitCode;

use crate::cli::{Cli, Command, PilotCommand};
use crate::printer::Printer;
use crate::source::{self, Snapshot, SourceOptions};
use crate::spec::{self, Checked};

/// State every command shares.
#[derive(Debug)]
pub struct Context {
    /// Where output goes.
    pub printer: Printer,
}

/// Runs the command the user asked for.
pub fn run(cli: Cli) -> ExitCode {
    let context = Context {
        printer: Printer::new(cli.color),
    };
    match cli.command {
        Command::Validate(args) => validate::run(&context, &args.source.options(), args.format),
        Command::Plan(args) => plan::run(&context, &args),
        Command::Schema(args) => schema::run(&context, &args.out),
        Command::Pilot {
            command: PilotCommand::Manifests(args),
        } => pilot::manifests(&context, &args.source.options(), args.out.as_deref()),
    }
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
