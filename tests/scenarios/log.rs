//! The delivery log, event lookup, resend, automatic disabling, Retry-After, expiry.

use std::collections::HashSet;
use std::time::Duration;

use hookpost_tests::receiver::Answer;
use hookpost_tests::verify::python_accepts;
use hookpost_tests::{wait_until, Receiver, TestApp, TestOptions};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);

async fn get(app: &TestApp, key: &str, path: &str) -> (u16, Value) {
    let r = app.get(key, path).await;
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn post(app: &TestApp, key: &str, path: &str, body: Value) -> (u16, Value) {
    let r = app
        .http
        .post(app.url(path))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// An API time (RFC 3339 with milliseconds) as milliseconds since the epoch.
fn ms(v: &Value) -> i64 {
    let text = v
        .as_str()
        .unwrap_or_else(|| panic!("a time is a string: {v}"));
    assert!(text.ends_with('Z') && text.len() == 24, "{text}");
    hookpost_core::timestamp::parse(text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_shows_every_attempt_and_pages_and_filters_exactly() {
    let app = TestApp::spawn(TestOptions {
        retry: "1s,1s,1s",
        ..TestOptions::default()
    })
    .await;
    let key = app.tenant("acme").await;
    let (flaky, fine) = (Receiver::start().await, Receiver::start().await);
    flaky.answer_next(&[Answer::Status(500), Answer::Status(502)]);
    let flaky_hook = app.hook(&key, &flaky.url, &["ticket.created"]).await;
    let fine_hook = app
        .hook(&key, &fine.url, &["ticket.created", "lead.create"])
        .await;
    let (_, first) = post(
        &app,
        &key,
        "/v1/events",
        json!({"id": "evt_log_1", "type": "ticket.created", "data": {"n": 0}}),
    )
    .await;
    assert_eq!(first["id"], "evt_log_1");
    for n in 1..=4 {
        post(
            &app,
            &key,
            "/v1/events",
            json!({"type": "lead.create", "data": {"n": n}}),
        )
        .await;
    }
    wait_until(
        "the flaky delivery succeeds on its third attempt",
        WAIT,
        || async { flaky.delivered().len() == 1 },
    )
    .await;
    wait_until("the fine hook gets five", WAIT, || async {
        fine.count() == 5
    })
    .await;
    let id = flaky.received()[0].delivery_id();
    app.wait_for_status("acme", &id, "delivered").await;

    let (s, d) = get(&app, &key, &format!("/v1/deliveries/{id}")).await;
    assert_eq!(s, 200);
    assert_eq!(
        (
            d["status"].as_str(),
            d["attempt_count"].as_u64(),
            d["hook_id"].as_str()
        ),
        (Some("delivered"), Some(3), flaky_hook["id"].as_str())
    );
    let attempts = d["attempts"].as_array().unwrap();
    let statuses: Vec<u64> = attempts
        .iter()
        .map(|a| a["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [500, 502, 200]);
    assert_eq!(attempts[0]["outcome"], "http_status");
    assert_eq!(attempts[2]["outcome"], "delivered");
    assert!(
        ms(&attempts[1]["at"]) - ms(&attempts[0]["at"]) >= 900,
        "a second apart"
    );
    assert!(attempts
        .iter()
        .all(|a| a["duration_ms"].is_u64() && a["response"].is_string()));

    // Event lookup: the event and both deliveries it caused.
    let (s, e) = get(&app, &key, "/v1/events/evt_log_1").await;
    assert_eq!(s, 200);
    assert_eq!(e["event"]["data"], json!({"n": 0}));
    assert_eq!(e["deliveries"].as_array().unwrap().len(), 2);
    assert_eq!(get(&app, &key, "/v1/events/evt_nope").await.0, 404);

    // Pages of 2, newest first, exactly the six deliveries, no repeats.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/deliveries?limit=2&cursor={c}"),
            None => "/v1/deliveries?limit=2".into(),
        };
        let (s, page) = get(&app, &key, &path).await;
        assert_eq!(s, 200);
        let items = page["deliveries"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|d| (d["id"].as_str().unwrap().to_owned(), ms(&d["created_at"]))),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6);
    assert_eq!(
        seen.iter().map(|(id, _)| id).collect::<HashSet<_>>().len(),
        6,
        "no delivery twice"
    );
    assert!(seen.windows(2).all(|w| w[0].1 >= w[1].1), "newest first");

    // Filters.
    let count = |q: &'static str| {
        let app = &app;
        let key = &key;
        async move {
            get(app, key, &format!("/v1/deliveries?{q}")).await.1["deliveries"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    assert_eq!(count("event=lead.create").await, 4);
    assert_eq!(count("status=delivered").await, 6);
    assert_eq!(count("status=failed").await, 0);
    let hook_q = format!("/v1/deliveries?hook={}", fine_hook["id"].as_str().unwrap());
    assert_eq!(
        get(&app, &key, &hook_q).await.1["deliveries"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    let newest = seen[0].1;
    // `from` as RFC 3339, or as milliseconds since the epoch.
    for from in [hookpost_core::rfc3339(newest), newest.to_string()] {
        assert_eq!(
            get(&app, &key, &format!("/v1/deliveries?from={from}"))
                .await
                .1["deliveries"]
                .as_array()
                .unwrap()
                .len(),
            seen.iter().filter(|(_, t)| *t >= newest).count()
        );
    }
    assert_eq!(
        get(&app, &key, "/v1/deliveries?from=yesterday").await.0,
        400
    );
    assert_eq!(get(&app, &key, "/v1/deliveries?status=lost").await.0, 400);
    // Another tenant sees none of it.
    let other = app.tenant("other").await;
    assert_eq!(
        get(&app, &other, "/v1/deliveries").await.1["deliveries"],
        json!([])
    );
    assert_eq!(
        get(&app, &other, &format!("/v1/deliveries/{id}")).await.0,
        404
    );
    assert_eq!(
        post(
            &app,
            &other,
            &format!("/v1/deliveries/{id}/resend"),
            json!({})
        )
        .await
        .0,
        404
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resends_repeat_the_same_delivery_and_bulk_resend_takes_only_the_failed() {
    let app = TestApp::spawn(TestOptions {
        retry: "",
        ..TestOptions::default()
    })
    .await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    let hook = app.hook(&key, &rx.url, &["*"]).await;
    let (hook_id, secret) = (
        hook["id"].as_str().unwrap().to_owned(),
        hook["secret"].as_str().unwrap().to_owned(),
    );
    // No retries: two deliveries fail at once, one succeeds.
    rx.answer_next(&[Answer::Status(500), Answer::Status(500)]);
    for n in 0..3 {
        post(
            &app,
            &key,
            "/v1/events",
            json!({"type": "ticket.created", "data": {"n": n}}),
        )
        .await;
        wait_until("each delivery settles", WAIT, || async { rx.count() > n }).await;
    }
    let failed: Vec<String> = rx.received()[..2].iter().map(|r| r.delivery_id()).collect();
    let delivered = rx.received()[2].delivery_id();
    for id in &failed {
        app.wait_for_status("acme", id, "failed").await;
    }
    app.wait_for_status("acme", &delivered, "delivered").await;
    // Its event had nothing left to wait for: Redis let its payload go (the failed ones'
    // events keep theirs), and the resend reads it from PostgreSQL.
    let payload_in_redis = |d: String| {
        let app = &app;
        async move {
            let event_id = app.db.delivery("acme", &d).await.unwrap().unwrap().event_id;
            let key = app.store.keys().event("acme", &event_id);
            let kept: bool = redis::AsyncCommands::hexists(&mut app.store.conn(), key, "data")
                .await
                .unwrap();
            kept
        }
    };
    assert!(!payload_in_redis(delivered.clone()).await);
    assert!(payload_in_redis(failed[0].clone()).await);
    // Nor does its delivery keep a hot state: the resend reads the body's hook snapshot
    // from the log too, so a hook changed since does not change the body.
    let hot = app
        .store
        .delivery_progress("acme", &delivered)
        .await
        .unwrap();
    assert!(hot.is_none(), "{hot:?}");
    app.widen_hook_events(&key, &hook_id).await;

    // One resend of a delivered delivery: attempt 2, the same id and body, signed.
    let (s, r) = post(
        &app,
        &key,
        &format!("/v1/deliveries/{delivered}/resend"),
        json!({}),
    )
    .await;
    assert_eq!((s, r["attempt"].as_u64()), (202, Some(2)));
    wait_until("the resend arrives", WAIT, || async { rx.count() == 4 }).await;
    let (original, again) = (&rx.received()[2], &rx.received()[3]);
    assert_eq!(
        (again.delivery_id(), again.header("x-hook-attempt")),
        (delivered.clone(), Some("2"))
    );
    assert_eq!(again.body, original.body);
    assert!(python_accepts(&secret, again));

    // Bulk: exactly the failed ones, since a time that includes both.
    let since = hookpost_core::now_ms() - 60_000;
    let (s, r) = post(
        &app,
        &key,
        &format!("/v1/hooks/{hook_id}/resend-failed"),
        json!({"since": since}),
    )
    .await;
    assert_eq!((s, r["queued"].as_u64()), (202, Some(2)));
    wait_until("both failed ones arrive again", WAIT, || async {
        rx.count() == 6
    })
    .await;
    let resent: HashSet<String> = rx.received()[4..].iter().map(|r| r.delivery_id()).collect();
    assert_eq!(resent, failed.iter().cloned().collect());
    for id in &failed {
        app.wait_for_status("acme", id, "delivered").await;
    }
    // Since a time after them: nothing.
    let (_, r) = post(
        &app,
        &key,
        &format!("/v1/hooks/{hook_id}/resend-failed"),
        json!({"since": hookpost_core::now_ms()}),
    )
    .await;
    assert_eq!(r["queued"], 0);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_disables_deactivation_cancels_retries_and_retry_after_moves_the_next_attempt() {
    let app = TestApp::spawn(TestOptions {
        retry: "30s",
        ..TestOptions::default()
    })
    .await;
    let key = app.tenant("acme").await;

    // 410: the hook is deactivated at once, with the reason.
    let gone = Receiver::start().await;
    gone.answer_always(Answer::Status(410));
    let gone_hook = app.hook(&key, &gone.url, &["ticket.created"]).await;
    post(
        &app,
        &key,
        "/v1/events",
        json!({"type": "ticket.created", "data": {}}),
    )
    .await;
    let path = format!("/v1/hooks/{}", gone_hook["id"].as_str().unwrap());
    wait_until("the hook is deactivated", WAIT, || async {
        get(&app, &key, &path).await.1["active"] == false
    })
    .await;
    let (_, h) = get(&app, &key, &path).await;
    assert_eq!(h["disabled_reason"], "gone");
    assert!(h["disabled_at"].is_string());
    let (_, h) = post(&app, &key, &format!("{path}/activate"), json!({})).await;
    assert_eq!(
        (h["active"].as_bool(), h.get("disabled_reason")),
        (Some(true), None),
        "activation clears the reason"
    );
    post(&app, &key, &format!("{path}/deactivate"), json!({})).await;

    // Retry-After on a 503 moves the next attempt from the schedule's 30 s to 1 s.
    let busy = Receiver::start().await;
    app.hook(&key, &busy.url, &["lead.create"]).await;
    busy.answer_next(&[Answer::RetryAfter(503, 1)]);
    post(
        &app,
        &key,
        "/v1/events",
        json!({"type": "lead.create", "data": {}}),
    )
    .await;
    wait_until(
        "the retry came after 1 s, not 30 s",
        Duration::from_secs(10),
        || async { busy.delivered().len() == 1 },
    )
    .await;
    let (gap, asked) = app.first_retry("acme", &busy.received()).await;
    assert!(
        gap >= Duration::from_millis(900) && gap < Duration::from_secs(10),
        "{gap:?}"
    );
    assert_eq!(asked, Some(1));

    // Deactivation cancels the retry already scheduled; reactivating does not replay it.
    let paused = Receiver::start().await;
    let paused_hook = app.hook(&key, &paused.url, &["faq.create"]).await;
    paused.answer_next(&[Answer::RetryAfter(429, 1)]);
    post(
        &app,
        &key,
        "/v1/events",
        json!({"type": "faq.create", "data": {}}),
    )
    .await;
    wait_until("the first attempt", WAIT, || async { paused.count() == 1 }).await;
    let paused_path = format!("/v1/hooks/{}", paused_hook["id"].as_str().unwrap());
    post(&app, &key, &format!("{paused_path}/deactivate"), json!({})).await;
    let id = paused.received()[0].delivery_id();
    app.wait_for_status("acme", &id, "cancelled").await;
    post(&app, &key, &format!("{paused_path}/activate"), json!({})).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        paused.count(),
        1,
        "no retry after deactivation, none replayed on reactivation"
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_drops_whole_days_past_the_retention_and_every_redis_key_expires() {
    const DAY: Duration = Duration::from_secs(86_400);
    let app = TestApp::spawn(TestOptions {
        retention: 3 * DAY,
        ..TestOptions::default()
    })
    .await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    let hook = app.hook(&key, &rx.url, &["*"]).await;
    let old = hookpost_core::delivery::delivery_id("acme", "evt_old", hook["id"].as_str().unwrap());
    post(
        &app,
        &key,
        "/v1/events",
        json!({"id": "evt_today", "type": "ticket.created", "data": {}}),
    )
    .await;
    wait_until("delivered", WAIT, || async { rx.count() == 1 }).await;
    let id = rx.received()[0].delivery_id();
    app.wait_for_status("acme", &id, "delivered").await;

    // The scheduler made a partition a day from the retention's start to two days ahead.
    let pg = hookpost_tests::postgres(&app.config.database_url).await;
    let days = |table: &'static str| {
        let pg = &pg;
        async move {
            let rows = pg
                .query(
                    "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                     WHERE i.inhparent = to_regclass($1) ORDER BY 1",
                    &[&table],
                )
                .await
                .unwrap();
            rows.iter()
                .map(|r| r.get::<_, String>(0))
                .collect::<Vec<_>>()
        }
    };
    for table in ["events", "deliveries", "attempts"] {
        assert_eq!(
            days(table).await.len(),
            6,
            "{table}: 3 days back, today, 2 ahead"
        );
    }
    // A delivery of an event received two days ago, as an older worker wrote it.
    pg.execute(
        "INSERT INTO events SELECT tenant_id, 'evt_old', event_at - interval '2 days', type, occurred_at, data,
                  data_zstd
           FROM events WHERE id = 'evt_today'",
        &[],
    )
    .await
    .unwrap();
    pg.execute(
        "INSERT INTO deliveries SELECT tenant_id, substr($1, 5)::uuid, event_at - interval '2 days', 'evt_old', hook_id,
           type, status, attempts, created_at - interval '2 days', updated_at, next_at,
           (SELECT s.hook FROM hook_snapshots s WHERE s.digest = d.hook_digest)
           FROM deliveries d WHERE event_id = 'evt_today'",
        &[&old],
    )
    .await
    .unwrap();
    let old_path = format!("/v1/deliveries/{old}");
    assert_eq!(get(&app, &key, &old_path).await.0, 200);
    assert_eq!(get(&app, &key, "/v1/events/evt_old").await.0, 200);

    // With a retention of one day, the day before yesterday is past it: dropped whole,
    // and today's log stays.
    let shorter = hookpost_db::Db::connect(
        &hookpost_db::DbOptions {
            url: app.config.database_url.clone(),
            retention: DAY,
            ..hookpost_db::DbOptions::of(&app.config)
        },
        None,
    )
    .unwrap();
    let upkeep = hookpost_db::partitions::upkeep(&shorter).await.unwrap();
    assert_eq!(
        upkeep.dropped,
        3 * 2,
        "two days of three tables: {upkeep:?}"
    );
    assert_eq!(get(&app, &key, &old_path).await.0, 404);
    assert_eq!(get(&app, &key, "/v1/events/evt_old").await.0, 404);
    assert_eq!(
        get(&app, &key, &format!("/v1/deliveries/{id}")).await.0,
        200
    );
    assert_eq!(
        days("deliveries").await.len(),
        4,
        "yesterday, today, 2 ahead"
    );

    // Redis keeps only hot state, and every key of it expires within the retention; the
    // done marks (fingerprints, a set for many events) within twice the retention, so
    // that each mark is kept for at least the retention.
    let mut redis = app.store.conn();
    let keys = app.store.all_keys().await.unwrap();
    let hot: Vec<&String> = keys
        .iter()
        .filter(|k| {
            [":evt:", ":evs:", ":dlv:", ":failing", ":done:", ":dsets:"]
                .iter()
                .any(|p| k.contains(p))
        })
        .collect();
    let print = hookpost_store::done_marks::fingerprint("evt_today");
    // The tenant's first period: its marks take the count every period took before.
    const SETS: u64 = hookpost_store::done_marks::SETS;
    let marks = hot
        .iter()
        .filter(|k| k.contains(":done:") && k.ends_with(&format!(":{}", print.set(SETS))));
    let mut marked = false;
    for k in marks {
        let member: bool = redis::AsyncCommands::sismember(&mut redis, *k, print.member)
            .await
            .unwrap();
        marked |= member;
    }
    assert!(marked, "the event's done mark: {keys:?}");
    assert!(
        !hot.iter().any(|k| k.contains(":evs:evt_today")),
        "a delivered event keeps no state of its own: {keys:?}"
    );
    assert!(
        !hot.iter().any(|k| k.contains(":dlv:")),
        "a delivered event's deliveries keep no hot state: {keys:?}"
    );
    for k in &hot {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(*k)
            .query_async(&mut redis)
            .await
            .unwrap();
        let within = match k.contains(":done:") || k.contains(":dsets:") {
            true => 2 * 3 * 86_400_000,
            false => 3 * 86_400_000,
        };
        assert!(
            ttl > 0 && ttl <= within,
            "{k} has no expiry within the retention ({ttl})"
        );
    }
    assert!(
        !keys
            .iter()
            .any(|k| k.ends_with(":log") || k.ends_with(":dlvs")),
        "the log is not kept in Redis: {keys:?}"
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_failing_for_the_whole_span_is_deactivated() {
    let opts = TestOptions {
        retry: "1s,1s,1s",
        disable_after: Duration::from_millis(1500),
        ..TestOptions::default()
    };
    let app = TestApp::spawn(opts).await;
    let key = app.tenant("acme").await;
    let (down, up) = (Receiver::start().await, Receiver::start().await);
    down.answer_always(Answer::Status(500));
    let down_hook = app.hook(&key, &down.url, &["*"]).await;
    app.hook(&key, &up.url, &["*"]).await;
    post(
        &app,
        &key,
        "/v1/events",
        json!({"type": "ticket.created", "data": {}}),
    )
    .await;
    let path = format!("/v1/hooks/{}", down_hook["id"].as_str().unwrap());
    wait_until("the failing hook is deactivated", WAIT, || async {
        get(&app, &key, &path).await.1["active"] == false
    })
    .await;
    assert_eq!(get(&app, &key, &path).await.1["disabled_reason"], "failing");
    assert!(
        down.count() >= 3,
        "it failed for longer than the span first"
    );
    let metrics = app.metrics().await;
    assert!(metrics.contains(r#"hookpost_hooks_disabled_total{reason="failing"} 1"#));
    assert_eq!(up.count(), 1, "a healthy hook is left alone");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_read_and_resend_through_the_api_with_the_admin_token() {
    let app = TestApp::spawn(TestOptions {
        retry: "1h",
        ..TestOptions::default()
    })
    .await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    rx.answer_next(&[Answer::Status(500)]);
    app.hook(&key, &rx.url, &["*"]).await;
    post(
        &app,
        &key,
        "/v1/events",
        json!({"type": "ticket.created", "data": {}}),
    )
    .await;
    wait_until("the failed first attempt", WAIT, || async {
        rx.count() == 1
    })
    .await;
    let id = rx.received()[0].delivery_id();
    app.wait_for_status("acme", &id, "retrying").await;

    let ops = hookpost::ops_client::ApiClient::new(&app.base, hookpost_tests::app::ADMIN_TOKEN);
    let page = ops
        .deliveries("acme", &[("status", "retrying".into())])
        .await
        .unwrap();
    assert_eq!(page["deliveries"][0]["id"], id.as_str());
    assert_eq!(
        ops.delivery("acme", &id).await.unwrap()["attempts"][0]["status"],
        500
    );
    let stats = ops.retry_stats().await.unwrap();
    assert_eq!(
        (
            stats["due_next_minute"].as_u64(),
            stats["due_next_day"].as_u64()
        ),
        (Some(0), Some(1)),
        "{stats}"
    );
    assert_eq!(ops.resend("acme", &id).await.unwrap()["attempt"], 2);
    wait_until("the resend arrives", WAIT, || async {
        rx.delivered().len() == 1
    })
    .await;
    app.wait_for_status("acme", &id, "delivered").await;

    // The header works only with the admin token, and only for a tenant that exists.
    assert!(ops.deliveries("nobody", &[]).await.is_err());
    let r = app
        .http
        .get(app.url("/v1/deliveries"))
        .bearer_auth(&key)
        .header("x-hookpost-tenant", "acme")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    app.finish().await;
}
