//! The attempter: one signed POST of one delivery, and what follows from its answer.

use std::sync::Arc;

use hookpost_core::delivery::body;
use hookpost_core::outcome::Attempt;
use hookpost_core::{signing, Config};
use hookpost_ops::Metrics;
use hookpost_store::log::Status;
use hookpost_store::retries::Due;
use tokio::sync::Semaphore;

use crate::context::AttemptCtx;
use crate::hooks_cache::ReadyHook;
use crate::sender::{Envelope, Sender};

/// Sends attempts, at most `HOOKPOST_CONCURRENCY` at once in this worker.
pub struct Attempter {
    sender: Sender,
    in_flight: Semaphore,
    metrics: Arc<Metrics>,
    config: Config,
}

impl Attempter {
    pub fn new(config: Config, metrics: Arc<Metrics>) -> Self {
        Attempter {
            sender: Sender::new(&config),
            in_flight: Semaphore::new(config.concurrency),
            metrics,
            config,
        }
    }

    /// Signs and sends the delivery's attempt.
    pub(crate) async fn send(&self, ctx: &AttemptCtx<'_>) -> Attempt {
        let (ev, hook, id) = (ctx.ev, ctx.hook, &ctx.delivery.id);
        let _permit = self.in_flight.acquire().await.expect("never closed");
        let bytes = body(
            id,
            ev.kind,
            ev.received_at,
            &ctx.delivery.hook_json,
            ev.data,
        );
        let now = hookpost_core::now_ms();
        let timestamp = now / 1000;
        let envelope = Envelope {
            delivery_id: id,
            event_type: ev.kind,
            attempt: ctx.n,
            timestamp,
            signatures: Some(signing::sign(
                &hook.key,
                hook.previous_key(now),
                id,
                timestamp,
                &bytes,
            )),
            headers: &hook.headers,
        };
        self.metrics.in_flight.inc();
        let attempt = self.sender.send(&hook.url, bytes, &envelope).await;
        self.metrics.in_flight.dec();
        let accepted = (!ctx.resend).then_some(ev.received_at);
        self.metrics.attempt_made(&attempt, accepted);
        attempt
    }

    /// The delivery's status after `attempt`, and its next attempt's task if any.
    pub(crate) fn follow_up(
        &self,
        ctx: &AttemptCtx<'_>,
        attempt: &Attempt,
    ) -> (Status, Option<Due>) {
        if attempt.delivered() {
            (Status::Delivered, None)
        } else if attempt.status == Some(410) {
            // The receiver says the hook is gone for good: no retries, and the hook is
            // deactivated once this is recorded.
            self.metrics.deliveries_failed.inc();
            (Status::Failed, None)
        } else if let Some(delay) = self.next_delay(ctx.hook, ctx.n, attempt) {
            let at = hookpost_core::now_ms() + delay.as_millis() as i64;
            (Status::Retrying, Some(ctx.task(ctx.n + 1, at)))
        } else {
            self.metrics.deliveries_failed.inc();
            (Status::Failed, None)
        }
    }

    /// The delay before attempt `n + 1`: the hook's schedule's (or the deployment's), or
    /// the receiver's `Retry-After` (on 429 and 503, capped) when it gave one; `None` when
    /// `n` was the last attempt.
    fn next_delay(
        &self,
        hook: &ReadyHook,
        n: u32,
        attempt: &Attempt,
    ) -> Option<std::time::Duration> {
        let schedule = hook.retry.as_ref().unwrap_or(&self.config.retry_schedule);
        let scheduled = schedule.delay_after(n)?;
        match (attempt.status, attempt.retry_after_s) {
            (Some(429 | 503), Some(s)) => {
                Some(std::time::Duration::from_secs(s).min(self.config.retry_after_cap))
            }
            _ => Some(scheduled),
        }
    }
}
