//! `clawops status`: a table of the fleet's agents as the backend reports them, with the
//! drift the backend finds (changes made outside clawops).

use std::collections::BTreeMap;
use std::process::ExitCode;

use super::{Context, block_on, load};
use crate::cli::StatusArgs;
use crate::desired::Desired;
use crate::engine::{self, PlanSettings};
use crate::observe::{Health, Observed, ObservedStatus};
use crate::plan::Cause;
use crate::spec::hiclaw::AgentState;

/// Prints the table; exit 1 when the backend cannot be read.
pub fn run(context: &Context, args: &StatusArgs) -> ExitCode {
    let Some(loaded) = load(context, &args.source.options()) else {
        return ExitCode::FAILURE;
    };
    block_on(context, async {
        match engine::fleet_status(&loaded, &context.connection).await {
            Ok((observed, pilot)) => {
                context.printer.out(&table(&loaded.desired, &observed));
                if !pilot.is_empty() {
                    context.printer.out(&pilot_table(&pilot));
                }
                ExitCode::SUCCESS
            }
            Err(error) => {
                context.printer.error(&error);
                ExitCode::FAILURE
            }
        }
    })
}

/// Per agent, the drift a plan against the fleet would correct (`-` for none).
fn drift_of(desired: &Desired, observed: &Observed) -> BTreeMap<String, String> {
    let options = PlanSettings::default().options(desired);
    let plan = crate::plan::plan(desired, observed, &options);
    let mut drift: BTreeMap<String, String> = BTreeMap::new();
    for step in &plan.steps {
        let Some(agent) = step.resource.agent_name() else {
            continue;
        };
        for cause in &step.causes {
            if let Cause::Drift(found) = cause {
                let line = drift.entry(agent.to_owned()).or_default();
                if !line.is_empty() {
                    line.push_str("; ");
                }
                line.push_str(&found.to_string());
            }
        }
    }
    drift
}

/// One row per agent, desired or observed: name, group, state, health, image, commit,
/// drift.
fn table(desired: &Desired, observed: &Observed) -> String {
    let mut names: Vec<&str> = desired
        .agents
        .iter()
        .map(|agent| agent.name.as_str())
        .collect();
    names.extend(observed.agents.iter().map(|agent| agent.name.as_str()));
    names.sort_unstable();
    names.dedup();
    let drift = drift_of(desired, observed);
    let mut rows = vec![
        [
            "AGENT", "GROUP", "STATE", "HEALTH", "IMAGE", "COMMIT", "DRIFT",
        ]
        .map(str::to_owned),
    ];
    for name in names {
        let wanted = desired.agent(name);
        let seen = observed.agent(name);
        let group = wanted.map_or("(not in git)", |agent| agent.group.as_str());
        let state = match seen.map(|agent| (agent.status, agent.runtime_state)) {
            // The fleet itself (a leader, the Manager, auto-sleep) changed it at run time.
            Some((_, Some(runtime))) => match runtime {
                AgentState::Running => "running (run time)",
                AgentState::Sleeping => "sleeping (run time)",
                AgentState::Stopped => "stopped (run time)",
            },
            Some((ObservedStatus::Running, None)) => "running",
            Some((ObservedStatus::Stopped, None)) => "stopped",
            Some((ObservedStatus::Missing, None)) => "removed",
            None => "absent",
        };
        let health = match seen.map(|agent| agent.health) {
            Some(Health::Healthy) => "healthy",
            Some(Health::Unhealthy) => "unhealthy",
            Some(Health::Starting) => "starting",
            Some(Health::Unknown) | None => "-",
        };
        let image = seen.map_or("-", |agent| agent.image.as_str());
        let commit = seen
            .and_then(|agent| agent.commit.as_deref())
            .map_or_else(|| "-".to_owned(), |commit| commit.chars().take(7).collect());
        rows.push([
            name.to_owned(),
            group.to_owned(),
            state.to_owned(),
            health.to_owned(),
            image.to_owned(),
            commit,
            drift.get(name).map_or("-", String::as_str).to_owned(),
        ]);
    }
    columns(&rows)
}

/// Per running Pilot role: its node's hostname, installed skills and trusted peers.
fn pilot_table(pilot: &[engine::PilotRow]) -> String {
    let mut rows = vec![
        [
            "PILOT ROLE",
            "HOSTNAME",
            "SKILLS",
            "TRUSTED PEERS",
            "NOT TRUSTED",
        ]
        .map(str::to_owned),
    ];
    let listed = |items: &[String]| {
        if items.is_empty() {
            "-".to_owned()
        } else {
            items.join(", ")
        }
    };
    for (agent, status) in pilot {
        rows.push(match status {
            Ok(status) => [
                agent.clone(),
                status.hostname.clone().unwrap_or_else(|| "-".to_owned()),
                listed(&status.skills),
                listed(&status.trusted),
                listed(&status.untrusted),
            ],
            Err(error) => [
                agent.clone(),
                format!("(cannot ask: {error})"),
                "-".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
            ],
        });
    }
    format!("\n{}", columns(&rows))
}

/// Rows as left-aligned columns two spaces apart.
fn columns<const N: usize>(rows: &[[String; N]]) -> String {
    let widths: Vec<usize> = (0..N)
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            cells.join("  ").trim_end().to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}
