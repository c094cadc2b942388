//! The producer examples in `examples/producers/` (Python with pika, Node with amqplib,
//! plain HTTP with curl), run as a user would against a hookpost of the test's own: each
//! event arrives once, and a message published twice is still one event.

use std::time::Duration;

use hookpost_tests::{amqp_url, node_modules, python, wait_until, Receiver, TestApp, TestOptions};
use serde_json::json;
use tokio::process::Command;

const WAIT: Duration = Duration::from_secs(30);

fn example(name: &str) -> String {
    format!(
        "{}/../examples/producers/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// Runs a producer; panics with its output unless it says it published.
async fn run(cmd: &mut Command) {
    let out = cmd.output().await.expect("the producer runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.starts_with("published"),
        "{cmd:?}\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_producer_example_publishes_an_event_that_is_delivered_once() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    app.hook(&key, &rx.url, &["ticket.created"]).await;
    let exchange = app.topology().exchange.to_string();
    let amqp = amqp_url();
    let amqp_args = |id: &str, n: u32| {
        vec![
            amqp.clone(),
            exchange.clone(),
            "acme".to_owned(),
            "ticket.created".to_owned(),
            json!({ "ticket": { "id": n } }).to_string(),
            id.to_owned(),
        ]
    };

    // Python (pika), twice with the same id: RabbitMQ takes two messages, hookpost one event.
    for _ in 0..2 {
        run(Command::new(python())
            .arg(example("publish.py"))
            .args(amqp_args("evt_from_python", 1)))
        .await;
    }
    run(Command::new("node")
        .arg(example("publish.js"))
        .args(amqp_args("evt_from_node", 2))
        .env("NODE_PATH", node_modules()))
    .await;
    run(Command::new("bash").arg(example("publish_http.sh")).args([
        app.url(""),
        key.clone(),
        "ticket.created".into(),
        json!({ "ticket": { "id": 3 } }).to_string(),
        "evt_from_http".into(),
    ]))
    .await;

    wait_until("three deliveries", WAIT, || async { rx.count() >= 3 }).await;
    // Time for a duplicate to show up, were there one.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut tickets: Vec<i64> = rx
        .received()
        .iter()
        .map(|r| r.json()["payload"]["ticket"]["id"].as_i64().unwrap())
        .collect();
    tickets.sort();
    assert_eq!(tickets, [1, 2, 3], "each event once");
    for id in ["evt_from_python", "evt_from_node", "evt_from_http"] {
        let (s, e) = app
            .send("GET", &format!("/v1/events/{id}"), &key, None)
            .await;
        assert_eq!(s, 200, "{id}: {e}");
    }

    // An event no queue takes (a type routed nowhere, on an exchange of nobody's) is an
    // error the producer sees, not a silent loss.
    let unrouted = Command::new(python())
        .arg(example("publish.py"))
        .args([
            amqp.clone(),
            "amq.direct".into(),
            "acme".into(),
            "nobody.listens".into(),
            "{}".into(),
            "evt_lost".into(),
        ])
        .output()
        .await
        .unwrap();
    assert!(!unrouted.status.success(), "{unrouted:?}");
    assert!(
        String::from_utf8_lossy(&unrouted.stderr).contains("Unroutable"),
        "{}",
        String::from_utf8_lossy(&unrouted.stderr)
    );
    app.finish().await;
}
