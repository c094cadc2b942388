//! PostgreSQL, the log's system of record, failing under load: nothing is lost, nothing
//! acked unwritten, and everything resumes by itself.

use std::time::Duration;

use hookpost_core::delivery::delivery_id;
use hookpost_core::ids::ordered_id;
use hookpost_core::outcome::{Attempt, OutcomeKind};
use hookpost_db::HookKey;
use hookpost_tests::invariants::{scale, three_hooks, Ledger};
use hookpost_tests::pg_server::PgServer;
use hookpost_tests::receiver::Answer;
use hookpost_tests::redis_server::RedisServer;
use hookpost_tests::{wait_until, Receiver, TestApp, TestOptions};
use serde_json::json;

/// hookpost with a tenant `acme`, its key, a receiver and a hook on it.
async fn app_with(opts: TestOptions) -> (TestApp, String, Receiver, String) {
    app_with_hook(opts, json!({})).await
}

/// [`app_with`], the hook with more `fields` (ordering, say).
async fn app_with_hook(
    opts: TestOptions,
    fields: serde_json::Value,
) -> (TestApp, String, Receiver, String) {
    let app = TestApp::spawn(opts).await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    let hook = app.hook_with(&key, &rx.url, fields).await;
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

/// A load for the invariant ledger: hookpost on `database_url`, and three hooks of tenant
/// `acme` (healthy, slow, failing every first attempt: see [`three_hooks`]).
struct Load {
    app: TestApp,
    key: String,
    receivers: [Receiver; 3],
    ledger: Ledger,
}

impl Load {
    async fn on(database_url: String) -> Load {
        let app = TestApp::spawn(TestOptions {
            database_url: Some(database_url),
            ..TestOptions::default()
        })
        .await;
        let key = app.tenant("acme").await;
        let (receivers, ledger) = three_hooks(&app, &key).await;
        Load {
            app,
            key,
            receivers,
            ledger,
        }
    }

    /// Posts `1,500 × scale` events in batches while `fault` breaks PostgreSQL, then
    /// holds the invariant: every accepted event reached every hook, or its failure
    /// after the whole schedule is in the log; and none reached one twice.
    async fn hold(&mut self, scenario: &str, fault: impl std::future::Future<Output = ()>) {
        let Load {
            app,
            key,
            receivers,
            ledger,
        } = self;
        tokio::join!(ledger.post(app, key, 1500 * scale(), 50), fault);
        let rx: Vec<&Receiver> = receivers.iter().collect();
        let tally = ledger
            .settle(scenario, app, &rx, 4, Duration::from_secs(120))
            .await;
        assert_eq!(app.dead_letter_count().await, 0, "nothing dead-lettered");
        // Workers hold what they cannot write: an outage shorter than their patience
        // costs a wait, not a second POST.
        assert_eq!(tally.duplicates, 0, "{scenario}: sent again");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_under_load_loses_nothing_and_the_log_catches_up() {
    let pg = PgServer::start();
    let mut load = Load::on(pg.url()).await;
    let (http, log, key) = (
        load.app.http.clone(),
        load.app.url("/v1/deliveries"),
        load.key.clone(),
    );
    let readiness = load.app.running.as_ref().unwrap().readiness.clone();
    let fault = async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        // Crashed mid-load: connections cut, no checkpoint. Intake goes on without it.
        pg.stop_immediate();
        let r = http.get(&log).bearer_auth(&key).send().await.unwrap();
        let status = r.status().as_u16();
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (503, Some("database_unavailable")),
            "{body}"
        );
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
    };
    load.hold("postgres stopped", fault).await;
    wait_until("ready again", Duration::from_secs(10), || async {
        readiness.is_ready()
    })
    .await;
    load.app.finish().await;
}

/// hookpost stops; Redis comes back with nothing (its data directory lost); `hookpost
/// all` starts again on it, puts back what PostgreSQL holds, counts it and goes on. The
/// new roles and their API's base URL.
async fn restart_after_redis_lost(
    app: &mut TestApp,
    redis: &mut RedisServer,
) -> (hookpost::Running, String) {
    app.running.take().unwrap().stop().await;
    redis.kill_and_restart_empty();
    let fresh = hookpost::store(&app.config).unwrap();
    assert!(!fresh.marker_present().await.unwrap(), "Redis is empty");
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
    (running, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_back_empty_is_rebuilt_from_postgres_with_keys_hooks_and_pending_retries() {
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
    // A payload the log keeps compressed: the retry's body comes from that.
    let note = "The customer reports that the printer on the third floor is on fire. ".repeat(8);
    let payload = json!({"n": 1, "note": note});
    let event = json!({"id": "evt_kept", "type": "ticket.created", "data": payload});
    assert_eq!(app.post_event(&key, &event).await.status(), 202);
    let id = delivery_id("acme", "evt_kept", hook["id"].as_str().unwrap());
    app.wait_for_status("acme", &id, "retrying").await;
    let pg = hookpost_tests::postgres(&app.config.database_url).await;
    let row = pg
        .query_one(
            "SELECT data IS NULL, octet_length(data_zstd) FROM events WHERE id = 'evt_kept'",
            &[],
        )
        .await
        .unwrap();
    let (text_null, frame): (bool, Option<i32>) = (row.get(0), row.get(1));
    assert!(text_null, "kept compressed, not as text");
    assert!(
        frame.unwrap() < 200,
        "{frame:?} bytes for {} of text",
        payload.to_string().len()
    );
    let logged = app.db.event("acme", "evt_kept").await.unwrap().unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&logged.data).unwrap(),
        payload
    );

    let (running, base) = restart_after_redis_lost(&mut app, &mut redis).await;
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
        payload,
        "the same body"
    );
    app.running = Some(running);
    app.finish().await;
}

/// A rebuild reads the deliveries waiting for an attempt a page at a time: more than a
/// page of them, `retrying` and `pending`, two of each event, all come back once, each
/// with its hot state and its event; what waits for no attempt, or for an event past
/// the retention, does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_puts_back_every_waiting_delivery_page_by_page() {
    let (app, _key, _rx, hook_id) = app_with(TestOptions::default()).await;
    let snapshot = app.store.hooks("acme").await.unwrap()[0].snapshot_json();
    // Hooks named only in the log: a second and a third one, and one whose deliveries
    // all parked.
    let [other, third, parked_hook] = [(); 3].map(|_| ordered_id("hook"));
    let key = |id: &str| HookKey::of_made(id).unwrap();
    let pg = hookpost_tests::postgres(&app.config.database_url).await;
    pg.batch_execute(
        "INSERT INTO events (tenant_id, id, event_at, type, data)
         SELECT 'acme', 'evt_page_' || i, now() - i * interval '1 ms', 'ticket.created',
                '{\"n\": ' || i || '}'
         FROM generate_series(1, 700) AS i",
    )
    .await
    .unwrap();
    // Each event's delivery to the hook (one in ten pending, the rest retrying) and to
    // a second one; then one delivered and one pending in a backlog (no time), which
    // wait for no attempt, and one whose event is gone (its day dropped).
    pg.execute(
        "INSERT INTO deliveries (tenant_id, id, event_at, event_id, hook_id, type, status,
                                 attempts, created_at, updated_at, next_at, hook)
         SELECT 'acme', md5(e.id || h)::uuid, e.event_at, e.id, h, e.type,
                CASE WHEN h = $1 AND right(e.id, 1) = '7' THEN 'pending' ELSE 'retrying' END::delivery_status,
                1, e.event_at, e.event_at, now() + interval '1 hour', $2
         FROM events e CROSS JOIN (VALUES ($1::uuid), ($3::uuid)) AS hooks(h)
         WHERE e.tenant_id = 'acme'
         UNION ALL
         SELECT 'acme', md5(e.id || s)::uuid, e.event_at, e.id, $4, e.type, s,
                1, e.event_at, e.event_at, NULL, $2
         FROM events e CROSS JOIN (VALUES ('delivered'::delivery_status), ('pending')) AS statuses(s)
         WHERE e.tenant_id = 'acme' AND e.id = 'evt_page_1'
         UNION ALL
         SELECT 'acme', md5('gone')::uuid, now(), 'evt_gone', $1, 'ticket.created',
                'retrying', 1, now(), now(), now() + interval '1 hour', $2",
        &[&key(&hook_id), &snapshot, &key(&other), &key(&third)],
    )
    .await
    .unwrap();

    // Every event parked a delivery to a third hook in its backlog (kept in the event's
    // row): all come back to that backlog, but the one whose attempt gave it a row of its
    // own.
    let attempted = delivery_id("acme", "evt_page_3", &parked_hook);
    pg.execute(
        "WITH s AS (INSERT INTO hook_snapshots VALUES ('acme', $3, 42, $1))
         UPDATE events SET parked = jsonb_build_array(jsonb_build_array(
             $2::text, 42, (extract(epoch FROM now()) * 1000)::int8 + 3600000))
         WHERE tenant_id = 'acme' AND id LIKE 'evt_page_%'",
        &[&snapshot, &parked_hook, &key(&parked_hook)],
    )
    .await
    .unwrap();
    pg.execute(
        "INSERT INTO deliveries (tenant_id, id, event_at, event_id, hook_id, type, status,
                                 attempts, created_at, updated_at, hook)
         SELECT 'acme', substr($1, 5)::uuid, event_at, id, $3, type, 'delivered', 1, now(), now(), $2
         FROM events WHERE tenant_id = 'acme' AND id = 'evt_page_3'",
        &[&attempted, &snapshot, &key(&parked_hook)],
    )
    .await
    .unwrap();

    assert_eq!(
        app.db.rebuild_retries(&app.store).await.unwrap(),
        1400 + 699
    );
    // The retries, and one drain for the backlog.
    assert_eq!(app.store.retry_stats().await.unwrap().size, 1400 + 1);
    let backlog = app.store.backlog_len("acme", &parked_hook).await.unwrap();
    assert_eq!(backlog, 699);
    let parked = delivery_id("acme", "evt_page_600", &parked_hook);
    let progress = app.store.delivery_progress("acme", &parked).await.unwrap();
    assert!(
        progress.is_none(),
        "a parked delivery's drain reads the log"
    );
    assert!(app
        .store
        .delivery_progress("acme", &attempted)
        .await
        .unwrap()
        .is_none());
    let pending: String = pg
        .query_one(
            "SELECT 'dlv_' || replace(id::text, '-', '') FROM deliveries
             WHERE event_id = 'evt_page_17' AND hook_id = $1",
            &[&key(&hook_id)],
        )
        .await
        .unwrap()
        .get(0);
    let (hook, attempts, status) = app
        .store
        .delivery_progress("acme", &pending)
        .await
        .unwrap()
        .expect("its hot state");
    assert_eq!((hook, attempts, status.as_str()), (snapshot, 1, "pending"));
    let event = app.store.event("acme", "evt_page_17").await.unwrap();
    assert_eq!(event.expect("its event").data, r#"{"n": 17}"#);
    app.finish().await;
}

/// A log write's record of delivery `id` of hook `hook_id`, of an event `ticket.created`.
fn record<'a>(
    id: &'a str,
    hook_id: &'a str,
    status: hookpost_store::log::Status,
    attempt: Option<&'a Attempt>,
) -> hookpost_store::log::Record<'a> {
    hookpost_store::log::Record {
        delivery_id: id,
        hook_id,
        kind: "ticket.created",
        hook_json: "{}",
        status,
        next_at: None,
        attempt,
        blocking: false,
        if_new: false,
        forget_soon: false,
    }
}

/// Event `id`'s row, on its first sight.
fn event_row(id: &str) -> hookpost_db::EventRow {
    hookpost_db::EventRow {
        id: id.into(),
        kind: "ticket.created".into(),
        occurred_at: None,
        traceparent: None,
        data: hookpost_db::Payload::pack(r#"{"n":1}"#),
        parked: Vec::new(),
    }
}

/// Attempt `n`, started at `at`, answered `status`; the second signed with a rotated-out
/// key as well.
fn answered(n: u32, at: i64, status: u16) -> Attempt {
    Attempt {
        attempt: n,
        at,
        duration_ms: 3,
        outcome: if status == 200 {
            OutcomeKind::Delivered
        } else {
            OutcomeKind::HttpStatus
        },
        status: Some(status),
        error: None,
        response: Some(format!("answer {at}")),
        retry_after_s: None,
        // Signed as hookpost signs (the log keeps the MACs, not the text): a second
        // attempt with a rotated-out key too, so that both forms are read back.
        signatures: Some({
            use hookpost_core::signing::{sign, SigningKey};
            let (key, old) = (
                SigningKey::from_secret("new"),
                SigningKey::from_secret("old"),
            );
            let previous = (n == 2).then_some(&old);
            sign(&key, previous, "dlv", at / 1000, at.to_string().as_bytes())
        }),
        uuid: None,
    }
}

/// 100 events `{prefix}_{n}` of tenant `acme`, each with its delivery id for `hook_id`.
fn hundred_events(prefix: &str, hook_id: &str) -> Vec<(String, String)> {
    (0..100)
        .map(|n| {
            let event = format!("{prefix}_{n}");
            (delivery_id("acme", &event, hook_id), event)
        })
        .collect()
}

/// Writes `batches` all at once, each on a task of its own, so that the writer takes
/// many into a group.
async fn write_at_once(db: &hookpost_db::Db, batches: Vec<std::sync::Arc<hookpost_db::Batch>>) {
    let mut writes = tokio::task::JoinSet::new();
    for b in batches {
        let db = db.clone();
        writes.spawn(async move { db.write(b).await });
    }
    while let Some(written) = writes.join_next().await {
        written.unwrap().unwrap();
    }
}

/// A group commit holds each event's rows in one statement, and a delivery written twice
/// in one group (its waiting record and then its outcome, say) in later ones of the same
/// transaction, in order: 100 deliveries each written `pending` and then `delivered`,
/// all at once, so that the writer takes many into a group, end up delivered with their
/// attempt, their event stored once; written again (an answer lost), nothing changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_written_twice_in_one_group_ends_as_its_last_write() {
    use hookpost_db::Batch;
    use hookpost_store::log::Status;
    let (app, _key, _rx, hook_id) = app_with(TestOptions::default()).await;
    let now = hookpost_core::now_ms();
    let attempt = answered(1, now, 200);
    let ids = hundred_events("evt_twice", &hook_id);
    let batches: Vec<std::sync::Arc<Batch>> = ids
        .iter()
        .flat_map(|(id, event)| {
            let record = |status, attempt| record(id, &hook_id, status, attempt);
            let row = event_row(event);
            [
                Batch::of(
                    "acme",
                    event,
                    now,
                    Some(row.clone()),
                    &[record(Status::Pending, None)],
                ),
                Batch::of(
                    "acme",
                    event,
                    now,
                    Some(row),
                    &[record(Status::Delivered, Some(&attempt))],
                ),
            ]
        })
        .map(std::sync::Arc::new)
        .collect();
    for _ in 0..2 {
        write_at_once(&app.db, batches.clone()).await;
        for (id, _) in &ids {
            let d = app.db.delivery("acme", id).await.unwrap().unwrap();
            assert_eq!((d.status, d.attempts.len()), (Status::Delivered, 1), "{id}");
        }
    }
    let pg = hookpost_tests::postgres(&app.config.database_url).await;
    let events: i64 = pg
        .query_one(
            "SELECT count(*) FROM events WHERE id LIKE 'evt_twice_%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(events, 100);
    app.finish().await;
}

/// A group of first sights goes as plain inserts. Written again (an answer lost, a
/// take-over) beside new ones in one group, that statement fails on the row it finds,
/// leaves nothing, and the group goes again by its keys: every event and delivery ends
/// stored once, with its first attempt, the new ones included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_sights_written_again_among_new_ones_are_stored_once() {
    use hookpost_db::Batch;
    use hookpost_store::log::Status;
    let (app, _key, _rx, hook_id) = app_with(TestOptions::default()).await;
    let now = hookpost_core::now_ms();
    let attempt = answered(1, now, 200);
    let ids = hundred_events("evt_again", &hook_id);
    let batch = |(id, event): &(String, String)| {
        let records = [record(id, &hook_id, Status::Delivered, Some(&attempt))];
        std::sync::Arc::new(Batch::of(
            "acme",
            event,
            now,
            Some(event_row(event)),
            &records,
        ))
    };
    let write_all = |batches| write_at_once(&app.db, batches);
    let again = "hookpost_db_groups_again_total";
    // Every other one first, as plain inserts; then all of them at once, so that the
    // writer's groups hold old and new.
    write_all(ids.iter().step_by(2).map(batch).collect()).await;
    assert_eq!(app.metric(again).await, 0.0, "new rows only");
    write_all(ids.iter().map(batch).collect()).await;
    assert!(
        app.metric(again).await > 0.0,
        "no group went again by its keys"
    );
    for (id, _) in &ids {
        let d = app.db.delivery("acme", id).await.unwrap().unwrap();
        assert_eq!((d.status, d.attempts.len()), (Status::Delivered, 1), "{id}");
        assert_eq!(d.attempts[0].at, now, "{id}");
    }
    let pg = hookpost_tests::postgres(&app.config.database_url).await;
    let count = |sql: &'static str| {
        let pg = &pg;
        async move { pg.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    assert_eq!(
        count("SELECT count(*) FROM events WHERE id LIKE 'evt_again_%'").await,
        100
    );
    assert_eq!(
        count("SELECT count(*) FROM deliveries WHERE event_id LIKE 'evt_again_%'").await,
        100
    );
    assert_eq!(
        count("SELECT count(*) FROM attempts").await,
        0,
        "each attempt in its row"
    );
    app.finish().await;
}

/// A delivery read with its event's receive time (which a retry and a backlog's drain
/// know) is read from that day's partition only: the same row as a read by id alone,
/// and none for another time, even one within the same day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_read_with_its_events_receive_time_is_its_row_and_no_other() {
    use hookpost_db::Batch;
    use hookpost_store::log::Status;
    let (app, _key, _rx, hook_id) = app_with(TestOptions::default()).await;
    let (event, now) = ("evt_read_at", hookpost_core::now_ms());
    let id = delivery_id("acme", event, &hook_id);
    let first = answered(1, now + 1, 500);
    let record = record(&id, &hook_id, Status::Retrying, Some(&first));
    let batch = Batch::of("acme", event, now, Some(event_row(event)), &[record]);
    app.db.write(std::sync::Arc::new(batch)).await.unwrap();
    let state = |at: Option<i64>| {
        let (db, id) = (app.db.clone(), id.clone());
        async move {
            let d = db.delivery_state("acme", &id, at).await.unwrap();
            d.map(|d| (d.status, d.attempt_count, d.hook_json))
        }
    };
    let by_id = state(None).await;
    assert_eq!(by_id, Some((Status::Retrying, 1, "{}".to_owned())));
    assert_eq!(state(Some(now)).await, by_id);
    assert_eq!(state(Some(now + 1)).await, None);
    assert_eq!(state(Some(now - 86_400_000)).await, None);
    app.finish().await;
}

/// Deliveries parked as their event arrives are kept in the event's row, not as rows of
/// their own: the event's deliveries and a take-over's look show each `pending`, due at
/// its drain, with its hook snapshot, until its first attempt's row stands for it. Each
/// sight of the event adds what it parked; a hook parked twice shows once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parked_deliveries_read_pending_from_their_events_row_until_attempted() {
    use hookpost_db::{Batch, Parked};
    use hookpost_store::log::Status;
    use std::sync::Arc;
    let (app, _key, _rx, _hook_id) = app_with(TestOptions::default()).await;
    // Hooks named only in the log, whose ids sort in this order.
    let ids = [(); 3].map(|_| ordered_id("hook"));
    let [hook_a, hook_b, hook_c] = [0, 1, 2].map(|i| ids[i].as_str());
    let now = hookpost_core::now_ms();
    let due = now + 60_000;
    let snapshot = |h: &str| format!(r#"{{"id":"{h}","url":"http://127.0.0.1:9/"}}"#);
    let parking = |hooks: &[&str]| {
        let mut row = event_row("evt_parked");
        row.parked = (hooks.iter())
            .map(|h| Parked::new(h, &snapshot(h), due))
            .collect();
        Arc::new(Batch::of("acme", "evt_parked", now, Some(row), &[]))
    };
    for hooks in [&[hook_a, hook_b][..], &[hook_c], &[hook_b]] {
        app.db.write(parking(hooks)).await.unwrap();
    }
    let shown = |ds: Vec<hookpost_store::log::Delivery>| {
        let mut seen: Vec<_> = (ds.into_iter())
            .map(|d| {
                assert_eq!(d.id, delivery_id("acme", "evt_parked", &d.hook_id));
                let waits = d.next_attempt_at == Some(due) && d.hook_json == snapshot(&d.hook_id);
                (d.hook_id, d.status, d.attempt_count, waits)
            })
            .collect();
        seen.sort_by(|x, y| x.0.cmp(&y.0));
        seen
    };
    let pending = |h: &str| (h.to_owned(), Status::Pending, 0, true);
    let all_pending = vec![pending(hook_a), pending(hook_b), pending(hook_c)];
    let deliveries = app.db.event_deliveries("acme", "evt_parked").await.unwrap();
    assert_eq!(shown(deliveries), all_pending);
    let states = app.db.event_delivery_states("acme", "evt_parked").await;
    assert_eq!(shown(states.unwrap()), all_pending);

    // hook_a's first attempt writes its row, which stands for it from then on.
    let attempt = answered(1, now, 200);
    let id = delivery_id("acme", "evt_parked", hook_a);
    let delivered = record(&id, hook_a, Status::Delivered, Some(&attempt));
    let outcome = Batch::of("acme", "evt_parked", now, None, &[delivered]);
    app.db.write(Arc::new(outcome)).await.unwrap();
    let deliveries = app.db.event_deliveries("acme", "evt_parked").await.unwrap();
    let attempts: Vec<usize> = deliveries.iter().map(|d| d.attempts.len()).collect();
    assert_eq!(
        shown(deliveries),
        [
            (hook_a.to_owned(), Status::Delivered, 1, false),
            pending(hook_b),
            pending(hook_c)
        ]
    );
    assert_eq!(attempts.iter().sum::<usize>(), 1);
    app.finish().await;
}

/// A rebuild puts parked deliveries back where their first sight put them: an entry each
/// in its hook's backlog, in the order their events came, the backlog armed with one
/// drain, and each event marked done with no payload in Redis (the drain reads it from
/// the log). A parked delivery attempted since (a row of its own) is not parked again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_gives_parked_deliveries_back_to_their_backlogs_without_payloads() {
    use hookpost_db::{Batch, Parked};
    use hookpost_store::log::Status;
    use std::sync::Arc;
    let (app, _key, _rx, _hook_id) = app_with(TestOptions::default()).await;
    // Hooks named only in the log, whose ids sort in this order.
    let ids = [(); 2].map(|_| ordered_id("hook"));
    let [hook_a, hook_b] = [0, 1].map(|i| ids[i].as_str());
    let now = hookpost_core::now_ms();
    // Due in an hour: no drain comes during the test.
    let due = now + 3_600_000;
    let events: Vec<String> = (0..5).map(|n| format!("evt_parked_{n}")).collect();
    for (n, e) in events.iter().enumerate() {
        let hooks: &[&str] = match n % 2 {
            0 => &[hook_a, hook_b],
            _ => &[hook_a],
        };
        let mut row = event_row(e);
        row.parked = (hooks.iter())
            .map(|h| Parked::new(h, &format!(r#"{{"id":"{h}"}}"#), due))
            .collect();
        let batch = Batch::of("acme", e, now + n as i64, Some(row), &[]);
        app.db.write(Arc::new(batch)).await.unwrap();
    }
    let attempted = delivery_id("acme", &events[2], hook_a);
    let attempt = answered(1, now, 200);
    let delivered = record(&attempted, hook_a, Status::Delivered, Some(&attempt));
    let batch = Batch::of("acme", &events[2], now + 2, None, &[delivered]);
    app.db.write(Arc::new(batch)).await.unwrap();

    let drains = app.store.retry_stats().await.unwrap().size;
    assert_eq!(app.db.rebuild_retries(&app.store).await.unwrap(), 7);
    let mut redis = app.store.conn();
    let keys = app.store.keys();
    for (hook, expected) in [(hook_a, &[0, 1, 3, 4][..]), (hook_b, &[0, 2, 4])] {
        let backlog: Vec<String> = redis::cmd("LRANGE")
            .arg(keys.backlog("acme", hook))
            .arg(0)
            .arg(-1)
            .query_async(&mut redis)
            .await
            .unwrap();
        let expected: Vec<String> = (expected.iter())
            .map(|n| format!("evt_parked_{n} 1"))
            .collect();
        assert_eq!(backlog, expected, "{hook}'s backlog, in the events' order");
    }
    let scheduled = app.store.retry_stats().await.unwrap().size - drains;
    assert_eq!(scheduled, 2, "one drain a hook, no retry a delivery");
    for e in &events {
        let state: Option<String> = redis::cmd("GET")
            .arg(keys.event_state("acme", e))
            .query_async(&mut redis)
            .await
            .unwrap();
        assert_eq!(state.as_deref(), Some("done"), "{e} is marked done");
        let kept = app.store.event("acme", e).await.unwrap();
        assert!(kept.is_none(), "{e}'s payload stays in the log");
    }
    app.finish().await;
}

/// A delivery's first attempt is kept in its own row, every other attempt in
/// `attempts`, and the log reads them together: the first attempt written twice (an
/// answer lost) is one, an attempt 1 made again after a requeue (another start) and
/// the retry after it are rows of their own, and an event's deliveries read the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_attempt_lives_in_its_delivery_row_and_the_later_ones_in_attempts() {
    use hookpost_db::Batch;
    use hookpost_store::log::Status;
    let (app, _key, _rx, hook_id) = app_with(TestOptions::default()).await;
    let (event, now) = ("evt_first_inline", hookpost_core::now_ms());
    let id = delivery_id("acme", event, &hook_id);
    let write = |status: Status, a: Attempt| {
        let (db, id, hook_id) = (app.db.clone(), id.clone(), hook_id.clone());
        async move {
            let record = record(&id, &hook_id, status, Some(&a));
            let row = event_row(event);
            let batch = Batch::of("acme", event, now, Some(row), &[record]);
            db.write(std::sync::Arc::new(batch)).await.unwrap();
        }
    };
    let pg = hookpost_tests::postgres(&app.config.database_url).await;
    let rows = || async {
        pg.query_one(
            "SELECT count(*) FROM attempts WHERE tenant_id = 'acme' AND delivery_id = substr($1, 5)::uuid",
            &[&id],
        )
        .await
        .unwrap()
        .get::<_, i64>(0)
    };
    let read = || async {
        let d = app.db.delivery("acme", &id).await.unwrap().unwrap();
        let of_event = app.db.event_deliveries("acme", event).await.unwrap();
        assert_eq!(of_event.len(), 1);
        assert_eq!(
            of_event[0].attempts, d.attempts,
            "an event's deliveries read the same"
        );
        (d.status, d.attempts)
    };
    let first = answered(1, now + 1, 500);
    write(Status::Retrying, first.clone()).await;
    assert_eq!(
        rows().await,
        0,
        "the first attempt is in the delivery's row"
    );
    assert_eq!(read().await, (Status::Retrying, vec![first.clone()]));
    write(Status::Retrying, first.clone()).await;
    assert_eq!(rows().await, 0, "written again, it is still one");
    assert_eq!(read().await, (Status::Retrying, vec![first.clone()]));
    let again = answered(1, now + 2, 500);
    write(Status::Retrying, again.clone()).await;
    assert_eq!(rows().await, 1, "attempt 1 made again is a row of its own");
    let second = answered(2, now + 3, 200);
    write(Status::Delivered, second.clone()).await;
    write(Status::Delivered, second.clone()).await;
    assert_eq!(rows().await, 2);
    assert_eq!(
        read().await,
        (
            Status::Delivered,
            vec![first.clone(), again.clone(), second.clone()]
        )
    );
    // A row written before the headers had columns of their own keeps its object.
    let legacy = answered(3, now + 4, 200);
    pg.execute(
        "INSERT INTO attempts (tenant_id, delivery_id, event_at, attempt, at, duration_ms,
           outcome, status, response, signatures)
         SELECT 'acme', id, event_at, 3, 'epoch'::timestamptz + $2::int8 * interval '1 ms',
                3, 'delivered', 200, $3, $4
         FROM deliveries WHERE tenant_id = 'acme' AND id = substr($1, 5)::uuid",
        &[
            &id,
            &legacy.at,
            &legacy.response,
            &serde_json::to_value(&legacy.signatures).unwrap(),
        ],
    )
    .await
    .unwrap();
    assert_eq!(
        read().await,
        (Status::Delivered, vec![first, again, second, legacy])
    );
    app.finish().await;
}

/// A delivery's row names the body's hook object by digest: `hook_snapshots` keeps one
/// row a version of a hook however many deliveries it made, a hook changed since gets a
/// second, and each delivery still reads the one it went out with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_snapshot_is_kept_once_a_version_and_each_delivery_reads_its_own() {
    let (app, key, rx, hook_id) = app_with(TestOptions::default()).await;
    let send = |n: usize| {
        let (app, key, hook_id) = (&app, &key, &hook_id);
        async move {
            let event =
                json!({"id": format!("evt_snap_{n}"), "type": "ticket.created", "data": {"n": n}});
            assert_eq!(app.post_event(key, &event).await.status(), 202);
            let id = delivery_id("acme", &format!("evt_snap_{n}"), hook_id);
            app.wait_for_status("acme", &id, "delivered").await;
            id
        }
    };
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(send(n).await);
    }
    app.widen_hook_events(&key, &hook_id).await;
    ids.push(send(3).await);

    let pg = hookpost_tests::postgres(&app.config.database_url).await;
    let row = pg
        .query_one(
            "SELECT count(*) FILTER (WHERE hook IS NULL AND hook_digest IS NOT NULL), count(*)
             FROM deliveries WHERE tenant_id = 'acme'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (row.get::<_, i64>(0), row.get::<_, i64>(1)),
        (4, 4),
        "rows name it"
    );
    let kept: Vec<String> = pg
        .query(
            "SELECT hook FROM hook_snapshots WHERE tenant_id = 'acme' AND hook_id = $1",
            &[&HookKey::of_made(&hook_id).unwrap()],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(kept.len(), 2, "one a version: {kept:?}");
    // Each delivery reads the object its request carried, before and after the change.
    let sent: Vec<serde_json::Value> = rx
        .received()
        .iter()
        .map(|r| r.json()["hook"].clone())
        .collect();
    assert_eq!(sent.len(), 4);
    assert_ne!(sent[0], sent[3], "the change shows in the body");
    for (id, sent) in ids.iter().zip(&sent) {
        let d = app.db.delivery("acme", id).await.unwrap().unwrap();
        let logged: serde_json::Value = serde_json::from_str(&d.hook_json).unwrap();
        assert_eq!(&logged, sent, "{id}");
    }
    app.finish().await;
}

/// A rebuild reads an ordered hook's waiting deliveries a page at a time, in one sorted
/// pass: more than two pages of them on three keys all come back on their keys in
/// order; a key's attempted delivery first though its event is the newest, a key whose
/// first delivery failed blocked, and a key waiting for its turn sent for once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_puts_back_each_ordering_key_in_order_page_by_page() {
    // Ingest alone: no scheduler takes the turn task, no worker moves a key on.
    let (app, _key, _rx, hook_id) = app_with_hook(
        TestOptions {
            roles: hookpost::Roles::INGEST,
            ..TestOptions::default()
        },
        json!({"ordering": "fifo", "ordering_key": "$.ticket", "ordering_on_failure": "block"}),
    )
    .await;
    let snapshot = app.store.hooks("acme").await.unwrap()[0].snapshot_json();
    let pg = hookpost_tests::postgres(&app.config.database_url).await;
    // Event n on key `k{n % 3}`, received n ms after the first; each waits for its turn,
    // but on k0 the newest was attempted (it holds the key, retrying) and on k1 the
    // oldest failed and blocks it.
    pg.execute(
        "WITH e AS (
           INSERT INTO events (tenant_id, id, event_at, type, data)
           SELECT 'acme', 'evt_ord_' || n, now() - interval '1 hour' + n * interval '1 ms',
                  'ticket.created', json_build_object('n', n, 'ticket', 'k' || n % 3)::text
           FROM generate_series(0, 1199) AS n
           RETURNING id, event_at, (data::json->>'n')::int AS n)
         INSERT INTO deliveries (tenant_id, id, event_at, event_id, hook_id, type, status,
                                 attempts, created_at, updated_at, next_at, hook, blocking)
         SELECT 'acme', md5(e.id)::uuid, e.event_at, e.id, $1, 'ticket.created',
                CASE n WHEN 1197 THEN 'retrying' WHEN 1 THEN 'failed' ELSE 'pending' END::delivery_status,
                CASE WHEN n IN (1197, 1) THEN 1 ELSE 0 END, e.event_at, e.event_at,
                CASE n WHEN 1197 THEN now() + interval '1 hour' END, $2, n = 1
         FROM e",
        &[&HookKey::of_made(&hook_id).unwrap(), &snapshot],
    )
    .await
    .unwrap();

    assert_eq!(app.db.rebuild_ordering(&app.store).await.unwrap(), 1200);
    let ordering = hookpost_core::ordering::Ordering::of(Some("fifo"), Some("$.ticket"), None)
        .unwrap()
        .unwrap();
    let rows = pg
        .query(
            "SELECT 'dlv_' || replace(d.id::text, '-', '') || ':' || d.event_id, (e.data::json->>'n')::int
             FROM deliveries d JOIN events e ON e.id = d.event_id
             WHERE d.hook_id = $1 ORDER BY 2",
            &[&HookKey::of_made(&hook_id).unwrap()],
        )
        .await
        .unwrap();
    let member = |n: i32| -> String { rows[n as usize].get(0) };
    let mut redis = app.store.conn();
    for k in 0..3 {
        let key_id = ordering.key_id(&json!({"ticket": format!("k{k}")}));
        let queue: Vec<String> = redis::cmd("ZRANGE")
            .arg(app.store.keys().order_queue("acme", &hook_id, &key_id))
            .arg(0)
            .arg(-1)
            .query_async(&mut redis)
            .await
            .unwrap();
        let mut expected: Vec<String> = (0..1200).filter(|n| n % 3 == k).map(member).collect();
        if k == 0 {
            let attempted = expected.pop().unwrap();
            expected.insert(0, attempted);
        }
        assert_eq!(queue, expected, "key k{k} in order");
        let (cur, blocked): (Option<String>, Option<String>) = redis::cmd("HMGET")
            .arg(app.store.keys().order_state("acme", &hook_id, &key_id))
            .arg("cur")
            .arg("blocked")
            .query_async(&mut redis)
            .await
            .unwrap();
        let held = (k == 1).then(|| (member(1), "1".to_owned()));
        assert_eq!(cur.zip(blocked), held, "key k{k}: only k1 is held, blocked");
    }
    // One turn task: k2's first delivery is sent for (k0's has its retry).
    assert_eq!(app.store.retry_stats().await.unwrap().size, 1);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_back_empty_gives_a_slow_hooks_backlog_back_from_postgres() {
    let mut redis = RedisServer::start(true);
    let mut app = TestApp::spawn(TestOptions {
        redis_url: Some(redis.url()),
        // Two slots a hook and a short wait for one: a hanging hook's deliveries go to
        // its backlog.
        configure: |c| {
            c.hook_concurrency = 2;
            c.hook_wait = Duration::from_millis(100);
            c.request_timeout = Duration::from_secs(2);
        },
        shutdown_grace: Duration::from_millis(200),
        ..TestOptions::default()
    })
    .await;
    let key = app.tenant("acme").await;
    let slow = Receiver::start().await;
    slow.answer_next(&[Answer::Hang, Answer::Hang]);
    let hook = app.hook(&key, &slow.url, &["*"]).await;
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    for k in 0..10 {
        let event = json!({"id": format!("evt_{k}"), "type": "ticket.created", "data": {"k": k}});
        assert_eq!(app.post_event(&key, &event).await.status(), 202);
    }
    // Two requests hang; the eight other deliveries wait in the backlog, which only
    // Redis holds, and the log shows every delivery pending: the two in flight by their
    // rows, the backlog's by their events' rows (parked, no row of their own yet).
    wait_until(
        "8 deliveries wait in the backlog",
        Duration::from_secs(30),
        || async {
            let hook: serde_json::Value = app
                .get(&key, &format!("/v1/hooks/{hook_id}"))
                .await
                .json()
                .await
                .unwrap();
            hook["backlog"] == 8
        },
    )
    .await;
    for k in 0..10 {
        let id = delivery_id("acme", &format!("evt_{k}"), &hook_id);
        wait_until(
            "the event's delivery shows pending",
            Duration::from_secs(10),
            || async {
                let (status, event) = app
                    .send("GET", &format!("/v1/events/evt_{k}"), &key, None)
                    .await;
                // Logged with its first write: a hanging attempt's when its message lets go.
                if status == 404 {
                    return false;
                }
                assert_eq!(status, 200, "{event}");
                let deliveries = event["deliveries"].as_array().unwrap();
                assert!(deliveries.len() <= 1, "{event}");
                deliveries
                    .first()
                    .is_some_and(|d| d["id"] == id.as_str() && d["status"] == "pending")
            },
        )
        .await;
    }
    let pg = hookpost_tests::postgres(&app.config.database_url).await;
    let parked: i64 = pg
        .query_one(
            "SELECT count(*) FROM events e, jsonb_array_elements(e.parked) p
             WHERE e.tenant_id = 'acme' AND p->>0 = $1",
            &[&hook_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        parked, 8,
        "the backlog's deliveries are kept in their events' rows"
    );

    let (running, _) = restart_after_redis_lost(&mut app, &mut redis).await;
    // The hook answers now: every delivery arrives, the backlog's from their events' rows.
    wait_until(
        "every delivery arrives",
        Duration::from_secs(60),
        || async {
            let got: std::collections::HashSet<String> =
                slow.delivered().iter().map(|r| r.delivery_id()).collect();
            got.len() == 10
        },
    )
    .await;
    for k in 0..10 {
        let id = delivery_id("acme", &format!("evt_{k}"), &hook_id);
        app.wait_for_status("acme", &id, "delivered").await;
    }
    app.running = Some(running);
    app.finish().await;
}

/// Redis loses its data while a worker's log write waits (the test holds a lock that
/// stops PostgreSQL's writes to the deliveries), after the first attempt failed: the
/// rebuild reads a log without the delivery, so its retry must be stored after the log
/// write, in the rebuilt Redis. Stored before it (as it once was), the retry went with
/// the flush: the log said `retrying` and nothing would ever retry it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_emptied_while_a_log_write_waits_loses_no_retry() {
    let redis = RedisServer::start(true);
    let (app, key, rx, hook_id) = app_with(TestOptions {
        redis_url: Some(redis.url()),
        retry: "3s",
        ..TestOptions::default()
    })
    .await;
    rx.answer_next(&[Answer::Status(500)]);
    // The log's days are made: no partition upkeep waits behind the test's lock (and the
    // rebuild's reads behind it).
    hookpost_db::partitions::upkeep(&app.db).await.unwrap();
    let pg = hookpost_tests::postgres(&app.config.database_url).await;
    // Reads go on (the rebuild's); inserts and updates wait.
    pg.batch_execute("BEGIN; LOCK TABLE deliveries IN SHARE MODE")
        .await
        .unwrap();

    let event = json!({"id": "evt_0", "type": "ticket.created", "data": {"n": 0}});
    assert_eq!(app.post_event(&key, &event).await.status(), 202);
    let waiting_writes = || async {
        let row = pg
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .await
            .unwrap();
        row.get::<_, i64>(0) > 0
    };
    wait_until(
        "the worker's log write waits for the lock",
        Duration::from_secs(30),
        waiting_writes,
    )
    .await;
    assert_eq!(rx.count(), 1, "the first attempt was made");

    redis.flush_all().await;
    wait_until("Redis rebuilt", Duration::from_secs(30), || async {
        app.metric("hookpost_redis_rebuilds_total").await == 1.0
    })
    .await;
    pg.batch_execute("COMMIT").await.unwrap();

    let id = delivery_id("acme", "evt_0", &hook_id);
    wait_until("the retry", Duration::from_secs(30), || async {
        rx.delivered().len() == 1
    })
    .await;
    app.wait_for_status("acme", &id, "delivered").await;
    let d = app.db.delivery("acme", &id).await.unwrap().unwrap();
    assert_eq!(d.attempts.len(), 2, "{:?}", d.attempts);
    app.finish().await;
}

/// Redis emptied (FLUSHALL) while hookpost runs, with an ordered key held by a delivery
/// waiting for its retry and others waiting behind it, and another ordered hook's key
/// blocked by a failed delivery: the scheduler rebuilds from PostgreSQL and counts it;
/// every key keeps its order, the blocked one stays blocked until skipped, and nothing
/// is lost, events accepted after the rebuild included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_flushed_under_load_keeps_each_ordering_key_in_order_and_a_blocked_key_blocked() {
    let redis = RedisServer::start(false);
    let app = TestApp::spawn(TestOptions {
        redis_url: Some(redis.url()),
        retry: "",
        ..TestOptions::default()
    })
    .await;
    let key = app.tenant("acme").await;
    let (retries, blocks) = (Receiver::start().await, Receiver::start().await);
    // The first request to each fails: `retries` tries again in 8 s (holding its key
    // meanwhile); `blocks` has no retry left, and blocks its key.
    retries.answer_next(&[Answer::Status(500)]);
    blocks.answer_next(&[Answer::Status(500)]);
    let ordered = |more: serde_json::Value| {
        let mut hook = json!({"ordering": "fifo", "ordering_key": "$.ticket"});
        hook.as_object_mut()
            .unwrap()
            .extend(more.as_object().unwrap().clone());
        hook
    };
    let held = app
        .hook_with(
            &key,
            &retries.url,
            ordered(json!({"retry_schedule": ["8s"]})),
        )
        .await;
    let blocked = app
        .hook_with(
            &key,
            &blocks.url,
            ordered(json!({"ordering_on_failure": "block"})),
        )
        .await;
    let post = |n: i64| {
        let (app, key) = (&app, &key);
        async move {
            let event = json!({"id": format!("evt_{n}"), "type": "ticket.created", "data": {"n": n, "ticket": "t1"}});
            // 503 while the keyspace is being rebuilt: a producer sends again.
            wait_until("the event accepted", Duration::from_secs(30), || async {
                app.post_event(key, &event).await.status() == 202
            })
            .await;
        }
    };
    let first =
        |hook: &serde_json::Value| delivery_id("acme", "evt_0", hook["id"].as_str().unwrap());
    // One at a time, each in the log before the next is sent: the rebuild lines a key's
    // waiting deliveries up by when a worker first took each event, and two taken in the
    // same millisecond are a tie it cannot break (see the README's "Redis back empty").
    for n in 0..4 {
        post(n).await;
        let id = delivery_id("acme", &format!("evt_{n}"), held["id"].as_str().unwrap());
        wait_until("the event in the log", Duration::from_secs(30), || async {
            app.db.delivery("acme", &id).await.ok().flatten().is_some()
        })
        .await;
    }
    app.wait_for_status("acme", &first(&held), "retrying").await;
    app.wait_for_status("acme", &first(&blocked), "failed")
        .await;
    let blocking = app
        .db
        .delivery("acme", &first(&blocked))
        .await
        .unwrap()
        .unwrap();
    let shown: serde_json::Value = app
        .get(&key, &format!("/v1/deliveries/{}", blocking.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["blocking"], true, "{shown}");
    assert_eq!(
        (retries.delivered().len(), blocks.delivered().len()),
        (0, 0)
    );
    // The tie CI once met: a worker took `evt_0` and `evt_1` in the same millisecond, and
    // `evt_1`'s deliveries (recorded waiting, at once) were logged before `evt_0`'s
    // (recorded after their attempts). Only the attempted one can be its key's first.
    let pg = hookpost_tests::postgres(&app.config.database_url).await;
    pg.batch_execute(
        "UPDATE events SET event_at = (SELECT event_at FROM events WHERE id = 'evt_0') \
           WHERE tenant_id = 'acme' AND id = 'evt_1';
         UPDATE deliveries SET event_at = (SELECT event_at FROM events WHERE id = 'evt_0'),
           created_at = (SELECT min(created_at) FROM deliveries WHERE event_id = 'evt_0')
             - interval '1 millisecond' \
           WHERE tenant_id = 'acme' AND event_id = 'evt_1';",
    )
    .await
    .unwrap();

    redis.flush_all().await;
    for n in 4..6 {
        post(n).await;
    }
    assert_eq!(app.metric("hookpost_redis_rebuilds_total").await, 1.0);
    let ns = Receiver::delivered_ns;
    wait_until(
        "the held key goes on in order after its retry",
        Duration::from_secs(40),
        || async { ns(&retries).len() >= 6 },
    )
    .await;
    assert_eq!(
        ns(&retries),
        [0, 1, 2, 3, 4, 5],
        "one key, in order, once each"
    );
    assert_eq!(blocks.count(), 1, "the blocked key stayed blocked");

    // Skipping the failed delivery lets the key go: the rest follow, in order.
    let skip = app
        .http
        .post(app.url(&format!("/v1/deliveries/{}/skip", first(&blocked))))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(skip.status(), 200);
    wait_until(
        "the blocked key moves on",
        Duration::from_secs(30),
        || async { ns(&blocks).len() >= 5 },
    )
    .await;
    assert_eq!(ns(&blocks), [1, 2, 3, 4, 5]);
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
    let faults = [
        Fault::Cut,
        Fault::Down(Duration::from_secs(5)),
        Fault::Stall(Duration::from_secs(2)),
        Fault::Cut,
    ];
    let inject = async {
        for fault in faults {
            tokio::time::sleep(Duration::from_millis(400)).await;
            proxy.inject(fault).await;
        }
    };
    let mut load = Load::on(through).await;
    load.hold("postgres faults", inject).await;
    assert!(
        proxy.connections() > 1,
        "hookpost reconnected through the proxy"
    );
    load.app.finish().await;
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
