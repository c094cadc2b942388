//! What a worker does with one message, ending in an ack or a requeue.
//!
//! The order below is the reliability story: an attempt's outcome is made durable
//! (retry stored first, then the log record) before the message is acked; anything
//! that fails before that requeues the message, and the redelivery takes over.

use futures_util::stream::{FuturesUnordered, StreamExt};
use hookpost_core::delivery::{body, delivery_id};
use hookpost_core::filter::Payload;
use hookpost_core::outcome::Attempt;
use hookpost_core::task::{AttemptTask, ResumeTask, Task};
use hookpost_core::{signing, Event};
use hookpost_store::events::{Claim, StoredEvent};
use hookpost_store::log::{Record, Status};
use hookpost_store::retries::Due;
use tracing::{info, warn, Instrument};

use crate::backlog::Push;
use crate::fairness::Admit;
use crate::hooks_cache::ReadyHook;
use crate::leases::LEASE;
use crate::ordered::{Hold, NotYet};
use crate::sender::Envelope;
use crate::Worker;
use hookpost_store::backlog;

/// Tries of a durable write before the message is requeued (about 1.5 s of pauses).
const DURABLE_WRITE_TRIES: u32 = 5;
/// A slow attempt's safety-net retry comes this long after the attempt must have ended.
const SAFETY_NET_MARGIN: std::time::Duration = std::time::Duration::from_secs(5);

/// Acks the message being handled at once, before its handler returns (once).
pub struct EarlyAck<'a>(pub Option<&'a (dyn Fn() + Sync)>);

impl EarlyAck<'_> {
    fn ack_now(&self) {
        if let Some(ack) = self.0 {
            ack();
        }
    }
}

/// What becomes of a message.
#[derive(Debug)]
pub enum Disposition {
    Ack,
    /// Put it back for another try (its outcome could not be made durable).
    Requeue(String),
    /// Send it to the dead-letter queue with a reason code and message, then ack.
    DeadLetter(&'static str, String),
    /// Redis does not hold hookpost's keyspace: requeue and stop consuming.
    KeyspaceMissing,
}

impl From<hookpost_store::StoreError> for Disposition {
    fn from(e: hookpost_store::StoreError) -> Self {
        Disposition::Requeue(e.to_string())
    }
}

/// One delivery's outcome, ready to be recorded.
struct Decided {
    id: String,
    hook_id: String,
    hook_json: String,
    status: Status,
    next_at: Option<i64>,
    attempt: Option<Attempt>,
    due: Option<Due>,
    /// The receiver answered 410 Gone.
    gone: bool,
    /// False when another handler owns this delivery's log record now.
    record: bool,
    /// The ordering key this handler holds for the delivery (ordered hooks).
    hold: Option<Hold>,
    /// Put in its slow hook's backlog instead of being recorded: the entry.
    backlog: Option<String>,
}

impl Decided {
    /// A delivery decided without an attempt: nothing due, nothing held, recorded.
    fn unattempted(id: String, hook_id: &str, hook_json: String, status: Status) -> Decided {
        Decided {
            id,
            hook_id: hook_id.to_owned(),
            hook_json,
            status,
            next_at: None,
            attempt: None,
            due: None,
            gone: false,
            record: true,
            hold: None,
            backlog: None,
        }
    }
}

/// What became of a retry.
pub(crate) enum Retried {
    Made(Disposition),
    /// Taken from its hook's backlog, it found the hook slow still: it stays there, and
    /// the hook's drain comes back at this time.
    StillSlow(i64),
}

/// An event with everything needed to build its deliveries' bodies.
#[derive(Clone, Copy)]
pub(crate) struct EventParts<'a> {
    pub tenant: &'a str,
    pub id: &'a str,
    pub kind: &'a str,
    pub data: &'a str,
    pub received_at: i64,
    /// The parts of `data` the subscribed hooks read (filters, ordering keys whole), when
    /// one needed them.
    pub payload: Option<&'a serde_json::Value>,
}

impl Worker {
    /// A message from an event queue (`overflow`: from the overflow queue): the
    /// producer's JSON event. `early` acks the message before this returns, once every
    /// outcome but those of slow attempts is durable (see [`Worker::fan_out`]); after it
    /// has, the disposition only reports. An event whose tenant holds its share of the
    /// worker while others are active is moved to the overflow queue instead.
    pub async fn handle_event(
        &self,
        data: &[u8],
        overflow: bool,
        early: &EarlyAck<'_>,
    ) -> Disposition {
        if data.len() > self.config.max_message_bytes {
            return Disposition::DeadLetter(
                "too_large",
                format!(
                    "{} bytes is over the limit of {}",
                    data.len(),
                    self.config.max_message_bytes
                ),
            );
        }
        let event = match Event::parse(data, None) {
            Ok(e) => e,
            Err(e) => return Disposition::DeadLetter(e.code, e.message),
        };
        let _slot = match self.fairness.admit(&event.tenant, overflow) {
            Admit::Handle(slot) => slot,
            Admit::Move => return self.move_to_overflow(data, &event.id).await,
        };
        let lease = LEASE.as_millis() as u64;
        let now = hookpost_core::now_ms();
        let (claim, marker) = tokio::join!(
            self.store.claim_event(&event, lease, now),
            self.store.marker_present()
        );
        match marker {
            Ok(true) => {}
            Ok(false) => return Disposition::KeyspaceMissing,
            Err(e) => return e.into(),
        }
        let (claim, version) = match claim {
            Ok(c) => c,
            Err(e) => return e.into(),
        };
        self.metrics
            .events_processed
            .with_label_values(&[claim.as_str()])
            .inc();
        match claim {
            Claim::UnknownTenant => Disposition::DeadLetter(
                "unknown_tenant",
                format!("tenant `{}` does not exist", event.tenant),
            ),
            Claim::Done => Disposition::Ack,
            Claim::Busy => {
                // Another handler holds this event id now (a producer's duplicate, or
                // RabbitMQ's redelivery after a cut): look again when its lease ends.
                let due = Due {
                    at_ms: hookpost_core::now_ms() + lease as i64 + 1000,
                    task: Task::Resume(ResumeTask {
                        tenant: event.tenant.clone(),
                        event_id: event.id.clone(),
                    }),
                };
                match self.store.schedule(&[due]).await {
                    Ok(()) => Disposition::Ack,
                    Err(e) => e.into(),
                }
            }
            Claim::New | Claim::TakeOver => {
                let takeover = claim == Claim::TakeOver;
                // A take-over must build the same bodies as the first try: from the
                // stored event, with its receive time.
                let stored = match takeover {
                    true => match self.store.event(&event.tenant, &event.id).await {
                        Ok(stored) => stored,
                        Err(e) => return e.into(),
                    },
                    false => None,
                };
                let parts = stored.as_ref().map(parts_of).unwrap_or(EventParts {
                    tenant: &event.tenant,
                    id: &event.id,
                    kind: &event.kind,
                    data: event.data.get(),
                    received_at: now,
                    payload: None,
                });
                let work = self.fan_out(&parts, version, takeover, early);
                self.under_lease(&parts, work).await
            }
        }
    }

    /// Moves an event to the overflow queue: acked once RabbitMQ confirmed the copy, so
    /// a crash in between leaves two copies, and the event's claim delivers it once.
    async fn move_to_overflow(&self, data: &[u8], event_id: &str) -> Disposition {
        let msg = hookpost_broker::Outgoing {
            exchange: "",
            routing_key: &self.topology.overflow_queue,
            body: data,
            message_id: Some(event_id),
            headers: &[],
        };
        match self.publisher.publish(&msg).await {
            Ok(()) => {
                self.metrics.fairness_moved.inc();
                Disposition::Ack
            }
            Err(e) => Disposition::Requeue(format!("moving an event to the overflow queue: {e}")),
        }
    }

    /// A message from the deliveries queue: one of hookpost's own tasks.
    pub async fn handle_task(&self, data: &[u8]) -> Disposition {
        match Task::from_json(data) {
            Ok(Task::Attempt(task)) => match self.retry(&task, false).await {
                Retried::Made(d) => d,
                Retried::StillSlow(_) => unreachable!("only a backlog's retries stay in it"),
            },
            Ok(Task::Resume(task)) => self.resume(&task).await,
            Ok(Task::Drain(task)) => self.drain(&task).await,
            Err(e) => Disposition::DeadLetter("invalid_task", e),
        }
    }

    /// Counts an event a hook's filter kept from it (not a failure, not a delivery).
    fn filtered_out(&self) -> bool {
        self.metrics.filtered.inc();
        false
    }

    /// Processes a claimed event with its lease renewed meanwhile. A requeue releases the
    /// lease, so that the redelivery takes over at once instead of waiting it out.
    async fn under_lease(
        &self,
        ev: &EventParts<'_>,
        work: impl std::future::Future<Output = Disposition>,
    ) -> Disposition {
        let held = self.leases.hold(ev.tenant, ev.id);
        let disposition = work.await;
        drop(held);
        if let Disposition::Requeue(_) = disposition {
            let _ = self.store.set_event_lease(ev.tenant, ev.id, 0).await;
        }
        disposition
    }

    /// First attempts of every delivery of an event; `takeover` skips those already decided.
    async fn fan_out(
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
        self.fairness
            .note_hooks(ev.tenant, hooks.iter().any(|h| h.order.is_some()));
        // What the subscribed hooks' filters and ordering keys read is taken from the
        // payload only when one of them has either, once per event.
        let subscribed = || hooks.iter().filter(|h| h.hook.wants(ev.kind));
        let payload = match subscribed().any(|h| h.filter.is_some() || h.order.is_some()) {
            true => Payload::select(
                ev.data,
                subscribed().filter_map(|h| h.filter.as_ref()),
                subscribed().filter_map(|h| h.order.as_ref()?.key()),
            ),
            false => None,
        };
        let ev = &EventParts {
            payload: payload.as_ref().map(Payload::value),
            ..*ev
        };
        let mut targets: Vec<(&ReadyHook, String)> = Vec::new();
        // Deliveries to hooks slow now go straight to their backlogs: no attempt to set up
        // (a take-over looks at each delivery first, an ordered one keeps its turn), one
        // entry for all of them, and each only a hook id and when its drain should come.
        let entry = std::cell::OnceCell::new();
        let mut parked: Vec<Push<'_>> = Vec::new();
        let candidates: Vec<&ReadyHook> = subscribed().collect();
        let budget = self.config.filter_budget;
        let chosen = crate::filtering::choose(&candidates, payload.as_ref(), budget);
        if chosen.exhausted {
            crate::filtering::report_exhausted(&self.metrics, "worker", ev.tenant, ev.id);
        }
        let kept = candidates
            .iter()
            .zip(chosen.kept)
            .filter(|(_, kept)| *kept || self.filtered_out())
            .map(|(h, _)| *h);
        for h in kept {
            let may_park = !takeover && h.order.is_none();
            match may_park.then(|| self.slow_now(h)).flatten() {
                Some(defer) => {
                    let entry = entry.get_or_init(|| backlog::entry(ev.id, 1, false));
                    parked.push((&h.hook.id, entry, defer.at_ms));
                }
                None => targets.push((h, delivery_id(ev.tenant, ev.id, &h.hook.id))),
            }
        }
        if !parked.is_empty() {
            self.count_deferred(crate::gate::SLOW_HOOK, parked.len());
        }
        if takeover && !targets.is_empty() {
            let ids: Vec<String> = targets.iter().map(|(_, id)| id.clone()).collect();
            match self.store.statuses(ev.tenant, &ids).await {
                Ok(statuses) => {
                    let mut decided = statuses.into_iter().map(|s| s.is_some());
                    targets.retain(|_| !decided.next().unwrap_or(false));
                }
                Err(e) => return e.into(),
            }
        }
        let mut running: FuturesUnordered<_> = targets
            .iter()
            .enumerate()
            .map(|(i, (hook, id))| async move {
                let decided = self
                    .attempt(ev, hook, id.clone(), hook.snapshot.clone(), 1, false)
                    .await;
                (i, decided)
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
                _ = &mut slow, if early.0.is_some() => break,
            }
        }
        self.release_slow(ev, &targets, decided, running, &parked, early)
            .await
    }

    /// Makes the first attempts' outcomes durable once those `running` still are done,
    /// or, when none of them is ordered, acks the message without waiting for them:
    /// each gets a safety-net retry for when its outcome would be overdue, the rest is
    /// recorded and the message acked, and their outcomes follow. So slow attempts hold
    /// neither the message nor, behind it, the acks of the messages after it. `parked`
    /// deliveries go with the first write.
    async fn release_slow(
        &self,
        ev: &EventParts<'_>,
        targets: &[(&ReadyHook, String)],
        mut decided: Vec<(usize, Decided)>,
        running: FuturesUnordered<impl std::future::Future<Output = (usize, Decided)>>,
        parked: &[Push<'_>],
        early: &EarlyAck<'_>,
    ) -> Disposition {
        let mut slow = vec![true; targets.len()];
        for (i, _) in &decided {
            slow[*i] = false;
        }
        let waiting: Vec<&(&ReadyHook, String)> = targets
            .iter()
            .zip(&slow)
            .filter_map(|(target, &slow)| slow.then_some(target))
            .collect();
        // An ordered attempt keeps its message: its key's hold covers a crash instead.
        if waiting.is_empty() || waiting.iter().any(|(hook, _)| hook.order.is_some()) {
            decided.extend(running.collect::<Vec<_>>().await);
            return self.make_durable(ev, by_index(decided), parked, true).await;
        }
        let overdue = hookpost_core::now_ms()
            + (self.config.request_timeout + SAFETY_NET_MARGIN).as_millis() as i64;
        let nets: Vec<Due> = waiting
            .iter()
            .map(|(hook, id)| self.attempt_task(ev, &hook.hook.id, id, 1, overdue))
            .collect();
        if let Err(e) = self.persist(|| self.store.schedule(&nets)).await {
            decided.extend(running.collect::<Vec<_>>().await);
            warn!(error = %e, "could not store a slow attempt's safety net; the message waits for it");
            return self.make_durable(ev, by_index(decided), parked, true).await;
        }
        let disposition = self.make_durable(ev, by_index(decided), parked, true).await;
        if !matches!(disposition, Disposition::Ack) {
            running.collect::<Vec<_>>().await;
            return disposition;
        }
        early.ack_now();
        self.metrics
            .slow_attempts_released
            .inc_by(waiting.len() as u64);
        let rest = by_index(running.collect::<Vec<_>>().await);
        match self.make_durable(ev, rest, &[], false).await {
            Disposition::Ack => {}
            // Acked already: the safety nets make these attempts again.
            other => warn!(
                ?other,
                "could not record a slow attempt; its safety net retries it"
            ),
        }
        Disposition::Ack
    }

    /// A retry, a deferred first attempt, or a resend; `in_backlog` when it comes from its
    /// hook's backlog (where it stays if the hook is still slow).
    pub(crate) async fn retry(&self, task: &AttemptTask, in_backlog: bool) -> Retried {
        let made = Retried::Made;
        let t = task.tenant.as_str();
        let (event, progress, version) = tokio::join!(
            self.store.event(t, &task.event_id),
            self.store.delivery_progress(t, &task.delivery_id),
            self.store.hooks_version(t)
        );
        let (event, progress, version) = match (event, progress, version) {
            (Ok(e), Ok(p), Ok(v)) => (e, p, v),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return made(e.into()),
        };
        let Some(event) = event else {
            warn!(delivery_id = %task.delivery_id, "event expired before its retry; dropping the retry");
            return made(Disposition::Ack);
        };
        let hook_json = match &progress {
            Some((_, done, status))
                if !task.resend && (status.is_final() || *done >= task.attempt) =>
            {
                return made(Disposition::Ack); // already made: a duplicate task
            }
            Some((hook_json, _, _)) => Some(hook_json.clone()),
            None => None,
        };
        let hooks = match self.hooks.get(&self.store, t, version).await {
            Ok(h) => h,
            Err(e) => return made(e.into()),
        };
        let ev = parts_of(&event);
        let decided = match hooks
            .iter()
            .find(|h| h.hook.id == task.hook_id && h.hook.active)
        {
            Some(hook) => {
                let hook_json = hook_json.unwrap_or_else(|| hook.snapshot.clone());
                let id = task.delivery_id.clone();
                self.attempt(&ev, hook, id, hook_json, task.attempt, task.resend)
                    .await
            }
            // Deleted or deactivated: scheduled attempts are dropped, not replayed.
            None => Decided::unattempted(
                task.delivery_id.clone(),
                &task.hook_id,
                hook_json.unwrap_or_default(),
                Status::Cancelled,
            ),
        };
        if let (true, Some(_)) = (in_backlog, &decided.backlog) {
            return Retried::StillSlow(decided.next_at.unwrap_or_default());
        }
        made(self.make_durable(&ev, vec![decided], &[], false).await)
    }

    /// An event another worker held when a duplicate of it arrived.
    async fn resume(&self, task: &ResumeTask) -> Disposition {
        let (event, version) = match tokio::join!(
            self.store.event(&task.tenant, &task.event_id),
            self.store.hooks_version(&task.tenant)
        ) {
            (Ok(e), Ok(v)) => (e, v),
            (Err(e), _) | (_, Err(e)) => return e.into(),
        };
        let Some(event) = event.filter(|e| e.state != "done") else {
            return Disposition::Ack;
        };
        let lease = match self.store.event_lease(&task.tenant, &task.event_id).await {
            Ok(l) => l,
            Err(e) => return e.into(),
        };
        if lease > hookpost_core::now_ms() {
            let due = Due {
                at_ms: lease + 1000,
                task: Task::Resume(task.clone()),
            };
            return match self.store.schedule(&[due]).await {
                Ok(()) => Disposition::Ack,
                Err(e) => e.into(),
            };
        }
        info!(event_id = %task.event_id, "taking over an event whose worker is gone");
        let until = hookpost_core::now_ms() + LEASE.as_millis() as i64;
        match self
            .store
            .set_event_lease(&task.tenant, &task.event_id, until)
            .await
        {
            Ok(true) => {}
            Ok(false) => return Disposition::Ack, // finished meanwhile
            Err(e) => return e.into(),
        }
        let parts = parts_of(&event);
        let work = self.fan_out(&parts, version, true, &EarlyAck(None));
        self.under_lease(&parts, work).await
    }

    /// Makes one attempt of one delivery, or defers it when its hook has no free slot.
    async fn attempt(
        &self,
        ev: &EventParts<'_>,
        hook: &ReadyHook,
        id: String,
        hook_json: String,
        n: u32,
        resend: bool,
    ) -> Decided {
        let span = tracing::info_span!("delivery", delivery_id = %id, hook_id = %hook.hook.id, attempt = n);
        async move {
            let hold = match &hook.order {
                Some(order) => {
                    let turn = self.take_turn(ev, &hook.hook.id, order, &id).await;
                    match turn {
                        Ok(hold) => Some(hold),
                        Err(NotYet {
                            at_ms: Some(at),
                            record,
                        }) => {
                            let mut later = self.defer(ev, hook, id, hook_json, n, at, "ordering");
                            later.record = record;
                            return later;
                        }
                        // It ended already (a late look at it): nothing to record or send.
                        Err(NotYet { at_ms: None, .. }) => {
                            let mut ended =
                                Decided::unattempted(id, &hook.hook.id, hook_json, Status::Pending);
                            ended.record = false;
                            return ended;
                        }
                    }
                }
                None => None,
            };
            let pass = match self.gate(ev.tenant, hook).await {
                Ok(pass) => pass,
                Err(defer) => {
                    if let Some(hold) = &hold {
                        // The delivery keeps its key; this handler lets go.
                        self.let_go(ev.tenant, ev.id, &hook.hook.id, &id, hold, None)
                            .await;
                    } else if defer.waits_in_backlog() {
                        self.count_deferred(defer.reason, 1);
                        let entry = backlog::entry(ev.id, n, resend);
                        return backlogged(&hook.hook.id, id, hook_json, entry, defer.at_ms);
                    }
                    return self.defer(ev, hook, id, hook_json, n, defer.at_ms, defer.reason);
                }
            };
            let _permit = self.in_flight.acquire().await.expect("never closed");
            let bytes = body(&id, ev.kind, ev.received_at, &hook_json, ev.data);
            let now = hookpost_core::now_ms();
            let timestamp = now / 1000;
            let envelope = Envelope {
                delivery_id: &id,
                event_type: ev.kind,
                attempt: n,
                timestamp,
                signatures: Some(signing::sign(
                    &hook.key,
                    hook.previous_key(now),
                    &id,
                    timestamp,
                    &bytes,
                )),
                headers: &hook.headers,
            };
            self.metrics.in_flight.inc();
            let attempt = self.sender.send(&hook.url, bytes, &envelope).await;
            self.metrics.in_flight.dec();
            if attempt.status.is_some() {
                pass.answered();
            }
            self.release(ev.tenant, hook, pass).await;
            self.metrics
                .deliveries
                .with_label_values(&[attempt.outcome.as_str()])
                .inc();
            self.metrics
                .attempt_duration
                .observe(attempt.duration_ms as f64 / 1000.0);
            let gone = attempt.status == Some(410);
            let (status, due) = if attempt.delivered() {
                (Status::Delivered, None)
            } else if gone {
                // The receiver says the hook is gone for good: no retries, and the hook
                // is deactivated once this is recorded.
                self.metrics.deliveries_failed.inc();
                (Status::Failed, None)
            } else if let Some(delay) = self.next_delay(hook, n, &attempt) {
                let at = hookpost_core::now_ms() + delay.as_millis() as i64;
                (
                    Status::Retrying,
                    Some(self.attempt_task(ev, &hook.hook.id, &id, n + 1, at)),
                )
            } else {
                self.metrics.deliveries_failed.inc();
                (Status::Failed, None)
            };
            tracing::debug!(
                outcome = attempt.outcome.as_str(),
                status = status.as_str(),
                "attempt made"
            );
            Decided {
                gone,
                next_at: due.as_ref().map(|d| d.at_ms),
                due,
                id,
                hook_id: hook.hook.id.clone(),
                hook_json,
                status,
                attempt: Some(attempt),
                record: true,
                hold,
                backlog: None,
            }
        }
        .instrument(span)
        .await
    }

    /// A delivery put off without an attempt until `at_ms`, for `reason`.
    #[allow(clippy::too_many_arguments)]
    fn defer(
        &self,
        ev: &EventParts<'_>,
        hook: &ReadyHook,
        id: String,
        hook_json: String,
        n: u32,
        at_ms: i64,
        reason: &'static str,
    ) -> Decided {
        self.count_deferred(reason, 1);
        let due = self.attempt_task(ev, &hook.hook.id, &id, n, at_ms);
        let mut later = Decided::unattempted(id, &hook.hook.id, hook_json, Status::Pending);
        (later.due, later.next_at) = (Some(due), Some(at_ms));
        later
    }

    /// Counts deliveries put off without an attempt, for `reason`.
    fn count_deferred(&self, reason: &str, n: usize) {
        let deferred = self.metrics.deferred.with_label_values(&[reason]);
        deferred.inc_by(n as u64);
    }

    fn attempt_task(
        &self,
        ev: &EventParts<'_>,
        hook_id: &str,
        id: &str,
        n: u32,
        at_ms: i64,
    ) -> Due {
        Due {
            at_ms,
            task: Task::Attempt(AttemptTask {
                tenant: ev.tenant.to_owned(),
                event_id: ev.id.to_owned(),
                hook_id: hook_id.to_owned(),
                delivery_id: id.to_owned(),
                attempt: n,
                resend: false,
            }),
        }
    }

    /// Retries first, then the backlog pushes (`parked` and those of `decided`), then the
    /// log (which says "retrying" only once the retry is stored).
    async fn make_durable(
        &self,
        ev: &EventParts<'_>,
        decided: Vec<Decided>,
        parked: &[Push<'_>],
        event_done: bool,
    ) -> Disposition {
        let due: Vec<Due> = decided.iter().filter_map(|d| d.due.clone()).collect();
        if let Err(e) = self.persist(|| self.store.schedule(&due)).await {
            return e.into();
        }
        self.metrics.retries_scheduled.inc_by(due.len() as u64);
        let records: Vec<Record<'_>> = decided
            .iter()
            .filter(|d| d.record)
            .map(|d| Record {
                delivery_id: &d.id,
                hook_id: &d.hook_id,
                kind: ev.kind,
                hook_json: &d.hook_json,
                status: d.status,
                next_at: d.next_at,
                attempt: d.attempt.as_ref(),
            })
            .collect();
        let span = self.config.disable_after.as_millis() as i64;
        let mut pushes: Vec<Push<'_>> = decided
            .iter()
            .filter_map(|d| Some((d.hook_id.as_str(), d.backlog.as_deref()?, d.next_at?)))
            .collect();
        pushes.extend_from_slice(parked);
        let failing = match self
            .record_with_backlog(ev, &records, &pushes, event_done, span)
            .await
        {
            Ok(failing) => failing,
            Err(d) => return d,
        };
        // The outcome is durable now: ordered deliveries let go of their keys and send
        // for the next ones (each key's hold lease and turn check cover a failure here).
        let mut next = Vec::new();
        for d in &decided {
            if let Some(hold) = &d.hold {
                next.extend(
                    self.let_go(ev.tenant, ev.id, &d.hook_id, &d.id, hold, Some(d.status))
                        .await,
                );
            }
        }
        self.send_for(next);
        // Disabling is a consequence that the next failure tries again, so its errors do
        // not hold the message back.
        let gone = decided
            .iter()
            .filter(|d| d.gone)
            .map(|d| (d.hook_id.as_str(), "gone"));
        for (hook_id, reason) in gone.chain(failing.iter().map(|id| (id.as_str(), "failing"))) {
            match self.store.disable_hook(ev.tenant, hook_id, reason).await {
                Ok(true) => {
                    self.metrics
                        .hooks_disabled
                        .with_label_values(&[reason])
                        .inc();
                    warn!(hook_id, reason, "hook deactivated");
                }
                Ok(false) => {}
                Err(e) => warn!(hook_id, error = %e, "could not deactivate a hook"),
            }
        }
        Disposition::Ack
    }

    /// Runs a durable write again over a short Redis outage before giving up. Giving up
    /// requeues the message, and its redelivery redoes the attempts (duplicates for the
    /// receivers); trying again only waits. Both writes are idempotent: the same retry
    /// and the same attempt are stored once.
    pub(crate) async fn persist<T, F, Fut>(&self, mut write: F) -> hookpost_store::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = hookpost_store::Result<T>>,
    {
        let mut pause = std::time::Duration::from_millis(100);
        for _ in 1..DURABLE_WRITE_TRIES {
            match write().await {
                Ok(done) => return Ok(done),
                Err(e) => {
                    self.metrics
                        .redis_errors
                        .with_label_values(&["worker"])
                        .inc();
                    warn!(error = %e, "could not store an outcome; trying again");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
            }
        }
        write().await
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

/// A delivery put in its slow hook's backlog as `entry`, whose drain comes back at
/// `at_ms`; it has no log record until its attempt.
fn backlogged(hook_id: &str, id: String, hook_json: String, entry: String, at_ms: i64) -> Decided {
    let mut later = Decided::unattempted(id, hook_id, hook_json, Status::Pending);
    (later.record, later.next_at) = (false, Some(at_ms));
    later.backlog = Some(entry);
    later
}

/// Outcomes gathered as they came, back in their deliveries' order.
fn by_index(mut decided: Vec<(usize, Decided)>) -> Vec<Decided> {
    decided.sort_by_key(|(i, _)| *i);
    decided.into_iter().map(|(_, d)| d).collect()
}

fn parts_of(e: &StoredEvent) -> EventParts<'_> {
    EventParts {
        tenant: &e.tenant,
        id: &e.id,
        kind: &e.kind,
        data: &e.data,
        received_at: e.received_at,
        payload: None,
    }
}
