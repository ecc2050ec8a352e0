//! `clawops install kubernetes --export`: everything that runs the watch daemon
//! ([`crate::watch`]) in a cluster, as typed objects written as one YAML stream.
//!
//! The objects, in the order `kubectl apply -f -` needs them: the daemon's Namespace (and
//! the fleet's, for the Kubernetes backend, so its Role has somewhere to live), the
//! ServiceAccount `clawops`, the RBAC of the backend ([`rbac`]), the Service and the
//! Deployment ([`daemon`]). Nothing is applied here; nothing secret is written either:
//! the webhook secret and the GitHub token are Secret references the operator fills.

pub mod rbac;

#[cfg(feature = "kubernetes")]
pub mod daemon;

use crate::spec::config::{BackendKind, HiclawConfig, KubernetesConfig};

/// The daemon's namespace when `--namespace` is not given.
pub const DEFAULT_NAMESPACE: &str = "clawops-system";
/// The name of the ServiceAccount, the Deployment, the Service and the Role.
pub const NAME: &str = "clawops";
/// The image repository the default image comes from.
pub const IMAGE_REPOSITORY: &str = "ghcr.io/clawops/clawops";
/// The port of the webhook, `/status`, `/healthz` and `/metrics`.
pub const PORT: i32 = 9090;
/// The Service port carrying the same container port under the name `metrics`.
pub const METRICS_SERVICE_PORT: i32 = 9091;
/// The Secret holding the GitHub webhook secret (key [`WEBHOOK_SECRET_KEY`]).
pub const WEBHOOK_SECRET: &str = "clawops-webhook";
/// The key of the webhook secret in [`WEBHOOK_SECRET`].
pub const WEBHOOK_SECRET_KEY: &str = "secret";
/// Where the webhook secret is mounted.
pub const WEBHOOK_DIR: &str = "/etc/clawops/webhook";
/// The Secret holding the token for commit statuses (key [`GITHUB_TOKEN_KEY`]).
pub const GITHUB_SECRET: &str = "clawops-github";
/// The key of the token in [`GITHUB_SECRET`].
pub const GITHUB_TOKEN_KEY: &str = "token";
/// The daemon's cache folder (an `emptyDir`).
pub const CACHE_DIR: &str = "/var/cache/clawops";
/// The user and group the daemon runs as.
pub const USER_ID: i64 = 10001;

/// The backend the daemon drives, which decides its RBAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Agents as Deployments in the fleet's namespace.
    Kubernetes,
    /// HiClaw objects in the controller's namespace.
    Hiclaw,
}

impl Target {
    /// The target of `--backend` (default Kubernetes); Docker has none.
    pub fn of(backend: Option<BackendKind>) -> Result<Self, InstallError> {
        match backend {
            None | Some(BackendKind::Kubernetes) => Ok(Self::Kubernetes),
            Some(BackendKind::Hiclaw) => Ok(Self::Hiclaw),
            Some(BackendKind::Docker) => Err(InstallError::DockerBackend),
        }
    }

    /// The name `--backend` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kubernetes => BackendKind::Kubernetes.as_str(),
            Self::Hiclaw => BackendKind::Hiclaw.as_str(),
        }
    }

    /// The fleet's namespace when clawops.toml does not set one.
    pub fn default_fleet_namespace(self) -> String {
        match self {
            Self::Kubernetes => KubernetesConfig::default().namespace,
            Self::Hiclaw => HiclawConfig::default().namespace,
        }
    }
}

/// What the command line asks for, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// The backend the daemon drives.
    pub target: Target,
    /// The daemon's namespace.
    pub namespace: String,
    /// The fleet's namespace (Kubernetes) or the controller's (HiClaw).
    pub fleet_namespace: String,
    /// The daemon's image.
    pub image: String,
    /// The config repository.
    pub remote: String,
    /// The branch followed.
    pub branch: String,
    /// Only this subfolder.
    pub subfolder: Option<String>,
    /// The fetch interval, as given (checked).
    pub interval: String,
    /// `--self-heal` for the daemon.
    pub self_heal: bool,
    /// `--prune` for the daemon.
    pub prune: bool,
}

/// The image of this version: `ghcr.io/clawops/clawops:v<crate version>`.
pub fn default_image() -> String {
    format!("{IMAGE_REPOSITORY}:v{}", env!("CARGO_PKG_VERSION"))
}

/// Why nothing is printed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum InstallError {
    /// `--export` is missing: the command only prints.
    #[error("clawops install only prints the objects; it applies nothing itself")]
    #[diagnostic(
        code(clawops::install::export_only),
        help(
            "add --export and apply its output: clawops install kubernetes --export --remote URL | kubectl apply -f -"
        )
    )]
    ExportOnly,
    /// `--backend docker`: the daemon drives an engine's socket, not a cluster.
    #[error("the docker backend is not installed in a cluster")]
    #[diagnostic(
        code(clawops::install::docker),
        help(
            "with docker, the daemon needs the engine's socket: run `clawops watch` on the Docker host, with systemd or as a container (docs/watch.md, \"Running it\"); install kubernetes is for --backend kubernetes or hiclaw"
        )
    )]
    DockerBackend,
    /// The remote is a local path, which means nothing inside the daemon's pod.
    #[error("--remote {remote} is not a URL the daemon can fetch from inside its pod")]
    #[diagnostic(
        code(clawops::install::remote),
        help("give the config repository's git://, http://, https:// or ssh:// URL")
    )]
    LocalRemote {
        /// The remote, credentials hidden.
        remote: String,
    },
    /// `--interval` is not a duration.
    #[error("--interval {text} is not a duration such as 30s or 2m")]
    #[diagnostic(code(clawops::install::interval))]
    Interval {
        /// What was given.
        text: String,
    },
    /// This build has no Kubernetes types.
    #[error("this clawops was built without Kubernetes support")]
    #[diagnostic(
        code(clawops::install::unavailable),
        help("use a build with the `kubernetes` feature (the default)")
    )]
    Unavailable,
    /// An object could not be written as YAML.
    #[cfg(feature = "kubernetes")]
    #[error(transparent)]
    #[diagnostic(transparent)]
    WriteYaml(#[from] crate::backend::kubernetes::render::RenderError),
}

/// The schemes of a remote the daemon can reach from its pod.
const REMOTE_SCHEMES: [&str; 4] = ["git://", "http://", "https://", "ssh://"];

/// Checks what the objects cannot: the remote is a network URL, the interval a duration.
pub fn check(options: &Options) -> Result<(), InstallError> {
    if !REMOTE_SCHEMES
        .iter()
        .any(|scheme| options.remote.starts_with(scheme))
    {
        return Err(InstallError::LocalRemote {
            remote: crate::source::redact_url(&options.remote),
        });
    }
    crate::desired::parse_duration(&options.interval)
        .filter(|interval| !interval.is_zero())
        .map(|_| ())
        .ok_or_else(|| InstallError::Interval {
            text: options.interval.clone(),
        })
}

/// Whether the remote carries credentials, which the Deployment would then show.
pub fn remote_has_credentials(options: &Options) -> bool {
    crate::source::redact_url(&options.remote) != options.remote
}

/// Every object, as one YAML stream of documents each starting with `---`.
#[cfg(feature = "kubernetes")]
pub fn export(options: &Options) -> Result<String, InstallError> {
    check(options)?;
    daemon::export(options)
}

/// Without the Kubernetes types there is nothing to write.
#[cfg(not(feature = "kubernetes"))]
pub fn export(options: &Options) -> Result<String, InstallError> {
    check(options)?;
    Err(InstallError::Unavailable)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> Options {
        Options {
            target: Target::Kubernetes,
            namespace: DEFAULT_NAMESPACE.to_owned(),
            fleet_namespace: Target::Kubernetes.default_fleet_namespace(),
            image: default_image(),
            remote: "https://github.com/acme/fleet.git".to_owned(),
            branch: "main".to_owned(),
            subfolder: None,
            interval: "60s".to_owned(),
            self_heal: false,
            prune: false,
        }
    }

    #[test]
    fn docker_has_no_cluster_install() {
        assert!(matches!(
            Target::of(Some(BackendKind::Docker)),
            Err(InstallError::DockerBackend)
        ));
        assert_eq!(Target::of(None).ok(), Some(Target::Kubernetes));
        assert_eq!(
            Target::of(Some(BackendKind::Hiclaw)).ok(),
            Some(Target::Hiclaw)
        );
    }

    #[test]
    fn the_default_image_is_this_version() {
        assert_eq!(
            default_image(),
            format!("ghcr.io/clawops/clawops:v{}", env!("CARGO_PKG_VERSION"))
        );
    }

    #[test]
    fn a_local_remote_and_a_bad_interval_are_refused() {
        assert!(check(&options()).is_ok());
        let local = Options {
            remote: "./fleet".to_owned(),
            ..options()
        };
        assert!(matches!(
            check(&local),
            Err(InstallError::LocalRemote { .. })
        ));
        let interval = Options {
            interval: "soon".to_owned(),
            ..options()
        };
        assert!(matches!(
            check(&interval),
            Err(InstallError::Interval { .. })
        ));
    }

    #[test]
    fn credentials_in_the_remote_are_noticed_and_hidden() {
        let secret = Options {
            remote: "https://user:hunter2@example.com/fleet.git".to_owned(),
            ..options()
        };
        assert!(remote_has_credentials(&secret));
        assert!(!remote_has_credentials(&options()));
    }
}
