//! The `clawops` binary: set up logging, parse the command line and hand over to
//! [`clawops::commands`].

use std::process::ExitCode;

use clap::Parser;
use tracing::Level;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::prelude::*;

/// mimalloc instead of the system allocator: planning a large fleet builds and drops
/// hundreds of thousands of small strings and maps, and glibc's malloc spent a fifth of an
/// 11,000-agent plan consolidating and freeing them (see `docs/benchmarks.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = clawops::cli::Cli::parse();
    // The daemon logs one line per decision; the one-shot commands only what goes wrong.
    let default_level = match cli.command {
        clawops::cli::Command::Watch(_) => "info",
        _ => "warn",
    };
    let filter =
        EnvFilter::try_from_env("CLAWOPS_LOG").unwrap_or_else(|_| EnvFilter::new(default_level));
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let layer = if cli.log_format == clawops::cli::LogFormat::Json {
        layer.json().boxed()
    } else {
        layer.with_ansi(false).boxed()
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(filter_fn(|metadata| {
            is_shown(metadata.target(), *metadata.level())
        }))
        .with(layer)
        .init();
    clawops::commands::run(cli)
}

/// Whether an event may be logged at all, whatever `CLAWOPS_LOG` asks for: clawops's own
/// at every level, every other crate's only at `warn` and `error`. The HTTP, Docker and
/// Kubernetes clients log whole requests at `debug` and `trace` (a container's create
/// body carries its resolved `!secret` env values, a request its bearer token, a URL its
/// access token), so no level and no per-crate directive (`bollard=trace`) turns them on.
fn is_shown(target: &str, level: Level) -> bool {
    let own = target == "clawops" || target.starts_with("clawops::");
    own || level <= Level::WARN
}
