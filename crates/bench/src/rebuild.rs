//! `rebuild`: Redis back empty while `--events` retries wait. That many deliveries, each
//! `retrying` after one failed attempt with its next attempt an hour away (one hook, one
//! event each of `--payload-bytes`), are written straight into the run's database, as the
//! worker would have left them; then the run's Redis keys are deleted, a scheduler is
//! started, and the bench times its rebuild until the keyspace marker is back, and checks
//! that the retry set holds every one of them (`lost` counts those it does not).
//!
//! `rebuild-ordered`: the same with an ordered hook (100 ordering keys) whose `--events`
//! deliveries all wait for their turn; `lost` counts those that no key's queue holds
//! once the marker is back.
//!
//! `rebuild-parked`: the same with `--events` deliveries parked in a slow hook's backlog
//! at their events' first sight (kept in the events' rows, no row of their own, their
//! drain an hour away); `lost` counts those that neither the hook's backlog nor the retry
//! set holds once the marker is back.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hookpost::Roles;
use hookpost_core::Hook;
use hookpost_db::HookKey;
use serde_json::json;

use crate::launch::Hookpost;
use crate::scenarios::Bench;
use crate::{Options, Report};

/// What waits while Redis is back empty.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// Retries, an hour away.
    Retries,
    /// Ordered deliveries waiting for their turn, on 100 keys.
    Ordered,
    /// Deliveries parked in a slow hook's backlog, their drain an hour away.
    Parked,
}

impl Waiting {
    fn scenario(self) -> &'static str {
        match self {
            Waiting::Retries => "rebuild",
            Waiting::Ordered => "rebuild-ordered",
            Waiting::Parked => "rebuild-parked",
        }
    }

    /// The hook's fields besides its URL.
    fn hook(self) -> serde_json::Value {
        match self {
            Waiting::Retries | Waiting::Parked => json!({}),
            Waiting::Ordered => json!({"ordering": "fifo", "ordering_key": "$.key"}),
        }
    }

    /// Each delivery's status, attempts and next attempt (SQL): a retry an hour away
    /// after one attempt, or a turn not yet come; `None`: no row of its own (parked).
    fn row(self) -> Option<(&'static str, i32, &'static str)> {
        match self {
            Waiting::Retries => Some(("retrying", 1, "now() + interval '1 hour'")),
            Waiting::Ordered => Some(("pending", 0, "NULL::timestamptz")),
            Waiting::Parked => None,
        }
    }
}

pub async fn rebuild(o: &Options, waiting: Waiting) -> anyhow::Result<Report> {
    let only_ingest = Roles {
        worker: false,
        scheduler: false,
        ..Roles::ALL
    };
    Bench::start(o, only_ingest)
        .await?
        .around(async |b: &mut Bench| {
            b.hook_with(&b.key, &b.rx.url("ok", 0), waiting.hook())
                .await?;
            let hook = b.store.hooks("bench").await?.remove(0);
            eprintln!("  writing {} waiting deliveries", o.events);
            fill(&b.config.database_url, o, waiting, &hook).await?;
            b.store.delete_everything().await?;
            b.count_stores_from_now().await;
            let mut r = Report::new(waiting.scenario());
            let start = Instant::now(); // the scheduler's start-up counts
            let deadline = Duration::from_secs(o.deadline_s);
            let scheduler = Hookpost::start_within(
                o.hookpost.as_deref(),
                &b.config,
                Roles::SCHEDULER,
                deadline,
            )
            .await?;
            while !b.store.marker_present().await? && start.elapsed() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let rebuild_s = start.elapsed().as_secs_f64();
            scheduler.account(&mut r, ".rebuilding");
            scheduler.stop().await;
            let restored = match waiting {
                Waiting::Retries => b.store.retry_stats().await?.size as usize,
                Waiting::Ordered => registered(b, &hook.id).await?,
                // Into the backlog (with one drain in the retry set), or each as a retry.
                Waiting::Parked => {
                    let backlog = b.store.backlog_len("bench", &hook.id).await? as usize;
                    let drains = usize::from(backlog > 0);
                    backlog + b.store.retry_stats().await?.size as usize - drains
                }
            };
            r.put("waiting", o.events as f64);
            r.put("rebuild_s", rebuild_s);
            r.put("restored_per_sec", restored as f64 / rebuild_s);
            b.account_as(&mut r, o.events, restored).await;
            Ok(r)
        })
        .await
}

/// How many deliveries the hook's ordering keys' queues hold.
async fn registered(b: &Bench, hook_id: &str) -> anyhow::Result<usize> {
    let pattern = b.store.keys().order_queue("bench", hook_id, "*");
    let mut conn = b.store.conn();
    let queues: Vec<redis::RedisResult<String>> =
        redis::AsyncCommands::scan_match(&mut conn, &pattern)
            .await?
            .collect()
            .await;
    if queues.is_empty() {
        return Ok(0);
    }
    let mut sizes = redis::pipe();
    for q in queues {
        sizes.zcard(q?);
    }
    let sizes: Vec<usize> = sizes.query_async(&mut conn).await?;
    Ok(sizes.iter().sum())
}

/// `--events` events of `--payload-bytes` and their one delivery each, waiting as
/// `waiting` says, in two statements, then ANALYZE.
async fn fill(url: &str, o: &Options, waiting: Waiting, hook: &Hook) -> anyhow::Result<()> {
    let client = crate::stores::postgres(url).await?;
    let (n, pad) = (o.events as i64, o.payload_bytes.saturating_sub(32) as i32);
    client
        .execute(
            "INSERT INTO events (tenant_id, id, event_at, type, occurred_at, data)
             SELECT 'bench', 'evt_' || i, now() - i * interval '1 ms', 'ticket.created', NULL,
                    json_build_object('i', i, 'key', 'k' || i % 100, 'pad', repeat('x', $2))::text
             FROM generate_series(1, $1::int8) AS i",
            &[&n, &pad],
        )
        .await?;
    let Some((status, attempts, next_at)) = waiting.row() else {
        return park(&client, hook).await;
    };
    client
        .execute(
            &format!(
                "INSERT INTO deliveries (tenant_id, id, event_at, event_id, hook_id, type, status,
                                         attempts, created_at, updated_at, next_at, hook)
                 SELECT 'bench', md5(e.id)::uuid, e.event_at, e.id, $1, e.type, '{status}',
                        {attempts}, e.event_at, e.event_at, {next_at}, $2
                 FROM events e WHERE e.tenant_id = 'bench'"
            ),
            &[&HookKey::of_made(&hook.id)?, &hook.snapshot_json()],
        )
        .await?;
    client.batch_execute("ANALYZE").await?;
    Ok(())
}

/// Every event of the run parks its delivery to `hook` in its row, with the hook's
/// snapshot, as a slow hook's backlog leaves them: the drain an hour away.
async fn park(client: &tokio_postgres::Client, hook: &Hook) -> anyhow::Result<()> {
    let snapshot = hook.snapshot_json();
    let digest = hookpost_db::writer::snapshot_digest(&snapshot);
    client
        .execute(
            "WITH s AS (INSERT INTO hook_snapshots VALUES ('bench', $4, $2, $3))
             UPDATE events SET parked = jsonb_build_array(jsonb_build_array(
                 $1::text, $2::int8, (extract(epoch FROM now()) * 1000)::int8 + 3600000))
             WHERE tenant_id = 'bench'",
            &[&hook.id, &digest, &snapshot, &HookKey::of_made(&hook.id)?],
        )
        .await?;
    client.batch_execute("ANALYZE").await?;
    Ok(())
}
