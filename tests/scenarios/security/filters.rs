//! Security scenarios: filters.
//!
//! Filters that would scan a huge event for every hook run out of the event's work budget
//! and fail closed (item 1); event data nested deeper than 64 levels is refused at intake
//! and dead-lettered on the exchange path (item 15).

use std::time::{Duration, Instant};

use hookpost_tests::{wait_until, Receiver, TestApp, TestOptions};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);

/// 100 `contains` conditions over `$.items`, negated: a full evaluation matches any event
/// whose items hold no -1, so a hook that does not take such an event was kept out by the
/// budget, not by its filter.
fn heavy_filter() -> Value {
    let scan = json!({"path": "$.items", "op": "contains", "value": -1});
    let half = json!({ "any": vec![scan; 50] });
    json!({"not": {"any": [half.clone(), half]}})
}

/// `data` whose `k` nests `depth` levels in all (`data` itself is the first).
fn nested(depth: usize) -> String {
    let inner = "[".repeat(depth - 1) + &"]".repeat(depth - 1);
    format!(r#"{{"k":{inner}}}"#)
}

async fn error_of(r: reqwest::Response) -> (u16, String, String) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.expect("errors are JSON");
    let field = |f: &str| body["error"][f].as_str().unwrap_or_default().to_owned();
    (status, field("code"), field("message"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heavy_filters_on_a_huge_event_run_out_of_budget_and_keep_it_out() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let (plain, heavy) = (Receiver::start().await, Receiver::start().await);
    app.hook(&key, &plain.url, &["*"]).await;
    for ordered in [true, true, false, false, false, false] {
        let mut fields = json!({ "filter": heavy_filter() });
        if ordered {
            fields["ordering"] = json!("fifo"); // decided by ingest too
        }
        app.hook_with(&key, &heavy.url, fields).await;
    }

    // About 800 KB: 400,000 items, none of them -1.
    let huge = json!({"type": "ticket.created", "data": {"items": vec![0; 400_000]}});
    let started = Instant::now();
    let r = app.post_event(&key, &huge).await;
    assert_eq!(r.status(), 202);
    let huge_id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    eprintln!("the huge event was accepted in {:?}", started.elapsed());
    // An ordinary event behind it: every hook's filter is evaluated in full and matches.
    let small = json!({"type": "ticket.created", "data": {"items": [1, 2, 3]}});
    assert_eq!(app.post_event(&key, &small).await.status(), 202);

    wait_until("the small event at every hook", WAIT, || async {
        plain.count() >= 2 && heavy.count() >= 6
    })
    .await;
    wait_until(
        "the worker's count of the exhausted budget",
        WAIT,
        || async {
            app.metric(r#"hookpost_filter_budget_exhausted_total{role="worker"}"#)
                .await
                >= 1.0
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The unfiltered hook got both events; the filtered ones only the small one.
    assert_eq!(plain.count(), 2);
    let items = |r: &hookpost_tests::receiver::Received| r.json()["payload"]["items"].clone();
    assert!(heavy
        .received()
        .iter()
        .all(|r| items(r) == json!([1, 2, 3])));
    assert_eq!(heavy.count(), 6);

    for role in ["ingest", "worker"] {
        let series = format!(r#"hookpost_filter_budget_exhausted_total{{role="{role}"}}"#);
        assert_eq!(app.metric(&series).await, 1.0, "{series}");
    }
    let logs = hookpost_tests::logs::captured();
    let lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("ran out of budget") && l.contains(&huge_id))
        .collect();
    assert_eq!(
        lines.len(),
        2,
        "one line from ingest, one from the worker: {lines:?}"
    );
    assert!(lines
        .iter()
        .all(|l| l.contains("WARN") && l.contains("acme")));
    assert!(lines.iter().all(|l| !l.contains("items")), "{lines:?}");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_nested_deeper_than_64_levels_gets_400_and_nothing_is_accepted() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    app.hook(&key, &rx.url, &["*"]).await;
    let post = |path: &'static str, body: String| {
        app.http
            .post(app.url(path))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let event = |depth: usize| format!(r#"{{"type":"ticket.created","data":{}}}"#, nested(depth));

    let (status, code, message) = error_of(post("/v1/events", event(65)).await.unwrap()).await;
    assert_eq!((status, code.as_str()), (400, "too_deep"), "{message}");
    assert!(message.contains("64"), "{message}");
    // 500,000 levels fit in the body limit: refused the same way, the server still up.
    let (status, code, _) = error_of(post("/v1/events", event(500_000)).await.unwrap()).await;
    assert_eq!((status, code.as_str()), (400, "too_deep"));

    // A batch with one such event is refused whole, naming it.
    let batch = format!("[{},{}]", event(2), event(65));
    let (status, code, message) = error_of(post("/v1/events/batch", batch).await.unwrap()).await;
    assert_eq!((status, code.as_str()), (400, "too_deep"), "{message}");
    assert!(message.starts_with("event 1:"), "{message}");

    // 64 levels are accepted, and that event is the only one delivered.
    assert_eq!(post("/v1/events", event(64)).await.unwrap().status(), 202);
    wait_until("the 64-deep event", WAIT, || async { rx.count() >= 1 }).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.count(), 1);
    let k = &rx.received()[0].json()["payload"]["k"];
    assert!(k.is_array(), "{k}");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_nested_deeper_than_64_levels_on_the_exchange_is_dead_lettered() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    app.hook(&key, &rx.url, &["*"]).await;
    let event = |depth: usize| {
        let data = nested(depth);
        format!(r#"{{"tenant":"acme","type":"ticket.created","data":{data}}}"#)
    };
    let deep = event(65);
    let deeper = event(500_000); // just under the message size limit
    app.publish_raw("ticket.created", deep.as_bytes()).await;
    app.publish_raw("ticket.created", deeper.as_bytes()).await;
    app.publish_raw("ticket.created", event(64).as_bytes())
        .await;
    wait_until("the 64-deep event behind them", WAIT, || async {
        rx.count() >= 1
    })
    .await;
    wait_until("both dead-lettered", WAIT, || async {
        app.dead_letter_count().await >= 2
    })
    .await;
    let dead = app.dead_letters().await;
    assert_eq!(dead.len(), 2);
    for body in [&deep, &deeper] {
        let found = dead
            .iter()
            .any(|(r, b)| r == "too_deep" && b == body.as_bytes());
        assert!(found, "{} bytes dead-lettered as too_deep", body.len());
    }
    let series = r#"hookpost_dead_letters_total{reason="too_deep"}"#;
    assert_eq!(app.metric(series).await, 2.0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.count(), 1);
    app.finish().await;
}
