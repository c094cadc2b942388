//! Failed authentications per client address, counted in fixed windows. Every ingest
//! replica counts into the same key, so adding replicas does not add guesses.

use std::time::Duration;

use crate::{Result, Store};

impl Store {
    /// Counts one failed authentication of `client`: how many it has made in the current
    /// window (this one included), and how long that window still runs.
    pub async fn auth_failure(&self, client: &str, window: Duration) -> Result<(u64, Duration)> {
        let key = self.keys.auth_failures(client);
        let window_ms = window.as_millis().max(1) as u64;
        // The first failure opens the window; later ones only count within it.
        let (count, ttl): (u64, i64) = redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(&key)
            .arg(0)
            .arg("PX")
            .arg(window_ms)
            .arg("NX")
            .ignore()
            .cmd("INCR")
            .arg(&key)
            .cmd("PTTL")
            .arg(&key)
            .query_async(&mut self.conn())
            .await?;
        if ttl >= 0 {
            return Ok((count, Duration::from_millis(ttl as u64)));
        }
        // The window ended between SET and INCR: this failure opens the next one.
        let _: () = redis::cmd("PEXPIRE")
            .arg(&key)
            .arg(window_ms)
            .query_async(&mut self.conn())
            .await?;
        Ok((count, window))
    }
}
