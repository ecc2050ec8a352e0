//! JSON Schemas generated from the Rust types, one per kind plus one for `clawops.toml`,
//! so editors check files as people type (`# yaml-language-server: $schema=...`).

use std::path::{Path, PathBuf};

use schemars::{JsonSchema, Schema};
use serde_json::json;

use crate::spec::clawops::{ImageSetSpec, PilotSetupSpec};
use crate::spec::config::Config;
use crate::spec::document::{Kind, Resource};
use crate::spec::hiclaw::{DebugWorkerSpec, HumanSpec, ManagerSpec, TeamSpec, WorkerSpec};

/// Why schemas could not be written.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SchemaError {
    /// Creating the folder or writing a file failed.
    #[error("could not write {path}")]
    #[diagnostic(code(clawops::schema::write))]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The file name of a kind's schema, e.g. `team.json`.
pub fn file_name(kind: Kind) -> String {
    format!("{}.json", kind.as_str().to_ascii_lowercase())
}

/// The file name of the `clawops.toml` schema.
pub const CONFIG_SCHEMA_FILE: &str = "clawops-toml.json";

/// Every schema as (file name, pretty JSON text ending in a newline).
pub fn generate() -> Vec<(String, String)> {
    let mut schemas: Vec<(String, Schema)> = Kind::ALL
        .into_iter()
        .map(|kind| (file_name(kind), kind_schema(kind)))
        .collect();
    let mut config = schemars::schema_for!(Config);
    config.insert("title".to_owned(), json!("clawops.toml"));
    schemas.push((CONFIG_SCHEMA_FILE.to_owned(), config));
    schemas
        .into_iter()
        .map(|(name, schema)| {
            let text = serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n";
            (name, text)
        })
        .collect()
}

/// Writes every schema into `out`, creating it; returns the paths written.
pub fn write_all(out: &Path) -> Result<Vec<PathBuf>, SchemaError> {
    std::fs::create_dir_all(out).map_err(|source| SchemaError::Write {
        path: out.to_path_buf(),
        source,
    })?;
    generate()
        .into_iter()
        .map(|(name, text)| {
            let path = out.join(name);
            std::fs::write(&path, text).map_err(|source| SchemaError::Write {
                path: path.clone(),
                source,
            })?;
            Ok(path)
        })
        .collect()
}

fn kind_schema(kind: Kind) -> Schema {
    let mut schema = match kind {
        Kind::Worker => document_schema::<WorkerSpec>(),
        Kind::Team => document_schema::<TeamSpec>(),
        Kind::Human => document_schema::<HumanSpec>(),
        Kind::Manager => document_schema::<ManagerSpec>(),
        Kind::DebugWorker => document_schema::<DebugWorkerSpec>(),
        Kind::ImageSet => document_schema::<ImageSetSpec>(),
        Kind::PilotSetup => document_schema::<PilotSetupSpec>(),
    };
    schema.insert("title".to_owned(), json!(kind.as_str()));
    schema.insert(
        "description".to_owned(),
        json!(format!(
            "A {kind} document ({}), as clawops reads it.",
            kind.api_version()
        )),
    );
    if let Some(properties) = schema
        .get_mut("properties")
        .and_then(|value| value.as_object_mut())
    {
        properties.insert(
            "apiVersion".to_owned(),
            json!({"const": kind.api_version()}),
        );
        properties.insert("kind".to_owned(), json!({"const": kind.as_str()}));
        properties.insert(
            "status".to_owned(),
            json!({"description": "Written by controllers; ignored."}),
        );
    }
    schema
}

fn document_schema<S: JsonSchema>() -> Schema {
    schemars::schema_for!(Resource<S>)
}
