//! Reading a plain folder (or a repository's work tree) as it is on disk.

use std::fs;
use std::path::{Path, PathBuf};

use super::{
    RejectedFile, Rejection, Snapshot, SourceError, SourceOptions, accept_bytes, is_considered,
    join_path, normalize_subfolder,
};

/// Reads every considered file below `root` (limited to the subfolder).
pub(super) fn read(root: &Path, options: &SourceOptions) -> Result<Snapshot, SourceError> {
    let subfolder = normalize_subfolder(options.subfolder.as_deref());
    let canonical_root = fs::canonicalize(root).map_err(|source| SourceError::ReadDirectory {
        path: root.to_path_buf(),
        source,
    })?;
    let base = canonical_root.join(&subfolder);
    if !base.is_dir() {
        return Err(SourceError::SubfolderMissing {
            subfolder,
            origin: options.location.clone(),
        });
    }
    let ignore_path = base.join(super::IGNORE_FILE_NAME);
    let ignored = fs::metadata(&ignore_path)
        .ok()
        .filter(|metadata| metadata.is_file() && metadata.len() <= options.max_file_size)
        .and_then(|_| fs::read_to_string(&ignore_path).ok())
        .map(|text| super::ignore_file::IgnoreRules::parse(&text))
        .unwrap_or_default();
    let mut walker = Walker {
        ignored,
        root: canonical_root.clone(),
        subfolder: subfolder.clone(),
        limit: options.max_file_size,
        snapshot: Snapshot {
            origin: options.location.clone(),
            revision: None,
            subfolder: subfolder.clone(),
            root_name: folder_name(&canonical_root),
            files: Vec::new(),
            rejected: Vec::new(),
        },
    };
    walker.walk(&base, "")?;
    walker
        .snapshot
        .files
        .sort_by(|left, right| left.path.cmp(&right.path));
    walker
        .snapshot
        .rejected
        .sort_by(|left, right| left.path.cmp(&right.path));
    Ok(walker.snapshot)
}

/// The last component of a path, used as the default fleet name.
pub(super) fn folder_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "fleet".to_owned())
}

struct Walker {
    /// What `.clawopsignore` leaves out.
    ignored: super::ignore_file::IgnoreRules,
    root: PathBuf,
    subfolder: String,
    limit: u64,
    snapshot: Snapshot,
}

impl Walker {
    fn walk(&mut self, folder: &Path, relative: &str) -> Result<(), SourceError> {
        let read_error = |source| SourceError::ReadDirectory {
            path: folder.to_path_buf(),
            source,
        };
        for entry in fs::read_dir(folder).map_err(read_error)? {
            let entry = entry.map_err(read_error)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let child = if relative.is_empty() {
                name.clone()
            } else {
                format!("{relative}/{name}")
            };
            let file_type = entry.file_type().map_err(read_error)?;
            if file_type.is_dir() {
                if !name.starts_with('.') {
                    self.walk(&entry.path(), &child)?;
                }
            } else if is_considered(&child) && !self.ignored.excludes(&child) {
                self.read_file(&entry.path(), &child, file_type.is_symlink())?;
            }
        }
        Ok(())
    }

    fn read_file(
        &mut self,
        path: &Path,
        relative: &str,
        is_symlink: bool,
    ) -> Result<(), SourceError> {
        let repository_path = join_path(&self.subfolder, relative);
        if is_symlink {
            let target = fs::read_link(path).map_err(|source| SourceError::ReadDirectory {
                path: path.to_path_buf(),
                source,
            })?;
            let inside =
                fs::canonicalize(path).is_ok_and(|resolved| resolved.starts_with(&self.root));
            if !inside {
                self.snapshot.rejected.push(RejectedFile {
                    path: repository_path,
                    reason: Rejection::SymlinkEscapes {
                        target: target.to_string_lossy().into_owned(),
                    },
                });
                return Ok(());
            }
        }
        let metadata = fs::metadata(path).map_err(|source| SourceError::ReadDirectory {
            path: path.to_path_buf(),
            source,
        })?;
        if metadata.len() > self.limit {
            self.snapshot.rejected.push(RejectedFile {
                path: repository_path,
                reason: Rejection::TooLarge {
                    size: metadata.len(),
                    limit: self.limit,
                },
            });
            return Ok(());
        }
        let bytes = fs::read(path).map_err(|source| SourceError::ReadDirectory {
            path: path.to_path_buf(),
            source,
        })?;
        let blob = blob_id(&bytes);
        match accept_bytes(repository_path, bytes, blob, self.limit) {
            Ok(file) => self.snapshot.files.push(file),
            Err(rejected) => self.snapshot.rejected.push(rejected),
        }
        Ok(())
    }
}

/// The git blob id (SHA-1) of some content, so plain folders get ids like commits do.
pub(super) fn blob_id(bytes: &[u8]) -> String {
    gix::objs::compute_hash(gix::hash::Kind::Sha1, gix::objs::Kind::Blob, bytes)
        .map(|id| id.to_string())
        .unwrap_or_default()
}
