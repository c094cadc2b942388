//! A worker writes an outcome to the log (PostgreSQL) before storing in Redis what drives
//! the delivery on (its next attempt's task). One that dies between the two leaves a
//! delivery that only the log shows waiting: what handles that event or task next
//! finishes it from the log, and neither redoes the logged attempt nor drops the delivery.
//! On an ordered hook the dead worker may also hold the delivery's key: the take-over
//! does what it left undone there too.

use std::time::Duration;

use hookpost_core::delivery::delivery_id;
use hookpost_core::outcome::{Attempt, OutcomeKind};
use hookpost_core::task::{AttemptTask, Task};
use hookpost_store::log::{Record, Status};
use hookpost_store::retries::Due;
use hookpost_tests::{wait_until, Receiver, TestApp, TestOptions};

const WAIT: Duration = Duration::from_secs(20);
const TYPE: &str = "ticket.created";

/// One delivery as its dead worker logged it after attempt 1: `retrying` due at
/// `next_at`, delivered, or failed for good (on an ordered hook that blocks).
struct Logged<'a> {
    hook: &'a str,
    status: Status,
    next_at: Option<i64>,
}

impl<'a> Logged<'a> {
    fn retrying(hook: &'a str, due: i64) -> Self {
        Logged {
            hook,
            status: Status::Retrying,
            next_at: Some(due),
        }
    }

    fn ended(hook: &'a str, status: Status) -> Self {
        Logged {
            hook,
            status,
            next_at: None,
        }
    }
}

/// Logs `event` (its `data`) received at `first_at` with the first attempts of
/// `deliveries`, the way `Worker::make_durable` does before anything in Redis.
async fn log_first_attempts(
    app: &TestApp,
    (event, data): (&str, &str),
    first_at: i64,
    deliveries: &[Logged<'_>],
) {
    let attempt = |status: Status| Attempt {
        attempt: 1,
        at: first_at,
        duration_ms: 3,
        outcome: match status {
            Status::Delivered => OutcomeKind::Delivered,
            _ => OutcomeKind::HttpStatus,
        },
        status: Some(if status == Status::Delivered {
            200
        } else {
            500
        }),
        error: None,
        response: None,
        retry_after_s: None,
        signatures: None,
        uuid: None,
    };
    let attempts: Vec<Attempt> = deliveries.iter().map(|d| attempt(d.status)).collect();
    let ids: Vec<String> = (deliveries.iter())
        .map(|d| delivery_id("acme", event, d.hook))
        .collect();
    let records: Vec<Record<'_>> = (deliveries.iter().zip(&ids).zip(&attempts))
        .map(|((d, id), attempt)| Record {
            delivery_id: id,
            hook_id: d.hook,
            kind: TYPE,
            hook_json: "{}",
            status: d.status,
            next_at: d.next_at,
            attempt: Some(attempt),
            blocking: d.status == Status::Failed,
            if_new: false,
            forget_soon: false,
        })
        .collect();
    let row = hookpost_db::EventRow {
        id: event.into(),
        kind: TYPE.into(),
        occurred_at: None,
        traceparent: None,
        data: hookpost_db::Payload::pack(data),
        parked: Vec::new(),
    };
    let batch = hookpost_db::Batch::of("acme", event, first_at, Some(row), &records);
    app.db.write(std::sync::Arc::new(batch)).await.unwrap();
}

/// Attempt 1's task of `event`'s delivery to `hook` (again), due at `at_ms`: a safety
/// net, or a look at a delivery put off.
fn first_attempt(event: &str, hook: &str, at_ms: i64) -> Due {
    let task = Task::Attempt(AttemptTask {
        tenant: "acme".into(),
        event_id: event.into(),
        hook_id: hook.into(),
        delivery_id: delivery_id("acme", event, hook),
        attempt: 1,
        resend: false,
    });
    Due { at_ms, task }
}

/// Waits for `rx`'s one request, and asserts it is attempt 2 made no sooner than `due`.
async fn second_attempt_at(rx: &Receiver, due: i64) {
    wait_until("the retry the log holds", WAIT, || async {
        rx.count() >= 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = rx.received();
    assert_eq!(got.len(), 1, "one request to the retrying hook");
    assert_eq!(
        got[0].header("x-hook-attempt"),
        Some("2"),
        "its second attempt"
    );
    assert!(
        hookpost_core::now_ms() >= due - 50,
        "not before the log's next attempt time"
    );
}

async fn hook_id(app: &TestApp, key: &str, rx: &Receiver) -> String {
    let hook = app.hook(key, &rx.url, &["*"]).await;
    hook["id"].as_str().unwrap().to_owned()
}

/// The event's holder died after logging its first attempts: one delivered, one to
/// retry. The take-over sends neither again, and stores the retry the log holds, due
/// when the log says. (Attempt 1 again would be taken for a duplicate of the one logged
/// when its retry came, and the delivery dropped.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_take_over_leaves_what_the_holder_logged_and_stores_its_retry_again() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let (done, retrying) = (Receiver::start().await, Receiver::start().await);
    let (done_hook, retry_hook) = (
        hook_id(&app, &key, &done).await,
        hook_id(&app, &key, &retrying).await,
    );
    let (id, first_at) = ("evt_halfway", hookpost_core::now_ms() - 5_000);
    let body = format!(r#"{{"id":"{id}","tenant":"acme","type":"{TYPE}","data":{{}}}}"#);
    // It claimed the event, and its lease ran out.
    let event = hookpost_core::Event::parse(body.as_bytes(), None).unwrap();
    app.store.claim_event(&event, 0, first_at).await.unwrap();
    let due = hookpost_core::now_ms() + 1_500;
    let logged = [
        Logged::ended(&done_hook, Status::Delivered),
        Logged::retrying(&retry_hook, due),
    ];
    log_first_attempts(&app, (id, "{}"), first_at, &logged).await;
    app.publish_raw(TYPE, body.as_bytes()).await;
    second_attempt_at(&retrying, due).await;
    assert_eq!(done.count(), 0, "the delivered one is not sent again");
    let takeovers = r#"hookpost_events_processed_total{result="takeover"}"#;
    assert_eq!(app.metric(takeovers).await, 1.0);
    app.finish().await;
}

/// A slow first attempt: the event's message was acked with the delivery `pending` and
/// a safety net (attempt 1 again, for when its outcome is overdue). Its worker logged
/// the outcome, a failure, and died before storing the retry. The safety net finds
/// attempt 1 made and stores the log's retry instead of dropping the delivery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_safety_net_finding_its_attempt_logged_stores_the_retry_the_log_holds() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    let hook = hook_id(&app, &key, &rx).await;
    let (id, first_at) = ("evt_slow", hookpost_core::now_ms() - 5_000);
    let due = hookpost_core::now_ms() + 1_500;
    log_first_attempts(&app, (id, "{}"), first_at, &[Logged::retrying(&hook, due)]).await;
    let net = first_attempt(id, &hook, hookpost_core::now_ms());
    app.store.schedule(&[net]).await.unwrap();
    second_attempt_at(&rx, due).await;
    app.finish().await;
}

/// A take-over told another handler holds a delivery logs it `pending` only where the
/// log has nothing of it: the holder's record, logged first, stands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_take_overs_pending_is_logged_only_where_nothing_is() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let (id, first_at) = ("evt_busy", hookpost_core::now_ms() - 5_000);
    let due = hookpost_core::now_ms() + 60_000;
    // Two hooks, the first one's delivery logged by its holder; made in this order, their
    // ids sort in it.
    let hooks = [(); 2].map(|_| hookpost_core::ids::ordered_id("hook"));
    let [held_hook, unlogged_hook] = [0, 1].map(|i| hooks[i].as_str());
    let held = Logged::retrying(held_hook, due);
    log_first_attempts(&app, (id, "{}"), first_at, &[held]).await;
    let ids = [
        delivery_id("acme", id, held_hook),
        delivery_id("acme", id, unlogged_hook),
    ];
    let busy: Vec<Record<'_>> = (ids.iter().zip([held_hook, unlogged_hook]))
        .map(|(delivery_id, hook_id)| Record {
            delivery_id,
            hook_id,
            kind: TYPE,
            hook_json: "{}",
            status: Status::Pending,
            next_at: Some(due),
            attempt: None,
            blocking: false,
            if_new: true,
            forget_soon: false,
        })
        .collect();
    let batch = hookpost_db::Batch::of("acme", id, first_at, None, &busy);
    app.db.write(std::sync::Arc::new(batch)).await.unwrap();
    let mut states: Vec<(String, Status, u32)> = (app.db.event_delivery_states("acme", id))
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.hook_id, d.status, d.attempt_count))
        .collect();
    states.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        states,
        [
            (held_hook.into(), Status::Retrying, 1),
            (unlogged_hook.into(), Status::Pending, 0),
        ]
    );
    app.finish().await;
}

/// Ticket 7's events on an ordered hook whose worker died holding the ticket's turn for
/// the first event's delivery (`HELD`).
struct DeadHolder {
    app: TestApp,
    key: String,
    rx: Receiver,
    hook: String,
}

/// The event whose delivery the dead worker held.
const HELD: &str = "evt_ordered";

/// Event 0 as published.
fn held_event() -> String {
    serde_json::json!({"id": HELD, "tenant": "acme", "type": TYPE, "data": ticket(0)}).to_string()
}

/// Ticket 7's `n`th event's data.
fn ticket(n: i64) -> serde_json::Value {
    serde_json::json!({"n": n, "ticket": {"id": 7}})
}

impl DeadHolder {
    /// The hook blocks on failure when `block`.
    async fn start(block: bool) -> Self {
        let app = TestApp::spawn(TestOptions::default()).await;
        let key = app.tenant("acme").await;
        let rx = Receiver::start().await;
        let on_failure = if block { "block" } else { "skip" };
        let fifo = serde_json::json!({"ordering": "fifo", "ordering_key": "$.ticket.id",
            "ordering_on_failure": on_failure});
        let hook = app.hook_with(&key, &rx.url, fifo).await;
        let hook = hook["id"].as_str().unwrap().to_owned();
        DeadHolder { app, key, rx, hook }
    }

    /// The dead worker took the turn of event 0's delivery, held for `lease`.
    async fn hold(&self, lease: Duration) {
        let turn = self.turn("ord_dead", lease).await;
        assert!(matches!(turn, hookpost_store::ordering::Turn::Go));
    }

    /// Event 0's delivery asks for its turn as handler `token`.
    async fn turn(&self, token: &str, lease: Duration) -> hookpost_store::ordering::Turn {
        use hookpost_store::ordering::Ordered;
        let order = hookpost_core::ordering::Ordering::of(Some("fifo"), Some("$.ticket.id"), None)
            .unwrap()
            .unwrap();
        let key_id = order.key_id(&ticket(0));
        let dlv = delivery_id("acme", HELD, &self.hook);
        let held = Ordered {
            hook_id: &self.hook,
            key_id: &key_id,
            delivery_id: &dlv,
            event_id: HELD,
        };
        let turn = self.app.store.order_turn("acme", &held, token, lease);
        turn.await.unwrap()
    }

    /// The dead worker claimed event 0 and logged its attempt, `status` (due at `due`
    /// when retrying); then the event's redelivery comes, and is taken over.
    async fn logged(&self, status: Status, due: i64) {
        let first_at = hookpost_core::now_ms() - 5_000;
        let body = held_event();
        let event = hookpost_core::Event::parse(body.as_bytes(), None).unwrap();
        self.app
            .store
            .claim_event(&event, 0, first_at)
            .await
            .unwrap();
        self.log(status, due, first_at).await;
        self.app.publish_raw(TYPE, body.as_bytes()).await;
        let takeovers = r#"hookpost_events_processed_total{result="takeover"}"#;
        wait_until("the take-over", WAIT, || async {
            self.app.metric(takeovers).await >= 1.0
        })
        .await;
    }

    /// Event 0's attempt in the log, `status` (due at `due` when retrying), its event
    /// first received at `first_at`.
    async fn log(&self, status: Status, due: i64, first_at: i64) {
        let next_at = (status == Status::Retrying).then_some(due);
        let logged = Logged {
            hook: &self.hook,
            status,
            next_at,
        };
        let data = ticket(0).to_string();
        log_first_attempts(&self.app, (HELD, &data), first_at, &[logged]).await;
    }

    /// Stores event 0's delivery's look (its attempt 1 task again), due at `at_ms`.
    async fn look_at(&self, at_ms: i64) {
        let look = first_attempt(HELD, &self.hook, at_ms);
        self.app.store.schedule(&[look]).await.unwrap();
    }

    /// Waits for events 0 and 1, asserts they came in that order (`why`), and ends.
    async fn delivered_in_order(self, why: &str) {
        wait_until("both delivered", WAIT, || async {
            self.rx.delivered().len() >= 2
        })
        .await;
        assert_eq!(self.rx.delivered_ns(), vec![0, 1], "{why}");
        self.app.finish().await;
    }

    /// Waits for event 1, asserts event 0 is not sent again, and ends.
    async fn only_the_next_delivered(self) {
        wait_until("the next event delivered", WAIT, || async {
            self.rx.count() >= 1
        })
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(self.rx.delivered_ns(), vec![1]);
        self.app.finish().await;
    }

    async fn post(&self, n: i64) {
        let event = serde_json::json!({"type": TYPE, "data": ticket(n)});
        assert_eq!(self.app.post_event(&self.key, &event).await.status(), 202);
    }
}

/// The holder logged its failed first attempt and died holding the ticket. The take-over
/// puts back the hot state the log holds, so once the hold runs out the ticket's next
/// event waits behind the retry. (Without it the delivery, its event done and no state
/// in Redis, was taken for one its hook stopped wanting: skipped, its retry dropped.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_take_over_keeps_a_logged_retry_first_on_its_ordering_key() {
    let t = DeadHolder::start(false).await;
    let lease = Duration::from_secs(2);
    t.hold(lease).await;
    t.logged(Status::Retrying, hookpost_core::now_ms() + 4_000)
        .await;
    tokio::time::sleep(lease).await;
    t.post(1).await;
    t.delivered_in_order("the retry first").await;
}

/// The holder logged the ticket's first delivery delivered and died holding the ticket
/// for a minute. The take-over hands the ticket on at once, as the holder would have:
/// the next event, waiting, is delivered, and the first is not sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_take_over_hands_on_the_key_of_a_delivery_its_holder_logged_delivered() {
    let t = DeadHolder::start(false).await;
    t.hold(Duration::from_secs(60)).await;
    t.post(1).await;
    t.logged(Status::Delivered, 0).await;
    t.only_the_next_delivered().await;
}

/// Redis came back without its last writes (durability.rs): the ticket's first delivery
/// was delivered and logged, its message acked, but the ticket's key still shows it
/// holding the turn (a hold since run out), and Redis holds nothing saying it ended (no
/// hot state, its event not marked done). No message of it is left to take over. The
/// ticket's next event, told Redis knows nothing of the holder, finds it ended in the log,
/// lets go of the key in its stead and is delivered at once. (Before, it waited on it for
/// good.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_whose_holder_only_the_log_shows_ended_moves_on() {
    let t = DeadHolder::start(false).await;
    let lease = Duration::from_millis(500);
    t.hold(lease).await;
    t.log(Status::Delivered, 0, hookpost_core::now_ms() - 5_000)
        .await;
    tokio::time::sleep(lease).await;
    t.post(1).await;
    t.only_the_next_delivered().await;
}

/// The holder logged the ticket's first delivery failed for good, on a hook that blocks
/// on failure, and died before blocking the ticket. The take-over blocks it: the next
/// event waits once the hold is over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_take_over_blocks_the_key_of_a_delivery_its_holder_logged_failed() {
    let t = DeadHolder::start(true).await;
    let lease = Duration::from_secs(1);
    t.hold(lease).await;
    t.logged(Status::Failed, 0).await;
    tokio::time::sleep(lease).await;
    t.post(1).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(t.rx.count(), 0, "the ticket is blocked");
    assert_eq!(t.app.metric("hookpost_ordering_blocks_total").await, 1.0);
    t.app.finish().await;
}

/// The holder attempted the ticket's first delivery and was killed before logging
/// anything, its hold still live. The event's next handler is told the delivery is busy
/// and puts it off; the key marks it wanted, so once the hold runs out the ticket's next
/// event waits behind it, and its own task delivers it first. (Before, its event done and
/// nothing of it anywhere, it was taken for one its hook stopped wanting: skipped, and
/// never sent.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_whose_turn_a_dead_worker_held_is_still_delivered_first() {
    let t = DeadHolder::start(false).await;
    let lease = Duration::from_secs(2);
    t.hold(lease).await;
    t.app.publish_raw(TYPE, held_event().as_bytes()).await;
    let busy = r#"hookpost_deliveries_deferred_total{reason="ordering"}"#;
    wait_until("the delivery found busy", WAIT, || async {
        t.app.metric(busy).await >= 1.0
    })
    .await;
    tokio::time::sleep(lease).await;
    // The hold ran out: the ticket's next event comes first, then the put-off delivery's
    // own task (brought forward: it is due a second after the hold's end).
    t.post(1).await;
    wait_until("the next event looked at its turn", WAIT, || async {
        t.app.metric(busy).await >= 2.0 || t.rx.count() >= 1
    })
    .await;
    t.look_at(hookpost_core::now_ms()).await;
    t.delivered_in_order("the held one first").await;
}

/// The holder delivered the ticket's first delivery, its event done with no hot state
/// kept (every delivery of it delivered), and was killed before letting go of the
/// ticket; meanwhile a look at that delivery was told it was busy, which marks it wanted.
/// That look's own task finds the log showing it delivered and lets go of the ticket as
/// the holder would have: the next event goes, and the first is not sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_look_finding_its_wanted_delivery_logged_ended_lets_the_key_go() {
    let t = DeadHolder::start(false).await;
    let lease = Duration::from_secs(1);
    t.hold(lease).await;
    let busy = t.turn("ord_look", Duration::from_secs(60)).await;
    assert!(matches!(busy, hookpost_store::ordering::Turn::Busy(_)));
    let (first_at, data) = (hookpost_core::now_ms() - 5_000, ticket(0).to_string());
    let delivered = Logged::ended(&t.hook, Status::Delivered);
    log_first_attempts(&t.app, (HELD, &data), first_at, &[delivered]).await;
    let slim = hookpost_store::log::EventMark::DoneAndSlim;
    t.app
        .store
        .record("acme", HELD, &[], slim, 60_000)
        .await
        .unwrap();
    tokio::time::sleep(lease).await;
    t.post(1).await;
    t.look_at(hookpost_core::now_ms() + 500).await;
    t.only_the_next_delivered().await;
}
