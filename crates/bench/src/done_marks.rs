//! `done-marks`: what the done marks of processed events cost Redis in a tenant's first
//! retention period, and in the next, whose sets are sized from the first's marks. The
//! claims are the store's own (`Store::claim_event`, no hookpost process), on a prefix of
//! the run's own whose retention is `--duration` seconds: `--events` claims a period,
//! spread evenly over `--hooks` tenants (1: one big tenant; many: small ones), each
//! recorded as delivered at once (its state removed, its mark kept). Each
//! period's bytes are the sum of `MEMORY USAGE` over its keys (the marks' sets and the
//! count of sets), per mark; its commands are `INFO commandstats` around its claims.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_util::{stream, StreamExt, TryStreamExt};
use hookpost_store::Store;

use crate::{Options, Report};

/// One period's claims, measured.
struct Period {
    period: u64,
    secs: f64,
    commands: f64,
}

pub async fn done_marks(o: &Options) -> anyhow::Result<Report> {
    let retention = o.duration_s.max(2);
    let base = hookpost_core::Config::from_env().context("configuration")?;
    let config = hookpost_core::Config {
        prefix: crate::scenarios::run_prefix(),
        retention: Duration::from_secs(retention),
        ..base
    };
    let store = hookpost::store(&config)?;
    store.init_marker().await?;
    let tenants: Vec<String> = (0..o.hooks.max(1)).map(|t| format!("t{t}")).collect();
    for t in &tenants {
        let tenant = hookpost_store::tenants::Tenant {
            id: t.clone(),
            name: t.clone(),
            created_at: 0,
        };
        store.create_tenant(&tenant).await?;
    }
    let measured = async {
        let first = claim_a_period(&store, o, &tenants, retention, "a").await?;
        let next = claim_a_period(&store, o, &tenants, retention, "b").await?;
        anyhow::Ok((first, next))
    }
    .await;
    let mut r = Report::new("done-marks");
    r.put("tenants", tenants.len() as f64);
    r.put("marks_a_period", o.events as f64);
    let figures = async {
        let (first, next) = measured?;
        for (name, p) in [("first", first), ("next", next)] {
            let (bytes, sets) = period_bytes(&store, p.period, &tenants[0]).await?;
            r.put(&format!("bytes_per_mark.{name}"), bytes / o.events as f64);
            r.put(&format!("sets_of_a_tenant.{name}"), sets as f64);
            r.put(
                &format!("commands_per_claim.{name}"),
                p.commands / o.events as f64,
            );
            r.put(&format!("claims_per_sec.{name}"), o.events as f64 / p.secs);
        }
        anyhow::Ok(())
    }
    .await;
    // The run's keys go whatever happened, so that a failed run leaves nothing behind.
    store.delete_everything().await?;
    figures?;
    Ok(r)
}

/// Waits for the next period to begin, then claims `--events` new events in it (their
/// ids prefixed with `tag`), spread over `tenants`.
async fn claim_a_period(
    store: &Store,
    o: &Options,
    tenants: &[String],
    retention: u64,
    tag: &str,
) -> anyhow::Result<Period> {
    let now_ms = hookpost_core::now_ms() as u64;
    let next = (now_ms / 1000 / retention + 1) * retention;
    tokio::time::sleep(Duration::from_millis(next * 1000 - now_ms + 50)).await;
    let period = next / retention;
    let commands = crate::stores::redis_commands(store).await.unwrap_or(0.0);
    let start = Instant::now();
    stream::iter(0..o.events)
        .map(|i| {
            let t = &tenants[i % tenants.len()];
            let raw =
                format!(r#"{{"id":"{tag}{i}","tenant":"{t}","type":"t.created","data":{{}}}}"#);
            async move {
                let event = hookpost_core::Event::parse(raw.as_bytes(), None)
                    .map_err(|e| anyhow::anyhow!("{}", e.message))?;
                let (claim, _) = store.claim_event(&event, 60_000, 1).await?;
                if claim != hookpost_store::events::Claim::New {
                    bail!("event {tag}{i} was claimed {claim:?}, not new");
                }
                // Delivered at once, as most are: its state goes, its mark stays.
                let none: [hookpost_store::log::Record<'_>; 0] = [];
                let gone = hookpost_store::log::EventMark::DoneAndGone;
                store.record(t, &event.id, &none, gone, 60_000).await?;
                if i % 1000 == 0 {
                    store.remove_queued().await?;
                }
                anyhow::Ok(())
            }
        })
        .buffer_unordered(o.concurrency.max(1))
        .try_collect::<()>()
        .await?;
    store.remove_queued().await?;
    let secs = start.elapsed().as_secs_f64();
    let commands = crate::stores::redis_commands(store).await.unwrap_or(0.0) - commands;
    let now = hookpost_core::now_ms() as u64 / 1000 / retention;
    if now != period {
        bail!(
            "{} claims took longer than a period: give --duration more than {retention} s",
            o.events
        );
    }
    Ok(Period {
        period,
        secs,
        commands,
    })
}

/// The bytes of `period`'s done marks (every tenant's sets and counts), and how many
/// sets `tenant`'s period takes.
async fn period_bytes(store: &Store, period: u64, tenant: &str) -> anyhow::Result<(f64, u64)> {
    let marks = format!(":done:{period}:");
    let count = format!(":dsets:{period}");
    let mut bytes = 0.0;
    for key in store.all_keys().await? {
        if !(key.contains(&marks) || key.ends_with(&count)) {
            continue;
        }
        let usage: Option<u64> = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(&key)
            .arg("SAMPLES")
            .arg(0)
            .query_async(&mut store.conn())
            .await?;
        bytes += usage.unwrap_or(0) as f64;
    }
    let sets: Option<u64> =
        redis::AsyncCommands::get(&mut store.conn(), store.keys().done_sets(tenant, period))
            .await?;
    Ok((bytes, sets.unwrap_or(0)))
}
