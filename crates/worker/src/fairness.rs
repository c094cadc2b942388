//! Fair shares of a worker between tenants.
//!
//! The event queues are FIFO: a tenant that floods them (or whose events fan out to many
//! hooks) would put every other tenant's events behind its backlog. So a worker counts
//! the events of each tenant it is handling (from the event queues and the overflow
//! queue). While more than one tenant had events here lately, the tenant holding the
//! most, once it holds its share of the event queues' prefetch
//! (`prefetch × queues / active tenants`), does not get another one: that event is
//! moved to the overflow queue instead (published with a confirm, then acked), which
//! costs far less than its delivery, so the event queues keep moving and the other
//! tenants' events come through within a bounded time. The overflow queue is consumed
//! by the same workers with a quarter of the prefetch, so the big tenant's work goes on
//! too (nothing waits for the others to go quiet), and nothing moves while one tenant
//! is alone (its events cost one map look-up more, no publish). While one tenant is
//! alone, a second consumer of the overflow queue takes the rest of the prefetch
//! ([`Fairness::crowded`], the consumer's boost): a quarter would leave a lone tenant
//! beyond its lane delivering a quarter slower than it posts.
//!
//! Events posted through the API are mostly kept apart at the source instead (ingest
//! sends a tenant's events beyond its fair lane to the overflow queue, for the price of
//! a publish it makes anyway); this is the lever left for events published straight to
//! the exchange, where RabbitMQ cannot tell tenants apart.
//!
//! A moved event is claimed after events that came behind it. An ordered hook fed
//! straight from the exchange takes the claim order as its order, so a tenant with an
//! ordered hook is never moved, nor one whose hooks this worker has not yet seen.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A tenant counts as active this long after its last event here.
pub const ACTIVE_FOR: Duration = Duration::from_secs(5);
/// How often tenants no longer active are forgotten (bounds the map, and the count).
const PRUNE_EVERY: Duration = Duration::from_millis(250);

/// Each tenant's events in progress from the event queues, and when it was last seen.
pub struct Fairness {
    enabled: bool,
    /// Event messages the worker holds at most from the event queues.
    capacity: usize,
    state: Mutex<State>,
}

struct State {
    tenants: HashMap<String, Share>,
    pruned: Instant,
}

struct Share {
    in_flight: usize,
    seen: Instant,
    /// Whether the tenant has an ordered hook, once its hooks were seen here.
    ordered: Option<bool>,
}

/// What becomes of an event from an event queue.
#[must_use]
pub enum Admit<'a> {
    /// Handle it here; the slot frees itself when dropped.
    Handle(Slot<'a>),
    /// Its tenant holds its share while others are active: move it to the overflow queue.
    Move,
}

/// One event of a tenant in progress.
pub struct Slot<'a> {
    /// `None` when fairness is off.
    held: Option<(&'a Fairness, String)>,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Some((fairness, tenant)) = self.held.take() {
            let mut state = fairness.state.lock().expect("not poisoned");
            if let Some(share) = state.tenants.get_mut(&tenant) {
                share.in_flight = share.in_flight.saturating_sub(1);
            }
        }
    }
}

impl Fairness {
    /// `capacity`: the event messages the worker may hold (prefetch × event queues).
    pub fn new(enabled: bool, capacity: usize) -> Fairness {
        Fairness {
            enabled,
            capacity: capacity.max(1),
            state: Mutex::new(State {
                tenants: HashMap::new(),
                pruned: Instant::now(),
            }),
        }
    }

    /// Whether more than one tenant had events here lately; always, when fairness is off
    /// (the overflow queue then keeps to its quarter of the prefetch).
    pub fn crowded(&self) -> bool {
        !self.enabled || self.state.lock().expect("not poisoned").tenants.len() > 1
    }

    /// An event of `tenant` from an event queue (`aside`: from the overflow or the light
    /// queue, which is never moved but counts in what the tenant holds).
    pub fn admit(&self, tenant: &str, aside: bool) -> Admit<'_> {
        if !self.enabled {
            return Admit::Handle(Slot { held: None });
        }
        let now = Instant::now();
        let mut state = self.state.lock().expect("not poisoned");
        if now.duration_since(state.pruned) >= PRUNE_EVERY {
            state
                .tenants
                .retain(|_, s| s.in_flight > 0 || now.duration_since(s.seen) < ACTIVE_FOR);
            state.pruned = now;
        }
        let active = state.tenants.len() + usize::from(!state.tenants.contains_key(tenant));
        let share = self.capacity.div_ceil(active);
        let entry = match state.tenants.get_mut(tenant) {
            Some(entry) => entry,
            None => state.tenants.entry(tenant.to_owned()).or_insert(Share {
                in_flight: 0,
                seen: now,
                ordered: None,
            }),
        };
        entry.seen = now;
        entry.in_flight += 1;
        let held = entry.in_flight - 1;
        let movable = entry.ordered == Some(false);
        // Only the tenant holding the most (its overflow work counted) is moved: a quiet
        // tenant slowed down by a starved worker must not land behind the noisy one's
        // overflow backlog.
        let over = !aside
            && movable
            && active > 1
            && held >= share
            && state
                .tenants
                .iter()
                .filter(|(t, _)| t.as_str() != tenant)
                .all(|(_, other)| other.in_flight <= held);
        if over {
            if let Some(entry) = state.tenants.get_mut(tenant) {
                entry.in_flight -= 1;
            }
            return Admit::Move;
        }
        Admit::Handle(Slot {
            held: Some((self, tenant.to_owned())),
        })
    }
}

impl Fairness {
    /// Records whether `tenant` has an ordered hook (its hooks were just read for an
    /// event): only a tenant known to have none may be moved.
    pub fn note_hooks(&self, tenant: &str, ordered: bool) {
        if !self.enabled {
            return;
        }
        let mut state = self.state.lock().expect("not poisoned");
        if let Some(share) = state.tenants.get_mut(tenant) {
            share.ordered = Some(ordered);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handled(a: Admit<'_>) -> Slot<'_> {
        match a {
            Admit::Handle(slot) => slot,
            Admit::Move => panic!("moved"),
        }
    }

    #[test]
    fn a_tenant_alone_may_take_the_whole_worker() {
        let f = Fairness::new(true, 4);
        let slots: Vec<_> = (0..10).map(|_| handled(f.admit("a", false))).collect();
        assert_eq!(slots.len(), 10);
    }

    #[test]
    fn a_tenant_over_its_share_is_moved_while_another_is_active() {
        let f = Fairness::new(true, 4);
        let mut held: Vec<_> = (0..2).map(|_| handled(f.admit("a", false))).collect();
        f.note_hooks("a", false);
        held.push(handled(f.admit("b", false)));
        // Two tenants: a share is 2, and `a` holds 2, the most.
        assert!(matches!(f.admit("a", false), Admit::Move));
        // The overflow queue's events are never moved, and count in what `a` holds.
        held.push(handled(f.admit("a", true)));
        assert!(matches!(f.admit("a", false), Admit::Move));
        // Two of `a`'s end: under its share again.
        held.drain(..2);
        let _more = handled(f.admit("a", false));
    }

    #[test]
    fn a_tenant_over_its_share_is_not_moved_while_another_holds_more() {
        let f = Fairness::new(true, 4);
        let _a: Vec<_> = (0..3).map(|_| handled(f.admit("a", true))).collect();
        f.note_hooks("a", false);
        // `b` reaches the share (a starved worker), but `a` holds more: `b` stays.
        let _b: Vec<_> = (0..3).map(|_| handled(f.admit("b", false))).collect();
        assert!(matches!(f.admit("a", false), Admit::Move));
    }

    #[test]
    fn a_tenant_with_an_ordered_hook_or_hooks_not_yet_seen_is_never_moved() {
        let f = Fairness::new(true, 4);
        let _b = handled(f.admit("b", false));
        // Not yet seen: kept, however much it holds.
        let mut a: Vec<_> = (0..4).map(|_| handled(f.admit("a", false))).collect();
        f.note_hooks("a", true);
        a.extend((0..4).map(|_| handled(f.admit("a", false))));
        f.note_hooks("a", false);
        assert!(matches!(f.admit("a", false), Admit::Move));
    }

    #[test]
    fn a_worker_is_crowded_while_more_than_one_tenant_was_active_lately() {
        let f = Fairness::new(true, 4);
        assert!(!f.crowded(), "nobody yet");
        let a = handled(f.admit("a", true));
        assert!(!f.crowded(), "`a` alone");
        drop(handled(f.admit("b", false)));
        assert!(f.crowded(), "`b` was active lately");
        // `b` is forgotten 5 s after its last event.
        f.state.lock().expect("not poisoned").tenants.remove("b");
        assert!(!f.crowded(), "`a` alone again");
        drop(a);
        assert!(
            Fairness::new(false, 4).crowded(),
            "always, with fairness off"
        );
    }

    #[test]
    fn nothing_moves_when_fairness_is_off() {
        let f = Fairness::new(false, 1);
        let _b = handled(f.admit("b", false));
        let _a: Vec<_> = (0..5).map(|_| handled(f.admit("a", false))).collect();
    }
}
