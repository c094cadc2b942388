//! Per-hook delivery controls, enforced across two `hookpost worker` processes: a rate
//! limit, a cap on requests in flight, a retry schedule of the hook's own.

use std::time::Duration;

use hookpost_core::delivery::delivery_id;
use hookpost_tests::child::ChildRole;
use hookpost_tests::receiver::Answer;
use hookpost_tests::{wait_until, Receiver, TestApp, TestOptions};
use serde_json::{json, Value};

use crate::HOOKPOST;

/// Ingest and scheduler in the test, the workers as two child processes.
async fn two_workers(retry: &'static str) -> (TestApp, [ChildRole; 2]) {
    let app = TestApp::spawn(TestOptions {
        roles: hookpost_tests::WORKERS_APART,
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

/// Posts `n` events; their ids.
async fn post_events(app: &TestApp, key: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let batch: Vec<Value> = chunk
            .iter()
            .map(|i| json!({"type": "ticket.created", "data": {"n": i}}))
            .collect();
        let r = app.post_batch(key, &batch).await;
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
    let hook = app
        .hook_with(
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
        let d = app.db.delivery("acme", &id).await.unwrap().unwrap();
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
    app.hook_with(&key, &slow.url, json!({"max_in_flight": 2}))
        .await;
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
    let own_hook = app
        .hook_with(&key, &own.url, json!({"retry_schedule": ["1s", "2s"]}))
        .await;
    let default_hook = app.hook(&key, &default.url, &["*"]).await;
    let event = post_events(&app, &key, 1).await.remove(0);
    let id_of = |h: &Value| delivery_id("acme", &event, h["id"].as_str().unwrap());
    for id in [id_of(&own_hook), id_of(&default_hook)] {
        wait_until("the delivery fails", Duration::from_secs(30), || async {
            app.db
                .delivery("acme", &id)
                .await
                .unwrap()
                .is_some_and(|d| d.status.as_str() == "failed")
        })
        .await;
    }
    let own_log = app
        .db
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
        ("ordering", json!("lifo")),
        ("ordering_on_failure", json!("later")),
        ("ordering_key", json!("ticket.id")),
    ] {
        let r = app
            .http
            .post(app.url("/v1/hooks"))
            .bearer_auth(&key)
            .json(&json!({"url": url, "events": ["*"], "ordering": "fifo", field: value}))
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
        "ordering": "fifo",
        "ordering_key": "$.ticket.id",
        "ordering_on_failure": "block",
    });
    let hook = app.hook_with(&key, url, controls.clone()).await;
    let path = format!("/v1/hooks/{}", hook["id"].as_str().unwrap());
    let shown: Value = app.get(&key, &path).await.json().await.unwrap();
    for field in controls.as_object().unwrap().keys() {
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
    for field in controls.as_object().unwrap().keys() {
        assert!(replaced.get(field).is_none(), "PUT resets {field}");
    }
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_deliveries_keep_each_tickets_order_across_two_workers_and_a_sigkill() {
    let (app, workers) = two_workers("1s,1s,1s").await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    rx.set_latency(Duration::from_millis(5));
    // Some first attempts fail: those deliveries hold their ticket for a retry.
    rx.answer_next(&[Answer::Status(500); 15]);
    app.hook_with(
        &key,
        &rx.url,
        json!({"ordering": "fifo", "ordering_key": "$.ticket.id"}),
    )
    .await;
    let mut workers = Vec::from(workers);
    let publish = async {
        for chunk in 0..5 {
            let batch: Vec<Value> = (chunk * 100..chunk * 100 + 100)
                .map(|n| json!({"type": "ticket.created", "data": {"n": n, "ticket": {"id": n % 20}}}))
                .collect();
            let r = app.post_batch(&key, &batch).await;
            assert_eq!(r.status(), 202);
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    };
    let kill = async {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        workers.remove(0).kill().await;
        workers.push(ChildRole::spawn(HOOKPOST, "worker", &app.config));
    };
    tokio::join!(publish, kill);
    wait_until("all 500 delivered", Duration::from_secs(120), || async {
        rx.delivered_by_ticket()
            .values()
            .map(|ns| {
                let mut ns = ns.clone();
                ns.dedup();
                ns.len()
            })
            .sum::<usize>()
            >= 500
    })
    .await;
    let by_ticket = rx.delivered_by_ticket();
    assert_eq!(by_ticket.len(), 20);
    for (ticket, ns) in &by_ticket {
        assert!(
            ns.windows(2).all(|w| w[0] <= w[1]),
            "ticket {ticket} out of order: {ns:?}"
        );
        let expected: Vec<i64> = (0..25).map(|i| i * 20 + ticket).collect();
        let mut got = ns.clone();
        got.dedup();
        assert_eq!(got, expected, "ticket {ticket}");
    }
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_ordered_delivery_is_skipped_or_blocks_until_skip_or_resend() {
    let app = TestApp::spawn(TestOptions {
        retry: "1s",
        ..TestOptions::default()
    })
    .await;
    let key = app.tenant("acme").await;
    let ordered = |on_failure: &str| json!({"ordering": "fifo", "ordering_on_failure": on_failure});
    let (skips, blocks, resent) = (
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
    );
    let mut hooks = Vec::new();
    for (rx, on_failure) in [(&skips, "skip"), (&blocks, "block"), (&resent, "block")] {
        // The first event's two attempts fail: it fails for good.
        rx.answer_next(&[Answer::Status(500); 2]);
        hooks.push(app.hook_with(&key, &rx.url, ordered(on_failure)).await);
    }
    let mut events = Vec::new();
    for n in 0..3 {
        events.extend(post_events_with(&app, &key, json!({"n": n})).await);
    }
    let ns = Receiver::delivered_ns;
    wait_until(
        "skip goes on after the failure",
        Duration::from_secs(30),
        || async { ns(&skips) == [1, 2] },
    )
    .await;
    let first = |hook: &Value| delivery_id("acme", &events[0], hook["id"].as_str().unwrap());
    for (rx, hook) in [(&blocks, &hooks[1]), (&resent, &hooks[2])] {
        app.wait_for_status("acme", &first(hook), "failed").await;
        let shown: Value = app
            .get(&key, &format!("/v1/deliveries/{}", first(hook)))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(shown["blocking"], true, "{shown}");
        assert_eq!(rx.count(), 2, "nothing after the failed one");
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(blocks.count(), 2, "the key stays blocked");
    assert_eq!(app.metric("hookpost_ordering_blocks_total").await, 2.0);

    // Skip lets the key go; resend delivers the failed one first, then the rest.
    let skip = |id: String| {
        let (http, url, key) = (
            app.http.clone(),
            app.url(&format!("/v1/deliveries/{id}/skip")),
            key.clone(),
        );
        async move {
            http.post(url)
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(
        skip(first(&hooks[0])).await,
        409,
        "not blocking: nothing to skip"
    );
    assert_eq!(skip(first(&hooks[1])).await, 200);
    let resend = app
        .http
        .post(app.url(&format!("/v1/deliveries/{}/resend", first(&hooks[2]))))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(resend.status(), 202);
    wait_until(
        "the blocked keys move on",
        Duration::from_secs(30),
        || async { ns(&blocks) == [1, 2] && ns(&resent) == [0, 1, 2] },
    )
    .await;
    app.finish().await;
}

/// Posts one event with `data`; its id.
async fn post_events_with(app: &TestApp, key: &str, data: Value) -> Vec<String> {
    let r = app
        .post_event(key, &json!({"type": "ticket.created", "data": data}))
        .await;
    assert_eq!(r.status(), 202);
    let body: Value = r.json().await.unwrap();
    vec![body["id"].as_str().unwrap().to_owned()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_whose_event_never_came_holds_its_key_for_ten_minutes_at_most() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    let hook = app
        .hook_with(
            &key,
            &rx.url,
            json!({"ordering": "fifo", "ordering_key": "$.ticket.id"}),
        )
        .await;
    let hook_id = hook["id"].as_str().unwrap();
    let order = hookpost_core::ordering::Ordering::of(Some("fifo"), Some("$.ticket.id"), None)
        .unwrap()
        .unwrap();
    // What an ingest that died between registering and publishing leaves: a member at
    // the head of its key whose delivery and event never appear. Ticket 1's is eleven
    // minutes old, ticket 2's a minute old.
    let now_ms = hookpost_core::now_ms();
    let mut redis = app.store.conn();
    for (ticket, age_min) in [(1, 11), (2, 1)] {
        let key_id = order.key_id(&json!({"ticket": {"id": ticket}}));
        let queue = app.store.keys().order_queue("acme", hook_id, &key_id);
        let score = (now_ms - age_min * 60_000) * 1000;
        let _: () = redis::cmd("ZADD")
            .arg(&queue)
            .arg(score)
            .arg(format!("dlv_ghost{ticket}:evt_ghost{ticket}"))
            .query_async(&mut redis)
            .await
            .unwrap();
    }
    for ticket in [1, 2] {
        let event =
            json!({"type": "ticket.created", "data": {"n": ticket, "ticket": {"id": ticket}}});
        assert_eq!(app.post_event(&key, &event).await.status(), 202);
    }
    wait_until(
        "ticket 1 past its ghost",
        Duration::from_secs(15),
        || async { !rx.delivered_by_ticket().is_empty() },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let by_ticket = rx.delivered_by_ticket();
    assert_eq!(by_ticket.get(&1), Some(&vec![1]));
    assert_eq!(
        by_ticket.get(&2),
        None,
        "a recent registration still holds its key"
    );
    app.finish().await;
}
