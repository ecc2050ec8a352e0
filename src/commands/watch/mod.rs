//! `clawops watch`: resolves the daemon's settings, starts the webhook/status/metrics
//! server, and runs the follow loop ([`daemon`]) until SIGTERM or Ctrl-C.

mod daemon;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::Context;
use crate::cli::WatchArgs;
use crate::source::{SourceOptions, default_cache_dir};

/// The daemon's resolved settings.
#[derive(Clone, Debug)]
pub(crate) struct WatchSettings {
    /// The remote at the followed branch.
    pub source: SourceOptions,
    /// The followed branch.
    pub branch: String,
    /// The remote as shown (credentials hidden).
    pub shown_remote: String,
    /// Fetch and drift-check period.
    pub interval: Duration,
    /// Server address.
    pub listen: SocketAddr,
    /// The webhook secret (webhook off without one).
    pub webhook_secret: Option<Vec<u8>>,
    /// Correct drift.
    pub self_heal: bool,
    /// Delete agents that left git.
    pub prune: bool,
    /// Delete their volumes too.
    pub prune_volumes: bool,
    /// Wait this long for another apply's lock.
    pub lock_timeout: Duration,
    /// The daemon's memory file.
    pub state_file: PathBuf,
}

/// Runs the daemon; exit 0 after SIGTERM or Ctrl-C, 1 when it cannot start.
pub fn run(context: &Context, args: &WatchArgs) -> ExitCode {
    let settings = match settings(args) {
        Ok(settings) => settings,
        Err(message) => {
            context.printer.err(&message);
            return ExitCode::FAILURE;
        }
    };
    start(context, settings)
}

fn start(context: &Context, settings: WatchSettings) -> ExitCode {
    if !crate::backend::any_compiled() {
        context.printer.err(
            "clawops watch applies to a backend, and this build has none (build with the `docker` feature)",
        );
        return ExitCode::FAILURE;
    }
    let runtime = match super::live::runtime() {
        Ok(runtime) => runtime,
        Err(error) => {
            context.printer.error(&error);
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(daemon::run(context, settings))
}

/// Turns the command line into settings; the message says what is wrong.
fn settings(args: &WatchArgs) -> Result<WatchSettings, String> {
    let duration = |flag: &str, text: &str| {
        crate::desired::parse_duration(text)
            .filter(|duration| !duration.is_zero())
            .ok_or_else(|| format!("{flag} {text} is not a duration such as 30s or 2m"))
    };
    let interval = duration("--interval", &args.interval)?;
    let lock_timeout = duration("--lock-timeout", &args.lock_timeout)?;
    let listen: SocketAddr = args.listen.parse().map_err(|_| {
        format!(
            "--listen {} is not an address such as 127.0.0.1:9090",
            args.listen
        )
    })?;
    let webhook_secret = match &args.webhook_secret_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|error| {
                format!(
                    "could not read the webhook secret file {}: {error}",
                    path.display()
                )
            })?;
            let secret = text.trim_end_matches(['\r', '\n']).as_bytes().to_vec();
            if secret.is_empty() {
                return Err(format!(
                    "the webhook secret file {} is empty",
                    path.display()
                ));
            }
            Some(secret)
        }
        None => None,
    };
    let cache_dir = args.cache_dir.clone().unwrap_or_else(default_cache_dir);
    let shown_remote = crate::source::redact_url(&args.remote);
    let state_file = args.state_file.clone().unwrap_or_else(|| {
        default_state_file(&cache_dir, &shown_remote, &args.branch, &args.subfolder)
    });
    Ok(WatchSettings {
        source: SourceOptions {
            location: args.remote.clone(),
            revision: Some(args.branch.clone()),
            subfolder: args.subfolder.clone(),
            worktree: false,
            cache_dir,
            max_file_size: args.max_file_size,
        },
        branch: args.branch.clone(),
        shown_remote,
        interval,
        listen,
        webhook_secret,
        self_heal: args.self_heal,
        prune: args.prune,
        prune_volumes: args.prune_volumes,
        lock_timeout,
        state_file,
    })
}

/// `<cache>/watch/<hash of remote, branch and path>.json`: one memory per followed
/// source, so two daemons on one machine never share one.
fn default_state_file(
    cache_dir: &std::path::Path,
    remote: &str,
    branch: &str,
    subfolder: &Option<String>,
) -> PathBuf {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for part in [remote, branch, subfolder.as_deref().unwrap_or("")] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let digest = hex::encode(hasher.finalize());
    cache_dir
        .join("watch")
        .join(format!("{}.json", &digest[..16]))
}
