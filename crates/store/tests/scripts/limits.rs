//! rate_limit.lua, intake_limit.lua and in_flight.lua: the GCRA and the leased slots,
//! on Redis's clock.

use std::time::Duration;

use hookpost_core::controls::RateLimit;
use hookpost_store::intake::{Ask, FairLane, Intake, IntakeLimit, Lane, Taken};
use hookpost_store::limits::Rate;
use hookpost_store::Store;

use crate::common::store;

const MS: Duration = Duration::from_millis(1);

/// A request that asks for its own tokens only (no lease), and the lane it takes.
async fn take_own(
    s: &Store,
    tenant: &str,
    (events, weight): (u32, u32),
    default: IntakeLimit,
    lane: FairLane,
) -> Intake<Lane> {
    let ask = Ask {
        events,
        want: events,
        weight,
        lane_want: weight,
        horizon: Duration::ZERO,
    };
    let taken = s.take_intake(tenant, ask, default, lane).await.unwrap();
    taken.map(|t| t.lane(weight))
}

/// A take expected to go.
async fn taken(s: &Store, ask: Ask, default: IntakeLimit, lane: FairLane) -> Taken {
    match s.take_intake("acme", ask, default, lane).await.unwrap() {
        Intake::Go(t) => t,
        other => panic!("refused: {other:?}"),
    }
}

fn about(d: Duration, ms: u64) -> bool {
    // The clock moves on between the calls: a wait is at most its ideal, a little less.
    let ideal = Duration::from_millis(ms);
    d <= ideal && d + 200 * MS > ideal
}

#[tokio::test]
async fn a_rate_limit_lets_its_burst_go_then_tells_the_wait_and_spreads_the_deferred() {
    let s = store();
    let limit = RateLimit {
        per_second: 1,
        burst: 3,
    };
    let rate = |sleep| s.rate("acme", "h1", limit, sleep);
    for _ in 0..3 {
        assert_eq!(rate(Duration::ZERO).await.unwrap(), Rate::Go);
    }
    let Rate::Sleep(wait) = rate(Duration::from_secs(5)).await.unwrap() else {
        panic!("a wait shorter than the caller sleeps through");
    };
    assert!(about(wait, 1_000), "{wait:?}");
    // Asking spends nothing: the same wait again.
    let Rate::Sleep(again) = rate(Duration::from_secs(5)).await.unwrap() else {
        panic!("still a wait");
    };
    assert!(again <= wait && about(again, 1_000), "{again:?}");
    // Longer than it sleeps through: deferred, each one interval after the last.
    let Rate::Defer(first) = rate(Duration::ZERO).await.unwrap() else {
        panic!("deferred");
    };
    let Rate::Defer(second) = rate(Duration::ZERO).await.unwrap() else {
        panic!("deferred");
    };
    let Rate::Defer(third) = rate(Duration::ZERO).await.unwrap() else {
        panic!("deferred");
    };
    assert!(about(first, 1_000), "{first:?}");
    assert!(about(second, 2_000), "{second:?}");
    assert!(about(third, 3_000), "{third:?}");
}

#[tokio::test]
async fn a_rate_limit_refills_one_token_an_interval() {
    let s = store();
    let limit = RateLimit {
        per_second: 50,
        burst: 2,
    };
    let rate = || s.rate("acme", "h1", limit, Duration::from_secs(1));
    assert_eq!(rate().await.unwrap(), Rate::Go);
    assert_eq!(rate().await.unwrap(), Rate::Go);
    let Rate::Sleep(wait) = rate().await.unwrap() else {
        panic!("the burst is spent");
    };
    assert!(about(wait, 20), "{wait:?}");
    tokio::time::sleep(wait + 2 * MS).await;
    assert_eq!(rate().await.unwrap(), Rate::Go, "one token back");
    assert!(matches!(rate().await.unwrap(), Rate::Sleep(_)), "only one");
    // Limits of other hooks are their own.
    assert_eq!(
        s.rate("acme", "h2", limit, Duration::ZERO).await.unwrap(),
        Rate::Go
    );
}

#[tokio::test]
async fn a_refused_test_send_spends_nothing() {
    let s = store();
    let send = || s.test_send_rate("acme", Duration::from_secs(1), 2);
    assert_eq!(send().await.unwrap(), None);
    assert_eq!(send().await.unwrap(), None);
    for _ in 0..3 {
        let wait = send().await.unwrap().expect("refused");
        assert!(about(wait, 1_000), "never longer: {wait:?}");
    }
}

#[tokio::test]
async fn an_intake_request_takes_all_its_tokens_or_none() {
    let s = store();
    let default = IntakeLimit {
        per_second: 1,
        burst: 5,
    };
    let take = |n| take_own(&s, "acme", (n, n), default, WIDE_LANE);
    assert_eq!(take(3).await, Intake::Go(Lane::Fair));
    let Intake::Wait(wait) = take(3).await else {
        panic!("two tokens left, three asked");
    };
    assert!(about(wait, 1_000), "{wait:?}");
    assert_eq!(
        take(2).await,
        Intake::Go(Lane::Fair),
        "the refusal took none"
    );
    let Intake::Wait(wait) = take(1).await else {
        panic!("spent");
    };
    assert!(about(wait, 1_000), "{wait:?}");
    assert_eq!(take(6).await, Intake::OverBurst(5), "could never go");
}

#[tokio::test]
async fn a_tenants_own_intake_limit_replaces_the_default_and_clearing_it_starts_afresh() {
    let s = store();
    let default = IntakeLimit {
        per_second: 1,
        burst: 5,
    };
    let own = IntakeLimit {
        per_second: 10,
        burst: 2,
    };
    s.set_intake_limit("acme", Some(own)).await.unwrap();
    assert_eq!(s.intake_limit("acme").await.unwrap(), Some(own));
    let take = |n| take_own(&s, "acme", (n, n), default, WIDE_LANE);
    assert_eq!(take(3).await, Intake::OverBurst(2));
    assert_eq!(take(2).await, Intake::Go(Lane::Fair));
    let Intake::Wait(wait) = take(1).await else {
        panic!("the own burst is spent");
    };
    assert!(about(wait, 100), "{wait:?}");
    // Another tenant keeps the default.
    assert_eq!(
        take_own(&s, "other", (5, 5), default, WIDE_LANE).await,
        Intake::Go(Lane::Fair)
    );
    s.set_intake_limit("acme", None).await.unwrap();
    assert_eq!(s.intake_limit("acme").await.unwrap(), None);
    assert_eq!(
        take(5).await,
        Intake::Go(Lane::Fair),
        "the default, with no debt"
    );
}

#[tokio::test]
async fn slots_in_flight_are_capped_freed_and_leased() {
    let s = store();
    let take = |token, lease| s.take_slot("acme", "h1", token, 2, lease);
    let minute = Duration::from_secs(60);
    assert!(take("a", minute).await.unwrap());
    assert!(take("b", minute).await.unwrap());
    assert!(!take("c", minute).await.unwrap(), "both taken");
    s.free_slot("acme", "h1", "a").await.unwrap();
    assert!(take("c", minute).await.unwrap(), "a freed one");
    s.free_slot("acme", "h1", "b").await.unwrap();
    // A holder that died: its lease (zero) has run out by the next take.
    assert!(take("dead", Duration::ZERO).await.unwrap());
    assert!(take("d", minute).await.unwrap());
    assert!(!take("e", minute).await.unwrap());
}

/// The set once expired with the latest slot's lease, so a short lease taken after a
/// long one freed the long one's slot too.
#[tokio::test]
async fn a_short_lease_does_not_end_a_longer_ones_slot() {
    let s = store();
    let take = |token, lease| s.take_slot("acme", "h1", token, 2, lease);
    assert!(take("long", Duration::from_secs(60)).await.unwrap());
    assert!(take("short", MS).await.unwrap());
    tokio::time::sleep(20 * MS).await;
    assert!(
        take("c", Duration::from_secs(60)).await.unwrap(),
        "the short one ran out"
    );
    assert!(
        !take("d", Duration::from_secs(60)).await.unwrap(),
        "the long one still holds"
    );
}

/// A lane no test here fills: only the intake limit decides.
const WIDE_LANE: FairLane = FairLane {
    per_second: 1_000_000,
    burst: 1_000_000,
};

#[tokio::test]
async fn a_request_beyond_the_fair_lane_is_accepted_into_the_overflow_lane_whole() {
    let s = store();
    let default = IntakeLimit {
        per_second: 1_000,
        burst: 1_000,
    };
    let lane = FairLane {
        per_second: 1,
        burst: 10,
    };
    let take = |events, weight| take_own(&s, "acme", (events, weight), default, lane);
    assert_eq!(take(2, 8).await, Intake::Go(Lane::Fair));
    // 2 units left in the lane: a request weighing 3 goes beyond it, all of it, and
    // takes none of the lane's units.
    assert_eq!(take(1, 3).await, Intake::Go(Lane::Overflow));
    assert_eq!(take(1, 2).await, Intake::Go(Lane::Fair));
    assert_eq!(take(1, 1).await, Intake::Go(Lane::Overflow));
}

#[tokio::test]
async fn a_lease_takes_what_the_rate_earns_over_its_horizon_else_the_requests_own() {
    let s = store();
    let default = IntakeLimit {
        per_second: 1_000,
        burst: 1_000,
    };
    let lane = FairLane {
        per_second: 2_000,
        burst: 1_000,
    };
    let horizon = Duration::from_millis(50);
    let lease = Ask {
        events: 1,
        want: 200,
        weight: 2,
        lane_want: 400,
        horizon,
    };
    // 50 ms at 1,000 events a second: 50 of the 200 wanted; the lane's lease is sized
    // at the request's 2 deliveries an event (and 50 ms of its 2,000 a second).
    let t = taken(&s, lease, default, lane).await;
    assert_eq!((t.events, t.lane, t.lane_wait), (50, 100, Duration::ZERO));
    // Nearly all the rest of the burst, exactly; then a whole lease no longer fits, and
    // what there is room for is taken (the ~10 left, and what the clock added since).
    let most = Ask {
        events: 940,
        want: 940,
        weight: 1,
        lane_want: 1,
        horizon,
    };
    assert_eq!(taken(&s, most, default, lane).await.events, 940);
    let partial = taken(&s, lease, default, lane).await.events;
    assert!((1..50).contains(&partial), "{partial}");
    // The lane alone: no events, a lease of the deliveries wanted.
    let lane_only = Ask {
        events: 0,
        want: 0,
        weight: 5,
        lane_want: 20,
        horizon,
    };
    let t = taken(&s, lane_only, default, lane).await;
    assert_eq!((t.events, t.lane), (0, 20));
    // A lane refused says when the weight would fit.
    let heavy = Ask {
        weight: 1_000,
        ..lane_only
    };
    let t = taken(&s, heavy, default, lane).await;
    assert_eq!(t.lane, 0);
    assert!(t.lane_wait > Duration::ZERO, "{t:?}");
}
