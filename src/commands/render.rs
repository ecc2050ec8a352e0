//! `clawops render SOURCE --backend kubernetes`: every manifest the Kubernetes backend
//! would apply, as one YAML stream on stdout (sensitive values redacted).

use std::process::ExitCode;

use super::Context;
use crate::source::SourceOptions;
use crate::spec::config::BackendKind;

/// Prints the manifests; exit 1 when the desired state is invalid or the backend has
/// nothing to render.
pub fn run(context: &Context, options: &SourceOptions) -> ExitCode {
    let Some((desired, config)) = super::resolve_at(context, options) else {
        return ExitCode::FAILURE;
    };
    let config = context.backend.over(&config);
    match config.fleet.backend {
        BackendKind::Kubernetes => kubernetes(context, &desired, &config),
        BackendKind::Docker => {
            context.printer.err(
                "render shows Kubernetes manifests: run it with --backend kubernetes (or set [fleet] backend = \"kubernetes\")",
            );
            ExitCode::FAILURE
        }
    }
}

#[cfg(feature = "kubernetes")]
fn kubernetes(
    context: &Context,
    desired: &crate::desired::Desired,
    config: &crate::spec::config::Config,
) -> ExitCode {
    use crate::backend::kubernetes::{render, settings::KubernetesSettings};
    let settings =
        KubernetesSettings::from_config(&config.kubernetes, &desired.fleet, &config.fleet.prefix);
    match render::render(desired, &settings) {
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

#[cfg(not(feature = "kubernetes"))]
fn kubernetes(
    context: &Context,
    _desired: &crate::desired::Desired,
    _config: &crate::spec::config::Config,
) -> ExitCode {
    context
        .printer
        .error(&crate::backend::BackendError::Unavailable {
            backend: "kubernetes",
        });
    ExitCode::FAILURE
}
