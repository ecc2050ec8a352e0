//! `[notify]` of `clawops.toml`: who hears what `apply` and `watch` did. GitHub commit
//! statuses on the applied commit, and webhooks (a generic JSON event, or a
//! Slack-compatible `text` body) for the events each one names.
//!
//! A webhook's address may be written here (`url`) or kept out of git (`url_env`, the
//! name of an environment variable that holds it); the credentials that reach GitHub
//! (`GITHUB_TOKEN`) always come from the environment.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `[notify]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// Set a commit status on the applied commit (pending, then success or failure, with
    /// the plan's summary). Needs `GITHUB_TOKEN` in the environment and a GitHub remote
    /// (or `GITHUB_REPOSITORY`).
    pub github_status: bool,
    /// Webhooks, each with the events it hears.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub webhook: Vec<WebhookConfig>,
}

/// What happened, as a webhook subscribes to it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A plan with changes was confirmed and its rollout begins.
    ApplyStarted,
    /// Every step of the rollout succeeded.
    ApplySucceeded,
    /// The rollout stopped on a failed step (or could not finish).
    ApplyFailed,
    /// A step failed and its agent was rolled back to what it ran before.
    RolledBack,
    /// The daemon will not apply a commit again (invalid, refused, or its rollout failed)
    /// until a newer one arrives.
    Quarantined,
    /// The daemon found agents that differ from the last good commit.
    Drift,
}

impl EventKind {
    /// Every kind, in the order of a rollout.
    pub const ALL: [EventKind; 6] = [
        EventKind::ApplyStarted,
        EventKind::ApplySucceeded,
        EventKind::ApplyFailed,
        EventKind::RolledBack,
        EventKind::Quarantined,
        EventKind::Drift,
    ];

    /// The name as written in `events` and sent in the `event` field.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::ApplyStarted => "apply_started",
            EventKind::ApplySucceeded => "apply_succeeded",
            EventKind::ApplyFailed => "apply_failed",
            EventKind::RolledBack => "rolled_back",
            EventKind::Quarantined => "quarantined",
            EventKind::Drift => "drift",
        }
    }
}

/// The body a webhook gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// The event as JSON: `event`, `fleet`, `commit`, `summary`, `time`, and `reason` or
    /// `drift` where they apply.
    #[default]
    Json,
    /// `{"text": "..."}`: one readable line, as Slack's incoming webhooks (and Mattermost,
    /// Rocket.Chat, Discord's `/slack` endpoint) take it.
    Slack,
}

/// `[[notify.webhook]]`: exactly one of `url` and `url_env`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, try_from = "WebhookFields")]
pub struct WebhookConfig {
    /// The address to POST to (`http://` or `https://`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The environment variable that holds the address, to keep it out of git.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url_env: Option<String>,
    /// `json` (default) or `slack`.
    pub format: WebhookFormat,
    /// The events sent; default all of them.
    pub events: Vec<EventKind>,
}

/// A webhook table as written, before its checks (its schema is the webhook's).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "WebhookConfig")]
struct WebhookFields {
    /// The address to POST to (`http://` or `https://`). Exactly one of `url` and
    /// `url_env`.
    url: Option<String>,
    /// The environment variable that holds the address, to keep it out of git.
    url_env: Option<String>,
    /// `json` (default) or `slack`.
    #[serde(default)]
    format: WebhookFormat,
    /// The events sent; default all of them.
    events: Option<Vec<EventKind>>,
}

/// Why a `[[notify.webhook]]` table is refused; toml reports it where the table is.
#[derive(Debug, thiserror::Error)]
pub enum WebhookConfigError {
    /// Neither or both of `url` and `url_env`.
    #[error(
        "a webhook needs exactly one of `url` and `url_env` (url_env = \"NAME\" keeps the address out of git)"
    )]
    OneAddress,
    /// `url` is not an http(s) address.
    #[error("webhook url must start with https:// or http://")]
    Scheme,
    /// `url_env` is not an environment variable name.
    #[error("url_env must name an environment variable (letters, digits and `_`)")]
    VariableName,
    /// `events = []`.
    #[error("events is empty: leave it out to send every event, or name at least one")]
    NoEvents,
}

impl TryFrom<WebhookFields> for WebhookConfig {
    type Error = WebhookConfigError;

    fn try_from(fields: WebhookFields) -> Result<Self, Self::Error> {
        match (&fields.url, &fields.url_env) {
            (Some(url), None) if !is_http_address(url) => return Err(WebhookConfigError::Scheme),
            (None, Some(name)) if !is_variable_name(name) => {
                return Err(WebhookConfigError::VariableName);
            }
            (Some(_), None) | (None, Some(_)) => {}
            _ => return Err(WebhookConfigError::OneAddress),
        }
        let mut events = fields.events.unwrap_or_else(|| EventKind::ALL.to_vec());
        if events.is_empty() {
            return Err(WebhookConfigError::NoEvents);
        }
        events.sort_unstable();
        events.dedup();
        Ok(WebhookConfig {
            url: fields.url,
            url_env: fields.url_env,
            format: fields.format,
            events,
        })
    }
}

/// Whether `text` is an `http://` or `https://` address with a host.
pub fn is_http_address(text: &str) -> bool {
    let lower = text.trim().to_ascii_lowercase();
    ["https://", "http://"].iter().any(|scheme| {
        lower
            .strip_prefix(scheme)
            .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
    })
}

fn is_variable_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|character: char| character.is_ascii_digit())
        && name
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || character == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<NotifyConfig, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn a_webhook_hears_every_event_unless_it_names_some() {
        let config = parse("[[webhook]]\nurl = \"https://hooks.example.com/x\"\n").unwrap();
        assert_eq!(config.webhook[0].events, EventKind::ALL);
        assert_eq!(config.webhook[0].format, WebhookFormat::Json);
        let config = parse(
            "[[webhook]]\nurl_env = \"SLACK_HOOK\"\nformat = \"slack\"\nevents = [\"drift\", \"apply_failed\", \"drift\"]\n",
        )
        .unwrap();
        let webhook = &config.webhook[0];
        assert_eq!(webhook.events, [EventKind::ApplyFailed, EventKind::Drift]);
        assert!(
            webhook.events.contains(&EventKind::Drift)
                && !webhook.events.contains(&EventKind::ApplyStarted)
        );
        assert_eq!(webhook.format, WebhookFormat::Slack);
    }

    #[test]
    fn a_webhook_is_refused_where_it_is_written() {
        for (text, expected) in [
            ("[[webhook]]\nformat = \"json\"\n", "exactly one of"),
            (
                "[[webhook]]\nurl = \"https://a.example\"\nurl_env = \"X\"\n",
                "exactly one of",
            ),
            ("[[webhook]]\nurl = \"ftp://a.example\"\n", "https://"),
            (
                "[[webhook]]\nurl_env = \"NOT-A-NAME\"\n",
                "environment variable",
            ),
            (
                "[[webhook]]\nurl = \"https://a.example\"\nevents = []\n",
                "events is empty",
            ),
            (
                "[[webhook]]\nurl = \"https://a.example\"\nevents = [\"deployed\"]\n",
                "apply_started",
            ),
        ] {
            let error = parse(text).expect_err(text);
            assert!(error.message().contains(expected), "{text}: {error}");
            assert!(error.span().is_some(), "{text}: no position");
        }
    }

    #[test]
    fn addresses_must_be_http() {
        assert!(is_http_address("https://hooks.slack.com/services/T/B/X"));
        assert!(is_http_address("http://127.0.0.1:8080/hook"));
        for bad in [
            "",
            "https://",
            "file:///etc/passwd",
            "hooks.example.com",
            "https:///x",
        ] {
            assert!(!is_http_address(bad), "{bad}");
        }
    }
}
