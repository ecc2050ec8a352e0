//! Connecting to the engine, and the shared resources `prepare` makes sure of: the fleet
//! network, the images, resolvable secrets, and no container left aside by an interrupted
//! recreate.

use std::collections::HashMap;

use bollard::Docker;
use bollard::models::NetworkCreateRequest;
use bollard::query_parameters::{CreateImageOptionsBuilder, RenameContainerOptionsBuilder};
use futures_util::TryStreamExt;

use super::{DockerBackend, SET_ASIDE_SUFFIX, is_not_found, request_error};
use crate::backend::BackendError;
use crate::backend::labels::FLEET_LABEL;
use crate::desired::Agent;
use crate::spec::clawops::PullPolicy;

/// Connects to `host` (empty: `DOCKER_HOST` or the local socket) and negotiates the API
/// version; returns the client and the address tried.
pub(super) async fn connect(host: &str) -> Result<(Docker, String), BackendError> {
    let address = if host.is_empty() {
        std::env::var("DOCKER_HOST")
            .ok()
            .filter(|value| !value.is_empty())
            .unwrap_or_else(|| "unix:///var/run/docker.sock".to_owned())
    } else {
        host.to_owned()
    };
    let connect_error = |source: bollard::errors::Error| BackendError::Connect {
        address: address.clone(),
        source: Box::new(source),
    };
    let docker = Docker::connect_with_host(&address).map_err(connect_error)?;
    let docker = docker.negotiate_version().await.map_err(connect_error)?;
    docker.ping().await.map_err(connect_error)?;
    Ok((docker, address))
}

/// Resolves an env value that names a secret from `CLAWOPS_SECRET_<NAME>`.
pub(super) fn resolve_secret(agent: &str, secret: &str) -> Result<String, BackendError> {
    let variable = format!(
        "CLAWOPS_SECRET_{}",
        secret.to_ascii_uppercase().replace(['-', '.'], "_")
    );
    std::env::var(variable).map_err(|_| BackendError::SecretMissing {
        agent: agent.to_owned(),
        secret: secret.to_owned(),
    })
}

/// Everything `prepare` does, in order; nothing changes before images and secrets are
/// known to be there.
pub(super) async fn prepare(
    backend: &DockerBackend,
    agents: &[&Agent],
) -> Result<(), BackendError> {
    for agent in agents {
        for variable in agent.env.values().filter(|variable| variable.secret_ref) {
            resolve_secret(&agent.name, &variable.value)?;
        }
    }
    let mut images: Vec<(&str, PullPolicy)> = Vec::new();
    for agent in agents.iter().filter(|agent| agent.container_managed) {
        let image = (agent.image.as_str(), agent.pull_policy);
        if !images.contains(&image) {
            images.push(image);
        }
    }
    for (image, policy) in images {
        ensure_image(&backend.docker, image, policy).await?;
    }
    // Looked at again on every prepare (a daemon's backend lives across applies).
    backend
        .network_ready
        .store(false, std::sync::atomic::Ordering::SeqCst);
    ensure_network(backend).await
}

/// See [`crate::backend::Backend::settle_interrupted`]: workspace helpers an interrupted
/// apply left are removed, and recreates it cut short are restored or finished.
pub(super) async fn settle_interrupted(backend: &DockerBackend) -> Result<(), BackendError> {
    backend.remove_stale_helpers().await?;
    recover_set_aside(backend).await
}

/// Makes sure `image` is present, pulling it as `policy` says.
async fn ensure_image(
    docker: &Docker,
    image: &str,
    policy: PullPolicy,
) -> Result<(), BackendError> {
    let present = match docker.inspect_image(image).await {
        Ok(_) => true,
        Err(error) if is_not_found(&error) => false,
        Err(error) => return Err(request_error("inspect image", image)(error)),
    };
    let pull = match policy {
        PullPolicy::Always => true,
        PullPolicy::IfNotPresent => !present,
        PullPolicy::Never => false,
    };
    if pull {
        let options = CreateImageOptionsBuilder::new().from_image(image).build();
        let pulled: Result<Vec<_>, _> = docker
            .create_image(Some(options), None, None)
            .try_collect()
            .await;
        if let Err(error) = pulled {
            tracing::warn!(image, error = %error, "pull failed");
            return Err(BackendError::ImageMissing {
                image: image.to_owned(),
            });
        }
        return Ok(());
    }
    if present {
        Ok(())
    } else {
        Err(BackendError::ImageMissing {
            image: image.to_owned(),
        })
    }
}

/// Creates the fleet network, labelled with the fleet, unless it exists (not looked at
/// again once `prepare` or an earlier step saw it: it is not removed while clawops
/// applies).
pub(super) async fn ensure_network(backend: &DockerBackend) -> Result<(), BackendError> {
    use std::sync::atomic::Ordering;
    if backend.network_ready.load(Ordering::SeqCst) {
        return Ok(());
    }
    create_network_unless_present(backend).await?;
    backend.network_ready.store(true, Ordering::SeqCst);
    Ok(())
}

async fn create_network_unless_present(backend: &DockerBackend) -> Result<(), BackendError> {
    let docker = &backend.docker;
    match docker
        .inspect_network(
            &backend.network,
            None::<bollard::query_parameters::InspectNetworkOptions>,
        )
        .await
    {
        Ok(_) => return Ok(()),
        Err(error) if is_not_found(&error) => {}
        Err(error) => return Err(request_error("inspect network", &backend.network)(error)),
    }
    let request = NetworkCreateRequest {
        name: backend.network.clone(),
        driver: Some("bridge".to_owned()),
        labels: Some(HashMap::from([(
            FLEET_LABEL.to_owned(),
            backend.fleet.clone(),
        )])),
        ..Default::default()
    };
    match docker.create_network(request).await {
        Ok(_) => Ok(()),
        // Created concurrently by another apply: fine.
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409, ..
        }) => Ok(()),
        Err(error) => Err(request_error("create network", &backend.network)(error)),
    }
}

/// After an interrupted recreate: drops a set-aside container whose agent has a container
/// again, renames one back whose agent has none.
async fn recover_set_aside(backend: &DockerBackend) -> Result<(), BackendError> {
    let containers = super::observe::list_containers(backend).await?;
    let names: Vec<String> = containers
        .iter()
        .filter_map(super::observe::container_name)
        .collect();
    for set_aside in names.iter().filter(|name| name.ends_with(SET_ASIDE_SUFFIX)) {
        let agent = set_aside.trim_end_matches(SET_ASIDE_SUFFIX);
        if names.iter().any(|name| name == agent) {
            tracing::info!(
                agent,
                "dropping the container set aside by an interrupted recreate"
            );
            super::containers::remove_container(backend, set_aside, "recover recreate").await?;
        } else {
            tracing::info!(
                agent,
                "restoring the container set aside by an interrupted recreate"
            );
            let options = RenameContainerOptionsBuilder::new().name(agent).build();
            backend
                .docker
                .rename_container(set_aside, options)
                .await
                .map_err(request_error("recover recreate", agent))?;
        }
    }
    Ok(())
}
