//! The `clawops` binary: set up logging, parse the command line and hand over to
//! [`clawops::commands`].

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = clawops::cli::Cli::parse();
    // The daemon logs one line per decision; the one-shot commands only what goes wrong.
    let default_level = match cli.command {
        clawops::cli::Command::Watch(_) => "info",
        _ => "warn",
    };
    let filter =
        EnvFilter::try_from_env("CLAWOPS_LOG").unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cli.log_format == clawops::cli::LogFormat::Json {
        builder.json().init();
    } else {
        builder.with_ansi(false).init();
    }
    clawops::commands::run(cli)
}
