//! The on-disk cache of remote repositories: one bare repository per remote URL under
//! `<cache_dir>/git/`, named from the URL, and an advisory lock so concurrent runs against
//! the same remote take turns.
//!
//! Layout for `https://example.com/org/fleet.git`:
//!
//! ```text
//! <cache_dir>/git/example.com-org-fleet-<16 hex digits>.git/   bare repository
//! <cache_dir>/git/example.com-org-fleet-<16 hex digits>.lock   lock file (flock)
//! ```
//!
//! The hex digits are the start of the SHA-256 of the URL with its credentials hidden
//! (user information and credential query parameters, see [`redact_url`](super::redact_url)),
//! so two remotes never share a repository while no part of the name carries a credential.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::SourceError;

/// Longest readable prefix of a cache entry's name.
const MAX_READABLE_NAME: usize = 60;

/// A remote's place in the cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct CacheEntry {
    /// The bare repository.
    pub(super) repository: PathBuf,
    /// The lock file next to it.
    pub(super) lock: PathBuf,
}

impl CacheEntry {
    /// Where the remote at `shown` (its location with credentials hidden, as
    /// [`redact_url`](super::redact_url) makes it) is cached below `cache_dir`.
    pub(super) fn for_url(cache_dir: &Path, shown: &str) -> Self {
        let name = entry_name(shown);
        let folder = cache_dir.join("git");
        Self {
            repository: folder.join(format!("{name}.git")),
            lock: folder.join(format!("{name}.lock")),
        }
    }

    /// Takes the entry's exclusive lock, waiting for other runs to release it. The lock is
    /// an advisory `flock` held as long as the returned file is open, so a crashed run
    /// never leaves it behind.
    pub(super) fn lock(&self) -> Result<File, SourceError> {
        if let Some(folder) = self.lock.parent() {
            fs::create_dir_all(folder).map_err(|source| SourceError::PrepareCache {
                path: folder.to_path_buf(),
                source,
            })?;
        }
        let lock_error = |source| SourceError::LockCache {
            path: self.lock.clone(),
            source,
        };
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock)
            .map_err(lock_error)?;
        file.lock().map_err(lock_error)?;
        Ok(file)
    }

    /// Opens the cached repository, creating an empty bare one first if there is none.
    /// Call with the lock held.
    pub(super) fn open_or_init(&self) -> Result<gix::Repository, SourceError> {
        if !self.repository.exists() {
            self.init()?;
        }
        gix::open(&self.repository).map_err(|source| SourceError::OpenRepository {
            path: self.repository.clone(),
            source: Box::new(source),
        })
    }

    /// Creates the bare repository in a temporary folder and renames it into place, so a
    /// run that dies half-way never leaves a broken repository under the final name.
    fn init(&self) -> Result<(), SourceError> {
        let init_error =
            |source: Box<dyn std::error::Error + Send + Sync>| SourceError::InitCache {
                path: self.repository.clone(),
                source,
            };
        let temporary = self.repository.with_extension("git.partial");
        if temporary.exists() {
            fs::remove_dir_all(&temporary).map_err(|error| init_error(Box::new(error)))?;
        }
        gix::init_bare(&temporary).map_err(|error| init_error(Box::new(error)))?;
        fs::rename(&temporary, &self.repository).map_err(|error| init_error(Box::new(error)))
    }
}

/// `<host>-<path words>-<hash>`: readable, unique per location, and safe as a file name.
/// `shown` is the location with its credentials already hidden, so neither part can carry
/// one: the query (where tokens go) is left out of the readable part, and the hash is of
/// the redacted location (a changed token keeps its cache).
fn entry_name(shown: &str) -> String {
    let (host, path) = match shown.split_once("://") {
        Some((_scheme, rest)) => {
            let rest = rest.split(['?', '#']).next().unwrap_or(rest);
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit('@').next().unwrap_or(authority);
            (if host.is_empty() { "local" } else { host }, path)
        }
        None => ("local", shown),
    };
    let host = host.split(':').next().unwrap_or(host);
    let path = path.trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let mut readable = String::with_capacity(host.len() + path.len() + 1);
    for character in format!("{host}/{path}").chars() {
        let keep = character.is_ascii_alphanumeric() || character == '.' || character == '_';
        let next = if keep { character } else { '-' };
        if !(next == '-' && (readable.is_empty() || readable.ends_with('-'))) {
            readable.push(next);
        }
    }
    let readable: String = readable
        .trim_matches(|character| character == '-' || character == '.')
        .chars()
        .take(MAX_READABLE_NAME)
        .collect();
    let digest = Sha256::digest(shown.as_bytes());
    let hash = hex::encode(&digest[..8]);
    if readable.is_empty() {
        hash
    } else {
        format!("{readable}-{hash}")
    }
}

/// The remote repository's folder name without `.git` (the default fleet name).
/// A query (where tokens go) never reaches it.
pub(super) fn repository_name(url: &gix::Url) -> String {
    let path = url.path.to_string();
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let last = path
        .trim_end_matches('/')
        .rsplit(['/', ':'])
        .next()
        .unwrap_or_default()
        .to_owned();
    let last = last.strip_suffix(".git").unwrap_or(&last).to_owned();
    if last.is_empty() {
        url.host().unwrap_or("fleet").to_owned()
    } else {
        last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> gix::Url {
        gix::url::parse(text).expect("valid URL")
    }

    fn entry_of(location: &str) -> CacheEntry {
        CacheEntry::for_url(Path::new("/cache"), &super::super::redact_url(location))
    }

    #[test]
    fn entries_are_readable_unique_and_free_of_credentials() {
        let entry = entry_of("https://example.com/org/fleet.git");
        let name = entry
            .repository
            .file_name()
            .expect("named")
            .to_string_lossy()
            .into_owned();
        assert!(name.starts_with("example.com-org-fleet-"), "{name}");
        assert!(name.ends_with(".git"));
        assert_eq!(entry.repository.parent(), Some(Path::new("/cache/git")));
        assert_eq!(entry.lock, entry.repository.with_extension("lock"));
        assert_ne!(
            entry.repository,
            entry_of("https://example.com/org/fleet").repository
        );

        let with_secret = entry_of("https://me:s3cret@example.com/org/x");
        assert_eq!(
            with_secret,
            entry_of("https://someone:else@example.com/org/x")
        );
        let with_token = entry_of("https://example.com:8443/org/x.git?access_token=t0ken&ref=a");
        let name = with_token.repository.to_string_lossy().into_owned();
        assert!(name.starts_with("/cache/git/example.com-org-x-"), "{name}");
        for (location, secret) in [
            ("https://me:s3cret@example.com/org/x", "s3cret"),
            ("https://me:s3cret@example.com/org/x", "me"),
            ("git://user:password@host/fleet", "password"),
            ("git://user:password@host/fleet", "user"),
            ("https://h/fleet?private_token=t0ken", "t0ken"),
            ("https://h/fleet?private_token=t0ken", "private"),
        ] {
            let name = entry_of(location).lock.to_string_lossy().into_owned();
            assert!(!name.contains(secret), "{secret} in {name}");
        }
    }

    #[test]
    fn odd_characters_become_single_dashes() {
        let name = entry_name("file:///tmp/a b/../c//fleet.git/");
        assert!(name.starts_with("local-tmp-a-b-..-c-fleet-"), "{name}");
    }

    #[test]
    fn repository_name_drops_the_git_suffix() {
        assert_eq!(repository_name(&url("file:///srv/git/fleet.git")), "fleet");
        assert_eq!(repository_name(&url("git://host/team/ops/")), "ops");
        assert_eq!(repository_name(&url("ssh://git@host:22/a/b.git")), "b");
        assert_eq!(
            repository_name(&url("https://h/org/fleet.git?access_token=t0ken")),
            "fleet"
        );
    }
}
