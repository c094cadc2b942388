//! hookpost's domain, free of I/O.
//!
//! - [`address`]: which IP addresses are public (the SSRF guard's rule).
//! - [`ports`]: which TCP ports hook URLs may name.
//! - [`catalogue`]: the known event types (a closed set for metric labels).
//! - [`event`]: the producer's event, parsed and validated once for every path in.
//! - [`filter`]: smart-rule filters over an event's payload.
//! - [`hook`]: a subscription and which events it takes.
//! - [`delivery`]: delivery ids and the body a receiver gets, byte-identical on every attempt.
//! - [`signing`]: `X-Hook-Signature` (HMAC-SHA1) and Standard Webhooks (HMAC-SHA256) headers.
//! - [`retry`]: the retry schedule as a pure value.
//! - [`outcome`]: what one attempt ended as; drives retry, log and metrics.
//! - [`task`]: the typed, versioned messages hookpost puts on its own queues.
//! - [`config`]: `HOOKPOST_*` settings, validated at start-up.
//! - [`duration`]: `500ms`, `30s`, `1h`, `7d`.
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
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
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
    }
}
