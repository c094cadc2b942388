//! Whether an attempt may go now. In order: one of this worker's slots at the hook
//! (`max_in_flight`, or `HOOKPOST_HOOK_CONCURRENCY` when the hook sets none), one of the
//! hook's `max_in_flight` slots across every worker, and its `rate_limit`. A delivery
//! that may not go is deferred (not an attempt: the retry schedule is not touched), so
//! that it holds neither a worker's slot nor the message of an event for other hooks.

use std::time::Duration;

use hookpost_core::labels::DeferReason;
use hookpost_core::Config;
use hookpost_store::Store;

use crate::limits::HookLimits;
use hookpost_delivery::ReadyHook;
/// A short wait for the rate limit is slept through in place; a longer one defers.
const RATE_SLEEP: Duration = Duration::from_millis(250);
/// How often a hook's shared slots are asked again within `HOOKPOST_HOOK_WAIT`.
const SLOT_POLL: Duration = Duration::from_millis(20);

/// The gate: this worker's slots per hook, and the hooks' shared limits in Redis.
pub struct Gate {
    limits: HookLimits,
    store: Store,
    config: Config,
}

/// Leave to attempt: the slots taken, given back by [`Gate::release`].
pub struct Pass {
    local: crate::limits::Slot,
    shared: Option<String>,
}

impl Pass {
    /// The request got an answer after `took`: the hook is alive, however slow. True
    /// when the answer ended the hook's slow spell early: it only paused.
    pub fn answered(&self, took: Duration) -> bool {
        self.local.answered(took)
    }
}

/// Not now: defer until `at_ms`, for `reason` (a `hookpost_deliveries_deferred_total`
/// label).
pub struct Defer {
    pub at_ms: i64,
    pub reason: DeferReason,
}

impl Defer {
    /// Whether the delivery waits in its hook's backlog (the hook is slow) rather than
    /// going through the retry set (a control's limit, which has its own pace).
    pub fn waits_in_backlog(&self) -> bool {
        self.reason == DeferReason::HookConcurrency
    }
}

impl Gate {
    pub fn new(config: Config, store: Store) -> Self {
        Gate {
            limits: HookLimits::default(),
            store,
            config,
        }
    }

    /// Leave to attempt now, or when to come back.
    pub(crate) async fn pass(&self, tenant: &str, hook: &ReadyHook) -> Result<Pass, Defer> {
        let (h, c) = (&hook.hook, &hook.hook.controls);
        let local = self
            .limits
            .acquire(&h.id, self.local_slots(hook), self.config.hook_wait)
            .await
            .map_err(|slow_until| self.slow_hook(slow_until))?;
        let mut pass = Pass {
            local,
            shared: None,
        };
        if let Some(max) = c.max_in_flight {
            pass.shared = Some(self.shared_slot(tenant, &h.id, max).await?);
        }
        if let Some(limit) = c.rate_limit {
            if let Err(defer) = self.pace(tenant, &h.id, limit).await {
                self.release(tenant, hook, pass).await;
                return Err(defer);
            }
        }
        Ok(pass)
    }

    /// What [`Gate::pass`] would say at once of a hook that is slow now, without
    /// taking or waiting for anything; `None` when the gate must be asked.
    pub(crate) fn slow_now(&self, hook: &ReadyHook) -> Option<Defer> {
        self.limits
            .slow_now(&hook.hook.id, self.local_slots(hook))
            .map(|slow_until| self.slow_hook(slow_until))
    }

    /// How many requests this worker sends the hook at once.
    fn local_slots(&self, hook: &ReadyHook) -> usize {
        let max = hook.hook.controls.max_in_flight;
        max.map_or(self.config.hook_concurrency, |n| n as usize)
    }

    fn slow_hook(&self, slow_until: i64) -> Defer {
        Defer {
            // Back when the hook's slow spell ends (at least the defer delay), not every
            // second: a hanging hook's backlog must not churn the broker.
            at_ms: slow_until.max(self.later(self.config.defer_delay)),
            reason: DeferReason::HookConcurrency,
        }
    }

    /// Gives back what [`Gate::pass`] took.
    pub(crate) async fn release(&self, tenant: &str, hook: &ReadyHook, pass: Pass) {
        if let Some(token) = pass.shared {
            // On failure the slot's lease frees it.
            let _ = self.store.free_slot(tenant, &hook.hook.id, &token).await;
        }
    }

    /// One of the hook's `max` slots across every worker, asked again for a short while;
    /// its token.
    async fn shared_slot(&self, tenant: &str, hook_id: &str, max: u32) -> Result<String, Defer> {
        let token = hookpost_core::ids::random_id("slot");
        // Held a little longer than an attempt can take; a dead worker's slot frees then.
        let lease = self.config.request_timeout + Duration::from_secs(5);
        let asked = std::time::Instant::now();
        loop {
            match self
                .store
                .take_slot(tenant, hook_id, &token, max, lease)
                .await
            {
                Ok(true) => return Ok(token),
                Ok(false) if asked.elapsed() < self.config.hook_wait => {
                    tokio::time::sleep(SLOT_POLL).await
                }
                _ => {
                    return Err(Defer {
                        at_ms: self.later(self.config.defer_delay),
                        reason: DeferReason::MaxInFlight,
                    })
                }
            }
        }
    }

    /// Waits for the hook's rate limit, or says when to come back.
    async fn pace(
        &self,
        tenant: &str,
        hook_id: &str,
        limit: hookpost_core::controls::RateLimit,
    ) -> Result<(), Defer> {
        use hookpost_store::limits::Rate;
        loop {
            let defer_by = match self.store.rate(tenant, hook_id, limit, RATE_SLEEP).await {
                Ok(Rate::Go) => return Ok(()),
                Ok(Rate::Sleep(wait)) => {
                    tokio::time::sleep(wait).await;
                    continue;
                }
                Ok(Rate::Defer(line)) => line,
                Err(_) => self.config.defer_delay,
            };
            return Err(Defer {
                at_ms: self.later(defer_by),
                reason: DeferReason::RateLimit,
            });
        }
    }

    fn later(&self, by: Duration) -> i64 {
        hookpost_core::now_ms() + by.as_millis() as i64
    }
}
