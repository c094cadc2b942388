//! A slow hook's deliveries wait in its backlog, with one drain task for the hook however
//! many wait; the other hooks go on at full speed; every waiting delivery arrives once
//! the hook keeps up again, also when the worker draining it stops halfway.

use std::collections::HashMap;
use std::time::Duration;

use hookpost::Roles;
use hookpost_core::Config;
use hookpost_store::backlog::entry;
use hookpost_store::backlog::BacklogPush;
use hookpost_tests::receiver::Answer;
use hookpost_tests::{logs, wait_until, Receiver, TestApp, TestOptions};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(60);

/// Two slots per hook, a short wait for one, and requests that hang time out soon.
fn slow_worker(app: &TestApp) -> Config {
    Config {
        hook_concurrency: 2,
        hook_wait: Duration::from_millis(100),
        request_timeout: Duration::from_secs(2),
        ..app.config.clone()
    }
}

async fn backlog_of(app: &TestApp, key: &str, hook_id: &str) -> u64 {
    let hook: Value = app
        .get(key, &format!("/v1/hooks/{hook_id}"))
        .await
        .json()
        .await
        .unwrap();
    hook["backlog"].as_u64().expect("a hook shows its backlog")
}

/// The retry set's tasks that concern one hook.
async fn tasks_of(app: &TestApp, hook_id: &str) -> Vec<Value> {
    let entries = app.store.retry_entries().await.unwrap();
    entries
        .iter()
        .map(|(m, _)| serde_json::from_str::<Value>(m).unwrap())
        .filter(|t| t["hook_id"] == hook_id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_hooks_deliveries_wait_in_its_backlog_and_arrive_after_a_worker_dies_draining_it()
{
    let mut app = TestApp::spawn(TestOptions {
        roles: hookpost_tests::WORKERS_APART,
        shutdown_grace: Duration::from_millis(200),
        ..TestOptions::default()
    })
    .await;
    let first = app.start_more(Roles::WORKER, Some(slow_worker(&app))).await;
    let key = app.tenant("acme").await;
    let (slow, healthy) = (Receiver::start().await, Receiver::start().await);
    slow.answer_next(&[Answer::Hang, Answer::Hang]);
    let hook = app.hook(&key, &slow.url, &["*"]).await;
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    app.hook(&key, &healthy.url, &["*"]).await;
    for k in 0..40 {
        let event = json!({"type": "ticket.created", "data": {"k": k}});
        assert_eq!(app.post_event(&key, &event).await.status(), 202);
    }

    // The healthy hook gets everything while the slow one's two requests hang (each with
    // a safety-net retry once its message was acked); the rest wait in its backlog, with
    // one drain task for all of them and no task each.
    wait_until("the healthy hook has every event", WAIT, || async {
        healthy.delivered().len() >= 40
    })
    .await;
    wait_until("38 deliveries wait in the backlog", WAIT, || async {
        backlog_of(&app, &key, &hook_id).await == 38
    })
    .await;
    let tasks = tasks_of(&app, &hook_id).await;
    assert_eq!(
        tasks.iter().filter(|t| t["kind"] == "drain").count(),
        1,
        "{tasks:?}"
    );
    let first_attempts = tasks
        .iter()
        .filter(|t| t["kind"] == "attempt" && t["attempt"] == 1)
        .count();
    assert!(
        first_attempts <= 2,
        "at most the two hanging requests' safety nets, no task per waiting delivery: {tasks:?}"
    );

    // The hung requests time out and the hook answers again, slowly: the drain starts
    // when the hook's slow spell ends. Its worker stops halfway through.
    slow.set_latency(Duration::from_millis(150));
    wait_until("the drain is under way", WAIT, || async {
        slow.delivered().len() >= 12
    })
    .await;
    app.others.remove(first).stop().await;
    let at_stop = slow.delivered().len();
    assert!(at_stop < 40, "the drain was not finished yet ({at_stop})");
    app.start_more(Roles::WORKER, Some(slow_worker(&app))).await;

    wait_until("every delivery of the slow hook arrives", WAIT, || async {
        distinct(&slow) == 40
    })
    .await;
    let mut per_id: HashMap<String, usize> = HashMap::new();
    for r in slow.delivered() {
        *per_id.entry(r.delivery_id()).or_default() += 1;
    }
    let again: usize = per_id.values().map(|n| n - 1).sum();
    assert!(
        again <= 2,
        "only requests in flight when the worker stopped may arrive twice: {per_id:?}"
    );
    wait_until("the backlog is empty and disarmed", WAIT, || async {
        backlog_of(&app, &key, &hook_id).await == 0 && tasks_of(&app, &hook_id).await.is_empty()
    })
    .await;
    for id in per_id.keys() {
        app.wait_for_status("acme", id, "delivered").await;
    }
    app.finish().await;
}

/// A hook that pauses under a steady load (its receiver answers nothing for a moment,
/// as in a garbage collection) is slow for the pause, not for a whole slow spell (10 s):
/// once it answers a round of requests fast, its deliveries wait for a slot again rather
/// than go through its backlog, and those parked during the pause are drained at once.
/// Every event arrives once, within seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_that_paused_is_waited_for_again_once_it_answers_fast() {
    let mut app = TestApp::spawn(TestOptions {
        roles: hookpost_tests::WORKERS_APART,
        ..TestOptions::default()
    })
    .await;
    let worker = Config {
        hook_concurrency: 2,
        hook_wait: Duration::from_secs(1),
        request_timeout: Duration::from_secs(5),
        ..app.config.clone()
    };
    let worker = app.start_more(Roles::WORKER, Some(worker)).await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    let quick = Duration::from_millis(2);
    rx.set_latency(quick);
    let hook = app.hook(&key, &rx.url, &["*"]).await;
    let hook = hook["id"].as_str().expect("an id").to_owned();

    // Batches of 4 events (more than the hook's slots, so that some of each batch find
    // them taken), about 200 events a second for 4.5 s; the receiver pauses from 1 s to
    // 1.3 s (each request that arrives then takes 600 ms).
    let (pause, resume, end) = (1.0, 1.3, 4.5);
    let start = std::time::Instant::now();
    let mut posted_at = Vec::new();
    let (mut paused, mut resumed) = (false, false);
    while start.elapsed().as_secs_f64() < end {
        let t = start.elapsed().as_secs_f64();
        if t >= pause && !paused {
            rx.set_latency(Duration::from_millis(600));
            paused = true;
        }
        if t >= resume && !resumed {
            rx.set_latency(quick);
            resumed = true;
        }
        let k = posted_at.len();
        let batch: Vec<Value> = (k..k + 4)
            .map(|k| json!({"type": "ticket.created", "data": {"k": k}}))
            .collect();
        assert_eq!(app.post_batch(&key, &batch).await.status(), 202);
        posted_at.extend([std::time::Instant::now(); 4]);
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    let deferred = || {
        let page = app.others[worker].metrics.render();
        let series = "hookpost_deliveries_deferred_total{reason=\"hook_concurrency\"} ";
        let n = page
            .lines()
            .find_map(|l| l.strip_prefix(series)?.parse::<u64>().ok());
        n.unwrap_or(0)
    };

    // Events posted from 1.5 s after the pause ended arrive at once, though the spell
    // that began in the pause has 8 s to go.
    let late: Vec<usize> = (0..posted_at.len())
        .filter(|&k| posted_at[k].duration_since(start).as_secs_f64() >= resume + 1.5)
        .collect();
    assert!(late.len() > 100, "a steady stream: {}", late.len());
    let arrivals = || {
        let mut first = HashMap::new();
        for r in rx.delivered() {
            let k = r.json()["payload"]["k"].as_u64().expect("k") as usize;
            first.entry(k).or_insert(r.at);
        }
        first
    };
    wait_until("the late events arrive", Duration::from_secs(4), || async {
        let arrived = arrivals();
        late.iter().all(|k| arrived.contains_key(k))
    })
    .await;
    let arrived = arrivals();
    for &k in &late {
        let took = arrived[&k].duration_since(posted_at[k]);
        assert!(took < Duration::from_secs(2), "event {k} took {took:?}");
    }
    assert!(deferred() > 0, "the pause made the hook slow");

    // The spell would have lasted until about 11 s.
    let soon = Duration::from_secs(3);
    wait_until("every event arrives", soon, || async {
        distinct(&rx) == posted_at.len()
    })
    .await;
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(rx.delivered().len(), posted_at.len(), "each once");

    // The operator reads both turns in the log, once each.
    let logs = logs::captured();
    let said = |what: &str| {
        logs.lines()
            .filter(|l| l.contains(what) && l.contains(&hook))
            .count()
    };
    assert_eq!(said("a hook is slow"), 1, "{logs}");
    assert!(logs.contains("it answered nothing while a delivery waited"));
    assert_eq!(said("a slow hook answers fast again"), 1);
    app.finish().await;
}

fn distinct(rx: &Receiver) -> usize {
    let ids: std::collections::HashSet<String> =
        rx.delivered().iter().map(|r| r.delivery_id()).collect();
    ids.len()
}

/// An event whose only waiting deliveries are parked in their hooks' backlogs leaves its
/// payload to the log: Redis keeps none for it, and the drain sends each body, and the
/// producer's trace, from the event's row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parked_events_payload_and_trace_come_from_the_log_when_its_drain_comes() {
    let mut app = TestApp::spawn(TestOptions {
        roles: hookpost_tests::WORKERS_APART,
        ..TestOptions::default()
    })
    .await;
    app.start_more(Roles::WORKER, Some(slow_worker(&app))).await;
    let key = app.tenant("acme").await;
    let slow = Receiver::start().await;
    slow.answer_next(&[Answer::Hang, Answer::Hang]);
    let hook = (app.hook_with(&key, &slow.url, json!({"send_traceparent": true}))).await;
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let ids: Vec<String> = (0..10).map(|k| format!("parked_{k}")).collect();
    for (k, id) in ids.iter().enumerate() {
        let r = (app.http.post(app.url("/v1/events")).bearer_auth(&key))
            .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
            .json(&json!({"id": id, "type": "ticket.created", "data": {"k": k}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
    }
    wait_until("8 deliveries wait in the backlog", WAIT, || async {
        backlog_of(&app, &key, &hook_id).await == 8
    })
    .await;

    // The hung requests time out; the drain comes once the hook answers again.
    wait_until("every delivery arrives", WAIT, || async {
        distinct(&slow) == 10
    })
    .await;
    let mut sent: Vec<(i64, Option<String>)> = slow
        .delivered()
        .iter()
        .map(|r| {
            let k = r.json()["payload"]["k"].as_i64().unwrap();
            (k, r.header("traceparent").map(str::to_owned))
        })
        .collect();
    sent.sort();
    sent.dedup();
    assert_eq!(
        sent.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
        (0..10).collect::<Vec<_>>()
    );
    for (k, t) in &sent {
        let t = t.as_deref().unwrap_or_default();
        assert!(t.starts_with(&format!("00-{trace}-")), "event {k}: {t:?}");
    }
    // Only the two events whose attempts hung (each with a safety net) had their payload
    // kept in Redis; the eight parked ones never did.
    let mut kept = 0;
    for id in &ids {
        kept += usize::from(app.store.event("acme", id).await.unwrap().is_some());
    }
    assert_eq!(kept, 2);
    app.finish().await;
}

/// The arming protocol against the real Redis: a push into a backlog that is not armed is
/// refused unless the pusher scheduled a drain after reading the disarm count, and a
/// drain that ended in between (the count moved) refuses it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_is_armed_only_by_a_pusher_whose_drain_is_still_on_its_way() {
    let app = TestApp::spawn(TestOptions {
        roles: Roles::INGEST,
        ..TestOptions::default()
    })
    .await;
    let (store, t, h) = (&app.store, "acme", "hk_1");
    let first = entry("evt_1", 1, false);
    let push = |may_arm| {
        [BacklogPush {
            hook_id: h,
            entries: vec![&first],
            may_arm,
        }]
    };
    let pushed = |may_arm| async move { store.push_backlogs(t, &push(may_arm)).await.unwrap() };

    assert_eq!(store.backlog_disarms(t, &[h]).await.unwrap(), [0]);
    assert_eq!(pushed(None).await, [0], "not armed: refused");
    assert_eq!(
        store.backlog_len(t, h).await.unwrap(),
        0,
        "and nothing written"
    );
    assert!(
        pushed(Some(0)).await.is_empty(),
        "armed with the count read"
    );
    assert!(pushed(None).await.is_empty(), "armed: pushed");
    assert_eq!(store.backlog_len(t, h).await.unwrap(), 2);

    // A drain that finds entries keeps the backlog armed; one that empties it disarms it.
    let lock = |token| store.lock_backlog(t, h, token, Duration::from_secs(5));
    assert_eq!(lock("d1").await.unwrap(), None);
    assert!(lock("d2").await.unwrap().is_some(), "one drain at a time");
    assert_eq!(store.end_drain(t, h, "d1").await.unwrap(), 2);
    store
        .backlog_remove(t, h, &[first.clone(), first.clone()])
        .await
        .unwrap();
    assert_eq!(lock("d2").await.unwrap(), None);
    assert_eq!(store.end_drain(t, h, "d2").await.unwrap(), 0);
    assert_eq!(store.backlog_disarms(t, &[h]).await.unwrap(), [1]);

    assert_eq!(pushed(None).await, [0], "disarmed: refused");
    assert_eq!(
        pushed(Some(0)).await,
        [0],
        "a drain ended since the count was read"
    );
    assert!(pushed(Some(1)).await.is_empty());
    assert_eq!(
        store.backlog_head(t, h, 10).await.unwrap(),
        std::slice::from_ref(&first)
    );

    // Each hook's push stands alone: one refused holds back no other.
    let both = [
        BacklogPush {
            hook_id: h,
            entries: vec![&first, &first],
            may_arm: None,
        },
        BacklogPush {
            hook_id: "hk_2",
            entries: vec![&first],
            may_arm: None,
        },
    ];
    assert_eq!(store.push_backlogs(t, &both).await.unwrap(), [1]);
    assert_eq!(store.backlog_len(t, h).await.unwrap(), 3);
    assert_eq!(store.backlog_len(t, "hk_2").await.unwrap(), 0);
    app.finish().await;
}
