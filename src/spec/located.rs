//! `Located<T>`: a value read from YAML together with the line and column it came from.
//!
//! Semantic checks run after deserialization and must point at the exact place a bad value
//! was written; every field such a check looks at is wrapped in `Located`. Equality, order
//! and hashing ignore the position, so a `Located` behaves like its value everywhere else.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A one-based line and column inside a file; `0:0` when unknown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Position {
    /// One-based line number.
    pub line: u32,
    /// One-based column number.
    pub column: u32,
}

impl Position {
    /// A position from one-based line and column numbers.
    pub fn new(line: u32, column: u32) -> Self {
        Self { line, column }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}:{}", self.line, self.column)
    }
}

/// A value together with the position of the YAML node it was read from.
#[derive(Clone, Debug, Default)]
pub struct Located<T> {
    /// The value itself.
    pub value: T,
    /// Where the value was written.
    pub position: Position,
}

impl<T> Located<T> {
    /// A value with a known position.
    pub fn new(value: T, position: Position) -> Self {
        Self { value, position }
    }

    /// A value that was not read from a file (defaults, tests).
    pub fn unplaced(value: T) -> Self {
        Self {
            value,
            position: Position::default(),
        }
    }
}

impl<T> Deref for Located<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: PartialEq> PartialEq for Located<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Eq> Eq for Located<T> {}

impl<T: PartialOrd> PartialOrd for Located<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.value.partial_cmp(&other.value)
    }
}

impl<T: Ord> Ord for Located<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.value.cmp(&other.value)
    }
}

impl<T: Hash> Hash for Located<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.value.hash(state);
    }
}

impl<T: fmt::Display> fmt::Display for Located<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(formatter)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Located<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<T>::deserialize(deserializer)?;
        let offset = super::yaml::LINE_OFFSET.with(std::cell::Cell::get);
        let line = u32::try_from(spanned.referenced.line())
            .unwrap_or(u32::MAX - offset)
            .saturating_add(offset);
        let column = u32::try_from(spanned.referenced.column()).unwrap_or(u32::MAX);
        Ok(Self::new(spanned.value, Position::new(line, column)))
    }
}

impl<T: Serialize> Serialize for Located<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(serializer)
    }
}

impl<T: JsonSchema> JsonSchema for Located<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}
