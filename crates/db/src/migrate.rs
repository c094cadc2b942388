//! The schema: migrations embedded in the binary, numbered, applied in order, each
//! once, never edited once released. `hookpost admin migrate` (and `hookpost all`,
//! `hookpost admin init`) applies them; every other start checks the database is at this
//! build's version and refuses with a clear message otherwise.

use tokio_postgres::error::SqlState;
use tracing::info;

use crate::{Db, DbError, Result};

/// `(version, name, SQL)`, in order.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "delivery log", include_str!("migrations/0001_log.sql")),
    (
        2,
        "tenants, keys, hooks",
        include_str!("migrations/0002_config.sql"),
    ),
    (
        3,
        "status index without delivered",
        include_str!("migrations/0003_status_index.sql"),
    ),
    (
        4,
        "event types",
        include_str!("migrations/0004_event_types.sql"),
    ),
    (5, "audit log", include_str!("migrations/0005_audit.sql")),
    (
        6,
        "blocking deliveries",
        include_str!("migrations/0006_blocking.sql"),
    ),
    (
        7,
        "list indexes in ascending order",
        include_str!("migrations/0007_ascending_lists.sql"),
    ),
    (
        8,
        "first attempt in its delivery's row",
        include_str!("migrations/0008_first_attempt_inline.sql"),
    ),
    (
        9,
        "compressed event payloads",
        include_str!("migrations/0009_compressed_payloads.sql"),
    ),
    (
        10,
        "hook snapshots kept once",
        include_str!("migrations/0010_hook_snapshots.sql"),
    ),
    (
        11,
        "parked deliveries kept in their event's row",
        include_str!("migrations/0011_parked_in_event.sql"),
    ),
    (
        12,
        "events' trace context",
        include_str!("migrations/0012_event_traceparent.sql"),
    ),
    (
        13,
        "log keys in byte order",
        include_str!("migrations/0013_byte_order_keys.sql"),
    ),
    (
        14,
        "delivery ids as uuid, signatures as their MACs",
        include_str!("migrations/0014_delivery_ids_as_uuid.sql"),
    ),
    (
        15,
        "hook ids in the log as uuid, statuses and outcomes as enums",
        include_str!("migrations/0015_hook_ids_and_enums.sql"),
    ),
];

/// The schema version this build reads and writes.
pub const LATEST: i32 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// Serialises migrations and partition upkeep across processes ("hookpost" in ASCII).
pub(crate) const LOCK: i64 = 0x686f_6f6b_706f_7374;

const TABLE: &str = "CREATE TABLE IF NOT EXISTS hookpost_schema (
    version    integer PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now())";

/// What [`migrate`] did: the version before and after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migrated {
    pub from: i32,
    pub to: i32,
}

/// Applies the migrations the database lacks, in one transaction under an advisory
/// lock (several processes may start at once), then makes the partitions the days
/// around now need.
pub async fn migrate(db: &Db) -> Result<Migrated> {
    let mut client = db.client().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK])
        .await?;
    tx.batch_execute(TABLE).await?;
    let from: i32 = tx
        .query_one("SELECT coalesce(max(version), 0) FROM hookpost_schema", &[])
        .await?
        .get(0);
    refuse_newer(from)?;
    for (version, name, sql) in MIGRATIONS.iter().filter(|(v, _, _)| *v > from) {
        tx.batch_execute(sql).await?;
        if *version == crate::event_types::SEEDED_IN {
            crate::event_types::seed(&tx).await?;
        }
        tx.execute(
            "INSERT INTO hookpost_schema (version, name) VALUES ($1, $2)",
            &[version, name],
        )
        .await?;
        info!(version, name, "schema migration applied");
    }
    tx.commit().await?;
    drop(client);
    crate::partitions::upkeep(db).await?;
    Ok(Migrated { from, to: LATEST })
}

/// `Ok` when the database's schema is this build's; otherwise what to do about it.
pub async fn check(db: &Db) -> Result<()> {
    let client = db.client().await?;
    let version = match client
        .query_one("SELECT coalesce(max(version), 0) FROM hookpost_schema", &[])
        .await
    {
        Ok(row) => row.get(0),
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => 0,
        Err(e) => return Err(e.into()),
    };
    refuse_newer(version)?;
    if version < LATEST {
        return Err(DbError::Schema(format!(
            "the database schema is at version {version}, this hookpost needs {LATEST}: run `hookpost admin migrate` first"
        )));
    }
    Ok(())
}

fn refuse_newer(version: i32) -> Result<()> {
    if version > LATEST {
        return Err(DbError::Schema(format!(
            "the database schema is at version {version}, newer than this hookpost's {LATEST}: run a hookpost at least as new as the one that migrated it"
        )));
    }
    Ok(())
}

/// Creates the database `url` names when the server says it does not exist (a fresh
/// dev machine, a test's own database); `true` when it did. Needs the right to create
/// databases, which a managed database's owner may not have: it then says so.
pub async fn create_database(url: &str) -> Result<bool> {
    let config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| DbError::Schema(format!("HOOKPOST_DATABASE_URL: {e}")))?;
    match config.connect(tokio_postgres::NoTls).await {
        Ok(_) => return Ok(false),
        Err(e) if e.code() == Some(&SqlState::INVALID_CATALOG_NAME) => {}
        Err(e) => return Err(e.into()),
    }
    let name = config
        .get_dbname()
        .ok_or_else(|| DbError::Schema("HOOKPOST_DATABASE_URL names no database".into()))?
        .to_owned();
    let mut admin = config.clone();
    admin.dbname("postgres");
    let (client, connection) = admin.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let sql = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
    match client.batch_execute(&sql).await {
        Ok(()) => {}
        // Another process made it meanwhile.
        Err(e) if e.code() == Some(&SqlState::DUPLICATE_DATABASE) => return Ok(false),
        Err(e) => return Err(e.into()),
    }
    info!(database = name, "database created");
    Ok(true)
}

/// Drops the database `url` names, with whatever is connected to it (tests' own).
pub async fn drop_database(url: &str) -> Result<()> {
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| DbError::Schema(format!("HOOKPOST_DATABASE_URL: {e}")))?;
    let Some(name) = config.get_dbname().map(str::to_owned) else {
        return Ok(());
    };
    config.dbname("postgres");
    let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let sql = format!(
        "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
        name.replace('"', "\"\"")
    );
    client.batch_execute(&sql).await?;
    Ok(())
}
