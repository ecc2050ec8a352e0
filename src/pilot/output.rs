//! Where manifests go: one JSON object keyed by hostname (stdout), or one file per role at
//! `<folder>/<hostname>/<setup>.json`, the layout of `~/.pilot/setups/` on each host.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use super::manifest::Manifest;

/// Why manifests could not be written.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ManifestOutputError {
    /// Two setups give a manifest to the same hostname, so one object cannot hold both.
    #[error("hostname {hostname} has a manifest in setup {first} and in setup {second}")]
    #[diagnostic(
        code(clawops::pilot::hostname_in_several_setups),
        help("use --out DIR to write one file per setup and host")
    )]
    KeyByHostname {
        /// The hostname.
        hostname: String,
        /// The first setup.
        first: String,
        /// The other setup.
        second: String,
    },
    /// Turning a manifest into JSON failed.
    #[error("could not write {subject} as JSON")]
    #[diagnostic(code(clawops::pilot::serialize))]
    Serialize {
        /// What was being written, e.g. `the manifest of acme-origin in setup sync`.
        subject: String,
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },
    /// Creating a host's folder failed.
    #[error("could not create folder {path}")]
    #[diagnostic(code(clawops::pilot::create_folder))]
    CreateFolder {
        /// The folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Writing a manifest file failed.
    #[error("could not write {path}")]
    #[diagnostic(code(clawops::pilot::write_file))]
    WriteFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Every manifest as one pretty JSON object keyed by hostname, in the given order.
pub fn manifests_json(manifests: &[Manifest]) -> Result<String, ManifestOutputError> {
    let mut by_hostname: IndexMap<&str, &Manifest> = IndexMap::new();
    for manifest in manifests {
        if let Some(first) = by_hostname.insert(&manifest.hostname, manifest) {
            return Err(ManifestOutputError::KeyByHostname {
                hostname: manifest.hostname.clone(),
                first: first.setup.clone(),
                second: manifest.setup.clone(),
            });
        }
    }
    serde_json::to_string_pretty(&by_hostname).map_err(|source| ManifestOutputError::Serialize {
        subject: "the manifests".to_owned(),
        source,
    })
}

/// Writes each manifest to `<folder>/<hostname>/<setup>.json`; returns the files written.
pub fn write_manifests(
    folder: &Path,
    manifests: &[Manifest],
) -> Result<Vec<PathBuf>, ManifestOutputError> {
    let mut written = Vec::with_capacity(manifests.len());
    for manifest in manifests {
        let host_folder = folder.join(&manifest.hostname);
        std::fs::create_dir_all(&host_folder).map_err(|source| {
            ManifestOutputError::CreateFolder {
                path: host_folder.clone(),
                source,
            }
        })?;
        let mut json = serde_json::to_string_pretty(manifest).map_err(|source| {
            ManifestOutputError::Serialize {
                subject: format!(
                    "the manifest of {} in setup {}",
                    manifest.hostname, manifest.setup
                ),
                source,
            }
        })?;
        json.push('\n');
        let path = host_folder.join(format!("{}.json", manifest.setup));
        std::fs::write(&path, json).map_err(|source| ManifestOutputError::WriteFile {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pilot::manifest::manifests;
    use crate::pilot::test_support::{flow, role, setup};

    fn pair(setup_slug: &str) -> Vec<Manifest> {
        let spec = setup(
            "acme",
            vec![role("a"), role("b")],
            vec![flow(&["a"], &["b"], 1001, "one")],
        );
        manifests(setup_slug, &spec)
    }

    #[test]
    fn json_is_keyed_by_hostname_in_order() {
        let json = manifests_json(&pair("sync")).expect("json");
        let value: serde_json::Value = serde_json::from_str(&json).expect("parses");
        let keys: Vec<&String> = value.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["acme-a", "acme-b"]);
        assert_eq!(value["acme-b"]["data_flows"][0]["direction"], "receive");
    }

    #[test]
    fn a_hostname_in_two_setups_cannot_be_one_key() {
        let mut both = pair("first");
        both.extend(pair("second"));
        let error = manifests_json(&both).expect_err("collision");
        assert!(matches!(
            error,
            ManifestOutputError::KeyByHostname { ref hostname, .. } if hostname == "acme-a"
        ));
    }

    #[test]
    fn files_go_to_hostname_folders_named_after_the_setup() {
        let folder = tempfile::tempdir().expect("tempdir");
        let written = write_manifests(folder.path(), &pair("sync")).expect("written");
        assert_eq!(
            written,
            [
                folder.path().join("acme-a/sync.json"),
                folder.path().join("acme-b/sync.json")
            ]
        );
        let text = std::fs::read_to_string(&written[0]).expect("readable");
        assert!(text.starts_with("{\n  \"setup\": \"sync\",") && text.ends_with("}\n"));
    }
}
