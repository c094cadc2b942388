//! Milliseconds since the epoch (the API's and the store's unit) to and from
//! `timestamptz`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The last instant the API writes (9999-12-31T23:59:59.999Z): later ones are clamped
/// to it, far inside what PostgreSQL (and its driver) can take.
const LAST_MS: i64 = 253_402_300_799_999;

pub(crate) fn from_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.clamp(0, LAST_MS) as u64)
}

pub(crate) fn to_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

pub(crate) fn to_us(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

pub(crate) fn from_us(us: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(us.clamp(0, LAST_MS.saturating_mul(1000)) as u64)
}
