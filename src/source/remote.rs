//! Remote sources (`file://`, `git://`, `https://`, `ssh://`): fetched into a cache, then
//! read like a local repository.

use super::{Snapshot, SourceError, SourceOptions};

/// Whether a location names a remote rather than a local path.
pub(super) fn is_remote(location: &str) -> bool {
    ["file://", "git://", "http://", "https://", "ssh://"]
        .iter()
        .any(|scheme| location.starts_with(scheme))
}

/// Fetches the remote into the cache and reads it at the revision.
pub(super) fn read(options: &SourceOptions) -> Result<Snapshot, SourceError> {
    Err(SourceError::Fetch {
        url: options.location.clone(),
        source: "remote sources are being implemented".into(),
    })
}
