//! A slow hook's deliveries wait in its backlog ([`hookpost_store::backlog`]), so that a
//! hook that hangs costs the others almost nothing: one list entry per delivery, where a
//! deferral costs a retry task and a log record. Here: the push, which arms a backlog by
//! scheduling its drain first and goes to Redis with the pushes of the other events
//! handled at the same time, and the drain, which works through a backlog once the
//! hook's slow spell ends.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hookpost_core::delivery::delivery_id;
use hookpost_core::task::{AttemptTask, DrainTask};
use hookpost_store::backlog::parse_entry;
use hookpost_store::backlog::BacklogPush;
use hookpost_store::log::Record;
use hookpost_store::Store;
use tokio::sync::oneshot;
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
    /// Which of `hooks` this worker saw armed, in one look.
    fn armed(&self, tenant: &str, hooks: &[&str]) -> Vec<bool> {
        let all = self.0.lock().expect("not poisoned");
        let seen = all.get(tenant);
        hooks
            .iter()
            .map(|h| seen.is_some_and(|armed| armed.contains(*h)))
            .collect()
    }

    /// Notes what pushes found: the backlog armed (accepted) or not (refused).
    fn update<'h>(&self, tenant: &str, found: impl Iterator<Item = (&'h str, bool)>) {
        let mut all = self.0.lock().expect("not poisoned");
        for (hook_id, armed) in found {
            match armed {
                true => {
                    let seen = all.entry(tenant.to_owned()).or_default();
                    if !seen.contains(hook_id) {
                        seen.insert(hook_id.to_owned());
                    }
                }
                false => {
                    if let Some(seen) = all.get_mut(tenant) {
                        seen.remove(hook_id);
                    }
                }
            }
        }
    }
}

/// Gathers the backlog pushes of the events handled at the same time into one write per
/// tenant: a hanging hook then costs Redis one list push per batch of events, not one
/// per event. One write is in flight at a time; the pushes that come meanwhile go out
/// together as soon as it returns, so a batch grows with the load and waits no timer.
#[derive(Default)]
pub struct BacklogWriter {
    pending: Arc<Mutex<Pending>>,
}

#[derive(Default)]
struct Pending {
    submissions: Vec<Submission>,
    writing: bool,
}

/// One caller's pushes into one tenant's backlogs.
struct Submission {
    tenant: String,
    /// The hook ids and entries end to end, so that a push costs no allocation of its own
    /// (an event's pushes into several hooks share their entry).
    text: String,
    /// Each push: its hook id and its entry (where they are in `text`), and may arm.
    pushes: Vec<(Range<usize>, Range<usize>, Option<u64>)>,
    /// The pushes refused (their indexes), or why the write failed.
    reply: oneshot::Sender<hookpost_store::Result<Vec<usize>>>,
}

impl Submission {
    fn new<'p>(
        tenant: &str,
        pushes: impl Iterator<Item = (&'p str, &'p str, Option<u64>)>,
        reply: oneshot::Sender<hookpost_store::Result<Vec<usize>>>,
    ) -> Self {
        let n = pushes.size_hint().0;
        let mut text = String::with_capacity(64 * n);
        let mut ranges = Vec::with_capacity(n);
        let mut last: Option<(&str, Range<usize>)> = None;
        for (hook_id, entry, may_arm) in pushes {
            let hook = append(&mut text, hook_id);
            let at = match &last {
                Some((same, at)) if *same == entry => at.clone(),
                _ => append(&mut text, entry),
            };
            last = Some((entry, at.clone()));
            ranges.push((hook, at, may_arm));
        }
        Submission {
            tenant: tenant.to_owned(),
            text,
            pushes: ranges,
            reply,
        }
    }

    /// Each push: (hook id, entry, may arm).
    fn pushes(&self) -> impl Iterator<Item = (&str, &str, Option<u64>)> {
        self.pushes
            .iter()
            .map(|(h, e, may_arm)| (&self.text[h.clone()], &self.text[e.clone()], *may_arm))
    }
}

impl BacklogWriter {
    /// Puts entries in their hooks' backlogs together with those of other callers; the
    /// pushes refused (their indexes), as [`Store::push_backlogs`] says.
    async fn push<'p>(
        &self,
        store: &Store,
        tenant: &str,
        pushes: impl Iterator<Item = (&'p str, &'p str, Option<u64>)>,
    ) -> hookpost_store::Result<Vec<usize>> {
        let (reply, answer) = oneshot::channel();
        let submission = Submission::new(tenant, pushes, reply);
        let start = {
            let mut pending = self.pending.lock().expect("not poisoned");
            pending.submissions.push(submission);
            !std::mem::replace(&mut pending.writing, true)
        };
        if start {
            let (pending, store) = (self.pending.clone(), store.clone());
            tokio::spawn(async move {
                loop {
                    let batch = {
                        let mut pending = pending.lock().expect("not poisoned");
                        if pending.submissions.is_empty() {
                            pending.writing = false;
                            return;
                        }
                        std::mem::take(&mut pending.submissions)
                    };
                    write_batch(&store, batch).await;
                }
            });
        }
        answer.await.unwrap_or_else(|_| {
            Err(hookpost_store::StoreError::Corrupt(
                "a backlog write was dropped before it answered".into(),
            ))
        })
    }
}

/// Appends `s` to `text`; where it is.
fn append(text: &mut String, s: &str) -> Range<usize> {
    let start = text.len();
    text.push_str(s);
    start..text.len()
}

/// One write per tenant of a batch; each caller hears of its own pushes.
async fn write_batch(store: &Store, batch: Vec<Submission>) {
    let mut answers: Vec<hookpost_store::Result<Vec<usize>>> =
        batch.iter().map(|_| Ok(Vec::new())).collect();
    let mut tenants: Vec<&str> = batch.iter().map(|s| s.tenant.as_str()).collect();
    tenants.sort_unstable();
    tenants.dedup();
    for tenant in tenants {
        let of_tenant = || batch.iter().enumerate().filter(|(_, s)| s.tenant == tenant);
        // One push per hook and arming count, its entries in the order they came; and
        // for each, the (submission, push) it carries.
        let mut groups: Vec<BacklogPush<'_>> = Vec::new();
        let mut carried: Vec<Vec<(usize, usize)>> = Vec::new();
        for (n, s) in of_tenant() {
            for (i, (hook_id, entry, may_arm)) in s.pushes().enumerate() {
                let same = |g: &BacklogPush<'_>| g.hook_id == hook_id && g.may_arm == may_arm;
                // Events of a tenant mostly push into the same hooks in the same order.
                let g = match groups.get(i).is_some_and(same) {
                    true => Some(i),
                    false => groups.iter().position(same),
                };
                let g = g.unwrap_or_else(|| {
                    groups.push(BacklogPush {
                        hook_id,
                        entries: Vec::new(),
                        may_arm,
                    });
                    carried.push(Vec::new());
                    groups.len() - 1
                });
                groups[g].entries.push(entry);
                carried[g].push((n, i));
            }
        }
        match store.push_backlogs(tenant, &groups).await {
            Ok(refused) => {
                for &(n, i) in refused.iter().flat_map(|&g| &carried[g]) {
                    if let Ok(refused) = &mut answers[n] {
                        refused.push(i);
                    }
                }
            }
            Err(e) => {
                for (n, _) in of_tenant() {
                    answers[n] = Err(e.copy());
                }
            }
        }
    }
    for (s, mut answer) in batch.into_iter().zip(answers) {
        if let Ok(refused) = &mut answer {
            refused.sort_unstable();
        }
        let _ = s.reply.send(answer);
    }
}

impl Worker {
    /// Puts an event's slow hooks' deliveries in their backlogs, then records its
    /// outcomes. A backlog this worker has not seen armed gets its drain scheduled
    /// first. Returns the hooks failing for too long.
    pub(crate) async fn record_with_backlog(
        &self,
        ev: &EventParts<'_>,
        records: &[Record<'_>],
        pushes: &[Push<'_>],
        event_done: bool,
        failing_span_ms: i64,
    ) -> Result<Vec<String>, Disposition> {
        if !pushes.is_empty() {
            self.push_backlogs(ev.tenant, pushes).await?;
        }
        Ok(self
            .persist(|| {
                self.store
                    .record(ev.tenant, ev.id, records, event_done, failing_span_ms)
            })
            .await?)
    }

    /// Pushes into slow hooks' backlogs, arming those this worker has not seen armed.
    async fn push_backlogs(&self, tenant: &str, pushes: &[Push<'_>]) -> Result<(), Disposition> {
        let hooks: Vec<&str> = pushes.iter().map(|p| p.0).collect();
        let mut may_arm: Vec<Option<u64>> = vec![None; pushes.len()];
        let mut left: Vec<usize> = (0..pushes.len()).collect();
        let seen = self.armed.armed(tenant, &hooks);
        let mut to_arm: Vec<usize> = left.iter().copied().filter(|&i| !seen[i]).collect();
        for _ in 0..ARM_ROUNDS {
            if !to_arm.is_empty() {
                let hooks: Vec<&str> = to_arm.iter().map(|&i| pushes[i].0).collect();
                let counts = self
                    .persist(|| self.store.backlog_disarms(tenant, &hooks))
                    .await?;
                for (&i, count) in to_arm.iter().zip(counts) {
                    let (hook_id, _, at) = pushes[i];
                    self.persist(|| self.store.schedule_drain(tenant, hook_id, at))
                        .await?;
                    may_arm[i] = Some(count);
                }
            }
            let batch = || left.iter().map(|&i| (pushes[i].0, pushes[i].1, may_arm[i]));
            let refused = self
                .persist(|| self.writer.push(&self.store, tenant, batch()))
                .await?;
            // Only what this worker did not know already changes its view.
            let found = left
                .iter()
                .enumerate()
                .map(|(j, &i)| (i, !refused.contains(&j)))
                .filter(|&(i, armed)| armed != seen[i] || may_arm[i].is_some())
                .map(|(i, armed)| (pushes[i].0, armed));
            self.armed.update(tenant, found);
            if refused.is_empty() {
                return Ok(());
            }
            left = refused.iter().map(|&j| left[j]).collect();
            to_arm = left.clone();
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
