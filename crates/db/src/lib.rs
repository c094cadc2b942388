//! PostgreSQL, hookpost's system of record for the delivery log.
//!
//! - [`migrate`]: the schema, as migrations embedded in the binary, forward-only.
//! - [`partitions`]: a partition a day for events, deliveries and attempts, made ahead
//!   and dropped past the retention.
//! - [`writer`]: the worker's writes, group-committed: one transaction for every write
//!   that came while the last one committed.
//! - [`log`]: the log's reads, each one indexed query with keyset pagination.
//! - [`payload`]: an event's payload as stored, zstd-compressed when that pays.
//! - [`event_types`]: the event-type catalogue as data, and intake's cache of it.
//! - [`audit`]: the audit log of operators' actions.
//!
//! Redis keeps the hot path (the retry set, leases, limits, ordering, each delivery's
//! state for its next attempt); the log's truth is here.
#![forbid(unsafe_code)]

pub mod audit;
pub mod config;
mod enum_columns;
pub mod event_types;
mod group_pace;
mod id_keys;
pub mod log;
pub mod migrate;
pub mod parked;
pub mod partitions;
pub mod payload;
pub mod rebuild;
pub mod scratch;
mod signature_macs;
mod time;
pub mod writer;

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio::sync::mpsc;

pub use enum_columns::EnumColumn;
pub use id_keys::{DeliveryKey, HookKey};
pub use parked::Parked;
pub use payload::Payload;
pub use writer::{AttemptRow, Batch, DeliveryRow, EventRow};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("PostgreSQL: {}", said(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error("PostgreSQL: {0}")]
    Pool(String),
    /// The database's schema is not the one this build needs.
    #[error("{0}")]
    Schema(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// Redis, written through after PostgreSQL (tenants, keys, hooks).
    #[error(transparent)]
    Store(#[from] hookpost_store::StoreError),
    /// A group write's failure, as each write in the group sees it.
    #[error("PostgreSQL write: {0}")]
    Write(String),
    /// The failure of a read that others waited for, as each of them sees it.
    #[error("{0}")]
    Shared(String),
}

impl From<deadpool_postgres::PoolError> for DbError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => DbError::Postgres(e),
            other => DbError::Pool(other.to_string()),
        }
    }
}

pub type Result<T> = std::result::Result<T, DbError>;

/// What the server said (its message, not just "db error"), or the client's error.
fn said(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}

/// What the writer and the pool report (`hookpost_db_*` in `/metrics`).
#[derive(Clone)]
pub struct DbMetrics {
    /// Writes (one event's outcomes each) committed together.
    pub batch_size: prometheus::Histogram,
    /// From `BEGIN` to the `COMMIT`'s answer.
    pub commit_seconds: prometheus::Histogram,
    /// How long a read or write waited for a connection of the pool.
    pub pool_wait_seconds: prometheus::Histogram,
    /// Groups of first sights that found a row written before and went again by their
    /// keys (see [`writer`]).
    pub groups_again: prometheus::IntCounter,
}

/// How to reach the database.
#[derive(Clone, Debug)]
pub struct DbOptions {
    /// `HOOKPOST_DATABASE_URL`
    pub url: String,
    /// `HOOKPOST_DATABASE_POOL`: connections one process holds at most.
    pub pool_size: usize,
    /// `HOOKPOST_RETENTION`: writes of events older than this are not kept.
    pub retention: Duration,
    /// `HOOKPOST_AUDIT_RETENTION`: days of the audit log older than this are dropped.
    pub audit_retention: Duration,
    /// `HOOKPOST_DATABASE_WRITE_TIMEOUT`
    pub write_timeout: Duration,
}

impl DbOptions {
    pub fn of(config: &hookpost_core::Config) -> DbOptions {
        DbOptions {
            url: config.database_url.clone(),
            pool_size: config.database_pool,
            retention: config.retention,
            audit_retention: config.audit_retention,
            write_timeout: config.database_write_timeout,
        }
    }
}

/// A handle on the database: a connection pool and the group-commit writer. Cheap to
/// clone; every clone shares them.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    writes: mpsc::Sender<writer::Job>,
    metrics: Option<Arc<DbMetrics>>,
    retention: Duration,
    audit_retention: Duration,
    write_timeout: Duration,
    /// Each tenant's event types as intake checks them: one cache for every
    /// [`event_types::KnownTypes`] of this handle's clones (ingest and the worker in
    /// one process see a type change at once).
    types: Arc<event_types::Cache>,
}

impl Db {
    /// A pool on `opts.url` (connections are made when first needed) and its writer
    /// task. Must be called inside a tokio runtime.
    pub fn connect(opts: &DbOptions, metrics: Option<DbMetrics>) -> Result<Db> {
        let pool = pool(&opts.url, opts.pool_size, opts.write_timeout)?;
        let metrics = metrics.map(Arc::new);
        let (writes, jobs) = mpsc::channel(4096);
        let db = Db {
            pool,
            writes,
            metrics,
            retention: opts.retention,
            audit_retention: opts.audit_retention,
            write_timeout: opts.write_timeout,
            types: Arc::default(),
        };
        // The writer's own handle writes nowhere: were it to hold the queue's sender, the
        // queue (and the pool) would outlive every other handle.
        let own = Db {
            writes: mpsc::channel(1).0,
            ..db.clone()
        };
        tokio::spawn(writer::run(own, jobs));
        Ok(db)
    }

    /// A connection of the pool, its wait counted.
    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object> {
        let started = std::time::Instant::now();
        // deadpool's recycle already leaves a connection found closed behind.
        let client = self.pool.get().await?;
        if let Some(m) = &self.metrics {
            m.pool_wait_seconds.observe(started.elapsed().as_secs_f64());
        }
        Ok(client)
    }

    /// Whether a query would succeed now (`/readyz`).
    pub async fn ping(&self) -> Result<()> {
        self.client().await?.simple_query("SELECT 1").await?;
        Ok(())
    }
}

/// Checks a connection before it is handed out: one whose server or network went
/// silent (a half-open connection, which no error reports) is left behind instead of
/// holding the request that gets it until TCP gives up. One round trip per read; the
/// writer keeps a connection of its own, under its write timeout, and skips this.
fn answering(limit: Duration) -> deadpool_postgres::Hook {
    deadpool_postgres::Hook::async_fn(move |client, _| {
        Box::pin(async move {
            match tokio::time::timeout(limit, client.simple_query("")).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(deadpool_postgres::HookError::Backend(e)),
                Err(_) => Err(deadpool_postgres::HookError::message(
                    "a pooled connection did not answer",
                )),
            }
        })
    })
}

fn pool(url: &str, size: usize, check_limit: Duration) -> Result<Pool> {
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| DbError::Schema(format!("HOOKPOST_DATABASE_URL: {e}")))?;
    config.connect_timeout(Duration::from_secs(5));
    config.application_name("hookpost");
    let manager = Manager::from_config(
        config,
        tokio_postgres::NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size.max(2))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(5)))
        .create_timeout(Some(Duration::from_secs(5)))
        .recycle_timeout(Some(Duration::from_secs(5)))
        .pre_recycle(answering(check_limit))
        .build()
        .map_err(|e| DbError::Pool(e.to_string()))
}
