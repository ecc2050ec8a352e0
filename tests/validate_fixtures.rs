//! Every folder under `tests/fixtures/invalid/` is a small config repository that breaks
//! one rule. Its `expected` file lists, one per line, the diagnostics validation must
//! report: `<severity> <code> <file>:<line>:<column>`. An optional first line
//! `max-file-size <bytes>` lowers the file size limit for that fixture.
//!
//! Each is checked as `clawops validate` checks it, with the rules of the target its
//! `clawops.toml` names (docker when it has none). The test also checks that every
//! diagnostic code has at least one fixture.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clawops::source::{self, SourceOptions};
use clawops::spec::Code;

/// Codes no YAML file can produce, so no fixture can cover them. A PilotSetup says which
/// roles exchange which topics; each role's manifest is derived from it, so every send has
/// its receive and handshakes are mutual by construction. Validation still runs the check
/// over the derived manifests as a safety net; the check itself is unit-tested on broken,
/// hand-made manifests in `src/pilot/consistency.rs`.
const UNREACHABLE_FROM_YAML: [Code; 2] = [Code::PilotUnpairedFlow, Code::PilotHandshakeMismatch];

fn fixture_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid")
}

struct Fixture {
    name: String,
    expected: BTreeSet<String>,
    actual: BTreeSet<String>,
    codes: BTreeSet<String>,
}

fn run_fixture(folder: &Path) -> Fixture {
    let name = folder
        .file_name()
        .expect("a fixture folder has a name")
        .to_string_lossy()
        .into_owned();
    let expected_text = std::fs::read_to_string(folder.join("expected"))
        .unwrap_or_else(|error| panic!("fixture {name} needs an `expected` file: {error}"));
    let mut options = SourceOptions::new(folder.to_string_lossy());
    let mut expected = BTreeSet::new();
    for line in expected_text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
    {
        if let Some(limit) = line.strip_prefix("max-file-size ") {
            options.max_file_size = limit.parse().expect("max-file-size takes a number");
        } else {
            expected.insert(line.to_owned());
        }
    }
    let snapshot = source::read(&options).unwrap_or_else(|error| panic!("fixture {name}: {error}"));
    // What `clawops validate` reports: the spec's rules and its target's (`clawops.toml`).
    let checked = clawops::engine::load::check_for_target(&snapshot, None);
    let actual: BTreeSet<String> = checked
        .diagnostics
        .iter()
        .map(|diagnostic| {
            format!(
                "{} {} {}:{}:{}",
                diagnostic.severity,
                diagnostic.code,
                diagnostic.file,
                diagnostic.line,
                diagnostic.column
            )
        })
        .collect();
    let codes = checked
        .diagnostics
        .iter()
        .map(|diagnostic| diagnostic.code.as_str().to_owned())
        .collect();
    Fixture {
        name,
        expected,
        actual,
        codes,
    }
}

#[test]
fn every_invalid_fixture_reports_exactly_its_expected_diagnostics() {
    let mut folders: Vec<PathBuf> = std::fs::read_dir(fixture_root())
        .expect("fixture folder")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.is_dir())
        .collect();
    folders.sort();
    assert!(!folders.is_empty(), "no fixtures found");
    let mut failures = Vec::new();
    let mut covered = BTreeSet::new();
    for folder in &folders {
        let fixture = run_fixture(folder);
        if fixture.expected.is_empty() {
            failures.push(format!("{}: `expected` lists no diagnostic", fixture.name));
        }
        if fixture.expected != fixture.actual {
            failures.push(format!(
                "{}:\n  expected: {:?}\n  actual:   {:?}",
                fixture.name, fixture.expected, fixture.actual
            ));
        }
        covered.extend(fixture.codes);
    }
    let uncovered: Vec<&str> = Code::ALL
        .iter()
        .filter(|code| !UNREACHABLE_FROM_YAML.contains(code))
        .map(|code| code.as_str())
        .filter(|code| !covered.contains(*code))
        .collect();
    if !uncovered.is_empty() {
        failures.push(format!("codes without a fixture: {uncovered:?}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
