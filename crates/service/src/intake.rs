//! Intake tokens leased to this ingest process.
//!
//! Every `POST /v1/events` takes its tokens from the tenant's intake limit and fair lane
//! in Redis, shared by every ingest. Asking Redis for each request cost a script call
//! and a round trip per event; a busy tenant's requests now spend a small lease instead.
//! When its tokens run out, the next lease asks for twice as many (up to [`MOST`]), or,
//! when the last one ran out of time first, for what it served. Redis bounds a lease by
//! what the tenant's rate earns over [`HORIZON`] and a quarter of its burst, so a tenant
//! within a lease's reach of its limit (a low limit, a test's) is answered request by
//! request as before.
//!
//! What a lease changes, at most one lease per ingest process: a lease's tokens are
//! spent up to [`HORIZON`] after Redis counted them (so a tenant at its limit may see
//! one lease more in a burst), tokens not spent by then are dropped (counted, not
//! used), and a new limit reaches this process within [`HORIZON`]. A request the lease
//! cannot cover (a batch larger than what is left) asks Redis, as before.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hookpost_store::intake::{Ask, FairLane, Intake, IntakeLimit, Lane, Taken};
use hookpost_store::Store;

/// How long a lease's tokens may be spent after Redis counted them.
pub const HORIZON: Duration = Duration::from_millis(50);
/// The most events one lease takes.
pub const MOST: u32 = 256;

/// Each tenant's lease in this process.
pub struct Leases {
    tenants: Mutex<HashMap<String, Arc<Tenant>>>,
    /// The deployment's intake limit (a tenant's own replaces it, in Redis) and lane.
    default: IntakeLimit,
    lane: FairLane,
    /// `hookpost_intake_asks_total`: the calls to Redis, for events or the lane alone.
    asks_events: prometheus::IntCounter,
    asks_lane: prometheus::IntCounter,
}

/// One tenant's lease, and the gate its requests pass to ask Redis: those that find
/// the lease short wait for one call, not one each.
#[derive(Default)]
struct Tenant {
    lease: Mutex<Lease>,
    gate: tokio::sync::Mutex<()>,
}

/// What one tenant may spend here without asking Redis.
#[derive(Debug, Default)]
struct Lease {
    /// Events and lane deliveries left.
    events: u32,
    lane: u32,
    /// When the last lease was taken, how many events it took, and how many of them
    /// were spent.
    at: Option<Instant>,
    took: u32,
    spent: u32,
    /// The lane refused a request until then: the tenant's requests go beyond it
    /// without asking.
    lane_shut_until: Option<Instant>,
}

/// A request's ask: its events, and the deliveries they make.
#[derive(Debug, Clone, Copy)]
pub struct Request {
    pub events: u32,
    pub weight: u32,
}

impl Leases {
    pub fn new(config: &hookpost_core::Config, asks: &prometheus::IntCounterVec) -> Leases {
        Leases {
            tenants: Mutex::default(),
            default: IntakeLimit {
                per_second: config.tenant_rate,
                burst: config.tenant_burst,
            },
            lane: FairLane {
                per_second: config.fair_rate,
                burst: config.fair_burst,
            },
            asks_events: asks.with_label_values(&["events"]),
            asks_lane: asks.with_label_values(&["lane"]),
        }
    }

    /// Takes a request's tokens, from this process's lease when it covers them, else
    /// from Redis with a new lease; the lane the request takes, or why it is refused.
    pub async fn take(
        &self,
        store: &Store,
        tenant: &str,
        r: Request,
    ) -> hookpost_store::Result<Intake<Lane>> {
        let t = self.tenant(tenant);
        let lane_burst = self.lane.burst;
        let spent = t.lease().spend(r, lane_burst, Instant::now());
        if let Spent::Go(lane) = spent {
            return Ok(Intake::Go(lane));
        }
        let _gate = t.gate.lock().await;
        // Another request may have renewed the lease meanwhile.
        let now = Instant::now();
        let spent = match spent {
            Spent::AskLane => t.lease().lane_for(r, lane_burst, now),
            _ => t.lease().spend(r, lane_burst, now),
        };
        let ask = |events, want| Ask {
            events,
            want,
            weight: r.weight,
            lane_want: t.lease().lane_want(r, want),
            horizon: HORIZON,
        };
        match spent {
            Spent::Go(lane) => Ok(Intake::Go(lane)),
            Spent::AskLane => {
                self.asks_lane.inc();
                let taken = match store
                    .take_intake(tenant, ask(0, 0), self.default, self.lane)
                    .await?
                {
                    Intake::Go(taken) => taken,
                    // Not answered to a lane-only ask; beyond the lane is always safe.
                    _ => Taken::default(),
                };
                Ok(Intake::Go(t.lease().lane_taken(taken, r.weight, now)))
            }
            Spent::Short => {
                self.asks_events.inc();
                let want = t.lease().want(now).clamp(r.events, MOST.max(r.events));
                let taken = store
                    .take_intake(tenant, ask(r.events, want), self.default, self.lane)
                    .await?;
                Ok(taken.map(|taken| t.lease().renewed(taken, r, Instant::now())))
            }
        }
    }

    fn tenant(&self, tenant: &str) -> Arc<Tenant> {
        let mut all = self.tenants.lock().expect("not poisoned");
        match all.get(tenant) {
            Some(t) => t.clone(),
            None => all.entry(tenant.to_owned()).or_default().clone(),
        }
    }
}

impl Tenant {
    fn lease(&self) -> std::sync::MutexGuard<'_, Lease> {
        self.lease.lock().expect("not poisoned")
    }
}

/// What a lease says of a request.
#[derive(Debug, PartialEq, Eq)]
enum Spent {
    /// Covered: its events are spent, and its lane's when the lease had them.
    Go(Lane),
    /// Its events are spent; the lane must be asked.
    AskLane,
    /// Not covered: Redis must be asked for all of it.
    Short,
}

impl Lease {
    fn live(&self, now: Instant) -> bool {
        self.at.is_some_and(|at| now < at + HORIZON)
    }

    /// `lane_burst`: a request heavier than it always goes beyond the lane.
    fn spend(&mut self, r: Request, lane_burst: u32, now: Instant) -> Spent {
        if !self.live(now) || self.events < r.events {
            return Spent::Short;
        }
        self.events -= r.events;
        self.spent += r.events;
        self.lane_for(r, lane_burst, now)
    }

    /// The lane of a request whose events are spent.
    fn lane_for(&mut self, r: Request, lane_burst: u32, now: Instant) -> Spent {
        if self.live(now) && self.lane >= r.weight {
            self.lane -= r.weight;
            return Spent::Go(Lane::Fair);
        }
        let shut = self.lane_shut_until.is_some_and(|until| now < until);
        match r.weight > lane_burst || shut {
            true => Spent::Go(Lane::Overflow),
            false => Spent::AskLane,
        }
    }

    /// The lane deliveries a lease asks for: the request's and, at its deliveries an
    /// event, those of the events the lease will have left (`want`, or those left now
    /// when the lane alone is asked).
    fn lane_want(&self, r: Request, want: u32) -> u32 {
        let events = match want {
            0 => self.events.saturating_add(r.events),
            want => want,
        };
        let per_event = f64::from(r.weight) / f64::from(r.events.max(1));
        (per_event * f64::from(events)).min(f64::from(u32::MAX)) as u32
    }

    /// Events the next lease asks for: twice the last when its tokens ran out in time
    /// (demand outran it), what it served when its time ran out first, none beyond the
    /// request's own after a quiet spell.
    fn want(&self, now: Instant) -> u32 {
        match self.at {
            Some(_) if self.live(now) => self.took.saturating_mul(2),
            Some(at) if now < at + 2 * HORIZON => self.spent,
            _ => 0,
        }
    }

    /// A new lease, the request's share spent.
    fn renewed(&mut self, taken: Taken, r: Request, now: Instant) -> Lane {
        self.events = taken.events.saturating_sub(r.events);
        self.at = Some(now);
        self.took = taken.events;
        self.spent = r.events;
        self.lane = 0;
        self.lane_taken(taken, r.weight, now)
    }

    /// What the lane took: the request's weight (and a lease of more) or nothing.
    fn lane_taken(&mut self, taken: Taken, weight: u32, now: Instant) -> Lane {
        // Redis answers fair or overflow; the light queue is this process's choice, after.
        let lane = taken.lane(weight);
        if lane == Lane::Overflow {
            self.lane_shut_until = (!taken.lane_wait.is_zero()).then(|| now + taken.lane_wait);
        } else {
            self.lane += taken.lane - weight;
            self.lane_shut_until = None;
        }
        lane
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQ: Request = Request {
        events: 1,
        weight: 2,
    };
    const LANE_BURST: u32 = 100;

    fn taken(events: u32, lane: u32, wait_ms: u64) -> Taken {
        Taken {
            events,
            lane,
            lane_wait: Duration::from_millis(wait_ms),
        }
    }

    #[test]
    fn a_lease_covers_requests_until_its_tokens_or_its_time_run_out() {
        let t0 = Instant::now();
        let mut lease = Lease::default();
        assert_eq!(lease.spend(REQ, LANE_BURST, t0), Spent::Short);
        assert_eq!(lease.want(t0), 0, "the first asks for the request's own");
        assert_eq!(lease.renewed(taken(3, 6, 0), REQ, t0), Lane::Fair);
        assert_eq!((lease.events, lease.lane), (2, 4));
        assert_eq!(lease.spend(REQ, LANE_BURST, t0), Spent::Go(Lane::Fair));
        assert_eq!(lease.spend(REQ, LANE_BURST, t0), Spent::Go(Lane::Fair));
        assert_eq!(
            lease.spend(REQ, LANE_BURST, t0),
            Spent::Short,
            "three events were taken"
        );
        assert_eq!(lease.want(t0), 6, "used up in time: twice as many");

        lease.renewed(taken(6, 12, 0), REQ, t0);
        let late = t0 + HORIZON;
        assert_eq!(
            lease.spend(REQ, LANE_BURST, late),
            Spent::Short,
            "its time ran out"
        );
        assert_eq!(lease.want(late), 1, "what it served");
        assert_eq!(lease.want(t0 + 2 * HORIZON), 0, "after a quiet spell");
    }

    #[test]
    fn a_lane_refused_sends_requests_beyond_it_until_its_wait_ends() {
        let t0 = Instant::now();
        let mut lease = Lease::default();
        assert_eq!(lease.renewed(taken(4, 0, 20), REQ, t0), Lane::Overflow);
        assert_eq!(lease.spend(REQ, LANE_BURST, t0), Spent::Go(Lane::Overflow));
        let later = t0 + Duration::from_millis(20);
        assert_eq!(lease.spend(REQ, LANE_BURST, later), Spent::AskLane);
        assert_eq!(lease.lane_taken(taken(0, 2, 0), 2, later), Lane::Fair);
        // Heavier than the lane's burst: beyond it, without asking.
        let heavy = Request { weight: 101, ..REQ };
        assert_eq!(
            lease.spend(heavy, LANE_BURST, later),
            Spent::Go(Lane::Overflow)
        );
    }
}
