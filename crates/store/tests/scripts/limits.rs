//! rate_limit.lua, intake_limit.lua and in_flight.lua: the GCRA and the leased slots,
//! on Redis's clock.

use std::time::Duration;

use hookpost_core::controls::RateLimit;
use hookpost_store::intake::{FairLane, Intake, IntakeLimit, Lane};
use hookpost_store::limits::Rate;

use crate::common::store;

const MS: Duration = Duration::from_millis(1);

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
    let take = |n| s.take_intake("acme", n, default, n, WIDE_LANE);
    assert_eq!(take(3).await.unwrap(), Intake::Go(Lane::Fair));
    let Intake::Wait(wait) = take(3).await.unwrap() else {
        panic!("two tokens left, three asked");
    };
    assert!(about(wait, 1_000), "{wait:?}");
    assert_eq!(
        take(2).await.unwrap(),
        Intake::Go(Lane::Fair),
        "the refusal took none"
    );
    let Intake::Wait(wait) = take(1).await.unwrap() else {
        panic!("spent");
    };
    assert!(about(wait, 1_000), "{wait:?}");
    assert_eq!(
        take(6).await.unwrap(),
        Intake::OverBurst(5),
        "could never go"
    );
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
    let take = |n| s.take_intake("acme", n, default, n, WIDE_LANE);
    assert_eq!(take(3).await.unwrap(), Intake::OverBurst(2));
    assert_eq!(take(2).await.unwrap(), Intake::Go(Lane::Fair));
    let Intake::Wait(wait) = take(1).await.unwrap() else {
        panic!("the own burst is spent");
    };
    assert!(about(wait, 100), "{wait:?}");
    // Another tenant keeps the default.
    assert_eq!(
        s.take_intake("other", 5, default, 5, WIDE_LANE)
            .await
            .unwrap(),
        Intake::Go(Lane::Fair)
    );
    s.set_intake_limit("acme", None).await.unwrap();
    assert_eq!(s.intake_limit("acme").await.unwrap(), None);
    assert_eq!(
        take(5).await.unwrap(),
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
    let take = |events, weight| s.take_intake("acme", events, default, weight, lane);
    assert_eq!(take(2, 8).await.unwrap(), Intake::Go(Lane::Fair));
    // 2 units left in the lane: a request weighing 3 goes beyond it, all of it, and
    // takes none of the lane's units.
    assert_eq!(take(1, 3).await.unwrap(), Intake::Go(Lane::Overflow));
    assert_eq!(take(1, 2).await.unwrap(), Intake::Go(Lane::Fair));
    assert_eq!(take(1, 1).await.unwrap(), Intake::Go(Lane::Overflow));
}
