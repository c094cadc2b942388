//! Requests in flight per hook in this worker. A delivery waits briefly for a slot (a
//! fast hook frees one within milliseconds); when none frees up within the wait, the hook
//! is slow: its deliveries are deferred at once for a while, so that a slow or hanging
//! hook holds up neither the other hooks nor the messages that carry their deliveries.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a hook counts as slow after a wait for one of its slots ran out.
const SLOW_FOR: Duration = Duration::from_secs(10);

struct HookSlots {
    slots: Arc<Semaphore>,
    size: usize,
    /// Until when (ms) deliveries to this hook do not wait for a slot.
    slow_until: AtomicI64,
}

#[derive(Default)]
pub struct HookLimits {
    hooks: Mutex<HashMap<String, Arc<HookSlots>>>,
}

impl HookLimits {
    /// One of `size` slots at `hook_id`: at once if one is free; else, unless the hook is
    /// slow, within `wait`. `Err(ms)`: defer the delivery until then (the end of the
    /// hook's slow spell).
    pub async fn acquire(
        &self,
        hook_id: &str,
        size: usize,
        wait: Duration,
    ) -> Result<OwnedSemaphorePermit, i64> {
        let hook = self.slots(hook_id, size);
        if let Ok(permit) = hook.slots.clone().try_acquire_owned() {
            return Ok(permit);
        }
        let slow_until = hook.slow_until.load(Ordering::Relaxed);
        if slow_until > hookpost_core::now_ms() {
            return Err(slow_until);
        }
        match tokio::time::timeout(wait, hook.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => {
                let until = hookpost_core::now_ms() + SLOW_FOR.as_millis() as i64;
                hook.slow_until.store(until, Ordering::Relaxed);
                Err(until)
            }
        }
    }

    /// The hook's slots; new ones when its size changed (permits of the old ones still
    /// held are simply dropped later).
    fn slots(&self, hook_id: &str, size: usize) -> Arc<HookSlots> {
        let mut hooks = self.hooks.lock().expect("not poisoned");
        let entry = hooks
            .entry(hook_id.to_owned())
            .or_insert_with(|| new_slots(size));
        if entry.size != size {
            *entry = new_slots(size);
        }
        entry.clone()
    }
}

fn new_slots(size: usize) -> Arc<HookSlots> {
    Arc::new(HookSlots {
        slots: Arc::new(Semaphore::new(size)),
        size,
        slow_until: AtomicI64::new(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_millis(50);

    #[tokio::test]
    async fn limits_each_hook_on_its_own() {
        let l = HookLimits::default();
        let a1 = l.acquire("a", 2, WAIT).await;
        let a2 = l.acquire("a", 2, WAIT).await;
        assert!(a1.is_ok() && a2.is_ok());
        assert!(l.acquire("b", 2, WAIT).await.is_ok());
        assert!(l.acquire("a", 2, WAIT).await.is_err(), "full");
    }

    #[tokio::test]
    async fn a_slot_freed_within_the_wait_is_taken() {
        let l = Arc::new(HookLimits::default());
        let held = l.acquire("a", 1, WAIT).await.unwrap();
        let waiter = {
            let l = l.clone();
            tokio::spawn(async move { l.acquire("a", 1, Duration::from_secs(5)).await.is_ok() })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(held);
        assert!(waiter.await.unwrap());
    }

    #[tokio::test]
    async fn a_new_size_takes_effect() {
        let l = HookLimits::default();
        let _held = l.acquire("a", 1, WAIT).await.unwrap();
        assert!(l.acquire("a", 2, WAIT).await.is_ok(), "resized to 2");
    }

    #[tokio::test]
    async fn a_hook_that_stays_full_is_slow_and_not_waited_for() {
        let l = HookLimits::default();
        let _held = l.acquire("a", 1, WAIT).await.unwrap();
        assert!(
            l.acquire("a", 1, WAIT).await.is_err(),
            "waited, then gave up"
        );
        let started = std::time::Instant::now();
        assert!(l.acquire("a", 1, Duration::from_secs(5)).await.is_err());
        assert!(
            started.elapsed() < Duration::from_millis(20),
            "slow: no wait at all"
        );
    }
}
