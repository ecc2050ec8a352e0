//! Loading: every considered file of a snapshot into typed documents, collecting every
//! problem found on the way instead of stopping at the first.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::Spec;
use super::config::Config;
use super::diagnostic::{Code, Diagnostic, did_you_mean};
use super::document::{Kind, Resource, Sourced};
use super::located::{Located, Position};
use super::yaml::{DocumentText, parse_document, split_documents};
use crate::source::{Rejection, Snapshot, SourceFile};

/// Only the envelope's identifying fields; everything else is skipped.
#[derive(Deserialize)]
struct Header {
    #[serde(rename = "apiVersion")]
    api_version: Option<Located<String>>,
    kind: Option<Located<String>>,
}

/// Only `[rollout] canary`, with the span of each entry, for pointing at a bad team name.
#[derive(Deserialize, Default)]
struct CanarySpans {
    #[serde(default)]
    rollout: RolloutCanarySpans,
}

#[derive(Deserialize, Default)]
struct RolloutCanarySpans {
    #[serde(default)]
    canary: Vec<toml::Spanned<String>>,
}

/// Only the connection settings a repository may no longer make, with their spans, for
/// the warning that they are ignored.
#[derive(Deserialize, Default)]
struct ConnectionSpans {
    #[serde(default)]
    docker: DockerConnectionSpans,
    #[serde(default)]
    kubernetes: KubernetesConnectionSpans,
}

#[derive(Deserialize, Default)]
struct DockerConnectionSpans {
    host: Option<toml::Spanned<toml::Value>>,
}

#[derive(Deserialize, Default)]
struct KubernetesConnectionSpans {
    kubeconfig: Option<toml::Spanned<toml::Value>>,
}

/// Reads the snapshot into a [`Spec`] and the problems found while reading.
pub fn load(snapshot: &Snapshot) -> (Spec, Vec<Diagnostic>) {
    let mut diagnostics = rejected_files(snapshot);
    let config_path = snapshot.config_path();
    let (config, canary_positions) = match snapshot.file(&config_path) {
        Some(file) => match parse_config(file) {
            Ok(config) => {
                diagnostics.extend(ignored_connection_settings(file));
                (config, canary_positions(&file.text))
            }
            Err(diagnostic) => {
                diagnostics.push(diagnostic);
                (Config::default(), Vec::new())
            }
        },
        None => (Config::default(), Vec::new()),
    };
    let fleet_name = config
        .fleet
        .name
        .clone()
        .unwrap_or_else(|| snapshot.root_name.clone());
    let mut spec = Spec {
        config,
        fleet_name,
        config_file: config_path.clone(),
        revision: snapshot.revision.clone(),
        canary_positions,
        ..Spec::default()
    };
    let documents: Vec<(&SourceFile, DocumentText<'_>)> = snapshot
        .files
        .iter()
        .filter(|file| file.path != config_path)
        .flat_map(|file| {
            split_documents(&file.text)
                .into_iter()
                .map(move |document| (file, document))
        })
        .filter(|(_, document)| !document.is_empty())
        .collect();
    for (part, part_diagnostics) in load_in_parallel(&documents) {
        spec.absorb(part);
        diagnostics.extend(part_diagnostics);
    }
    (spec, diagnostics)
}

/// Parses the documents on every core, in contiguous runs of about equal size (in
/// bytes, as Team files dwarf Human files) so the order stays the files'.
fn load_in_parallel(documents: &[(&SourceFile, DocumentText<'_>)]) -> Vec<(Spec, Vec<Diagnostic>)> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .max(1);
    let total: usize = documents
        .iter()
        .map(|(_, document)| document.text.len())
        .sum();
    let share = total.div_ceil(threads).max(1);
    let mut runs = Vec::with_capacity(threads);
    let (mut start, mut size) = (0, 0);
    for (index, (_, document)) in documents.iter().enumerate() {
        size += document.text.len();
        if size >= share {
            runs.push(&documents[start..=index]);
            (start, size) = (index + 1, 0);
        }
    }
    runs.push(&documents[start..]);
    std::thread::scope(|scope| {
        let handles: Vec<_> = runs
            .into_iter()
            .map(|run| {
                scope.spawn(move || {
                    let mut part = Spec::default();
                    let mut diagnostics = Vec::new();
                    for (file, document) in run {
                        load_document(&mut part, &mut diagnostics, file, *document);
                    }
                    (part, diagnostics)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

fn rejected_files(snapshot: &Snapshot) -> Vec<Diagnostic> {
    snapshot
        .rejected
        .iter()
        .map(|rejected| {
            let (code, message, help) = match &rejected.reason {
                Rejection::TooLarge { size, limit } => (
                    Code::FileTooLarge,
                    format!("file is {size} bytes, over the {limit}-byte limit"),
                    "split it into several files, or raise --max-file-size".to_owned(),
                ),
                Rejection::NotUtf8 => (
                    Code::NotUtf8,
                    "file is not valid UTF-8".to_owned(),
                    "save it as UTF-8".to_owned(),
                ),
                Rejection::SymlinkEscapes { target } => (
                    Code::SymlinkEscapes,
                    format!("symbolic link to `{target}` leaves the repository"),
                    "copy the file into the repository instead of linking to it".to_owned(),
                ),
            };
            Diagnostic::error(code, &rejected.path, Position::new(1, 1), message).with_help(help)
        })
        .collect()
}

fn parse_config(file: &SourceFile) -> Result<Config, Diagnostic> {
    let config = toml::from_str::<Config>(&file.text).map_err(|error| {
        let position = error
            .span()
            .map(|span| position_of_offset(&file.text, span.start))
            .unwrap_or_default();
        let message = error.message().trim();
        let first_line = message.lines().next().unwrap_or(message);
        let first_sentence = first_line.split(", expected").next().unwrap_or(first_line);
        Diagnostic::error(Code::InvalidConfig, &file.path, position, first_sentence)
            .with_help(config_help(message))
    })?;
    let prefix = &config.fleet.prefix;
    if prefix.starts_with(super::reserved::INTERNAL_PREFIX) {
        return Err(Diagnostic::error(
            Code::ReservedName,
            &file.path,
            key_position(&file.text, "prefix"),
            format!(
                "[fleet] prefix `{prefix}` starts with `{}`, which clawops keeps for its own objects (lock, records)",
                super::reserved::INTERNAL_PREFIX
            ),
        )
        .with_help("choose another prefix, e.g. the default `hiclaw-`"));
    }
    let timeout = &config.rollout.health_timeout;
    if !super::validate::is_duration(timeout) {
        let position = key_position(&file.text, "health_timeout");
        return Err(Diagnostic::error(
            Code::InvalidDuration,
            &file.path,
            position,
            format!("[rollout] health_timeout `{timeout}` is not a duration"),
        )
        .with_help("write a number and a unit (ms, s, m, h, d), e.g. `120s` or `1h30m`"));
    }
    Ok(config)
}

/// Where `key = …` is first written in a `clawops.toml` (its start of line when no line
/// starts with it).
fn key_position(text: &str, key: &str) -> Position {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed
            .strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='))
        {
            return position_of_offset(text, offset + (line.len() - trimmed.len()));
        }
        offset += line.len();
    }
    Position::default()
}

/// The position of each `[rollout] canary` entry of a `clawops.toml` that parsed.
fn canary_positions(text: &str) -> Vec<Position> {
    toml::from_str::<CanarySpans>(text)
        .map(|spans| {
            spans
                .rollout
                .canary
                .iter()
                .map(|entry| position_of_offset(text, entry.span().start))
                .collect()
        })
        .unwrap_or_default()
}

/// A warning for each connection setting `clawops.toml` writes: where and with which
/// credentials clawops connects is the operator's choice, so the value is ignored (a
/// kubeconfig named by a checkout could run any command through its `exec:` plugin).
fn ignored_connection_settings(file: &SourceFile) -> Vec<Diagnostic> {
    let Ok(spans) = toml::from_str::<ConnectionSpans>(&file.text) else {
        return Vec::new();
    };
    [
        (
            spans.docker.host,
            "[docker] host",
            "remove it; set DOCKER_HOST where clawops runs",
        ),
        (
            spans.kubernetes.kubeconfig,
            "[kubernetes] kubeconfig",
            "remove it; pass --kubeconfig or set KUBECONFIG where clawops runs",
        ),
    ]
    .into_iter()
    .filter_map(|(span, key, help)| {
        let position = position_of_offset(&file.text, span?.span().start);
        Some(
            Diagnostic::warning(
                Code::IgnoredConnectionSetting,
                &file.path,
                position,
                format!(
                    "`{key}` is ignored: where and with which credentials clawops connects is not the repository's to say"
                ),
            )
            .with_help(help),
        )
    })
    .collect()
}

/// A did-you-mean hint for toml's "unknown field `x`, expected one of `a`, `b`" messages.
fn config_help(message: &str) -> String {
    let fallback = "see docs/format.md for every key of clawops.toml and its default".to_owned();
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return fallback;
    };
    let Some((field, expected)) = rest.split_once('`') else {
        return fallback;
    };
    let candidates = expected.split('`').skip(1).step_by(2);
    match did_you_mean(field, candidates) {
        Some(suggestion) => format!("did you mean `{suggestion}`?"),
        None => fallback,
    }
}

/// One-based line and column (in characters) of a byte offset.
pub fn position_of_offset(text: &str, offset: usize) -> Position {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() as u32 + 1;
    let line_start = before.rfind('\n').map_or(0, |index| index + 1);
    let column = before[line_start..].chars().count() as u32 + 1;
    Position::new(line, column)
}

fn load_document(
    spec: &mut Spec,
    diagnostics: &mut Vec<Diagnostic>,
    file: &SourceFile,
    document: DocumentText<'_>,
) {
    let header = match quick_header(document)
        .map_or_else(|| parse_document::<Header>(&file.path, document), Ok)
    {
        Ok(header) => header,
        Err(diagnostic) => {
            diagnostics.push(diagnostic);
            return;
        }
    };
    let kind = match identify(&file.path, document, &header) {
        Ok(kind) => kind,
        Err(diagnostic) => {
            diagnostics.push(diagnostic);
            return;
        }
    };
    let outcome = match kind {
        Kind::Worker => typed(file, document).map(|value| spec.workers.push(value)),
        Kind::Team => typed(file, document).map(|value| spec.teams.push(value)),
        Kind::Human => typed(file, document).map(|value| spec.humans.push(value)),
        Kind::Manager => typed(file, document).map(|value| spec.managers.push(value)),
        Kind::DebugWorker => typed(file, document).map(|value| spec.debug_workers.push(value)),
        Kind::ImageSet => typed(file, document).map(|value| spec.image_sets.push(value)),
        Kind::PilotSetup => typed(file, document).map(|value| spec.pilot_setups.push(value)),
    };
    if let Err(diagnostic) = outcome {
        diagnostics.push(diagnostic);
    }
}

fn typed<S: DeserializeOwned>(
    file: &SourceFile,
    document: DocumentText<'_>,
) -> Result<Sourced<S>, Diagnostic> {
    parse_document::<Resource<S>>(&file.path, document).map(|resource| Sourced {
        file: file.path.clone(),
        position: document.start(),
        resource,
    })
}

/// Reads `apiVersion` and `kind` straight from the text when both are written the usual
/// way (a top-level `key: value` line with a plain or quoted token); `None` sends the
/// document through the YAML parser instead. Halves the parsing work of large fleets.
fn quick_header(document: DocumentText<'_>) -> Option<Header> {
    let mut api_version = None;
    let mut kind = None;
    for (index, line) in document.text.lines().enumerate() {
        let (slot, rest) = if let Some(rest) = line.strip_prefix("apiVersion:") {
            (&mut api_version, rest)
        } else if let Some(rest) = line.strip_prefix("kind:") {
            (&mut kind, rest)
        } else {
            continue;
        };
        if slot.is_some() {
            return None;
        }
        let value = rest.split(" #").next().unwrap_or(rest).trim();
        // The value starts after the key and the blanks that follow it (keys are ASCII).
        let column = line.len() - rest.trim_start().len() + 1;
        let unquoted = value
            .strip_prefix('"')
            .and_then(|inner| inner.strip_suffix('"'))
            .or_else(|| {
                value
                    .strip_prefix('\'')
                    .and_then(|inner| inner.strip_suffix('\''))
            })
            .unwrap_or(value);
        let plain = !unquoted.is_empty()
            && unquoted
                .chars()
                .all(|character| character.is_ascii_alphanumeric() || "./_-".contains(character));
        if !plain {
            return None;
        }
        let position = Position::new(document.line_offset + index as u32 + 1, column as u32);
        *slot = Some(Located::new(unquoted.to_owned(), position));
    }
    Some(Header {
        api_version: Some(api_version?),
        kind: Some(kind?),
    })
}

/// Finds the kind from `apiVersion` and `kind`, or explains what is wrong with them.
fn identify(file: &str, document: DocumentText<'_>, header: &Header) -> Result<Kind, Diagnostic> {
    let Some(kind_name) = &header.kind else {
        return Err(Diagnostic::error(
            Code::UnknownKind,
            file,
            document.start(),
            "document has no `kind`",
        )
        .with_help(format!(
            "add `kind:` with one of: {}; if this file is not part of the fleet, list it in `.clawopsignore` at the fleet root",
            kind_names()
        )));
    };
    let Some(kind) = Kind::from_name(kind_name) else {
        let help = match did_you_mean(kind_name, Kind::ALL.iter().map(|kind| kind.as_str())) {
            Some(suggestion) => format!("did you mean `{suggestion}`?"),
            None => format!(
                "known kinds: {}; if this file is not part of the fleet (a CI file, a kustomization), list it in `.clawopsignore` at the fleet root",
                kind_names()
            ),
        };
        return Err(Diagnostic::error(
            Code::UnknownKind,
            file,
            kind_name.position,
            format!("unknown kind `{kind_name}`"),
        )
        .with_help(help));
    };
    match &header.api_version {
        None => Err(Diagnostic::error(
            Code::UnknownApiVersion,
            file,
            document.start(),
            "document has no `apiVersion`",
        )
        .with_help(format!("add `apiVersion: {}`", kind.api_version()))),
        Some(version) if version.value != kind.api_version() => Err(Diagnostic::error(
            Code::UnknownApiVersion,
            file,
            version.position,
            format!("`{}` is not the apiVersion of {kind}", version.value),
        )
        .with_help(format!("use `apiVersion: {}`", kind.api_version()))),
        Some(_) => Ok(kind),
    }
}

fn kind_names() -> String {
    Kind::ALL
        .iter()
        .map(|kind| kind.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
