//! Each tenant's intake limit: events a second it may post through the API, shared by
//! every ingest process. The same GCRA as a hook's `rate_limit` (on Redis's clock), for
//! a whole request at once: a batch of N events takes N tokens or none.
//!
//! Beside it, in the same script call, the tenant's fair lane: deliveries a second its
//! accepted events may put in the event queues, which every tenant shares in FIFO order.
//! A request beyond the lane is still accepted, but ingest sends it to the overflow
//! queue, so that a flood never stands in front of the other tenants' events.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Result, Store, StoreError};

/// At most `per_second` events a second on average, `burst` of them at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntakeLimit {
    pub per_second: u32,
    pub burst: u32,
}

/// The most either number may be: far above what one tenant needs, low enough that the
/// limiter's arithmetic stays exact.
pub const MAX_INTAKE: u32 = 1_000_000;

impl IntakeLimit {
    pub fn check(&self) -> std::result::Result<(), String> {
        for (name, n) in [("per_second", self.per_second), ("burst", self.burst)] {
            if !(1..=MAX_INTAKE).contains(&n) {
                return Err(format!(
                    "`intake.{name}` must be between 1 and {MAX_INTAKE}"
                ));
            }
        }
        Ok(())
    }
}

/// A tenant's fair lane: `per_second` deliveries a second on average, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FairLane {
    pub per_second: u32,
    pub burst: u32,
}

pub use hookpost_core::labels::Lane;

/// What one call asks of a tenant's intake limit and fair lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ask {
    /// The request's events, taken whole or refused; 0 asks the lane alone.
    pub events: u32,
    /// Events to take at most, for a lease the caller spends locally (at least
    /// `events`); the script also bounds it by the rate over `horizon` and a quarter of
    /// the burst.
    pub want: u32,
    /// The request's deliveries, from the lane all or none.
    pub weight: u32,
    /// Deliveries to take from the lane at most, for a lease there (bounded like the
    /// events', and by the deliveries of the events taken).
    pub lane_want: u32,
    pub horizon: Duration,
}

/// What an accepted call took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Taken {
    /// Events taken: the request's and what the caller may spend on later ones.
    pub events: u32,
    /// Lane deliveries taken: 0 when the request goes beyond the lane, else at least
    /// its weight.
    pub lane: u32,
    /// Refused by the lane: how long before its weight would fit.
    pub lane_wait: Duration,
}

impl Taken {
    /// The lane a request of `weight` deliveries takes: within it when the lane's take
    /// covers it.
    pub fn lane(&self, weight: u32) -> Lane {
        match self.lane > 0 && self.lane >= weight {
            true => Lane::Fair,
            false => Lane::Overflow,
        }
    }
}

/// What the limit says of a request of some events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intake<T> {
    /// Accepted: its tokens are taken, and its lane's when it fits there (the store
    /// answers what it took, [`Taken`]; ingest, the request's [`Lane`]).
    Go(T),
    /// Over the limit: the same request conforms after this.
    Wait(Duration),
    /// More events than the burst: it could never go whole.
    OverBurst(u32),
}

impl<T> Intake<T> {
    /// The same answer, with what an accepted request took turned by `f`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Intake<U> {
        match self {
            Intake::Go(t) => Intake::Go(f(t)),
            Intake::Wait(wait) => Intake::Wait(wait),
            Intake::OverBurst(burst) => Intake::OverBurst(burst),
        }
    }
}

impl Store {
    /// Takes `ask.events` tokens from the tenant's intake limit (its own, else
    /// `default`), or none; once taken, `ask.weight` (the request's deliveries) from its
    /// fair lane when they all fit there, else none and the request goes beyond the lane.
    /// Each may take more, up to a lease (see [`Ask`]). One round trip.
    pub async fn take_intake(
        &self,
        tenant: &str,
        ask: Ask,
        default: IntakeLimit,
        lane: FairLane,
    ) -> Result<Intake<Taken>> {
        let interval = 1000.0 / f64::from(default.per_second);
        let lane_interval = 1000.0 / f64::from(lane.per_second.max(1));
        let answer: Vec<i64> = self
            .scripts
            .intake_limit
            .key(self.keys.intake_rate(tenant))
            .key(self.keys.intake_own(tenant))
            .key(self.keys.fair_lane(tenant))
            .arg(interval)
            .arg(default.burst)
            .arg(ask.events)
            .arg(lane_interval)
            .arg(lane.burst)
            .arg(ask.weight)
            .arg(ask.want.max(ask.events))
            .arg(ask.horizon.as_millis() as u64)
            .arg(ask.lane_want.max(ask.weight))
            .invoke_async(&mut self.conn())
            .await?;
        let count = |n: i64| u32::try_from(n).unwrap_or(0);
        Ok(match answer[..] {
            [-1, burst] => Intake::OverBurst(count(burst)),
            [0, events, lane, lane_wait] => Intake::Go(Taken {
                events: count(events),
                lane: count(lane),
                lane_wait: Duration::from_millis(count(lane_wait).into()),
            }),
            [wait] if wait > 0 => Intake::Wait(Duration::from_millis(wait as u64)),
            _ => {
                return Err(StoreError::Corrupt(format!(
                    "the intake script answered {answer:?}"
                )))
            }
        })
    }

    /// The tenant's own intake limit, when an operator set one.
    pub async fn intake_limit(&self, tenant: &str) -> Result<Option<IntakeLimit>> {
        let (per_second, burst): (Option<u32>, Option<u32>) = redis::cmd("HMGET")
            .arg(self.keys.intake_own(tenant))
            .arg("per_second")
            .arg("burst")
            .query_async(&mut self.conn())
            .await?;
        Ok(per_second
            .zip(burst)
            .map(|(per_second, burst)| IntakeLimit { per_second, burst }))
    }

    /// Sets the tenant's own intake limit, or (`None`) goes back to the default. The
    /// limiter starts afresh, so that the new limit takes effect at once (a debt run up
    /// under a low limit would hold back a raised one).
    pub async fn set_intake_limit(&self, tenant: &str, limit: Option<IntakeLimit>) -> Result<()> {
        let own = self.keys.intake_own(tenant);
        let mut pipe = redis::pipe();
        pipe.atomic().del(self.keys.intake_rate(tenant)).ignore();
        match limit {
            Some(l) => pipe
                .del(&own)
                .ignore()
                .hset_multiple(&own, &[("per_second", l.per_second), ("burst", l.burst)])
                .ignore(),
            None => pipe.del(&own).ignore(),
        };
        let () = pipe.query_async(&mut self.conn()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::IntakeLimit;

    #[test]
    fn an_intake_limit_must_be_positive_and_bounded() {
        let ok = IntakeLimit {
            per_second: 10,
            burst: 100,
        };
        assert!(ok.check().is_ok());
        let zero = IntakeLimit { burst: 0, ..ok };
        assert!(zero.check().unwrap_err().contains("intake.burst"));
        let huge = IntakeLimit {
            per_second: 2_000_000,
            ..ok
        };
        assert!(huge.check().unwrap_err().contains("intake.per_second"));
    }
}
