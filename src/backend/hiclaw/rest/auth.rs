//! The controller's bearer token ([`AuthToken`], from `HICLAW_AUTH_TOKEN` or
//! `HICLAW_AUTH_TOKEN_FILE`) and the controller's address: the token only ever becomes a
//! sensitive `Authorization` header, and an address carrying credentials is refused.

use reqwest::Url;
use reqwest::header::HeaderValue;

use crate::backend::BackendError;
use crate::backend::error::transient_io;

/// The environment variable holding the token.
pub const TOKEN_VARIABLE: &str = "HICLAW_AUTH_TOKEN";
/// The environment variable naming a file that holds the token.
pub const TOKEN_FILE_VARIABLE: &str = "HICLAW_AUTH_TOKEN_FILE";

/// The controller's bearer token. It only ever reaches the `Authorization` header: its
/// `Debug` form hides it and it has no `Display`.
#[derive(Clone)]
pub struct AuthToken(String);

impl AuthToken {
    /// Wraps a token (surrounding whitespace, such as a token file's last newline, is
    /// dropped).
    pub fn new(token: &str) -> Self {
        Self(token.trim().to_owned())
    }

    /// The token from the process environment: `HICLAW_AUTH_TOKEN`, else the contents of
    /// the file `HICLAW_AUTH_TOKEN_FILE` names; `None` when neither is set.
    pub fn from_environment() -> Result<Option<Self>, BackendError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`AuthToken::from_environment`] with the environment read through `lookup`.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, BackendError> {
        let token = match (lookup(TOKEN_VARIABLE), lookup(TOKEN_FILE_VARIABLE)) {
            (Some(token), _) if !token.trim().is_empty() => token,
            (_, Some(file)) if !file.is_empty() => {
                std::fs::read_to_string(&file).map_err(|error| BackendError::Request {
                    operation: "read token file",
                    agent: format!("{file} ({TOKEN_FILE_VARIABLE})"),
                    transient: transient_io(&error),
                    source: Box::new(error),
                })?
            }
            _ => return Ok(None),
        };
        Ok(Some(Self::new(&token)).filter(|token| !token.0.is_empty()))
    }
}

impl AuthToken {
    /// Whether there is no token at all.
    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `text` with the token replaced by `***`.
    pub(super) fn scrub(&self, text: &str) -> String {
        if self.0.is_empty() {
            text.to_owned()
        } else {
            text.replace(&self.0, "***")
        }
    }
}

impl std::fmt::Debug for AuthToken {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("AuthToken(***)")
    }
}

/// The controller's base address; refused when it is not `http(s)://` or carries
/// credentials (which would end up in messages; the token has its own variable).
pub(super) fn parse_base(url: &str) -> Result<Url, BackendError> {
    let invalid = |address: &str, reason: String| BackendError::Connect {
        address: address.to_owned(),
        source: reason.into(),
    };
    let mut base = Url::parse(url).map_err(|error| invalid(url, format!("not a URL: {error}")))?;
    if !matches!(base.scheme(), "http" | "https") {
        return Err(invalid(url, "not an http:// or https:// URL".to_owned()));
    }
    if !base.username().is_empty() || base.password().is_some() {
        let _ = base.set_username("");
        let _ = base.set_password(None);
        return Err(invalid(
            base.as_str(),
            format!(
                "the URL carries credentials: give the token in {TOKEN_VARIABLE} or {TOKEN_FILE_VARIABLE} instead"
            ),
        ));
    }
    base.set_query(None);
    base.set_fragment(None);
    Ok(base)
}

/// `Bearer <token>` as a sensitive header value.
pub(super) fn bearer(url: &str, token: &AuthToken) -> Result<HeaderValue, BackendError> {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.0)).map_err(|_| {
        BackendError::Connect {
            address: url.to_owned(),
            source: format!(
                "the token ({TOKEN_VARIABLE} / {TOKEN_FILE_VARIABLE}) is not a valid HTTP header value"
            )
            .into(),
        }
    })?;
    value.set_sensitive(true);
    Ok(value)
}
