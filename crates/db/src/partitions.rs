//! One partition a day (UTC) of each partitioned table. [`upkeep`] makes the days from
//! the retention's start to two days ahead and drops the days wholly past the retention:
//! retention is a `DROP TABLE`, never a `DELETE`. The scheduler runs it every few
//! minutes; an advisory lock lets several schedulers do so safely.

use tracing::info;

use crate::{Db, Result};

/// The partitioned tables, all by `event_at`.
const TABLES: [&str; 3] = ["events", "deliveries", "attempts"];

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
    let retention = db.retention;
    let mut client = db.client().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&crate::migrate::LOCK])
        .await?;
    // The days from the one the retention starts in to DAYS_AHEAD after today.
    let behind = retention.as_secs().div_ceil(86_400) as i32;
    let days = tx
        .query(
            "SELECT to_char(d, 'YYYYMMDD'), to_char(d, 'YYYY-MM-DD'), to_char(d + 1, 'YYYY-MM-DD')
             FROM (SELECT (now() AT TIME ZONE 'UTC')::date - $1::int + i AS d
                   FROM generate_series(0, $1::int + $2::int) AS i) AS days
             WHERE d + 1 > (now() AT TIME ZONE 'UTC') - make_interval(secs => $3)",
            &[&behind, &DAYS_AHEAD, &retention.as_secs_f64()],
        )
        .await?;
    let mut done = Upkeep::default();
    for table in TABLES {
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
                done.created += 1;
            }
        }
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

/// A table's daily partitions whose whole day is older than the retention.
const EXPIRED: &str =
    "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = to_regclass($1) AND c.relname ~ '_p[0-9]{8}$'
       AND to_date(right(c.relname, 8), 'YYYYMMDD') + 1
           <= (now() AT TIME ZONE 'UTC') - make_interval(secs => $2)";
