//! How an optional field of a JSON input reads. Absent is `None` (through
//! `#[serde(default)]`); present, it goes through one of these. And what a stored text
//! field may hold.

use serde::Deserialize;
use serde_json::Value;

use crate::ServiceError;

/// Refuses U+0000 in a text that PostgreSQL will store: its `text` cannot hold it.
pub fn storable(field: &'static str, text: &str) -> Result<(), ServiceError> {
    match text.contains('\0') {
        true => Err(ServiceError::invalid(field, "may not contain U+0000")),
        false => Ok(()),
    }
}

/// A field that is present, `null` included (`Some(Value::Null)` clears it); absent
/// fields stay `None` through `default`.
pub fn given<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// A field that, when present, holds a `T`: `null` is refused like any other wrong
/// type (it clears only the fields that say so, through [`given`]).
pub fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}
