//! Starting hookpost's roles. The binary and the tests both come through [`start`], so
//! `hookpost all` runs exactly the `run` functions the single-role processes run.
#![forbid(unsafe_code)]

pub mod ops_client;

use std::net::SocketAddr;
use std::sync::Arc;

use hookpost_core::labels::Role;
use hookpost_core::Config;
use hookpost_db::{Db, DbOptions};
use hookpost_ops::{Metrics, Readiness, RoleChecks};
use hookpost_store::{Store, StoreOptions};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Which roles one process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    pub ingest: bool,
    pub worker: bool,
    pub scheduler: bool,
}

impl Roles {
    pub const ALL: Roles = Roles {
        ingest: true,
        worker: true,
        scheduler: true,
    };
    pub const INGEST: Roles = Roles {
        ingest: true,
        worker: false,
        scheduler: false,
    };
    pub const WORKER: Roles = Roles {
        ingest: false,
        worker: true,
        scheduler: false,
    };
    pub const SCHEDULER: Roles = Roles {
        ingest: false,
        worker: false,
        scheduler: true,
    };
}

/// A started process: its addresses, and its tasks (a role that ends ends the process).
pub struct Running {
    /// The API (when ingest runs); `/metrics` and `/readyz` too with `HOOKPOST_OPS_ON_API`.
    pub http_addr: Option<SocketAddr>,
    /// `/metrics`, `/healthz`, `/readyz` of every role (when given a listener).
    pub metrics_addr: Option<SocketAddr>,
    pub metrics: Arc<Metrics>,
    pub readiness: Readiness,
    pub store: Store,
    pub db: Db,
    pub tasks: JoinSet<()>,
    pub cancel: CancellationToken,
}

impl Running {
    /// Cancels every role and waits for them to stop.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Opens the store described by `config`.
pub fn store(config: &Config) -> Result<Store, hookpost_store::StoreError> {
    Store::connect(&StoreOptions::of(config))
}

/// Opens the database described by `config` (inside a tokio runtime), its writes and
/// pool counted in `metrics`.
pub fn db(config: &Config, metrics: Option<&Metrics>) -> Result<Db, hookpost_db::DbError> {
    let metrics = metrics.map(|m| hookpost_db::DbMetrics {
        batch_size: m.db_batch_size.clone(),
        commit_seconds: m.db_commit_seconds.clone(),
        pool_wait_seconds: m.db_pool_wait_seconds.clone(),
        groups_again: m.db_groups_again.clone(),
    });
    Db::connect(&DbOptions::of(config), metrics)
}

/// Brings the database up to this build's schema (`hookpost admin migrate`), creating
/// it first when the server has no such database: what `hookpost all` and `hookpost
/// admin init` do too. A deployment whose tenants, keys and hooks were in Redis alone
/// has them copied in (once: while the tables hold no tenant).
pub async fn migrate(
    config: &Config,
) -> Result<hookpost_db::migrate::Migrated, hookpost_db::DbError> {
    hookpost_db::migrate::create_database(&config.database_url).await?;
    migrate_with(config, &db(config, None)?).await
}

/// [`migrate`] through `db`, on a database that exists.
async fn migrate_with(
    config: &Config,
    db: &Db,
) -> Result<hookpost_db::migrate::Migrated, hookpost_db::DbError> {
    let migrated = hookpost_db::migrate::migrate(db).await?;
    // Redis may be down while the schema is brought up: the copies wait for the next run.
    let store = store(config)?;
    match db.import_config(&store).await {
        Ok(imported) if imported.tenants > 0 => info!(
            tenants = imported.tenants,
            keys = imported.keys,
            hooks = imported.hooks,
            "tenants, keys and hooks copied from Redis into PostgreSQL"
        ),
        Ok(_) => {}
        Err(e) => {
            warn!(error = %e, "could not look for tenants to copy from Redis yet; `hookpost admin migrate` tries again")
        }
    }
    let audit = match store.legacy_audit_entries().await {
        Ok(entries) => db.import_audit(&entries).await,
        Err(e) => Err(e.into()),
    };
    match audit {
        Ok(0) => {}
        Ok(n) => info!(
            entries = n,
            "the audit log copied from Redis into PostgreSQL"
        ),
        Err(e) => {
            warn!(error = %e, "could not look for an audit log to copy from Redis yet; `hookpost admin migrate` tries again")
        }
    }
    Ok(migrated)
}

/// Sets the keyspace up (`hookpost admin init`, after [`migrate`]): puts back what
/// PostgreSQL holds, then writes the marker; `false` when the marker was there (or another
/// process is writing it) and nothing was done.
pub async fn init_keyspace(config: &Config) -> Result<bool, hookpost_db::DbError> {
    let (store, db) = (store(config)?, db(config, None)?);
    let metrics = Metrics::new();
    hookpost_db::rebuild::rebuild_and_mark(&db, &store, &metrics.redis_rebuilds).await
}

/// Re-seals every hook of every tenant under the current `HOOKPOST_SECRET_KEY` key
/// (`hookpost admin rotate-secret-key`): safe to run while hookpost runs, and again.
pub async fn rotate_secret_key(
    config: &Config,
) -> Result<hookpost_store::hooks::Resealed, hookpost_db::DbError> {
    let store = store(config)?;
    let db = db(config, None)?;
    let mut total = hookpost_store::hooks::Resealed::default();
    for tenant in db.tenant_ids().await? {
        total += db.reseal_hooks(&store, &tenant).await?;
    }
    Ok(total)
}

/// Starts `roles`. `http` is the API's listener (required with ingest); `ops` serves
/// metrics and health (optional; ingest serves them on `http` with `ops_on_api`).
pub async fn start(
    config: Config,
    roles: Roles,
    http: Option<TcpListener>,
    ops: Option<TcpListener>,
    cancel: CancellationToken,
) -> std::io::Result<Running> {
    config
        .check_to_start(roles.ingest)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    let store = store(&config).map_err(std::io::Error::other)?;
    let metrics = Arc::new(Metrics::new());
    let started = [
        (Role::Ingest, roles.ingest),
        (Role::Worker, roles.worker),
        (Role::Scheduler, roles.scheduler),
    ];
    for (role, _) in started.iter().filter(|(_, on)| *on) {
        metrics.role_started(*role);
    }
    let readiness = Readiness::default();
    // PostgreSQL holds the log: `hookpost all` brings its schema up to date by itself;
    // the separate roles refuse a schema other than theirs (`hookpost admin migrate`).
    let invalid = |e: hookpost_db::DbError| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string())
    };
    if roles == Roles::ALL {
        hookpost_db::migrate::create_database(&config.database_url)
            .await
            .map_err(invalid)?;
    }
    let db = db(&config, Some(&metrics)).map_err(invalid)?;
    if roles == Roles::ALL {
        migrate_with(&config, &db).await.map_err(invalid)?;
    }
    hookpost_db::migrate::check(&db).await.map_err(invalid)?;
    hookpost_db::event_types::add_configured(&db, config.event_types.extras())
        .await
        .map_err(invalid)?;
    // `hookpost all` sets up its keyspace before it starts, first putting back what
    // PostgreSQL holds (a Redis that came back empty). With separate roles the scheduler
    // does it (and again whenever Redis comes back empty); the others wait, not ready,
    // for the marker.
    if roles == Roles::ALL {
        match hookpost_db::rebuild::rebuild_and_mark(&db, &store, &metrics.redis_rebuilds).await {
            Ok(true) => info!("keyspace marker written: this Redis is now hookpost's"),
            Ok(false) => {}
            Err(e) => {
                warn!(error = %e, "could not check the keyspace marker yet; Redis unreachable")
            }
        }
    }
    check_persistence(&store, &metrics, &readiness).await;
    // Every role declares the event queues, so every role records how many there are:
    // when the count is lowered later, workers drain the shards above it.
    if let Err(e) = store.queue_shards_seen(config.queue_shards).await {
        warn!(error = %e, "could not record the queue shard count yet; Redis unreachable");
    }
    let mut tasks = JoinSet::new();
    let mut running = Running {
        http_addr: None,
        metrics_addr: None,
        metrics: metrics.clone(),
        readiness: readiness.clone(),
        store: store.clone(),
        db: db.clone(),
        tasks: JoinSet::new(),
        cancel: cancel.clone(),
    };
    // One HTTP client for the process: its connection pool, TLS roots and egress policy
    // serve the worker's deliveries and ingest's test sends alike.
    let sender = hookpost_delivery::Sender::new(&config);
    if roles.worker {
        let worker = hookpost_worker::Worker::new(
            config.clone(),
            store.clone(),
            db.clone(),
            sender.clone(),
            metrics.clone(),
            RoleChecks::new(Role::Worker, &readiness, &metrics),
        );
        let c = cancel.clone();
        tasks.spawn(async move {
            // Logged by the worker; the role's end stops the process with an error.
            let _ = hookpost_worker::run(worker, c).await;
        });
    }
    if roles.scheduler {
        let scheduler = hookpost_scheduler::Scheduler::new(
            config.clone(),
            store.clone(),
            db.clone(),
            metrics.clone(),
            readiness.clone(),
        );
        tasks.spawn(hookpost_scheduler::run(scheduler, cancel.clone()));
    }
    if roles.ingest {
        let listener =
            http.ok_or_else(|| std::io::Error::other("ingest needs an HTTP listener"))?;
        running.http_addr = Some(listener.local_addr()?);
        let state = hookpost_service::AppState::new(
            config.clone(),
            store.clone(),
            db.clone(),
            sender.clone(),
            metrics.clone(),
            readiness.clone(),
        );
        // The web console is served beside the API, by the same process and state, its
        // requests counted like the API's.
        let console = hookpost_console::routes(state.clone()).layer(
            axum::middleware::from_fn_with_state(state.clone(), hookpost_ingest::count_requests),
        );
        let app = hookpost_ingest::router(state.clone()).merge(console);
        let c = cancel.clone();
        tasks.spawn(async move {
            if let Err(e) = hookpost_ingest::run(listener, state, app, c).await {
                warn!(error = %e, "the API server stopped");
            }
        });
    }
    if let Some(listener) = ops {
        running.metrics_addr = Some(listener.local_addr()?);
        let router = hookpost_ops::health::routes(metrics.clone(), readiness.clone());
        let (c, limits) = (cancel.clone(), hookpost_ops::HttpLimits::of(&config));
        tasks.spawn(async move {
            if let Err(e) = hookpost_ops::serve(listener, router, limits, c).await {
                warn!(error = %e, "the metrics server stopped");
            }
        });
    }
    tasks.spawn(probe_database(db, readiness.clone(), cancel.clone()));
    running.tasks = tasks;
    Ok(running)
}

/// Starts lane `lane` (from 1) of a worker process beside the one [`start`] started: a
/// worker of its own, with its own connections to RabbitMQ, Redis and the receivers, on
/// a thread of its own that runs a one-thread runtime, so that none of its tasks is
/// handed to another thread or wakes one (`HOOKPOST_THREADS`). It shares the process's
/// PostgreSQL pool and log writer, so that the lanes' writes are committed in the same
/// groups, and its metrics, readiness and stop. `config` is the lane's share
/// ([`Config::lane_share`]). Its end is a task of `running`: it ends the process as the
/// first lane's would, and a stop waits for its messages to settle.
pub fn start_worker_lane(
    config: Config,
    lane: usize,
    running: &mut Running,
) -> std::io::Result<()> {
    // The lane's checks are expected before its thread starts: `/readyz` is not ready
    // until every lane has reported.
    let (metrics, readiness) = (&running.metrics, &running.readiness);
    let shared = Shared {
        store: running.store.clone(),
        db: running.db.clone(),
        checks: RoleChecks::of_lane(Role::Worker, lane, readiness, metrics),
        metrics: metrics.clone(),
        cancel: running.cancel.clone(),
    };
    let (ended_tx, ended) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name(format!("worker-lane-{}", lane + 1))
        .spawn(move || {
            match runtime(1) {
                Ok(runtime) => runtime.block_on(run_worker_lane(config, lane, shared)),
                Err(e) => {
                    warn!(error = %e, lane = lane + 1, "a worker lane's runtime did not start")
                }
            }
            drop(ended_tx);
        })?;
    running.tasks.spawn(async move {
        let _ = ended.await;
    });
    Ok(())
}

/// The async runtime of `threads` threads. With one, every task runs on the thread
/// that runs it: none is handed to another thread and none wakes one, which made the
/// worker spend a fifth less CPU a delivery than two threads did on a 2-core host
/// (docs/benchmarks.md, 2026-12-06); a worker therefore runs its threads as lanes
/// ([`start_worker_lane`]).
pub fn runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = match threads {
        1 => tokio::runtime::Builder::new_current_thread(),
        n => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(n);
            b
        }
    };
    builder.enable_all().build()
}

/// What a worker lane shares with the rest of its process.
struct Shared {
    /// The first lane's store: a lane's own shares what the process remembers.
    store: Store,
    db: Db,
    metrics: Arc<Metrics>,
    checks: RoleChecks,
    cancel: CancellationToken,
}

async fn run_worker_lane(config: Config, lane: usize, shared: Shared) {
    let store = match shared.store.lane() {
        Ok(store) => store,
        Err(e) => return warn!(error = %e, lane = lane + 1, "a worker lane could not start"),
    };
    let sender = hookpost_delivery::Sender::new(&config);
    let (db, metrics, checks) = (shared.db, shared.metrics, shared.checks);
    let worker = hookpost_worker::Worker::new(config, store, db, sender, metrics, checks);
    // Logged by the worker; the lane's end stops the process with an error.
    let _ = hookpost_worker::run(worker, shared.cancel).await;
}

/// `/readyz`'s `postgres` check.
const POSTGRES_CHECK: &str = "postgres";

/// Pings PostgreSQL once through the pool the requests use; a ping that gets no answer
/// in 5 s is a failure.
async fn ping_database(db: &Db, readiness: &Readiness) {
    let limit = std::time::Duration::from_secs(5);
    match tokio::time::timeout(limit, db.ping()).await {
        Ok(Ok(())) => readiness.ok(POSTGRES_CHECK),
        Ok(Err(e)) => readiness.fail(POSTGRES_CHECK, e.to_string()),
        Err(_) => readiness.fail(POSTGRES_CHECK, "PostgreSQL did not answer within 5 s"),
    }
}

/// Keeps `/readyz`'s `postgres` check current: ready only while a query succeeds, as of
/// the last second and again each time `/readyz` is asked.
async fn probe_database(db: Db, readiness: Readiness, cancel: CancellationToken) {
    readiness.expect(&[POSTGRES_CHECK]);
    let (on_ask, r) = (db.clone(), readiness.clone());
    readiness.probe_on_ask(std::sync::Arc::new(move || {
        let (db, readiness) = (on_ask.clone(), r.clone());
        Box::pin(async move { ping_database(&db, &readiness).await })
    }));
    loop {
        // A stop never waits for a ping.
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = ping_database(&db, &readiness) => {}
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
    }
}

/// Reads what Redis keeps on disk and says so: one warning when it keeps nothing (a
/// restart would empty it), in the log, `/readyz` and `hookpost_redis_persistence`. A
/// warning, not a refusal: dev machines run a volatile Redis.
async fn check_persistence(store: &Store, metrics: &Metrics, readiness: &Readiness) {
    use hookpost_store::marker::Persistence;
    match store.persistence().await {
        Ok(mode) => {
            for m in ["aof_always", "aof", "snapshots", "none"] {
                metrics
                    .redis_persistence
                    .with_label_values(&[m])
                    .set(i64::from(m == mode.as_str()));
            }
            let why = match mode {
                Persistence::None => "Redis keeps nothing on disk: a restart empties it, deliveries wait until it is rebuilt from PostgreSQL, and event-id deduplication, rate limits and console sessions start afresh; run it with appendonly yes",
                Persistence::Snapshots => "Redis keeps only snapshots: a crash loses the writes since the last one, which are made whole from PostgreSQL; run it with appendonly yes",
                Persistence::Aof { .. } => {
                    info!(mode = mode.as_str(), "Redis persistence");
                    return;
                }
            };
            warn!("{why}");
            readiness.warn("redis_persistence", why);
        }
        // CONFIG may be disabled on managed Redis; nothing to report then.
        Err(e) => info!(error = %e, "could not read Redis's persistence settings"),
    }
}
