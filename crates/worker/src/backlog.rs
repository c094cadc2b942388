//! A slow hook's deliveries wait in its backlog ([`hookpost_store::backlog`]), so that a
//! hook that hangs costs the others almost nothing: one list entry per delivery, where a
//! deferral costs a retry task and a log record. Here: the push, which arms a backlog by
//! scheduling its drain first, and the drain, which works through a backlog once the
//! hook's slow spell ends.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hookpost_core::delivery::delivery_id;
use hookpost_core::task::{AttemptTask, DrainTask};
use hookpost_store::backlog::parse_entry;
use hookpost_store::log::{BacklogPush, Record};
use tracing::warn;

use crate::process::{Disposition, EventParts, Retried};
use crate::Worker;

/// How long one drain works before it hands over to the next one (through the retry
/// set), so that a long backlog does not keep one message for minutes.
const TURN: Duration = Duration::from_secs(10);
/// Pushes tried before the message is requeued: each refusal means that a drain ended
/// while this worker armed the backlog, which is rare even once.
const ARM_ROUNDS: usize = 3;

/// A push into its hook's backlog: the hook, the entry, and when the drain should come.
pub(crate) type Push<'a> = (&'a str, &'a str, i64);

/// The backlogs this worker saw armed, by tenant: a push into one needs no drain
/// scheduled. An entry gone stale costs one refused push.
#[derive(Default)]
pub struct ArmedBacklogs(Mutex<HashMap<String, HashSet<String>>>);

impl ArmedBacklogs {
    fn contains(&self, tenant: &str, hook_id: &str) -> bool {
        let armed = self.0.lock().expect("not poisoned");
        armed
            .get(tenant)
            .is_some_and(|hooks| hooks.contains(hook_id))
    }

    fn set(&self, tenant: &str, hook_id: &str, armed: bool) {
        let mut all = self.0.lock().expect("not poisoned");
        match armed {
            true => {
                all.entry(tenant.to_owned())
                    .or_default()
                    .insert(hook_id.to_owned());
            }
            false => {
                if let Some(hooks) = all.get_mut(tenant) {
                    hooks.remove(hook_id);
                }
            }
        }
    }
}

impl Worker {
    /// Records an event's outcomes and pushes its slow hooks' deliveries into their
    /// backlogs in one write. A backlog this worker has not seen armed gets its drain
    /// scheduled first. Returns the hooks failing for too long.
    pub(crate) async fn record_with_backlog(
        &self,
        ev: &EventParts<'_>,
        records: &[Record<'_>],
        pushes: &[Push<'_>],
        event_done: bool,
        failing_span_ms: i64,
    ) -> Result<Vec<String>, Disposition> {
        let mut may_arm: Vec<Option<u64>> = vec![None; pushes.len()];
        let mut to_arm: Vec<usize> = (0..pushes.len())
            .filter(|&i| !self.armed.contains(ev.tenant, pushes[i].0))
            .collect();
        for _ in 0..ARM_ROUNDS {
            if !to_arm.is_empty() {
                let hooks: Vec<&str> = to_arm.iter().map(|&i| pushes[i].0).collect();
                let counts = self
                    .persist(|| self.store.backlog_disarms(ev.tenant, &hooks))
                    .await?;
                for (&i, count) in to_arm.iter().zip(counts) {
                    let (hook_id, _, at) = pushes[i];
                    self.persist(|| self.store.schedule_drain(ev.tenant, hook_id, at))
                        .await?;
                    may_arm[i] = Some(count);
                }
            }
            let backlog: Vec<BacklogPush<'_>> = pushes
                .iter()
                .zip(&may_arm)
                .map(|(&(hook_id, entry, _), &may_arm)| BacklogPush {
                    hook_id,
                    entry,
                    may_arm,
                })
                .collect();
            let recorded = self
                .persist(|| {
                    self.store.record(
                        ev.tenant,
                        ev.id,
                        records,
                        &backlog,
                        event_done,
                        failing_span_ms,
                    )
                })
                .await?;
            if recorded.refused.is_empty() {
                for &(hook_id, _, _) in pushes {
                    if !self.armed.contains(ev.tenant, hook_id) {
                        self.armed.set(ev.tenant, hook_id, true);
                    }
                }
                return Ok(recorded.failing);
            }
            for &i in &recorded.refused {
                self.armed.set(ev.tenant, pushes[i].0, false);
            }
            to_arm = recorded.refused;
        }
        Err(Disposition::Requeue(
            "a slow hook's backlog was disarmed each time this worker armed it".into(),
        ))
    }

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
                    Ok(0) => Disposition::Ack,
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

    /// Schedules the hook's next drain, then lets go of the lock if this drain holds it
    /// (if that fails, the lock's lease frees it).
    async fn drain_later(&self, t: &str, h: &str, at_ms: i64, token: Option<&str>) -> Disposition {
        if let Err(e) = self
            .persist(|| self.store.schedule_drain(t, h, at_ms))
            .await
        {
            return e.into();
        }
        if let Some(token) = token {
            let _ = self.store.end_drain(t, h, token).await;
        }
        Disposition::Ack
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
        let stop = AtomicBool::new(false);
        // Built first: a stream of futures made inside its own closure is not `Send`.
        let steps: Vec<_> = unique
            .iter()
            .enumerate()
            .map(|(i, entry)| self.drain_step(i, t, h, entry, &stop))
            .collect();
        let steps: Vec<(usize, Option<Retried>)> = futures_util::stream::iter(steps)
            .buffer_unordered(self.config.hook_concurrency)
            .collect()
            .await;
        let (mut done, mut slow_until, mut failed) = (HashSet::new(), None, None);
        for (i, step) in steps {
            match step {
                Some(Retried::Made(Disposition::Ack)) => {
                    done.insert(unique[i]);
                }
                Some(Retried::StillSlow(at)) => {
                    slow_until = Some(slow_until.map_or(at, |s: i64| s.min(at)));
                }
                Some(Retried::Made(other)) => failed = Some(other),
                // Not started: the hook turned slow, or a write failed, before its turn.
                None => {}
            }
        }
        let finished: Vec<String> = head.iter().filter(|e| done.contains(e)).cloned().collect();
        self.persist(|| self.store.backlog_remove(t, h, &finished))
            .await?;
        match failed {
            Some(failed) => Err(failed),
            None => Ok(slow_until),
        }
    }

    /// One entry's attempt, unless an earlier one found the hook slow or failed.
    async fn drain_step(
        &self,
        i: usize,
        t: &str,
        h: &str,
        entry: &str,
        stop: &AtomicBool,
    ) -> (usize, Option<Retried>) {
        if stop.load(Ordering::Relaxed) {
            return (i, None);
        }
        let step = self.drain_one(t, h, entry).await;
        if !matches!(step, Retried::Made(Disposition::Ack)) {
            stop.store(true, Ordering::Relaxed);
        }
        (i, Some(step))
    }

    /// One entry's attempt, as a retry from the backlog.
    async fn drain_one(&self, t: &str, h: &str, entry: &str) -> Retried {
        let Some((event_id, attempt, resend)) = parse_entry(entry) else {
            warn!(hook_id = h, entry, "dropping a malformed backlog entry");
            return Retried::Made(Disposition::Ack);
        };
        let task = AttemptTask {
            tenant: t.to_owned(),
            event_id: event_id.to_owned(),
            hook_id: h.to_owned(),
            delivery_id: delivery_id(t, event_id, h),
            attempt,
            resend,
        };
        self.retry(&task, true).await
    }
}
