//! `clawops unlock`: force-release the fleet's apply lock (after an apply was killed and
//! before its lease expires).

use std::process::ExitCode;

use super::{Context, block_on, load};
use crate::cli::UnlockArgs;
use crate::engine;

/// Releases the lock; exit 1 when the backend cannot be reached.
pub fn run(context: &Context, args: &UnlockArgs) -> ExitCode {
    let Some(loaded) = load(context, &args.source.options()) else {
        return ExitCode::FAILURE;
    };
    let fleet = &loaded.desired.fleet;
    block_on(context, async {
        let released = async {
            let backend = engine::open(&loaded.config, &context.connection, fleet).await?;
            backend.unlock(None).await
        };
        match released.await {
            Ok(()) => {
                context
                    .printer
                    .out(&format!("The apply lock of fleet {fleet} is released."));
                ExitCode::SUCCESS
            }
            Err(error) => {
                context.printer.error(&error);
                ExitCode::FAILURE
            }
        }
    })
}
