//! The `clawops` binary: set up logging, parse the command line and hand over to
//! [`clawops::commands`].

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = clawops::cli::Cli::parse();
    let filter = EnvFilter::try_from_env("CLAWOPS_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
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
