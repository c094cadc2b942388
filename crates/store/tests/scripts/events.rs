//! Claiming an event (plain commands, the done marks among them), its lease (its end on
//! Redis's clock, in the event's state: event_lease.lua, event_hold.lua) and what is
//! kept of it (event_keep_payload.lua).

use std::time::Duration;

use hookpost_core::Event;
use hookpost_store::events::{Claim, Held};
use hookpost_store::log::{EventMark, Kept, Record};
use hookpost_store::Store;

use crate::common::{store, tenant};

fn event(id: &str) -> Event {
    let raw = format!(r#"{{"id":"{id}","tenant":"acme","type":"t.created","data":{{"k":1}}}}"#);
    Event::parse(raw.as_bytes(), None).unwrap()
}

const MINUTE: u64 = 60_000;

/// `e`'s fields to keep, as a record marking it done with deliveries waiting gives them.
fn kept(e: &Event, received_at: i64) -> Kept<'_> {
    Kept {
        kind: &e.kind,
        data: e.data.get(),
        received_at,
        occurred_at: e.occurred_at.as_deref(),
        traceparent: None,
    }
}

async fn del(s: &Store, key: String) {
    let _: () = redis::AsyncCommands::del(&mut s.conn(), key).await.unwrap();
}

/// `e`'s claim (a minute's lease) with receive time `at`.
async fn claim(s: &Store, e: &Event, at: i64) -> Claim {
    s.claim_event(e, MINUTE, at).await.unwrap().0
}

async fn exists(s: &Store, key: String) -> bool {
    redis::AsyncCommands::exists(&mut s.conn(), key)
        .await
        .unwrap()
}

/// Marks event `id` of `acme` as `mark` says, recording no delivery.
async fn mark(s: &Store, id: &str, mark: EventMark<'_>) {
    let none: [Record<'_>; 0] = [];
    s.record("acme", id, &none, mark, MINUTE as i64)
        .await
        .unwrap();
}

#[tokio::test]
async fn an_event_of_an_unknown_tenant_is_refused_and_not_stored() {
    let s = store();
    let claim = s.claim_event(&event("e1"), MINUTE, 1).await.unwrap();
    assert_eq!(claim, (Claim::UnknownTenant, 0));
    assert!(s.event("acme", "e1").await.unwrap().is_none());
    let k = s.keys();
    assert!(!exists(&s, k.event_state("acme", "e1")).await);
    let (marks, _) = mark_set(&s, "e1", 0);
    assert!(!exists(&s, marks).await, "nor its mark");
    assert!(
        !exists(&s, k.done_sets("acme", this_period())).await,
        "nor its period's set count"
    );
    // Once the tenant is there (Redis rebuilt), the event is new.
    tenant(&s, "acme").await;
    assert_eq!(
        s.claim_event(&event("e1"), MINUTE, 1).await.unwrap().0,
        Claim::New
    );
}

#[tokio::test]
async fn the_first_claim_stores_the_event_and_a_live_lease_keeps_others_out() {
    let s = store();
    tenant(&s, "acme").await;
    let received_at = 1_700_000_000_123;
    let claim = s
        .claim_event(&event("e1"), MINUTE, received_at)
        .await
        .unwrap();
    assert_eq!(claim, (Claim::New, 0));
    assert_eq!(
        s.claimed("acme", "e1").await.unwrap().1,
        Some(received_at),
        "the caller's stamp, as given"
    );
    // A duplicate, or a redelivery while the holder lives: told how long the lease has
    // left, when it looks again.
    let Claim::Busy(busy) = s.claim_event(&event("e1"), MINUTE, 2).await.unwrap().0 else {
        panic!("busy")
    };
    assert!(
        busy <= Duration::from_millis(MINUTE) && busy > Duration::from_millis(MINUTE - 10_000),
        "{busy:?}"
    );
    let Held::Left(left) = s.hold_event("acme", "e1", 0).await.unwrap() else {
        panic!("held")
    };
    assert!(
        left > Duration::from_secs(55) && left <= Duration::from_secs(60),
        "{left:?}"
    );
    // One key: the lease is in the state, its end on Redis's clock.
    assert!(!exists(&s, s.keys().event_lease("acme", "e1")).await);
    let state: String =
        redis::AsyncCommands::get(&mut s.conn(), s.keys().event_state("acme", "e1"))
            .await
            .unwrap();
    let redis_now = crate::common::redis_now(&s).await;
    let (at, ends) = state
        .strip_prefix("p:")
        .and_then(|rest| rest.split_once(':'))
        .unwrap();
    assert_eq!(at, received_at.to_string());
    let left = ends.parse::<i64>().unwrap() - redis_now;
    assert!((55_000..=60_000).contains(&left), "{state}: {left} ms left");
}

#[tokio::test]
async fn a_lease_that_ran_out_is_taken_over_once() {
    let s = store();
    tenant(&s, "acme").await;
    // A holder whose lease has already run out: it died.
    assert_eq!(
        s.claim_event(&event("e1"), 1, 1).await.unwrap().0,
        Claim::New
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(s.hold_event("acme", "e1", 0).await.unwrap(), Held::Free);
    assert_eq!(
        s.claim_event(&event("e1"), MINUTE, 2).await.unwrap().0,
        Claim::TakeOver
    );
    // The one that took over holds it now.
    assert!(matches!(
        s.claim_event(&event("e1"), MINUTE, 3).await.unwrap().0,
        Claim::Busy(_)
    ));
    assert_eq!(
        s.claimed("acme", "e1").await.unwrap().1,
        Some(1),
        "a take-over keeps the first receive time"
    );
}

#[tokio::test]
async fn the_claim_stores_no_payload_and_a_busy_duplicate_keeps_it_until_the_event_is_done() {
    let s = store();
    tenant(&s, "acme").await;
    s.claim_event(&event("e1"), MINUTE, 5).await.unwrap();
    assert!(
        s.event("acme", "e1").await.unwrap().is_none(),
        "the message carries the payload while its holder works"
    );
    // A duplicate told busy keeps it, for its resume task should the holder die.
    assert!(matches!(
        s.claim_event(&event("e1"), MINUTE, 6).await.unwrap().0,
        Claim::Busy(_)
    ));
    s.keep_payload(&event("e1")).await.unwrap();
    let stored = s.event("acme", "e1").await.unwrap().unwrap();
    assert_eq!(
        (
            stored.kind.as_str(),
            stored.data.as_str(),
            stored.received_at
        ),
        ("t.created", r#"{"k":1}"#, 5)
    );
    assert_eq!(stored.state, "processing");

    // An event done and let go is not given its payload back by a late duplicate.
    s.claim_event(&event("e2"), MINUTE, 1).await.unwrap();
    mark(&s, "e2", EventMark::DoneAndSlim).await;
    s.keep_payload(&event("e2")).await.unwrap();
    assert!(!exists(&s, s.keys().event("acme", "e2")).await);
    assert_eq!(
        s.claim_event(&event("e2"), MINUTE, 2).await.unwrap().0,
        Claim::Done
    );
    // Nor is one never claimed here stored by it.
    s.keep_payload(&event("e3")).await.unwrap();
    assert!(s.claimed("acme", "e3").await.unwrap().1.is_none());
    assert!(!exists(&s, s.keys().event("acme", "e3")).await);
}

#[tokio::test]
async fn an_event_marked_done_with_deliveries_waiting_keeps_the_payload_it_is_given() {
    let s = store();
    tenant(&s, "acme").await;
    let e1 = event("e1");
    s.claim_event(&e1, MINUTE, 9).await.unwrap();
    mark(&s, "e1", EventMark::Done(kept(&e1, 9))).await;
    let stored = s.event("acme", "e1").await.unwrap().unwrap();
    assert_eq!(
        (
            stored.data.as_str(),
            stored.received_at,
            stored.state.as_str()
        ),
        (r#"{"k":1}"#, 9, "done")
    );
    assert_eq!(stored.kind, "t.created");
    // Redis lost the claim meanwhile: the mark and the event make keys of their own,
    // which expire with the retention as the claim's would.
    let e9 = event("e9");
    mark(&s, "e9", EventMark::Done(kept(&e9, 10))).await;
    for key in [
        s.keys().event_state("acme", "e9"),
        s.keys().event("acme", "e9"),
    ] {
        let ttl: i64 = redis::AsyncCommands::ttl(&mut s.conn(), key).await.unwrap();
        assert!(ttl > 0, "{ttl}");
    }
    assert_eq!(claim(&s, &e9, 11).await, Claim::Done);
}

#[tokio::test]
async fn a_released_lease_lets_the_next_claim_take_over_and_renewal_extends_it() {
    let s = store();
    tenant(&s, "acme").await;
    s.claim_event(&event("e1"), 1_000, 1).await.unwrap();
    assert!(s
        .set_event_lease("acme", "e1", Duration::from_secs(30))
        .await
        .unwrap());
    let held = s.hold_event("acme", "e1", 0).await.unwrap();
    assert!(
        matches!(held, Held::Left(left) if left > Duration::from_secs(25)),
        "renewed: {held:?}"
    );
    assert!(s
        .set_event_lease("acme", "e1", Duration::ZERO)
        .await
        .unwrap());
    assert_eq!(s.hold_event("acme", "e1", 0).await.unwrap(), Held::Free);
    assert_eq!(
        s.claim_event(&event("e1"), MINUTE, 2).await.unwrap().0,
        Claim::TakeOver
    );
}

#[tokio::test]
async fn a_done_or_missing_event_gets_no_lease_and_a_done_one_is_a_duplicate() {
    let s = store();
    tenant(&s, "acme").await;
    assert!(!s
        .set_event_lease("acme", "nope", Duration::from_secs(30))
        .await
        .unwrap());
    assert!(
        s.event("acme", "nope").await.unwrap().is_none(),
        "never recreated"
    );
    assert_eq!(
        s.hold_event("acme", "nope", MINUTE).await.unwrap(),
        Held::NotProcessing
    );

    let e1 = event("e1");
    s.claim_event(&e1, MINUTE, 1).await.unwrap();
    mark(&s, "e1", EventMark::Done(kept(&e1, 1))).await;
    assert!(!s
        .set_event_lease("acme", "e1", Duration::from_secs(30))
        .await
        .unwrap());
    assert_eq!(
        s.claim_event(&event("e1"), MINUTE, 2).await.unwrap().0,
        Claim::Done
    );
}

#[tokio::test]
async fn a_claim_answers_the_tenants_hooks_version() {
    let s = store();
    tenant(&s, "acme").await;
    let _: () = redis::AsyncCommands::set(&mut s.conn(), s.keys().hooks_version("acme"), 7)
        .await
        .unwrap();
    assert_eq!(
        s.claim_event(&event("e1"), MINUTE, 1).await.unwrap(),
        (Claim::New, 7)
    );
    assert!(matches!(
        s.claim_event(&event("e1"), MINUTE, 1).await.unwrap(),
        (Claim::Busy(_), 7)
    ));
}

/// A retry's reads of its tenant's keys in one round trip are what the reads one by one
/// give: the event kept, the delivery's progress and the hooks version; none of an event
/// or a delivery Redis does not keep.
#[tokio::test]
async fn a_retrys_reads_in_one_trip_are_the_reads_one_by_one() {
    use hookpost_store::log::Status;
    let s = store();
    tenant(&s, "acme").await;
    let mut conn = s.conn();
    let _: () = redis::AsyncCommands::set(&mut conn, s.keys().hooks_version("acme"), 7)
        .await
        .unwrap();
    let e1 = event("e1");
    s.claim_event(&e1, MINUTE, 9).await.unwrap();
    mark(&s, "e1", EventMark::Done(kept(&e1, 9))).await;
    let fields = [("hook", "{}"), ("attempts", "2"), ("status", "retrying")];
    let _: () =
        redis::AsyncCommands::hset_multiple(&mut conn, s.keys().delivery("acme", "d1"), &fields)
            .await
            .unwrap();
    let reads = s.retry_reads("acme", "e1", "d1").await.unwrap();
    let event = s.event("acme", "e1").await.unwrap();
    assert_eq!(
        reads.event.map(|e| (e.data, e.received_at)),
        event.map(|e| (e.data, e.received_at))
    );
    let progress = s.delivery_progress("acme", "d1").await.unwrap();
    assert_eq!(progress, Some(("{}".to_owned(), 2, Status::Retrying)));
    assert_eq!(reads.progress, progress);
    assert_eq!(reads.hooks_version, 7);
    let none = s.retry_reads("acme", "e2", "d2").await.unwrap();
    assert!(none.event.is_none() && none.progress.is_none());
}

/// The set holding `id`'s done mark for the period `back` periods before this one (the
/// test store's retention is an hour), and the mark.
fn mark_set(s: &Store, id: &str, back: u64) -> (String, i64) {
    let print = hookpost_store::done_marks::fingerprint(id);
    let set = print.set(hookpost_store::done_marks::SETS);
    (
        s.keys().done_marks("acme", this_period() - back, set),
        print.member,
    )
}

/// The retention period now (the test store's retention is an hour).
fn this_period() -> u64 {
    hookpost_store::done_marks::period(hookpost_core::now_ms() as u64 / 1000, 3600)
}

/// Writes `id`'s done mark into the period `back` periods before this one.
async fn plant_mark(s: &Store, id: &str, back: u64) {
    let (set, member) = mark_set(s, id, back);
    let _: () = redis::AsyncCommands::sadd(&mut s.conn(), set, member)
        .await
        .unwrap();
}

/// The usual end of an event (every delivery delivered, no ordered hook): Redis keeps
/// no key of it, only its fingerprint in one of the tenant's small sets, which expires
/// no sooner than the retention; a duplicate finds the fingerprint and Redis no state.
#[tokio::test]
async fn an_event_done_and_gone_leaves_only_its_fingerprint_for_the_retention() {
    let s = store();
    tenant(&s, "acme").await;
    let e1 = event("e1");
    assert_eq!(claim(&s, &e1, 1).await, Claim::New);
    mark(&s, "e1", EventMark::DoneAndGone).await;
    let k = s.keys();
    // The record queued the removal of the state (the lease in it); the worker sends
    // the queue moments later.
    assert!(exists(&s, k.event_state("acme", "e1")).await);
    s.remove_queued().await.unwrap();
    assert!(!exists(&s, k.event_state("acme", "e1")).await);
    assert!(!exists(&s, k.event("acme", "e1")).await);
    let (set, member) = mark_set(&s, "e1", 0);
    let marked: bool = redis::AsyncCommands::sismember(&mut s.conn(), &set, member)
        .await
        .unwrap();
    assert!(marked);
    let ttl: i64 = redis::AsyncCommands::ttl(&mut s.conn(), &set)
        .await
        .unwrap();
    assert!((3600..=7200).contains(&ttl), "{ttl}");
    // Redis's compact form: 8 bytes a member, not a key.
    let encoding: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg(&set)
        .query_async(&mut s.conn())
        .await
        .unwrap();
    assert_eq!(encoding, "intset");

    // A duplicate is marked done (its claim holds the event), and the state its claim
    // set is taken back once the log confirms it.
    assert_eq!(claim(&s, &e1, 2).await, Claim::MarkedDone);
    s.forget_claim(&e1).await.unwrap();
    assert!(!exists(&s, k.event_state("acme", "e1")).await);
    // So the next is marked done too, not busy.
    assert_eq!(claim(&s, &e1, 3).await, Claim::MarkedDone);
    // Another event is new, whatever set its fingerprint falls in.
    assert_eq!(
        s.claim_event(&event("e2"), MINUTE, 4).await.unwrap().0,
        Claim::New
    );
}

/// The state of an event delivered at once goes with a later bulk removal. A duplicate
/// claimed before it is done in the process that queued the removal; in another, it
/// finds the event busy under its holder's lease, and takes it over once the lease has
/// run out (the worker then finds every delivery decided in the log). After the
/// removal it finds only the mark.
#[tokio::test]
async fn a_duplicate_before_the_states_removal_is_done_here_and_busy_elsewhere() {
    let s = store();
    tenant(&s, "acme").await;
    tenant(&s, "initech").await;
    let e1 = event("e1");
    assert_eq!(claim(&s, &e1, 1).await, Claim::New);
    mark(&s, "e1", EventMark::DoneAndGone).await;
    assert_eq!(claim(&s, &e1, 2).await, Claim::Done);
    let other = crate::common::another_process(&s);
    assert!(matches!(claim(&other, &e1, 2).await, Claim::Busy(_)));
    let k = s.keys();
    // Its lease run out (here: let go).
    assert!(s
        .set_event_lease("acme", "e1", Duration::ZERO)
        .await
        .unwrap());
    assert_eq!(claim(&other, &e1, 3).await, Claim::TakeOver);

    // Another tenant's removal goes in the same send, as a command of its own.
    let raw = r#"{"id":"e2","tenant":"initech","type":"t.created","data":{}}"#;
    let e2 = Event::parse(raw.as_bytes(), None).unwrap();
    assert_eq!(claim(&s, &e2, 1).await, Claim::New);
    let none: [Record<'_>; 0] = [];
    s.record(
        "initech",
        "e2",
        &none,
        EventMark::DoneAndGone,
        MINUTE as i64,
    )
    .await
    .unwrap();
    mark(&s, "e1", EventMark::DoneAndGone).await;
    s.remove_queued().await.unwrap();
    assert!(!exists(&s, k.event_state("acme", "e1")).await);
    assert!(!exists(&s, k.event_state("initech", "e2")).await);
    assert_eq!(claim(&s, &e1, 4).await, Claim::MarkedDone);
}

/// The claim writes the event's mark, the first sight of it adding it to this period's
/// set; the record of an event delivered at once then only removes its state.
#[tokio::test]
async fn the_claim_writes_the_mark_and_a_second_claimer_finds_it() {
    let s = store();
    tenant(&s, "acme").await;
    let e1 = event("e1");
    assert_eq!(claim(&s, &e1, 1).await, Claim::New);
    let (set, member) = mark_set(&s, "e1", 0);
    let marked: bool = redis::AsyncCommands::sismember(&mut s.conn(), &set, member)
        .await
        .unwrap();
    assert!(marked, "marked with its claim");
    // A claim that finds the mark with no state (here: the state removed, as the record
    // of an event done and gone leaves it) holds the event and asks the log.
    del(&s, s.keys().event_state("acme", "e1")).await;
    assert_eq!(claim(&s, &e1, 2).await, Claim::MarkedDone);
    assert!(matches!(claim(&s, &e1, 3).await, Claim::Busy(_)));
}

/// A set's expiry is written with the first mark a process puts in it, not with each
/// one: a set that lost it (made anew by a Redis emptied under the process) gets it back
/// from another process, or from this one a while later.
#[tokio::test]
async fn a_sets_expiry_is_written_once_per_process() {
    let s = store();
    tenant(&s, "acme").await;
    // Three events whose marks fall in one set.
    let set_of = |id: &str| {
        hookpost_store::done_marks::fingerprint(id).set(hookpost_store::done_marks::SETS)
    };
    let ids: Vec<String> = (0..)
        .map(|n| format!("once-{n}"))
        .filter(|id| set_of(id) == set_of("once-0"))
        .take(4)
        .collect();
    let (set, _) = mark_set(&s, &ids[0], 0);
    let ttl = |s: Store| {
        let set = set.clone();
        async move {
            redis::AsyncCommands::ttl::<_, i64>(&mut s.conn(), set)
                .await
                .unwrap()
        }
    };
    let claim = |s: Store, id: String| async move {
        s.claim_event(&event(&id), MINUTE, 1).await.unwrap().0
    };
    assert_eq!(claim(s.clone(), ids[0].clone()).await, Claim::New);
    assert!(ttl(s.clone()).await > 0);
    let _: () = redis::AsyncCommands::persist(&mut s.conn(), &set)
        .await
        .unwrap();
    assert_eq!(claim(s.clone(), ids[1].clone()).await, Claim::New);
    assert_eq!(ttl(s.clone()).await, -1, "this process set it already");
    let other = crate::common::another_process(&s);
    assert_eq!(claim(other, ids[2].clone()).await, Claim::New);
    let left = ttl(s.clone()).await;
    assert!(
        (3600..=7200).contains(&left),
        "another process sets it: {left}"
    );
    // A process that finds Redis came back empty (no keyspace marker) sets it again.
    let _: () = redis::AsyncCommands::persist(&mut s.conn(), &set)
        .await
        .unwrap();
    assert!(!s.marker_present().await.unwrap());
    assert_eq!(claim(s.clone(), ids[3].clone()).await, Claim::New);
    assert!(ttl(s.clone()).await > 0, "this process forgot it");
}

/// A tenant's first period spreads its marks over the count every period took before;
/// the next one over as many sets as the marks of the period before fill to about 128
/// each, read from a sample of its sets. Every process takes the count the first claim
/// wrote, and a claim looks up the period before in that period's count.
#[tokio::test]
async fn a_periods_sets_follow_the_marks_of_the_period_before() {
    use hookpost_store::done_marks::{fingerprint, SETS};
    let s = store();
    tenant(&s, "acme").await;
    let (now, before) = (this_period(), this_period() - 1);
    let k = s.keys();
    let count = |s: Store, period: u64| async move {
        let key = s.keys().done_sets("acme", period);
        redis::AsyncCommands::get::<_, Option<u64>>(&mut s.conn(), key)
            .await
            .unwrap()
    };
    // The period before, spread over 1,024 sets: 10 marks in each of the 16 sampled
    // (every 64th), so about 10,240 in all, and one of the event `old`.
    let () = redis::AsyncCommands::set(&mut s.conn(), k.done_sets("acme", before), 1024)
        .await
        .unwrap();
    for n in 0..16u64 {
        let members: Vec<i64> = (0..10).map(|m| (n * 100 + m) as i64).collect();
        let _: () = redis::AsyncCommands::sadd(
            &mut s.conn(),
            k.done_marks("acme", before, n * 64),
            members,
        )
        .await
        .unwrap();
    }
    let old = fingerprint("old");
    let _: () = redis::AsyncCommands::sadd(
        &mut s.conn(),
        k.done_marks("acme", before, old.set(1024)),
        old.member,
    )
    .await
    .unwrap();

    assert_eq!(claim(&s, &event("e1"), 1).await, Claim::New);
    assert_eq!(
        count(s.clone(), now).await,
        Some(128),
        "10,240 / 128 = 80, so 128"
    );
    // Whether `id`'s mark is in its set of this period's `sets`.
    let marked = |s: Store, id: &'static str, sets: u64| async move {
        let print = fingerprint(id);
        let set = s.keys().done_marks("acme", this_period(), print.set(sets));
        redis::AsyncCommands::sismember::<_, _, bool>(&mut s.conn(), set, print.member)
            .await
            .unwrap()
    };
    assert!(
        marked(s.clone(), "e1", 128).await,
        "marked among the period's 128 sets"
    );
    let ttl: i64 = redis::AsyncCommands::ttl(&mut s.conn(), k.done_sets("acme", now))
        .await
        .unwrap();
    assert!((3600..=7200).contains(&ttl), "kept as its marks: {ttl}");
    assert_eq!(
        claim(&s, &event("old"), 2).await,
        Claim::MarkedDone,
        "found in the period before's 1,024 sets"
    );

    // Another process takes the written count, whatever it would estimate itself.
    let other = crate::common::another_process(&s);
    let () = redis::AsyncCommands::set(&mut s.conn(), k.done_sets("acme", now), 64)
        .await
        .unwrap();
    assert_eq!(claim(&other, &event("e2"), 3).await, Claim::New);
    assert!(marked(s.clone(), "e2", 64).await);

    // A tenant whose period before has no count takes the count of before.
    tenant(&s, "initech").await;
    let raw = r#"{"id":"i1","tenant":"initech","type":"t.created","data":{}}"#;
    let i1 = Event::parse(raw.as_bytes(), None).unwrap();
    assert_eq!(claim(&s, &i1, 1).await, Claim::New);
    let first: Option<u64> = redis::AsyncCommands::get(&mut s.conn(), k.done_sets("initech", now))
        .await
        .unwrap();
    assert_eq!(first, Some(SETS));
}

/// A fingerprint is looked up in the period before too: a mark written late in one
/// period still tells a duplicate apart early in the next.
#[tokio::test]
async fn a_mark_of_the_period_before_is_found() {
    let s = store();
    tenant(&s, "acme").await;
    plant_mark(&s, "old", 1).await;
    assert_eq!(
        s.claim_event(&event("old"), MINUTE, 1).await.unwrap().0,
        Claim::MarkedDone
    );
    // Two periods back it is out of what a claim reads (and gone from Redis by then).
    plant_mark(&s, "older", 2).await;
    assert_eq!(
        s.claim_event(&event("older"), MINUTE, 1).await.unwrap().0,
        Claim::New
    );
}

/// A claim while an event is being processed goes by its state and lease, whatever the
/// marks hold (its own claim wrote its mark): a fingerprint shared with a done event
/// neither drops it nor takes it from its holder.
#[tokio::test]
async fn a_fingerprint_marked_does_not_override_an_event_being_processed() {
    let s = store();
    tenant(&s, "acme").await;
    let e1 = event("e1");
    s.claim_event(&e1, 200, 1).await.unwrap();
    plant_mark(&s, "e1", 0).await;
    assert!(matches!(claim(&s, &e1, 2).await, Claim::Busy(_)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(claim(&s, &e1, 3).await, Claim::TakeOver);
}

/// An event whose lease has run out is taken over by one claimer, however many try at
/// once: the others find it held by the one that took it.
#[tokio::test]
async fn claimers_at_once_take_over_an_event_once() {
    let s = store();
    tenant(&s, "acme").await;
    let e1 = event("e1");
    assert_eq!(s.claim_event(&e1, 1, 1).await.unwrap().0, Claim::New);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let others: Vec<Store> = (0..4).map(|_| crate::common::another_process(&s)).collect();
    let claims = futures_util::future::join_all(others.iter().map(|o| claim(o, &e1, 2))).await;
    let taken = claims.iter().filter(|c| **c == Claim::TakeOver).count();
    let busy = claims
        .iter()
        .filter(|c| matches!(c, Claim::Busy(_)))
        .count();
    assert_eq!((taken, busy), (1, 3), "{claims:?}");
    assert_eq!(
        s.claimed("acme", "e1").await.unwrap().1,
        Some(1),
        "the first receive time kept"
    );
}

/// An event an older version's worker holds (its state `p:<received_at>`, its lease a
/// key of its own) is not taken over while that lease lives, and is once it has run
/// out, with its receive time.
#[tokio::test]
async fn an_older_workers_hold_is_kept_until_its_lease_runs_out() {
    let s = store();
    tenant(&s, "acme").await;
    let k = s.keys();
    let mut conn = s.conn();
    let () = redis::AsyncCommands::set_ex(&mut conn, k.event_state("acme", "e1"), "p:42", 3600)
        .await
        .unwrap();
    let () = redis::cmd("SET")
        .arg(k.event_lease("acme", "e1"))
        .arg("1")
        .arg("PX")
        .arg(300)
        .query_async(&mut conn)
        .await
        .unwrap();
    let e1 = event("e1");
    assert!(matches!(claim(&s, &e1, 7).await, Claim::Busy(_)));
    assert!(matches!(
        s.hold_event("acme", "e1", 0).await.unwrap(),
        Held::Left(left) if left <= Duration::from_millis(300)
    ));
    s.keep_payload(&e1).await.unwrap();
    assert_eq!(
        s.event("acme", "e1").await.unwrap().unwrap().received_at,
        42
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(claim(&s, &e1, 8).await, Claim::TakeOver);
    assert_eq!(s.claimed("acme", "e1").await.unwrap().1, Some(42));
    assert!(
        matches!(claim(&s, &e1, 9).await, Claim::Busy(_)),
        "held by the take-over"
    );
}
