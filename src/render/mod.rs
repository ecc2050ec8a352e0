//! Rendering a [`Plan`]: pure functions from the plan to the text a person reads on a
//! terminal, the markdown of a pull-request comment, or the versioned JSON document.
//!
//! The plan is the only input; nothing is recomputed from the desired or observed state.
//! Every format goes through [`redact`] first, so a value of a secret-looking env key, or
//! a value that carries a credential (a URL with user information or a credential query
//! parameter, [`has_credentials`]), never reaches the output even if a plan records one.

mod json;
mod markdown;
mod outline;
mod text;

#[cfg(test)]
mod tests;

pub use json::json;
pub use markdown::{MARKDOWN_BUDGET, MARKDOWN_MARKER, markdown};
pub use text::text;

use std::borrow::Cow;

use crate::desired::{has_credentials, is_sensitive_key};
use crate::observe::ObservedSource;
use crate::plan::{Cause, MassDeletion, Plan, Summary};

use outline::printable;

/// The output formats of a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Readable text, grouped, with markers and diffs (the default).
    Text,
    /// Markdown for a pull-request comment, below GitHub's size limit.
    Markdown,
    /// The plan as a versioned JSON document.
    Json,
}

/// Renders the plan in a format; `colour` applies to text only.
pub fn render(plan: &Plan, format: Format, colour: bool) -> String {
    match format {
        Format::Text => text(plan, colour),
        Format::Markdown => markdown(plan),
        Format::Json => json(plan),
    }
}

/// The plan with every field change of a secret-looking env key (`env.<KEY>` where
/// [`is_sensitive_key`] holds), and every field change whose value before or after carries
/// a credential ([`has_credentials`], whatever the field), recorded as
/// [`Cause::SensitiveChanged`], without values. Such a value is hidden whole: the parts
/// of it that are no secret are not shown either.
pub fn redact(plan: &Plan) -> Cow<'_, Plan> {
    let leaks = plan
        .steps
        .iter()
        .flat_map(|step| step.causes.iter())
        .any(is_sensitive_field);
    if !leaks {
        return Cow::Borrowed(plan);
    }
    let mut redacted = plan.clone();
    for cause in redacted
        .steps
        .iter_mut()
        .flat_map(|step| step.causes.iter_mut())
    {
        if is_sensitive_field(cause)
            && let Cause::FieldChanged { path, .. } = cause
        {
            *cause = Cause::SensitiveChanged {
                path: std::mem::take(path),
            };
        }
    }
    Cow::Owned(redacted)
}

/// Whether a cause records the values of a secret-looking env key, or a value that
/// carries a credential.
fn is_sensitive_field(cause: &Cause) -> bool {
    let Cause::FieldChanged {
        path,
        before,
        after,
    } = cause
    else {
        return false;
    };
    is_sensitive_path(path)
        || [before, after]
            .into_iter()
            .flatten()
            .any(|value| has_credentials(value))
}

/// `env.<KEY>` (or `env.<KEY>.<part>`) where the key looks secret.
fn is_sensitive_path(path: &str) -> bool {
    path.strip_prefix("env.")
        .and_then(|key| key.split('.').next())
        .is_some_and(is_sensitive_key)
}

/// The closing line: `Plan: 2 to create, 10 to recreate, 3 to update in place, 0 to delete
/// (11 unchanged).` Sleep and wake appear when non-zero; `to delete` counts deleted and
/// removed agents; kept agents appear in the parenthesis when there are any.
pub fn summary_line(summary: &Summary) -> String {
    let mut parts = vec![
        format!("{} to create", summary.create),
        format!("{} to recreate", summary.recreate),
        format!("{} to update in place", summary.update),
    ];
    if summary.sleep > 0 {
        parts.push(format!("{} to sleep", summary.sleep));
    }
    if summary.wake > 0 {
        parts.push(format!("{} to wake", summary.wake));
    }
    parts.push(format!("{} to delete", summary.delete + summary.remove));
    if summary.access > 0 {
        parts.push(format!("{} team access rules to update", summary.access));
    }
    if summary.pilot > 0 {
        parts.push(format!("{} Pilot roles to bootstrap", summary.pilot));
    }
    let mut aside = format!("{} unchanged", summary.unchanged);
    if summary.kept > 0 {
        aside.push_str(&format!(", {} kept", summary.kept));
    }
    format!("Plan: {} ({aside}).", parts.join(", "))
}

/// `No changes. The fleet matches 1a2b3c4 (11 agents).`
pub fn no_changes_line(plan: &Plan) -> String {
    let agents = outline::agents_count(plan.summary.unchanged);
    format!(
        "No changes. The fleet matches {} ({agents}).",
        commit_text(plan)
    )
}

/// The first seven characters of the plan's commit, or `the desired state` without one.
fn commit_text(plan: &Plan) -> String {
    match &plan.revision {
        Some(revision) => short_commit(&revision.commit),
        None => "the desired state".to_owned(),
    }
}

fn short_commit(commit: &str) -> String {
    printable(&commit.chars().take(7).collect::<String>())
}

/// `Fleet prod at 1a2b3c4 (Bump images), compared with an empty fleet.`
fn header_line(plan: &Plan) -> String {
    let at = match &plan.revision {
        Some(revision) if revision.subject.is_empty() => short_commit(&revision.commit),
        Some(revision) => format!(
            "{} ({})",
            short_commit(&revision.commit),
            printable(&outline::cut(&revision.subject, 200))
        ),
        None => "the desired state (no commit)".to_owned(),
    };
    let against = match &plan.against {
        ObservedSource::Empty => "an empty fleet".to_owned(),
        ObservedSource::Revision {
            revision: Some(revision),
        } => format!("revision {}", short_commit(&revision.commit)),
        ObservedSource::Revision { revision: None } => "another revision".to_owned(),
        ObservedSource::Backend { description } => printable(description),
    };
    format!(
        "Fleet {} at {at}, compared with {against}.",
        printable(&plan.fleet)
    )
}

/// The warning of a plan that takes away too much of the fleet.
fn mass_deletion_line(mass_deletion: &MassDeletion) -> String {
    let percent = (mass_deletion.count * 100)
        .checked_div(mass_deletion.fleet_size)
        .map(|percent| format!(" ({percent}%)"))
        .unwrap_or_default();
    let groups: Vec<String> = mass_deletion
        .groups
        .iter()
        .map(|group| printable(group))
        .collect();
    let shown = if groups.len() > 10 {
        format!("{} and {} more", groups[..10].join(", "), groups.len() - 10)
    } else {
        groups.join(", ")
    };
    format!(
        "Mass deletion: this plan deletes or removes {} of {}{percent}, more than \
         [prune] max_delete_percent = {}%. Groups losing agents: {shown}.",
        outline::agents_count(mass_deletion.count),
        mass_deletion.fleet_size,
        mass_deletion.limit_percent
    )
}
