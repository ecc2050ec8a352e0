//! Remote sources (`file://`, `git://`, `https://`, `ssh://`): fetched into a cache, then
//! read like a local repository.
//!
//! Each remote is mirrored into one bare repository of the [cache](super::cache) with the
//! refspecs `+refs/heads/*:refs/heads/*` and `+refs/tags/*:refs/tags/*`, plus the remote's
//! `HEAD`, so `--rev main`, `--rev v1.2`, a commit id and the default `HEAD` all resolve the
//! way they would in the remote itself. Branches and tags deleted on the remote are deleted
//! from the cache, and the cache's `HEAD` follows the remote's.
//!
//! The first fetch is shallow (depth 1 per branch and tag). Later fetches stay at depth 1
//! while the cache is shallow, and are skipped when the remote's refs did not move. When
//! the revision cannot be read from a shallow cache (a commit id or `main~3` beyond the
//! fetched tips), the cache fetches the whole history once and the read is retried; from
//! then on the cache is complete and later fetches are ordinary incremental ones.

use std::sync::atomic::AtomicBool;

use gix::bstr::{BStr, ByteSlice};
use gix::protocol::handshake::Ref;
use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit, RefLog};
use gix::remote::fetch::{RefMap, Shallow, Status, Tags};
use gix::remote::{Direction, ref_map};

use super::cache::{CacheEntry, repository_name};
use super::redact::{Secrets, redact_url};
use super::{Snapshot, SourceError, SourceOptions, git};

/// Errors of the ref edits, whether from gix or from validating a ref name.
type BoxedError = Box<dyn std::error::Error + Send + Sync>;

/// What the cache mirrors from every remote.
const REFSPECS: [&str; 2] = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"];

/// Whether a location names a remote rather than a local path.
pub(super) fn is_remote(location: &str) -> bool {
    ["file://", "git://", "http://", "https://", "ssh://"]
        .iter()
        .any(|scheme| location.starts_with(scheme))
}

/// Fetches the remote into the cache and reads it at the revision. Every error comes
/// back with the location's credentials hidden, in its fields and in its whole chain.
pub(super) fn read(options: &SourceOptions) -> Result<Snapshot, SourceError> {
    let secrets = Secrets::of(&options.location);
    read_remote(options).map_err(|error| error.scrubbed(&secrets))
}

fn read_remote(options: &SourceOptions) -> Result<Snapshot, SourceError> {
    let shown = redact_url(&options.location);
    let url =
        gix::url::parse(options.location.as_str()).map_err(|source| SourceError::ParseUrl {
            url: shown.clone(),
            source: Box::new(source),
        })?;
    let entry = CacheEntry::for_url(&options.cache_dir, &shown);
    let _lock = entry.lock()?;
    let repository = entry.open_or_init()?;
    let remote = Remote {
        url: &url,
        location: &shown,
        entry: &entry,
    };
    let depth = if is_shallow_or_empty(&repository) {
        Depth::Shallow
    } else {
        Depth::Incremental
    };
    remote.fetch(&repository, depth)?;
    let root_name = repository_name(&url);
    let first = git::read_repository(&repository, &shown, &root_name, options);
    match first {
        Err(SourceError::ResolveRevision { .. } | SourceError::ReadObjects { .. })
            if repository.is_shallow().unwrap_or(false)
                && may_need_history(options.revision.as_deref().unwrap_or("HEAD")) =>
        {
            tracing::debug!(url = %shown, "revision not in the shallow cache; fetching all history");
            remote.fetch(&repository, Depth::Complete)?;
            let repository = entry.open_or_init()?;
            git::read_repository(&repository, &shown, &root_name, options)
        }
        other => other,
    }
}

/// Whether a revision that a shallow cache cannot resolve might resolve with all history:
/// a (possibly abbreviated) commit id, or a walk back like `main~3` or `v1^`. A plain name
/// cannot, since every branch and tag is already mirrored.
fn may_need_history(revision: &str) -> bool {
    let is_hex = revision.len() >= 4 && revision.chars().all(|c| c.is_ascii_hexdigit());
    is_hex || revision.contains(['~', '^'])
}

/// How much history a fetch asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Depth {
    /// Only the commits the remote's refs point at.
    Shallow,
    /// Everything new since the last fetch (the cache already holds all history).
    Incremental,
    /// All history, turning a shallow cache into a complete one.
    Complete,
}

impl Depth {
    fn shallow(self) -> Shallow {
        match self {
            Self::Shallow => Shallow::DepthAtRemote(std::num::NonZeroU32::MIN),
            Self::Incremental => Shallow::NoChange,
            Self::Complete => Shallow::undo(),
        }
    }
}

/// A cache that is new, or was only ever fetched shallowly, keeps fetching shallowly.
fn is_shallow_or_empty(repository: &gix::Repository) -> bool {
    let has_refs = repository
        .references()
        .and_then(|references| references.all().map(|mut all| all.next().is_some()))
        .unwrap_or(false);
    !has_refs || repository.is_shallow().unwrap_or(true)
}

/// One remote and its place in the cache.
struct Remote<'a> {
    url: &'a gix::Url,
    location: &'a str,
    entry: &'a CacheEntry,
}

impl Remote<'_> {
    /// Brings the cache's branches, tags and `HEAD` up to date with the remote.
    fn fetch(&self, repository: &gix::Repository, depth: Depth) -> Result<(), SourceError> {
        let fetch_error = |source: gix::Error| SourceError::Fetch {
            url: self.location.to_owned(),
            source: Box::new(source),
        };
        let remote = repository
            .remote_at(self.url.clone())
            .and_then(|remote| remote.with_refspecs(REFSPECS, Direction::Fetch))
            .map_err(fetch_error)?
            .with_fetch_tags(Tags::None);
        let head = gix::refspec::parse("HEAD".into(), gix::refspec::parse::Operation::Fetch)
            .map_err(fetch_error)?
            .to_owned();
        let options = ref_map::Options {
            extra_refspecs: vec![head],
            ..ref_map::Options::default()
        };
        let prepared = remote
            .connect(Direction::Fetch)
            .and_then(|connection| connection.prepare_fetch(gix::progress::Discard, options))
            .map_err(fetch_error)?;
        let ref_map = if depth != Depth::Complete && is_up_to_date(repository, prepared.ref_map()) {
            tracing::debug!(url = %self.location, "cache is up to date");
            prepared.ref_map().clone()
        } else {
            let interrupt = AtomicBool::new(false);
            let outcome = prepared
                .with_shallow(depth.shallow())
                .receive(gix::progress::Discard, &interrupt)
                .map_err(fetch_error)?;
            release_pack(&outcome.status);
            outcome.ref_map
        };
        self.follow_remote(repository, &ref_map)
    }

    /// Points the cache's `HEAD` where the remote's is and deletes branches and tags the
    /// remote no longer has.
    fn follow_remote(
        &self,
        repository: &gix::Repository,
        ref_map: &RefMap,
    ) -> Result<(), SourceError> {
        let update_error = |source: BoxedError| SourceError::UpdateCache {
            path: self.entry.repository.clone(),
            source,
        };
        let mut edits = stale_refs(repository, ref_map).map_err(update_error)?;
        if let Some(head) = head_edit(ref_map).map_err(update_error)? {
            edits.push(head);
        }
        if !edits.is_empty() {
            repository
                .edit_references(edits)
                .map_err(|error| update_error(Box::new(error)))?;
        }
        Ok(())
    }
}

/// Removes the `.keep` file gix leaves next to a received pack when no ref moved (as when
/// only the shallow boundary changed); the refs now protect the pack's objects.
fn release_pack(status: &Status) {
    if let Status::Change {
        write_pack_bundle, ..
    } = status
        && let Some(keep) = &write_pack_bundle.keep_path
        && let Err(error) = std::fs::remove_file(keep)
    {
        tracing::warn!(path = %keep.display(), %error, "could not remove pack .keep file");
    }
}

/// Whether every ref the remote advertised already points at the same, present object in
/// the cache, so there is nothing to download.
fn is_up_to_date(repository: &gix::Repository, ref_map: &RefMap) -> bool {
    ref_map.mappings.iter().all(|mapping| {
        let Some(remote_id) = mapping.remote.as_id() else {
            return false;
        };
        if !repository.has_object(remote_id) {
            return false;
        }
        match &mapping.local {
            None => true,
            Some(local) => repository
                .try_find_reference(local.as_bstr())
                .ok()
                .flatten()
                .and_then(|reference| reference.target().try_id().map(ToOwned::to_owned))
                .is_some_and(|local_id| local_id == remote_id),
        }
    })
}

/// Deletions of the cache's branches and tags that the remote does not advertise.
fn stale_refs(repository: &gix::Repository, ref_map: &RefMap) -> Result<Vec<RefEdit>, BoxedError> {
    let advertised: std::collections::HashSet<&BStr> = ref_map
        .remote_refs
        .iter()
        .map(|remote_ref| remote_ref.unpack().0)
        .collect();
    let platform = repository.references()?;
    let mut edits = Vec::new();
    for reference in platform.local_branches()?.chain(platform.tags()?) {
        let reference = reference?;
        if advertised.contains(reference.name().as_bstr()) {
            continue;
        }
        edits.push(RefEdit {
            change: Change::Delete {
                expected: PreviousValue::MustExistAndMatch(reference.target().into_owned()),
                log: RefLog::AndReference,
            },
            name: reference.name().to_owned(),
            deref: false,
        });
    }
    Ok(edits)
}

/// The update making the cache's `HEAD` match the remote's, if the remote advertised it.
fn head_edit(ref_map: &RefMap) -> Result<Option<RefEdit>, BoxedError> {
    let Some(head) = ref_map
        .remote_refs
        .iter()
        .find(|remote_ref| remote_ref.unpack().0 == "HEAD")
    else {
        return Ok(None);
    };
    let new = match head {
        Ref::Symbolic { target, .. } | Ref::Unborn { target, .. } => {
            gix::refs::Target::Symbolic(target.as_bstr().try_into()?)
        }
        Ref::Direct { object, .. } | Ref::Peeled { object, .. } => {
            gix::refs::Target::Object(*object)
        }
    };
    Ok(Some(RefEdit {
        change: Change::Update {
            log: LogChange {
                mode: RefLog::AndReference,
                force_create_reflog: false,
                message: "clawops: follow the remote's HEAD".into(),
            },
            expected: PreviousValue::Any,
            new,
        },
        name: "HEAD".try_into()?,
        deref: false,
    }))
}

#[cfg(test)]
mod tests {
    use super::{is_remote, may_need_history};

    #[test]
    fn only_commit_ids_and_walks_may_need_more_history() {
        assert!(may_need_history("8d1138ac93977cd02b874a9bcdc966faa750dea7"));
        assert!(may_need_history("8d1138a"));
        assert!(may_need_history("main~3"));
        assert!(may_need_history("v1^"));
        assert!(!may_need_history("main"));
        assert!(!may_need_history("abc"));
        assert!(!may_need_history("release-2"));
    }

    #[test]
    fn urls_are_remote_and_paths_are_not() {
        assert!(is_remote("file:///srv/fleet.git"));
        assert!(is_remote("git://127.0.0.1:9418/fleet.git"));
        assert!(is_remote("https://example.com/org/fleet"));
        assert!(is_remote("ssh://git@example.com/org/fleet.git"));
        assert!(!is_remote("/srv/fleet"));
        assert!(!is_remote("fleet"));
    }
}
