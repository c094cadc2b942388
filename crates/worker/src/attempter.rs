//! The attempter: one signed POST of one delivery, and what follows from its answer.

use std::sync::Arc;

use hookpost_core::delivery::{request_body, BodyParts};
use hookpost_core::outcome::Attempt;
use hookpost_core::{signing, Config};
use hookpost_ops::Metrics;
use hookpost_store::log::Status;
use hookpost_store::retries::Due;
use tokio::sync::Semaphore;

use crate::context::AttemptCtx;
use hookpost_delivery::verdict::{jitter, verdict, RetryPolicy, Verdict};
use hookpost_delivery::{Envelope, Sender};

/// Sends attempts, at most `HOOKPOST_CONCURRENCY` at once in this worker.
pub struct Attempter {
    sender: Sender,
    in_flight: Semaphore,
    metrics: Arc<Metrics>,
    config: Config,
}

impl Attempter {
    pub fn new(config: Config, sender: Sender, metrics: Arc<Metrics>) -> Self {
        Attempter {
            sender,
            in_flight: Semaphore::new(config.concurrency),
            metrics,
            config,
        }
    }

    /// Signs and sends the delivery's attempt.
    pub(crate) async fn send(&self, ctx: &AttemptCtx<'_>) -> Attempt {
        let (ev, hook, id) = (ctx.ev, ctx.hook, &ctx.delivery.id);
        let _permit = self.in_flight.acquire().await.expect("never closed");
        let uuid = hook.hook.format.request_uuid();
        let parts = BodyParts {
            delivery_id: id,
            event_type: ev.kind,
            timestamp_ms: ev.received_at,
            hook_json: &ctx.delivery.hook_json,
            payload: ev.data,
        };
        let bytes = request_body(Some(&hook.hook), &parts, uuid.as_deref());
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
            uuid,
            secret: hook.hook.secret_header(),
            traceparent: hook
                .hook
                .send_traceparent
                .then(|| {
                    let attempt = hookpost_ops::telemetry::traceparent(&tracing::Span::current());
                    attempt.or(ev.traceparent.map(str::to_owned))
                })
                .flatten(),
            headers: &hook.headers,
        };
        self.metrics.in_flight.inc();
        let attempt = self.sender.send(&hook.url, bytes, envelope).await;
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
        let policy = RetryPolicy {
            schedule: ctx
                .hook
                .retry
                .as_ref()
                .unwrap_or(&self.config.retry_schedule),
            retry_after_cap: self.config.retry_after_cap,
        };
        match verdict(attempt, ctx.n, &policy, jitter()) {
            Verdict::Delivered => (Status::Delivered, None),
            Verdict::RetryIn(delay) => {
                let at = hookpost_core::now_ms() + delay.as_millis() as i64;
                (Status::Retrying, Some(ctx.task(ctx.n + 1, at)))
            }
            // Gone (410): no retries, and the hook is deactivated once this is recorded.
            Verdict::Gone | Verdict::Failed => {
                self.metrics.deliveries_failed.inc();
                (Status::Failed, None)
            }
        }
    }
}
