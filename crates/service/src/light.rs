//! Which tenants are light: their API events take the light queue.
//!
//! A tenant's events within its fair lane still share the event queues with every other
//! tenant's in-lane events, and RabbitMQ confirms a message once its queue is synced, so
//! a trickle that lands behind a busy tenant's bursts waits for them. A tenant sending no
//! more than `HOOKPOST_LIGHT_RATE` deliveries a second, in requests of at most
//! `HOOKPOST_LIGHT_BURST`, is *light*: ingest publishes its events to a queue of their
//! own (`{prefix}.events.light`, on a connection of its own), which every worker
//! consumes with its whole prefetch.
//!
//! Each ingest process judges from the requests it serves (a GCRA per tenant, no Redis
//! call): with N ingest processes, a tenant spread over them may put up to N times the
//! rate in the light queue. Every accepted request counts, whichever queue it takes, so
//! a tenant over the rate stays out of the light queue while its average stays over it,
//! and for at most [`HOLD`] once it calms down.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hookpost_core::labels::Lane;

/// How long a tenant that went over the rate stays heavy, at most, once it calms down.
pub const HOLD: Duration = Duration::from_secs(5);
/// How often tenants back under the rate are forgotten.
const PRUNE_EVERY: Duration = Duration::from_secs(10);

/// The light lane's rate and each tenant's use of it in this process.
pub struct LightTenants {
    /// Between two deliveries at the rate; `None`: the light lane is off.
    interval: Option<Duration>,
    /// How far ahead of now a tenant's use may run and still be light (the burst).
    tolerance: Duration,
    state: Mutex<State>,
}

struct State {
    /// When each tenant's use so far would be paid off at the rate (the GCRA's
    /// theoretical arrival time); a tenant whose time has passed is not kept.
    paid_off: HashMap<String, Instant>,
    pruned: Instant,
}

impl LightTenants {
    /// `rate` deliveries a second (0: off), `burst` at once.
    pub fn new(rate: u32, burst: u32) -> LightTenants {
        let interval = (rate > 0).then(|| Duration::from_secs(1) / rate);
        LightTenants {
            interval,
            tolerance: interval.unwrap_or_default().saturating_mul(burst),
            state: Mutex::new(State {
                paid_off: HashMap::new(),
                pruned: Instant::now(),
            }),
        }
    }

    /// The lane of a request of `weight` deliveries from `tenant` that intake gave
    /// `lane`: the light one when the tenant is light and the request is within its fair
    /// lane. Counts the request either way.
    pub fn route(&self, tenant: &str, weight: u32, lane: Lane) -> Lane {
        let light = self.take(tenant, weight, Instant::now());
        match lane {
            Lane::Fair if light => Lane::Light,
            lane => lane,
        }
    }

    /// Counts `weight` deliveries of `tenant` at `now`: whether they keep it light.
    fn take(&self, tenant: &str, weight: u32, now: Instant) -> bool {
        let Some(interval) = self.interval else {
            return false;
        };
        let mut state = self.state.lock().expect("not poisoned");
        if now.duration_since(state.pruned) >= PRUNE_EVERY {
            state.paid_off.retain(|_, at| *at > now);
            state.pruned = now;
        }
        let paid_off = match state.paid_off.get_mut(tenant) {
            Some(at) => at,
            None => state.paid_off.entry(tenant.to_owned()).or_insert(now),
        };
        let limit = now + self.tolerance;
        let next = (*paid_off)
            .max(now)
            .checked_add(interval.saturating_mul(weight));
        // Counted even when over, so that a flood keeps its tenant heavy; capped, so that
        // it is light again at most `HOLD` after it calms down.
        *paid_off = next.map_or(limit + HOLD, |next| next.min(limit + HOLD));
        next.is_some_and(|next| next <= limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_trickle_is_light_and_a_burst_over_the_tolerance_is_not() {
        // 500 a second, 50 at once: 2 ms a delivery, 100 ms ahead at most.
        let light = LightTenants::new(500, 50);
        let t0 = Instant::now();
        for i in 0..1_000 {
            assert!(light.take("quiet", 1, t0 + 2 * MS * i), "request {i}");
        }
        assert!(light.take("batch", 50, t0), "the burst at once");
        assert!(!light.take("big", 51, t0), "heavier than the burst");
        // `route` counts at the clock's now, before the trickle's times above.
        assert_eq!(light.route("new", 1, Lane::Fair), Lane::Light);
        assert_eq!(
            light.route("new", 1, Lane::Overflow),
            Lane::Overflow,
            "beyond its fair lane, the overflow queue wins"
        );
    }

    #[test]
    fn a_tenant_over_the_rate_stays_heavy_until_it_calms_down_for_at_most_the_hold() {
        let light = LightTenants::new(500, 50);
        let t0 = Instant::now();
        // 10,000 deliveries a second for two seconds, 10 a request: light while its burst
        // lasts (5 requests), then heavy; at the rate, that would take 40 s to pay off.
        let verdicts: Vec<bool> = (0..2_000)
            .map(|i| light.take("noisy", 10, t0 + MS * i))
            .collect();
        assert!(verdicts[..5].iter().all(|l| *l), "the burst");
        assert!(!verdicts[5..].iter().any(|l| *l), "heavy from then on");
        let end = t0 + 2_000 * MS;
        assert!(!light.take("noisy", 1, end + 1_000 * MS), "still heavy");
        // Light again once the hold is over, not 40 s later.
        let calm = end + HOLD + 200 * MS;
        assert!(light.take("noisy", 1, calm));
        assert!(light.take("noisy", 1, calm + 2 * MS));
    }

    #[test]
    fn a_rate_of_zero_turns_the_light_lane_off() {
        let off = LightTenants::new(0, 50);
        assert!(!off.take("quiet", 1, Instant::now()));
        assert_eq!(off.route("quiet", 1, Lane::Fair), Lane::Fair);
    }

    #[test]
    fn tenants_paid_off_are_forgotten() {
        let light = LightTenants::new(500, 50);
        let t0 = Instant::now();
        light.take("a", 10, t0);
        light.take("b", 10, t0);
        light.take("c", 1, t0 + PRUNE_EVERY);
        let kept: Vec<String> = {
            let state = light.state.lock().unwrap();
            state.paid_off.keys().cloned().collect()
        };
        assert_eq!(kept, ["c"]);
    }
}
