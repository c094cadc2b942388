//! One delivery's attempt as the coordinator runs it: its ordering key's turn, the
//! gate, the attempter; or why it was put off.

use hookpost_core::labels::DeferReason;
use hookpost_store::backlog;
use tracing::Instrument;

use crate::context::AttemptCtx;
use crate::decided::Decided;
use crate::ordered::{Hold, NotYet};
use crate::Worker;

impl Worker {
    /// Makes one attempt of one delivery, or defers it when its hook has no free slot.
    pub(crate) async fn attempt(&self, ctx: AttemptCtx<'_>) -> Decided {
        let span = tracing::info_span!(
            "attempt",
            delivery_id = %ctx.delivery.id,
            hook_id = %ctx.hook.hook.id,
            attempt = ctx.n,
            status = tracing::field::Empty,
            outcome = tracing::field::Empty,
        );
        // A retry's message carries no trace: its span joins the event's.
        if let Some(t) = ctx.ev.traceparent {
            hookpost_ops::telemetry::join_trace(&span, t);
        }
        async move {
            let (ev, hook) = (ctx.ev, ctx.hook);
            let hold = match &hook.order {
                Some(order) => match self.take_turn(&ctx, order).await {
                    Ok(hold) => Some(hold),
                    Err(NotYet::Wait(at_ms) | NotYet::Unsure { at_ms, .. }) => {
                        return self.defer(ctx, at_ms, DeferReason::Ordering, false);
                    }
                    Err(NotYet::Busy(at_ms)) => {
                        // Another handler attempts it now, or died attempting it: the
                        // log shows it waiting unless that handler's record is there.
                        return self.defer(ctx, at_ms, DeferReason::Ordering, true);
                    }
                    Err(NotYet::Ended) => return Decided::AlreadyEnded,
                },
                None => None,
            };
            let pass = match self.gate.pass(ev.tenant, hook).await {
                Ok(pass) => pass,
                Err(defer) => {
                    if let Some(hold) = &hold {
                        // The delivery keeps its key; this handler lets go.
                        let d = &ctx.delivery;
                        self.turns
                            .let_go(ev.tenant, ev.id, &d.hook_id, &d.id, hold, None)
                            .await;
                    } else if defer.waits_in_backlog() {
                        self.count_deferred(defer.reason, 1);
                        return Decided::Backlogged {
                            hook_id: ctx.delivery.hook_id,
                            entry: backlog::entry(ev.id, ctx.n, ctx.resend),
                            at_ms: defer.at_ms,
                            hook_json: ctx.delivery.hook_json,
                        };
                    }
                    return self.defer(ctx, defer.at_ms, defer.reason, false);
                }
            };
            let attempt = self.attempter.send(&ctx).await;
            let span = tracing::Span::current();
            span.record("outcome", attempt.outcome.as_str());
            if let Some(status) = attempt.status {
                span.record("status", status);
            }
            let took = std::time::Duration::from_millis(attempt.duration_ms);
            if attempt.status.is_some() && pass.answered(took) {
                self.drain_now(ev.tenant, &hook.hook.id);
            }
            self.gate.release(ev.tenant, hook, pass).await;
            let (status, retry) = self.attempter.follow_up(&ctx, &attempt);
            tracing::debug!(
                outcome = attempt.outcome.as_str(),
                status = status.as_str(),
                "attempt made"
            );
            Decided::Attempted {
                delivery: ctx.delivery,
                attempt: Box::new(attempt),
                status,
                retry,
                hold,
            }
        }
        .instrument(span)
        .await
    }

    /// A delivery put off without an attempt until `at_ms`, for `reason`; `busy`: another
    /// handler holds it.
    fn defer(&self, ctx: AttemptCtx<'_>, at_ms: i64, reason: DeferReason, busy: bool) -> Decided {
        self.count_deferred(reason, 1);
        Decided::Deferred {
            due: ctx.task(ctx.n, at_ms),
            record: ctx.delivery,
            busy,
        }
    }

    /// Counts deliveries put off without an attempt, for `reason`.
    pub(crate) fn count_deferred(&self, reason: DeferReason, n: usize) {
        let deferred = self.metrics.deferred.with_label_values(&[reason.as_str()]);
        deferred.inc_by(n as u64);
    }
}

impl Worker {
    /// Takes the delivery's ordering key; asked again once when the key's holder, unknown
    /// to Redis, turned out in the log to have ended and the turn came to this delivery.
    async fn take_turn(
        &self,
        ctx: &AttemptCtx<'_>,
        order: &hookpost_core::ordering::Ordering,
    ) -> Result<Hold, NotYet> {
        let (ev, hook_id, id) = (ctx.ev, &ctx.hook.hook.id, &ctx.delivery.id);
        match self.turns.take_turn(ev, hook_id, order, id).await {
            Err(NotYet::Unsure { holder, at_ms }) => {
                if self.holder_logged_ended(ctx, order, &holder).await {
                    self.turns.take_turn(ev, hook_id, order, id).await
                } else {
                    Err(NotYet::Wait(at_ms))
                }
            }
            turn => turn,
        }
    }

    /// The key's holder (`<delivery id>:<event id>`), which nobody attempts and of which
    /// Redis holds nothing: when the log shows it ended (its end written where Redis lost
    /// it, a Redis back without its last writes), lets go of the key as its handler would
    /// have. `true` when the turn is now this delivery's.
    async fn holder_logged_ended(
        &self,
        ctx: &AttemptCtx<'_>,
        order: &hookpost_core::ordering::Ordering,
        holder: &str,
    ) -> bool {
        let Some((delivery_id, _)) = hookpost_store::ordering::split_member(holder) else {
            return false;
        };
        match self
            .db
            .delivery_state(ctx.ev.tenant, delivery_id, None)
            .await
        {
            Ok(Some(d)) if d.status.is_final() => {
                let asking = Some(ctx.delivery.id.as_str());
                self.turns.let_go_ended(ctx.ev, order, &d, asking).await
            }
            Ok(_) => false,
            Err(e) => {
                tracing::warn!(error = %e, "could not read an ordering key's holder from the log");
                false
            }
        }
    }
}
