//! Leases on the events this worker is processing, kept alive while it works.
//!
//! A lease is short, so that another worker takes over soon after this one dies; it is
//! renewed every third of its length, so that a live worker is never taken over, not
//! even when its broker connection was cut and RabbitMQ redelivered its messages: the
//! redelivered copy finds the event leased, waits, and then finds it done.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use hookpost_store::Store;
use tokio_util::sync::CancellationToken;
use tracing::warn;

/// How long an event stays leased without a renewal.
pub const LEASE: Duration = Duration::from_secs(10);
const RENEW_EVERY: Duration = Duration::from_millis(LEASE.as_millis() as u64 / 3);

/// The events held now: (tenant, event id) → how many handlers hold it.
#[derive(Default)]
pub struct Leases(Mutex<HashMap<(String, String), usize>>);

/// Held while one handler works on an event; dropping it stops the renewals.
pub struct Held<'a> {
    leases: &'a Leases,
    key: (String, String),
}

impl Leases {
    pub fn hold(&self, tenant: &str, event_id: &str) -> Held<'_> {
        let key = (tenant.to_owned(), event_id.to_owned());
        *self
            .0
            .lock()
            .expect("not poisoned")
            .entry(key.clone())
            .or_default() += 1;
        Held { leases: self, key }
    }

    fn held(&self) -> Vec<(String, String)> {
        self.0
            .lock()
            .expect("not poisoned")
            .keys()
            .cloned()
            .collect()
    }

    /// Renews every held lease until `cancel` fires.
    pub async fn keep_alive(&self, store: &Store, cancel: &CancellationToken) {
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(RENEW_EVERY) => {}
            }
            let held = self.held();
            let renewals = held
                .iter()
                .map(|(tenant, id)| store.set_event_lease(tenant, id, LEASE));
            for (result, (_, id)) in futures_util::future::join_all(renewals)
                .await
                .iter()
                .zip(&held)
            {
                if let Err(e) = result {
                    warn!(event_id = %id, error = %e, "could not renew an event's lease");
                }
            }
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let mut held = self.leases.0.lock().expect("not poisoned");
        if let Some(n) = held.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_held_until_its_last_holder_lets_go() {
        let leases = Leases::default();
        let a = leases.hold("t", "e1");
        let b = leases.hold("t", "e1");
        let c = leases.hold("t", "e2");
        assert_eq!(leases.held().len(), 2);
        drop(a);
        drop(c);
        assert_eq!(leases.held(), [("t".to_owned(), "e1".to_owned())]);
        drop(b);
        assert!(leases.held().is_empty());
    }
}
