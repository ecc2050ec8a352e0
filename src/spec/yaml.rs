//! Reading YAML safely: strict scalar rules, limits against alias bombs, one document at a
//! time, and every parse error turned into a [`Diagnostic`] with the right line.
//!
//! A file may hold several documents separated by `---`. Each document is parsed on its
//! own so one broken document does not hide the problems of the others; positions are
//! shifted by the document's first line (see [`LINE_OFFSET`]) so they refer to the file.

use std::cell::Cell;

use serde::de::DeserializeOwned;
use serde_saphyr::{Budget, DuplicateKeyPolicy, Error as YamlError, Options};

use super::diagnostic::{Code, Diagnostic, did_you_mean};
use super::located::Position;

thread_local! {
    /// Lines before the document being parsed on this thread; added to every position
    /// read while it is parsed. Set only by [`parse_document`].
    pub(super) static LINE_OFFSET: Cell<u32> = const { Cell::new(0) };
}

/// One `---`-separated document of a file.
#[derive(Clone, Copy, Debug)]
pub struct DocumentText<'a> {
    /// The document's text, starting at its first line.
    pub text: &'a str,
    /// Lines of the file before this document.
    pub line_offset: u32,
}

impl DocumentText<'_> {
    /// Where the document starts in the file.
    pub fn start(&self) -> Position {
        Position::new(self.line_offset + 1, 1)
    }

    /// Whether the document holds nothing but markers, comments and blank lines.
    pub fn is_empty(&self) -> bool {
        self.text.lines().all(|line| {
            let trimmed = line.trim();
            trimmed.is_empty() || trimmed.starts_with('#') || trimmed == "---" || trimmed == "..."
        })
    }
}

/// Splits a file into its documents at lines that start with `---`.
pub fn split_documents(text: &str) -> Vec<DocumentText<'_>> {
    let mut documents = Vec::new();
    let mut start = 0usize;
    let mut start_line = 0u32;
    let mut offset = 0usize;
    for (line_index, line) in text.split_inclusive('\n').enumerate() {
        let content = line.trim_end_matches(['\n', '\r']);
        let is_marker =
            content == "---" || content.starts_with("--- ") || content.starts_with("---\t");
        if is_marker && offset > start {
            documents.push(DocumentText {
                text: &text[start..offset],
                line_offset: start_line,
            });
            start = offset;
            start_line = line_index as u32;
        }
        offset += line.len();
    }
    if start < text.len() || documents.is_empty() {
        documents.push(DocumentText {
            text: &text[start..],
            line_offset: start_line,
        });
    }
    documents
}

/// Parser options: YAML 1.2 booleans only, `0755`/`1_000` kept as strings in untyped
/// values, duplicate keys refused, and tight limits on aliases so a bomb fails at once.
pub fn options() -> Options {
    let mut options = Options::default();
    options.strict_booleans = true;
    options.leading_zero_numbers_as_strings = true;
    options.underscored_numbers_as_strings = true;
    options.duplicate_keys = DuplicateKeyPolicy::Error;
    options.with_snippet = false;
    options.alias_limits.max_total_replayed_events = 200_000;
    options.alias_limits.max_replay_stack_depth = 16;
    let mut budget = Budget::default();
    budget.max_aliases = 10_000;
    budget.max_depth = 48;
    options.budget = Some(budget);
    options
}

/// Parses one document into `T`, or describes why not.
pub fn parse_document<T: DeserializeOwned>(
    file: &str,
    document: DocumentText<'_>,
) -> Result<T, Diagnostic> {
    LINE_OFFSET.with(|offset| offset.set(document.line_offset));
    let result = serde_saphyr::from_str_with_options::<T>(document.text, options());
    LINE_OFFSET.with(|offset| offset.set(0));
    result.map_err(|error| diagnose(file, document, &error))
}

/// Turns a parser error into a diagnostic with a stable code and a hint.
fn diagnose(file: &str, document: DocumentText<'_>, error: &YamlError) -> Diagnostic {
    let error = error.without_snippet();
    let position = error
        .location()
        .filter(|location| location.line() > 0)
        .map(|location| {
            Position::new(
                document.line_offset
                    + u32::try_from(location.line()).unwrap_or(u32::MAX - document.line_offset),
                u32::try_from(location.column()).unwrap_or(0),
            )
        })
        .unwrap_or_else(|| document.start());
    let (code, message, help) = describe(error);
    let diagnostic = Diagnostic::error(code, file, position, message);
    match help {
        Some(help) => diagnostic.with_help(help),
        None => diagnostic,
    }
}

fn describe(error: &YamlError) -> (Code, String, Option<String>) {
    match error {
        YamlError::AliasError { error, .. } => {
            let (code, message, help) = describe(error);
            (code, format!("{message} (through an alias)"), help)
        }
        YamlError::Unexpected { expected, .. } => (
            Code::YamlSyntax,
            format!("expected {expected}"),
            Some("each document is a mapping with apiVersion, kind, metadata and spec".to_owned()),
        ),
        YamlError::SerdeUnknownField {
            field, expected, ..
        } => {
            let help = match did_you_mean(field, expected.iter().copied()) {
                Some(suggestion) => format!("did you mean `{suggestion}`?"),
                None => format!("allowed here: {}", expected.join(", ")),
            };
            (
                Code::UnknownField,
                format!("unknown field `{field}`"),
                Some(help),
            )
        }
        YamlError::SerdeMissingField { field, .. } => (
            Code::MissingField,
            format!("missing required field `{field}`"),
            Some(format!("add `{field}:` to this mapping")),
        ),
        YamlError::SerdeUnknownVariant {
            variant, expected, ..
        } => {
            let help = match did_you_mean(variant, expected.iter().copied()) {
                Some(suggestion) => format!("did you mean `{suggestion}`?"),
                None => format!("use one of: {}", expected.join(", ")),
            };
            (
                Code::InvalidValue,
                format!("`{variant}` is not an allowed value"),
                Some(help),
            )
        }
        YamlError::SerdeInvalidType {
            unexpected,
            expected,
            ..
        }
        | YamlError::SerdeInvalidValue {
            unexpected,
            expected,
            ..
        } => (
            Code::InvalidValue,
            format!("invalid value: {unexpected}, expected {expected}"),
            Some(format!("write {expected} here")),
        ),
        YamlError::Message { msg, .. } => (
            Code::InvalidValue,
            strip_location(msg),
            Some("see docs/format.md for the forms this field takes".to_owned()),
        ),
        YamlError::NullIntoString { .. } => (
            Code::InvalidValue,
            "a null value where text is expected".to_owned(),
            Some("write a value, quote it (\"null\"), or remove the key".to_owned()),
        ),
        YamlError::InvalidBooleanStrict { .. } => (
            Code::InvalidValue,
            strip_location(&error.to_string()),
            Some("write `true` or `false` (YAML 1.2 booleans)".to_owned()),
        ),
        YamlError::DuplicateMappingKey { key, .. } => (
            Code::DuplicateKey,
            match key {
                Some(key) => format!("duplicate key `{key}`"),
                None => "duplicate key".to_owned(),
            },
            Some("remove one of the two entries".to_owned()),
        ),
        YamlError::Budget { .. }
        | YamlError::AliasReplayLimitExceeded { .. }
        | YamlError::AliasExpansionLimitExceeded { .. }
        | YamlError::AliasReplayStackDepthExceeded { .. }
        | YamlError::AliasReplayCounterOverflow { .. } => (
            Code::YamlTooComplex,
            format!("refused: {}", strip_location(&error.to_string())),
            Some(
                "config files need no deep nesting or mass alias expansion; write the values out"
                    .to_owned(),
            ),
        ),
        other => (
            Code::YamlSyntax,
            strip_location(&other.to_string()),
            Some("fix the YAML syntax at this position".to_owned()),
        ),
    }
}

/// Drops a trailing ` at line X, column Y` the parser adds; the diagnostic has its own.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_documents_at_markers_keeping_line_offsets() {
        let text = "a: 1\n---\nb: 2\n--- \nc: 3\n";
        let documents = split_documents(text);
        assert_eq!(documents.len(), 3);
        assert_eq!(documents[0].line_offset, 0);
        assert_eq!(documents[1].line_offset, 1);
        assert_eq!(documents[1].text, "---\nb: 2\n");
        assert_eq!(documents[2].line_offset, 3);
    }

    #[test]
    fn a_leading_marker_does_not_make_an_empty_first_document() {
        let documents = split_documents("---\na: 1\n");
        assert_eq!(documents.len(), 1);
        assert_eq!(documents[0].line_offset, 0);
    }

    #[test]
    fn comment_only_documents_are_empty() {
        let documents = split_documents("# header\n---\na: 1\n");
        assert!(documents[0].is_empty());
        assert!(!documents[1].is_empty());
    }
}
