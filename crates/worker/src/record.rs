//! The write-then-ack order: [`Worker::make_durable`] stores an outcome and returns the
//! store's proof, [`hookpost_store::Durable`], which is the only thing the settler acks for.
//! The log (PostgreSQL) is written before anything in Redis that drives a delivery on (a
//! retry, a safety net, a backlog entry): a Redis that loses its data between the two
//! finds the delivery in the log when it is rebuilt, and one that loses it before the
//! log write gets the task written after it.

use hookpost_core::delivery::delivery_id;
use hookpost_store::log::{EventMark, Record, Recorded, Status};
use hookpost_store::retries::Due;
use tracing::warn;

use crate::backlog::Push;
use crate::context::{attempt_task, EventParts};
use crate::decided::Decided;
use crate::disposition::{Disposition, Requeue};
use crate::persist::persist;
use crate::Worker;

/// A delivery put off without an outcome: in its hook's backlog, or in flight with a
/// safety-net retry stored. Only Redis holds where it waits, so the log shows it
/// `pending`, due at `at_ms`, until its outcome: a Redis that comes back empty gets it
/// back from PostgreSQL, in the retry set. One parked in its backlog by the write that
/// stores its event is kept in the event's row ([`hookpost_db::Parked`]), not as a row
/// of its own.
#[derive(Clone, Copy)]
pub(crate) struct Waiting<'a> {
    pub hook_id: &'a str,
    pub at_ms: i64,
    /// The body's hook snapshot, which its attempt sends.
    pub hook_json: &'a str,
    /// Its backlog entry, to push; `None` for a slow first attempt's safety net, the
    /// task of that attempt again at `at_ms`.
    pub backlog: Option<&'a str>,
}

impl<'a> Waiting<'a> {
    fn push(&self) -> Option<Push<'a>> {
        Some(Push {
            hook_id: self.hook_id,
            entry: self.backlog?,
            at_ms: self.at_ms,
        })
    }

    fn net(&self, ev: &EventParts<'_>, delivery_id: &str) -> Option<Due> {
        let net = || attempt_task(ev, self.hook_id, delivery_id, 1, self.at_ms);
        self.backlog.is_none().then(net)
    }

    fn record(&self, delivery_id: &'a str, kind: &'a str) -> Record<'a> {
        Record {
            delivery_id,
            hook_id: self.hook_id,
            kind,
            hook_json: self.hook_json,
            status: Status::Pending,
            next_at: Some(self.at_ms),
            attempt: None,
            blocking: false,
            if_new: false,
            forget_soon: false,
        }
    }
}

impl Worker {
    /// The log first (PostgreSQL: the outcomes, `retrying` with the next attempt's time,
    /// `pending` for what waits), then Redis (the retries and safety nets, the backlog
    /// pushes, the hot state); `Ack` with the last write's proof. `event_done` marks the
    /// event processed, and lets Redis drop its payload when every delivery ended
    /// delivered (or cancelled) or waits in its hook's backlog (and its state too, its
    /// mark a done mark's fingerprint, when its tenant has no ordered hook).
    pub(crate) async fn make_durable(
        &self,
        ev: &EventParts<'_>,
        decided: Vec<Decided>,
        waiting: &[Waiting<'_>],
        event_done: bool,
    ) -> Disposition {
        let records: Vec<Record<'_>> = decided.iter().filter_map(|d| d.record(ev.kind)).collect();
        let mut waiting = waiting.to_vec();
        waiting.extend(decided.iter().filter_map(Decided::waiting));
        // A backlog's drain reads its event from the log (its row is written with this
        // record, and lists what it parked): Redis need not keep the payload for it.
        let nothing_waits_in_redis = waiting.iter().all(|w| w.backlog.is_some())
            && decided
                .iter()
                .all(|d| d.ended_delivered() || matches!(d, Decided::Backlogged { .. }));
        let mark = match event_done {
            false => EventMark::Keep,
            true if nothing_waits_in_redis => match ev.ordered_tenant {
                true => EventMark::DoneAndSlim,
                false => EventMark::DoneAndGone,
            },
            true => EventMark::Done(ev.kept()),
        };
        let Recorded { durable, failing } =
            match self.record(ev, &decided, &records, &waiting, mark).await {
                Ok(recorded) => recorded,
                Err(why) => return why.into(),
            };
        // The outcome is durable now: ordered deliveries let go of their keys and send
        // for the next ones (each key's hold lease and turn check cover a failure here).
        let mut next = Vec::new();
        for (d, hold, status) in decided.iter().filter_map(Decided::hold) {
            let release =
                self.turns
                    .let_go(ev.tenant, ev.id, &d.hook_id, &d.id, hold, Some(status));
            next.extend(release.await);
        }
        self.turns.send_for(next);
        let disabling = to_disable(&decided, &failing);
        // Rare, and boxed: every event's state would otherwise make room for it.
        if !disabling.is_empty() {
            Box::pin(self.disable_hooks(ev, &disabling)).await;
        }
        Disposition::Ack(durable)
    }

    /// Records an event's outcomes in the log (PostgreSQL, with the event itself on its
    /// first sight, and each waiting delivery `pending` until its attempt), then stores
    /// in Redis what drives them on: the retries and safety nets, the slow hooks' backlog
    /// pushes (a backlog this worker has not seen armed gets its drain scheduled first),
    /// and the hot state.
    async fn record(
        &self,
        ev: &EventParts<'_>,
        decided: &[Decided],
        records: &[Record<'_>],
        waiting: &[Waiting<'_>],
        mark: EventMark<'_>,
    ) -> Result<Recorded, Requeue> {
        let stores_event = mark != EventMark::Keep;
        let in_event = |w: &Waiting<'_>| stores_event && w.backlog.is_some();
        let event = stores_event.then(|| hookpost_db::EventRow {
            id: ev.id.to_owned(),
            kind: ev.kind.to_owned(),
            occurred_at: ev.occurred_at.map(str::to_owned),
            traceparent: ev.traceparent.map(str::to_owned),
            data: hookpost_db::Payload::pack(ev.data),
            parked: (waiting.iter().filter(|w| in_event(w)))
                .map(|w| hookpost_db::Parked::new(w.hook_id, w.hook_json, w.at_ms))
                .collect(),
        });
        // What waits outside the event's row, a row each (rare: a slow attempt, or a
        // retry put in a backlog).
        let rows: Vec<(&Waiting<'_>, String)> = (waiting.iter().filter(|w| !in_event(w)))
            .map(|w| (w, delivery_id(ev.tenant, ev.id, w.hook_id)))
            .collect();
        let logged: std::borrow::Cow<'_, [Record<'_>]> = match rows.is_empty() {
            true => records.into(),
            false => {
                let pending = rows.iter().map(|(w, id)| w.record(id, ev.kind));
                records.iter().cloned().chain(pending).collect()
            }
        };
        let mut batch = hookpost_db::Batch::of(ev.tenant, ev.id, ev.received_at, event, &logged);
        batch.urgent = decided.iter().any(|d| d.hold().is_some());
        let batch = std::sync::Arc::new(batch);
        persist(&self.metrics, || self.db.write(batch.clone())).await?;
        let mut due: Vec<Due> = decided.iter().filter_map(|d| d.due().cloned()).collect();
        let retries = due.len();
        due.extend(rows.iter().filter_map(|(w, id)| w.net(ev, id)));
        if !due.is_empty() {
            persist(&self.metrics, || self.store.schedule(&due)).await?;
            self.metrics.retries_scheduled.inc_by(retries as u64);
        }
        let pushes: Vec<Push<'_>> = waiting.iter().filter_map(Waiting::push).collect();
        if !pushes.is_empty() {
            self.backlogs.push(ev.tenant, &pushes).await?;
        }
        let span = self.config.disable_after.as_millis() as i64;
        let record = || self.store.record(ev.tenant, ev.id, records, mark, span);
        Ok(persist(&self.metrics, record).await?)
    }

    /// Deactivates `hooks` ([`to_disable`]). A consequence that the next failure tries
    /// again, so its errors do not hold the message back.
    async fn disable_hooks(&self, ev: &EventParts<'_>, hooks: &[(&str, &'static str)]) {
        for &(hook_id, reason) in hooks {
            match self
                .db
                .disable_hook(&self.store, ev.tenant, hook_id, reason)
                .await
            {
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
    }
}

/// Outcomes gathered as they came, back in their deliveries' order.
pub(crate) fn by_index(mut decided: Vec<(usize, Decided)>) -> Vec<Decided> {
    decided.sort_by_key(|(i, _)| *i);
    decided.into_iter().map(|(_, d)| d).collect()
}

/// The hooks an event's outcomes deactivate, with why: those gone (410) and those
/// failing for too long.
fn to_disable<'a>(decided: &'a [Decided], failing: &'a [String]) -> Vec<(&'a str, &'static str)> {
    let gone = decided
        .iter()
        .filter_map(Decided::gone)
        .map(|h| (h, "gone"));
    let failing = failing.iter().map(|h| (h.as_str(), "failing"));
    gone.chain(failing).collect()
}
