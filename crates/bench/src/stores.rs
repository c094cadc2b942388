//! What the stores spent on a run: Redis commands (`INFO commandstats`) and the memory
//! it grew by (`used_memory`: what a delivery leaves in Redis for the retention),
//! PostgreSQL's CPU (every `postgres` process, from `/proc`) and the bytes its database
//! grew by, so that each can be given per delivery.

use anyhow::Context;
use hookpost_store::Store;

/// The stores' counters at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreCounters {
    pub redis_commands: f64,
    pub redis_bytes: f64,
    pub postgres_cpu_s: f64,
    pub database_bytes: f64,
}

impl StoreCounters {
    /// Reads them now (a counter that cannot be read stays 0).
    pub async fn read(store: &Store, database_url: &str) -> StoreCounters {
        StoreCounters {
            redis_commands: redis_commands(store).await.unwrap_or(0.0),
            redis_bytes: redis_used_memory(store).await.unwrap_or(0.0),
            postgres_cpu_s: postgres_cpu_s(),
            database_bytes: database_bytes(database_url).await.unwrap_or(0.0),
        }
    }

    /// Per delivery since `start`, into the report.
    pub fn put(&self, start: &StoreCounters, deliveries: usize, report: &mut crate::Report) {
        let per = |v: f64| v / deliveries.max(1) as f64;
        report.put(
            "redis_commands_per_delivery",
            per(self.redis_commands - start.redis_commands),
        );
        report.put(
            "redis_bytes_per_delivery",
            per(self.redis_bytes - start.redis_bytes),
        );
        report.put(
            "postgres_cpu_us_per_delivery",
            per((self.postgres_cpu_s - start.postgres_cpu_s) * 1e6),
        );
        report.put(
            "postgres_bytes_per_delivery",
            per(self.database_bytes - start.database_bytes),
        );
    }
}

/// One section of Redis's `INFO`.
async fn info(store: &Store, section: &str) -> Option<String> {
    redis::cmd("INFO")
        .arg(section)
        .query_async(&mut store.conn())
        .await
        .ok()
}

/// Commands Redis has run since it started: the sum of `calls` over `INFO commandstats`.
pub(crate) async fn redis_commands(store: &Store) -> Option<f64> {
    let info = info(store, "commandstats").await?;
    Some(
        info.lines()
            .filter_map(|l| l.split("calls=").nth(1))
            .filter_map(|rest| rest.split(',').next()?.parse::<f64>().ok())
            .sum(),
    )
}

/// Redis's `used_memory` (bytes).
async fn redis_used_memory(store: &Store) -> Option<f64> {
    info(store, "memory")
        .await?
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))?
        .trim()
        .parse()
        .ok()
}

/// CPU seconds of every process named `postgres` (the server and its backends).
pub(crate) fn postgres_cpu_s() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .filter_map(crate::procstat::sample)
        // A backend that ended (a client that disconnected) counts in the postmaster's
        // reaped children's time, so that the sum never goes back.
        .map(|s| s.cpu_s + s.reaped_cpu_s)
        .sum()
}

/// A plain client of the database at `url`, its connection driven by a task of its own.
pub async fn postgres(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .context("connecting to PostgreSQL")?;
    tokio::spawn(connection);
    Ok(client)
}

/// The size of the run's database, tables and indexes, in bytes.
async fn database_bytes(url: &str) -> Option<f64> {
    let client = postgres(url).await.ok()?;
    let row = client
        .query_one("SELECT pg_database_size(current_database())::float8", &[])
        .await
        .ok()?;
    Some(row.get(0))
}
