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
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
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
    /// Write a JSON Schema per kind (and for clawops.toml) into a folder.
    Schema(SchemaArgs),
    /// Pilot topologies.
    Pilot {
        /// What to do with the Pilot setups.
        #[command(subcommand)]
        command: PilotCommand,
    },
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
