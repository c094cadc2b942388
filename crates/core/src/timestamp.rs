//! Times at the API's edge: RFC 3339 in UTC with milliseconds
//! (`2026-12-03T10:15:00.000Z`), one format for every resource. hookpost keeps
//! milliseconds since the epoch inside; these turn one into the other, and read either
//! (a record stored before, a client that sends milliseconds).
//!
//! As a serde field attribute: `#[serde(with = "hookpost_core::timestamp")]` for an
//! `i64`, `#[serde(with = "hookpost_core::timestamp::option")]` for an `Option<i64>`.

use serde::{Deserialize, Deserializer, Serializer};

/// `text` as milliseconds since the epoch: RFC 3339 (any offset), or a whole number of
/// milliseconds.
pub fn parse(text: &str) -> Option<i64> {
    if let Ok(ms) = text.parse::<i64>() {
        return Some(ms);
    }
    let at =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Either {
    Ms(i64),
    Text(String),
}

impl Either {
    fn ms<E: serde::de::Error>(self) -> Result<i64, E> {
        match self {
            Either::Ms(ms) => Ok(ms),
            Either::Text(t) => {
                parse(&t).ok_or_else(|| E::custom(format!("`{t}` is not an RFC 3339 time")))
            }
        }
    }
}

pub fn serialize<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::rfc3339(*ms))
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Either::deserialize(d)?.ms()
}

/// The same for an optional time (`null` when absent).
pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(ms: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match ms {
            Some(ms) => s.serialize_str(&crate::rfc3339(*ms)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        Option::<Either>::deserialize(d)?
            .map(Either::ms)
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, Deserialize, Debug, PartialEq)]
    struct At {
        #[serde(with = "crate::timestamp")]
        at: i64,
        #[serde(with = "crate::timestamp::option", default)]
        next: Option<i64>,
    }

    #[test]
    fn times_go_out_as_rfc3339_and_come_in_as_either() {
        let at = At {
            at: 1_764_756_900_123,
            next: None,
        };
        let text = serde_json::to_string(&at).unwrap();
        assert_eq!(text, r#"{"at":"2025-12-03T10:15:00.123Z","next":null}"#);
        assert_eq!(serde_json::from_str::<At>(&text).unwrap(), at);
        let old: At = serde_json::from_str(r#"{"at":1764756900123,"next":5}"#).unwrap();
        assert_eq!((old.at, old.next), (1_764_756_900_123, Some(5)));
        assert!(serde_json::from_str::<At>(r#"{"at":"yesterday"}"#).is_err());
        assert_eq!(
            parse("2025-12-03T11:15:00.123+01:00"),
            Some(1_764_756_900_123)
        );
        assert_eq!(parse("1764756900123"), Some(1_764_756_900_123));
        assert_eq!(parse("2025-12-03"), None);
    }
}
