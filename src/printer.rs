//! The one place output is written: results to stdout, reports to stderr, colour only when
//! the stream is a terminal (or forced with `--color`).
//!
//! It writes through locked `std::io` handles, not the `print!` family of macros, which
//! `Cargo.toml`'s `[lints]` deny everywhere; so it needs no exception to those lints.

use std::io::{IsTerminal, Write};

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};

use crate::cli::ColorChoice;
use crate::source::Snapshot;
use crate::spec::{Diagnostic, Severity};

/// Warnings of one code shown in full, in file order; the others are counted in one line
/// (`validate --format json` lists every one). A fleet that writes `skills` on every agent
/// for a backend that ignores them should get one clear warning, not eleven thousand.
const WARNINGS_SHOWN_PER_CODE: usize = 5;

/// Writes everything a command prints.
#[derive(Clone, Debug)]
pub struct Printer {
    colour_stdout: bool,
    colour_stderr: bool,
}

impl Printer {
    /// A printer following the user's colour choice.
    pub fn new(choice: ColorChoice) -> Self {
        let decide = |is_terminal: bool| match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => is_terminal && std::env::var_os("NO_COLOR").is_none(),
        };
        Self {
            colour_stdout: decide(std::io::stdout().is_terminal()),
            colour_stderr: decide(std::io::stderr().is_terminal()),
        }
    }

    /// Whether results on stdout are coloured.
    pub fn colour_stdout(&self) -> bool {
        self.colour_stdout
    }

    /// Writes a result to stdout.
    pub fn out(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(text.as_bytes());
        if !text.ends_with('\n') {
            let _ = stdout.write_all(b"\n");
        }
    }

    /// Writes a message to stderr.
    pub fn err(&self, text: &str) {
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(text.as_bytes());
        if !text.ends_with('\n') {
            let _ = stderr.write_all(b"\n");
        }
    }

    /// Renders an error of any stage (with its causes and help) to stderr.
    pub fn error(&self, error: &dyn miette::Diagnostic) {
        let mut rendered = String::new();
        let _ = self
            .handler(self.colour_stderr)
            .render_report(&mut rendered, error);
        self.err(&rendered);
    }

    /// Renders diagnostics with the source lines they point at, miette-style, to stdout.
    pub fn diagnostics(&self, diagnostics: &[Diagnostic], snapshot: &Snapshot) {
        if !diagnostics.is_empty() {
            self.out(&self.render_diagnostics(diagnostics, snapshot, self.colour_stdout));
        }
    }

    /// Renders diagnostics like [`Printer::diagnostics`], to stderr: for commands whose
    /// stdout carries their result.
    pub fn diagnostics_on_stderr(&self, diagnostics: &[Diagnostic], snapshot: &Snapshot) {
        if !diagnostics.is_empty() {
            self.err(&self.render_diagnostics(diagnostics, snapshot, self.colour_stderr));
        }
    }

    fn render_diagnostics(
        &self,
        diagnostics: &[Diagnostic],
        snapshot: &Snapshot,
        colour: bool,
    ) -> String {
        let handler = self.handler(colour);
        let mut rendered = String::new();
        let mut warnings: std::collections::BTreeMap<&'static str, usize> = Default::default();
        for diagnostic in diagnostics {
            if diagnostic.severity == Severity::Warning {
                let seen = warnings.entry(diagnostic.code.as_str()).or_default();
                *seen += 1;
                if *seen > WARNINGS_SHOWN_PER_CODE {
                    continue;
                }
            }
            let report = RenderedDiagnostic::new(diagnostic, snapshot);
            let _ = handler.render_report(&mut rendered, &report);
        }
        for (code, seen) in warnings {
            if let Some(more) = seen
                .checked_sub(WARNINGS_SHOWN_PER_CODE)
                .filter(|more| *more > 0)
            {
                rendered.push_str(&format!(
                    "{code}: {more} more warning(s) like the {WARNINGS_SHOWN_PER_CODE} above (`validate --format json` lists every one)\n"
                ));
            }
        }
        rendered
    }

    fn handler(&self, colour: bool) -> GraphicalReportHandler {
        let theme = if colour {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        GraphicalReportHandler::new_themed(theme).with_context_lines(1)
    }
}

/// A [`Diagnostic`] with the source text miette needs to show the line.
#[derive(Debug)]
struct RenderedDiagnostic {
    message: String,
    code: &'static str,
    severity: Severity,
    help: Option<String>,
    source: Option<NamedSource<String>>,
    span: Option<SourceSpan>,
}

impl RenderedDiagnostic {
    fn new(diagnostic: &Diagnostic, snapshot: &Snapshot) -> Self {
        let file = snapshot.file(&diagnostic.file);
        let span = file
            .filter(|_| diagnostic.line > 0)
            .map(|file| span_at(&file.text, diagnostic.line, diagnostic.column));
        let location = if diagnostic.line > 0 {
            format!(
                "{}:{}:{}",
                diagnostic.file, diagnostic.line, diagnostic.column
            )
        } else {
            diagnostic.file.clone()
        };
        Self {
            message: format!("{location}: {}", diagnostic.message),
            code: diagnostic.code.as_str(),
            severity: diagnostic.severity,
            help: diagnostic.help.clone(),
            source: file.map(|file| NamedSource::new(&file.path, file.text.clone())),
            span,
        }
    }
}

/// The byte span of the token at a one-based line and column.
fn span_at(text: &str, line: u32, column: u32) -> SourceSpan {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line as usize - 1)
        .map(str::len)
        .sum();
    let line_text = text[line_start.min(text.len())..]
        .lines()
        .next()
        .unwrap_or("");
    let column_offset: usize = line_text
        .chars()
        .take(column.saturating_sub(1) as usize)
        .map(char::len_utf8)
        .sum();
    let rest = &line_text[column_offset.min(line_text.len())..];
    let length = rest
        .find([' ', ',', ']', '}', '#'])
        .unwrap_or(rest.len())
        .max(1);
    SourceSpan::new(
        (line_start + column_offset).into(),
        length.min(rest.len().max(1)),
    )
}

impl std::fmt::Display for RenderedDiagnostic {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl std::error::Error for RenderedDiagnostic {}

impl miette::Diagnostic for RenderedDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|help| Box::new(help) as Box<dyn std::fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source
            .as_ref()
            .map(|source| source as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.span.map(|span| {
            Box::new(std::iter::once(LabeledSpan::new_with_span(
                Some("here".to_owned()),
                span,
            ))) as Box<dyn Iterator<Item = LabeledSpan>>
        })
    }
}

/// An error and its sources on one line (`a: b: c`), for log fields.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.ends_with(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}
