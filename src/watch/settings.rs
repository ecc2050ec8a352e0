//! The daemon's settings, resolved from the command line: what to follow, how often, where
//! to listen, and how to apply.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::engine::PlanSettings;
use crate::notify::NotifyEnvironment;
use crate::source::SourceOptions;

/// The daemon's resolved settings.
#[derive(Clone, Debug)]
pub struct WatchSettings {
    /// The remote at the followed branch.
    pub source: SourceOptions,
    /// The followed branch.
    pub branch: String,
    /// The remote as shown (credentials hidden).
    pub shown_remote: String,
    /// Fetch and drift-check period; also the longest wait between retries.
    pub interval: Duration,
    /// Server address.
    pub listen: SocketAddr,
    /// The webhook secret (webhook off without one).
    pub webhook_secret: Option<Vec<u8>>,
    /// Correct drift.
    pub self_heal: bool,
    /// Prune settings (never mass deletes: the daemon asks nobody).
    pub plan: PlanSettings,
    /// Wait this long for another apply's lock.
    pub lock_timeout: Duration,
    /// The daemon's memory file.
    pub state_file: PathBuf,
    /// Where notifications find their token and addresses kept out of git.
    pub notify_environment: NotifyEnvironment,
}

/// `<cache>/watch/<hash of remote, branch and path>.json`: one memory per followed
/// source, so two daemons on one machine never share one.
pub fn default_state_file(
    cache_dir: &Path,
    remote: &str,
    branch: &str,
    subfolder: Option<&str>,
) -> PathBuf {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for part in [remote, branch, subfolder.unwrap_or("")] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let digest = hex::encode(hasher.finalize());
    cache_dir
        .join("watch")
        .join(format!("{}.json", &digest[..16]))
}
