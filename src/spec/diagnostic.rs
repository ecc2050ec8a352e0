//! Diagnostics: one problem found in the desired state, with a stable code, a severity,
//! the file, line and column it is about, a message and a hint on how to fix it.

use std::fmt;

use serde::Serialize;

use super::located::Position;

/// How bad a problem is: errors make the desired state invalid, warnings do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The desired state cannot be applied.
    Error,
    /// Worth a look, but the desired state is usable.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

macro_rules! codes {
    ($($(#[doc = $doc:literal])* $variant:ident => $text:literal,)*) => {
        /// Stable diagnostic codes; their text never changes once released.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Code {
            /// Every code, in declaration order (used by the format reference test).
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code as printed, e.g. `unknown-field`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $text,)*
                }
            }
        }
    };
}

codes! {
    /// A file is larger than the configured limit.
    FileTooLarge => "file-too-large",
    /// A file is not valid UTF-8.
    NotUtf8 => "not-utf8",
    /// A symbolic link points outside the repository.
    SymlinkEscapes => "symlink-escapes",
    /// The YAML is not well formed.
    YamlSyntax => "yaml-syntax",
    /// A mapping has the same key twice.
    DuplicateKey => "duplicate-key",
    /// The YAML uses more aliases, nesting or nodes than a config file ever needs.
    YamlTooComplex => "yaml-too-complex",
    /// A document has no `apiVersion` or an unknown one.
    UnknownApiVersion => "unknown-api-version",
    /// A document has no `kind` or an unknown one.
    UnknownKind => "unknown-kind",
    /// A field is not part of the kind.
    UnknownField => "unknown-field",
    /// A required field is absent.
    MissingField => "missing-field",
    /// A value has the wrong type or is not one of the allowed values.
    InvalidValue => "invalid-value",
    /// `clawops.toml` is not valid.
    InvalidConfig => "invalid-config",
    /// `clawops.toml` says where or as whom to connect (`[docker] host`, `[kubernetes]
    /// kubeconfig`): the repository may not, so the setting is ignored.
    IgnoredConnectionSetting => "ignored-connection-setting",
    /// A resource name is not a valid DNS label.
    InvalidName => "invalid-name",
    /// A name clawops uses for its own objects (a `--previous` suffix, a `clawops-` prefix).
    ReservedName => "reserved-name",
    /// A `spec.labels` key in the `clawops.dev/` or `hiclaw.io/` namespace.
    ReservedLabel => "reserved-label",
    /// An env key does not match `^[a-zA-Z_][a-zA-Z0-9_]*$`.
    InvalidEnvKey => "invalid-env-key",
    /// A duration such as `30m` cannot be read.
    InvalidDuration => "invalid-duration",
    /// A CPU or memory amount cannot be read, or a request is above its limit.
    InvalidQuantity => "invalid-quantity",
    /// An image reference cannot be read.
    InvalidImage => "invalid-image",
    /// A `remoteSkills` source is not `nacos://host/namespace`.
    InvalidRemoteSkillSource => "invalid-remote-skill-source",
    /// A remote skill sets both `version` and `label`.
    ConflictingSkillVersion => "conflicting-skill-version",
    /// A `package` reference has an unknown form.
    InvalidPackage => "invalid-package",
    /// `permissionLevel` is not 1, 2 or 3.
    InvalidPermissionLevel => "invalid-permission-level",
    /// A port is out of range.
    InvalidPort => "invalid-port",
    /// Two resources of one kind share a name.
    DuplicateName => "duplicate-name",
    /// Two agents (team members or standalone workers) share a name.
    DuplicateMember => "duplicate-member",
    /// A reference names a Human that does not exist.
    UnknownHuman => "unknown-human",
    /// A reference names a Team that does not exist.
    UnknownTeam => "unknown-team",
    /// A reference names a Worker that does not exist.
    UnknownWorker => "unknown-worker",
    /// A DebugWorker names neither `targets` nor `target`, or both.
    InvalidDebugTarget => "invalid-debug-target",
    /// More than one ImageSet.
    MultipleImageSets => "multiple-image-sets",
    /// A runtime the kind does not support (e.g. hermes for a Manager).
    UnsupportedRuntime => "unsupported-runtime",
    /// A Pilot hostname is not a valid hostname.
    PilotInvalidHostname => "pilot-invalid-hostname",
    /// A Pilot role's skill name is not a ClawHub slug (`clawhub install` takes slugs).
    PilotInvalidSkill => "pilot-invalid-skill",
    /// A Pilot hostname is reserved (`localhost`, `backbone`, `broadcast`).
    PilotReservedHostname => "pilot-reserved-hostname",
    /// Two roles of a setup share a role id or hostname.
    PilotDuplicateRole => "pilot-duplicate-role",
    /// The prefix makes some role's hostname longer than 63 characters.
    PilotPrefixTooLong => "pilot-prefix-too-long",
    /// A flow names a role the setup does not declare.
    PilotUnknownRole => "pilot-unknown-role",
    /// A flow between agents uses a port other than 1001 or 1002.
    PilotInvalidPort => "pilot-invalid-port",
    /// Port 443 is used with something other than `external`, or `external` with another port.
    PilotExternalPort => "pilot-external-port",
    /// Port 1003 (tasks) is retired.
    PilotRetiredPort => "pilot-retired-port",
    /// A flow sends from a role to itself.
    PilotSelfFlow => "pilot-self-flow",
    /// A send has no matching receive (or the reverse) in the derived manifests.
    PilotUnpairedFlow => "pilot-unpaired-flow",
    /// Handshakes are not mutual, or name a host that is not a peer.
    PilotHandshakeMismatch => "pilot-handshake-mismatch",
    /// A setup outside the 3–5 agents that Pilot setups are designed for.
    PilotAgentCount => "pilot-agent-count",
    /// A role outside the 3–4 skills that Pilot roles are designed for.
    PilotSkillCount => "pilot-skill-count",
    /// A `!secret` env value on a backend that cannot carry it (`hiclaw`).
    UnsupportedSecretEnv => "unsupported-secret-env",
    /// A kind the backend does not deploy (a PilotSetup on `hiclaw`).
    UnsupportedKind => "unsupported-kind",
    /// A field the HiClaw controller's REST API would silently drop.
    RestDropsField => "rest-drops-field",
    /// A clawops extension the backend does not realize.
    IgnoredExtension => "ignored-extension",
    /// A field only a HiClaw controller realizes, on a backend without one.
    NeedsHiclawController => "needs-hiclaw-controller",
}

impl fmt::Display for Code {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One problem in the desired state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Stable code, e.g. `unknown-field`.
    pub code: Code,
    /// Error or warning.
    pub severity: Severity,
    /// Path of the file, relative to the repository root.
    pub file: String,
    /// One-based line (1 when the problem concerns the whole file).
    pub line: u32,
    /// One-based column (1 when the problem concerns the whole file).
    pub column: u32,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error at a position in a file.
    pub fn error(code: Code, file: &str, position: Position, message: impl Into<String>) -> Self {
        Self {
            code,
            severity: Severity::Error,
            file: file.to_owned(),
            line: position.line,
            column: position.column,
            message: message.into(),
            help: None,
        }
    }

    /// A warning at a position in a file.
    pub fn warning(code: Code, file: &str, position: Position, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(code, file, position, message)
        }
    }

    /// The same diagnostic with a hint on how to fix it.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Whether this diagnostic makes the desired state invalid.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{}:{}:{}: {}[{}]: {}",
            self.file, self.line, self.column, self.severity, self.code, self.message
        )?;
        if let Some(help) = &self.help {
            write!(formatter, " (help: {help})")?;
        }
        Ok(())
    }
}

/// The closest candidate to `input`, when it is close enough to be a typo: at most one
/// edit (a transposition counts as one) per three characters of the candidate.
pub fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lowered = input.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|candidate| {
            (
                strsim::damerau_levenshtein(&lowered, &candidate.to_ascii_lowercase()),
                candidate,
            )
        })
        .filter(|(distance, candidate)| *distance <= (candidate.len() / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn suggests_typos_but_not_different_words() {
        assert_eq!(did_you_mean("modle", ["model", "image"]), Some("model"));
        assert_eq!(
            did_you_mean("opnclaw", ["openclaw", "copaw", "hermes"]),
            Some("openclaw")
        );
        assert_eq!(did_you_mean("Workr", ["Worker", "Team"]), Some("Worker"));
        assert_eq!(did_you_mean("tcp", ["http", "grpc"]), None);
        assert_eq!(
            did_you_mean("Asleep", ["Running", "Sleeping", "Stopped"]),
            None
        );
    }
}
