//! The coordinator: what a worker does with one message, ending in a [`Disposition`].
//!
//! The order is the reliability story: an attempt's outcome is made durable (retry
//! stored first, then the log record; see [`Worker::make_durable`]) before the message is
//! acked, and the ack takes the store's proof ([`hookpost_store::Durable`]); anything
//! that fails before that requeues the message, and the redelivery takes over.

use hookpost_core::labels::DeadLetterReason;
use hookpost_core::task::{AttemptTask, ResumeTask, Task};
use hookpost_core::Event;
use hookpost_store::events::{Claim, Held, StoredEvent};
use hookpost_store::retries::Due;
use hookpost_store::{Durable, NothingToWrite};
use tracing::{info, warn};

use crate::context::{AttemptCtx, DeliveryRef, EventParts};
use crate::decided::Decided;
use crate::disposition::{Disposition, EarlyAck, Requeue};
use crate::fairness::Admit;
use crate::leases::LEASE;
use crate::Worker;

/// A retry's attempt, before it is made durable.
pub(crate) enum Prepared {
    /// Nothing to attempt: this is what becomes of the message.
    Settled(Disposition),
    Decided(Box<(StoredEvent, Decided)>),
}

impl Worker {
    /// A message from an event queue (`aside`: from the overflow or light queue): the
    /// producer's JSON event. `early` acks the message before this returns, once every
    /// outcome but those of slow attempts is durable (see [`Worker::fan_out`]); after it
    /// has, the disposition only reports. An event whose tenant holds its share of the
    /// worker while others are active is moved to the overflow queue instead.
    /// `traceparent` is the message's, once the consumer found it well-formed.
    pub async fn handle_event(
        &self,
        data: &[u8],
        message_id: Option<&str>,
        traceparent: Option<&str>,
        aside: bool,
        early: &EarlyAck<'_>,
    ) -> Disposition {
        if data.len() > self.config.max_message_bytes {
            return Disposition::DeadLetter(
                DeadLetterReason::TooLarge,
                format!(
                    "{} bytes is over the limit of {}",
                    data.len(),
                    self.config.max_message_bytes
                ),
            );
        }
        let mut event = match Event::parse_published(data, message_id) {
            Ok(e) => e,
            Err(e) => return Disposition::DeadLetter(e.reason, e.message),
        };
        event.traceparent = traceparent.map(str::to_owned);
        // Ingest checked what it accepted; a producer's own publish is checked here.
        if event.accepted_at.is_none() {
            if let Some(refused) = self.check_type(&event).await {
                return refused;
            }
        }
        let _slot = match self.fairness.admit(&event.tenant, aside) {
            Admit::Handle(slot) => slot,
            Admit::Move => return self.move_to_overflow(data, &event).await,
        };
        let lease = LEASE.as_millis() as u64;
        let now = hookpost_core::now_ms();
        let (claim, version) = match self.store.claim_event(&event, lease, now).await {
            Ok(c) => c,
            Err(e) => return e.into(),
        };
        let claim = match claim {
            Claim::MarkedDone => match self.confirm_done(&event).await {
                Ok(c) => c,
                Err(d) => return d,
            },
            c => c,
        };
        // The tenant's record is the keyspace check of an event: a rebuild puts it back
        // after everything else of the tenant. Missing, it is either unknown or Redis
        // came back empty; only the marker tells which.
        if claim == Claim::UnknownTenant {
            if let Some(missing) = Disposition::unless_keyspace(self.store.marker_present().await) {
                return missing;
            }
        }
        self.metrics
            .events_processed
            .with_label_values(&[claim.as_str()])
            .inc();
        if claim == Claim::New && event.accepted_at.is_none() {
            let label = self.config.event_types.label(&event.kind);
            self.metrics.event_accepted(label, "exchange");
        }
        match claim {
            Claim::UnknownTenant => Disposition::DeadLetter(
                DeadLetterReason::UnknownTenant,
                format!("tenant `{}` does not exist", event.tenant),
            ),
            Claim::Done | Claim::MarkedDone => {
                Disposition::Ack(Durable::nothing_to_write(NothingToWrite::AlreadyDone))
            }
            Claim::Busy(left) => {
                // Another handler holds this event id now (a producer's duplicate, or
                // RabbitMQ's redelivery after a cut): look again when its lease ends,
                // with the payload stored (the claim stores none) in case it died.
                if let Err(e) = self.store.keep_payload(&event).await {
                    return e.into();
                }
                let task = ResumeTask {
                    tenant: event.tenant.clone(),
                    event_id: event.id.clone(),
                };
                self.resume_after(task, left).await
            }
            Claim::New | Claim::TakeOver => {
                let takeover = claim == Claim::TakeOver;
                let stored = match takeover {
                    true => match self.taken_over(&event).await {
                        Ok(first) => Some(first),
                        Err(d) => return d,
                    },
                    false => None,
                };
                let parts = stored.as_ref().map(EventParts::of).unwrap_or(EventParts {
                    tenant: &event.tenant,
                    id: &event.id,
                    kind: &event.kind,
                    data: event.data.get(),
                    received_at: now,
                    occurred_at: event.occurred_at.as_deref(),
                    payload: None,
                    traceparent: event.traceparent.as_deref(),
                    ordered_tenant: false,
                });
                self.fan_out_leased(&parts, version, takeover, early).await
            }
        }
    }

    /// An event whose fingerprint is among the done marks, with no state in Redis: done
    /// when the log has it (and this claim's state is taken back), else a fingerprint
    /// that collided, and new (the claim holds it). The log has every event done, since
    /// the record that removes its state follows the log's write: so no event is
    /// dropped for a collision.
    async fn confirm_done(&self, event: &Event) -> Result<Claim, Disposition> {
        let logged = self.db.event_logged(&event.tenant, &event.id).await;
        if !logged.map_err(Requeue::from)? {
            return Ok(Claim::New);
        }
        self.store.forget_claim(event).await?;
        Ok(Claim::Done)
    }

    /// What a take-over builds its bodies from, to send what the first try sent: the
    /// event where its payload was kept (Redis, for a duplicate's resume task; the log,
    /// once the holder wrote it); else (the holder wrote nothing) this message's, with
    /// the first receive time. One Redis read gives both the kept event and that time.
    async fn taken_over(&self, event: &Event) -> Result<StoredEvent, Disposition> {
        let (t, id) = (event.tenant.as_str(), event.id.as_str());
        let (kept, first_at) = self.store.claimed(t, id).await?;
        if let Some(kept) = kept {
            return Ok(kept);
        }
        let logged = self.db.event(t, id).await.map_err(Requeue::from)?;
        // The log keeps no trace context: the message's is the event's.
        let traceparent = event.traceparent.clone();
        Ok(match logged {
            Some(logged) => StoredEvent {
                traceparent,
                ..logged.stored(t)
            },
            None => StoredEvent {
                id: event.id.clone(),
                tenant: event.tenant.clone(),
                kind: event.kind.clone(),
                data: event.data.get().to_owned(),
                received_at: first_at.unwrap_or_else(hookpost_core::now_ms),
                occurred_at: event.occurred_at.clone(),
                state: "processing".into(),
                traceparent,
            },
        })
    }

    /// What becomes of an event from the exchange whose type its tenant does not know,
    /// or whose `data` its type's schema refuses; `None` when it may go on.
    async fn check_type(&self, event: &Event) -> Option<Disposition> {
        let e = event;
        match self.types.check(&e.tenant, &e.kind, &e.data).await {
            Ok(Ok(())) => None,
            Ok(Err(r)) => Some(Disposition::DeadLetter(
                r.reason(),
                r.message(&e.tenant, &e.kind),
            )),
            Err(db) => Some(Requeue::Db(db).into()),
        }
    }

    /// Moves an event to the overflow queue: acked once RabbitMQ confirmed the copy, so
    /// a crash in between leaves two copies, and the event's claim delivers it once.
    async fn move_to_overflow(&self, data: &[u8], event: &Event) -> Disposition {
        let trace: Vec<(&str, String)> = event
            .traceparent
            .iter()
            .map(|t| (hookpost_ops::telemetry::TRACEPARENT, t.clone()))
            .collect();
        let msg = hookpost_broker::Outgoing {
            exchange: "",
            routing_key: &self.topology.overflow_queue,
            body: data,
            message_id: Some(&event.id),
            headers: &trace,
        };
        match self.publisher.publish(&msg).await {
            Ok(()) => {
                self.metrics.fairness_moved.inc();
                Disposition::Ack(Durable::nothing_to_write(NothingToWrite::MovedToOverflow))
            }
            Err(e) => Requeue::Overflow(e).into(),
        }
    }

    /// A message from the deliveries queue: one of hookpost's own tasks.
    pub async fn handle_task(&self, data: &[u8]) -> Disposition {
        match Task::from_json(data) {
            // From the retry set, not a backlog: a slow hook's delivery goes into its
            // backlog with the write.
            Ok(Task::Attempt(task)) => match self.prepare_retry(&task, None).await {
                Prepared::Settled(d) => d,
                Prepared::Decided(prepared) => {
                    let (event, decided) = *prepared;
                    let ev = EventParts::of(&event);
                    self.make_durable(&ev, vec![decided], &[], false).await
                }
            },
            Ok(Task::Resume(task)) => self.resume(&task).await,
            Ok(Task::Drain(task)) => self.drain(&task).await,
            Err(e) => Disposition::DeadLetter(DeadLetterReason::InvalidTask, e),
        }
    }

    /// Fans a claimed event out with its lease renewed meanwhile. A requeue releases the
    /// lease, so that the redelivery takes over at once instead of waiting it out.
    async fn fan_out_leased(
        &self,
        ev: &EventParts<'_>,
        version: u64,
        takeover: bool,
        early: &EarlyAck<'_>,
    ) -> Disposition {
        let held = self.leases.hold(ev.tenant, ev.id);
        // Made and awaited here: a future passed in and awaited is kept twice in the
        // state of the one that awaits it, and a handler's whole state is allocated and
        // copied for every message.
        let disposition = self.fan_out(ev, version, takeover, early).await;
        drop(held);
        if let Disposition::Requeue(_) = disposition {
            let _ = self
                .store
                .set_event_lease(ev.tenant, ev.id, std::time::Duration::ZERO)
                .await;
        }
        disposition
    }

    /// A retry, a deferred first attempt, or a resend: its attempt made (or put off), not
    /// yet durable; the caller writes it, or leaves it in its backlog. `read_ahead`: its
    /// event as the log has it, read with others, for where Redis keeps none.
    pub(crate) async fn prepare_retry(
        &self,
        task: &AttemptTask,
        read_ahead: Option<StoredEvent>,
    ) -> Prepared {
        let made = Prepared::Settled;
        let t = task.tenant.as_str();
        // A task comes whatever Redis holds: one taken while Redis is back empty would
        // find no hook and cancel its delivery, or take an ordering turn the rebuild has
        // not given back yet. It waits for the rebuild, as events do.
        let (reads, marker) = tokio::join!(
            self.store.retry_reads(t, &task.event_id, &task.delivery_id),
            self.store.marker_present()
        );
        if let Some(missing) = Disposition::unless_keyspace(marker) {
            return made(missing);
        }
        let (event, progress, version) = match reads {
            Ok(r) => (r.event, r.progress, r.hooks_version),
            Err(e) => return made(e.into()),
        };
        // Redis let the payload and the hot state go once every delivery had ended
        // delivered: a resend reads them from the log (so does a task whose delivery
        // PostgreSQL holds and Redis does not, yet or any more). The event's receive time,
        // where known, names its delivery's partition: the read is planned over that day's
        // only, not every day's.
        let known = event.or(read_ahead);
        let event_at = known.as_ref().map(|e| e.received_at);
        let (event, progress) = tokio::join!(
            async {
                match known {
                    Some(event) => Ok(Some(event)),
                    None => (self.db.event(t, &task.event_id).await)
                        .map(|logged| logged.map(|e| e.stored(t))),
                }
            },
            async {
                match progress {
                    Some(progress) => Ok((Some(progress), None)),
                    None => {
                        (self.db.delivery_state(t, &task.delivery_id, event_at).await).map(|d| {
                            let progress = d
                                .as_ref()
                                .map(|d| (d.hook_json.clone(), d.attempt_count, d.status));
                            (progress, d)
                        })
                    }
                }
            }
        );
        let (event, (progress, logged)) = match (event, progress) {
            (Ok(e), Ok(p)) => (e, p),
            (Err(e), _) | (_, Err(e)) => return made(Requeue::from(e).into()),
        };
        let Some(event) = event else {
            warn!(delivery_id = %task.delivery_id, "event expired before its retry; dropping the retry");
            return made(Disposition::Ack(Durable::nothing_to_write(
                NothingToWrite::EventExpired,
            )));
        };
        let hook_json = match &progress {
            Some((_, done, status))
                if !task.resend && (status.is_final() || *done >= task.attempt) =>
            {
                // Already made: a duplicate task. Unless only the log shows it made and
                // waiting: its worker died after the log write, before storing in Redis
                // the task that follows (the hot state is written after that task). That
                // task is stored now, as the log has it.
                let duplicate =
                    Disposition::Ack(Durable::nothing_to_write(NothingToWrite::DuplicateTask));
                return made(match logged {
                    Some(d) if !d.status.is_final() => {
                        match self.store.schedule(&[d.next_attempt(t)]).await {
                            Ok(durable) => Disposition::Ack(durable),
                            Err(e) => e.into(),
                        }
                    }
                    Some(d) => match self.let_go_logged(&event, version, &d).await {
                        Ok(()) => duplicate,
                        Err(requeue) => requeue,
                    },
                    None => duplicate,
                });
            }
            Some((hook_json, _, _)) => Some(hook_json.clone()),
            None => None,
        };
        let hooks = match self.hooks.get(&self.store, t, version).await {
            Ok(h) => h,
            Err(e) => return made(e.into()),
        };
        let ev = EventParts::of(&event);
        let hook = hooks
            .iter()
            .find(|h| h.hook.id == task.hook_id && h.hook.active);
        let delivery = DeliveryRef {
            id: task.delivery_id.clone(),
            hook_id: task.hook_id.clone(),
            hook_json: match (hook_json, hook) {
                (Some(json), _) => json,
                (None, Some(hook)) => hook.snapshot.clone(),
                (None, None) => String::new(),
            },
        };
        let decided = match hook {
            Some(hook) => {
                let ctx = AttemptCtx {
                    ev: &ev,
                    hook,
                    delivery,
                    n: task.attempt,
                    resend: task.resend,
                };
                self.attempt(ctx).await
            }
            // Deleted or deactivated: scheduled attempts are dropped, not replayed. Unless
            // Redis lost its data since the check above: then the hook may well be there.
            None => match Disposition::unless_keyspace(self.store.marker_present().await) {
                None => Decided::Cancelled(delivery),
                Some(missing) => return made(missing),
            },
        };
        Prepared::Decided(Box::new((event, decided)))
    }

    /// A task finding only the log showing its delivery ended. On an ordered hook, that
    /// delivery's handler may have died before letting go of its key, which then waits
    /// for it (a look told it was busy marked it wanted, see order_turn.lua): it is let
    /// go of as that handler would have.
    async fn let_go_logged(
        &self,
        event: &StoredEvent,
        version: u64,
        d: &hookpost_store::log::Delivery,
    ) -> Result<(), Disposition> {
        let hooks = self.hooks.get(&self.store, &event.tenant, version).await;
        let hooks = hooks.map_err(Disposition::from)?;
        let hook = hooks.iter().find(|h| h.hook.id == d.hook_id);
        let Some(order) = hook.and_then(|h| h.order.as_ref()) else {
            return Ok(());
        };
        self.turns
            .let_go_ended(&EventParts::of(event), order, d, None)
            .await;
        Ok(())
    }

    /// Looks at an event another handler holds again a second after its lease's `left`.
    async fn resume_after(&self, task: ResumeTask, left: std::time::Duration) -> Disposition {
        let due = Due {
            at_ms: hookpost_core::now_ms() + left.as_millis() as i64 + 1000,
            task: Task::Resume(task),
        };
        match self.store.schedule(&[due]).await {
            Ok(durable) => Disposition::Ack(durable),
            Err(e) => e.into(),
        }
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
            return Disposition::Ack(Durable::nothing_to_write(NothingToWrite::AlreadyDone));
        };
        // Taken over at once when no lease holds it: one resume takes it, however many
        // run at once, and a claim of a redelivery meanwhile finds it held.
        let lease = LEASE.as_millis() as u64;
        match self
            .store
            .hold_event(&task.tenant, &task.event_id, lease)
            .await
        {
            Ok(Held::Free) => {}
            Ok(Held::Left(left)) => return self.resume_after(task.clone(), left).await,
            // Finished meanwhile.
            Ok(Held::NotProcessing) => {
                return Disposition::Ack(Durable::nothing_to_write(NothingToWrite::AlreadyDone))
            }
            Err(e) => return e.into(),
        }
        info!(event_id = %task.event_id, "taking over an event whose worker is gone");
        let parts = EventParts::of(&event);
        let early = EarlyAck::none();
        self.fan_out_leased(&parts, version, true, &early).await
    }
}
