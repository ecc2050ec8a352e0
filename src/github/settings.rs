//! What `clawops github comment` learns from the environment GitHub Actions sets up: the
//! API address, the repository, the pull request (from the event payload) and the token.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::GithubError;

/// The API address used when `GITHUB_API_URL` is not set.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// A GitHub token. It is only ever handed to the `Authorization` header: its `Debug`
/// form hides it, and it has no `Display`.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// Wraps a token.
    pub fn new(token: String) -> Self {
        Self(token)
    }

    /// The token itself, for the request header and for scrubbing text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Token(***)")
    }
}

/// Where the comment goes and how to reach the API.
#[derive(Clone, Debug)]
pub struct GithubSettings {
    /// The REST API's base address, without a trailing slash.
    pub api_url: String,
    /// The repository's owner.
    pub owner: String,
    /// The repository's name.
    pub repository: String,
    /// The pull request's number.
    pub pull_request: u64,
    /// The token the requests carry.
    pub token: Token,
}

impl GithubSettings {
    /// Reads the settings from the process environment.
    pub fn from_environment() -> Result<Self, GithubError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (an environment variable's value by name).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, GithubError> {
        let required = |name: &'static str| {
            lookup(name)
                .filter(|value| !value.trim().is_empty())
                .ok_or(GithubError::MissingVariable { name })
        };
        let token = Token::new(required("GITHUB_TOKEN")?.trim().to_owned());
        let full_name = required("GITHUB_REPOSITORY")?;
        let (owner, repository) = split_repository(&full_name)?;
        let event_path = PathBuf::from(required("GITHUB_EVENT_PATH")?);
        let pull_request = pull_request_number(&event_path)?;
        let api_url = lookup("GITHUB_API_URL")
            .filter(|value| !value.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_API_URL.to_owned())
            .trim()
            .trim_end_matches('/')
            .to_owned();
        Ok(Self {
            api_url,
            owner,
            repository,
            pull_request,
            token,
        })
    }
}

/// `owner/name` → (`owner`, `name`).
pub(crate) fn split_repository(full_name: &str) -> Result<(String, String), GithubError> {
    let full_name = full_name.trim();
    let valid_part = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|character| character.is_ascii_alphanumeric() || "-_.".contains(character))
    };
    match full_name.split_once('/') {
        Some((owner, name)) if valid_part(owner) && valid_part(name) => {
            Ok((owner.to_owned(), name.to_owned()))
        }
        _ => Err(GithubError::InvalidRepository {
            value: full_name.to_owned(),
        }),
    }
}

/// The parts of an event payload that name a pull request.
#[derive(Deserialize)]
struct EventPayload {
    pull_request: Option<PullRequestPayload>,
    number: Option<u64>,
}

#[derive(Deserialize)]
struct PullRequestPayload {
    number: Option<u64>,
}

/// The pull request's number: `.pull_request.number`, else `.number` (both are set on
/// `pull_request` events; other events have neither).
pub fn pull_request_number(path: &Path) -> Result<u64, GithubError> {
    let text = std::fs::read_to_string(path).map_err(|source| GithubError::ReadEvent {
        path: path.to_owned(),
        source,
    })?;
    let payload: EventPayload =
        serde_json::from_str(&text).map_err(|source| GithubError::ParseEvent {
            path: path.to_owned(),
            source,
        })?;
    let from_pull_request = payload.pull_request.and_then(|pull| pull.number);
    from_pull_request
        .or(payload.number)
        .ok_or_else(|| GithubError::NotPullRequest {
            path: path.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repository_is_owner_slash_name() {
        assert_eq!(
            split_repository("acme/fleet").expect("valid"),
            ("acme".to_owned(), "fleet".to_owned())
        );
        for invalid in ["acme", "/fleet", "acme/", "acme/fleet/extra", "a b/c"] {
            assert!(split_repository(invalid).is_err(), "{invalid} accepted");
        }
    }

    #[test]
    fn the_token_is_hidden_from_debug() {
        let token = Token::new("ghp_do_not_print".to_owned());
        assert_eq!(format!("{token:?}"), "Token(***)");
    }
}
