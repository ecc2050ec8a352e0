//! Command-line types (clap) and their translation into resolved settings.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::source::{DEFAULT_MAX_FILE_SIZE, SourceOptions, default_cache_dir};

/// clawops: GitOps for fleets of AI agents.
#[derive(Debug, Parser)]
#[command(name = "clawops", version, about, propagate_version = true)]
pub struct Cli {
    /// When to colour output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
    /// Log line format on stderr (level from `CLAWOPS_LOG`, e.g. `info`; default `warn`).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// Which backend the live commands use, overriding `[fleet] backend`.
    #[arg(long, value_enum, global = true)]
    pub backend: Option<BackendChoice>,
    /// Kubernetes: the kubeconfig file (default: `KUBECONFIG`, `~/.kube/config`, else
    /// in-cluster). Never taken from the repository.
    #[arg(long, value_name = "FILE", global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// Kubernetes: take over fields another field manager owns instead of reporting the
    /// conflict.
    #[arg(long, global = true)]
    pub force_conflicts: bool,
    /// HiClaw (rest transport): the controller's REST API (default http://localhost:8090).
    /// The bearer token comes from HICLAW_AUTH_TOKEN or the file HICLAW_AUTH_TOKEN_FILE names.
    #[arg(long, value_name = "URL", env = "HICLAW_CONTROLLER_URL", global = true)]
    pub hiclaw_url: Option<String>,
    /// HiClaw (rest transport): the folder holding clawops's record of what it applied
    /// (default $XDG_STATE_HOME/clawops/hiclaw); share it between every machine that
    /// applies to the same controller.
    #[arg(long, value_name = "DIR", env = "CLAWOPS_HICLAW_RECORD", global = true)]
    pub hiclaw_record: Option<PathBuf>,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The backends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendChoice {
    /// A Docker Engine.
    Docker,
    /// A Kubernetes cluster.
    Kubernetes,
    /// A running HiClaw controller.
    Hiclaw,
}

impl Cli {
    /// Where and how the live commands connect, as the command line says.
    pub fn connection(&self) -> crate::engine::Connection {
        crate::engine::Connection {
            backend: self.backend.map(|choice| match choice {
                BackendChoice::Docker => crate::spec::config::BackendKind::Docker,
                BackendChoice::Kubernetes => crate::spec::config::BackendKind::Kubernetes,
                BackendChoice::Hiclaw => crate::spec::config::BackendKind::Hiclaw,
            }),
            endpoint: crate::backend::Endpoint {
                kubeconfig: self.kubeconfig.clone(),
                force_conflicts: self.force_conflicts,
                hiclaw_url: self.hiclaw_url.clone(),
                hiclaw_token: std::env::var("HICLAW_AUTH_TOKEN")
                    .ok()
                    .filter(|token| !token.is_empty()),
                hiclaw_token_file: std::env::var_os("HICLAW_AUTH_TOKEN_FILE")
                    .filter(|file| !file.is_empty())
                    .map(PathBuf::from),
                hiclaw_record: self.hiclaw_record.clone(),
            },
        }
    }
}

/// Log line formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One readable line per event.
    Text,
    /// One JSON object per event.
    Json,
}

/// When to colour output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when writing to a terminal.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the desired state and report every problem with file, line and column.
    Validate(ValidateArgs),
    /// Show what would change: against another revision (`--base`), an empty fleet
    /// (`--empty`), or the live backend.
    Plan(PlanArgs),
    /// Apply the desired state to the live fleet, wave by wave, gated on health.
    Apply(ApplyArgs),
    /// Release the fleet's apply lock left by an apply that died.
    Unlock(UnlockArgs),
    /// Show every agent of the fleet as the backend reports it.
    Status(StatusArgs),
    /// Follow a config repository: apply each new commit of a branch (health-gated, under
    /// the lock), quarantine commits that fail, report drift; serves a webhook, status
    /// and metrics.
    Watch(WatchArgs),
    /// Print every object the backend would be given (Kubernetes: all manifests, as YAML).
    Render(RenderArgs),
    /// Write a JSON Schema per kind (and for clawops.toml) into a folder.
    Schema(SchemaArgs),
    /// Pilot topologies.
    Pilot {
        /// What to do with the Pilot setups.
        #[command(subcommand)]
        command: PilotCommand,
    },
    /// GitHub: the pull-request comment of the GitHub Action.
    Github {
        /// What to do on GitHub.
        #[command(subcommand)]
        command: GithubCommand,
    },
    /// Print what runs `clawops watch` in a cluster, for `kubectl apply -f -`.
    Install {
        /// Where to install the daemon.
        #[command(subcommand)]
        command: InstallCommand,
    },
}

/// Arguments of `clawops watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The config repository (file://, git://, https://, ssh:// URL, or a local path).
    pub remote: String,
    /// The branch to follow.
    #[arg(long, default_value = "main")]
    pub branch: String,
    /// Only this subfolder of the repository (monorepos).
    #[arg(long = "path", value_name = "SUBDIR")]
    pub subfolder: Option<String>,
    /// How often to fetch and look for drift (a random tenth more or less each time).
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub interval: String,
    /// Address of the webhook, status and metrics server.
    #[arg(long, value_name = "ADDRESS", default_value = "127.0.0.1:9090")]
    pub listen: String,
    /// File holding the GitHub webhook secret (without it, the webhook is off).
    #[arg(long, value_name = "FILE")]
    pub webhook_secret_file: Option<PathBuf>,
    /// Correct drift (agents stopped, removed or changed by hand), not only report it.
    #[arg(long)]
    pub self_heal: bool,
    /// Delete agents that left git (still behind the blast-radius guard).
    #[arg(long)]
    pub prune: bool,
    /// With --prune: delete the workspace volumes of deleted agents too.
    #[arg(long, requires = "prune")]
    pub prune_volumes: bool,
    /// How long to wait for another apply's lock before trying again next interval.
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    pub lock_timeout: String,
    /// Where remote repositories are cached (default $XDG_CACHE_HOME/clawops).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// The daemon's memory: last good commit, quarantined commits (default: under the
    /// cache folder, one file per remote, branch and path).
    #[arg(long, value_name = "FILE")]
    pub state_file: Option<PathBuf>,
    /// Refuse files larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_FILE_SIZE)]
    pub max_file_size: u64,
}

/// Where the desired state comes from.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// A git repository, a plain folder, or a remote URL (file://, git://, https://, ssh://).
    pub source: String,
    /// Branch, tag or commit to read (default HEAD).
    #[arg(long)]
    pub rev: Option<String>,
    /// Only this subfolder of the repository (monorepos).
    #[arg(long = "path", value_name = "SUBDIR")]
    pub subfolder: Option<String>,
    /// Read a local repository's work tree instead of a commit.
    #[arg(long, conflicts_with = "rev")]
    pub worktree: bool,
    /// Where remote repositories are cached (default $XDG_CACHE_HOME/clawops).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Refuse files larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_FILE_SIZE)]
    pub max_file_size: u64,
}

impl SourceArgs {
    /// The resolved source settings.
    pub fn options(&self) -> SourceOptions {
        SourceOptions {
            location: self.source.clone(),
            revision: self.rev.clone(),
            subfolder: self.subfolder.clone(),
            worktree: self.worktree,
            cache_dir: self.cache_dir.clone().unwrap_or_else(default_cache_dir),
            max_file_size: self.max_file_size,
        }
    }
}

/// Output formats of `validate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// A readable report with the source lines.
    Text,
    /// `{"valid": bool, "diagnostics": [...]}`.
    Json,
}

/// `clawops validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Where the desired state comes from.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

/// Output formats of `plan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// Terraform-like text with causes and diffs.
    Text,
    /// Markdown for pull request comments (always under GitHub's comment limit).
    Markdown,
    /// The versioned JSON document (`clawops.plan/v1`).
    Json,
}

/// `clawops plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Where the desired state comes from.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Compare with the desired state at this revision instead of a backend (offline).
    #[arg(long, value_name = "REV", conflicts_with = "empty")]
    pub base: Option<String>,
    /// Compare with an empty fleet: what a first apply would do.
    #[arg(long)]
    pub empty: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Also save the plan (JSON) to this file, for `apply --plan`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 0 when nothing changes, 2 when something does, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Delete agents that left git even when `[prune] enabled` is false.
    #[arg(long)]
    pub prune: bool,
    /// Accept a plan that takes away more than `[prune] max_delete_percent` of the fleet.
    #[arg(long)]
    pub allow_mass_delete: bool,
}

/// `clawops apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Where the desired state comes from.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Apply without asking (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Apply exactly this saved plan (`plan --out`); refused if the commit or the live
    /// fleet changed since it was made.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// Delete agents that left git even when `[prune] enabled` is false.
    #[arg(long)]
    pub prune: bool,
    /// Deleting an agent also removes its workspace volume.
    #[arg(long)]
    pub prune_volumes: bool,
    /// Accept a plan that takes away more than `[prune] max_delete_percent` of the fleet.
    #[arg(long)]
    pub allow_mass_delete: bool,
    /// How long to wait for another apply of the same fleet to finish (e.g. `30s`).
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub lock_timeout: String,
}

/// `clawops unlock`.
#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// Where the desired state comes from (for the fleet name and backend settings).
    #[command(flatten)]
    pub source: SourceArgs,
}

/// `clawops status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Where the desired state comes from (for the fleet name and backend settings).
    #[command(flatten)]
    pub source: SourceArgs,
}

/// `clawops render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Where the desired state comes from.
    #[command(flatten)]
    pub source: SourceArgs,
}

/// `clawops schema`.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Folder to write the schemas into.
    #[arg(long, default_value = "schemas")]
    pub out: PathBuf,
}

/// `clawops pilot …`.
#[derive(Debug, Subcommand)]
pub enum PilotCommand {
    /// Write every role's setup manifest (`DIR/<hostname>/<setup>.json`, or JSON on stdout).
    Manifests(PilotManifestsArgs),
}

/// `clawops pilot manifests`.
#[derive(Debug, Args)]
pub struct PilotManifestsArgs {
    /// Where the desired state comes from.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Folder to write the manifests into; without it they go to stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `clawops github …`.
#[derive(Debug, Subcommand)]
pub enum GithubCommand {
    /// Create or update the pull request's plan comment (found again by its hidden marker).
    ///
    /// Reads GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_EVENT_PATH and GITHUB_API_URL as
    /// GitHub Actions sets them.
    Comment(GithubCommentArgs),
    /// Scrub files in place of what must not reach GitHub: GITHUB_TOKEN (when set),
    /// values of secret-looking keys, GitHub tokens and passwords in URLs.
    ///
    /// The same scrubbing as the comment's, for the Action's job summary and log.
    Scrub(GithubScrubArgs),
}

/// `clawops github scrub`.
#[derive(Debug, Args)]
pub struct GithubScrubArgs {
    /// The files to scrub in place.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// `clawops github comment`.
#[derive(Debug, Args)]
pub struct GithubCommentArgs {
    /// The comment's markdown (e.g. the output of `plan --format markdown`).
    #[arg(long, value_name = "FILE")]
    pub body_file: PathBuf,
}

/// `clawops install …`.
#[derive(Debug, Subcommand)]
pub enum InstallCommand {
    /// The Namespace, ServiceAccount, RBAC (for `--backend kubernetes` or `hiclaw`),
    /// Deployment and Service that run `clawops watch` in a cluster, as one YAML stream.
    Kubernetes(InstallKubernetesArgs),
}

/// `clawops install kubernetes`.
#[derive(Debug, Args)]
pub struct InstallKubernetesArgs {
    /// Print the objects on stdout (required: clawops applies nothing here; pipe the output
    /// to `kubectl apply -f -`).
    #[arg(long)]
    pub export: bool,
    /// The daemon's own namespace.
    #[arg(long, value_name = "NAMESPACE", default_value = "clawops-system")]
    pub namespace: String,
    /// The namespace the fleet lives in (`[kubernetes] namespace`, or `[hiclaw] namespace`
    /// with `--backend hiclaw`; default `hiclaw` as in clawops.toml), where the daemon's
    /// Role is bound.
    #[arg(long, value_name = "NAMESPACE")]
    pub fleet_namespace: Option<String>,
    /// The daemon's image (default `ghcr.io/clawops/clawops:v<this version>`).
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// The config repository the daemon follows (git://, http://, https://, ssh:// URL).
    #[arg(long, value_name = "URL")]
    pub remote: String,
    /// The branch to follow.
    #[arg(long, default_value = "main")]
    pub branch: String,
    /// Only this subfolder of the repository (monorepos).
    #[arg(long = "path", value_name = "SUBDIR")]
    pub subfolder: Option<String>,
    /// How often the daemon fetches and looks for drift.
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub interval: String,
    /// Run the daemon with `--self-heal`.
    #[arg(long)]
    pub self_heal: bool,
    /// Run the daemon with `--prune`.
    #[arg(long)]
    pub prune: bool,
}
