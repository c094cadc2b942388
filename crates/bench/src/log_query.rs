//! `log-query`: the log API over a big log. `--events` deliveries (10 hooks, 5 event
//! types, 1 in 20 failed, 1 in 20 retrying, one attempt each, a tenth as many events)
//! are written straight into the run's database, as the worker would have written them,
//! then each list and lookup is asked `SAMPLES` times through the API, one at a time.

use std::time::Instant;

use hookpost::Roles;

use crate::scenarios::Bench;
use crate::{percentile, Options, Report};

const SAMPLES: usize = 300;
const HOOKS: usize = 10;
const TYPES: [&str; 5] = [
    "ticket.created",
    "ticket.updated",
    "ticket.closed",
    "contact.created",
    "chat.started",
];

/// The path of a query's `i`th sample.
type PathOf = Box<dyn Fn(usize) -> String>;

pub async fn log_query(o: &Options) -> anyhow::Result<Report> {
    Bench::start(o, Roles::ALL)
        .await?
        .around(async |b: &mut Bench| {
            let events = (o.events / HOOKS).max(1);
            eprintln!("  writing a log of {} deliveries", events * HOOKS);
            let started = Instant::now();
            fill(&b.config.database_url, events).await?;
            let mut r = Report::new("log-query");
            r.put("deliveries", (events * HOOKS) as f64);
            r.put("fill_s", started.elapsed().as_secs_f64());
            let queries: [(&str, PathOf); 4] = [
                (
                    "by_hook_and_status",
                    Box::new(|i| {
                        format!(
                            "/v1/deliveries?hook={}&status=failed&limit=50",
                            hook_id(i % HOOKS)
                        )
                    }),
                ),
                (
                    "by_event_type",
                    Box::new(|i| {
                        format!("/v1/deliveries?event={}&limit=50", TYPES[i % TYPES.len()])
                    }),
                ),
                (
                    "by_status_retrying",
                    Box::new(|_| "/v1/deliveries?status=retrying&limit=50".into()),
                ),
                (
                    "event_lookup",
                    Box::new(move |i| format!("/v1/events/evt_{}", 1 + (i * 7919) % events)),
                ),
            ];
            for (name, path) in &queries {
                let mut ms = Vec::with_capacity(SAMPLES);
                for i in 0..SAMPLES {
                    let t = Instant::now();
                    let answer = b
                        .http
                        .get(format!("{}{}", b.base, path(i)))
                        .bearer_auth(&b.key)
                        .send()
                        .await?;
                    anyhow::ensure!(answer.status() == 200, "{name}: {}", answer.status());
                    let body = answer.bytes().await?;
                    ms.push(t.elapsed().as_secs_f64() * 1000.0);
                    // From 1,000 events a hook (a twentieth of them failed), every list fills its
                    // page: a filter that matched nothing would time no read.
                    if events >= 1_000 && *name != "event_lookup" {
                        let page: serde_json::Value = serde_json::from_slice(&body)?;
                        let listed = page["deliveries"].as_array().map(Vec::len);
                        anyhow::ensure!(listed == Some(50), "{name}: {listed:?} listed");
                    }
                }
                r.put(&format!("p50_ms.{name}"), percentile(&mut ms, 50.0));
                r.put(&format!("p99_ms.{name}"), percentile(&mut ms, 99.0));
            }
            Ok(r)
        })
        .await
}

/// Hook `h`'s id: the id of the 128 bits of `h` ([`HOOK_KEY`] in SQL).
fn hook_id(h: usize) -> String {
    let mut bits = [0; 16];
    bits[8..].copy_from_slice(&(h as u64).to_be_bytes());
    hookpost_core::ids::generated_id_of("hook", &bits)
}

/// [`hook_id`]`(h)` as its column holds it.
const HOOK_KEY: &str = "lpad(to_hex(h), 32, '0')::uuid";

/// The log, in three statements (one transaction each), then ANALYZE. Each delivery has
/// one attempt, kept in its row as the worker keeps a first attempt.
async fn fill(url: &str, events: usize) -> anyhow::Result<()> {
    let client = crate::stores::postgres(url).await?;
    let n = events as i64;
    let hooks = HOOKS as i64;
    client
        .execute(
            "INSERT INTO events (tenant_id, id, event_at, type, occurred_at, data)
             SELECT 'bench', 'evt_' || i, now() - i * interval '1 ms',
                    (ARRAY['ticket.created','ticket.updated','ticket.closed','contact.created','chat.started'])[1 + i % 5],
                    NULL, '{\"ticket\": {\"id\": ' || i || '}}'
             FROM generate_series(1, $1::int8) AS i",
            &[&n],
        )
        .await?;
    // Each hook's snapshot once, and the deliveries naming it by digest, as the worker
    // writes them (migration 10): the lists read the snapshot through the digest.
    let ids: Vec<String> = (0..HOOKS).map(hook_id).collect();
    client
        .execute(
            &format!(
                "INSERT INTO hook_snapshots (tenant_id, hook_id, digest, hook)
                 SELECT 'bench', {HOOK_KEY}, h, json_build_object('id', ($2::text[])[h + 1])::text
                 FROM generate_series(0, $1::int8 - 1) AS h"
            ),
            &[&hooks, &ids],
        )
        .await?;
    client
        .execute(
            &format!("INSERT INTO deliveries (tenant_id, id, event_at, event_id, hook_id, type, status, attempts,
                                     created_at, updated_at, next_at, hook_digest, first_at,
                                     first_duration_ms, first_outcome, first_status)
             SELECT 'bench', md5(e.id || h)::uuid, e.event_at, e.id, {HOOK_KEY}, e.type,
                    CASE (i + h) % 20 WHEN 0 THEN 'failed' WHEN 1 THEN 'retrying' ELSE 'delivered' END::delivery_status,
                    1, e.event_at, e.event_at,
                    CASE (i + h) % 20 WHEN 1 THEN now() + interval '1 hour' END,
                    h, e.event_at, 12,
                    CASE WHEN (i + h) % 20 < 2 THEN 'http_status' ELSE 'delivered' END::attempt_outcome,
                    CASE WHEN (i + h) % 20 < 2 THEN 500 ELSE 200 END
             FROM generate_series(1, $1::int8) AS i
             JOIN events e ON e.tenant_id = 'bench' AND e.id = 'evt_' || i
             CROSS JOIN generate_series(0, $2::int8 - 1) AS h"),
            &[&n, &hooks],
        )
        .await?;
    client.batch_execute("ANALYZE").await?;
    Ok(())
}
