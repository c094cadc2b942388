//! Events spread over four queue shards, consumed by two worker processes: every
//! delivery once, and an ordered hook's deliveries in each ticket's order.

use std::collections::BTreeSet;
use std::time::Duration;

use hookpost_tests::child::ChildRole;
use hookpost_tests::{wait_until, Receiver, TestApp, TestOptions};
use serde_json::{json, Value};

use crate::HOOKPOST;

const EVENTS: i64 = 400;
const TICKETS: i64 = 10;

/// hookpost with four event queue shards and no worker yet (the tests start their own).
async fn four_shards_without_workers() -> TestApp {
    TestApp::spawn(TestOptions {
        roles: hookpost_tests::WORKERS_APART,
        queue_shards: 4,
        ..TestOptions::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_queue_shards_and_two_workers_deliver_each_event_once_and_in_order() {
    let app = four_shards_without_workers().await;
    let key = app.tenant("acme").await;
    let (plain, ordered) = (Receiver::start().await, Receiver::start().await);
    app.hook(&key, &plain.url, &["*"]).await;
    app.hook_with(
        &key,
        &ordered.url,
        json!({"ordering": "fifo", "ordering_key": "$.ticket.id"}),
    )
    .await;

    for chunk in 0..EVENTS / 100 {
        let batch: Vec<Value> = (chunk * 100..(chunk + 1) * 100)
            .map(|n| json!({"type": "ticket.created", "data": {"n": n, "ticket": {"id": n % TICKETS}}}))
            .collect();
        assert_eq!(app.post_batch(&key, &batch).await.status(), 202);
    }
    // No worker yet: the events wait, spread over every shard.
    let topology = app.topology();
    assert_eq!(topology.events_queues.len(), 4);
    let mut depths = Vec::new();
    for queue in &topology.events_queues {
        depths.push(app.queue_depth(queue).await);
    }
    assert_eq!(depths.iter().sum::<u32>(), EVENTS as u32, "{depths:?}");
    assert!(
        depths.iter().all(|d| *d > 0),
        "a shard got nothing: {depths:?}"
    );

    let _workers = [
        ChildRole::spawn(HOOKPOST, "worker", &app.config),
        ChildRole::spawn(HOOKPOST, "worker", &app.config),
    ];
    wait_until("every delivery", Duration::from_secs(90), || async {
        plain.delivered().len() >= EVENTS as usize && ordered.delivered().len() >= EVENTS as usize
    })
    .await;
    for rx in [&plain, &ordered] {
        let got = rx.delivered();
        let ids: BTreeSet<String> = got.iter().map(|r| r.delivery_id()).collect();
        assert_eq!(ids.len(), EVENTS as usize);
        assert_eq!(got.len(), EVENTS as usize, "a delivery arrived twice");
    }
    for (ticket, ns) in &ordered.delivered_by_ticket() {
        let expected: Vec<i64> = (0..EVENTS / TICKETS)
            .map(|i| i * TICKETS + ticket)
            .collect();
        assert_eq!(ns, &expected, "ticket {ticket} out of order");
    }
    // Every shard was drained.
    for queue in &topology.events_queues {
        assert_eq!(app.queue_depth(queue).await, 0, "{queue}");
    }
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lowering_the_shard_count_leaves_no_event_behind() {
    let app = four_shards_without_workers().await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    app.hook(&key, &rx.url, &["*"]).await;
    let post = |from: i64| {
        let batch: Vec<Value> = (from..from + 100)
            .map(|n| json!({"type": "ticket.created", "data": {"n": n}}))
            .collect();
        let (app, key) = (&app, &key);
        async move { assert_eq!(app.post_batch(key, &batch).await.status(), 202) }
    };
    post(0).await;
    post(100).await;
    // Events wait in all four shards; the workers are then started with two.
    let upper = &app.topology().events_queues[2..];
    for queue in upper {
        assert!(app.queue_depth(queue).await > 0, "{queue} got no event");
    }
    let two = hookpost_core::Config {
        queue_shards: 2,
        ..app.config.clone()
    };
    let _workers = [
        ChildRole::spawn(HOOKPOST, "worker", &two),
        ChildRole::spawn(HOOKPOST, "worker", &two),
    ];
    wait_until("the first 200", Duration::from_secs(60), || async {
        rx.delivered().len() >= 200
    })
    .await;
    // New events reach only the two shards left, and the upper two drain.
    post(200).await;
    wait_until("all 300", Duration::from_secs(60), || async {
        rx.delivered().len() >= 300
    })
    .await;
    let ids: BTreeSet<String> = rx.delivered().iter().map(|r| r.delivery_id()).collect();
    assert_eq!(ids.len(), 300);
    assert_eq!(rx.delivered().len(), 300, "a delivery arrived twice");
    for queue in upper {
        assert_eq!(app.queue_depth(queue).await, 0, "{queue} was left behind");
    }
    app.finish().await;
}
