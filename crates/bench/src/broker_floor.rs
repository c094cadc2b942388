//! `broker-floor`: what RabbitMQ alone gives a quiet publisher beside a flood on this
//! machine, with no hookpost process running: the floor under `noisy-neighbour`'s
//! quiet tenant (issue 22).
//!
//! A quiet publisher sends 200 persistent messages a second to a queue of its own, each
//! awaiting its confirm as ingest awaits one request's, first alone for `duration`
//! seconds and then for `duration` seconds beside a noisy publisher that sends `rate`
//! messages a second (`0`: as fast as `concurrency` publishers can) to another queue, in
//! batches of `noisy_batch` whose confirms are awaited together, as ingest publishes a
//! batch request. A consumer drains each queue and acks every message, as a worker
//! would with nothing to do. For the quiet messages it reports the publish-to-confirm
//! time (what an API answer waits for) and the publish-to-consume time (the broker's
//! part of event to delivery), alone and beside.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, ConfirmSelectOptions, QueueDeleteOptions};
use lapin::Connection;
use tokio::sync::Mutex;

use crate::{percentile, Options, Report};

/// The quiet publisher's pace, messages a second (as `noisy-neighbour`'s quiet tenant).
const QUIET_RATE: u64 = 200;
const PREFETCH: u16 = 512;

/// Publish-to-consume times (ms) of the quiet messages, split by phase.
#[derive(Default)]
struct Consumed {
    alone: Vec<f64>,
    beside: Vec<f64>,
}

pub async fn broker_floor(o: &Options) -> anyhow::Result<Report> {
    let conn = crate::amqp::connect("bench-floor").await?;
    let stem = crate::amqp::run_name("bench-floor");
    let (quiet_q, noisy_q) = (format!("{stem}-quiet"), format!("{stem}-noisy"));
    let ch = conn.create_channel().await?;
    for q in [&quiet_q, &noisy_q] {
        crate::amqp::declare(&ch, q).await?;
    }
    // The flood has a connection of its own, so that RabbitMQ's flow control of one
    // connection does not hold up the other: the best case for the quiet publisher.
    let flood = crate::amqp::connect("bench-floor-noisy").await?;
    let result = run(o, &conn, &flood, &quiet_q, &noisy_q).await;
    hookpost_broker::close(&flood, "done").await;
    for q in [&quiet_q, &noisy_q] {
        ch.queue_delete(q.as_str().into(), QueueDeleteOptions::default())
            .await?;
    }
    hookpost_broker::close(&conn, "done").await;
    result
}

async fn run(
    o: &Options,
    conn: &Connection,
    flood_conn: &Connection,
    quiet_q: &str,
    noisy_q: &str,
) -> anyhow::Result<Report> {
    let cpu_start = crate::procstat::cpu_now(crate::procstat::processes(None, false));
    let consumed = Arc::new(Mutex::new(Consumed::default()));
    let (quiet_taken, noisy_taken) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (_quiet_ch, quiet_in) =
        hookpost_broker::consume::open(conn, quiet_q, "bench-floor", PREFETCH).await?;
    let (_noisy_ch, noisy_in) =
        hookpost_broker::consume::open(flood_conn, noisy_q, "bench-floor", PREFETCH).await?;
    let mut quiet_consumer =
        tokio::spawn(drain(quiet_in, Some(consumed.clone()), quiet_taken.clone()));
    let mut noisy_consumer = tokio::spawn(drain(noisy_in, None, noisy_taken.clone()));

    let phase = Duration::from_secs(o.duration_s.max(1));
    let mut confirm_alone = quiet(conn, quiet_q, phase, false).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let flood_start = Instant::now();
    let publishers = o.concurrency.clamp(1, 64);
    let mut flood = tokio::task::JoinSet::new();
    for p in 0..publishers {
        let ch = flood_conn.create_channel().await?;
        let (queue, stop) = (noisy_q.to_owned(), stop.clone());
        // Each publisher sends its share of the rate.
        let rate = o.rate as f64 / publishers as f64;
        let (batch, bytes) = (o.noisy_batch.max(1), o.payload_bytes);
        flood.spawn(async move { noisy(&ch, &queue, p, rate, batch, bytes, &stop).await });
    }
    // The flood runs a second before the quiet publisher's second phase, as in
    // `noisy-neighbour`, so that it is at full pace throughout.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let confirm_beside = quiet(conn, quiet_q, phase, true).await;
    stop.store(true, Ordering::Relaxed);
    let mut noisy_sent = 0;
    while let Some(sent) = flood.join_next().await {
        noisy_sent += sent??;
    }
    let flood_s = flood_start.elapsed().as_secs_f64();
    let mut confirm_beside = confirm_beside?;
    // Every message of both queues is consumed before the figures are read.
    let deadline = Instant::now() + Duration::from_secs(o.deadline_s);
    let quiet_sent = confirm_alone.len() + confirm_beside.len();
    loop {
        if noisy_taken.load(Ordering::Relaxed) >= noisy_sent
            && quiet_taken.load(Ordering::Relaxed) >= quiet_sent
        {
            break;
        }
        // A consumer that stopped says why rather than leave the wait to its deadline.
        for consumer in [&mut quiet_consumer, &mut noisy_consumer] {
            if consumer.is_finished() {
                consumer.await??;
                bail!("a consumer of the floor's queues stopped");
            }
        }
        if Instant::now() > deadline {
            bail!("the floor's queues stopped delivering");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    quiet_consumer.abort();
    noisy_consumer.abort();

    let mut r = Report::new("broker-floor");
    r.put("noisy_rate_asked", o.rate as f64);
    r.put("noisy_batch", o.noisy_batch as f64);
    r.put("noisy_published_per_sec", noisy_sent as f64 / flood_s);
    r.put("quiet_rate_per_sec", QUIET_RATE as f64);
    let c = &mut *consumed.lock().await;
    for (name, values) in [
        ("quiet_confirm_alone", &mut confirm_alone),
        ("quiet_confirm_beside", &mut confirm_beside),
        ("quiet_consume_alone", &mut c.alone),
        ("quiet_consume_beside", &mut c.beside),
    ] {
        r.put(&format!("{name}_p50_ms"), percentile(values, 50.0));
        r.put(&format!("{name}_p99_ms"), percentile(values, 99.0));
    }
    r.put_cpu_since(&cpu_start);
    Ok(r)
}

/// The quiet publisher for `phase`: one message every 5 ms, stamped with its send time
/// and whether the flood runs, each publish and its confirm a task of its own; each
/// one's publish-to-confirm time (ms).
async fn quiet(
    conn: &Connection,
    queue: &str,
    phase: Duration,
    beside: bool,
) -> anyhow::Result<Vec<f64>> {
    let ch = conn.create_channel().await?;
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / QUIET_RATE));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let until = Instant::now() + phase;
    let mut sending = tokio::task::JoinSet::new();
    while Instant::now() < until {
        tick.tick().await;
        let body = format!(r#"{{"sent_at_us":{},"beside":{beside}}}"#, crate::now_us());
        let sent = Instant::now();
        let confirm = crate::amqp::publish(&ch, queue, body.as_bytes()).await?;
        sending.spawn(async move {
            crate::amqp::confirmed(vec![confirm]).await?;
            anyhow::Ok(sent.elapsed().as_secs_f64() * 1000.0)
        });
    }
    let mut ms = Vec::new();
    while let Some(done) = sending.join_next().await {
        ms.push(done??);
    }
    Ok(ms)
}

/// One noisy publisher: batches of `batch` messages at `rate` a second (`0`: as fast as
/// it can), each batch's confirms awaited together, until `stop`; how many it sent.
async fn noisy(
    ch: &lapin::Channel,
    queue: &str,
    publisher: usize,
    rate: f64,
    batch: usize,
    payload_bytes: usize,
    stop: &AtomicBool,
) -> anyhow::Result<usize> {
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    let pad = crate::filler(payload_bytes.saturating_sub(40));
    let start = Instant::now();
    let mut sent = 0;
    while !stop.load(Ordering::Relaxed) {
        if rate > 0.0 {
            // Paced from the start, so that a slow batch is made up for.
            let due = start + Duration::from_secs_f64(sent as f64 / rate);
            tokio::time::sleep_until(due.into()).await;
        }
        let mut confirms = Vec::with_capacity(batch);
        for i in sent..sent + batch {
            let body = format!(r#"{{"id":"n{publisher}-{i}","data":{{"pad":"{pad}"}}}}"#);
            confirms.push(crate::amqp::publish(ch, queue, body.as_bytes()).await?);
        }
        crate::amqp::confirmed(confirms).await?;
        sent += batch;
    }
    Ok(sent)
}

/// Consumes a queue, acking each message; counts them in `taken`, and for the quiet queue
/// keeps each one's publish-to-consume time by the phase it was sent in.
async fn drain(
    mut consumer: lapin::Consumer,
    quiet: Option<Arc<Mutex<Consumed>>>,
    taken: Arc<AtomicUsize>,
) -> anyhow::Result<()> {
    while let Some(delivery) = consumer.next().await {
        let delivery = delivery?;
        if let Some(consumed) = &quiet {
            let Some((at, beside)) = stamp(&delivery.data) else {
                bail!("a quiet message without its stamp");
            };
            let ms = (crate::now_us() - at) as f64 / 1000.0;
            let mut c = consumed.lock().await;
            match beside {
                false => c.alone.push(ms),
                true => c.beside.push(ms),
            }
        }
        delivery.acker.ack(BasicAckOptions::default()).await?;
        taken.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// A quiet message's send time (µs) and phase.
fn stamp(body: &[u8]) -> Option<(i64, bool)> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    Some((v.get("sent_at_us")?.as_i64()?, v.get("beside")?.as_bool()?))
}
