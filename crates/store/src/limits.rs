//! Per-hook limits shared by every worker: a rate limit and a cap on requests in flight.
//! Both live in the tenant's slot and use Redis's clock, so workers on machines whose
//! clocks differ still agree.

use std::time::Duration;

use hookpost_core::controls::RateLimit;
use redis::AsyncCommands;

use crate::{Result, Store};

/// What the rate limit says of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    Go,
    /// Ask again after this (no longer than the caller said it would sleep).
    Sleep(Duration),
    /// Defer it by this much: its place in line, spread out from the other deferred ones.
    Defer(Duration),
}

impl Store {
    /// Asks the hook's rate limit whether one request may go now; a wait up to `sleep`
    /// is answered [`Rate::Sleep`], a longer one [`Rate::Defer`].
    pub async fn rate(
        &self,
        tenant: &str,
        hook_id: &str,
        limit: RateLimit,
        sleep: Duration,
    ) -> Result<Rate> {
        let answer: Vec<u64> = self
            .scripts
            .rate_limit
            .key(self.keys.hook_rate(tenant, hook_id))
            .arg(limit.interval_ms())
            .arg(limit.burst)
            .arg(sleep.as_millis() as u64)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(match answer[..] {
            [_, line] => Rate::Defer(Duration::from_millis(line)),
            [wait] if wait > 0 => Rate::Sleep(Duration::from_millis(wait)),
            _ => Rate::Go,
        })
    }

    /// Spends one of the tenant's test sends (`burst` at once, then one per `interval`):
    /// `None` when it may go now, else how long until one would. A refused one spends
    /// nothing, so a client that keeps trying is not held off longer.
    pub async fn test_send_rate(
        &self,
        tenant: &str,
        interval: Duration,
        burst: u32,
    ) -> Result<Option<Duration>> {
        // The script answers any wait up to its third argument as a plain wait, without
        // taking a place in line: a day is longer than any wait of this limit.
        let answer: Vec<u64> = self
            .scripts
            .rate_limit
            .key(self.keys.test_send_rate(tenant))
            .arg(interval.as_millis() as u64)
            .arg(burst)
            .arg(86_400_000u64)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(match answer[..] {
            [wait, ..] if wait > 0 => Some(Duration::from_millis(wait)),
            _ => None,
        })
    }

    /// Takes one of `max` slots at the hook for `lease` under `token`; `false` when all
    /// are taken.
    pub async fn take_slot(
        &self,
        tenant: &str,
        hook_id: &str,
        token: &str,
        max: u32,
        lease: Duration,
    ) -> Result<bool> {
        let taken: i64 = self
            .scripts
            .in_flight
            .key(self.keys.hook_in_flight(tenant, hook_id))
            .arg(token)
            .arg(max)
            .arg(lease.as_millis() as u64)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(taken == 1)
    }

    pub async fn free_slot(&self, tenant: &str, hook_id: &str, token: &str) -> Result<()> {
        let _: i64 = self
            .conn()
            .zrem(self.keys.hook_in_flight(tenant, hook_id), token)
            .await?;
        Ok(())
    }
}
