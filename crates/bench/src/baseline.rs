//! `baseline`: this machine's minimal durable delivery loop, none of hookpost's features,
//! so that every report can give hookpost's figure as a ratio to what the same minutes
//! allow (issue 21). Events are published with confirms to a queue of the bench's own;
//! a consumer signs each (HMAC-SHA1) and POSTs it to the bench's receiver over keep-alive
//! connections; each attempt becomes an 11-column row that a writer commits to
//! PostgreSQL in batches (`BEGIN`, `COPY`, `COMMIT`: up to 120 rows or 2 ms, with
//! `synchronous_commit` on), and only then are the batch's messages acked.
//!
//! It runs against the local RabbitMQ and PostgreSQL (`HOOKPOST_BENCH_DATABASE_URL`,
//! default `postgres://postgres@127.0.0.1:5432/postgres`), in a queue and a database
//! of its own that it removes at the end.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use hookpost_core::signing::SigningKey;
use lapin::options::{BasicAckOptions, ConfirmSelectOptions, QueueDeleteOptions};
use lapin::Acker;
use tokio::sync::{mpsc, Semaphore};

use crate::receiver::Receivers;
use crate::{Options, Report};

/// Rows a commit takes at most, and how long a batch waits for more.
const BATCH_ROWS: usize = 120;
const BATCH_WAIT: Duration = Duration::from_millis(2);
/// Attempts in flight, and unacked messages the consumer holds.
const IN_FLIGHT: usize = 64;
const PREFETCH: u16 = 512;

const TABLE: &str = "CREATE TABLE attempts (
    tenant_id text NOT NULL,
    delivery_id text NOT NULL,
    attempt int NOT NULL,
    event_id text NOT NULL,
    hook_id text NOT NULL,
    at timestamptz NOT NULL,
    duration_ms int NOT NULL,
    status int,
    outcome text NOT NULL,
    signature text NOT NULL,
    response text,
    PRIMARY KEY (tenant_id, delivery_id, attempt)
);
CREATE INDEX attempts_by_hook ON attempts (tenant_id, hook_id, at);";

/// One attempt, waiting for its batch's commit, and the message it acks then.
struct Row {
    line: String,
    acker: Acker,
}

pub async fn baseline(o: &Options) -> anyhow::Result<Report> {
    let rx = Receivers::start().await?;
    let db = Database::create().await?;
    let result = run(o, &rx, &db).await;
    db.drop().await?;
    result
}

async fn run(o: &Options, rx: &Receivers, db: &Database) -> anyhow::Result<Report> {
    let conn = crate::amqp::connect("bench-baseline").await?;
    let queue = crate::amqp::run_name("bench-baseline");
    let ch = conn.create_channel().await?;
    crate::amqp::declare(&ch, &queue).await?;

    // The CPU of the bench (the whole loop) and of RabbitMQ, beside hookpost's figures;
    // Redis takes no part.
    let cpu_start = crate::procstat::cpu_now(crate::procstat::processes(None, false));
    // Published while consumed, as a producer and a worker run side by side.
    let start = Instant::now();
    let producer = {
        let (publishing, queue) = (conn.create_channel().await?, queue.clone());
        let (n, payload_bytes) = (o.events, o.payload_bytes);
        tokio::spawn(async move {
            publish(&publishing, &queue, n, payload_bytes).await?;
            anyhow::Ok(start.elapsed())
        })
    };

    // The writer: batches of rows committed, then their messages acked.
    let (rows_tx, rows_rx) = mpsc::channel::<Row>(PREFETCH as usize * 2);
    let writer = tokio::spawn(write(db.client().await?, rows_rx, o.events));
    let (_consume_ch, mut consumer) =
        hookpost_broker::consume::open(&conn, &queue, "bench-baseline", PREFETCH).await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(IN_FLIGHT)
        .tcp_nodelay(true)
        .build()?;
    let key = SigningKey::from_secret("whsec_YmVuY2gtYmFzZWxpbmUtc2VjcmV0LWtleQ==");
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let url = rx.url("ok", 0);
    let mut taken = 0;
    while taken < o.events {
        let delivery =
            match tokio::time::timeout(Duration::from_secs(o.deadline_s), consumer.next()).await {
                Ok(Some(d)) => d?,
                _ => bail!("the baseline's queue stopped delivering after {taken} messages"),
            };
        taken += 1;
        let permit = slots.clone().acquire_owned().await?;
        let (http, key, url, rows) = (http.clone(), key.clone(), url.clone(), rows_tx.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let id = format!("d{}", delivery.delivery_tag);
            let signature = key.sha1_header(&delivery.data);
            let at = hookpost_core::now_ms();
            let sent = Instant::now();
            let answer = http
                .post(&url)
                .header("content-type", "application/json")
                .header("x-hook-id", &id)
                .header("x-hook-signature", &signature)
                .body(delivery.data)
                .send()
                .await;
            let (status, outcome) = match answer {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let _ = r.bytes().await;
                    (status.to_string(), "delivered")
                }
                Err(_) => ("\\N".to_owned(), "connect"),
            };
            let line = format!(
                "bench\t{id}\t1\te{id}\th0\t{}\t{}\t{status}\t{outcome}\t{signature}\t\\N\n",
                hookpost_core::rfc3339(at),
                sent.elapsed().as_millis()
            );
            let _ = rows
                .send(Row {
                    line,
                    acker: delivery.acker,
                })
                .await;
        });
    }
    drop(rows_tx);
    let published = producer.await??;
    let committed = writer.await??;
    let last = rx.seen.lock().expect("not poisoned").last_at;
    let elapsed = last.map_or(start.elapsed(), |l| l.duration_since(start));
    let mut r = Report::new("baseline");
    r.put("events", o.events as f64);
    r.put("publish_per_sec", o.events as f64 / published.as_secs_f64());
    r.put(
        "deliveries_per_sec",
        rx.distinct() as f64 / elapsed.as_secs_f64(),
    );
    r.put("rows_committed", committed as f64);
    let (received, duplicates) = {
        let seen = rx.seen.lock().expect("not poisoned");
        let duplicates: u32 = seen.ids.values().map(|n| n - 1).sum();
        (seen.ids.len(), duplicates)
    };
    r.put("lost", o.events.saturating_sub(received) as f64);
    r.put("duplicates", f64::from(duplicates));
    r.put_cpu_since(&cpu_start);
    ch.queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await?;
    hookpost_broker::close(&conn, "done").await;
    Ok(r)
}

/// Publishes `n` persistent messages to `queue`, confirms awaited in windows of 1,000.
async fn publish(
    ch: &lapin::Channel,
    queue: &str,
    n: usize,
    payload_bytes: usize,
) -> anyhow::Result<()> {
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    let pad = crate::filler(payload_bytes.saturating_sub(40));
    let mut sent = 0;
    while sent < n {
        let mut confirms = Vec::with_capacity(1000);
        for i in sent..(sent + 1000).min(n) {
            let body =
                format!(r#"{{"id":"e{i}","type":"ticket.created","data":{{"pad":"{pad}"}}}}"#);
            confirms.push(crate::amqp::publish(ch, queue, body.as_bytes()).await?);
        }
        sent += confirms.len();
        crate::amqp::confirmed(confirms).await?;
    }
    Ok(())
}

/// Commits rows in batches and acks each batch's messages after its `COMMIT` answered;
/// returns how many rows it committed.
async fn write(
    client: tokio_postgres::Client,
    mut rows: mpsc::Receiver<Row>,
    expected: usize,
) -> anyhow::Result<usize> {
    let mut committed = 0;
    while let Some(first) = rows.recv().await {
        let mut batch = vec![first];
        let until = tokio::time::Instant::now() + BATCH_WAIT;
        while batch.len() < BATCH_ROWS {
            match tokio::time::timeout_at(until, rows.recv()).await {
                Ok(Some(row)) => batch.push(row),
                _ => break,
            }
        }
        client.batch_execute("BEGIN").await?;
        let sink = client
            .copy_in("COPY attempts FROM STDIN")
            .await
            .context("COPY")?;
        let text: String = batch.iter().map(|r| r.line.as_str()).collect();
        let mut sink = Box::pin(sink);
        sink.send(bytes::Bytes::from(text)).await?;
        sink.as_mut().finish().await?;
        client.batch_execute("COMMIT").await?;
        for row in batch.drain(..) {
            row.acker.ack(BasicAckOptions::default()).await?;
            committed += 1;
        }
        if committed == expected {
            break;
        }
    }
    Ok(committed)
}

/// A database of the bench's own, dropped at the end.
struct Database {
    admin: tokio_postgres::Client,
    url: String,
    name: String,
}

impl Database {
    async fn create() -> anyhow::Result<Database> {
        let url = std::env::var("HOOKPOST_BENCH_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let admin = crate::stores::postgres(&url).await.context(
            "PostgreSQL does not answer (scripts/services starts it; set \
             HOOKPOST_BENCH_DATABASE_URL for another)",
        )?;
        let name = format!(
            "hookpost_bench_{}_{}",
            std::process::id(),
            hookpost_core::now_ms()
        );
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await?;
        let db = Database { admin, url, name };
        db.client().await?.batch_execute(TABLE).await?;
        Ok(db)
    }

    async fn client(&self) -> anyhow::Result<tokio_postgres::Client> {
        let mut config: tokio_postgres::Config = self.url.parse()?;
        config.dbname(&self.name);
        let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        Ok(client)
    }

    async fn drop(self) -> anyhow::Result<()> {
        self.admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await?;
        Ok(())
    }
}
