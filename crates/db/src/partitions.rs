//! One partition a day (UTC) of each partitioned table. [`upkeep`] makes the days from
//! the retention's start to two days ahead and drops the days wholly past the retention:
//! retention is a `DROP TABLE`, never a `DELETE`. The scheduler runs it every few
//! minutes; an advisory lock lets several schedulers do so safely.

use std::time::Duration;

use tokio_postgres::error::SqlState;
use tracing::{info, warn};

use crate::{Db, DbError, Result};

/// A partitioned table, its retention, and whether rows may be written with a time as
/// old as that (the log's: a retry of an old event), so that every day of the window
/// must exist, or only at their own time (the audit log's: from yesterday on suffices).
struct Table {
    name: &'static str,
    retention: Duration,
    back_to_retention: bool,
}

/// The log's tables by `event_at` under `HOOKPOST_RETENTION`; the audit log by `at`
/// under `HOOKPOST_AUDIT_RETENTION`.
fn tables(db: &Db) -> [Table; 4] {
    let log = |name| Table {
        name,
        retention: db.retention,
        back_to_retention: true,
    };
    [
        log("events"),
        log("deliveries"),
        log("attempts"),
        Table {
            name: "audit_log",
            retention: db.audit_retention,
            back_to_retention: false,
        },
    ]
}

/// Days made ahead of today: a scheduler may be down this long before writes fail.
const DAYS_AHEAD: i32 = 2;

/// What one [`upkeep`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Upkeep {
    pub created: usize,
    pub dropped: usize,
}

/// Makes the partitions the retention window and the next days need, and drops those
/// wholly older than the retention.
pub async fn upkeep(db: &Db) -> Result<Upkeep> {
    let mut client = db.client().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&crate::migrate::LOCK])
        .await?;
    let mut done = Upkeep::default();
    for Table {
        name: table,
        retention,
        back_to_retention,
    } in tables(db)
    {
        // The days from the one the retention starts in (or yesterday) to DAYS_AHEAD
        // after today.
        let behind = match back_to_retention {
            true => retention.as_secs().div_ceil(86_400) as i32,
            false => 1,
        };
        done.created += make_days(&tx, table, behind, retention).await?;
        for old in tx
            .query(EXPIRED, &[&table, &retention.as_secs_f64()])
            .await?
        {
            let name: &str = old.get(0);
            tx.batch_execute(&format!("DROP TABLE {name}")).await?;
            done.dropped += 1;
        }
    }
    tx.commit().await?;
    if done != Upkeep::default() {
        info!(
            created = done.created,
            dropped = done.dropped,
            "log partitions"
        );
    }
    Ok(done)
}

/// Makes `table`'s missing days from `behind` days before today to DAYS_AHEAD after it,
/// less those wholly older than `retention`; how many it made.
async fn make_days(
    tx: &tokio_postgres::Transaction<'_>,
    table: &str,
    behind: i32,
    retention: Duration,
) -> Result<usize> {
    let days = tx
        .query(DAYS, &[&behind, &DAYS_AHEAD, &retention.as_secs_f64()])
        .await?;
    let mut created = 0;
    for day in &days {
        let (suffix, from, to): (&str, &str, &str) = (day.get(0), day.get(1), day.get(2));
        let name = format!("{table}_p{suffix}");
        let exists: bool = tx
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
            .await?
            .get(0);
        if !exists {
            tx.batch_execute(&format!(
                "CREATE TABLE {name} PARTITION OF {table} \
                 FOR VALUES FROM ('{from} 00:00:00+00') TO ('{to} 00:00:00+00')"
            ))
            .await?;
            created += 1;
        }
    }
    Ok(created)
}

/// After a write failed: when it found no partition for its day (no scheduler has run
/// since the day began, or the database is new), makes them, so that the caller may try
/// once more; any other error comes back as it was.
pub(crate) async fn make_missing(db: &Db, failed: DbError) -> Result<()> {
    match &failed {
        DbError::Postgres(e) if e.code() == Some(&SqlState::CHECK_VIOLATION) => {
            warn!(error = %e, "a write found no partition; making them");
            upkeep(db).await.map(drop)
        }
        _ => Err(failed),
    }
}

/// Makes the audit log's days back to `oldest` (entries copied in from before), within
/// its retention.
pub(crate) async fn make_audit_days(db: &Db, oldest: std::time::SystemTime) -> Result<usize> {
    let age = oldest.elapsed().unwrap_or_default();
    let behind = (age.as_secs().div_ceil(86_400) + 1).min(36_500) as i32;
    let mut client = db.client().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&crate::migrate::LOCK])
        .await?;
    let created = make_days(&tx, "audit_log", behind, db.audit_retention).await?;
    tx.commit().await?;
    Ok(created)
}

/// Each day (its suffix, first date, next date) from `$1` days before today to `$2`
/// after it, less those wholly older than `$3` seconds.
const DAYS: &str =
    "SELECT to_char(d, 'YYYYMMDD'), to_char(d, 'YYYY-MM-DD'), to_char(d + 1, 'YYYY-MM-DD')
     FROM (SELECT (now() AT TIME ZONE 'UTC')::date - $1::int + i AS d
           FROM generate_series(0, $1::int + $2::int) AS i) AS days
     WHERE d + 1 > (now() AT TIME ZONE 'UTC') - make_interval(secs => $3)";

/// A table's daily partitions whose whole day is older than the retention.
const EXPIRED: &str =
    "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = to_regclass($1) AND c.relname ~ '_p[0-9]{8}$'
       AND to_date(right(c.relname, 8), 'YYYYMMDD') + 1
           <= (now() AT TIME ZONE 'UTC') - make_interval(secs => $2)";
