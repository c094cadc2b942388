//! hookpost's scheduler: moves due entries of the Redis retry set back to RabbitMQ.
//!
//! Each round claims a batch per shard atomically (a Lua script moves it to a claimed
//! set with a lease), publishes it with confirms, and only then forgets it. A scheduler
//! that dies between claim and forget loses nothing: the lease runs out and the next
//! claim takes the entries back. Two schedulers never claim the same entry.
#![forbid(unsafe_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use hookpost_broker::{Outgoing, Publisher, Topology};
use hookpost_core::labels::Role;
use hookpost_core::Config;
use hookpost_ops::{Metrics, Readiness, RoleChecks};
use hookpost_store::Store;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Why a round stopped; its claimed entries return when their lease ends.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("Redis: {0}")]
    Redis(#[source] hookpost_store::StoreError),
    #[error("RabbitMQ: {0}")]
    Broker(#[source] hookpost_broker::BrokerError),
}

/// How long a claim is held before another scheduler may take it back.
const CLAIM_LEASE: Duration = Duration::from_secs(30);
/// How often the retry-set gauges are refreshed.
const STATS_EVERY: Duration = Duration::from_secs(1);

pub struct Scheduler {
    config: Config,
    store: Store,
    /// PostgreSQL, whose log partitions this role keeps.
    db: hookpost_db::Db,
    publisher: Publisher,
    metrics: Arc<Metrics>,
    checks: RoleChecks,
    /// Held while this process puts back what a restarted Redis may lack.
    resyncing: Arc<tokio::sync::Mutex<()>>,
}

impl Scheduler {
    pub fn new(
        config: Config,
        store: Store,
        db: hookpost_db::Db,
        metrics: Arc<Metrics>,
        readiness: Readiness,
    ) -> Arc<Scheduler> {
        let publisher = Publisher::new(
            &config.amqp_url,
            "hookpost-scheduler",
            Topology::for_config(&config),
            config.connect_timeout,
        )
        .with_reconnect_hook(metrics.reconnect_counter(Role::Scheduler));
        Arc::new(Scheduler {
            checks: RoleChecks::new(Role::Scheduler, &readiness, &metrics),
            config,
            store,
            db,
            publisher,
            metrics,
            resyncing: Arc::default(),
        })
    }

    /// Claims and publishes one batch per shard; returns how many entries were moved.
    pub async fn round(&self) -> Result<usize, SchedulerError> {
        let mut moved = 0;
        let queue = self.publisher.topology().deliveries_queue.clone();
        for shard in 0..self.store.retry_shards() {
            let claimed = self
                .store
                .claim_due(
                    shard,
                    self.config.scheduler_batch,
                    CLAIM_LEASE.as_millis() as u64,
                )
                .await
                .map_err(|e| {
                    self.checks.redis(Err(&e));
                    SchedulerError::Redis(e)
                })?;
            self.checks.redis(Ok::<_, String>(()));
            if claimed.is_empty() {
                continue;
            }
            let msgs: Vec<Outgoing<'_>> = claimed
                .iter()
                .map(|m| Outgoing {
                    exchange: "",
                    routing_key: &queue,
                    body: m.as_bytes(),
                    message_id: None,
                    headers: &[],
                })
                .collect();
            // Not confirmed: the entries stay claimed and return when the lease ends.
            self.publisher.publish_all(&msgs).await.map_err(|e| {
                self.checks.broker(Err(&e));
                SchedulerError::Broker(e)
            })?;
            self.checks.broker(Ok::<_, String>(()));
            self.store
                .release(shard, &claimed)
                .await
                .map_err(SchedulerError::Redis)?;
            self.metrics.retries_claimed.inc_by(claimed.len() as u64);
            moved += claimed.len();
        }
        Ok(moved)
    }

    /// Reports the keyspace marker; when Redis came back empty, first puts back what
    /// PostgreSQL holds (one process rebuilds; the other roles wait for the marker), and
    /// when it came back from a restart with its data, what it may have lost of it.
    async fn keep_keyspace(&self) {
        let mut present = self.store.marker_present().await;
        if let Ok(false) = present {
            let rebuilds = &self.metrics.redis_rebuilds;
            if let Err(e) =
                hookpost_db::rebuild::rebuild_and_mark(&self.db, &self.store, rebuilds).await
            {
                warn!(error = %e, "could not rebuild Redis from PostgreSQL yet");
            }
            present = self.store.marker_present().await;
        } else if let Ok(true) = present {
            self.resync_in_background();
        }
        self.checks.keyspace(present);
    }

    /// Puts back what a restarted Redis may lack, in a task of its own: the roles go on
    /// meanwhile, and a long one must not hold back the retries coming due.
    fn resync_in_background(&self) {
        let Ok(held) = self.resyncing.clone().try_lock_owned() else {
            return; // one at a time in this process (and one at all, by the lock in Redis)
        };
        let (db, store, metrics) = (self.db.clone(), self.store.clone(), self.metrics.clone());
        tokio::spawn(async move {
            let resyncs = &metrics.redis_resyncs;
            if let Err(e) = hookpost_db::rebuild::resync_after_restart(&db, &store, resyncs).await {
                warn!(error = %e, "could not put back from PostgreSQL what a restarted Redis may lack yet");
            }
            drop(held);
        });
    }

    async fn refresh_stats(&self) {
        match self.store.retry_stats().await {
            Ok(stats) => {
                self.metrics.retry_set_size.set(stats.size as i64);
                self.metrics.retries_due.set(stats.due_now as i64);
                let lag = stats.oldest_late_ms.unwrap_or(0) as f64 / 1000.0;
                self.metrics.scheduler_lag.set(lag);
            }
            Err(e) => {
                warn!(error = %e, "could not read the retry set's size");
                self.checks.redis(Err(e));
            }
        }
        self.keep_keyspace().await;
        // The broker too, though there may be nothing to publish: a dead connection is
        // replaced now, not when retries come due, and `/readyz` says so meanwhile.
        self.checks.broker(self.publisher.ready().await);
    }
}

/// Runs rounds until `cancel` fires: back to back while there is work, otherwise every
/// `HOOKPOST_SCHEDULER_INTERVAL`.
pub async fn run(s: Arc<Scheduler>, cancel: CancellationToken) {
    s.checks.broker(s.publisher.ready().await);
    info!(shards = s.store.retry_shards(), "scheduler running");
    let partitions = tokio::spawn(keep_partitions(s.db.clone(), cancel.clone()));
    let mut last_stats: Option<Instant> = None;
    let mut backoff = s.config.scheduler_interval;
    loop {
        if last_stats.is_none_or(|t| t.elapsed() >= STATS_EVERY) {
            s.refresh_stats().await;
            last_stats = Some(Instant::now());
        }
        let pause = match s.round().await {
            Ok(0) => s.config.scheduler_interval,
            Ok(_) => {
                backoff = s.config.scheduler_interval;
                Duration::ZERO
            }
            Err(e) => {
                warn!(error = %e, "scheduler round failed; retrying");
                backoff = (backoff * 2).min(Duration::from_secs(5));
                backoff
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(pause) => {}
        }
    }
    partitions.abort();
    s.publisher.close().await;
    info!("scheduler stopped");
}

/// How often the log's partitions are looked after: days are made two ahead, so a
/// missed round or a scheduler down for hours costs nothing.
const PARTITIONS_EVERY: Duration = Duration::from_secs(600);

/// Makes the log's coming days and drops those past the retention, now and every
/// [`PARTITIONS_EVERY`] (several schedulers take turns through an advisory lock).
async fn keep_partitions(db: hookpost_db::Db, cancel: CancellationToken) {
    loop {
        let pause = match hookpost_db::partitions::upkeep(&db).await {
            Ok(_) => PARTITIONS_EVERY,
            Err(e) => {
                warn!(error = %e, "could not look after the log's partitions; trying again");
                Duration::from_secs(10)
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}
