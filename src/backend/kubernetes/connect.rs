//! Finding the cluster: `--kubeconfig`, else `KUBECONFIG`,
//! `~/.kube/config`, else the in-cluster service account.

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::backend::BackendError;

fn connect_error(address: &str) -> impl FnOnce(String) -> BackendError + use<> {
    let address = address.to_owned();
    move |message| BackendError::Connect {
        address,
        source: message.into(),
    }
}

/// The client configuration from `kubeconfig` (a file), or inferred when it is empty.
pub async fn load_config(kubeconfig: &str) -> Result<kube::Config, BackendError> {
    if kubeconfig.is_empty() {
        return kube::Config::infer().await.map_err(|error| {
            connect_error("the cluster of KUBECONFIG, ~/.kube/config or in-cluster")(
                error.to_string(),
            )
        });
    }
    let file = Kubeconfig::read_from(kubeconfig)
        .map_err(|error| connect_error(kubeconfig)(error.to_string()))?;
    kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
        .await
        .map_err(|error| connect_error(kubeconfig)(error.to_string()))
}

/// A client and the cluster address it talks to.
pub(super) async fn connect(kubeconfig: &str) -> Result<(kube::Client, String), BackendError> {
    let config = load_config(kubeconfig).await?;
    let address = config.cluster_url.to_string();
    let client = kube::Client::try_from(config)
        .map_err(|error| connect_error(&address)(error.to_string()))?;
    Ok((client, address))
}
