//! A hook's backlog worked through once its slow spell ends: one drain task per hook,
//! through the retry set. Each entry is attempted as a retry, and taken off the backlog
//! once its outcome is recorded.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hookpost_core::delivery::delivery_id;
use hookpost_core::task::{AttemptTask, DrainTask};
use hookpost_store::backlog::parse_entry;
use hookpost_store::events::StoredEvent;
use hookpost_store::{Durable, NothingToWrite};
use tracing::warn;

use crate::context::EventParts;
use crate::decided::Decided;
use crate::disposition::Disposition;
use crate::persist::persist;
use crate::process::Prepared;
use crate::Worker;

/// How long one drain works before it hands over to the next one (through the retry
/// set), so that a long backlog does not keep one message for minutes.
const TURN: Duration = Duration::from_secs(10);

/// A backlog entry as [`parse_entry`] reads it: event id, attempt, resend.
type Entry<'a> = (&'a str, u32, bool);

/// What became of one backlog entry.
enum Step {
    /// Its outcome is durable: take it off the backlog.
    Done,
    /// The hook is slow still: the entry stays, and the drain comes back at this time.
    StillSlow(i64),
    Failed(Disposition),
}

impl Worker {
    /// Works through a hook's backlog while the hook keeps up, for one turn at most; then
    /// schedules the next drain, or disarms the backlog once it is empty.
    pub(crate) async fn drain(&self, task: &DrainTask) -> Disposition {
        let (t, h) = (task.tenant.as_str(), task.hook_id.as_str());
        let token = hookpost_core::ids::random_id("drain");
        // A chunk is one round of attempts, as many as the hook's slots: the lock, renewed
        // before each, outlasts it; a dead worker's lock frees soon after.
        let chunk = self.config.hook_concurrency;
        let lease = self.config.request_timeout + self.config.hook_wait + Duration::from_secs(10);
        let started = Instant::now();
        loop {
            match self.store.lock_backlog(t, h, &token, lease).await {
                Ok(None) => {}
                // Another drain works through it: look again when its lock would end, in
                // case its worker died.
                Ok(Some(wait_ms)) => {
                    return self
                        .drain_later(t, h, hookpost_core::now_ms() + wait_ms, None)
                        .await
                }
                Err(e) => return e.into(),
            }
            let head = match self.store.backlog_head(t, h, chunk).await {
                Ok(head) => head,
                Err(e) => return self.drain_failed(t, h, &token, e.into()).await,
            };
            if head.is_empty() {
                return match self.store.end_drain(t, h, &token).await {
                    Ok(0) => {
                        Disposition::Ack(Durable::nothing_to_write(NothingToWrite::BacklogEmpty))
                    }
                    // Pushed meanwhile, after the lock was let go: the next drain takes it.
                    Ok(_) => self.drain_later(t, h, hookpost_core::now_ms(), None).await,
                    Err(e) => e.into(),
                };
            }
            match self.drain_chunk(t, h, &head).await {
                Ok(Some(slow_until)) => {
                    return self.drain_later(t, h, slow_until, Some(&token)).await
                }
                Ok(None) if started.elapsed() >= TURN => {
                    return self
                        .drain_later(t, h, hookpost_core::now_ms(), Some(&token))
                        .await
                }
                Ok(None) => {}
                Err(failed) => return self.drain_failed(t, h, &token, failed).await,
            }
        }
    }

    /// Brings the hook's drain forward to now: its slow spell ended early (the hook only
    /// paused), so what it parked in its backlog need not wait for the spell's end. In
    /// the background, so that the attempt that found this out is not held up; should
    /// it fail, the drain comes when it was due.
    pub(crate) fn drain_now(&self, tenant: &str, hook_id: &str) {
        let (store, t, h) = (self.store.clone(), tenant.to_owned(), hook_id.to_owned());
        tokio::spawn(async move {
            if let Err(e) = store.schedule_drain(&t, &h, hookpost_core::now_ms()).await {
                tracing::debug!(error = %e, "a paused hook's drain stays when it was due");
            }
        });
    }

    /// Schedules the hook's next drain, then lets go of the lock if this drain holds it
    /// (if that fails, the lock's lease frees it).
    async fn drain_later(&self, t: &str, h: &str, at_ms: i64, token: Option<&str>) -> Disposition {
        let durable = match persist(&self.metrics, || self.store.schedule_drain(t, h, at_ms)).await
        {
            Ok(durable) => durable,
            Err(e) => return e.into(),
        };
        if let Some(token) = token {
            let _ = self.store.end_drain(t, h, token).await;
        }
        Disposition::Ack(durable)
    }

    /// A write failed: let go of the lock, so that the redelivered drain need not wait
    /// for its lease, and requeue.
    async fn drain_failed(
        &self,
        t: &str,
        h: &str,
        token: &str,
        failed: Disposition,
    ) -> Disposition {
        let _ = self.store.end_drain(t, h, token).await;
        failed
    }

    /// Attempts a chunk of entries, as many at once as the hook's slots allow, and takes
    /// off the backlog those whose outcome is recorded. `Ok(Some(at))`: the hook is slow
    /// again; its drain comes back then.
    async fn drain_chunk(
        &self,
        t: &str,
        h: &str,
        head: &[String],
    ) -> Result<Option<i64>, Disposition> {
        // A push retried after a lost answer leaves a copy: attempt it once.
        let mut seen = HashSet::new();
        let unique: Vec<&String> = head.iter().filter(|e| seen.insert(*e)).collect();
        let parsed: Vec<Option<Entry<'_>>> = unique.iter().map(|e| parse_entry(e)).collect();
        let ids: Vec<&str> = parsed.iter().flatten().map(|(id, _, _)| *id).collect();
        let mut logged = self.read_ahead(t, &ids).await;
        let stop = AtomicBool::new(false);
        // Built first: a stream of futures made inside its own closure is not `Send`.
        let steps: Vec<_> = (unique.iter().zip(parsed))
            .enumerate()
            .map(|(i, (entry, parsed))| {
                let event = parsed.and_then(|(id, _, _)| logged.remove(id));
                self.drain_step(i, t, h, (entry, parsed), event, &stop)
            })
            .collect();
        let steps: Vec<(usize, Option<Step>)> = futures_util::stream::iter(steps)
            .buffer_unordered(self.config.hook_concurrency)
            .collect()
            .await;
        let (mut done, mut slow_until, mut failed) = (HashSet::new(), None, None);
        for (i, step) in steps {
            match step {
                Some(Step::Done) => {
                    done.insert(unique[i]);
                }
                Some(Step::StillSlow(at)) => {
                    slow_until = Some(slow_until.map_or(at, |s: i64| s.min(at)));
                }
                Some(Step::Failed(other)) => failed = Some(other),
                // Not started: the hook turned slow, or a write failed, before its turn.
                None => {}
            }
        }
        let finished: Vec<String> = head.iter().filter(|e| done.contains(e)).cloned().collect();
        persist(&self.metrics, || self.store.backlog_remove(t, h, &finished)).await?;
        match failed {
            Some(failed) => Err(failed),
            None => Ok(slow_until),
        }
    }

    /// The chunk's events as the log has them, in one query: an event whose deliveries
    /// were all parked has its payload there only (Redis keeps none for it). Empty when
    /// the log cannot answer now: each entry then reads its own, and fails as it would.
    async fn read_ahead(&self, t: &str, ids: &[&str]) -> HashMap<String, StoredEvent> {
        if ids.is_empty() {
            return HashMap::new();
        }
        match self.db.events(t, ids).await {
            Ok(events) => (events.into_iter())
                .map(|e| (e.id.clone(), e.stored(t)))
                .collect(),
            Err(_) => HashMap::new(),
        }
    }

    /// One entry's attempt, unless an earlier one found the hook slow or failed.
    async fn drain_step(
        &self,
        i: usize,
        t: &str,
        h: &str,
        entry: (&str, Option<Entry<'_>>),
        event: Option<StoredEvent>,
        stop: &AtomicBool,
    ) -> (usize, Option<Step>) {
        if stop.load(Ordering::Relaxed) {
            return (i, None);
        }
        let step = self.drain_one(t, h, entry, event).await;
        if !matches!(step, Step::Done) {
            stop.store(true, Ordering::Relaxed);
        }
        (i, Some(step))
    }

    /// One entry's attempt, as a retry from the backlog, with what [`parse_entry`] read
    /// of it (`event`: read ahead from the log).
    async fn drain_one(
        &self,
        t: &str,
        h: &str,
        (entry, parsed): (&str, Option<Entry<'_>>),
        event: Option<StoredEvent>,
    ) -> Step {
        let Some((event_id, attempt, resend)) = parsed else {
            warn!(hook_id = h, entry, "dropping a malformed backlog entry");
            return Step::Done;
        };
        let task = AttemptTask {
            tenant: t.to_owned(),
            event_id: event_id.to_owned(),
            hook_id: h.to_owned(),
            delivery_id: delivery_id(t, event_id, h),
            attempt,
            resend,
        };
        let (event, decided) = match self.prepare_retry(&task, event).await {
            Prepared::Settled(Disposition::Ack(_)) => return Step::Done,
            Prepared::Settled(other) => return Step::Failed(other),
            Prepared::Decided(prepared) => *prepared,
        };
        if let Decided::Backlogged { at_ms, .. } = decided {
            return Step::StillSlow(at_ms);
        }
        match self
            .make_durable(&EventParts::of(&event), vec![decided], &[], false)
            .await
        {
            Disposition::Ack(_) => Step::Done,
            other => Step::Failed(other),
        }
    }
}
