//! Redis's clock as this process reckons it, for a lease written by a plain command.
//!
//! An event's claim writes its lease's end into the event's state with `SET NX GET`
//! ([`crate::events`]): one command where a script would read `TIME` itself. The end is
//! Redis's time now, reckoned from a `TIME` read at most [`TRUSTED_FOR`] ago and this
//! process's monotonic clock since, plus the lease. A reckoning can only be off by what
//! Redis's clock jumped meanwhile: every renewal (a third of a lease later) and every
//! take-over reads Redis's own clock, so a wrong end lasts until the first renewal.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::{Result, Store};

/// How long a reading of Redis's clock is reckoned from.
const TRUSTED_FOR: Duration = Duration::from_secs(60);

/// The last reading: Redis's time (ms) and the moment it held.
#[derive(Default)]
pub(crate) struct RedisClock(Mutex<Option<(i64, Instant)>>);

impl RedisClock {
    /// Redis's time now, from a reading still trusted.
    fn reckoned(&self) -> Option<i64> {
        let (ms, at) = (*self.0.lock().expect("not poisoned"))?;
        let since = at.elapsed();
        (since < TRUSTED_FOR).then(|| ms + since.as_millis() as i64)
    }

    fn read(&self, ms: i64, at: Instant) {
        *self.0.lock().expect("not poisoned") = Some((ms, at));
    }
}

impl Store {
    /// Redis's time now in ms, reckoned; read with `TIME` once a reading is a minute old.
    pub(crate) async fn redis_now_ms(&self) -> Result<i64> {
        if let Some(now) = self.clock.reckoned() {
            return Ok(now);
        }
        let sent = Instant::now();
        let (secs, micros): (i64, i64) = redis::cmd("TIME").query_async(&mut self.conn()).await?;
        // Taken halfway through the round trip.
        let at = sent + sent.elapsed() / 2;
        self.clock.read(secs * 1000 + micros / 1000, at);
        Ok(self.clock.reckoned().unwrap_or(secs * 1000 + micros / 1000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reading_is_reckoned_forward_until_it_is_too_old() {
        let clock = RedisClock::default();
        assert_eq!(clock.reckoned(), None);
        let at = Instant::now() - Duration::from_millis(500);
        clock.read(1_000_000, at);
        let now = clock.reckoned().unwrap();
        assert!((1_000_500..1_010_000).contains(&now), "{now}");
        clock.read(1_000_000, Instant::now() - TRUSTED_FOR);
        assert_eq!(clock.reckoned(), None);
    }
}
