//! Receivers that misbehave: each ends as a failed attempt of the right kind, within the
//! request timeout, with bounded reading; none is followed anywhere else.

use std::sync::atomic::Ordering;
use std::time::Duration;

use hookpost_core::delivery::delivery_id;
use hookpost_tests::bad_receiver::{BadReceiver, Misbehaviour, HUGE_BODY_BYTES};
use hookpost_tests::{wait_until, Receiver, TestApp, TestOptions};
use serde_json::{json, Value};

const TIMEOUT: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misbehaving_receivers_end_as_failed_attempts_of_the_right_kind_in_time() {
    let app = TestApp::spawn(TestOptions {
        retry: "1h",
        request_timeout: TIMEOUT,
        ..TestOptions::default()
    })
    .await;
    let key = app.tenant("acme").await;
    let healthy = Receiver::start().await;
    let cases = [
        (Misbehaviour::Hang, "timeout", None),
        (Misbehaviour::Trickle, "timeout", Some(200)),
        (Misbehaviour::HugeBody, "http_status", Some(500)),
        (Misbehaviour::CloseMidRequest, "connect", None),
        (Misbehaviour::Redirect, "http_status", Some(302)),
        (Misbehaviour::TlsFailure, "tls", None),
    ];
    let mut bad = Vec::new();
    for (how, ..) in &cases {
        // The redirect points at the healthy receiver: it must not be followed there.
        let receiver = BadReceiver::start(*how, &healthy.url).await;
        let hook = app.hook(&key, &receiver.url, &["*"]).await;
        bad.push((receiver, hook));
    }
    app.hook(&key, &healthy.url, &["*"]).await;
    let r = app
        .post_event(&key, &json!({"type": "ticket.created", "data": {"n": 1}}))
        .await;
    assert_eq!(r.status(), 202);
    let event: Value = r.json().await.unwrap();
    let event_id = event["id"].as_str().unwrap();

    for ((how, kind, status), (receiver, hook)) in cases.iter().zip(&bad) {
        let id = delivery_id("acme", event_id, hook["id"].as_str().unwrap());
        app.wait_for_status("acme", &id, "retrying").await;
        let logged = app.db.delivery("acme", &id).await.unwrap().unwrap();
        let attempt = &logged.attempts[0];
        assert_eq!(attempt.outcome.as_str(), *kind, "{how:?}: {attempt:?}");
        assert_eq!(&attempt.status, status, "{how:?}: {attempt:?}");
        assert!(
            attempt.duration_ms <= (TIMEOUT + Duration::from_secs(2)).as_millis() as u64,
            "{how:?} ended within the timeout: {attempt:?}"
        );
        if *how == Misbehaviour::HugeBody {
            // The body is read to a bound, then the connection is dropped.
            assert_eq!(attempt.response.as_deref().map(str::len), Some(1024));
            let written = receiver.written.load(Ordering::SeqCst);
            assert!(
                written < 16 << 20,
                "{written} of {HUGE_BODY_BYTES} bytes were taken"
            );
        }
    }
    wait_until(
        "the healthy hook's delivery",
        Duration::from_secs(30),
        || async { !healthy.delivered().is_empty() },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(healthy.count(), 1, "the redirect was not followed");
    app.finish().await;
}
