//! An event's first attempts: which hooks take it, the slow hooks' deliveries parked in
//! their backlogs, the attempts at once, and a message acked early when some attempts
//! are slow (their outcomes follow, behind safety-net retries).

use futures_util::stream::{FuturesUnordered, StreamExt};
use hookpost_core::delivery::delivery_id;
use hookpost_core::filter::Payload;
use hookpost_core::labels::{DeferReason, Role};
use hookpost_store::backlog;
use tracing::warn;

use crate::context::{AttemptCtx, DeliveryRef, EventParts};
use crate::decided::Decided;
use crate::disposition::{Disposition, EarlyAck, Requeue};
use crate::record::{by_index, Waiting};
use crate::Worker;
use hookpost_delivery::ReadyHook;

/// A slow attempt's safety-net retry comes this long after the attempt must have ended.
const SAFETY_NET_MARGIN: std::time::Duration = std::time::Duration::from_secs(5);

impl Worker {
    /// First attempts of every delivery of an event; `takeover` skips those already decided.
    pub(crate) async fn fan_out(
        &self,
        ev: &EventParts<'_>,
        version: u64,
        takeover: bool,
        early: &EarlyAck<'_>,
    ) -> Disposition {
        let hooks = match self.hooks.get(&self.store, ev.tenant, version).await {
            Ok(h) => h,
            Err(e) => return e.into(),
        };
        let ordered_tenant = hooks.iter().any(|h| h.order.is_some());
        self.fairness.note_hooks(ev.tenant, ordered_tenant);
        let budget = self.config.filter_budget;
        let taken = hookpost_delivery::takes(hooks.iter(), ev.kind, ev.data, budget);
        if taken.exhausted {
            let metrics = &self.metrics;
            hookpost_delivery::filtering::report_exhausted(metrics, Role::Worker, ev.tenant, ev.id);
        }
        // Kept from the event by a filter: not a failure, not a delivery.
        self.metrics.filtered.inc_by(taken.filtered_out as u64);
        let ev = &EventParts {
            payload: taken.payload.as_ref().map(Payload::value),
            ordered_tenant,
            ..*ev
        };
        let mut targets: Vec<(&ReadyHook, String)> = Vec::new();
        // Deliveries to hooks slow now go straight to their backlogs: no attempt to set up
        // (a take-over looks at each delivery first, an ordered one keeps its turn), one
        // entry for all of them, and each only a hook id and when its drain should come.
        let entry = std::cell::OnceCell::new();
        let mut parked: Vec<Waiting<'_>> = Vec::new();
        for &h in &taken.hooks {
            let may_park = !takeover && h.order.is_none();
            match may_park.then(|| self.gate.slow_now(h)).flatten() {
                Some(defer) => {
                    let entry = entry.get_or_init(|| backlog::entry(ev.id, 1, false));
                    parked.push(Waiting {
                        hook_id: &h.hook.id,
                        at_ms: defer.at_ms,
                        hook_json: &h.snapshot,
                        backlog: Some(entry),
                    });
                }
                None => targets.push((h, delivery_id(ev.tenant, ev.id, &h.hook.id))),
            }
        }
        if !parked.is_empty() {
            self.count_deferred(DeferReason::HookConcurrency, parked.len());
        }
        if takeover && !targets.is_empty() {
            if let Err(d) = self.skip_logged(ev, &mut targets).await {
                return d;
            }
        }
        let mut running: FuturesUnordered<_> = targets
            .iter()
            .enumerate()
            .map(|(i, (hook, id))| async move {
                let delivery = DeliveryRef {
                    id: id.clone(),
                    hook_id: hook.hook.id.clone(),
                    hook_json: hook.snapshot.clone(),
                };
                let ctx = AttemptCtx {
                    ev,
                    hook,
                    delivery,
                    n: 1,
                    resend: false,
                };
                (i, self.attempt(ctx).await)
            })
            .collect();
        let mut decided = Vec::with_capacity(targets.len());
        // Longer than a wait for a slot, so that a delivery about to be deferred is not
        // taken for a slow attempt.
        let slow = tokio::time::sleep(self.config.hook_wait * 2);
        tokio::pin!(slow);
        while !running.is_empty() {
            tokio::select! {
                Some(done) = running.next() => decided.push(done),
                _ = &mut slow, if early.possible() => break,
            }
        }
        self.release_slow(ev, &targets, decided, running, &parked, early)
            .await
    }

    /// A take-over leaves out the deliveries the log holds: their outcome was made
    /// durable before the last holder died, maybe without what follows it in Redis.
    /// One ended stays ended, and an ordered one's key is let go of (blocked, when its
    /// hook blocks on failure) as its holder would have. One waiting (`retrying`,
    /// `pending`) gets its hot state back where Redis has none (its ordering key reads
    /// it: without it, its event done, it would look like one its hook stopped wanting)
    /// and its next attempt's task again, due when the log says (the same task's JSON:
    /// a task already stored is not doubled).
    async fn skip_logged(
        &self,
        ev: &EventParts<'_>,
        targets: &mut Vec<(&ReadyHook, String)>,
    ) -> Result<(), Disposition> {
        let logged = (self.db.event_delivery_states(ev.tenant, ev.id).await)
            .map_err(|e| Disposition::from(Requeue::from(e)))?;
        let (mut waiting, mut ended_ordered) = (Vec::new(), Vec::new());
        targets.retain(|(hook, id)| match logged.iter().find(|d| &d.id == id) {
            None => true,
            Some(d) => {
                if !d.status.is_final() {
                    waiting.push(d);
                } else if let Some(order) = &hook.order {
                    ended_ordered.push((d, order));
                }
                false
            }
        });
        for (d, order) in ended_ordered {
            self.turns.let_go_ended(ev, order, d, None).await;
        }
        if waiting.is_empty() {
            return Ok(());
        }
        let due: Vec<_> = waiting.iter().map(|d| d.next_attempt(ev.tenant)).collect();
        (self.store.put_back_progress(ev.tenant, &waiting).await).map_err(Disposition::from)?;
        self.store.schedule(&due).await.map_err(Disposition::from)?;
        Ok(())
    }

    /// Makes the first attempts' outcomes durable once those `running` still are done,
    /// or, when none of them is ordered, acks the message without waiting for them:
    /// the rest is recorded, each of them `pending` with a safety-net retry for when its
    /// outcome would be overdue, the message is acked, and their outcomes follow. So slow
    /// attempts hold neither the message nor, behind it, the acks of the messages after
    /// it. `parked` deliveries go with the first write.
    async fn release_slow(
        &self,
        ev: &EventParts<'_>,
        targets: &[(&ReadyHook, String)],
        mut decided: Vec<(usize, Decided)>,
        running: FuturesUnordered<impl std::future::Future<Output = (usize, Decided)>>,
        parked: &[Waiting<'_>],
        early: &EarlyAck<'_>,
    ) -> Disposition {
        let mut slow = vec![true; targets.len()];
        for (i, _) in &decided {
            slow[*i] = false;
        }
        let waiting_for: Vec<&(&ReadyHook, String)> = targets
            .iter()
            .zip(&slow)
            .filter_map(|(target, &slow)| slow.then_some(target))
            .collect();
        // An ordered attempt keeps its message: its key's hold covers a crash instead.
        if waiting_for.is_empty() || waiting_for.iter().any(|(hook, _)| hook.order.is_some()) {
            decided.extend(running.collect::<Vec<_>>().await);
            return self.make_durable(ev, by_index(decided), parked, true).await;
        }
        let overdue = hookpost_core::now_ms()
            + (self.config.request_timeout + SAFETY_NET_MARGIN).as_millis() as i64;
        // The log shows them pending until their outcomes follow; each gets its safety
        // net with that write.
        let mut waiting = parked.to_vec();
        waiting.extend(waiting_for.iter().map(|(hook, _)| Waiting {
            hook_id: &hook.hook.id,
            at_ms: overdue,
            hook_json: &hook.snapshot,
            backlog: None,
        }));
        let settled = match self
            .make_durable(ev, by_index(decided), &waiting, true)
            .await
        {
            Disposition::Ack(durable) => early.ack_now(durable),
            other => {
                running.collect::<Vec<_>>().await;
                return other;
            }
        };
        self.metrics
            .slow_attempts_released
            .inc_by(waiting_for.len() as u64);
        let rest = by_index(running.collect::<Vec<_>>().await);
        match self.make_durable(ev, rest, &[], false).await {
            Disposition::Ack(_) => {}
            // Acked already: the safety nets make these attempts again.
            other => warn!(
                ?other,
                "could not record a slow attempt; its safety net retries it"
            ),
        }
        settled
    }
}
