//! The `clawops` binary: parse the command line and hand over to [`clawops::commands`].

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = clawops::cli::Cli::parse();
    clawops::commands::run(cli)
}
