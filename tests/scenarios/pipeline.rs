//! Events in, signed deliveries out: over HTTP and straight from the exchange, fanned out
//! to exactly the right hooks, once.

use std::time::Duration;

use hookpost_tests::verify::python_accepts;
use hookpost_tests::{wait_until, Receiver, TestApp, TestOptions};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_and_exchange_events_arrive_once_signed_and_documented() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    let hook = app.hook(&key, &rx.url, &["ticket.created"]).await;
    let secret = hook["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));

    let r = app
        .post_event(&key, &json!({"id": "evt_http_1", "type": "ticket.created", "data": {"ticket": {"id": 7, "subject": "Hi <b>"}}}))
        .await;
    assert_eq!(r.status(), 202);
    let accepted: serde_json::Value = r.json().await.unwrap();
    assert_eq!(accepted["ids"], json!(["evt_http_1"]));
    app.publish_raw(
        "ticket.created",
        br#"{"id":"evt_amqp_1","tenant":"acme","type":"ticket.created","data":{"ticket":{"id":8}}}"#,
    )
    .await;

    wait_until("both deliveries", WAIT, || async { rx.count() >= 2 }).await;
    tokio::time::sleep(Duration::from_millis(300)).await; // room for a wrong extra one
    let got = rx.received();
    assert_eq!(got.len(), 2, "each event exactly once");
    for req in &got {
        assert_eq!(req.header("content-type"), Some("application/json"));
        assert_eq!(req.header("x-hook-event"), Some("ticket.created"));
        assert_eq!(req.header("x-hook-attempt"), Some("1"));
        let id = req.delivery_id();
        assert!(id.starts_with("dlv_"));
        assert_eq!(req.header("webhook-id"), Some(id.as_str()));
        let ts: i64 = req.header("webhook-timestamp").unwrap().parse().unwrap();
        assert!((ts - hookpost_core::now_ms() / 1000).abs() < 60);
        assert!(req.header("x-hook-signature").unwrap().starts_with("sha1="));
        assert!(req.header("webhook-signature").unwrap().starts_with("v1,"));
        assert!(
            python_accepts(secret, req),
            "an independent verifier accepts both signatures"
        );
        assert!(
            !python_accepts("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", req),
            "and refuses another key"
        );

        let body = req.json();
        assert_eq!(body["id"], id);
        assert_eq!(body["event"], "ticket.created");
        assert!(body["timestamp"].as_i64().unwrap() > 1_700_000_000_000);
        assert_eq!(
            body["hook"],
            json!({"id": hook["id"], "url": rx.url, "events": ["ticket.created"]})
        );
        assert!(body["payload"]["ticket"]["id"].is_number());
    }
    let payloads: Vec<i64> = got
        .iter()
        .map(|r| r.json()["payload"]["ticket"]["id"].as_i64().unwrap())
        .collect();
    assert!(payloads.contains(&7) && payloads.contains(&8));
    let http_one = got
        .iter()
        .find(|r| r.json()["payload"]["ticket"]["id"] == 7)
        .unwrap();
    assert_eq!(http_one.json()["payload"]["ticket"]["subject"], "Hi <b>");

    // The log says delivered, with the attempt.
    let d = app
        .db
        .delivery("acme", &http_one.delivery_id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.status.as_str(), "delivered");
    assert_eq!(d.attempts.len(), 1);
    assert_eq!(d.attempts[0].status, Some(200));
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_reaches_exactly_the_subscribed_active_hooks_of_the_tenant() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let acme = app.tenant("acme").await;
    let other = app.tenant("other").await;
    let subscribed: Vec<Receiver> = futures_join(3).await;
    let (wrong_type, inactive, other_tenant, wildcard) = (
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
    );
    for rx in &subscribed {
        app.hook(&acme, &rx.url, &["ticket.created", "ticket.updated"])
            .await;
    }
    app.hook(&acme, &wrong_type.url, &["lead.create"]).await;
    app.hook(&acme, &wildcard.url, &["*"]).await;
    let off = app.hook(&acme, &inactive.url, &["ticket.created"]).await;
    let r = app
        .http
        .patch(app.url(&format!("/v1/hooks/{}", off["id"].as_str().unwrap())))
        .bearer_auth(&acme)
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.hook(&other, &other_tenant.url, &["*"]).await;

    assert_eq!(
        app.post_event(&acme, &json!({"type": "ticket.created", "data": {}}))
            .await
            .status(),
        202
    );
    // A marker event after it: once it arrives, the first one had its chance everywhere.
    for rx in subscribed.iter().chain([&wildcard]) {
        wait_until("subscribed hook gets it", WAIT, || async {
            rx.count() >= 1
        })
        .await;
    }
    assert_eq!(
        app.post_event(&acme, &json!({"type": "lead.create", "data": {}}))
            .await
            .status(),
        202
    );
    wait_until("wrong-type hook gets its own event", WAIT, || async {
        wrong_type.count() >= 1
    })
    .await;
    wait_until("wildcard gets both", WAIT, || async {
        wildcard.count() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for rx in &subscribed {
        assert_eq!(rx.count(), 1);
    }
    assert_eq!(wrong_type.received()[0].json()["event"], "lead.create");
    assert_eq!(wrong_type.count(), 1);
    assert_eq!(inactive.count(), 0, "an inactive hook gets nothing");
    assert_eq!(
        other_tenant.count(),
        0,
        "another tenant's hook gets nothing"
    );
    app.finish().await;
}

async fn futures_join(n: usize) -> Vec<Receiver> {
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(Receiver::start().await);
    }
    v
}

/// The payloads' `n` of what `rx` got, once it has `count` and half a second more has
/// passed for any that should not come.
async fn settled_ns(rx: &Receiver, count: usize) -> Vec<i64> {
    wait_until("the later event", WAIT, || async { rx.count() >= count }).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    rx.received()
        .iter()
        .map(|r| r.json()["payload"]["n"].as_i64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_event_id_twice_is_delivered_once() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    app.hook(&key, &rx.url, &["*"]).await;
    let event = json!({"id": "evt_dup", "type": "ticket.created", "data": {"n": 1}});
    assert_eq!(app.post_event(&key, &event).await.status(), 202);
    wait_until("first delivery", WAIT, || async { rx.count() >= 1 }).await;
    // The producer retries: over HTTP and over AMQP.
    assert_eq!(app.post_event(&key, &event).await.status(), 202);
    app.publish_raw(
        "ticket.created",
        br#"{"id":"evt_dup","tenant":"acme","type":"ticket.created","data":{"n":1}}"#,
    )
    .await;
    // And a different event after them, to know the duplicates were processed.
    assert_eq!(
        app.post_event(&key, &json!({"type": "ticket.created", "data": {"n": 2}}))
            .await
            .status(),
        202
    );
    let ns = settled_ns(&rx, 2).await;
    assert_eq!(ns, [1, 2], "the duplicate was not delivered again");
    app.finish().await;
}

/// A delivered event leaves Redis only its fingerprint. An event never seen whose
/// fingerprint is already there (two ids colliding, planted here) is still delivered:
/// the log has every event marked done, and not this one. Its real duplicate after it is
/// then dropped, once the log confirms it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_whose_fingerprint_collides_with_a_done_one_is_still_delivered() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    app.hook(&key, &rx.url, &["*"]).await;
    let print = hookpost_store::done_marks::fingerprint("evt_twin");
    let now = hookpost_core::now_ms() as u64 / 1000;
    let period = hookpost_store::done_marks::period(now, app.config.retention_secs());
    let set = print.set(hookpost_store::done_marks::SETS);
    let set = app.store.keys().done_marks("acme", period, set);
    let _: () = redis::AsyncCommands::sadd(&mut app.store.conn(), &set, print.member)
        .await
        .unwrap();
    let body = br#"{"id":"evt_twin","tenant":"acme","type":"ticket.created","data":{"n":1}}"#;
    app.publish_raw("ticket.created", body).await;
    wait_until("the delivery", WAIT, || async { rx.count() >= 1 }).await;
    // Recorded once its state is gone (before, a copy would find it busy).
    let k = app.store.keys();
    let state = |id: &str| {
        let key = k.event_state("acme", id);
        let mut conn = app.store.conn();
        async move {
            let there: bool = redis::AsyncCommands::exists(&mut conn, key).await.unwrap();
            there
        }
    };
    wait_until("the record", WAIT, || async { !state("evt_twin").await }).await;
    app.publish_raw("ticket.created", body).await;
    app.publish_raw(
        "ticket.created",
        br#"{"id":"evt_after","tenant":"acme","type":"ticket.created","data":{"n":2}}"#,
    )
    .await;
    let ns = settled_ns(&rx, 2).await;
    assert_eq!(ns, [1, 2]);
    let processed =
        |result: &str| format!(r#"hookpost_events_processed_total{{result="{result}"}}"#);
    assert_eq!(app.metric(&processed("new")).await, 2.0);
    assert_eq!(app.metric(&processed("duplicate")).await, 1.0);
    // Neither left a key of its own: each is a fingerprint.
    for id in ["evt_twin", "evt_after"] {
        assert!(!state(id).await, "{id}");
    }
    app.finish().await;
}

/// A producer's message without an `id` that RabbitMQ delivers again (after a worker died
/// before its ack, say) is the same event, not a new one: its id comes from its bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exchange_event_without_an_id_delivered_twice_is_one_event() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    app.hook(&key, &rx.url, &["*"]).await;
    let body = br#"{"tenant":"acme","type":"ticket.created","data":{"n":1}}"#;
    app.publish_raw("ticket.created", body).await;
    wait_until("the first delivery", WAIT, || async { rx.count() >= 1 }).await;
    app.publish_raw("ticket.created", body).await;
    // A different event after it, to know the second copy was processed.
    app.publish_raw(
        "ticket.created",
        br#"{"tenant":"acme","type":"ticket.created","data":{"n":2}}"#,
    )
    .await;
    let ns = settled_ns(&rx, 2).await;
    assert_eq!(ns, [1, 2], "the copy was not taken for a new event");
    app.finish().await;
}

/// An event whose holder died with its message gone (RabbitMQ redelivered it after a cut
/// connection, and that copy found the event held): the claim stores no payload, so the
/// copy told `busy` stores it with its resume task, which delivers the event once the
/// holder's lease has run out, with the first receive time, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_of_an_event_whose_holder_died_is_delivered_by_its_resume_task() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    app.hook(&key, &rx.url, &["*"]).await;
    let body = br#"{"id":"evt_held","tenant":"acme","type":"ticket.created","data":{"n":7}}"#;
    // A worker claimed it a moment ago, on a lease of two seconds, and died.
    let event = hookpost_core::Event::parse(body, None).unwrap();
    let received_at = hookpost_core::now_ms() - 1_000;
    let claim = app.store.claim_event(&event, 2_000, received_at).await;
    assert_eq!(claim.unwrap().0, hookpost_store::events::Claim::New);
    app.publish_raw("ticket.created", body).await;
    let busy = r#"hookpost_events_processed_total{result="busy"}"#;
    wait_until("the copy told busy", WAIT, || async {
        app.metric(busy).await == 1.0
    })
    .await;
    wait_until(
        "its resume task delivers it",
        Duration::from_secs(40),
        || async { rx.count() >= 1 },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = rx.received();
    assert_eq!(got.len(), 1, "delivered once");
    let body = got[0].json();
    assert_eq!(body["payload"], json!({"n": 7}));
    assert_eq!(body["timestamp"], received_at, "the first receive time");
    app.finish().await;
}

/// A take-over sends what the first try sent: the payload its holder logged before it
/// died, with that receive time; when the holder logged nothing, the message's own
/// payload with the first receive time (the claim keeps that, not the payload).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_take_over_sends_the_first_tries_payload_and_receive_time() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    app.hook(&key, &rx.url, &["*"]).await;
    let first_at = hookpost_core::now_ms() - 5_000;
    for (n, (id, logged)) in [("evt_logged", true), ("evt_unlogged", false)]
        .into_iter()
        .enumerate()
    {
        let body =
            format!(r#"{{"id":"{id}","tenant":"acme","type":"ticket.created","data":{{"n":2}}}}"#);
        // Its holder claimed it, its lease ran out (it died) ...
        let event = hookpost_core::Event::parse(body.as_bytes(), None).unwrap();
        app.store.claim_event(&event, 0, first_at).await.unwrap();
        if logged {
            // ... after it logged the event as it had it.
            let row = hookpost_db::EventRow {
                id: id.into(),
                kind: "ticket.created".into(),
                occurred_at: None,
                traceparent: None,
                data: hookpost_db::Payload::pack(r#"{"n":1}"#),
                parked: Vec::new(),
            };
            let batch = hookpost_db::Batch::of("acme", id, first_at, Some(row), &[]);
            app.db.write(std::sync::Arc::new(batch)).await.unwrap();
        }
        app.publish_raw("ticket.created", body.as_bytes()).await;
        wait_until("the take-over's delivery", WAIT, || async {
            rx.count() > n
        })
        .await;
        let got = rx.received()[n].json();
        let sent = if logged { 1 } else { 2 };
        assert_eq!(got["payload"], json!({ "n": sent }), "{id}");
        assert_eq!(got["timestamp"], first_at, "{id}: the first receive time");
    }
    let takeovers = r#"hookpost_events_processed_total{result="takeover"}"#;
    assert_eq!(app.metric(takeovers).await, 2.0);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hooks_filter_decides_from_the_payload_whether_it_gets_the_event() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let (urgent, all) = (Receiver::start().await, Receiver::start().await);
    let filter = json!({"all": [
        {"path": "$.ticket.priority", "op": "in", "value": ["high", "urgent"]},
        {"not": {"path": "$.ticket.tags", "op": "contains", "value": "spam"}}
    ]});
    let r = app
        .http
        .post(app.url("/v1/hooks"))
        .bearer_auth(&key)
        .json(&json!({"url": urgent.url, "events": ["ticket.created"], "filter": filter}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = app
        .http
        .post(app.url("/v1/hooks"))
        .bearer_auth(&key)
        .json(&json!({"url": urgent.url, "events": ["*"], "filter": {"path": "$.x", "op": "equals", "value": 1}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let err: serde_json::Value = r.json().await.unwrap();
    assert_eq!(err["error"]["code"], "invalid_filter");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("filter.op"),
        "{err}"
    );
    app.hook(&key, &all.url, &["ticket.created"]).await;

    for (n, priority, tags) in [
        (1, "high", json!([])),
        (2, "low", json!([])),
        (3, "urgent", json!(["spam"])),
        (4, "urgent", json!(["vip"])),
    ] {
        let event = json!({"type": "ticket.created", "data": {"n": n, "ticket": {"priority": priority, "tags": tags}}});
        assert_eq!(app.post_event(&key, &event).await.status(), 202);
    }
    wait_until("the unfiltered hook gets all four", WAIT, || async {
        all.count() >= 4
    })
    .await;
    wait_until("the filtered hook gets two", WAIT, || async {
        urgent.count() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut ns: Vec<i64> = urgent
        .received()
        .iter()
        .map(|r| r.json()["payload"]["n"].as_i64().unwrap())
        .collect();
    ns.sort();
    assert_eq!(ns, [1, 4]);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("hookpost_deliveries_filtered_total 2"),
        "filtered out, counted, not failed"
    );
    app.finish().await;
}
