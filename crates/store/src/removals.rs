//! Event states removed in bulk, off the delivery's path.
//!
//! The record of an event delivered at once removes its state key, the lease in it
//! ([`EventMark::DoneAndGone`]). Nothing has to wait for that removal: the log, written
//! before, is what makes the outcome durable, and a state left behind is harmless. A
//! duplicate that reaches the process holding the removal is told the event is done
//! ([`Removals::holds`]); one that reaches another finds the event busy under its
//! holder's lease, takes it over once the lease has run out, finds every delivery
//! decided in the log, and removes the state itself. A worker killed before its
//! removals went leaves the same.
//!
//! So the record queues the key and returns, and the worker sends what is queued every
//! few milliseconds ([`Store::remove_queued`]), one `DEL` per tenant (a tenant's keys
//! share a slot): under load one command and one round trip carry tens of keys, where
//! each delivery cost one of each.
//!
//! [`EventMark::DoneAndGone`]: crate::log::EventMark::DoneAndGone

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::{Result, Store};

/// Most keys one `DEL` names.
const MOST_A_COMMAND: usize = 512;

/// Most keys kept queued while Redis refuses them; past that, a failed send's keys are
/// given up (each is a state that a duplicate's take-over would remove).
const MOST_QUEUED: usize = 100_000;

/// State keys waiting for their removal, by tenant.
#[derive(Default)]
pub(crate) struct Removals {
    queued: Mutex<Queued>,
    /// Told when keys are queued, so that the sender sleeps while none are.
    waiting: Notify,
}

#[derive(Default)]
struct Queued {
    by_tenant: HashMap<String, Vec<String>>,
    /// The keys taken for the send under way: still held until Redis has removed them,
    /// so that a claim answered meanwhile is told the event is done.
    sending: Option<Arc<HashMap<String, Vec<String>>>>,
}

impl Removals {
    pub(crate) fn push(&self, tenant: &str, keys: impl IntoIterator<Item = String>) {
        let mut q = self.queued.lock().expect("not poisoned");
        match q.by_tenant.get_mut(tenant) {
            Some(queued) => queued.extend(keys),
            None => {
                q.by_tenant
                    .insert(tenant.to_owned(), keys.into_iter().collect());
            }
        }
        drop(q);
        self.waiting.notify_one();
    }

    /// Whether `key` of `tenant` waits for its removal here: its event was recorded
    /// done by this process.
    pub(crate) fn holds(&self, tenant: &str, key: &str) -> bool {
        let q = self.queued.lock().expect("not poisoned");
        let held = |map: &HashMap<String, Vec<String>>| {
            map.get(tenant)
                .is_some_and(|keys| keys.iter().any(|k| k == key))
        };
        held(&q.by_tenant) || q.sending.as_deref().is_some_and(held)
    }

    /// The queued keys, for a send: held as being sent until [`Removals::sent`].
    fn take(&self) -> Arc<HashMap<String, Vec<String>>> {
        let mut q = self.queued.lock().expect("not poisoned");
        let taken = Arc::new(std::mem::take(&mut q.by_tenant));
        q.sending = Some(taken.clone());
        taken
    }

    /// The send of `taken` is over: its keys are removed, or queued again.
    fn sent(&self, taken: &Arc<HashMap<String, Vec<String>>>) {
        let mut q = self.queued.lock().expect("not poisoned");
        if q.sending.as_ref().is_some_and(|s| Arc::ptr_eq(s, taken)) {
            q.sending = None;
        }
    }

    /// Puts back keys whose removal failed, within [`MOST_QUEUED`].
    fn put_back(&self, tenant: String, mut keys: Vec<String>) {
        let mut q = self.queued.lock().expect("not poisoned");
        let queued: usize = q.by_tenant.values().map(Vec::len).sum();
        keys.truncate(MOST_QUEUED.saturating_sub(queued));
        if !keys.is_empty() {
            q.by_tenant.entry(tenant).or_default().extend(keys);
        }
    }
}

impl Store {
    /// Resolves once a state has been queued for removal since the last call (at once if
    /// one was queued meanwhile): the worker's sender waits here while none are.
    pub async fn removals_queued(&self) {
        self.removals.waiting.notified().await;
    }

    /// Removes the states queued so far, one `DEL` per tenant, sent together. Those
    /// that fail are queued again for the next send, and the first error is returned.
    pub async fn remove_queued(&self) -> Result<()> {
        let queued = self.removals.take();
        let sends = queued.iter().map(|(tenant, keys)| async move {
            for chunk in keys.chunks(MOST_A_COMMAND) {
                let sent: redis::RedisResult<()> = redis::cmd("DEL")
                    .arg(chunk)
                    .query_async(&mut self.conn())
                    .await;
                if let Err(e) = sent {
                    // Removing a key twice is harmless: the whole tenant's go back.
                    self.removals.put_back(tenant.clone(), keys.clone());
                    return Err(e);
                }
            }
            Ok(())
        });
        let sent = futures_util::future::join_all(sends).await;
        self.removals.sent(&queued);
        sent.into_iter().collect::<redis::RedisResult<()>>()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_held_and_taken_by_tenant_and_put_back_within_the_bound() {
        let r = Removals::default();
        r.push("a", ["k1".into()]);
        r.push("b", ["k2".into()]);
        r.push("a", ["k3".into()]);
        assert!(r.holds("a", "k3") && !r.holds("b", "k1") && !r.holds("c", "k1"));
        let taken = r.take();
        assert_eq!(taken["a"], ["k1", "k3"]);
        assert_eq!(taken["b"], ["k2"]);
        assert!(r.holds("a", "k3"), "held while it is being sent");
        r.sent(&taken);
        assert!(!r.holds("a", "k3"));
        let nothing = r.take();
        assert!(nothing.is_empty());
        r.sent(&nothing);

        let many: Vec<String> = (0..MOST_QUEUED + 10).map(|i| i.to_string()).collect();
        r.put_back("a".into(), many);
        r.put_back("b".into(), vec!["x".into()]);
        let taken = r.take();
        assert_eq!(taken["a"].len(), MOST_QUEUED);
        assert!(!taken.contains_key("b"), "no room left for it");
    }
}
