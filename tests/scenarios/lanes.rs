//! A worker process of two lanes (`HOOKPOST_THREADS=2`): two workers in one process, each
//! on a thread of its own with its own connections, consuming side by side, counted in
//! one `/metrics`, ready only when both are, and stopped together.

use std::collections::HashSet;
use std::time::Duration;

use hookpost_tests::child::ChildRole;
use hookpost_tests::{free_port, wait_until, Receiver, TestApp, TestOptions};
use serde_json::json;

use crate::HOOKPOST;

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_of_two_lanes_consumes_on_both_and_stops_cleanly() {
    let app = TestApp::spawn(TestOptions {
        roles: hookpost_tests::WORKERS_APART,
        ..TestOptions::default()
    })
    .await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    app.hook(&key, &rx.url, &["ticket.created"]).await;
    let ops = free_port();
    let env = [
        ("HOOKPOST_THREADS", "2".to_string()),
        ("HOOKPOST_METRICS_ADDR", format!("127.0.0.1:{ops}")),
    ];
    let worker = ChildRole::spawn_with(HOOKPOST, "worker", &app.config, &env);
    let get = |path: &str| {
        let url = format!("http://127.0.0.1:{ops}{path}");
        async move {
            match reqwest::get(url).await {
                Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
                Err(_) => (0, String::new()),
            }
        }
    };
    wait_until("the worker ready", WAIT, || async {
        get("/readyz").await.0 == 200
    })
    .await;

    // Each lane consumes the event, light, overflow and deliveries queues: RabbitMQ sees
    // two consumers on each, and the process's gauge counts all eight.
    let events_queue = app.topology().events_queues[0].clone();
    assert_eq!(app.queue_counts(&events_queue).await.1, 2);
    let metrics = get("/metrics").await.1;
    assert!(
        metrics.contains("\nhookpost_consumers_active 8\n"),
        "{metrics}"
    );

    let n = 200;
    for i in 0..n {
        let event = json!({"id": format!("evt_{i}"), "type": "ticket.created", "data": {"n": i}});
        assert_eq!(app.post_event(&key, &event).await.status(), 202);
    }
    wait_until("every event delivered", WAIT, || async {
        rx.delivered().len() >= n
    })
    .await;
    let ns: HashSet<i64> = rx
        .delivered()
        .iter()
        .map(|d| d.json()["payload"]["n"].as_i64().unwrap())
        .collect();
    assert_eq!((ns.len(), rx.delivered().len()), (n, n), "each once");
    let processed = get("/metrics").await.1;
    assert!(
        processed.contains(&format!(
            "\nhookpost_events_processed_total{{result=\"new\"}} {n}\n"
        )),
        "both lanes count in one registry: {processed}"
    );

    // SIGTERM stops both lanes, each settling what it holds, and the process exits 0.
    assert!(worker.stop(WAIT).await, "the worker exits cleanly");
    assert_eq!(app.queue_counts(&events_queue).await, (0, 0));
    app.finish().await;
}
