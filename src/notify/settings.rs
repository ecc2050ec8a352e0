//! The sinks `[notify]` asks for, made with what the environment provides: the GitHub
//! token, API address and repository, and the webhook addresses kept out of git
//! (`url_env`). What cannot be made is logged once and left out; it never stops a
//! command.

use std::sync::Arc;

use reqwest::Url;

use super::sink::{CommitStatus, Sink, Webhook};
use crate::github::settings::{DEFAULT_API_URL, Token, split_repository};
use crate::spec::notify::{NotifyConfig, WebhookConfig, is_http_address};

/// An environment variable's value by name.
pub type Lookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What the process environment (and the followed remote) tell the notifier.
#[derive(Clone)]
pub struct NotifyEnvironment {
    lookup: Lookup,
    /// The remote the commits come from, when there is one (its GitHub repository is the
    /// one whose commits get statuses, unless `GITHUB_REPOSITORY` says otherwise).
    remote: Option<String>,
}

impl std::fmt::Debug for NotifyEnvironment {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("NotifyEnvironment")
            .field("remote", &self.remote.as_ref().map(|_| "…"))
            .finish_non_exhaustive()
    }
}

impl NotifyEnvironment {
    /// The process environment; `remote` as given on the command line.
    pub fn from_process(remote: Option<&str>) -> Self {
        Self::from_lookup(Arc::new(|name| std::env::var(name).ok()), remote)
    }

    /// Variables through `lookup`.
    pub fn from_lookup(lookup: Lookup, remote: Option<&str>) -> Self {
        Self {
            lookup,
            remote: remote.map(str::to_owned),
        }
    }

    /// A variable's value, `None` when unset or blank.
    fn variable(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    }

    /// `owner/name`: `GITHUB_REPOSITORY`, else the remote's when it is on github.com.
    fn repository(&self) -> Option<String> {
        let named = self
            .variable("GITHUB_REPOSITORY")
            .or_else(|| self.remote.as_deref().and_then(github_repository))?;
        split_repository(&named)
            .ok()
            .map(|(owner, name)| format!("{owner}/{name}"))
    }
}

/// The sinks, and the token to scrub from every body.
#[derive(Debug, Default)]
pub struct Sinks {
    /// Where events go.
    pub sinks: Vec<Sink>,
    /// `GITHUB_TOKEN`, when set: never in a body.
    pub hidden: Option<Token>,
}

/// The sinks `config` asks for that the environment allows; each left out is logged.
pub fn sinks(config: &NotifyConfig, environment: &NotifyEnvironment) -> Sinks {
    let token = environment.variable("GITHUB_TOKEN").map(Token::new);
    let mut sinks = Vec::new();
    if config.github_status
        && let Some(status) = commit_status(environment, token.clone())
    {
        sinks.push(Sink::CommitStatus(status));
    }
    for (index, webhook) in config.webhook.iter().enumerate() {
        if let Some(webhook) = make_webhook(index + 1, webhook, environment) {
            sinks.push(Sink::Webhook(webhook));
        }
    }
    Sinks {
        sinks,
        hidden: token,
    }
}

/// The commit-status sink, or why there is none (logged).
fn commit_status(environment: &NotifyEnvironment, token: Option<Token>) -> Option<CommitStatus> {
    let Some(token) = token else {
        tracing::warn!(
            "[notify] github_status is on, but GITHUB_TOKEN is not set: no commit statuses"
        );
        return None;
    };
    let Some(repository) = environment.repository() else {
        tracing::warn!(
            "[notify] github_status is on, but the GitHub repository is unknown: follow a github.com remote or set GITHUB_REPOSITORY=owner/name"
        );
        return None;
    };
    let api_url = environment
        .variable("GITHUB_API_URL")
        .unwrap_or_else(|| DEFAULT_API_URL.to_owned())
        .trim_end_matches('/')
        .to_owned();
    let Ok(headers) = crate::github::client::api_headers(&token) else {
        tracing::warn!(
            "[notify] GITHUB_TOKEN holds characters that cannot be sent in a header: no commit statuses"
        );
        return None;
    };
    Some(CommitStatus {
        api_url,
        repository,
        headers,
    })
}

/// A webhook, or why it is left out (logged without its address).
fn make_webhook(
    number: usize,
    config: &WebhookConfig,
    environment: &NotifyEnvironment,
) -> Option<Webhook> {
    let (address, written_as) = match (&config.url, &config.url_env) {
        (Some(url), _) => (Some(url.trim().to_owned()), "url".to_owned()),
        (None, Some(name)) => (environment.variable(name), format!("${name}")),
        (None, None) => (None, "nothing".to_owned()),
    };
    let Some(address) = address else {
        tracing::warn!(
            webhook = number,
            "[notify] webhook {number}: {written_as} is not set; this webhook is left out"
        );
        return None;
    };
    let url = Url::parse(&address)
        .ok()
        .filter(|_| is_http_address(&address))
        .filter(|url| url.host_str().is_some());
    let Some(url) = url else {
        tracing::warn!(
            webhook = number,
            "[notify] webhook {number}: {written_as} does not hold an http(s) address; this webhook is left out"
        );
        return None;
    };
    let host = url.host_str().unwrap_or("?").to_owned();
    Some(Webhook {
        label: format!("webhook {number} ({host})"),
        url,
        format: config.format,
        events: config.events.clone(),
    })
}

/// `owner/name` of a github.com remote (`https://github.com/o/n.git`,
/// `git@github.com:o/n`, `ssh://git@github.com/o/n`); `None` for any other.
pub fn github_repository(remote: &str) -> Option<String> {
    let remote = remote.trim();
    let after_scheme = remote.split_once("://").map_or(remote, |(_, rest)| rest);
    let after_user = after_scheme
        .split_once('@')
        .filter(|(user, _)| !user.contains('/'))
        .map_or(after_scheme, |(_, rest)| rest);
    let path = after_user
        .strip_prefix("github.com/")
        .or_else(|| after_user.strip_prefix("github.com:"))?;
    let path = path.trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let (owner, name) = path.split_once('/')?;
    split_repository(&format!("{owner}/{name}"))
        .ok()
        .map(|(owner, name)| format!("{owner}/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::notify::{EventKind, WebhookFormat};

    fn environment(pairs: &[(&str, &str)], remote: Option<&str>) -> NotifyEnvironment {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        NotifyEnvironment::from_lookup(
            Arc::new(move |name| {
                pairs
                    .iter()
                    .find(|(key, _)| key == name)
                    .map(|(_, value)| value.clone())
            }),
            remote,
        )
    }

    fn webhook(url: Option<&str>, url_env: Option<&str>) -> WebhookConfig {
        WebhookConfig {
            url: url.map(str::to_owned),
            url_env: url_env.map(str::to_owned),
            format: WebhookFormat::Json,
            events: EventKind::ALL.to_vec(),
        }
    }

    #[test]
    fn github_remotes_name_their_repository() {
        for remote in [
            "https://github.com/acme/fleet.git",
            "https://x-access-token:abc@github.com/acme/fleet",
            "git@github.com:acme/fleet.git",
            "ssh://git@github.com/acme/fleet/",
        ] {
            assert_eq!(
                github_repository(remote).as_deref(),
                Some("acme/fleet"),
                "{remote}"
            );
        }
        for remote in [
            "https://gitlab.com/acme/fleet.git",
            "file:///srv/git/fleet",
            "https://github.com/acme",
            "https://github.com.evil.example/acme/fleet",
        ] {
            assert_eq!(github_repository(remote), None, "{remote}");
        }
    }

    #[test]
    fn commit_statuses_need_a_token_and_a_repository() {
        let config = NotifyConfig {
            github_status: true,
            webhook: Vec::new(),
        };
        let remote = Some("https://github.com/acme/fleet.git");
        assert!(sinks(&config, &environment(&[], remote)).sinks.is_empty());
        let token = [("GITHUB_TOKEN", "ghs_secret")];
        assert!(
            sinks(&config, &environment(&token, Some("file:///x")))
                .sinks
                .is_empty()
        );
        let made = sinks(&config, &environment(&token, remote));
        let [Sink::CommitStatus(status)] = made.sinks.as_slice() else {
            panic!("one commit-status sink: {:?}", made.sinks);
        };
        assert_eq!(status.repository, "acme/fleet");
        assert_eq!(status.api_url, DEFAULT_API_URL);
        assert_eq!(
            made.hidden
                .map(|token| token.expose().to_owned())
                .as_deref(),
            Some("ghs_secret")
        );
        let named = environment(
            &[
                ("GITHUB_TOKEN", "t0k3n"),
                ("GITHUB_REPOSITORY", "other/repo"),
                ("GITHUB_API_URL", "http://127.0.0.1:1/api/"),
            ],
            remote,
        );
        let made = sinks(&config, &named);
        let [Sink::CommitStatus(status)] = made.sinks.as_slice() else {
            panic!("one commit-status sink");
        };
        assert_eq!(status.repository, "other/repo");
        assert_eq!(status.api_url, "http://127.0.0.1:1/api");
    }

    #[test]
    fn webhooks_take_their_address_from_git_or_the_environment() {
        let config = NotifyConfig {
            github_status: false,
            webhook: vec![
                webhook(Some("https://hooks.example.com/services/T/B/secret"), None),
                webhook(None, Some("HOOK_URL")),
                webhook(None, Some("UNSET_HOOK")),
                webhook(None, Some("NOT_A_URL")),
            ],
        };
        let environment = environment(
            &[
                ("HOOK_URL", "http://127.0.0.1:9/hook"),
                ("NOT_A_URL", "ghp_notanaddress"),
            ],
            None,
        );
        let made = sinks(&config, &environment);
        let labels: Vec<String> = made.sinks.iter().map(Sink::label).collect();
        assert_eq!(
            labels,
            ["webhook 1 (hooks.example.com)", "webhook 2 (127.0.0.1)"]
        );
        assert!(made.hidden.is_none());
    }
}
