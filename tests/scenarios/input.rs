//! Bad input gets its documented answer, and nothing behind it is lost.

use std::time::Duration;

use hookpost_tests::{wait_until, Receiver, TestApp, TestOptions};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(20);

async fn error_of(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.expect("errors are JSON");
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_events_over_http_get_4xx_and_nothing_is_accepted() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    app.hook(&key, &rx.url, &["*"]).await;
    let post = |body: Vec<u8>, path: &'static str| {
        app.http
            .post(app.url(path))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let cases: Vec<(&[u8], u16, &str)> = vec![
        (b"{not json", 400, "invalid_json"),
        (b"[]", 400, "invalid_event"),
        (br#"{"data":{}}"#, 400, "missing_field"),
        (br#"{"type":"ticket.created"}"#, 400, "missing_field"),
        (
            br#"{"type":"ticket.created","data":[1]}"#,
            400,
            "invalid_field",
        ),
        (br#"{"type":"a b","data":{}}"#, 400, "invalid_field"),
        (
            br#"{"type":"ticket.created","tenant":"someone-else","data":{}}"#,
            400,
            "invalid_field",
        ),
    ];
    for (body, status, code) in cases {
        let got = error_of(post(body.to_vec(), "/v1/events").await.unwrap()).await;
        assert_eq!(
            got,
            (status, code.to_owned()),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    let huge = format!(
        r#"{{"type":"ticket.created","data":{{"x":"{}"}}}}"#,
        "a".repeat(2 << 20)
    );
    let refused = post(huge.into_bytes(), "/v1/events").await.unwrap();
    // The unread rest of the body ends the connection, and the answer says so: the
    // client's next request takes a new one.
    assert_eq!(
        refused.headers().get("connection").map(|v| v.as_bytes()),
        Some(&b"close"[..])
    );
    assert_eq!(error_of(refused).await, (413, "too_large".into()));

    // A batch with one bad event is refused whole.
    let batch = json!([{"type": "ticket.created", "data": {"n": 1}}, {"type": "ticket.created"}]);
    let got = error_of(
        post(batch.to_string().into_bytes(), "/v1/events/batch")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(got, (400, "missing_field".into()));
    assert_eq!(
        error_of(post(b"[]".to_vec(), "/v1/events/batch").await.unwrap()).await,
        (400, "invalid_batch".into())
    );

    // No key, a wrong key.
    let r = app
        .http
        .post(app.url("/v1/events"))
        .json(&json!({"type": "ticket.created", "data": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await, (401, "unauthorized".into()));
    let r = app
        .post_event("hpk_wrong", &json!({"type": "ticket.created", "data": {}}))
        .await;
    assert_eq!(error_of(r).await, (401, "unauthorized".into()));

    // A good event after all that is the only one delivered.
    assert_eq!(
        app.post_event(
            &key,
            &json!({"type": "ticket.created", "data": {"good": true}})
        )
        .await
        .status(),
        202
    );
    wait_until("the good event", WAIT, || async { rx.count() >= 1 }).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.count(), 1);
    assert_eq!(rx.received()[0].json()["payload"]["good"], true);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_on_the_exchange_are_dead_lettered_and_block_nothing() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    app.hook(&key, &rx.url, &["*"]).await;
    let huge = format!(
        r#"{{"tenant":"acme","type":"ticket.created","data":{{"pad":"{}"}}}}"#,
        "x".repeat(10 << 20)
    );
    let poison: [(&[u8], &str); 7] = [
        (huge.as_bytes(), "too_large"),
        (b"[1,2,3]", "invalid_event"),
        (b"not json at all", "invalid_json"),
        (br#"{"tenant":"acme","data":{}}"#, "missing_field"),
        (br#"{"type":"ticket.created","data":{}}"#, "missing_field"),
        (
            br#"{"tenant":"nobody","type":"ticket.created","data":{}}"#,
            "unknown_tenant",
        ),
        (
            br#"{"tenant":"acme","type":"ticket.created","data":"text"}"#,
            "invalid_field",
        ),
    ];
    for (body, _) in &poison {
        app.publish_raw("ticket.created", body).await;
    }
    app.publish_raw(
        "ticket.created",
        br#"{"tenant":"acme","type":"ticket.created","data":{"behind":"the poison"}}"#,
    )
    .await;
    wait_until("the good event behind the poison", WAIT, || async {
        rx.count() >= 1
    })
    .await;

    wait_until("every poison message dead-lettered", WAIT, || async {
        let n = app.dead_letter_count().await;
        n >= 7
    })
    .await;
    let dead = app.dead_letters().await;
    assert_eq!(dead.len(), 7, "{} dead letters", dead.len());
    for (body, reason) in &poison {
        assert!(
            dead.iter().any(|(r, b)| r == reason && b == body),
            "{} dead-lettered as {reason}",
            String::from_utf8_lossy(&body[..body.len().min(80)])
        );
    }
    assert_eq!(rx.count(), 1);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"hookpost_dead_letters_total{reason="unknown_tenant"} 1"#),
        "{metrics}"
    );
    app.finish().await;
}
