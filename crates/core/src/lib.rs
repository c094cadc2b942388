//! hookpost's domain, free of I/O.
//!
//! - [`address`]: which IP addresses are public (the SSRF guard's rule).
//! - [`ports`]: which TCP ports hook URLs may name.
//! - [`catalogue`]: the built-in event types (a closed set for metric labels).
//! - [`event`]: the producer's event, parsed and validated once for every path in.
//! - [`example`]: an example `data` made from an event type's JSON Schema.
//! - [`filter`]: smart-rule filters over an event's payload.
//! - [`hook`]: a subscription and which events it takes.
//! - [`delivery`]: delivery ids and the body a receiver gets, byte-identical on every attempt.
//! - [`signing`]: `X-Hook-Signature` (HMAC-SHA1) and Standard Webhooks (HMAC-SHA256) headers.
//! - [`retry`]: the retry schedule as a pure value.
//! - [`outcome`]: what one attempt ended as; drives retry, log and metrics.
//! - [`labels`]: roles, defer and dead-letter reasons as enums; their strings are metric labels.
//! - [`task`]: the typed, versioned messages hookpost puts on its own queues.
//! - [`config`]: `HOOKPOST_*` settings, validated at start-up.
//! - [`duration`]: `500ms`, `30s`, `1h`, `7d`.
//! - [`timestamp`]: times at the API's edge, RFC 3339 with milliseconds.
//! - [`ids`]: random identifiers and secrets.
//! - [`secret_key`]: `HOOKPOST_SECRET_KEY`, the server's own keys, with ids for rotation.
//! - [`admin_token`]: which `HOOKPOST_ADMIN_TOKEN` values are refused.
//! - [`sealed`]: secrets at rest, AES-256-GCM under those keys.
#![forbid(unsafe_code)]

pub mod address;
pub mod admin_token;
pub mod catalogue;
pub mod config;
pub mod controls;
pub mod delivery;
pub mod duration;
pub mod event;
pub mod example;
pub mod filter;
pub mod hook;
pub mod ids;
pub mod labels;
pub mod nesting;
pub mod ordering;
pub mod outcome;
pub mod ports;
pub mod retry;
pub mod sealed;
pub mod secret_key;
pub mod signing;
pub mod task;
pub mod timestamp;

pub use config::Config;
pub use event::Event;
pub use hook::Hook;

/// Milliseconds since the Unix epoch, the one clock hookpost stores.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `ms` since the epoch as RFC 3339 UTC with milliseconds, e.g. `2026-11-22T10:00:00.000Z`.
/// Instants outside years 0000-9999 (which RFC 3339 cannot write) are clamped to them.
pub fn rfc3339(ms: i64) -> String {
    use time::macros::{datetime, format_description};
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    let first = datetime!(0000-01-01 0:00 UTC);
    let last = datetime!(9999-12-31 23:59:59.999 UTC);
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_or(if ms < 0 { first } else { last }, |at| {
            at.clamp(first, last)
        });
    at.format(FORMAT)
        .expect("a UTC instant in years 0000-9999 always formats")
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            super::rfc3339(1_764_410_400_000),
            "2025-11-29T10:00:00.000Z"
        );
        assert_eq!(super::rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(super::rfc3339(-1), "1969-12-31T23:59:59.999Z");
        // The last millisecond of a leap year, and of a month of 30 days.
        assert_eq!(
            super::rfc3339(1_735_689_599_999),
            "2024-12-31T23:59:59.999Z"
        );
        assert_eq!(
            super::rfc3339(1_719_791_999_000),
            "2024-06-30T23:59:59.000Z"
        );
        assert_eq!(
            super::rfc3339(4_107_542_400_000),
            "2100-03-01T00:00:00.000Z",
            "2100 is no leap year"
        );
    }

    #[test]
    fn rfc3339_clamps_what_it_cannot_write() {
        assert_eq!(super::rfc3339(i64::MAX), "9999-12-31T23:59:59.999Z");
        assert_eq!(super::rfc3339(i64::MIN), "0000-01-01T00:00:00.000Z");
        assert_eq!(
            super::rfc3339(253_402_300_800_000),
            "9999-12-31T23:59:59.999Z"
        );
    }
}
