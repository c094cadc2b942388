//! A durable write tried again over a short Redis or PostgreSQL outage.

use std::time::Duration;

use hookpost_core::labels::Role;
use hookpost_ops::Metrics;
use tokio::time::Instant;
use tracing::{debug, warn};

/// How long a durable write is tried again before its message is requeued. An outage of
/// Redis or PostgreSQL shorter than this costs a wait, not a second POST: the message is
/// held unacked (with its event's lease renewed), the prefetch fills, and RabbitMQ keeps
/// the rest. Well under RabbitMQ's delivery-ack timeout (30 minutes by default); a
/// stopping worker gives up at once (its handlers are abandoned after the grace).
const PATIENCE: Duration = Duration::from_secs(60);
/// The pause between tries grows from the first to this.
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const LONGEST_PAUSE: Duration = Duration::from_secs(2);

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

/// Runs a durable write again over a Redis or PostgreSQL outage, for up to [`PATIENCE`],
/// before giving up. Giving up requeues the message, and its redelivery redoes the
/// attempts (duplicates for the receivers); trying again only waits. Every such write is
/// idempotent: the same retry and the same attempt are stored once.
pub(crate) async fn persist<T, E, F, Fut>(metrics: &Metrics, mut write: F) -> Result<T, E>
where
    E: Transient,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let started = Instant::now();
    let mut pause = FIRST_PAUSE;
    let mut tries = 0u32;
    loop {
        match write().await {
            Ok(done) => return Ok(done),
            Err(e) if e.transient() && started.elapsed() + pause < PATIENCE => {
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
                pause = (pause * 2).min(LONGEST_PAUSE);
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

    /// A write failing with `error` for `outage`, then succeeding; its result and tries.
    async fn write_through(outage: Duration, error: Down) -> (Result<(), Down>, u32) {
        let metrics = Metrics::default();
        let (tries, until) = (AtomicU32::new(0), Instant::now() + outage);
        let result = persist(&metrics, || {
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
        (result, tries.into_inner())
    }

    #[tokio::test(start_paused = true)]
    async fn an_outage_shorter_than_the_patience_is_waited_out() {
        let (result, tries) = write_through(Duration::from_secs(20), Down(true)).await;
        assert!(result.is_ok());
        // 100 ms doubling to 2 s: 3.1 s in 5 tries, then one every 2 s.
        assert!((12..=16).contains(&tries), "{tries}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_longer_outage_gives_up_within_the_patience() {
        let started = Instant::now();
        let (result, _) = write_through(Duration::from_secs(3600), Down(true)).await;
        assert!(result.is_err());
        assert!(started.elapsed() <= PATIENCE, "{:?}", started.elapsed());
        assert!(started.elapsed() >= PATIENCE - LONGEST_PAUSE);
    }

    #[tokio::test(start_paused = true)]
    async fn an_error_that_waiting_cannot_heal_is_returned_at_once() {
        let (result, tries) = write_through(Duration::from_secs(3600), Down(false)).await;
        assert!(result.is_err());
        assert_eq!(tries, 1);
    }
}
