//! Environment variable values: text as written, or `!secret NAME`, a reference to a
//! secret the backend resolves at apply time so it never sits in git.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An environment variable's value: text as written, or a reference to a secret that the
/// backend resolves at apply time (written `KEY: !secret NAME`), so the secret never sits
/// in git.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(untagged)]
pub enum EnvValue {
    /// A value written in the file (`yes`, `0755` and `1.50` stay text as written).
    Text(String),
    /// A reference to a secret by name.
    SecretRef {
        /// The secret's name.
        #[serde(rename = "secretRef")]
        secret_ref: String,
    },
}

/// The YAML tag that marks an env value as a secret reference.
pub const SECRET_TAG: &str = "!secret";

impl<'de> Deserialize<'de> for EnvValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let serde_saphyr::Tagged(value, tag) =
            serde_saphyr::Tagged::<String>::deserialize(deserializer)?;
        match tag.as_deref() {
            None | Some("!!str") | Some("tag:yaml.org,2002:str") => Ok(EnvValue::Text(value)),
            Some(SECRET_TAG) => Ok(EnvValue::SecretRef { secret_ref: value }),
            Some(other) => Err(serde::de::Error::custom(format!(
                "unknown tag `{other}` on an env value; write `{SECRET_TAG} NAME` for a secret reference"
            ))),
        }
    }
}

impl JsonSchema for EnvValue {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "EnvValue".into()
    }

    fn json_schema(_generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A text value, or `!secret NAME`: a secret resolved by the backend at apply time.",
            "type": ["string", "number", "boolean"]
        })
    }
}
