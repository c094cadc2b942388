//! record.lua: the delivery log's writes.

use std::time::Duration;

use hookpost_core::outcome::{Attempt, OutcomeKind};
use hookpost_store::log::{EventMark, Kept, Record, Status};
use hookpost_store::Store;

use crate::common::{another_process, store};

const SPAN: i64 = 3_600_000;

fn attempt(n: u32, ok: bool) -> Attempt {
    Attempt {
        attempt: n,
        at: 1_700_000_000_000 + i64::from(n),
        duration_ms: 5,
        outcome: if ok {
            OutcomeKind::Delivered
        } else {
            OutcomeKind::HttpStatus
        },
        status: Some(if ok { 200 } else { 500 }),
        error: None,
        response: None,
        retry_after_s: None,
        signatures: None,
        uuid: None,
    }
}

fn rec<'a>(id: &'a str, hook: &'a str, status: Status, a: Option<&'a Attempt>) -> Record<'a> {
    Record {
        delivery_id: id,
        hook_id: hook,
        kind: "t.created",
        hook_json: r#"{"id":"h"}"#,
        status,
        next_at: (status == Status::Retrying).then_some(42),
        attempt: a,
        blocking: false,
        if_new: false,
        forget_soon: false,
    }
}

/// Records `records` of event `e1` of tenant `acme`.
async fn write(s: &Store, records: &[Record<'_>], mark: EventMark<'_>) {
    s.record("acme", "e1", records, mark, SPAN).await.unwrap();
}

/// The hot state a delivery's next attempt reads: its status and attempt count.
async fn progress(s: &Store, id: &str) -> (Status, u32) {
    let (hook, attempts, status) = s.delivery_progress("acme", id).await.unwrap().unwrap();
    assert_eq!(hook, r#"{"id":"h"}"#, "the body's hook object is kept");
    (status, attempts)
}

#[tokio::test]
async fn a_first_record_creates_the_delivery_with_its_hook_snapshot() {
    let s = store();
    write(
        &s,
        &[rec("d1", "h1", Status::Pending, None)],
        EventMark::Keep,
    )
    .await;
    assert_eq!(progress(&s, "d1").await, (Status::Pending, 0));
    let ttl: i64 = redis::AsyncCommands::ttl(&mut s.conn(), s.keys().delivery("acme", "d1"))
        .await
        .unwrap();
    assert!(ttl > 0, "the hot state expires with the retention: {ttl}");
}

#[tokio::test]
async fn the_same_attempt_recorded_twice_is_stored_once() {
    let s = store();
    let first = attempt(1, false);
    let r = [rec("d1", "h1", Status::Retrying, Some(&first))];
    write(&s, &r, EventMark::Keep).await;
    // The write retried after its answer was lost.
    write(&s, &r, EventMark::Keep).await;
    assert_eq!(progress(&s, "d1").await, (Status::Retrying, 1));
    let second = attempt(2, true);
    write(
        &s,
        &[rec("d1", "h1", Status::Delivered, Some(&second))],
        EventMark::Done(kept("{}")),
    )
    .await;
    assert_eq!(progress(&s, "d1").await, (Status::Delivered, 2));
}

#[tokio::test]
async fn a_late_pending_never_undoes_delivered_and_an_older_attempt_never_lowers_the_count() {
    let s = store();
    let two = attempt(2, true);
    write(
        &s,
        &[rec("d1", "h1", Status::Delivered, Some(&two))],
        EventMark::Keep,
    )
    .await;
    write(
        &s,
        &[rec("d1", "h1", Status::Pending, None)],
        EventMark::Keep,
    )
    .await;
    assert_eq!(progress(&s, "d1").await, (Status::Delivered, 2));
    // A resend's outcome can still move it on.
    let one = attempt(1, false);
    write(
        &s,
        &[rec("d1", "h1", Status::Failed, Some(&one))],
        EventMark::Keep,
    )
    .await;
    assert_eq!(progress(&s, "d1").await, (Status::Failed, 2));
}

/// A `pending` logged for a delivery another handler holds leaves the hot state to that
/// handler: none is written.
#[tokio::test]
async fn a_record_logged_if_new_writes_no_hot_state() {
    let s = store();
    let busy = Record {
        if_new: true,
        forget_soon: false,
        ..rec("d1", "h1", Status::Pending, None)
    };
    write(&s, &[busy], EventMark::Keep).await;
    assert_eq!(s.delivery_progress("acme", "d1").await.unwrap(), None);
}

/// The `state` field of the event hash at `key`.
async fn event_state(s: &Store, id: &str) -> Option<String> {
    redis::AsyncCommands::get(&mut s.conn(), s.keys().event_state("acme", id))
        .await
        .unwrap()
}

async fn ttl(s: &Store, key: String) -> i64 {
    redis::AsyncCommands::ttl(&mut s.conn(), key).await.unwrap()
}

fn kept(data: &str) -> Kept<'_> {
    Kept {
        kind: "t.created",
        data,
        received_at: 7,
        occurred_at: None,
        traceparent: Some("00-x"),
    }
}

#[tokio::test]
async fn mark_done_marks_the_event_done_and_keeps_it_for_what_waits() {
    let s = store();
    let _: () = redis::AsyncCommands::set(&mut s.conn(), s.keys().event_state("acme", "e1"), "p:7")
        .await
        .unwrap();
    write(
        &s,
        &[rec("d1", "h1", Status::Pending, None)],
        EventMark::Keep,
    )
    .await;
    assert_eq!(event_state(&s, "e1").await.as_deref(), Some("p:7"));
    write(&s, &[], EventMark::Done(kept("{}"))).await;
    assert_eq!(event_state(&s, "e1").await.as_deref(), Some("done"));
    let e = s.event("acme", "e1").await.unwrap().unwrap();
    assert_eq!(
        (
            e.kind.as_str(),
            e.data.as_str(),
            e.received_at,
            e.state.as_str()
        ),
        ("t.created", "{}", 7, "done")
    );
    assert_eq!(e.traceparent.as_deref(), Some("00-x"));
}

/// Redis lost its data while the event was processed: the mark makes the event's state
/// anew, and it expires with the retention rather than staying for ever.
#[tokio::test]
async fn a_done_mark_on_an_event_redis_lost_expires_with_the_retention() {
    let s = store();
    let done = attempt(1, true);
    let r = [rec("d1", "h1", Status::Delivered, Some(&done))];
    write(&s, &r, EventMark::DoneAndSlim).await;
    assert_eq!(event_state(&s, "e1").await.as_deref(), Some("done"));
    let left = ttl(&s, s.keys().event_state("acme", "e1")).await;
    assert!(left > 0, "the new mark expires: {left}");
}

#[tokio::test]
async fn an_event_whose_deliveries_all_ended_delivered_keeps_only_its_done_mark() {
    let s = store();
    let _: () = redis::AsyncCommands::set_ex(
        &mut s.conn(),
        s.keys().event_state("acme", "e1"),
        "p:1",
        600,
    )
    .await
    .unwrap();
    let done = attempt(1, true);
    let r = [rec("d1", "h1", Status::Delivered, Some(&done))];
    write(&s, &r, EventMark::DoneAndSlim).await;
    assert_eq!(event_state(&s, "e1").await.as_deref(), Some("done"));
    // Its readers find no kept event nor delivery: a resend reads both from PostgreSQL.
    assert!(s.event("acme", "e1").await.unwrap().is_none());
    assert!(s.delivery_progress("acme", "d1").await.unwrap().is_none());
    let left = ttl(&s, s.keys().event_state("acme", "e1")).await;
    assert!(left > 600, "the mark lasts the retention: {left}");
}

/// An event kept for deliveries that waited: once one of them is delivered (not
/// ordered), its hot state and the kept event go within minutes, not the retention
/// (what still waits reads the event from the log); a stale pending record meanwhile
/// still finds it delivered. An ordered one keeps its state: its key reads it.
#[tokio::test]
async fn a_delivery_that_ends_later_lets_its_state_and_the_kept_event_go_soon() {
    let s = store();
    let waiting = [
        rec("d1", "h1", Status::Pending, None),
        rec("d2", "h2", Status::Pending, None),
    ];
    write(&s, &waiting, EventMark::Done(kept("{}"))).await;
    let k = s.keys();
    assert!(ttl(&s, k.event("acme", "e1")).await > 3000);
    let done = attempt(1, true);
    let ordered = rec("d2", "h2", Status::Delivered, Some(&done));
    write(&s, &[ordered], EventMark::Keep).await;
    assert!(ttl(&s, k.delivery("acme", "d2")).await > 3000);
    assert!(ttl(&s, k.event("acme", "e1")).await > 3000);
    let unordered = Record {
        forget_soon: true,
        ..rec("d1", "h1", Status::Delivered, Some(&done))
    };
    write(&s, &[unordered], EventMark::Keep).await;
    let soon = hookpost_store::log::ENDED_TTL_SECS as i64;
    for key in [k.delivery("acme", "d1"), k.event("acme", "e1")] {
        let left = ttl(&s, key.clone()).await;
        assert!(left > 0 && left <= soon, "{key}: {left}");
    }
    // A copy of its task deferred meanwhile does not make it pending again.
    write(
        &s,
        &[rec("d1", "h1", Status::Pending, None)],
        EventMark::Keep,
    )
    .await;
    assert_eq!(progress(&s, "d1").await, (Status::Delivered, 1));
    assert_eq!(event_state(&s, "e1").await.as_deref(), Some("done"));
}

/// An event's first processing, with something of it waiting: a delivery delivered then
/// (not ordered) gets no hot state, as when every delivery of the event was delivered;
/// an ordered one and the waiting one do, and the event is kept for what waits.
#[tokio::test]
async fn a_delivery_delivered_at_its_events_first_processing_keeps_no_hot_state() {
    let s = store();
    let ok = attempt(1, true);
    let records = [
        Record {
            forget_soon: true,
            ..rec("d1", "h1", Status::Delivered, Some(&ok))
        },
        rec("d2", "h2", Status::Delivered, Some(&ok)),
        rec("d3", "h3", Status::Pending, None),
    ];
    write(&s, &records, EventMark::Done(kept("{}"))).await;
    assert!(s.delivery_progress("acme", "d1").await.unwrap().is_none());
    assert_eq!(progress(&s, "d2").await, (Status::Delivered, 1));
    assert_eq!(progress(&s, "d3").await, (Status::Pending, 0));
    assert_eq!(event_state(&s, "e1").await.as_deref(), Some("done"));
    assert!(s.event("acme", "e1").await.unwrap().is_some());
}

/// Records a failed (or successful) attempt of hook `h1` in a delivery of its own.
async fn streak(s: &Store, id: &str, a: &Attempt, span: i64) -> Vec<String> {
    s.record(
        "acme",
        id,
        &[rec(id, "h1", Status::Retrying, Some(a))],
        EventMark::Keep,
        span,
    )
    .await
    .unwrap()
    .failing
}

#[tokio::test]
async fn a_hook_failing_longer_than_the_span_is_reported_and_a_success_clears_it() {
    let s = store();
    let fail = |n| attempt(n, false);
    assert!(
        streak(&s, "d1", &fail(1), 0).await.is_empty(),
        "the first failure starts the streak"
    );
    // Redis's clock moves on by a millisecond at least.
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert!(
        streak(&s, "d2", &fail(2), SPAN).await.is_empty(),
        "within the span"
    );
    assert_eq!(
        streak(&s, "d3", &fail(3), 0).await,
        ["h1"],
        "longer than a span of zero"
    );
    assert!(streak(&s, "d4", &attempt(4, true), 0).await.is_empty());
    assert!(
        streak(&s, "d5", &fail(5), 0).await.is_empty(),
        "a success ended the streak"
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(streak(&s, "d6", &fail(6), 0).await, ["h1"]);
}

/// The record of an event delivered at once (plain commands, no script) ends its hook's
/// failing streak as the script does.
#[tokio::test]
async fn a_delivered_events_record_ends_its_hooks_failing_streak() {
    let s = store();
    assert!(
        streak(&s, "d1", &attempt(1, false), 0).await.is_empty(),
        "the first failure starts the streak"
    );
    let ok = attempt(1, true);
    let r = [rec("d2", "h1", Status::Delivered, Some(&ok))];
    s.record("acme", "e2", &r, EventMark::DoneAndSlim, SPAN)
        .await
        .unwrap();
    // Redis's clock moves on by a millisecond at least.
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert!(
        streak(&s, "d3", &attempt(2, false), 0).await.is_empty(),
        "the success ended the streak: this failure starts a new one"
    );
}

async fn failing(s: &Store, hook: &str) -> bool {
    redis::AsyncCommands::hexists(&mut s.conn(), s.keys().hook_failing("acme"), hook)
        .await
        .unwrap()
}

/// Delivered records end a streak at most once a second per process, unless that process
/// recorded a failure of the hook since: a streak another process started just after is
/// ended by the first success past the window.
#[tokio::test]
async fn a_process_ends_a_streak_another_started_within_a_second() {
    let a = store();
    let b = another_process(&a);
    let ok = attempt(1, true);
    let delivered = |id| [rec(id, "h1", Status::Delivered, Some(&ok))];
    a.record("acme", "e1", &delivered("d1"), EventMark::DoneAndSlim, SPAN)
        .await
        .unwrap();
    streak(&b, "d2", &attempt(1, false), SPAN).await;
    a.record("acme", "e3", &delivered("d3"), EventMark::DoneAndSlim, SPAN)
        .await
        .unwrap();
    assert!(
        failing(&a, "h1").await,
        "within the window: left for the next"
    );
    // So is one of a later outcome (the script's path).
    let later = [rec("d3b", "h1", Status::Delivered, Some(&ok))];
    a.record("acme", "e3", &later, EventMark::Keep, SPAN)
        .await
        .unwrap();
    assert!(failing(&a, "h1").await, "the script leaves it too");
    // b's own failure makes b's next success end it at once.
    b.record("acme", "e4", &delivered("d4"), EventMark::DoneAndSlim, SPAN)
        .await
        .unwrap();
    assert!(!failing(&a, "h1").await);
    streak(&b, "d5", &attempt(2, false), SPAN).await;
    tokio::time::sleep(Duration::from_millis(1_050)).await;
    a.record("acme", "e6", &delivered("d6"), EventMark::DoneAndSlim, SPAN)
        .await
        .unwrap();
    assert!(!failing(&a, "h1").await, "past the window");
}
