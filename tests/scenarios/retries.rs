//! Retries on the schedule, the same id and body every time, and final failure.

use std::collections::HashMap;
use std::time::Duration;

use hookpost::Roles;
use hookpost_tests::receiver::Answer;
use hookpost_tests::verify::python_accepts;
use hookpost_tests::{wait_until, Receiver, TestApp, TestOptions};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_failing_twice_gets_three_attempts_of_the_same_delivery() {
    let app = TestApp::spawn(TestOptions {
        retry: "1s,1s,1s",
        ..TestOptions::default()
    })
    .await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    rx.answer_next(&[Answer::Status(500), Answer::Status(503)]);
    let hook = app.hook(&key, &rx.url, &["*"]).await;
    assert_eq!(
        app.post_event(&key, &json!({"type": "ticket.created", "data": {"x": 1}}))
            .await
            .status(),
        202
    );

    wait_until("the third attempt", WAIT, || async { rx.count() >= 3 }).await;
    let id = rx.received()[0].delivery_id();
    app.wait_for_status("acme", &id, "delivered").await;
    tokio::time::sleep(Duration::from_millis(1500)).await; // a fourth would be due by now
    let got = rx.received();
    assert_eq!(got.len(), 3);
    let attempts: Vec<&str> = got
        .iter()
        .map(|r| r.header("x-hook-attempt").unwrap())
        .collect();
    assert_eq!(attempts, ["1", "2", "3"]);
    for r in &got {
        assert_eq!(r.delivery_id(), id, "the same delivery id on every attempt");
        assert_eq!(r.body, got[0].body, "the same body on every attempt");
        assert!(python_accepts(hook["secret"].as_str().unwrap(), r));
    }
    assert!(
        got[1].at.duration_since(got[0].at) >= Duration::from_millis(900),
        "retries wait for the schedule"
    );
    let d = app.db.delivery("acme", &id).await.unwrap().unwrap();
    let statuses: Vec<Option<u16>> = d.attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(503), Some(200)]);
    assert_eq!(d.attempt_count, 3);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_always_fails_gets_the_whole_schedule_then_the_delivery_fails() {
    let app = TestApp::spawn(TestOptions {
        retry: "1s,1s,1s",
        ..TestOptions::default()
    })
    .await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    rx.answer_always(Answer::Status(500));
    app.hook(&key, &rx.url, &["*"]).await;
    assert_eq!(
        app.post_event(&key, &json!({"type": "ticket.created", "data": {}}))
            .await
            .status(),
        202
    );
    wait_until("four attempts", WAIT, || async { rx.count() >= 4 }).await;
    let id = rx.received()[0].delivery_id();
    app.wait_for_status("acme", &id, "failed").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(rx.count(), 4, "1 attempt + 3 retries, no more");
    let d = app.db.delivery("acme", &id).await.unwrap().unwrap();
    assert_eq!(d.attempts.len(), 4);
    assert_eq!(d.next_attempt_at, None);
    assert!(
        app.store.retry_entries().await.unwrap().is_empty(),
        "nothing left in the retry set"
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedulers_deliver_each_retry_once() {
    let mut app = TestApp::spawn(TestOptions {
        retry: "1s,1s,1s",
        ..TestOptions::default()
    })
    .await;
    app.start_more(Roles::SCHEDULER, None).await;
    app.start_more(Roles::SCHEDULER, None).await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    const N: usize = 40;
    rx.answer_next(&[Answer::Status(500); N]);
    app.hook(&key, &rx.url, &["*"]).await;
    let batch: Vec<_> = (0..N)
        .map(|i| json!({"type": "ticket.created", "data": {"i": i}}))
        .collect();
    let r = app.post_batch(&key, &batch).await;
    assert_eq!(r.status(), 202);
    wait_until("every delivery delivered", WAIT, || async {
        rx.delivered()
            .iter()
            .map(|r| r.delivery_id())
            .collect::<std::collections::HashSet<_>>()
            .len()
            >= N
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Three schedulers claim from the same retry set: no attempt may arrive twice.
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for r in rx.received() {
        *seen
            .entry((
                r.delivery_id(),
                r.header("x-hook-attempt").unwrap().to_owned(),
            ))
            .or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, &n)| n > 1).collect();
    assert!(
        twice.is_empty(),
        "attempts received more than once: {twice:?}"
    );
    assert!(
        rx.count() >= N * 2,
        "each delivery failed once and was retried"
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_as_an_http_date_moves_the_next_attempt_to_that_date() {
    let app = TestApp::spawn(TestOptions {
        retry: "30s",
        ..TestOptions::default()
    })
    .await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    rx.answer_next(&[Answer::RetryAfterDate(503, 3)]);
    app.hook(&key, &rx.url, &["*"]).await;
    assert_eq!(
        app.post_event(&key, &json!({"type": "ticket.created", "data": {}}))
            .await
            .status(),
        202
    );
    wait_until(
        "the retry came at the date, not after 30 s",
        WAIT,
        || async { rx.delivered().len() == 1 },
    )
    .await;
    // The date has whole seconds: 3 s from the answer, cut to the second, is 2 to 3 s
    // away; jitter adds at most a tenth.
    let (gap, asked) = app.first_retry("acme", &rx.received()).await;
    assert!(
        gap >= Duration::from_millis(1900) && gap < Duration::from_secs(15),
        "{gap:?}"
    );
    let asked = asked.expect("the date was read");
    assert!((2..=3).contains(&asked), "{asked}");
    app.finish().await;
}
