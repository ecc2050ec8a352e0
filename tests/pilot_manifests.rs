//! `clawops pilot manifests` on the multi-region content sync example: the manifests must
//! be exactly those of the Pilot skill card (placeholders restored with prefix `acme`),
//! key order included, on stdout and as files with `--out`.

mod support;

use std::path::PathBuf;

use serde_json::Value;

const SETUP: &str = "multi-region-content-sync";
const HOSTNAMES: [&str; 4] = [
    "acme-origin",
    "acme-edge-us",
    "acme-edge-eu",
    "acme-edge-asia",
];

fn root() -> std::path::PathBuf {
    support::project_root()
}

fn clawops() -> assert_cmd::Command {
    let mut command = support::clawops();
    command.current_dir(root());
    command
}

fn expected() -> Value {
    let path = root().join("tests/fixtures/pilot/multi-region-content-sync.expected.json");
    let text = std::fs::read_to_string(&path).expect("expected manifests");
    serde_json::from_str(&text).expect("expected manifests are JSON")
}

/// Every object key with its path, in document order: equal lists mean equal key order.
fn key_order(value: &Value) -> Vec<String> {
    fn walk(value: &Value, path: &str, keys: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    let child_path = format!("{path}/{key}");
                    keys.push(child_path.clone());
                    walk(child, &child_path, keys);
                }
            }
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    walk(item, &format!("{path}/{index}"), keys);
                }
            }
            _ => {}
        }
    }
    let mut keys = Vec::new();
    walk(value, "", &mut keys);
    keys
}

fn assert_same(actual: &Value, expected: &Value) {
    assert_eq!(actual, expected);
    assert_eq!(key_order(actual), key_order(expected));
}

#[test]
fn manifests_on_stdout_are_the_seed_manifests() {
    let output = clawops()
        .args(["pilot", "manifests", "examples/multi-region-content-sync"])
        .output()
        .expect("clawops runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let actual: Value = serde_json::from_slice(&output.stdout).expect("stdout is JSON");
    assert_same(&actual, &expected());
}

#[test]
fn manifests_with_out_are_one_file_per_hostname() {
    let folder = tempfile::tempdir().expect("temporary folder");
    clawops()
        .args([
            "pilot",
            "manifests",
            "examples/multi-region-content-sync",
            "--out",
        ])
        .arg(folder.path())
        .assert()
        .success();
    let expected = expected();
    for hostname in HOSTNAMES {
        let path: PathBuf = folder.path().join(hostname).join(format!("{SETUP}.json"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let actual: Value = serde_json::from_str(&text).expect("manifest is JSON");
        assert_same(&actual, &expected[hostname]);
    }
    let hosts = std::fs::read_dir(folder.path())
        .expect("out folder")
        .count();
    assert_eq!(hosts, HOSTNAMES.len());
}

#[test]
fn an_invalid_setup_is_refused_with_its_diagnostics() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let output = clawops()
        .args([
            "pilot",
            "manifests",
            "tests/fixtures/invalid/pilot-retired-port",
            "--out",
        ])
        .arg(folder.path())
        .output()
        .expect("clawops runs");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("pilot-retired-port"), "{stderr}");
    assert!(stderr.contains("setup.yaml:39:13"), "{stderr}");
    let written = std::fs::read_dir(folder.path())
        .expect("out folder")
        .count();
    assert_eq!(written, 0);
}
