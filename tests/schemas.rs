//! The committed `schemas/` folder must equal what `clawops schema` generates, and every
//! example file must point editors at an existing schema.

mod support;

use support::{clawops, project_root};

#[test]
fn committed_schemas_are_up_to_date() {
    let folder = project_root().join("schemas");
    let mut stale = Vec::new();
    for (name, text) in clawops::schema::generate() {
        let committed = std::fs::read_to_string(folder.join(&name)).unwrap_or_default();
        if committed != text {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "schemas/ is stale for {stale:?}: run `cargo run -- schema --out schemas`"
    );
}

#[test]
fn the_schema_command_writes_every_schema() {
    let out = tempfile::tempdir().expect("temp dir");
    clawops()
        .args(["schema", "--out"])
        .arg(out.path())
        .assert()
        .success();
    for (name, text) in clawops::schema::generate() {
        assert_eq!(
            std::fs::read_to_string(out.path().join(&name)).expect("schema file"),
            text
        );
    }
}

#[test]
fn example_files_name_an_existing_schema() {
    let mut checked = 0;
    for entry in walk(&project_root().join("examples")) {
        let is_yaml = entry
            .extension()
            .is_some_and(|extension| extension == "yaml" || extension == "yml");
        if !is_yaml {
            continue;
        }
        let text = std::fs::read_to_string(&entry).expect("example file");
        let first = text.lines().next().unwrap_or("");
        let schema = first
            .strip_prefix("# yaml-language-server: $schema=")
            .unwrap_or_else(|| panic!("{} does not start with a schema line", entry.display()));
        // Files that are not fleet documents (the GitHub workflow) name a public schema.
        if schema.starts_with("https://") {
            continue;
        }
        let target = entry.parent().expect("parent").join(schema);
        assert!(
            target.is_file(),
            "{} points at missing {}",
            entry.display(),
            target.display()
        );
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} example files checked");
}

fn walk(folder: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(folder).expect("read folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
