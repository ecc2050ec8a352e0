//! Source stage: take a snapshot of the operator's config repository at one revision.
//!
//! A source is a local git repository (read from the commit at `--rev` through `gix`,
//! never from the work tree unless asked), a plain directory, or a remote URL fetched into
//! a cache. The result is a [`Snapshot`]: the commit it came from and the text of every
//! file the later stages consider (`clawops.toml` and `*.yaml`/`*.yml`, hidden folders
//! skipped, and those `.clawopsignore` at the fleet root names). Files that cannot be used (too large, not UTF-8, a symlink leaving the
//! repository) are listed as rejected so validation can report them with the rest.

mod cache;
mod directory;
mod error;
mod git;
mod ignore_file;
mod redact;
mod remote;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use error::SourceError;
pub use ignore_file::IGNORE_FILE_NAME;
pub(crate) use redact::{is_credential_parameter, redact_url};

/// The default largest file size considered (1 MiB).
pub const DEFAULT_MAX_FILE_SIZE: u64 = 1024 * 1024;

/// Name of the optional settings file at the root of the config folder.
pub const CONFIG_FILE_NAME: &str = "clawops.toml";

/// What to read and how.
#[derive(Clone, Debug)]
pub struct SourceOptions {
    /// A path (repository or plain directory) or a remote URL.
    pub location: String,
    /// Branch, tag or commit; `HEAD` when absent.
    pub revision: Option<String>,
    /// Limit the repository to this subfolder (monorepos).
    pub subfolder: Option<String>,
    /// Read a local repository's work tree instead of a commit.
    pub worktree: bool,
    /// Where remote repositories are cached.
    pub cache_dir: PathBuf,
    /// Files larger than this are rejected.
    pub max_file_size: u64,
}

impl SourceOptions {
    /// Options for `location` with every other setting at its default.
    pub fn new(location: impl Into<String>) -> Self {
        Self {
            location: location.into(),
            revision: None,
            subfolder: None,
            worktree: false,
            cache_dir: default_cache_dir(),
            max_file_size: DEFAULT_MAX_FILE_SIZE,
        }
    }
}

/// `$XDG_CACHE_HOME/clawops`, else `~/.cache/clawops`, else a folder in the temp dir.
pub fn default_cache_dir() -> PathBuf {
    if let Some(cache) = std::env::var_os("XDG_CACHE_HOME").filter(|value| !value.is_empty()) {
        return PathBuf::from(cache).join("clawops");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|value| !value.is_empty()) {
        return PathBuf::from(home).join(".cache").join("clawops");
    }
    std::env::temp_dir().join("clawops-cache")
}

/// The commit a snapshot was read from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision {
    /// Full commit id (hex).
    pub commit: String,
    /// First line of the commit message.
    pub subject: String,
}

/// One file's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// Path relative to the repository root, `/`-separated.
    pub path: String,
    /// The git blob id of the content (computed for plain directories too).
    pub blob: String,
    /// The file's text.
    pub text: String,
}

/// Why a file was not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// Larger than the limit.
    TooLarge {
        /// Size in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// Not valid UTF-8.
    NotUtf8,
    /// A symbolic link whose target is outside the repository.
    SymlinkEscapes {
        /// The link's target as written.
        target: String,
    },
}

/// A file that was found but not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectedFile {
    /// Path relative to the repository root.
    pub path: String,
    /// Why.
    pub reason: Rejection,
}

/// The config repository at one revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// What was read, as the user named it.
    pub origin: String,
    /// The commit, when read from git (absent for plain directories and work trees).
    pub revision: Option<Revision>,
    /// The subfolder the snapshot is limited to (`""` for the whole repository).
    pub subfolder: String,
    /// Folder name of the repository (default fleet name).
    pub root_name: String,
    /// Files considered, sorted by path.
    pub files: Vec<SourceFile>,
    /// Files found but not read.
    pub rejected: Vec<RejectedFile>,
}

impl Snapshot {
    /// The file with this repository-relative path.
    pub fn file(&self, path: &str) -> Option<&SourceFile> {
        self.files
            .binary_search_by(|file| file.path.as_str().cmp(path))
            .ok()
            .map(|index| &self.files[index])
    }

    /// Repository-relative path of `clawops.toml`.
    pub fn config_path(&self) -> String {
        join_path(&self.subfolder, CONFIG_FILE_NAME)
    }
}

/// Reads a snapshot as the options say.
pub fn read(options: &SourceOptions) -> Result<Snapshot, SourceError> {
    if remote::is_remote(&options.location) {
        return remote::read(options);
    }
    let path = PathBuf::from(&options.location);
    if !path.exists() {
        return Err(SourceError::NotFound { path });
    }
    if git::is_repository(&path) && !options.worktree {
        git::read(&path, options)
    } else {
        if options.revision.is_some() && !git::is_repository(&path) {
            return Err(SourceError::RevisionWithoutRepository { path });
        }
        directory::read(&path, options)
    }
}

/// Whether a path (relative to the config folder) names a file the spec stage reads.
pub fn is_considered(relative_path: &str) -> bool {
    if relative_path == CONFIG_FILE_NAME {
        return true;
    }
    let mut parts = relative_path.split('/').peekable();
    while let Some(part) = parts.next() {
        if part.starts_with('.') {
            return false;
        }
        if parts.peek().is_none() {
            return part.ends_with(".yaml") || part.ends_with(".yml");
        }
    }
    false
}

/// Joins a subfolder and a relative path with `/`.
pub(crate) fn join_path(subfolder: &str, relative: &str) -> String {
    if subfolder.is_empty() {
        relative.to_owned()
    } else {
        format!("{subfolder}/{relative}")
    }
}

/// Normalises a `--path` value: no leading `./` or `/`, no trailing `/`.
pub(crate) fn normalize_subfolder(subfolder: Option<&str>) -> String {
    subfolder
        .unwrap_or("")
        .trim_start_matches("./")
        .trim_matches('/')
        .to_owned()
}

/// Turns raw bytes into a file or a rejection.
pub(crate) fn accept_bytes(
    path: String,
    bytes: Vec<u8>,
    blob: String,
    limit: u64,
) -> Result<SourceFile, RejectedFile> {
    let size = bytes.len() as u64;
    if size > limit {
        return Err(RejectedFile {
            path,
            reason: Rejection::TooLarge { size, limit },
        });
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(SourceFile { path, blob, text }),
        Err(_) => Err(RejectedFile {
            path,
            reason: Rejection::NotUtf8,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn considers_config_and_yaml_but_not_hidden_folders() {
        assert!(is_considered("clawops.toml"));
        assert!(is_considered("teams/alpha.yaml"));
        assert!(is_considered("workers.yml"));
        assert!(!is_considered("teams/clawops.toml"));
        assert!(!is_considered(".github/workflows/plan.yaml"));
        assert!(!is_considered("teams/.drafts/beta.yaml"));
        assert!(!is_considered("README.md"));
    }
}
