//! GitHub: keep one pull-request comment up to date with the plan (`clawops github
//! comment`). The comment is found again by [`MARKDOWN_MARKER`] at the start of its body,
//! edited in place when it exists and created otherwise, so a pull request never collects
//! a comment per push.
//!
//! The token goes into the `Authorization` header and nowhere else: it has no `Display`,
//! its `Debug` is hidden, and the body and GitHub's error messages are scrubbed of it.

pub mod body;
pub mod client;
pub mod settings;

use std::path::{Path, PathBuf};

pub use client::{Comment, GithubClient};
pub use settings::{GithubSettings, Token};

use crate::render::MARKDOWN_MARKER;

/// A request the command makes, for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Asking whose token it is (`GET /user`).
    Identify,
    /// Listing the pull request's comments.
    ListComments,
    /// Creating the comment.
    CreateComment,
    /// Editing the comment.
    UpdateComment {
        /// The comment edited.
        id: u64,
    },
}

impl std::fmt::Display for Step {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Identify => formatter.write_str("asking GitHub whose token this is"),
            Self::ListComments => formatter.write_str("listing the pull request's comments"),
            Self::CreateComment => formatter.write_str("creating the comment"),
            Self::UpdateComment { id } => write!(formatter, "updating comment {id}"),
        }
    }
}

/// Why the comment could not be written. No variant holds the token.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum GithubError {
    /// A required environment variable is not set.
    #[error("the environment variable {name} is not set")]
    #[diagnostic(
        code(clawops::github::missing_variable),
        help(
            "GitHub Actions sets GITHUB_REPOSITORY and GITHUB_EVENT_PATH; pass the token as \
             `env: GITHUB_TOKEN: ${{{{ github.token }}}}`"
        )
    )]
    MissingVariable {
        /// The variable.
        name: &'static str,
    },
    /// `GITHUB_REPOSITORY` is not `owner/name`.
    #[error("GITHUB_REPOSITORY is {value:?}, not owner/name")]
    #[diagnostic(code(clawops::github::invalid_repository))]
    InvalidRepository {
        /// What it holds.
        value: String,
    },
    /// The event payload could not be read.
    #[error("could not read the event payload {}", path.display())]
    #[diagnostic(code(clawops::github::read_event))]
    ReadEvent {
        /// `GITHUB_EVENT_PATH`.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The event payload is not JSON.
    #[error("the event payload {} is not valid JSON", path.display())]
    #[diagnostic(code(clawops::github::parse_event))]
    ParseEvent {
        /// `GITHUB_EVENT_PATH`.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The workflow was not started by a pull request.
    #[error("the event payload {} names no pull request", path.display())]
    #[diagnostic(
        code(clawops::github::not_pull_request),
        help("run the comment step on `pull_request` events only")
    )]
    NotPullRequest {
        /// `GITHUB_EVENT_PATH`.
        path: PathBuf,
    },
    /// The body file could not be read.
    #[error("could not read {}", path.display())]
    #[diagnostic(code(clawops::github::read_body))]
    ReadBody {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A scrubbed file could not be written back.
    #[error("could not write the scrubbed {}", path.display())]
    #[diagnostic(code(clawops::github::write_scrubbed))]
    WriteScrubbed {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The token cannot be sent in a header (it holds a line break or similar).
    #[error("GITHUB_TOKEN holds characters that cannot be sent in a header")]
    #[diagnostic(code(clawops::github::invalid_token))]
    InvalidToken,
    /// The HTTP client could not be set up.
    #[error("could not set up the HTTP client")]
    #[diagnostic(code(clawops::github::start_client))]
    StartClient {
        /// Why.
        #[source]
        source: reqwest::Error,
    },
    /// A request got no answer.
    #[error("{step} failed: no answer from GitHub")]
    #[diagnostic(code(clawops::github::request))]
    Request {
        /// The request.
        step: Step,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
    /// GitHub answered with an error status.
    #[error("{step} failed: GitHub answered {status}: {message}")]
    #[diagnostic(code(clawops::github::status), help("{}", status_help(*status)))]
    Status {
        /// The request.
        step: Step,
        /// The HTTP status.
        status: u16,
        /// GitHub's message, scrubbed of the token.
        message: String,
    },
    /// GitHub's answer was not the JSON expected.
    #[error("{step} failed: GitHub's answer is not the JSON expected")]
    #[diagnostic(code(clawops::github::decode_response))]
    DecodeResponse {
        /// The request.
        step: Step,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A `Link` header pointed away from the API (the token is not sent elsewhere).
    #[error("the next page of comments is not on the GitHub API: {url}")]
    #[diagnostic(code(clawops::github::foreign_page))]
    ForeignPage {
        /// The address given.
        url: String,
    },
    /// The comments go on for more pages than are read.
    #[error("the pull request has more than {pages} pages of comments")]
    #[diagnostic(code(clawops::github::too_many_pages))]
    TooManyPages {
        /// Pages read.
        pages: usize,
    },
}

/// What to check for a failed status.
fn status_help(status: u16) -> &'static str {
    match status {
        401 => "the token was refused: check the `token` input or GITHUB_TOKEN",
        403 | 404 => {
            "check GITHUB_REPOSITORY and the pull request; the token may also lack \
             `pull-requests: write` (set `permissions:` in the workflow), and pull requests \
             from forks get a read-only token"
        }
        422 => "GitHub refused the comment body",
        _ => "GitHub may be having trouble; run the job again",
    }
}

/// What happened to the comment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// A new comment was posted.
    Created,
    /// The existing comment was edited.
    Updated,
}

/// Scrubs `path` in place ([`body::scrub`], with `token`): for what the Action shows on
/// GitHub besides the comment (the job summary, the step log).
pub fn scrub_file(path: &Path, token: &str) -> Result<(), GithubError> {
    let text = std::fs::read_to_string(path).map_err(|source| GithubError::ReadBody {
        path: path.to_owned(),
        source,
    })?;
    let scrubbed = body::scrub(&text, token);
    if scrubbed == text {
        return Ok(());
    }
    std::fs::write(path, scrubbed).map_err(|source| GithubError::WriteScrubbed {
        path: path.to_owned(),
        source,
    })
}

/// Posts `body` as the pull request's plan comment, editing the existing one in place
/// when there is one; returns what was done and the comment.
pub fn upsert_comment(
    settings: &GithubSettings,
    body: &str,
) -> Result<(Action, Comment), GithubError> {
    let prepared = body::prepare(body, settings.token.expose());
    let client = GithubClient::new(settings)?;
    match client.find_comment(MARKDOWN_MARKER)? {
        Some(existing) => {
            tracing::info!(id = existing.id, "updating the plan comment");
            let updated = client.update_comment(existing.id, &prepared)?;
            Ok((Action::Updated, updated))
        }
        None => {
            tracing::info!("creating the plan comment");
            Ok((Action::Created, client.create_comment(&prepared)?))
        }
    }
}
