//! Reading a local git repository at a revision, straight from its object database (no
//! checkout, no `git` process).

use std::path::Path;

use gix::bstr::ByteSlice;

use super::directory::folder_name;
use super::{
    RejectedFile, Rejection, Revision, Snapshot, SourceError, SourceOptions, accept_bytes,
    is_considered, normalize_subfolder,
};

/// How many symbolic links in a row are followed before giving up.
const MAX_LINK_HOPS: usize = 8;

/// The longest link target read (a path, as `PATH_MAX`); a longer "link" is not followed.
const MAX_LINK_TARGET: u64 = 4096;

/// Whether `path` is the root of a git repository (a work tree with `.git`, or a bare one).
pub(super) fn is_repository(path: &Path) -> bool {
    path.join(".git").exists() || (path.join("HEAD").is_file() && path.join("objects").is_dir())
}

/// Reads the considered files of the commit at `options.revision` (default `HEAD`).
pub(super) fn read(path: &Path, options: &SourceOptions) -> Result<Snapshot, SourceError> {
    let repository = gix::open(path).map_err(|source| SourceError::OpenRepository {
        path: path.to_path_buf(),
        source: Box::new(source),
    })?;
    let root_name =
        folder_name(&std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()));
    let root_name = root_name
        .strip_suffix(".git")
        .map(str::to_owned)
        .unwrap_or(root_name);
    read_repository(&repository, &options.location, &root_name, options)
}

/// Reads a snapshot from an open repository; shared by local and fetched remotes.
pub(super) fn read_repository(
    repository: &gix::Repository,
    origin: &str,
    root_name: &str,
    options: &SourceOptions,
) -> Result<Snapshot, SourceError> {
    let revision = options
        .revision
        .clone()
        .unwrap_or_else(|| "HEAD".to_owned());
    let objects_error = |what: &str| {
        let what = what.to_owned();
        let origin = origin.to_owned();
        move |source: Box<dyn std::error::Error + Send + Sync>| SourceError::ReadObjects {
            what,
            origin,
            source,
        }
    };
    let commit = repository
        .rev_parse_single(revision.as_str())
        .map_err(|source| SourceError::ResolveRevision {
            revision: revision.clone(),
            origin: origin.to_owned(),
            source: Box::new(source),
        })?
        .object()
        .map_err(|error| objects_error("the commit")(Box::new(error)))?
        .peel_to_commit()
        .map_err(|error| objects_error("the commit")(Box::new(error)))?;
    let subject = commit
        .message()
        .map(|message| message.summary().to_str_lossy().into_owned())
        .unwrap_or_default();
    let root_tree = commit
        .tree()
        .map_err(|error| objects_error("the root tree")(Box::new(error)))?;
    let subfolder = normalize_subfolder(options.subfolder.as_deref());
    let tree = if subfolder.is_empty() {
        root_tree.clone()
    } else {
        let entry = root_tree
            .lookup_entry_by_path(&subfolder)
            .map_err(|error| objects_error("the subfolder")(Box::new(error)))?
            .filter(|entry| entry.mode().is_tree())
            .ok_or_else(|| SourceError::SubfolderMissing {
                subfolder: subfolder.clone(),
                origin: origin.to_owned(),
            })?;
        entry
            .object()
            .map_err(|error| objects_error("the subfolder")(Box::new(error)))?
            .into_tree()
    };
    let mut recorder = gix::traverse::tree::Recorder::default();
    tree.traverse()
        .breadthfirst(&mut recorder)
        .map_err(|error| objects_error("the tree")(Box::new(error)))?;

    let mut snapshot = Snapshot {
        origin: origin.to_owned(),
        revision: Some(Revision {
            commit: commit.id().to_string(),
            subject,
        }),
        subfolder: subfolder.clone(),
        root_name: root_name.to_owned(),
        files: Vec::new(),
        rejected: Vec::new(),
    };
    let ignored = ignore_rules(repository, &recorder.records, options.max_file_size);
    for entry in recorder.records {
        let relative = entry.filepath.to_str_lossy().into_owned();
        if !(entry.mode.is_blob() || entry.mode.is_link())
            || !is_considered(&relative)
            || ignored.excludes(&relative)
        {
            continue;
        }
        let path = super::join_path(&subfolder, &relative);
        let found = if entry.mode.is_link() {
            follow_link(repository, &root_tree, &path, entry.oid)
        } else {
            Ok(entry.oid)
        };
        let blob_id = match found {
            Ok(id) => id,
            Err(reason) => {
                snapshot.rejected.push(RejectedFile { path, reason });
                continue;
            }
        };
        // The size comes from the object's header, so a blob over the limit is never
        // inflated: a few kilobytes of packed zeros could otherwise take gigabytes.
        let size = repository
            .find_header(blob_id)
            .map_err(|error| objects_error(&path)(Box::new(error)))?
            .size();
        if size > options.max_file_size {
            snapshot.rejected.push(RejectedFile {
                path,
                reason: Rejection::TooLarge {
                    size,
                    limit: options.max_file_size,
                },
            });
            continue;
        }
        let object = repository
            .find_object(blob_id)
            .map_err(|error| objects_error(&path)(Box::new(error)))?;
        match accept_bytes(
            path,
            object.detach().data,
            blob_id.to_string(),
            options.max_file_size,
        ) {
            Ok(file) => snapshot.files.push(file),
            Err(rejected) => snapshot.rejected.push(rejected),
        }
    }
    snapshot
        .files
        .sort_by(|left, right| left.path.cmp(&right.path));
    snapshot
        .rejected
        .sort_by(|left, right| left.path.cmp(&right.path));
    Ok(snapshot)
}

/// Resolves a symbolic link stored in the tree to the blob it points at, as long as every
/// hop stays inside the repository; otherwise the rejection naming the offending target.
fn follow_link(
    repository: &gix::Repository,
    root_tree: &gix::Tree<'_>,
    link_path: &str,
    link_blob: gix::ObjectId,
) -> Result<gix::ObjectId, Rejection> {
    let mut current_path = link_path.to_owned();
    let mut current_blob = link_blob;
    for _ in 0..MAX_LINK_HOPS {
        let oversized = repository
            .find_header(current_blob)
            .ok()
            .is_none_or(|header| header.size() > MAX_LINK_TARGET);
        if oversized {
            return Err(escapes(&current_path));
        }
        let target = repository
            .find_object(current_blob)
            .map(|object| object.data.to_str_lossy().into_owned())
            .map_err(|_| escapes(&current_path))?;
        let resolved = resolve_relative(&current_path, &target).ok_or_else(|| escapes(&target))?;
        let entry = root_tree
            .lookup_entry_by_path(&resolved)
            .ok()
            .flatten()
            .ok_or_else(|| escapes(&target))?;
        if entry.mode().is_link() {
            current_path = resolved;
            current_blob = entry.object_id();
            continue;
        }
        if entry.mode().is_blob() {
            return Ok(entry.object_id());
        }
        return Err(escapes(&target));
    }
    Err(escapes(&current_path))
}

/// The rejection of a link whose target (`target`) leaves the repository.
fn escapes(target: &str) -> Rejection {
    Rejection::SymlinkEscapes {
        target: target.to_owned(),
    }
}

/// Joins a link's target onto the link's folder; `None` when the result leaves the root.
fn resolve_relative(link_path: &str, target: &str) -> Option<String> {
    if target.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = link_path.split('/').collect();
    parts.pop();
    for component in target.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

/// The `.clawopsignore` at the root of the traversed tree, as of the same commit (none
/// when absent, not a file, too large or unreadable: nothing is then left out).
fn ignore_rules(
    repository: &gix::Repository,
    records: &[gix::traverse::tree::recorder::Entry],
    limit: u64,
) -> super::ignore_file::IgnoreRules {
    let text = records
        .iter()
        .find(|entry| entry.mode.is_blob() && entry.filepath == super::IGNORE_FILE_NAME)
        .filter(|entry| {
            repository
                .find_header(entry.oid)
                .is_ok_and(|header| header.size() <= limit)
        })
        .and_then(|entry| repository.find_object(entry.oid).ok())
        .map(|object| String::from_utf8_lossy(&object.data).into_owned())
        .unwrap_or_default();
    super::ignore_file::IgnoreRules::parse(&text)
}

#[cfg(test)]
mod tests {
    use super::resolve_relative;

    #[test]
    fn relative_links_resolve_inside_the_repository_only() {
        assert_eq!(
            resolve_relative("teams/a.yaml", "b.yaml").as_deref(),
            Some("teams/b.yaml")
        );
        assert_eq!(
            resolve_relative("teams/a.yaml", "../shared/b.yaml").as_deref(),
            Some("shared/b.yaml")
        );
        assert_eq!(resolve_relative("a.yaml", "../outside.yaml"), None);
        assert_eq!(resolve_relative("a.yaml", "/etc/passwd"), None);
    }
}
