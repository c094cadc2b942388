//! A worker writes an outcome to the log (PostgreSQL) before storing in Redis what drives
//! the delivery on (its next attempt's task). One that dies between the two leaves a
//! delivery that only the log shows waiting: what handles that event or task next
//! finishes it from the log, and neither redoes the logged attempt nor drops the delivery.

use std::time::Duration;

use hookpost_core::delivery::delivery_id;
use hookpost_core::outcome::{Attempt, OutcomeKind};
use hookpost_core::task::{AttemptTask, Task};
use hookpost_store::log::{Record, Status};
use hookpost_store::retries::Due;
use hookpost_tests::{wait_until, Receiver, TestApp, TestOptions};

const WAIT: Duration = Duration::from_secs(20);
const TYPE: &str = "ticket.created";

/// One delivery as its dead worker logged it: after attempt 1, `retrying` due at
/// `next_at`, or (`next_at` none) delivered.
struct Logged<'a> {
    hook: &'a str,
    next_at: Option<i64>,
}

/// Logs `event` received at `first_at` with the first attempts of `deliveries`, the
/// way `Worker::make_durable` does before anything in Redis.
async fn log_first_attempts(app: &TestApp, event: &str, first_at: i64, deliveries: &[Logged<'_>]) {
    let attempt = |next_at: Option<i64>| Attempt {
        attempt: 1,
        at: first_at,
        duration_ms: 3,
        outcome: match next_at {
            Some(_) => OutcomeKind::HttpStatus,
            None => OutcomeKind::Delivered,
        },
        status: Some(if next_at.is_some() { 500 } else { 200 }),
        error: None,
        response: None,
        retry_after_s: None,
        signatures: None,
        uuid: None,
    };
    let attempts: Vec<Attempt> = deliveries.iter().map(|d| attempt(d.next_at)).collect();
    let ids: Vec<String> = (deliveries.iter())
        .map(|d| delivery_id("acme", event, d.hook))
        .collect();
    let records: Vec<Record<'_>> = (deliveries.iter().zip(&ids).zip(&attempts))
        .map(|((d, id), attempt)| Record {
            delivery_id: id,
            hook_id: d.hook,
            kind: TYPE,
            hook_json: "{}",
            status: match d.next_at {
                Some(_) => Status::Retrying,
                None => Status::Delivered,
            },
            next_at: d.next_at,
            attempt: Some(attempt),
            blocking: false,
        })
        .collect();
    let row = hookpost_db::EventRow {
        id: event.into(),
        kind: TYPE.into(),
        occurred_at: None,
        data: "{}".into(),
    };
    let batch = hookpost_db::Batch::of("acme", event, first_at, Some(row), &records);
    app.db.write(std::sync::Arc::new(batch)).await.unwrap();
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
        Logged {
            hook: &done_hook,
            next_at: None,
        },
        Logged {
            hook: &retry_hook,
            next_at: Some(due),
        },
    ];
    log_first_attempts(&app, id, first_at, &logged).await;
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
    log_first_attempts(
        &app,
        id,
        first_at,
        &[Logged {
            hook: &hook,
            next_at: Some(due),
        }],
    )
    .await;
    let net = Due {
        at_ms: hookpost_core::now_ms(),
        task: Task::Attempt(AttemptTask {
            tenant: "acme".into(),
            event_id: id.into(),
            hook_id: hook.clone(),
            delivery_id: delivery_id("acme", id, &hook),
            attempt: 1,
            resend: false,
        }),
    };
    app.store.schedule(&[net]).await.unwrap();
    second_attempt_at(&rx, due).await;
    app.finish().await;
}
