//! The sender of delivered events' states queued for removal (the store's `removals`):
//! they go in bulk, off the delivery's path.

use std::time::Duration;

use hookpost_store::Store;
use tokio_util::sync::CancellationToken;
use tracing::warn;

/// How long a queued removal waits for others: under load, one `DEL` then carries the
/// states of every event delivered meanwhile.
const GATHER: Duration = Duration::from_millis(10);

/// Sends the queued removals while any are queued, until `cancel` fires; then once more,
/// since the handlers have ended by then: a clean stop leaves none behind.
pub async fn send(store: &Store, cancel: &CancellationToken) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = store.removals_queued() => {}
        }
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(GATHER) => {}
        }
        remove(store).await;
    }
    remove(store).await;
}

async fn remove(store: &Store) {
    if let Err(e) = store.remove_queued().await {
        warn!(error = %e, "could not remove delivered events' states; they are tried again");
    }
}
