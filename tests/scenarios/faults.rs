//! Nothing is lost when a worker stops mid-delivery or the broker goes away.

use std::time::Duration;

use hookpost::Roles;
use hookpost_tests::proxy::FaultProxy;
use hookpost_tests::receiver::Answer;
use hookpost_tests::{wait_until, Receiver, TestApp, TestOptions};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stopped_mid_delivery_loses_nothing() {
    let opts = TestOptions {
        roles: Roles {
            worker: false,
            ..Roles::ALL
        },
        shutdown_grace: Duration::from_millis(200),
        request_timeout: Duration::from_secs(60),
        ..TestOptions::default()
    };
    let mut app = TestApp::spawn(opts).await;
    let first = app.start_more(Roles::WORKER, None).await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    rx.answer_next(&[Answer::Hang]);
    app.hook(&key, &rx.url, &["*"]).await;
    assert_eq!(
        app.post_event(&key, &json!({"type": "ticket.created", "data": {"k": 1}}))
            .await
            .status(),
        202
    );
    wait_until("the first worker is mid-delivery", WAIT, || async {
        rx.count() >= 1
    })
    .await;

    // Stop it while the request hangs: it cannot ack, so RabbitMQ keeps the message.
    app.others.remove(first).stop().await;
    assert_eq!(rx.delivered().len(), 0);
    app.start_more(Roles::WORKER, None).await;
    wait_until("another worker delivers it", WAIT, || async {
        !rx.delivered().is_empty()
    })
    .await;
    let got = rx.received();
    assert_eq!(got[0].delivery_id(), got[1].delivery_id());
    assert_eq!(
        got[0].body, got[1].body,
        "the same body after the take-over"
    );
    let id = got[1].delivery_id();
    app.wait_for_status("acme", &id, "delivered").await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_answers_503_while_the_broker_is_unreachable_and_recovers_alone() {
    let proxy = FaultProxy::start("127.0.0.1:5672".parse().unwrap()).await;
    let amqp = format!("amqp://guest:guest@{}/%2f", proxy.addr);
    let app = TestApp::spawn(TestOptions {
        amqp_url: Some(amqp),
        ..TestOptions::default()
    })
    .await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    app.hook(&key, &rx.url, &["*"]).await;
    assert_eq!(
        app.post_event(&key, &json!({"type": "a.b", "data": {"n": 1}}))
            .await
            .status(),
        202
    );

    proxy.break_all();
    let r = app
        .post_event(&key, &json!({"type": "a.b", "data": {"n": 2}}))
        .await;
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "broker_unavailable");

    proxy.restore();
    let mut accepted = false;
    for _ in 0..100 {
        if app
            .post_event(&key, &json!({"type": "a.b", "data": {"n": 3}}))
            .await
            .status()
            == 202
        {
            accepted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(accepted, "ingest works again without a restart");
    wait_until(
        "events before and after the outage delivered",
        WAIT,
        || async {
            let ns: Vec<i64> = rx
                .received()
                .iter()
                .map(|r| r.json()["payload"]["n"].as_i64().unwrap())
                .collect();
            ns.contains(&1) && ns.contains(&3)
        },
    )
    .await;
    let ns: Vec<i64> = rx
        .received()
        .iter()
        .map(|r| r.json()["payload"]["n"].as_i64().unwrap())
        .collect();
    assert!(!ns.contains(&2), "the refused event was not accepted");
    app.finish().await;
}
