//! Redis's durability: what it keeps on disk is checked and reported; a Redis killed and
//! restarted from its AOF loses nothing; one back empty is rebuilt from PostgreSQL and
//! loses nothing either. Each test runs a `redis-server` of its own.

use hookpost_tests::redis_server::RedisServer;
use hookpost_tests::{TestApp, TestOptions};
use serde_json::Value;

/// `hookpost admin init` against `app`'s deployment: whether it succeeded, and what it
/// printed.
async fn admin_init(app: &TestApp) -> (bool, String) {
    let out = tokio::process::Command::new(crate::HOOKPOST)
        .args(["admin", "init"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "error")
        .envs(app.config.deployment_env())
        .output()
        .await
        .expect("hookpost runs");
    let said = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    (out.status.success(), said.into_owned())
}

async fn readyz_and_metrics(app: &TestApp) -> (Value, String) {
    let ready = app.readyz().await;
    let metrics = app.metrics().await;
    (ready, metrics)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_without_persistence_is_reported_and_one_with_aof_is_not() {
    // The shared Redis of dev and CI machines keeps nothing on disk.
    let volatile = TestApp::spawn(TestOptions::default()).await;
    let (ready, metrics) = readyz_and_metrics(&volatile).await;
    assert_eq!(ready["ready"], true, "a warning, not a refusal");
    assert!(ready["warnings"]["redis_persistence"]
        .as_str()
        .unwrap()
        .contains("appendonly yes"));
    assert!(
        metrics.contains(r#"hookpost_redis_persistence{mode="none"} 1"#),
        "{metrics}"
    );
    volatile.finish().await;

    let server = RedisServer::start(true);
    let durable = TestApp::spawn(TestOptions {
        redis_url: Some(server.url()),
        ..TestOptions::default()
    })
    .await;
    let (ready, metrics) = readyz_and_metrics(&durable).await;
    assert_eq!(ready["ready"], true);
    assert!(ready.get("warnings").is_none(), "{ready}");
    assert!(metrics.contains(r#"hookpost_redis_persistence{mode="aof"} 1"#));
    assert!(metrics.contains(r#"hookpost_redis_persistence{mode="none"} 0"#));
    durable.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_twice_under_load_and_restarted_from_its_aof_loses_nothing() {
    use hookpost_tests::invariants::Ledger;
    use hookpost_tests::receiver::Answer;
    use hookpost_tests::Receiver;
    use std::time::Duration;

    let mut server = RedisServer::start(true);
    let opts = TestOptions {
        redis_url: Some(server.url()),
        retry: "1s,1s,1s,1s,1s",
        ..TestOptions::default()
    };
    let app = TestApp::spawn(opts).await;
    let key = app.tenant("acme").await;
    let receivers = [
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
    ];
    // One hook fails its first 300 requests, so retries are pending when Redis dies.
    receivers[2].answer_next(&[Answer::Status(500); 300]);
    let mut hooks = Vec::new();
    for rx in &receivers {
        hooks.push(app.hook(&key, &rx.url, &["ticket.created"]).await);
    }
    let mut ledger = Ledger::new("acme", &hooks);
    ledger.post(&app, &key, 1500, 100).await;
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        server.kill_and_restart();
    }
    let rx: Vec<&Receiver> = receivers.iter().collect();
    ledger
        .settle("redis killed twice", &app, &rx, 6, Duration::from_secs(90))
        .await;
    // Everything at rest survived: the tenant's key works, its hooks are there.
    let hooks: Value = app.get(&key, "/v1/hooks").await.json().await.unwrap();
    assert_eq!(hooks["hooks"].as_array().unwrap().len(), 3);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_back_empty_is_rebuilt_from_postgres_by_the_scheduler_and_loses_nothing() {
    use hookpost_tests::{wait_until, Receiver};
    use std::time::Duration;
    const WAIT: Duration = Duration::from_secs(30);

    let mut server = RedisServer::start(true);
    let app = TestApp::spawn(TestOptions {
        redis_url: Some(server.url()),
        ..TestOptions::default()
    })
    .await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    app.hook(&key, &rx.url, &["*"]).await;
    assert_eq!(
        app.post_event(
            &key,
            &serde_json::json!({"type": "ticket.created", "data": {"n": 0}})
        )
        .await
        .status(),
        202
    );
    wait_until("the first delivery", WAIT, || async { rx.count() == 1 }).await;

    // Redis comes back with nothing while hookpost runs. Nothing is taken as "no
    // subscribers" or "unknown tenant": the scheduler puts back what PostgreSQL holds,
    // counts it, and everything goes on by itself.
    let _gone = server.kill_and_restart_empty();
    for n in 1..=20 {
        app.publish_raw(
            "ticket.created",
            format!(r#"{{"tenant":"acme","type":"ticket.created","data":{{"n":{n}}}}}"#).as_bytes(),
        )
        .await;
    }
    wait_until(
        "the 20 events published meanwhile delivered",
        WAIT,
        || async { rx.delivered().len() >= 21 },
    )
    .await;
    let got: std::collections::BTreeSet<i64> = rx.delivered_ns().into_iter().collect();
    assert_eq!(got, (0..=20).collect(), "every event, none lost");
    assert!(
        app.dead_letters().await.is_empty(),
        "nothing dead-lettered as an unknown tenant"
    );
    assert_eq!(app.metric("hookpost_redis_rebuilds_total").await, 1.0);
    wait_until("ready again", WAIT, || async {
        app.readyz().await["ready"] == true
    })
    .await;
    // The same API key signs in: keys came back from PostgreSQL.
    assert_eq!(app.get(&key, "/v1/hooks").await.status(), 200);
    let (ok, said) = admin_init(&app).await;
    assert!(ok && said.contains("nothing to do"), "{said}");
    app.finish().await;
}

/// A worker that knew a tenant's hooks before Redis came back empty: the rebuild counts
/// the hooks' versions from the start again, and every change made after it still
/// reaches the worker (a cache that took a higher version for a newer one would keep the
/// hooks of before, and a hook made since would never be delivered to).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_knew_the_hooks_before_redis_came_back_empty_sees_every_change_after_the_rebuild(
) {
    use hookpost_tests::{wait_until, Receiver};
    use std::time::Duration;
    const WAIT: Duration = Duration::from_secs(30);

    let server = RedisServer::start(true);
    let app = TestApp::spawn(TestOptions {
        redis_url: Some(server.url()),
        ..TestOptions::default()
    })
    .await;
    let key = app.tenant("acme").await;
    let (old_rx, new_rx) = (Receiver::start().await, Receiver::start().await);
    let hook = app.hook(&key, &old_rx.url, &["*"]).await;
    let hook_id = hook["id"].as_str().unwrap();
    // Three changes: the worker's cache holds the hooks at version 3.
    for name in ["a", "b"] {
        let (status, _) = app
            .patch_hook(&key, hook_id, serde_json::json!({"description": name}))
            .await;
        assert_eq!(status, 200);
    }
    let event = |n: i64| serde_json::json!({"type": "ticket.created", "data": {"n": n}});
    assert_eq!(app.post_event(&key, &event(1)).await.status(), 202);
    wait_until("the first event", WAIT, || async { old_rx.count() == 1 }).await;

    server.flush_all().await;
    wait_until("Redis rebuilt", WAIT, || async {
        app.metric("hookpost_redis_rebuilds_total").await == 1.0
            && app.readyz().await["ready"] == true
    })
    .await;
    // Version 1 after the rebuild (one hook put back), 2 with the new hook.
    app.hook(&key, &new_rx.url, &["*"]).await;
    assert_eq!(app.post_event(&key, &event(2)).await.status(), 202);
    wait_until("the new hook's delivery", WAIT, || async {
        new_rx.delivered_ns() == [2]
    })
    .await;
    wait_until("the old hook's", WAIT, || async {
        old_rx.delivered_ns() == [1, 2]
    })
    .await;
    app.finish().await;
}

/// A retry task already on its way to a worker when Redis came back empty: the worker
/// (one that never loaded the tenant's hooks) must not take "no such hook" from the empty
/// keyspace and cancel the delivery. It waits for the rebuild, then delivers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_taken_while_redis_is_back_empty_waits_for_the_rebuild_instead_of_being_cancelled()
{
    use hookpost::Roles;
    use hookpost_core::task::{AttemptTask, Task};
    use hookpost_tests::receiver::Answer;
    use hookpost_tests::{wait_until, Receiver};
    use std::time::Duration;
    const WAIT: Duration = Duration::from_secs(30);

    let server = RedisServer::start(true);
    // No scheduler: nothing drives the retry set or rebuilds Redis until the test says.
    let mut app = TestApp::spawn(TestOptions {
        redis_url: Some(server.url()),
        roles: Roles::INGEST,
        ..TestOptions::default()
    })
    .await;
    let first_worker = app.start_more(Roles::WORKER, None).await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    rx.answer_next(&[Answer::Status(500)]);
    let hook = app.hook(&key, &rx.url, &["*"]).await;
    let hook_id = hook["id"].as_str().unwrap();
    let event = serde_json::json!({"id": "e1", "type": "ticket.created", "data": {"n": 1}});
    assert_eq!(app.post_event(&key, &event).await.status(), 202);
    let delivery_id = hookpost_core::delivery::delivery_id("acme", "e1", hook_id);
    app.wait_for_status("acme", &delivery_id, "retrying").await;

    // Another worker, which has not seen the tenant, takes over; then Redis loses
    // everything, with the retry's task already in the deliveries queue.
    app.others.remove(first_worker).stop().await;
    let worker = app.start_more(Roles::WORKER, None).await;
    server.flush_all().await;
    let task = Task::Attempt(AttemptTask {
        tenant: "acme".into(),
        event_id: "e1".into(),
        hook_id: hook_id.into(),
        delivery_id: delivery_id.clone(),
        attempt: 2,
        resend: false,
    });
    let queue = app.topology().deliveries_queue;
    app.publish_to("", &queue, task.to_json().as_bytes()).await;

    // The worker takes the task, finds the keyspace missing, puts the task back and
    // stops consuming (not ready) until the rebuild.
    wait_until("the worker waiting for the keyspace", WAIT, || async {
        let readiness = &app.others[worker].readiness;
        readiness
            .problems()
            .iter()
            .any(|(check, _)| check == "worker.keyspace")
    })
    .await;
    let logged = app
        .db
        .delivery("acme", &delivery_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        logged.status.as_str(),
        "retrying",
        "not cancelled on an empty Redis"
    );
    assert_eq!(rx.count(), 1);

    // A scheduler (started as a deployment starts it, with no `admin init` before)
    // rebuilds Redis from PostgreSQL: the held task is delivered.
    let scheduler = hookpost::start(
        app.config.clone(),
        Roles::SCHEDULER,
        None,
        None,
        Default::default(),
    )
    .await
    .unwrap();
    app.wait_for_status("acme", &delivery_id, "delivered").await;
    wait_until("the retry's request", WAIT, || async {
        !rx.delivered().is_empty()
    })
    .await;
    scheduler.stop().await;
    app.finish().await;
}

/// A Redis back from a restart with its data but without its last writes (a snapshot
/// here; an append-only file fsynced once a second, or a replica behind, loses the same
/// way): its marker is there, so nothing looks empty, but what was written in the lost
/// moments is gone: a retry from the retry set, a key's revocation, a new key and a new
/// hook. Only PostgreSQL still has them. The scheduler sees the server's run id
/// changed and makes Redis whole again: the retry is made, the revoked key refused, and
/// the new key and hook work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_back_without_its_last_writes_gets_what_it_lost_back_from_postgres() {
    use hookpost_tests::receiver::Answer;
    use hookpost_tests::{wait_until, Receiver};
    use std::time::Duration;

    let mut server = RedisServer::start(false);
    let app = TestApp::spawn(TestOptions {
        redis_url: Some(server.url()),
        retry: "3s",
        ..TestOptions::default()
    })
    .await;
    let old_key = app.tenant("acme").await;
    let (rx, new_rx) = (Receiver::start().await, Receiver::start().await);
    rx.answer_next(&[Answer::Status(500)]);
    let hook = app.hook(&old_key, &rx.url, &["*"]).await;
    let hook_id = hook["id"].as_str().unwrap();
    // What the restart comes back with: the keyspace, the tenant, its first key and hook.
    server.save().await;

    app.revoke_first_key("acme").await;
    let key = app.new_key("acme").await;
    app.hook(&key, &new_rx.url, &["*"]).await;
    let limit = serde_json::json!({"per_second": 700, "burst": 70});
    let (status, _) = app
        .send(
            "PATCH",
            "/v1/tenants/acme",
            hookpost_tests::app::ADMIN_TOKEN,
            Some(serde_json::json!({ "intake": limit })),
        )
        .await;
    assert_eq!(status, 200, "the tenant's own intake limit");
    let event = |id: &str| serde_json::json!({"id": id, "type": "ticket.created", "data": {}});
    assert_eq!(app.post_event(&key, &event("e1")).await.status(), 202);
    let delivery_id = hookpost_core::delivery::delivery_id("acme", "e1", hook_id);
    app.wait_for_status("acme", &delivery_id, "retrying").await;
    wait_until(
        "the retry stored in Redis",
        Duration::from_secs(10),
        || async { app.metric("hookpost_retry_set_size").await >= 1.0 },
    )
    .await;
    assert_eq!((rx.count(), new_rx.count()), (1, 1));
    assert_eq!(app.metric("hookpost_redis_resyncs_total").await, 0.0);

    server.kill_and_restart();
    app.wait_for_status("acme", &delivery_id, "delivered").await;
    assert_eq!(rx.count(), 2, "the first attempt and the retry, once each");
    assert_eq!(app.metric("hookpost_redis_resyncs_total").await, 1.0);
    assert_eq!(app.metric("hookpost_redis_rebuilds_total").await, 0.0);
    assert_eq!(
        app.get(&old_key, "/v1/hooks").await.status(),
        401,
        "revoked"
    );
    let own = app.store.intake_limit("acme").await.unwrap();
    assert_eq!(
        serde_json::to_value(own).unwrap(),
        limit,
        "its intake limit"
    );
    assert_eq!(app.post_event(&key, &event("e2")).await.status(), 202);
    wait_until(
        "e2 delivered to both hooks",
        Duration::from_secs(30),
        || async { rx.count() == 3 && new_rx.count() == 2 },
    )
    .await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volatile_redis_shut_down_without_saving_is_warned_about_and_rebuilt_losing_no_event() {
    use hookpost_tests::{wait_until, Receiver};
    use std::time::Duration;
    const WAIT: Duration = Duration::from_secs(30);

    let mut server = RedisServer::start(false);
    let app = TestApp::spawn(TestOptions {
        redis_url: Some(server.url()),
        ..TestOptions::default()
    })
    .await;
    let (ready, metrics) = readyz_and_metrics(&app).await;
    assert!(
        ready["warnings"]["redis_persistence"].is_string(),
        "warned at start-up: {ready}"
    );
    assert!(metrics.contains(r#"hookpost_redis_persistence{mode="none"} 1"#));
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    app.hook(&key, &rx.url, &["*"]).await;
    for n in 0..200 {
        app.publish_raw(
            "ticket.created",
            format!(
                r#"{{"id":"v{n}","tenant":"acme","type":"ticket.created","data":{{"n":{n}}}}}"#
            )
            .as_bytes(),
        )
        .await;
        if n == 100 {
            server.shutdown_nosave_and_restart(); // mid-load: Redis is back, and empty
        }
    }
    // Nothing of Redis's survived, but PostgreSQL holds the tenant, its key and hook:
    // the scheduler puts them back and every held event is delivered, none taken as
    // naming an unknown tenant.
    wait_until("every event delivered", WAIT, || async {
        let delivered: std::collections::HashSet<String> = rx
            .delivered()
            .iter()
            .map(|r| r.json()["payload"]["n"].to_string())
            .collect();
        delivered.len() == 200
    })
    .await;
    assert!(app.dead_letters().await.is_empty(), "nothing dead-lettered");
    assert_eq!(app.metric("hookpost_redis_rebuilds_total").await, 1.0);
    eprintln!(
        "volatile Redis shut down mid-load: 200 events, 200 delivered ({} requests), 0 lost",
        rx.delivered().len()
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_alone_never_takes_an_empty_keyspace_as_the_truth_and_a_scheduler_rebuilds_it() {
    use std::time::Duration;
    let server = RedisServer::start(true);
    let config = TestApp::config(
        &TestOptions {
            redis_url: Some(server.url()),
            ..TestOptions::default()
        },
        &hookpost_tests::unique_prefix(),
    );
    // The database is migrated (`hookpost admin migrate`); Redis is the empty one.
    hookpost::migrate(&config).await.unwrap();
    let role = |roles| hookpost::start(config.clone(), roles, None, None, Default::default());
    let worker = role(hookpost::Roles::WORKER).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!worker.readiness.is_ready());
    assert!(
        worker
            .readiness
            .problems()
            .iter()
            .any(|(check, _)| check == "worker.keyspace"),
        "{:?}",
        worker.readiness.problems()
    );
    assert!(
        !worker.store.marker_present().await.unwrap(),
        "the worker did not write the marker"
    );
    // A scheduler starts: it sets the keyspace up (putting back what PostgreSQL holds),
    // and the worker becomes ready by itself.
    let scheduler = role(hookpost::Roles::SCHEDULER).await.unwrap();
    hookpost_tests::wait_until(
        "ready once a scheduler ran",
        Duration::from_secs(10),
        || async { worker.readiness.is_ready() },
    )
    .await;
    assert!(worker.store.marker_present().await.unwrap());
    scheduler.stop().await;
    worker.stop().await;
    hookpost_tests::app::cleanup_prefix(&config).await;
}

/// Readiness tells the truth: right after a Redis restart, `/readyz` says ready only
/// once a request would succeed, so that a load balancer never sends the first
/// requests to an ingest that answers them 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_redis_restart_ready_means_an_event_is_taken() {
    use std::time::{Duration, Instant};

    // Killed right after the hook is made: with `everysec` on a busy disk the restart
    // may come back without it (see `RedisServer::start_fsync_always`).
    let mut server = RedisServer::start_fsync_always();
    let app = TestApp::spawn(TestOptions {
        redis_url: Some(server.url()),
        ..TestOptions::default()
    })
    .await;
    let key = app.tenant("acme").await;
    let rx = hookpost_tests::Receiver::start().await;
    app.hook(&key, &rx.url, &["ticket.created"]).await;
    for round in 0..10 {
        server.kill_and_restart();
        let since = Instant::now();
        while app.readyz().await["ready"] != true {
            assert!(
                since.elapsed() < Duration::from_secs(30),
                "never ready again"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let event = serde_json::json!({
            "id": format!("restart-{round}"), "type": "ticket.created", "data": {"round": round}
        });
        let answer = app.post_event(&key, &event).await;
        let status = answer.status();
        assert_eq!(
            status,
            202,
            "round {round}: /readyz said ready, then {}",
            answer.text().await.unwrap()
        );
    }
    let all = || async { rx.count() >= 10 };
    hookpost_tests::wait_until("every event delivered", Duration::from_secs(30), all).await;
    app.finish().await;
}
