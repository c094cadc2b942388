//! PostgreSQL, the log's system of record, failing under load: nothing is lost, nothing
//! acked unwritten, and everything resumes by itself.

use std::time::Duration;

use hookpost_core::delivery::delivery_id;
use hookpost_tests::pg_server::PgServer;
use hookpost_tests::{wait_until, Receiver, TestApp, TestOptions};
use serde_json::json;

/// hookpost on `database_url`, a tenant `acme`, its key, a receiver and a hook on it.
async fn app_on(database_url: String) -> (TestApp, String, Receiver, String) {
    app_with(TestOptions {
        database_url: Some(database_url),
        ..TestOptions::default()
    })
    .await
}

async fn app_with(opts: TestOptions) -> (TestApp, String, Receiver, String) {
    let app = TestApp::spawn(opts).await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    let hook = app.hook(&key, &rx.url, &["*"]).await;
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    (app, key, rx, hook_id)
}

/// Events `evt_0` to `evt_{n-1}` are each logged delivered, with a delivered attempt,
/// and each reached the receiver (some twice: an attempt whose write failed is made
/// again).
async fn all_delivered(app: &TestApp, rx: &Receiver, hook_id: &str, n: usize) {
    for i in 0..n {
        let id = delivery_id("acme", &format!("evt_{i}"), hook_id);
        app.wait_for_status("acme", &id, "delivered").await;
        let d = app.db.delivery("acme", &id).await.unwrap().unwrap();
        assert!(
            d.attempts.iter().any(|a| a.delivered()),
            "{id}: {:?}",
            d.attempts
        );
    }
    let got: std::collections::HashSet<String> =
        rx.received().iter().map(|r| r.delivery_id()).collect();
    assert_eq!(got.len(), n, "every event reached the receiver");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_under_load_loses_nothing_and_the_log_catches_up() {
    let pg = PgServer::start();
    let (app, key, rx, hook_id) = app_on(pg.url()).await;
    let post = |i: usize| {
        let event = json!({"id": format!("evt_{i}"), "type": "ticket.created", "data": {"n": i}});
        let (app, key) = (&app, &key);
        async move { assert_eq!(app.post_event(key, &event).await.status(), 202) }
    };
    for i in 0..20 {
        post(i).await;
    }
    // Crashed mid-load: connections cut, no checkpoint.
    pg.stop_immediate();
    // Intake does not need the database: events are still accepted.
    for i in 20..40 {
        post(i).await;
    }
    let (status, body) = app.send("GET", "/v1/deliveries", &key, None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("database_unavailable")),
        "{body}"
    );
    let readiness = app.running.as_ref().unwrap().readiness.clone();
    wait_until(
        "/readyz says postgres is down",
        Duration::from_secs(10),
        || async {
            readiness
                .problems()
                .iter()
                .any(|(check, _)| check == "postgres")
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    pg.start_again();

    // Every event is delivered and in the log as delivered, no ack made before its write.
    all_delivered(&app, &rx, &hook_id, 40).await;
    wait_until("ready again", Duration::from_secs(10), || async {
        readiness.is_ready()
    })
    .await;
    let (status, body) = app
        .send("GET", "/v1/deliveries?limit=100", &key, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["deliveries"].as_array().unwrap().len(), 40);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_back_empty_is_rebuilt_from_postgres_with_keys_hooks_and_pending_retries() {
    use hookpost_tests::receiver::Answer;
    use hookpost_tests::redis_server::RedisServer;
    let mut redis = RedisServer::start(true);
    let mut app = TestApp::spawn(TestOptions {
        redis_url: Some(redis.url()),
        retry: "3s,3s,3s",
        ..TestOptions::default()
    })
    .await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    rx.answer_next(&[Answer::Status(500)]);
    let hook = app.hook(&key, &rx.url, &["*"]).await;
    let event = json!({"id": "evt_kept", "type": "ticket.created", "data": {"n": 1}});
    assert_eq!(app.post_event(&key, &event).await.status(), 202);
    let id = delivery_id("acme", "evt_kept", hook["id"].as_str().unwrap());
    app.wait_for_status("acme", &id, "retrying").await;

    // hookpost stops; Redis comes back with nothing (its data directory lost).
    app.running.take().unwrap().stop().await;
    redis.kill_and_restart_empty();
    let fresh = hookpost::store(&app.config).unwrap();
    assert!(!fresh.marker_present().await.unwrap(), "Redis is empty");

    // `hookpost all` starts again: it puts back what PostgreSQL holds, counts it, goes on.
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", http.local_addr().unwrap());
    let running = hookpost::start(
        app.config.clone(),
        hookpost::Roles::ALL,
        Some(http),
        None,
        Default::default(),
    )
    .await
    .unwrap();
    assert_eq!(running.metrics.redis_rebuilds.get(), 1);
    // The key still signs in, the hook is still there, and the pending retry is made.
    let r = app
        .http
        .get(format!("{base}/v1/hooks"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let hooks: serde_json::Value = r.json().await.unwrap();
    assert_eq!(hooks["hooks"][0]["id"], hook["id"], "{hooks}");
    wait_until(
        "the retry is made after the rebuild",
        Duration::from_secs(30),
        || async { rx.delivered().len() == 1 },
    )
    .await;
    app.wait_for_status("acme", &id, "delivered").await;
    let d = app.db.delivery("acme", &id).await.unwrap().unwrap();
    assert_eq!(d.attempts.len(), 2, "{:?}", d.attempts);
    // The retry carries what the first attempt carried: payload, and the same body.
    let got = rx.received();
    assert_eq!(got[0].body, got[1].body);
    assert_eq!(
        rx.delivered()[0].json()["payload"],
        json!({"n": 1}),
        "the same body"
    );
    app.running = Some(running);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_cut_refused_and_stalled_under_load_lose_nothing() {
    use hookpost_tests::proxy::{Fault, FaultProxy};
    // hookpost reaches the test's own database through a proxy that breaks connections.
    let prefix = hookpost_tests::unique_prefix();
    let direct = hookpost_tests::database_url(&prefix);
    let proxy = FaultProxy::start("127.0.0.1:5432".parse().unwrap()).await;
    let through = direct.replace("127.0.0.1:5432", &proxy.addr.to_string());
    let (app, key, rx, hook_id) = app_on(through).await;
    let faults = [
        Fault::Cut,
        Fault::Down(Duration::from_secs(3)),
        Fault::Stall(Duration::from_secs(2)),
        Fault::Cut,
    ];
    let mut n = 0;
    for fault in faults {
        for _ in 0..15 {
            let event =
                json!({"id": format!("evt_{n}"), "type": "ticket.created", "data": {"n": n}});
            assert_eq!(app.post_event(&key, &event).await.status(), 202);
            n += 1;
        }
        proxy.inject(fault).await;
    }
    all_delivered(&app, &rx, &hook_id, n).await;
    assert!(
        proxy.connections() > 1,
        "hookpost reconnected through the proxy"
    );
    app.finish().await;
}

/// A connection that stays open and never answers (a server or network gone without a
/// word) holds a log write only as long as the write timeout: the writer gives that
/// connection up and writes on a new one, and nothing waits for TCP to give up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_open_postgres_connection_is_given_up_after_the_write_timeout() {
    use hookpost_tests::proxy::FaultProxy;
    let prefix = hookpost_tests::unique_prefix();
    let direct = hookpost_tests::database_url(&prefix);
    let proxy = FaultProxy::start("127.0.0.1:5432".parse().unwrap()).await;
    let (app, key, rx, hook_id) = app_with(TestOptions {
        database_url: Some(direct.replace("127.0.0.1:5432", &proxy.addr.to_string())),
        database_write_timeout: Duration::from_secs(2),
        ..TestOptions::default()
    })
    .await;
    let post = |n: usize| {
        let event = json!({"id": format!("evt_{n}"), "type": "ticket.created", "data": {"n": n}});
        let (app, key) = (&app, &key);
        async move { assert_eq!(app.post_event(key, &event).await.status(), 202) }
    };
    for n in 0..10 {
        post(n).await;
    }
    all_delivered(&app, &rx, &hook_id, 10).await;
    let before = proxy.connections();
    // Every connection open now (the writer's among them) goes silent for good.
    proxy.freeze_open();
    for n in 10..30 {
        post(n).await;
    }
    all_delivered(&app, &rx, &hook_id, 30).await;
    assert!(
        proxy.connections() > before,
        "the writer went on on a new connection"
    );
    app.finish().await;
}
