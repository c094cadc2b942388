//! Routing at the source: each tenant's fair lane.
//!
//! The event queues are FIFO and shared by every tenant, so a tenant that posts faster
//! than the workers deliver would put everyone else's events behind its backlog. Ingest
//! knows an event's tenant before publishing it, so it weighs each request by the
//! deliveries it makes (the tenant's active hooks subscribed to each event's type, at
//! least one per event; filters are not run here) against the tenant's fair lane, in the
//! same Redis call as its intake limit. Within the lane, the events go to the exchange as
//! always; beyond it, the whole request goes to the overflow queue (the default exchange,
//! routing key = the queue), which every worker consumes too: the tenant's surplus is
//! still delivered, but never in front of the other tenants' events. Within the lane, a
//! light tenant's events go to the light queue instead (see
//! [`hookpost_service::light`]), where no heavier tenant's events are ahead of them.
//!
//! Ordered hooks keep their order whichever queue an event takes: the deliveries' places
//! in their keys' lines are registered in Redis before the events are published.

use hookpost_broker::Topology;
use hookpost_core::Event;
use hookpost_store::intake::Lane;

use hookpost_service::ordering::TenantHooks;

/// The deliveries `events` make at most with the tenant's `hooks`: what they take from
/// its fair lane.
pub fn weigh(hooks: &TenantHooks, events: &[Event]) -> u32 {
    let weight: usize = events
        .iter()
        .map(|e| hooks.deliveries(&e.kind).max(1))
        .sum();
    u32::try_from(weight).unwrap_or(u32::MAX)
}

/// Where an event of type `kind` is published: exchange and routing key.
pub fn route<'a>(topology: &'a Topology, lane: Lane, kind: &'a str) -> (&'a str, &'a str) {
    match lane {
        Lane::Fair => (&topology.exchange, kind),
        Lane::Light => ("", &topology.light_queue),
        Lane::Overflow => ("", &topology.overflow_queue),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beyond_the_lane_an_event_goes_straight_to_the_overflow_queue() {
        let t = Topology::new("p");
        assert_eq!(route(&t, Lane::Fair, "a.b"), ("p.events", "a.b"));
        assert_eq!(route(&t, Lane::Light, "a.b"), ("", "p.events.light"));
        assert_eq!(route(&t, Lane::Overflow, "a.b"), ("", "p.events.overflow"));
    }
}
