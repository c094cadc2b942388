//! Nothing is lost when a worker stops mid-delivery, or when the connections to the
//! broker or to Redis are cut, refused, stalled or slowed under load.

use std::time::Duration;

use hookpost::Roles;
use hookpost_tests::invariants::{scale, three_hooks};
use hookpost_tests::proxy::{Fault, FaultProxy};
use hookpost_tests::receiver::Answer;
use hookpost_tests::{amqp_url, redis_url, wait_until, Receiver, TestApp, TestOptions};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);

/// An app whose workers the test starts itself, and stops (or lets hang) at will.
fn workers_apart() -> TestOptions {
    TestOptions {
        roles: hookpost_tests::WORKERS_APART,
        shutdown_grace: Duration::from_millis(200),
        request_timeout: Duration::from_secs(60),
        ..TestOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stopped_mid_delivery_loses_nothing() {
    let mut app = TestApp::spawn(workers_apart()).await;
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
    stop_and_see_it_sent_again(&mut app, first, &rx, None, "after the take-over").await;
    app.finish().await;
}

/// Stops worker `first` while its one request hangs, starts another, and checks that
/// the other sends the same delivery with the same body, `how`, and records it delivered.
async fn stop_and_see_it_sent_again(
    app: &mut TestApp,
    first: usize,
    rx: &Receiver,
    config: Option<hookpost_core::Config>,
    how: &str,
) {
    app.others.remove(first).stop().await;
    assert!(rx.delivered().is_empty());
    app.start_more(Roles::WORKER, config).await;
    wait_until(&format!("another worker sends it {how}"), WAIT, || async {
        !rx.delivered().is_empty()
    })
    .await;
    let got = rx.received();
    assert_eq!(got[0].delivery_id(), got[1].delivery_id());
    assert_eq!(got[0].body, got[1].body, "the same body {how}");
    app.wait_for_status("acme", &got[1].delivery_id(), "delivered")
        .await;
}

/// A slow attempt does not hold its event's message: the message is acked once the
/// attempt has taken twice `HOOKPOST_HOOK_WAIT`, after a safety-net retry is stored for
/// when the attempt's outcome would be overdue. A worker that dies after that loses
/// nothing: the safety net makes the attempt again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stopped_after_a_slow_attempt_released_its_message_loses_nothing() {
    let mut app = TestApp::spawn(workers_apart()).await;
    let short = hookpost_core::Config {
        request_timeout: Duration::from_secs(3),
        ..app.config.clone()
    };
    let first = app.start_more(Roles::WORKER, Some(short.clone())).await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    rx.answer_next(&[Answer::Hang]);
    app.hook(&key, &rx.url, &["*"]).await;
    let event = json!({"type": "ticket.created", "data": {"k": 1}});
    assert_eq!(app.post_event(&key, &event).await.status(), 202);
    wait_until("the message is acked with a safety net", WAIT, || async {
        rx.count() >= 1
            && app
                .store
                .retry_entries()
                .await
                .unwrap()
                .iter()
                .any(|(m, _)| m.contains(r#""kind":"attempt""#) && m.contains(r#""attempt":1"#))
    })
    .await;
    stop_and_see_it_sent_again(&mut app, first, &rx, Some(short), "from the safety net").await;
    app.finish().await;
}

/// Acks are batched up to the oldest message still being handled: the messages after a
/// hanging one must still be acked (alone, after a short hold), or they would fill the
/// prefetch and stop the worker until the hanging request timed out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_delivery_does_not_hold_back_the_acks_of_later_messages() {
    let mut app = TestApp::spawn(workers_apart()).await;
    let worker = hookpost_core::Config {
        prefetch: 4,
        ..app.config.clone()
    };
    app.start_more(Roles::WORKER, Some(worker)).await;
    let (slow_key, key) = (app.tenant("slow").await, app.tenant("acme").await);
    let (hanging, healthy) = (Receiver::start().await, Receiver::start().await);
    hanging.answer_next(&[Answer::Hang]);
    app.hook(&slow_key, &hanging.url, &["*"]).await;
    app.hook(&key, &healthy.url, &["*"]).await;
    let event = json!({"type": "ticket.created", "data": {"k": 0}});
    assert_eq!(app.post_event(&slow_key, &event).await.status(), 202);
    wait_until("the first message is mid-delivery", WAIT, || async {
        hanging.count() >= 1
    })
    .await;

    // Ten times the prefetch, each acked while the first message still hangs.
    for k in 1..=40 {
        let event = json!({"type": "ticket.created", "data": {"k": k}});
        assert_eq!(app.post_event(&key, &event).await.status(), 202);
    }
    wait_until("every later event delivered", WAIT, || async {
        healthy.delivered().len() >= 40
    })
    .await;
    assert!(
        hanging.delivered().is_empty(),
        "the first request still hangs: it was never the one holding the others"
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_answers_503_while_the_broker_is_unreachable_and_recovers_alone() {
    let proxy = FaultProxy::before(&amqp_url()).await;
    let app = TestApp::spawn(TestOptions {
        amqp_url: Some(proxy.amqp_url()),
        ..TestOptions::default()
    })
    .await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    app.hook(&key, &rx.url, &["*"]).await;
    assert_eq!(
        app.post_event(&key, &json!({"type": "ticket.created", "data": {"n": 1}}))
            .await
            .status(),
        202
    );

    proxy.break_all();
    let r = app
        .post_event(&key, &json!({"type": "ticket.created", "data": {"n": 2}}))
        .await;
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "broker_unavailable");

    proxy.restore();
    let mut accepted = false;
    for _ in 0..100 {
        if app
            .post_event(&key, &json!({"type": "ticket.created", "data": {"n": 3}}))
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

/// A batch goes to RabbitMQ a window of `HOOKPOST_PUBLISH_WINDOW` events at a time, each
/// window's confirms awaited before the next is sent, and the publish timeout bounds
/// each window rather than the whole batch: over a slow link, a batch whose windows
/// together take longer than the timeout is accepted whole and delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_published_a_window_at_a_time_each_within_the_timeout() {
    let proxy = FaultProxy::before(&amqp_url()).await;
    let app = TestApp::spawn(TestOptions {
        amqp_url: Some(proxy.amqp_url()),
        request_timeout: Duration::from_secs(30),
        configure: |c| {
            c.publish_window = 2;
            c.connect_timeout = Duration::from_millis(700);
        },
        ..TestOptions::default()
    })
    .await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    app.hook(&key, &rx.url, &["*"]).await;
    // Connected before the link slows down: a handshake is many round trips.
    let first = json!({"type": "ticket.created", "data": {"n": 0}});
    assert_eq!(app.post_event(&key, &first).await.status(), 202);

    // Each window: its publishes one way and its confirms back, 150 ms each.
    proxy.delay(Duration::from_millis(150));
    let events: Vec<Value> = (1..=10)
        .map(|n| json!({"type": "ticket.created", "data": {"n": n}}))
        .collect();
    let started = std::time::Instant::now();
    let r = app.post_batch(&key, &events).await;
    let took = started.elapsed();
    proxy.restore();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap_or_default());
    // Five windows, each at least two delays: more than the 700 ms timeout in all.
    assert!(
        took >= Duration::from_millis(1_400),
        "five windows one after another, not one burst: {took:?}"
    );
    wait_until("every event of the batch delivered", WAIT, || async {
        rx.count() >= 11
    })
    .await;
    let mut ns = rx.delivered_ns();
    ns.sort_unstable();
    assert_eq!(ns, (0..=10).collect::<Vec<_>>());
    app.finish().await;
}

/// An idle hookpost loses its broker: every role's `/readyz` check says so while it is
/// down, and every role connects again by itself once it is back, with nothing to publish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_notices_a_lost_broker_and_reconnects_without_traffic() {
    let proxy = FaultProxy::before(&amqp_url()).await;
    let app = TestApp::spawn(TestOptions {
        amqp_url: Some(proxy.amqp_url()),
        ..TestOptions::default()
    })
    .await;
    let roles = ["ingest", "worker", "scheduler"];
    let broker_checks = || async {
        let ready = app.readyz().await;
        // `/readyz` lists the failing checks only.
        roles.map(|role| ready["problems"][format!("{role}.broker")].is_null())
    };
    wait_until("every role ready", WAIT, || async {
        broker_checks().await == [true; 3]
    })
    .await;

    proxy.break_all();
    wait_until("every role reports the broker down", WAIT, || async {
        broker_checks().await == [false; 3]
    })
    .await;
    proxy.restore();
    wait_until("every role reconnected", WAIT, || async {
        broker_checks().await == [true; 3]
    })
    .await;
    for role in roles {
        let series = format!("hookpost_amqp_reconnects_total{{role=\"{role}\"}}");
        assert!(
            app.metric(&series).await >= 1.0,
            "{role} counted its reconnect"
        );
    }
    app.finish().await;
}

/// Which server a scenario's proxy stands in front of.
#[derive(Clone, Copy, PartialEq)]
enum Through {
    Broker,
    Redis,
}

/// Three hooks (see [`three_hooks`]), `1,500 × scale` events posted while `faults` are injected one after
/// another, then the invariant: nothing lost.
/// The proxy comes back too: the app's clean-up goes through it.
async fn load_under_faults(
    scenario: &str,
    through: Through,
    faults: &[Fault],
) -> (TestApp, FaultProxy) {
    let proxy = match through {
        Through::Broker => FaultProxy::before(&amqp_url()).await,
        Through::Redis => FaultProxy::before(&redis_url()).await,
    };
    let app = TestApp::spawn(TestOptions {
        amqp_url: (through == Through::Broker).then(|| proxy.amqp_url()),
        redis_url: (through == Through::Redis).then(|| proxy.redis_url()),
        ..TestOptions::default()
    })
    .await;
    let key = app.tenant("acme").await;
    let (receivers, mut ledger) = three_hooks(&app, &key).await;
    let before = proxy.connections();
    let inject = async {
        for _ in 0..scale() {
            for fault in faults {
                tokio::time::sleep(Duration::from_millis(400)).await;
                proxy.inject(*fault).await;
            }
        }
    };
    tokio::join!(ledger.post(&app, &key, 1500 * scale(), 50), inject);
    proxy.restore();
    let rx: Vec<&Receiver> = receivers.iter().collect();
    ledger
        .settle(scenario, &app, &rx, 4, Duration::from_secs(120))
        .await;
    assert!(
        proxy.connections() > before,
        "hookpost reconnected through the proxy"
    );
    assert_eq!(app.dead_letter_count().await, 0, "nothing dead-lettered");
    (app, proxy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_connections_cut_refused_and_stalled_under_load_lose_nothing() {
    let faults = [
        Fault::Cut,
        Fault::Down(Duration::from_secs(1)),
        Fault::Stall(Duration::from_millis(1500)),
        Fault::Cut,
    ];
    let (app, _proxy) = load_under_faults("broker faults", Through::Broker, &faults).await;
    for role in ["ingest", "worker", "scheduler"] {
        let series = format!("hookpost_amqp_reconnects_total{{role=\"{role}\"}}");
        assert!(
            app.metric(&series).await >= 1.0,
            "{role} reconnected to the broker by itself"
        );
    }
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_connections_cut_refused_stalled_and_slowed_under_load_lose_nothing() {
    let faults = [
        Fault::Cut,
        Fault::Down(Duration::from_secs(1)),
        Fault::Slow(Duration::from_millis(20), Duration::from_secs(1)),
        Fault::Stall(Duration::from_secs(1)),
        Fault::Cut,
    ];
    let (app, _proxy) = load_under_faults("redis faults", Through::Redis, &faults).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_write_while_redis_is_unreachable_answers_503_and_writes_nothing() {
    let proxy = FaultProxy::before(&redis_url()).await;
    let app = TestApp::spawn(TestOptions {
        redis_url: Some(proxy.redis_url()),
        ..TestOptions::default()
    })
    .await;
    let key = app.tenant("acme").await;
    app.hook(&key, "http://127.0.0.1:9/one", &["*"]).await;

    proxy.break_all();
    let r = app
        .http
        .post(app.url("/v1/hooks"))
        .bearer_auth(&key)
        .json(&json!({"url": "http://127.0.0.1:9/two", "events": ["*"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert!(body["error"]["message"].is_string(), "{body}");
    proxy.restore();

    wait_until("the API reads again", WAIT, || async {
        app.get(&key, "/v1/hooks").await.status() == 200
    })
    .await;
    let listed: Value = app.get(&key, "/v1/hooks").await.json().await.unwrap();
    let urls: Vec<&str> = listed["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["url"].as_str().unwrap())
        .collect();
    assert_eq!(
        urls,
        ["http://127.0.0.1:9/one"],
        "the refused write left nothing"
    );
    app.finish().await;
}
