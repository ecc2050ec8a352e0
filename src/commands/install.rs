//! `clawops install kubernetes --export`: prints the objects that run the watch daemon in
//! a cluster ([`crate::install`]) as one YAML stream, for `kubectl apply -f -`.

use std::process::ExitCode;

use super::Context;
use crate::cli::InstallKubernetesArgs;
use crate::install::{self, InstallError, Options, Target};

/// Prints the objects; exit 1 without `--export`, for the docker backend, or when the
/// flags cannot make them.
pub fn kubernetes(context: &Context, args: &InstallKubernetesArgs) -> ExitCode {
    match options(context, args).and_then(|options| {
        if install::remote_has_credentials(&options) {
            context.printer.err(
                "warning: --remote carries credentials: they are written into the Deployment, readable by whoever can read it",
            );
        }
        install::export(&options)
    }) {
        Ok(yaml) => {
            context.printer.out(yaml.trim_end());
            ExitCode::SUCCESS
        }
        Err(error) => {
            context.printer.error(&error);
            ExitCode::FAILURE
        }
    }
}

/// The command line, resolved.
fn options(context: &Context, args: &InstallKubernetesArgs) -> Result<Options, InstallError> {
    if !args.export {
        return Err(InstallError::ExportOnly);
    }
    let target = Target::of(context.connection.backend)?;
    Ok(Options {
        target,
        namespace: args.namespace.clone(),
        fleet_namespace: args
            .fleet_namespace
            .clone()
            .unwrap_or_else(|| target.default_fleet_namespace()),
        image: args.image.clone().unwrap_or_else(install::default_image),
        remote: args.remote.clone(),
        branch: args.branch.clone(),
        subfolder: args.subfolder.clone(),
        interval: args.interval.clone(),
        self_heal: args.self_heal,
        prune: args.prune,
    })
}
