//! `rebuild`: Redis back empty while `--events` retries wait. That many deliveries, each
//! `retrying` after one failed attempt with its next attempt an hour away (one hook, one
//! event each of `--payload-bytes`), are written straight into the run's database, as the
//! worker would have left them; then the run's Redis keys are deleted, a scheduler is
//! started, and the bench times its rebuild until the keyspace marker is back, and checks
//! that the retry set holds every one of them (`lost` counts those it does not).

use std::time::{Duration, Instant};

use hookpost::Roles;

use crate::launch::Hookpost;
use crate::scenarios::Bench;
use crate::{Options, Report};

pub async fn rebuild(o: &Options) -> anyhow::Result<Report> {
    let only_ingest = Roles {
        worker: false,
        scheduler: false,
        ..Roles::ALL
    };
    let mut b = Bench::start(o, only_ingest).await?;
    b.hook(&b.key, &b.rx.url("ok", 0)).await?;
    let hook = b.store.hooks("bench").await?.remove(0);
    eprintln!("  writing {} retrying deliveries", o.events);
    fill(
        &b.config.database_url,
        o.events,
        o.payload_bytes,
        &hook.id,
        &hook.snapshot_json(),
    )
    .await?;
    b.store.delete_everything().await?;
    b.count_stores_from_now().await;
    let mut r = Report::new("rebuild");
    let start = Instant::now(); // the scheduler's start-up counts
    let deadline = Duration::from_secs(o.deadline_s);
    let scheduler =
        Hookpost::start_within(o.hookpost.as_deref(), &b.config, Roles::SCHEDULER, deadline)
            .await?;
    while !b.store.marker_present().await? && start.elapsed() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rebuild_s = start.elapsed().as_secs_f64();
    scheduler.account(&mut r, ".rebuilding");
    scheduler.stop().await;
    let restored = b.store.retry_stats().await?.size as usize;
    r.put("retries", o.events as f64);
    r.put("rebuild_s", rebuild_s);
    r.put("restored_per_sec", restored as f64 / rebuild_s);
    b.account_as(&mut r, o.events, restored).await;
    b.finish().await?;
    Ok(r)
}

/// `events` events of `payload` bytes and their one delivery each, `retrying`, in two
/// statements, then ANALYZE.
async fn fill(
    url: &str,
    events: usize,
    payload: usize,
    hook_id: &str,
    hook_json: &str,
) -> anyhow::Result<()> {
    let client = crate::stores::postgres(url).await?;
    let (n, pad) = (events as i64, payload.saturating_sub(20) as i32);
    client
        .execute(
            "INSERT INTO events (tenant_id, id, event_at, type, occurred_at, data)
             SELECT 'bench', 'evt_' || i, now() - i * interval '1 ms', 'ticket.created', NULL,
                    '{\"i\": ' || i || ', \"pad\": \"' || repeat('x', $2) || '\"}'
             FROM generate_series(1, $1::int8) AS i",
            &[&n, &pad],
        )
        .await?;
    client
        .execute(
            "INSERT INTO deliveries (tenant_id, id, event_at, event_id, hook_id, type, status,
                                     attempts, created_at, updated_at, next_at, hook)
             SELECT 'bench', 'dlv_' || md5(e.id), e.event_at, e.id, $1, e.type, 'retrying',
                    1, e.event_at, e.event_at, now() + interval '1 hour', $2
             FROM events e WHERE e.tenant_id = 'bench'",
            &[&hook_id, &hook_json],
        )
        .await?;
    client.batch_execute("ANALYZE").await?;
    Ok(())
}
