//! order_register.lua, order_turn.lua and order_finish.lua (with order_common.lua): one
//! delivery at a time per ordering key, in the order of registration.

use std::time::Duration;

use hookpost_store::log::{EventMark, Record, Status};
use hookpost_store::ordering::{Ordered, Release, Turn};
use hookpost_store::Store;

use crate::common::{store, TestStore};

const LEASE: Duration = Duration::from_secs(60);

fn d(n: u32) -> Ordered<'static> {
    let ids: &'static [(&str, &str)] = &[("d0", "e0"), ("d1", "e1"), ("d2", "e2"), ("d3", "e3")];
    Ordered {
        hook_id: "h1",
        key_id: "k1",
        delivery_id: ids[n as usize].0,
        event_id: ids[n as usize].1,
    }
}

/// A store whose tenant `acme` has hooks: registrations need them there.
async fn with_hooks() -> TestStore {
    let s = store();
    let _: () = redis::AsyncCommands::hset(&mut s.conn(), s.keys().hooks("acme"), "h1", "{}")
        .await
        .unwrap();
    s
}

fn member(n: u32) -> String {
    format!("d{n}:e{n}")
}

async fn turn(s: &Store, n: u32, token: &str, lease: Duration) -> Turn {
    s.order_turn("acme", &d(n), token, lease).await.unwrap()
}

/// Records delivery `n` as delivered (by a resend, say), without touching its key.
async fn delivered(s: &Store, n: u32) {
    recorded(s, n, Status::Delivered).await
}

/// Records delivery `n`'s `status` (retrying: due in a minute), without touching its key.
async fn recorded(s: &Store, n: u32, status: Status) {
    let r = Record {
        delivery_id: d(n).delivery_id,
        hook_id: "h1",
        kind: "t",
        hook_json: "{}",
        status,
        next_at: (status == Status::Retrying).then(|| hookpost_core::now_ms() + 60_000),
        attempt: None,
        blocking: false,
        if_new: false,
        forget_soon: false,
    };
    s.record("acme", d(n).event_id, &[r], EventMark::Keep, 60_000)
        .await
        .unwrap();
}

#[tokio::test]
async fn turns_go_in_registration_order_and_a_finished_turn_hands_on_to_the_next() {
    let s = with_hooks().await;
    s.order_register("acme", &[d(0), d(1), d(2)]).await.unwrap();
    // Registering again keeps the place.
    s.order_register("acme", &[d(0)]).await.unwrap();
    assert_eq!(
        turn(&s, 1, "a", LEASE).await,
        Turn::Wait(Some(member(0))),
        "nobody holds it: send for d0"
    );
    assert_eq!(turn(&s, 0, "a", LEASE).await, Turn::Go);
    assert_eq!(turn(&s, 1, "b", LEASE).await, Turn::Wait(None));
    match turn(&s, 0, "b", LEASE).await {
        Turn::Busy(left) => assert!(
            left <= LEASE && left > LEASE / 2,
            "its hold's rest: {left:?}"
        ),
        other => panic!("another handler attempts it: {other:?}"),
    }
    assert_eq!(
        turn(&s, 0, "a", LEASE).await,
        Turn::Go,
        "its own handler again"
    );

    // A retry keeps the key; the handler lets go of the delivery only.
    recorded(&s, 0, Status::Retrying).await;
    assert_eq!(
        s.order_release("acme", &d(0), Release::Retry, "a")
            .await
            .unwrap(),
        None
    );
    assert_eq!(turn(&s, 1, "b", LEASE).await, Turn::Wait(None));
    assert_eq!(
        turn(&s, 0, "b", LEASE).await,
        Turn::Go,
        "the retry, by any handler"
    );

    let next = s
        .order_release("acme", &d(0), Release::Done, "b")
        .await
        .unwrap();
    assert_eq!(next, Some(member(1)));
    assert_eq!(turn(&s, 2, "c", LEASE).await, Turn::Wait(Some(member(1))));
    assert_eq!(turn(&s, 1, "c", LEASE).await, Turn::Go);
    assert_eq!(
        s.order_release("acme", &d(1), Release::Done, "c")
            .await
            .unwrap(),
        Some(member(2))
    );
    assert_eq!(turn(&s, 2, "c", LEASE).await, Turn::Go);
}

#[tokio::test]
async fn a_delivery_never_registered_queues_behind_those_that_were() {
    let s = with_hooks().await;
    s.order_register("acme", &[d(0)]).await.unwrap();
    assert_eq!(turn(&s, 1, "a", LEASE).await, Turn::Wait(Some(member(0))));
    assert_eq!(turn(&s, 0, "a", LEASE).await, Turn::Go);
    assert_eq!(
        s.order_release("acme", &d(0), Release::Done, "a")
            .await
            .unwrap(),
        Some(member(1))
    );
    assert_eq!(turn(&s, 1, "a", LEASE).await, Turn::Go);
}

#[tokio::test]
async fn a_stuck_turn_is_taken_back_once_its_delivery_ended_and_its_hold_ran_out() {
    let s = with_hooks().await;
    s.order_register("acme", &[d(0), d(1)]).await.unwrap();
    // d0's handler holds the key with a lease that has run out (zero).
    assert_eq!(turn(&s, 0, "a", Duration::ZERO).await, Turn::Go);
    // Not ended as far as Redis knows: the key still waits for d0, which any handler may
    // now attempt (and the next asks the log about it: Redis holds nothing of it).
    assert_eq!(turn(&s, 1, "b", LEASE).await, Turn::Unsure(member(0)));
    assert_eq!(
        turn(&s, 0, "b", Duration::ZERO).await,
        Turn::Go,
        "the dead handler's hold is over"
    );
    // Its handler recorded the end, then died before letting go of the key.
    delivered(&s, 0).await;
    assert_eq!(turn(&s, 1, "b", LEASE).await, Turn::Go, "taken back");
    // A late look at d0 finds it ended.
    assert_eq!(turn(&s, 0, "c", LEASE).await, Turn::Ended);
}

/// A key's holder nobody attempts: when Redis holds its state (a retry waiting), the next
/// delivery waits for it; when Redis holds nothing of it (a Redis back without its last
/// writes may have lost its end), the next is told whom it waits on, to ask the log.
#[tokio::test]
async fn a_holder_redis_holds_nothing_of_is_named_to_the_next() {
    let s = with_hooks().await;
    s.order_register("acme", &[d(0), d(1)]).await.unwrap();
    assert_eq!(turn(&s, 0, "gone", Duration::ZERO).await, Turn::Go);
    assert_eq!(turn(&s, 1, "next", LEASE).await, Turn::Unsure(member(0)));
    recorded(&s, 0, Status::Retrying).await;
    assert_eq!(turn(&s, 1, "next", LEASE).await, Turn::Wait(None));
}

#[tokio::test]
async fn a_live_hold_on_an_ended_delivery_is_not_taken_back() {
    let s = with_hooks().await;
    s.order_register("acme", &[d(0), d(1)]).await.unwrap();
    assert_eq!(turn(&s, 0, "a", LEASE).await, Turn::Go);
    delivered(&s, 0).await;
    assert_eq!(
        turn(&s, 1, "b", LEASE).await,
        Turn::Wait(None),
        "its handler is still at it"
    );
}

#[tokio::test]
async fn deliveries_that_ended_while_queued_are_skipped() {
    let s = with_hooks().await;
    s.order_register("acme", &[d(0), d(1), d(2)]).await.unwrap();
    assert_eq!(turn(&s, 0, "a", LEASE).await, Turn::Go);
    delivered(&s, 1).await; // by a resend
    let next = s
        .order_release("acme", &d(0), Release::Done, "a")
        .await
        .unwrap();
    assert_eq!(next, Some(member(2)), "past d1");
    assert_eq!(turn(&s, 2, "a", LEASE).await, Turn::Go);
}

#[tokio::test]
async fn a_blocked_key_holds_everything_behind_it_until_its_delivery_ends() {
    let s = with_hooks().await;
    s.order_register("acme", &[d(0), d(1)]).await.unwrap();
    assert_eq!(turn(&s, 0, "a", LEASE).await, Turn::Go);
    assert_eq!(
        s.order_release("acme", &d(0), Release::Block, "a")
            .await
            .unwrap(),
        None
    );
    assert_eq!(turn(&s, 1, "b", LEASE).await, Turn::Blocked);
    let flag: Option<String> =
        redis::AsyncCommands::hget(&mut s.conn(), s.keys().delivery("acme", "d0"), "blocking")
            .await
            .unwrap();
    assert_eq!(flag.as_deref(), Some("1"));
    // Resent and delivered: the key goes on.
    assert_eq!(turn(&s, 0, "c", LEASE).await, Turn::Go);
    let next = s
        .order_release("acme", &d(0), Release::Done, "c")
        .await
        .unwrap();
    assert_eq!(next, Some(member(1)));
    assert_eq!(turn(&s, 1, "b", LEASE).await, Turn::Go);
}

/// A handler told another holds a delivery (which may have died attempting it, before
/// anything of it was written) marks it wanted: once the hold runs out, the key waits for
/// it even though its event is done and it has no state, instead of taking it for one its
/// hook stopped wanting.
#[tokio::test]
async fn a_delivery_found_busy_is_waited_for_after_its_holder_is_gone() {
    let s = with_hooks().await;
    s.order_register("acme", &[d(0), d(1)]).await.unwrap();
    let short = Duration::from_millis(300);
    assert_eq!(turn(&s, 0, "dead", short).await, Turn::Go);
    assert!(matches!(
        turn(&s, 0, "takeover", LEASE).await,
        Turn::Busy(_)
    ));
    // The take-over marked the event done, with nothing of the delivery.
    s.record("acme", d(0).event_id, &[], EventMark::DoneAndSlim, 60_000)
        .await
        .unwrap();
    tokio::time::sleep(short * 2).await;
    // Redis holds nothing of it: the next asks the log (which shows it pending).
    assert_eq!(turn(&s, 1, "next", LEASE).await, Turn::Unsure(member(0)));
    assert_eq!(turn(&s, 0, "takeover", LEASE).await, Turn::Go);
    let next = s
        .order_release("acme", &d(0), Release::Done, "takeover")
        .await;
    assert_eq!(next.unwrap(), Some(member(1)));
    assert_eq!(turn(&s, 1, "next", LEASE).await, Turn::Go);
}

/// Redis back empty: until the rebuild has put the tenant's hooks back, after lining up
/// the deliveries that waited on its keys, a registration is refused and registers
/// nothing; the rebuild's own go through.
#[tokio::test]
async fn a_registration_before_the_rebuild_put_the_hooks_back_is_refused() {
    let s = store();
    let refused = s.order_register("acme", &[d(0)]).await;
    assert!(matches!(
        refused,
        Err(hookpost_store::StoreError::Rebuilding)
    ));
    let queued: bool =
        redis::AsyncCommands::exists(&mut s.conn(), s.keys().order_queue("acme", "h1", "k1"))
            .await
            .unwrap();
    assert!(!queued, "nothing registered");
    s.order_register_rebuilt("acme", &[d(0)]).await.unwrap();
    let _: () = redis::AsyncCommands::hset(&mut s.conn(), s.keys().hooks("acme"), "h1", "{}")
        .await
        .unwrap();
    s.order_register("acme", &[d(1)]).await.unwrap();
    assert_eq!(turn(&s, 0, "t0", LEASE).await, Turn::Go);
}
