//! `clawops github comment`: post the plan (or any markdown) as the pull request's one
//! plan comment, from inside a GitHub Actions job; `clawops github scrub`: the comment's
//! scrubbing, in place, for the other files the Action shows on GitHub.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::Context;
use crate::github::{self, Action, GithubError, GithubSettings};

/// Reads the settings from the environment and the body from `body_file`, then creates or
/// updates the comment; prints `created comment <url>` or `updated comment <url>`.
pub fn comment(context: &Context, body_file: &Path) -> ExitCode {
    match settings_and_body(body_file)
        .and_then(|(settings, body)| github::upsert_comment(&settings, &body))
    {
        Ok((action, comment)) => {
            let verb = match action {
                Action::Created => "created",
                Action::Updated => "updated",
            };
            context
                .printer
                .out(&format!("{verb} comment {}", comment.html_url));
            ExitCode::SUCCESS
        }
        Err(error) => {
            context.printer.error(&error);
            ExitCode::FAILURE
        }
    }
}

/// Scrubs each file in place with the token of GITHUB_TOKEN, when set; prints nothing
/// unless a file cannot be scrubbed.
pub fn scrub(context: &Context, files: &[PathBuf]) -> ExitCode {
    let token = std::env::var("GITHUB_TOKEN").unwrap_or_default();
    let mut status = ExitCode::SUCCESS;
    for file in files {
        if let Err(error) = github::scrub_file(file, token.trim()) {
            context.printer.error(&error);
            status = ExitCode::FAILURE;
        }
    }
    status
}

/// The settings, then the body (so a missing variable is reported before a missing file).
fn settings_and_body(body_file: &Path) -> Result<(GithubSettings, String), GithubError> {
    let settings = GithubSettings::from_environment()?;
    let body = std::fs::read_to_string(body_file).map_err(|source| GithubError::ReadBody {
        path: body_file.to_owned(),
        source,
    })?;
    Ok((settings, body))
}
