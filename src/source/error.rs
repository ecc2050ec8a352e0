//! Errors of the source stage.

use std::path::PathBuf;

/// Why a snapshot could not be taken.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SourceError {
    /// The path does not exist.
    #[error("source {path} does not exist")]
    #[diagnostic(
        code(clawops::source::not_found),
        help("pass a repository, a folder or a git URL")
    )]
    NotFound {
        /// The path given.
        path: PathBuf,
    },
    /// `--rev` was given for a folder that is not a git repository.
    #[error("--rev needs a git repository, but {path} is a plain folder")]
    #[diagnostic(
        code(clawops::source::revision_without_repository),
        help("drop --rev, or point at the repository root")
    )]
    RevisionWithoutRepository {
        /// The folder given.
        path: PathBuf,
    },
    /// Walking a plain folder failed.
    #[error("could not read {path}")]
    #[diagnostic(code(clawops::source::read_directory))]
    ReadDirectory {
        /// What could not be read.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The `--path` subfolder does not exist at the revision.
    #[error("subfolder {subfolder} does not exist in {origin}")]
    #[diagnostic(
        code(clawops::source::subfolder_missing),
        help("check --path; it is relative to the repository root")
    )]
    SubfolderMissing {
        /// The subfolder asked for.
        subfolder: String,
        /// The repository.
        origin: String,
    },
    /// Opening the git repository failed.
    #[error("could not open git repository {path}")]
    #[diagnostic(code(clawops::source::open_repository))]
    OpenRepository {
        /// The repository path.
        path: PathBuf,
        /// gix's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// `--rev` does not name a commit.
    #[error("revision {revision} not found in {origin}")]
    #[diagnostic(
        code(clawops::source::resolve_revision),
        help("use a branch, a tag or a commit id that exists in the repository")
    )]
    ResolveRevision {
        /// The revision asked for.
        revision: String,
        /// The repository.
        origin: String,
        /// gix's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Reading objects (commit, trees, blobs) failed.
    #[error("could not read {what} from {origin}")]
    #[diagnostic(code(clawops::source::read_objects))]
    ReadObjects {
        /// What was being read.
        what: String,
        /// The repository.
        origin: String,
        /// gix's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A remote URL could not be parsed.
    #[error("{url} is not a valid git URL")]
    #[diagnostic(
        code(clawops::source::parse_url),
        help("use file://, git://, https:// or ssh:// followed by host and path")
    )]
    ParseUrl {
        /// The URL given.
        url: String,
        /// gix's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The cache folder could not be created.
    #[error("could not create cache folder {path}")]
    #[diagnostic(
        code(clawops::source::prepare_cache),
        help("pass a writable folder with --cache-dir")
    )]
    PrepareCache {
        /// The folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The lock guarding a cached repository could not be taken.
    #[error("could not lock cache {path}")]
    #[diagnostic(
        code(clawops::source::lock_cache),
        help("pass a writable folder with --cache-dir")
    )]
    LockCache {
        /// The lock file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Creating the cached bare repository failed.
    #[error("could not create cache repository {path}")]
    #[diagnostic(
        code(clawops::source::init_cache),
        help("pass a writable folder with --cache-dir")
    )]
    InitCache {
        /// The repository path.
        path: PathBuf,
        /// gix's or the I/O error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Making the cache's `HEAD` and branches match the remote failed.
    #[error("could not update the references of cache {path}")]
    #[diagnostic(
        code(clawops::source::update_cache),
        help("delete the cache folder; it is recreated on the next run")
    )]
    UpdateCache {
        /// The repository path.
        path: PathBuf,
        /// gix's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Fetching a remote failed.
    #[error("could not fetch {url}")]
    #[diagnostic(
        code(clawops::source::fetch),
        help("check the URL and that the remote answers")
    )]
    Fetch {
        /// The remote URL.
        url: String,
        /// gix's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl SourceError {
    /// This error with the credentials of a remote location hidden in its text fields and
    /// in every error of its chain (`gix` quotes the URL it was given).
    pub(super) fn scrubbed(self, secrets: &super::redact::Secrets) -> Self {
        let chain =
            |source: Box<dyn std::error::Error + Send + Sync>| secrets.scrub_error(source.as_ref());
        match self {
            Self::SubfolderMissing { subfolder, origin } => Self::SubfolderMissing {
                subfolder,
                origin: secrets.scrub(&origin),
            },
            Self::OpenRepository { path, source } => Self::OpenRepository {
                path,
                source: chain(source),
            },
            Self::ResolveRevision {
                revision,
                origin,
                source,
            } => Self::ResolveRevision {
                revision,
                origin: secrets.scrub(&origin),
                source: chain(source),
            },
            Self::ReadObjects {
                what,
                origin,
                source,
            } => Self::ReadObjects {
                what,
                origin: secrets.scrub(&origin),
                source: chain(source),
            },
            Self::ParseUrl { url, source } => Self::ParseUrl {
                url: secrets.scrub(&url),
                source: chain(source),
            },
            Self::InitCache { path, source } => Self::InitCache {
                path,
                source: chain(source),
            },
            Self::UpdateCache { path, source } => Self::UpdateCache {
                path,
                source: chain(source),
            },
            Self::Fetch { url, source } => Self::Fetch {
                url: secrets.scrub(&url),
                source: chain(source),
            },
            other => other,
        }
    }
}
