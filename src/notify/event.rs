//! What a notification says: the event (sent as JSON to `json` webhooks), one line of
//! text for `slack` webhooks, and the short description of a commit status.
//!
//! Events carry summaries, step failures and agent names: never an environment value,
//! a webhook address or a token (bodies are scrubbed of the GitHub token besides).

use serde::Serialize;

use crate::spec::notify::EventKind;

/// Which command did it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// `clawops apply`.
    Apply,
    /// `clawops watch`.
    Watch,
}

/// An agent that differs from the last good commit, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DriftNote {
    /// The agent (`worker/alice`).
    pub agent: String,
    /// What a plan would do to it, and why.
    pub cause: String,
}

/// One event, as a `json` webhook receives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Event {
    /// What happened.
    pub event: EventKind,
    /// The fleet (`[fleet] name`).
    pub fleet: String,
    /// The commit applied (or quarantined, or drifted from); `null` for a plain folder.
    pub commit: Option<String>,
    /// The plan's summary line, or what the event amounts to.
    pub summary: String,
    /// Why a rollout failed or a commit was quarantined.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The drifted agents.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<DriftNote>,
    /// `apply` or `watch`.
    pub origin: Origin,
    /// When, as RFC 3339 in UTC.
    pub time: String,
    /// Only for commit statuses, not webhooks: a commit applied with nothing to change
    /// gets its green status, and nobody's chat hears of it.
    #[serde(skip)]
    pub statuses_only: bool,
}

impl Event {
    /// An event happening now.
    pub fn new(
        event: EventKind,
        origin: Origin,
        fleet: &str,
        commit: Option<&str>,
        summary: String,
    ) -> Self {
        Self {
            event,
            fleet: fleet.to_owned(),
            commit: commit.map(str::to_owned),
            summary,
            reason: None,
            drift: Vec::new(),
            origin,
            statuses_only: false,
            time: jiff::Timestamp::now()
                .round(jiff::Unit::Second)
                .unwrap_or_else(|_| jiff::Timestamp::now())
                .to_string(),
        }
    }

    /// With why it failed.
    pub fn with_reason(mut self, reason: String) -> Self {
        self.reason = Some(reason);
        self
    }

    /// For commit statuses only.
    pub fn statuses_only(mut self) -> Self {
        self.statuses_only = true;
        self
    }

    /// With the drifted agents.
    pub fn with_drift(mut self, drift: Vec<DriftNote>) -> Self {
        self.drift = drift;
        self
    }

    /// The commit's first 12 characters, or `the working tree`.
    fn short_commit(&self) -> &str {
        match &self.commit {
            Some(commit) => commit.get(..12).unwrap_or(commit),
            None => "the working tree",
        }
    }

    /// What happened, in a few words: `apply of 1a2b3c4d5e6f succeeded`.
    fn headline(&self) -> String {
        let commit = self.short_commit();
        match self.event {
            EventKind::ApplyStarted => format!("applying {commit}"),
            EventKind::ApplySucceeded => format!("applied {commit}"),
            EventKind::ApplyFailed => format!("apply of {commit} failed"),
            EventKind::RolledBack => format!("apply of {commit} failed and was rolled back"),
            EventKind::Quarantined => format!("quarantined {commit}"),
            EventKind::Drift => format!("drift from {commit}"),
        }
    }

    /// One line for people: the fleet, what happened, the summary, and why.
    pub fn text(&self) -> String {
        let mut line = format!(
            "clawops fleet `{}`: {}. {}",
            self.fleet,
            self.headline(),
            self.summary
        );
        if let Some(reason) = &self.reason {
            line.push_str(&format!(" Reason: {reason}"));
        }
        for note in self.drift.iter().take(10) {
            line.push_str(&format!("\n- {}: {}", note.agent, note.cause));
        }
        if self.drift.len() > 10 {
            line.push_str(&format!("\n- and {} more", self.drift.len() - 10));
        }
        line
    }

    /// A commit status's description: the summary, or the reason of a failure, within
    /// GitHub's 140 characters.
    pub fn status_description(&self) -> String {
        let text = match (&self.reason, self.event) {
            (Some(reason), _) => format!("{}: {reason}", self.headline()),
            (None, EventKind::ApplyStarted) => format!("Applying. {}", self.summary),
            (None, _) => self.summary.clone(),
        };
        shorten(&text, 140)
    }
}

/// `text` cut to `limit` characters, an ellipsis marking the cut.
fn shorten(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(limit - 1).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: EventKind) -> Event {
        Event::new(
            kind,
            Origin::Watch,
            "demo",
            Some("0123456789abcdef0123456789abcdef01234567"),
            "Plan: 1 to create, 0 to recreate, 0 to update in place, 0 to delete (2 unchanged)."
                .to_owned(),
        )
    }

    #[test]
    fn the_json_event_has_the_promised_fields() {
        let value = serde_json::to_value(event(EventKind::ApplySucceeded)).unwrap();
        assert_eq!(value["event"], "apply_succeeded");
        assert_eq!(value["fleet"], "demo");
        assert_eq!(value["commit"], "0123456789abcdef0123456789abcdef01234567");
        assert_eq!(value["origin"], "watch");
        assert!(
            value["summary"]
                .as_str()
                .unwrap()
                .starts_with("Plan: 1 to create")
        );
        let time = value["time"].as_str().unwrap();
        assert!(time.parse::<jiff::Timestamp>().is_ok(), "{time}");
        assert!(time.ends_with('Z'), "{time}");
        assert!(value.get("reason").is_none() && value.get("drift").is_none());
    }

    #[test]
    fn text_names_the_fleet_commit_and_reason() {
        let failed = event(EventKind::RolledBack).with_reason("wait healthy: timed out".into());
        assert_eq!(
            failed.text(),
            "clawops fleet `demo`: apply of 0123456789ab failed and was rolled back. Plan: 1 to create, 0 to recreate, 0 to update in place, 0 to delete (2 unchanged). Reason: wait healthy: timed out"
        );
        let drift = event(EventKind::Drift).with_drift(
            (0..12)
                .map(|index| DriftNote {
                    agent: format!("worker/w{index}"),
                    cause: "recreate: container missing".into(),
                })
                .collect(),
        );
        let text = drift.text();
        assert!(text.contains("\n- worker/w0: recreate: container missing"));
        assert!(text.ends_with("\n- and 2 more"), "{text}");
    }

    #[test]
    fn status_descriptions_fit_in_140_characters() {
        let long = event(EventKind::ApplyFailed).with_reason("x".repeat(500));
        let description = long.status_description();
        assert_eq!(description.chars().count(), 140);
        assert!(description.starts_with("apply of 0123456789ab failed: xxx"));
        assert!(description.ends_with('…'));
        assert!(
            event(EventKind::ApplyStarted)
                .status_description()
                .starts_with("Applying. Plan: 1 to create")
        );
    }
}
