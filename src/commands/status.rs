//! `clawops status`: a table of the fleet's agents as the backend reports them.

use std::process::ExitCode;

use super::{Context, resolve_at};
use crate::cli::StatusArgs;
use crate::desired::Desired;
use crate::observe::{Health, Observed, ObservedStatus};

/// Prints the table; exit 1 when the backend cannot be read.
pub fn run(context: &Context, args: &StatusArgs) -> ExitCode {
    let Some((desired, config)) = resolve_at(context, &args.source.options()) else {
        return ExitCode::FAILURE;
    };
    match observe(context, &desired, &config) {
        Ok(observed) => {
            context.printer.out(&table(&desired, &observed));
            ExitCode::SUCCESS
        }
        Err(error) => {
            context.printer.error(&error);
            ExitCode::FAILURE
        }
    }
}

fn observe(
    context: &Context,
    desired: &Desired,
    config: &crate::spec::Config,
) -> Result<Observed, super::live::LiveError> {
    super::live::runtime()?.block_on(async {
        let backend = super::live::open(context, config, &desired.fleet).await?;
        Ok(backend.observe().await?)
    })
}

/// One row per agent, desired or observed: name, group, state, health, image, commit.
fn table(desired: &Desired, observed: &Observed) -> String {
    let mut names: Vec<&str> = desired
        .agents
        .iter()
        .map(|agent| agent.name.as_str())
        .collect();
    names.extend(observed.agents.iter().map(|agent| agent.name.as_str()));
    names.sort_unstable();
    names.dedup();
    let mut rows =
        vec![["AGENT", "GROUP", "STATE", "HEALTH", "IMAGE", "COMMIT"].map(str::to_owned)];
    for name in names {
        let wanted = desired.agent(name);
        let seen = observed.agent(name);
        let group = wanted.map_or("(not in git)", |agent| agent.group.as_str());
        let state = match seen.map(|agent| agent.status) {
            Some(ObservedStatus::Running) => "running",
            Some(ObservedStatus::Stopped) => "stopped",
            Some(ObservedStatus::Missing) => "removed",
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
        ]);
    }
    let widths: Vec<usize> = (0..6)
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
