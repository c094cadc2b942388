//! A durable write tried again over a short Redis or PostgreSQL outage.

use std::time::{Duration, Instant};

use hookpost_core::labels::Role;
use hookpost_ops::Metrics;
use tracing::{debug, warn};

/// How long a durable write is tried again before its message is requeued, and the
/// pauses between tries. An outage of Redis or PostgreSQL shorter than the patience
/// costs a wait, not a second POST: the message is held unacked (with its event's lease
/// renewed), the prefetch fills, and RabbitMQ keeps the rest.
#[derive(Clone, Copy)]
struct Patience {
    /// A minute: well under RabbitMQ's delivery-ack timeout (30 minutes by default); a
    /// stopping worker gives up at once (its handlers are abandoned after the grace).
    within: Duration,
    /// The first pause, doubled after each try up to `longest`.
    first: Duration,
    longest: Duration,
}

const PATIENCE: Patience = Patience {
    within: Duration::from_secs(60),
    first: Duration::from_millis(100),
    longest: Duration::from_secs(2),
};

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

/// Runs a durable write again over a Redis or PostgreSQL outage, for up to a minute
/// ([`PATIENCE`]), before giving up. Giving up requeues the message, and its redelivery
/// redoes the attempts (duplicates for the receivers); trying again only waits. Every
/// such write is idempotent: the same retry and the same attempt are stored once.
pub(crate) async fn persist<T, E, F, Fut>(metrics: &Metrics, write: F) -> Result<T, E>
where
    E: Transient,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    persist_with(PATIENCE, metrics, write).await
}

async fn persist_with<T, E, F, Fut>(
    patience: Patience,
    metrics: &Metrics,
    mut write: F,
) -> Result<T, E>
where
    E: Transient,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let started = Instant::now();
    let mut pause = patience.first;
    let mut tries = 0u32;
    loop {
        match write().await {
            Ok(done) => return Ok(done),
            Err(e) if e.transient() && started.elapsed() + pause < patience.within => {
                e.errors(metrics)
                    .with_label_values(&[Role::Worker.as_str()])
                    .inc();
                tries += 1;
                // One warning a write, not one a try: an outage holds a prefetch of them.
                if tries == 1 {
                    warn!(error = %e, "could not store an outcome; trying again until it can be");
                } else {
                    debug!(error = %e, tries, "could not store an outcome yet");
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(patience.longest);
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[derive(Debug)]
    struct Down(bool);

    impl std::fmt::Display for Down {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("down")
        }
    }

    impl Transient for Down {
        fn transient(&self) -> bool {
            self.0
        }
        fn errors<'a>(&self, m: &'a Metrics) -> &'a prometheus::IntCounterVec {
            &m.db_errors
        }
    }

    /// The real patience, a hundred times shorter.
    const SHORT: Patience = Patience {
        within: Duration::from_millis(600),
        first: Duration::from_millis(1),
        longest: Duration::from_millis(20),
    };

    /// A write failing with `error` for `outage`, then succeeding; its result and tries.
    async fn write_through(outage: Duration, error: Down) -> (Result<(), Down>, u32) {
        let metrics = Metrics::default();
        let (tries, until) = (AtomicU32::new(0), Instant::now() + outage);
        let result = persist_with(SHORT, &metrics, || {
            tries.fetch_add(1, Ordering::Relaxed);
            let up = Instant::now() >= until;
            let error = Down(error.0);
            async move {
                if up {
                    Ok(())
                } else {
                    Err(error)
                }
            }
        })
        .await;
        // Every try but the last was counted, as a try that will be made again.
        assert_eq!(
            metrics.db_errors.with_label_values(&["worker"]).get(),
            u64::from(tries.load(Ordering::Relaxed)) - 1
        );
        (result, tries.into_inner())
    }

    #[tokio::test]
    async fn an_outage_shorter_than_the_patience_is_waited_out() {
        let (result, tries) = write_through(Duration::from_millis(200), Down(true)).await;
        assert!(result.is_ok());
        // 1 ms doubling to 20 ms: 31 ms in 5 tries, then one every 20 ms or so.
        assert!((8..=16).contains(&tries), "{tries}");
    }

    #[tokio::test]
    async fn a_longer_outage_gives_up_within_the_patience() {
        let started = Instant::now();
        let (result, _) = write_through(Duration::from_secs(3600), Down(true)).await;
        assert!(result.is_err());
        let took = started.elapsed();
        assert!(took >= SHORT.within - SHORT.longest, "{took:?}");
        assert!(took < SHORT.within * 2, "{took:?}");
    }

    #[tokio::test]
    async fn an_error_that_waiting_cannot_heal_is_returned_at_once() {
        let (result, tries) = write_through(Duration::from_secs(3600), Down(false)).await;
        assert!(result.is_err());
        assert_eq!(tries, 1);
    }
}
