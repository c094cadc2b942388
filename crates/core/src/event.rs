//! The producer's event (README, "Events"), validated the same way whether it came
//! over HTTP or straight from the exchange.

use crate::labels::DeadLetterReason;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A valid event. `data` keeps the producer's bytes, so the payload a receiver gets is
/// exactly what was published.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub id: String,
    pub tenant: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<String>,
    pub data: Box<RawValue>,
    /// When ingest accepted it (ms since the epoch): tells the worker an event came
    /// through ingest (counted there) rather than straight from the exchange. Never taken
    /// from an HTTP body.
    #[serde(rename = "accepted_at_ms", skip_serializing_if = "Option::is_none")]
    pub accepted_at: Option<i64>,
    /// The W3C trace context it came with (an AMQP header, not the body).
    #[serde(skip)]
    pub traceparent: Option<String>,
}

/// Why an event was refused; `code` is stable (API error code, dead-letter reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EventError {
    /// `reason`'s label.
    pub code: &'static str,
    pub reason: DeadLetterReason,
    pub message: String,
}

impl EventError {
    fn new(reason: DeadLetterReason, message: impl Into<String>) -> Self {
        Self {
            code: reason.as_str(),
            reason,
            message: message.into(),
        }
    }
}

#[derive(Deserialize)]
struct Wire {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    tenant: Option<String>,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    occurred_at: Option<String>,
    #[serde(default)]
    data: Option<Box<RawValue>>,
    #[serde(default)]
    accepted_at_ms: Option<i64>,
}

/// Longest event id, type or tenant id accepted.
pub const MAX_NAME_LEN: usize = 128;
/// Deepest nesting of `data` accepted (`data` itself is level 1). Deeper data could not
/// be parsed for filters (serde_json stops at 128) and only serves to exhaust a stack.
pub const MAX_DATA_DEPTH: usize = 64;

impl Event {
    /// Parses and validates one event. `tenant` is the API key's tenant on the HTTP path
    /// (the body may then omit it, and may not name another); `None` on the exchange path,
    /// where the body must name it.
    pub fn parse(bytes: &[u8], tenant: Option<&str>) -> Result<Event, EventError> {
        Self::parse_with(bytes, tenant, || crate::ids::random_id("evt"))
    }

    /// Parses an event taken from an event queue. One whose body has no `id` gets the
    /// message's `message_id` (when it is a valid id), else one derived from the body's
    /// bytes: a message RabbitMQ delivers again keeps its id, so it is claimed once and not
    /// taken for a new event. (Two identical bodies without either are one event.)
    pub fn parse_published(bytes: &[u8], message_id: Option<&str>) -> Result<Event, EventError> {
        Self::parse_with(bytes, None, || match message_id {
            Some(id) if check_name("id", id).is_ok() => id.to_owned(),
            _ => derived_id(bytes),
        })
    }

    fn parse_with(
        bytes: &[u8],
        tenant: Option<&str>,
        no_id: impl FnOnce() -> String,
    ) -> Result<Event, EventError> {
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            // serde would read `[]` as a struct of defaults; only an object is an event.
            return Err(
                match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                    Ok(_) => EventError::new(
                        DeadLetterReason::InvalidEvent,
                        "the event must be a JSON object",
                    ),
                    Err(e) => EventError::new(
                        DeadLetterReason::InvalidJson,
                        format!("the body is not valid JSON: {e}"),
                    ),
                },
            );
        }
        let wire: Wire = serde_json::from_slice(bytes).map_err(|e| {
            if e.is_data() {
                EventError::new(
                    DeadLetterReason::InvalidEvent,
                    format!("the event must be a JSON object: {e}"),
                )
            } else {
                EventError::new(
                    DeadLetterReason::InvalidJson,
                    format!("the body is not valid JSON: {e}"),
                )
            }
        })?;
        Self::from_wire(wire, tenant, no_id)
    }

    /// Validates an event that is one element of a batch.
    pub fn from_raw(raw: &RawValue, tenant: Option<&str>) -> Result<Event, EventError> {
        Self::parse(raw.get().as_bytes(), tenant)
    }

    fn from_wire(
        wire: Wire,
        tenant: Option<&str>,
        no_id: impl FnOnce() -> String,
    ) -> Result<Event, EventError> {
        // Only ingest sets it, on what it publishes; an API client cannot.
        let accepted_at = if tenant.is_none() {
            wire.accepted_at_ms
        } else {
            None
        };
        let kind = wire
            .kind
            .ok_or_else(|| EventError::new(DeadLetterReason::MissingField, "`type` is required"))?;
        check_name("type", &kind)?;
        let data = wire
            .data
            .ok_or_else(|| EventError::new(DeadLetterReason::MissingField, "`data` is required"))?;
        if !data.get().starts_with('{') {
            return Err(EventError::new(
                DeadLetterReason::InvalidField,
                "`data` must be a JSON object",
            ));
        }
        if crate::nesting::deeper_than(data.get().as_bytes(), MAX_DATA_DEPTH) {
            return Err(EventError::new(
                DeadLetterReason::TooDeep,
                format!("`data` is nested deeper than {MAX_DATA_DEPTH} levels"),
            ));
        }
        let tenant = match (tenant, wire.tenant) {
            (Some(key), Some(body)) if key != body => {
                return Err(EventError::new(
                    DeadLetterReason::InvalidField,
                    "`tenant` names another tenant than the API key's",
                ))
            }
            (Some(key), _) => key.to_owned(),
            (None, Some(body)) => body,
            (None, None) => {
                return Err(EventError::new(
                    DeadLetterReason::MissingField,
                    "`tenant` is required",
                ))
            }
        };
        check_tenant_id(&tenant).map_err(|m| {
            EventError::new(DeadLetterReason::InvalidField, format!("`tenant`: {m}"))
        })?;
        let id = match wire.id {
            Some(id) => {
                check_name("id", &id)?;
                id
            }
            None => no_id(),
        };
        if let Some(at) = &wire.occurred_at {
            if at.is_empty() || at.len() > 64 {
                return Err(EventError::new(
                    DeadLetterReason::InvalidField,
                    "`occurred_at` must be a timestamp of at most 64 characters",
                ));
            }
        }
        Ok(Event {
            id,
            tenant,
            kind,
            occurred_at: wire.occurred_at,
            data,
            accepted_at,
            traceparent: None,
        })
    }

    /// The JSON published to the exchange: the event with its id and tenant filled in.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an event always serialises")
    }

    /// [`Event::to_json`] stamped with the time ingest accepted it.
    pub fn to_json_accepted(&self, at_ms: i64) -> Vec<u8> {
        #[derive(Serialize)]
        struct Stamped<'a> {
            id: &'a str,
            tenant: &'a str,
            #[serde(rename = "type")]
            kind: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            occurred_at: &'a Option<String>,
            data: &'a RawValue,
            accepted_at_ms: i64,
        }
        serde_json::to_vec(&Stamped {
            id: &self.id,
            tenant: &self.tenant,
            kind: &self.kind,
            occurred_at: &self.occurred_at,
            data: &self.data,
            accepted_at_ms: at_ms,
        })
        .expect("an event always serialises")
    }
}

/// Whether `value` is a valid event id or type: 1 to 128 of `A-Z a-z 0-9 _ . : -`.
pub fn is_name(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_NAME_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
}

/// Event ids and types: 1 to 128 of `A-Z a-z 0-9 _ . : -`.
fn check_name(field: &str, value: &str) -> Result<(), EventError> {
    if is_name(value) {
        Ok(())
    } else {
        Err(EventError::new(
            DeadLetterReason::InvalidField,
            format!("`{field}` must be 1 to {MAX_NAME_LEN} characters of A-Z, a-z, 0-9, `_`, `.`, `:`, `-`"),
        ))
    }
}

/// Tenant ids: 1 to 64 of `a-z 0-9 _ -`, starting with a letter or digit. They appear in
/// Redis keys and hash tags, so no braces, colons or spaces.
pub fn check_tenant_id(id: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&id.len())
        && id.as_bytes()[0].is_ascii_alphanumeric()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(
            "must be 1 to 64 characters of a-z, 0-9, `_`, `-`, starting with a letter or digit"
                .into(),
        )
    }
}

/// `evt_` and 32 hex digits of the body's SHA-256: the same for every delivery of it.
fn derived_id(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    format!("evt_{}", hex::encode(&Sha256::digest(bytes)[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_event_and_keeps_data_bytes() {
        let e = Event::parse(
            br#"{"id":"evt_1","tenant":"acme","type":"ticket.created","data":{"b":1, "a":2}}"#,
            None,
        )
        .unwrap();
        assert_eq!(e.id, "evt_1");
        assert_eq!(e.kind, "ticket.created");
        assert_eq!(e.data.get(), r#"{"b":1, "a":2}"#);
    }

    #[test]
    fn a_published_event_without_an_id_keeps_the_same_one_on_every_delivery() {
        let body = br#"{"tenant":"acme","type":"a.b","data":{"n":1}}"#;
        let id = Event::parse_published(body, None).unwrap().id;
        assert_eq!(Event::parse_published(body, None).unwrap().id, id);
        assert!(id.starts_with("evt_") && id.len() == 36, "{id}");
        let other = br#"{"tenant":"acme","type":"a.b","data":{"n":2}}"#;
        assert_ne!(Event::parse_published(other, None).unwrap().id, id);
        // The message's id comes first, when it is a valid id; the body's own before both.
        assert_eq!(Event::parse_published(body, Some("m-1")).unwrap().id, "m-1");
        assert_eq!(Event::parse_published(body, Some("")).unwrap().id, id);
        let own = br#"{"id":"evt_own","tenant":"acme","type":"a.b","data":{}}"#;
        assert_eq!(
            Event::parse_published(own, Some("m-1")).unwrap().id,
            "evt_own"
        );
        // The API path still makes a fresh id for each request.
        let api = br#"{"type":"a.b","data":{}}"#;
        let (a, b) = (
            Event::parse(api, Some("acme")),
            Event::parse(api, Some("acme")),
        );
        assert_ne!(a.unwrap().id, b.unwrap().id);
    }

    #[test]
    fn the_accepted_stamp_survives_the_exchange_but_not_an_api_body() {
        let api = Event::parse(
            br#"{"type":"a.b","data":{},"accepted_at_ms":5}"#,
            Some("acme"),
        );
        let api = api.unwrap();
        assert_eq!(api.accepted_at, None);
        let published = Event::parse(&api.to_json_accepted(1_000), None).unwrap();
        assert_eq!(published.accepted_at, Some(1_000));
        assert_eq!(
            Event::parse(&api.to_json(), None).unwrap().accepted_at,
            None
        );
    }

    #[test]
    fn generates_an_id_and_takes_the_tenant_from_the_key() {
        let e = Event::parse(br#"{"type":"a.b","data":{}}"#, Some("acme")).unwrap();
        assert!(e.id.starts_with("evt_"));
        assert_eq!(e.tenant, "acme");
    }

    #[test]
    fn refuses_bad_events_with_a_code() {
        let cases: &[(&[u8], Option<&str>, &str)] = &[
            (b"{", None, "invalid_json"),
            (b"[1]", None, "invalid_event"),
            (b"[]", None, "invalid_event"),
            (b"not json", None, "invalid_json"),
            (b"\"x\"", None, "invalid_event"),
            (br#"{"tenant":"a","data":{}}"#, None, "missing_field"),
            (br#"{"tenant":"a","type":"x"}"#, None, "missing_field"),
            (
                br#"{"tenant":"a","type":"x","data":[1]}"#,
                None,
                "invalid_field",
            ),
            (br#"{"type":"x","data":{}}"#, None, "missing_field"),
            (
                br#"{"tenant":"A B","type":"x","data":{}}"#,
                None,
                "invalid_field",
            ),
            (
                br#"{"tenant":"b","type":"x","data":{}}"#,
                Some("a"),
                "invalid_field",
            ),
            (
                br#"{"tenant":"a","type":"x y","data":{}}"#,
                None,
                "invalid_field",
            ),
            (
                br#"{"tenant":"a","type":"x","id":"","data":{}}"#,
                None,
                "invalid_field",
            ),
            (
                br#"{"tenant":"a","type":5,"data":{}}"#,
                None,
                "invalid_event",
            ),
        ];
        for (body, tenant, code) in cases {
            let err = Event::parse(body, *tenant).unwrap_err();
            assert_eq!(err.code, *code, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn refuses_data_nested_deeper_than_the_limit_without_recursing() {
        let nested = |depth: usize| {
            let inner = "[".repeat(depth - 1) + &"]".repeat(depth - 1);
            format!(r#"{{"tenant":"a","type":"x","data":{{"k":{inner}}}}}"#)
        };
        assert!(Event::parse(nested(MAX_DATA_DEPTH).as_bytes(), None).is_ok());
        let err = Event::parse(nested(MAX_DATA_DEPTH + 1).as_bytes(), None).unwrap_err();
        assert_eq!(err.code, "too_deep");
        assert!(err.message.contains("64"), "{}", err.message);
        // Brackets in strings are text, not nesting.
        let text = format!(r#"{{"type":"x","data":{{"k":"{}"}}}}"#, "[".repeat(100));
        assert!(Event::parse(text.as_bytes(), Some("a")).is_ok());
        // A million levels, closed or not, and as the whole body: refused, no overflow.
        let million = nested(1_000_000);
        assert_eq!(
            Event::parse(million.as_bytes(), None).unwrap_err().code,
            "too_deep"
        );
        let open = format!(
            r#"{{"tenant":"a","type":"x","data":{{"k":{}"#,
            "[".repeat(1_000_000)
        );
        assert_eq!(
            Event::parse(open.as_bytes(), None).unwrap_err().code,
            "invalid_json"
        );
        let body = "[".repeat(1_000_000);
        assert_eq!(
            Event::parse(body.as_bytes(), None).unwrap_err().code,
            "invalid_json"
        );
    }

    #[test]
    fn round_trips_through_its_json() {
        let e = Event::parse(br#"{"type":"a.b","data":{"x":[1,2]}}"#, Some("t1")).unwrap();
        let again = Event::parse(&e.to_json(), None).unwrap();
        assert_eq!(again.id, e.id);
        assert_eq!(again.tenant, "t1");
        assert_eq!(again.data.get(), e.data.get());
    }
}
