//! Validating `hiclaw.io/v1beta1` objects against upstream HiClaw's own CRDs
//! (`tests/fixtures/hiclaw-crds/`), the way a strict API server treats them.
//!
//! Each CRD's `openAPIV3Schema` becomes a JSON Schema (draft 7: OpenAPI v3's keywords, plus
//! `propertyNames`, which the CRDs use on env maps): an object with `properties` is closed
//! (`additionalProperties: false`) unless it has `x-kubernetes-preserve-unknown-fields:
//! true` or an `additionalProperties` of its own, the `x-kubernetes-*` keys are dropped, and
//! the envelope the CRD leaves out is added: `apiVersion` and `kind` with their one value,
//! and `metadata`, an object with a `name` string. Formats are checked (`email`); formats
//! JSON Schema does not know (`int64`) are not.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::LazyLock;

use jsonschema::{Draft, ValidationError, Validator, error::ValidationErrorKind};
use serde_json::{Value, json};

/// The API version of every HiClaw kind.
pub const API_VERSION: &str = "hiclaw.io/v1beta1";

/// The kinds upstream defines, with their CRD files.
const KINDS: [(&str, &str); 4] = [
    ("Worker", "workers.hiclaw.io.yaml"),
    ("Team", "teams.hiclaw.io.yaml"),
    ("Human", "humans.hiclaw.io.yaml"),
    ("Manager", "managers.hiclaw.io.yaml"),
];

/// One compiled validator per kind, built on first use.
static VALIDATORS: LazyLock<BTreeMap<&'static str, Validator>> = LazyLock::new(|| {
    KINDS
        .iter()
        .map(|(kind, file)| (*kind, validator(kind, file)))
        .collect()
});

/// Checks `object` against the CRD of its `kind`: `Ok` when a strict API server would take
/// it, else every problem as `<JSON path>: <what is wrong>` (paths are JSON pointers,
/// `/spec/workers/0/name`; the whole object is `/`).
pub fn validate(object: &Value) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    match object.get("apiVersion") {
        Some(Value::String(version)) if version == API_VERSION => {}
        Some(other) => problems.push(format!("/apiVersion: must be `{API_VERSION}`, not {other}")),
        None => problems.push(format!(
            "/apiVersion: required field is missing (`{API_VERSION}`)"
        )),
    }
    let kinds: Vec<&str> = KINDS.iter().map(|(kind, _)| *kind).collect();
    let validator = match object.get("kind") {
        Some(Value::String(kind)) => VALIDATORS.get(kind.as_str()),
        _ => None,
    };
    let Some(validator) = validator else {
        let written = object
            .get("kind")
            .map_or("nothing".to_owned(), Value::to_string);
        problems.push(format!("/kind: must be one of {kinds:?}, not {written}"));
        return Err(problems);
    };
    problems.extend(
        validator
            .iter_errors(object)
            .flat_map(|error| describe(&error)),
    );
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// The problems one validation error stands for, each at the path it is about.
fn describe(error: &ValidationError<'_>) -> Vec<String> {
    let at = error.instance_path().as_str();
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => unexpected
            .iter()
            .map(|name| {
                format!(
                    "{at}/{}: unknown field `{name}` (the CRD does not define it)",
                    pointer_token(name)
                )
            })
            .collect(),
        ValidationErrorKind::Required {
            property: Value::String(name),
        } => vec![format!(
            "{at}/{}: required field is missing",
            pointer_token(name)
        )],
        _ => vec![format!("{}: {error}", if at.is_empty() { "/" } else { at })],
    }
}

/// A property name as one JSON pointer token (`~` → `~0`, `/` → `~1`).
fn pointer_token(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// The CRD file of a kind, as JSON.
fn crd(file: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hiclaw-crds")
        .join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    // Upstream's workers CRD writes `spec.env` twice; Helm and kubectl read YAML the way
    // go-yaml does outside its strict mode, where the later key wins (it is the one with
    // `propertyNames`).
    let mut options = serde_saphyr::Options::default();
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::LastWins;
    serde_saphyr::from_str_with_options(&text, options)
        .unwrap_or_else(|error| panic!("{} is not YAML: {error}", path.display()))
}

/// The strict JSON Schema of a kind, compiled.
fn validator(kind: &str, file: &str) -> Validator {
    let definition = crd(file);
    let version = definition["spec"]["versions"]
        .as_array()
        .and_then(|versions| versions.iter().find(|version| version["name"] == "v1beta1"))
        .unwrap_or_else(|| panic!("{file} has no version v1beta1"));
    let mut schema = version["schema"]["openAPIV3Schema"].clone();
    let root = schema
        .as_object_mut()
        .unwrap_or_else(|| panic!("{file}: openAPIV3Schema is not an object"));
    let properties = root
        .entry("properties")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .unwrap_or_else(|| panic!("{file}: properties is not an object"));
    properties.insert(
        "apiVersion".to_owned(),
        json!({"type": "string", "enum": [API_VERSION]}),
    );
    properties.insert("kind".to_owned(), json!({"type": "string", "enum": [kind]}));
    properties.insert(
        "metadata".to_owned(),
        json!({
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string"},
                "namespace": {"type": "string"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            // ObjectMeta has many more fields (uid, generation, …): metadata stays open.
            "x-kubernetes-preserve-unknown-fields": true,
        }),
    );
    let required = root.entry("required").or_insert_with(|| json!([]));
    if let Some(required) = required.as_array_mut() {
        for key in ["apiVersion", "kind", "metadata"] {
            required.push(Value::String(key.to_owned()));
        }
    }
    strict(&mut schema);
    jsonschema::options()
        .with_draft(Draft::Draft7)
        .should_validate_formats(true)
        .should_ignore_unknown_formats(true)
        .build(&schema)
        .unwrap_or_else(|error| panic!("{file}: the converted schema does not compile: {error}"))
}

/// Closes every object schema with `properties` that neither preserves unknown fields nor
/// has `additionalProperties` of its own, and drops the `x-kubernetes-*` keys, throughout.
fn strict(schema: &mut Value) {
    let Some(fields) = schema.as_object_mut() else {
        return;
    };
    let preserves = fields.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    fields.retain(|key, _| !key.starts_with("x-kubernetes-"));
    if fields.contains_key("properties")
        && !preserves
        && !fields.contains_key("additionalProperties")
    {
        fields.insert("additionalProperties".to_owned(), Value::Bool(false));
    }
    if let Some(Value::Object(properties)) = fields.get_mut("properties") {
        properties.values_mut().for_each(strict);
    }
    for key in ["items", "additionalProperties", "not", "propertyNames"] {
        if let Some(nested) = fields.get_mut(key) {
            strict(nested);
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(schemas)) = fields.get_mut(key) {
            schemas.iter_mut().for_each(strict);
        }
    }
}
