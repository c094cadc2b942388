//! Per-hook delivery controls, enforced across two `hookpost worker` processes: a rate
//! limit, a cap on requests in flight, a retry schedule of the hook's own.

use std::time::Duration;

use hookpost::Roles;
use hookpost_core::delivery::delivery_id;
use hookpost_tests::child::ChildRole;
use hookpost_tests::receiver::Answer;
use hookpost_tests::{wait_until, Receiver, TestApp, TestOptions};
use serde_json::{json, Value};

use crate::HOOKPOST;

/// Ingest and scheduler in the test, the workers as two child processes.
async fn two_workers(retry: &'static str) -> (TestApp, [ChildRole; 2]) {
    let app = TestApp::spawn(TestOptions {
        roles: Roles {
            worker: false,
            ..Roles::ALL
        },
        retry,
        ..TestOptions::default()
    })
    .await;
    let workers = [
        ChildRole::spawn(HOOKPOST, "worker", &app.config),
        ChildRole::spawn(HOOKPOST, "worker", &app.config),
    ];
    (app, workers)
}

async fn hook_with(app: &TestApp, key: &str, url: &str, controls: Value) -> Value {
    let mut body = json!({"url": url, "events": ["*"]});
    body.as_object_mut()
        .unwrap()
        .extend(controls.as_object().unwrap().clone());
    let r = app
        .http
        .post(app.url("/v1/hooks"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

/// Posts `n` events; their ids.
async fn post_events(app: &TestApp, key: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let batch: Vec<Value> = chunk
            .iter()
            .map(|i| json!({"type": "ticket.created", "data": {"n": i}}))
            .collect();
        let r = app
            .http
            .post(app.url("/v1/events/batch"))
            .bearer_auth(key)
            .json(&batch)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let body: Value = r.json().await.unwrap();
        ids.extend(
            body["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned()),
        );
    }
    ids
}

/// The most requests `rx` received within any one second.
fn busiest_second(rx: &Receiver) -> usize {
    let mut at: Vec<_> = rx.received().iter().map(|r| r.at).collect();
    at.sort();
    (0..at.len())
        .map(|i| {
            at[i..]
                .iter()
                .take_while(|t| t.duration_since(at[i]) < Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_holds_across_two_workers_and_leaves_other_hooks_alone() {
    let (app, _workers) = two_workers("1s,1s,1s").await;
    let key = app.tenant("acme").await;
    let (limited, free) = (Receiver::start().await, Receiver::start().await);
    let hook = hook_with(
        &app,
        &key,
        &limited.url,
        json!({"rate_limit": {"per_second": 20}}),
    )
    .await;
    app.hook(&key, &free.url, &["*"]).await;
    let events = post_events(&app, &key, 200).await;

    wait_until(
        "the hook without a limit gets all 200",
        Duration::from_secs(30),
        || async { free.delivered().len() >= 200 },
    )
    .await;
    assert!(
        limited.count() < 150,
        "the free hook was not held back by the limited one ({} limited so far)",
        limited.count()
    );
    wait_until(
        "the limited hook gets all 200",
        Duration::from_secs(60),
        || async { limited.delivered().len() >= 200 },
    )
    .await;
    let busiest = busiest_second(&limited);
    assert!(busiest <= 21, "{busiest} requests within one second");
    assert_eq!(limited.count(), 200, "no attempt was refused or repeated");
    for event in &events {
        let id = delivery_id("acme", event, hook["id"].as_str().unwrap());
        let d = app.store.delivery("acme", &id).await.unwrap().unwrap();
        assert_eq!(d.status.as_str(), "delivered");
        assert_eq!(d.attempts.len(), 1, "waiting is not an attempt");
    }
    eprintln!("rate limit 20/s: 200 deliveries, busiest second {busiest}, free hook done first");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_in_flight_holds_across_two_workers() {
    let (app, _workers) = two_workers("1s,1s,1s").await;
    let key = app.tenant("acme").await;
    let slow = Receiver::start().await;
    slow.set_latency(Duration::from_millis(200));
    hook_with(&app, &key, &slow.url, json!({"max_in_flight": 2})).await;
    post_events(&app, &key, 30).await;
    wait_until("all 30 delivered", Duration::from_secs(60), || async {
        slow.delivered().len() >= 30
    })
    .await;
    assert_eq!(slow.most_concurrent(), 2, "at most 2 at once, and 2 used");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hooks_own_retry_schedule_replaces_the_default_for_it_alone() {
    let app = TestApp::spawn(TestOptions::default()).await; // default: 1s,1s,1s
    let key = app.tenant("acme").await;
    let (own, default) = (Receiver::start().await, Receiver::start().await);
    own.answer_always(Answer::Status(500));
    default.answer_always(Answer::Status(500));
    let own_hook = hook_with(
        &app,
        &key,
        &own.url,
        json!({"retry_schedule": ["1s", "2s"]}),
    )
    .await;
    let default_hook = app.hook(&key, &default.url, &["*"]).await;
    let event = post_events(&app, &key, 1).await.remove(0);
    let id_of = |h: &Value| delivery_id("acme", &event, h["id"].as_str().unwrap());
    for id in [id_of(&own_hook), id_of(&default_hook)] {
        wait_until("the delivery fails", Duration::from_secs(30), || async {
            app.store
                .delivery("acme", &id)
                .await
                .unwrap()
                .is_some_and(|d| d.status.as_str() == "failed")
        })
        .await;
    }
    let own_log = app
        .store
        .delivery("acme", &id_of(&own_hook))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(own_log.attempts.len(), 3);
    assert_eq!(own.count(), 3);
    let gap = own_log.attempts[2].at - own_log.attempts[1].at;
    assert!(gap >= 1900, "the second delay is the hook's 2s: {gap} ms");
    assert_eq!(
        default.count(),
        4,
        "the other hook keeps the default schedule"
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controls_are_validated_shown_and_cleared() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let url = "http://127.0.0.1:9/hook";
    for (field, value) in [
        ("rate_limit", json!({"per_second": 0})),
        ("rate_limit", json!({"per_second": 5, "burst": 0})),
        ("rate_limit", json!({"per_second": 5, "every": 1})),
        ("rate_limit", json!(5)),
        ("max_in_flight", json!(0)),
        ("max_in_flight", json!(1001)),
        ("retry_schedule", json!(["500ms"])),
        ("retry_schedule", json!(["8d"])),
        ("retry_schedule", json!(vec!["1m"; 21])),
        ("retry_schedule", json!("5m")),
    ] {
        let r = app
            .http
            .post(app.url("/v1/hooks"))
            .bearer_auth(&key)
            .json(&json!({"url": url, "events": ["*"], field: value}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{field}: {value}");
        let body: Value = r.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{field}: {message}");
    }
    let listed: Value = app.get(&key, "/v1/hooks").await.json().await.unwrap();
    assert_eq!(listed["hooks"], json!([]), "nothing was stored");

    let controls = json!({
        "rate_limit": {"per_second": 5, "burst": 2},
        "max_in_flight": 3,
        "retry_schedule": ["5m", "30m", "2h"],
        "filter": {"path": "$.n", "op": "gt", "value": 1},
    });
    let hook = hook_with(&app, &key, url, controls.clone()).await;
    let path = format!("/v1/hooks/{}", hook["id"].as_str().unwrap());
    let shown: Value = app.get(&key, &path).await.json().await.unwrap();
    for field in ["rate_limit", "max_in_flight", "retry_schedule"] {
        assert_eq!(shown[field], controls[field], "{field}");
    }
    let r = app
        .http
        .patch(app.url(&path))
        .bearer_auth(&key)
        .json(&json!({"rate_limit": null, "filter": null, "max_in_flight": 4}))
        .send()
        .await
        .unwrap();
    let patched: Value = r.json().await.unwrap();
    assert!(patched.get("rate_limit").is_none(), "null clears it");
    assert!(patched.get("filter").is_none(), "null clears it");
    assert_eq!(patched["max_in_flight"], 4);
    assert_eq!(patched["retry_schedule"], controls["retry_schedule"]);
    let r = app
        .http
        .put(app.url(&path))
        .bearer_auth(&key)
        .json(&json!({"url": url, "events": ["*"]}))
        .send()
        .await
        .unwrap();
    let replaced: Value = r.json().await.unwrap();
    for field in ["rate_limit", "max_in_flight", "retry_schedule"] {
        assert!(replaced.get(field).is_none(), "PUT resets {field}");
    }
    app.finish().await;
}
