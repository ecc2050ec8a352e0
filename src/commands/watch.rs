//! `clawops watch`: resolves the daemon's settings from the command line and runs the
//! daemon ([`crate::watch::daemon`]) until SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::{Context, block_on};
use crate::cli::WatchArgs;
use crate::engine::PlanSettings;
use crate::notify::NotifyEnvironment;
use crate::source::{SourceOptions, default_cache_dir};
use crate::watch::settings::{WatchSettings, default_state_file};

/// Why the command line does not make daemon settings.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum WatchSettingsError {
    /// A duration flag is not a duration.
    #[error("{flag} {text} is not a duration such as 30s or 2m")]
    #[diagnostic(code(clawops::watch::duration))]
    ParseDuration {
        /// The flag.
        flag: &'static str,
        /// What was given.
        text: String,
    },
    /// `--listen` is not an address.
    #[error("--listen {text} is not an address such as 127.0.0.1:9090")]
    #[diagnostic(code(clawops::watch::listen_address))]
    ParseListen {
        /// What was given.
        text: String,
    },
    /// The webhook secret file cannot be read.
    #[error("could not read the webhook secret file {}", .path.display())]
    #[diagnostic(code(clawops::watch::webhook_secret))]
    ReadWebhookSecret {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The webhook secret file is empty.
    #[error("the webhook secret file {} is empty", .path.display())]
    #[diagnostic(
        code(clawops::watch::webhook_secret_empty),
        help("write the secret GitHub signs deliveries with into the file")
    )]
    EmptyWebhookSecret {
        /// The file.
        path: PathBuf,
    },
}

/// Runs the daemon; exit 0 after SIGTERM or Ctrl-C, 1 when it cannot start.
pub fn run(context: &Context, args: &WatchArgs) -> ExitCode {
    let settings = match settings(args) {
        Ok(settings) => settings,
        Err(error) => {
            context.printer.error(&error);
            return ExitCode::FAILURE;
        }
    };
    block_on(context, async {
        match crate::watch::daemon::run(settings, context.connection.clone()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                context.printer.error(&error);
                ExitCode::FAILURE
            }
        }
    })
}

/// A duration flag's value, which must not be zero.
fn duration(flag: &'static str, text: &str) -> Result<Duration, WatchSettingsError> {
    crate::desired::parse_duration(text)
        .filter(|duration| !duration.is_zero())
        .ok_or_else(|| WatchSettingsError::ParseDuration {
            flag,
            text: text.to_owned(),
        })
}

/// The webhook secret in `path`, without its trailing line end; `None` (the webhook off,
/// with a warning) when the file does not exist, as when the optional Secret of the
/// in-cluster install is not created yet: the daemon polls until it is.
fn webhook_secret(path: &std::path::Path) -> Result<Option<Vec<u8>>, WatchSettingsError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(source) if source.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!(
                path = %path.display(),
                "the webhook secret file does not exist: the webhook is off, the daemon only polls"
            );
            return Ok(None);
        }
        Err(source) => {
            return Err(WatchSettingsError::ReadWebhookSecret {
                path: path.to_owned(),
                source,
            });
        }
    };
    let secret = text.trim_end_matches(['\r', '\n']).as_bytes().to_vec();
    if secret.is_empty() {
        return Err(WatchSettingsError::EmptyWebhookSecret {
            path: path.to_owned(),
        });
    }
    Ok(Some(secret))
}

/// Turns the command line into settings.
fn settings(args: &WatchArgs) -> Result<WatchSettings, WatchSettingsError> {
    let interval = duration("--interval", &args.interval)?;
    let lock_timeout = duration("--lock-timeout", &args.lock_timeout)?;
    let listen: SocketAddr = args
        .listen
        .parse()
        .map_err(|_| WatchSettingsError::ParseListen {
            text: args.listen.clone(),
        })?;
    let webhook_secret = args
        .webhook_secret_file
        .as_deref()
        .map(webhook_secret)
        .transpose()?
        .flatten();
    let cache_dir = args.cache_dir.clone().unwrap_or_else(default_cache_dir);
    let shown_remote = crate::source::redact_url(&args.remote);
    let state_file = args.state_file.clone().unwrap_or_else(|| {
        default_state_file(
            &cache_dir,
            &shown_remote,
            &args.branch,
            args.subfolder.as_deref(),
        )
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
        notify_environment: NotifyEnvironment::from_process(Some(&args.remote)),
        shown_remote,
        interval,
        listen,
        webhook_secret,
        self_heal: args.self_heal,
        plan: PlanSettings {
            prune: args.prune,
            prune_volumes: args.prune_volumes,
            allow_mass_delete: false,
        },
        lock_timeout,
        state_file,
    })
}
