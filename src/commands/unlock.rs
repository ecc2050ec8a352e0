//! `clawops unlock`: force-release the fleet's apply lock (after an apply was killed and
//! before its lease expires).

use std::process::ExitCode;

use super::{Context, resolve_at};
use crate::cli::UnlockArgs;

/// Releases the lock; exit 1 when the backend cannot be reached.
pub fn run(context: &Context, args: &UnlockArgs) -> ExitCode {
    let Some((desired, config)) = resolve_at(context, &args.source.options()) else {
        return ExitCode::FAILURE;
    };
    match release(context, &desired.fleet, &config) {
        Ok(()) => {
            context.printer.out(&format!(
                "The apply lock of fleet {} is released.",
                desired.fleet
            ));
            ExitCode::SUCCESS
        }
        Err(error) => {
            context.printer.error(&error);
            ExitCode::FAILURE
        }
    }
}

fn release(
    context: &Context,
    fleet: &str,
    config: &crate::spec::Config,
) -> Result<(), super::live::LiveError> {
    super::live::runtime()?.block_on(async {
        let backend = super::live::open(context, config, fleet).await?;
        Ok(backend.unlock(None).await?)
    })
}
