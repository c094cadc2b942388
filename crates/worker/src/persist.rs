//! A durable write tried again over a short Redis or PostgreSQL outage.

use hookpost_core::labels::Role;
use hookpost_ops::Metrics;
use tracing::warn;

/// Tries of a durable write before the message is requeued (about 1.5 s of pauses).
const DURABLE_WRITE_TRIES: u32 = 5;

/// An error a durable write may outlast by trying again.
pub(crate) trait Transient: std::fmt::Display {
    fn transient(&self) -> bool;
    /// The error metric that counts it.
    fn errors<'a>(&self, m: &'a Metrics) -> &'a prometheus::IntCounterVec;
}

impl Transient for hookpost_store::StoreError {
    fn transient(&self) -> bool {
        true
    }
    fn errors<'a>(&self, m: &'a Metrics) -> &'a prometheus::IntCounterVec {
        &m.redis_errors
    }
}

impl Transient for hookpost_db::DbError {
    /// A schema the build does not know, or rows it cannot read, do not heal by waiting.
    fn transient(&self) -> bool {
        !matches!(
            self,
            hookpost_db::DbError::Schema(_) | hookpost_db::DbError::Corrupt(_)
        )
    }
    fn errors<'a>(&self, m: &'a Metrics) -> &'a prometheus::IntCounterVec {
        &m.db_errors
    }
}

/// Runs a durable write again over a short Redis outage before giving up. Giving up
/// requeues the message, and its redelivery redoes the attempts (duplicates for the
/// receivers); trying again only waits. Every such write is idempotent: the same retry
/// and the same attempt are stored once.
pub(crate) async fn persist<T, E, F, Fut>(metrics: &Metrics, mut write: F) -> Result<T, E>
where
    E: Transient,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let mut pause = std::time::Duration::from_millis(100);
    for _ in 1..DURABLE_WRITE_TRIES {
        match write().await {
            Ok(done) => return Ok(done),
            Err(e) if e.transient() => {
                e.errors(metrics)
                    .with_label_values(&[Role::Worker.as_str()])
                    .inc();
                warn!(error = %e, "could not store an outcome; trying again");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            Err(e) => return Err(e),
        }
    }
    write().await
}
