//! The few REST calls the comment needs: list a pull request's comments (every page),
//! learn whose token it is, create one, edit one. Blocking: the command makes at most a
//! handful of requests.

use std::time::Duration;

use reqwest::blocking::{Client, Response};
use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, LINK, USER_AGENT,
};
use serde::Deserialize;

use super::settings::{GithubSettings, Token};
use super::{GithubError, Step};

/// The REST API version the requests ask for.
const API_VERSION: &str = "2022-11-28";

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The most comment pages read (100 comments each) before giving up on finding ours.
const MOST_PAGES: usize = 100;

/// The longest error message from GitHub shown.
const MESSAGE_LIMIT: usize = 300;

/// Who writes comments with a GitHub Actions `GITHUB_TOKEN` (an app installation token,
/// for which `GET /user` answers 403).
pub const ACTIONS_BOT: &str = "github-actions[bot]";

/// A comment's author as the API reports it.
#[derive(Clone, Debug, Deserialize)]
pub struct Author {
    /// The login (`octocat`, `github-actions[bot]`).
    pub login: String,
}

/// A comment as the API returns it (only what is needed).
#[derive(Clone, Debug, Deserialize)]
pub struct Comment {
    /// The comment's id.
    pub id: u64,
    /// Its text (absent when the API leaves it out).
    #[serde(default)]
    pub body: Option<String>,
    /// Its address on the web.
    #[serde(default)]
    pub html_url: String,
    /// Who wrote it (absent for a deleted account).
    #[serde(default)]
    pub user: Option<Author>,
}

impl Comment {
    /// Whether `login` wrote the comment (logins compare without regard to case, as
    /// GitHub's do).
    pub fn written_by(&self, login: &str) -> bool {
        self.user
            .as_ref()
            .is_some_and(|author| author.login.eq_ignore_ascii_case(login))
    }
}

/// The headers every REST call carries: the token (marked sensitive, so no log shows it),
/// the media type, the API version and the user agent. The comment's client and the
/// commit statuses of [`crate::notify`] both send these.
pub fn api_headers(token: &Token) -> Result<HeaderMap, GithubError> {
    let mut headers = HeaderMap::new();
    let mut authorization = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
        .map_err(|_| GithubError::InvalidToken)?;
    authorization.set_sensitive(true);
    headers.insert(AUTHORIZATION, authorization);
    headers.insert(
        ACCEPT,
        HeaderValue::from_static("application/vnd.github+json"),
    );
    headers.insert(
        "X-GitHub-Api-Version",
        HeaderValue::from_static(API_VERSION),
    );
    headers.insert(
        USER_AGENT,
        HeaderValue::from_static(concat!("clawops/", env!("CARGO_PKG_VERSION"))),
    );
    Ok(headers)
}

/// An authenticated client for one repository's pull request.
pub struct GithubClient<'a> {
    http: Client,
    settings: &'a GithubSettings,
}

impl<'a> GithubClient<'a> {
    /// A client carrying the token and the API headers on every request.
    pub fn new(settings: &'a GithubSettings) -> Result<Self, GithubError> {
        let headers = api_headers(&settings.token)?;
        let http = Client::builder()
            .default_headers(headers)
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|source| GithubError::StartClient { source })?;
        Ok(Self { http, settings })
    }

    /// `…/repos/{owner}/{repo}` followed by `rest`.
    fn repository_url(&self, rest: &str) -> String {
        format!(
            "{}/repos/{}/{}/{rest}",
            self.settings.api_url, self.settings.owner, self.settings.repository
        )
    }

    /// The login the token comments as: `GET /user` when it answers, else (403, as it
    /// answers an app installation token such as GitHub Actions' `GITHUB_TOKEN`)
    /// [`ACTIONS_BOT`]. Any other failure is an error: editing someone else's comment is
    /// worse than not commenting.
    pub fn own_login(&self) -> Result<String, GithubError> {
        #[derive(Deserialize)]
        struct User {
            login: String,
        }
        let url = format!("{}/user", self.settings.api_url);
        match self.send(Step::Identify, self.http.get(url)) {
            Ok(response) => Ok(decode::<User>(Step::Identify, response)?.login),
            Err(GithubError::Status { status: 403, .. }) => Ok(ACTIONS_BOT.to_owned()),
            Err(error) => Err(error),
        }
    }

    /// The first comment (oldest first) whose body begins with `marker` and whose author
    /// is the token's own identity ([`Self::own_login`], asked once, and only when a
    /// comment with the marker turns up), reading every page the `Link` header points to.
    pub fn find_comment(&self, marker: &str) -> Result<Option<Comment>, GithubError> {
        let mut url = Some(self.repository_url(&format!(
            "issues/{}/comments?per_page=100",
            self.settings.pull_request
        )));
        let mut own: Option<String> = None;
        let mut pages = 0;
        while let Some(page_url) = url.take() {
            pages += 1;
            if pages > MOST_PAGES {
                return Err(GithubError::TooManyPages { pages: MOST_PAGES });
            }
            let response = self.send(Step::ListComments, self.http.get(&page_url))?;
            let next = next_page(response.headers());
            let comments: Vec<Comment> = decode(Step::ListComments, response)?;
            for comment in comments {
                let marked = comment
                    .body
                    .as_deref()
                    .is_some_and(|body| body.trim_start().starts_with(marker));
                if !marked {
                    continue;
                }
                let login = match own.take() {
                    Some(login) => login,
                    None => self.own_login()?,
                };
                if comment.written_by(&login) {
                    return Ok(Some(comment));
                }
                own = Some(login);
                tracing::info!(
                    id = comment.id,
                    "a comment with the marker by someone else is left alone"
                );
            }
            url = next.map(|next| self.same_origin(next)).transpose()?;
        }
        Ok(None)
    }

    /// Creates a comment on the pull request.
    pub fn create_comment(&self, body: &str) -> Result<Comment, GithubError> {
        let url = self.repository_url(&format!("issues/{}/comments", self.settings.pull_request));
        let request = with_body(self.http.post(url), body);
        decode(
            Step::CreateComment,
            self.send(Step::CreateComment, request)?,
        )
    }

    /// Replaces the body of comment `id`.
    pub fn update_comment(&self, id: u64, body: &str) -> Result<Comment, GithubError> {
        let url = self.repository_url(&format!("issues/comments/{id}"));
        let request = with_body(self.http.patch(url), body);
        let step = Step::UpdateComment { id };
        decode(step, self.send(step, request)?)
    }

    /// Sends a request; a status other than 2xx is an error carrying GitHub's message.
    fn send(
        &self,
        step: Step,
        request: reqwest::blocking::RequestBuilder,
    ) -> Result<Response, GithubError> {
        let response = request
            .send()
            .map_err(|source| GithubError::Request { step, source })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let mut message = error_message(response, self.settings.token.expose());
        if message.is_empty() {
            message = status.canonical_reason().unwrap_or("no message").to_owned();
        }
        Err(GithubError::Status {
            step,
            status: status.as_u16(),
            message,
        })
    }

    /// A next-page address, refused unless it is on the API's own origin (the token goes
    /// with every request).
    fn same_origin(&self, next: String) -> Result<String, GithubError> {
        let origin_of = |url: &str| {
            reqwest::Url::parse(url)
                .ok()
                .map(|parsed| parsed.origin().ascii_serialization())
        };
        match (origin_of(&next), origin_of(&self.settings.api_url)) {
            (Some(next_origin), Some(api_origin)) if next_origin == api_origin => Ok(next),
            _ => Err(GithubError::ForeignPage { url: next }),
        }
    }
}

/// The request with `{"body": body}` as its JSON payload.
fn with_body(
    request: reqwest::blocking::RequestBuilder,
    body: &str,
) -> reqwest::blocking::RequestBuilder {
    request
        .header(CONTENT_TYPE, "application/json")
        .body(serde_json::json!({ "body": body }).to_string())
}

/// Reads a JSON response of the step.
fn decode<T: serde::de::DeserializeOwned>(
    step: Step,
    response: Response,
) -> Result<T, GithubError> {
    let text = response
        .text()
        .map_err(|source| GithubError::Request { step, source })?;
    serde_json::from_str(&text).map_err(|source| GithubError::DecodeResponse { step, source })
}

/// The `rel="next"` address of a `Link` header, if any.
pub fn next_page(headers: &HeaderMap) -> Option<String> {
    let link = headers.get(LINK)?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (address, parameters) = part.split_once(';')?;
        let is_next = parameters
            .split(';')
            .any(|parameter| parameter.trim().replace(' ', "") == "rel=\"next\"");
        let address = address.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| address.to_owned())
    })
}

/// GitHub's `message` from an error response (or the start of the body), without the
/// token and cut to a readable length.
fn error_message(response: Response, token: &str) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        message: Option<String>,
    }
    let text = response.text().unwrap_or_default();
    let message = serde_json::from_str::<ErrorBody>(&text)
        .ok()
        .and_then(|body| body.message)
        .unwrap_or(text);
    let scrubbed = super::body::scrub(message.trim(), token);
    let mut shown: String = scrubbed.chars().take(MESSAGE_LIMIT).collect();
    if scrubbed.chars().count() > MESSAGE_LIMIT {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_page_comes_from_the_link_header() {
        let mut headers = HeaderMap::new();
        headers.insert(
            LINK,
            HeaderValue::from_static(
                "<https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=2>; rel=\"next\", \
                 <https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=5>; rel=\"last\"",
            ),
        );
        assert_eq!(
            next_page(&headers).as_deref(),
            Some("https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=2")
        );
        headers.insert(
            LINK,
            HeaderValue::from_static("<https://api.github.com/x?page=1>; rel=\"prev\""),
        );
        assert_eq!(next_page(&headers), None);
    }
}
