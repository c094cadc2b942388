//! Gathers the backlog pushes of the events handled at the same time into one write per
//! tenant: a hanging hook then costs Redis one list push per batch of events, not one
//! per event. One write is in flight at a time; the pushes that come meanwhile go out
//! together as soon as it returns, so a batch grows with the load and waits no timer.
//!
//! The writer is one loop ([`WriterLoop`]) in the worker's task set. If it ends (a
//! panic), its queue goes with it: every push waiting for it, and every later one,
//! gets [`PushError::WriterGone`] at once, never a wait without end.

use std::ops::Range;

use hookpost_store::backlog::BacklogPush;
use hookpost_store::{Store, StoreError};
use tokio::sync::{mpsc, oneshot};

use crate::persist::Transient;

/// Submissions taken per write at most.
const BATCH: usize = 4096;

/// The handle pushers use.
pub struct BacklogWriter {
    tx: mpsc::UnboundedSender<Submission>,
}

/// The loop that writes; run it with [`WriterLoop::run`].
pub struct WriterLoop {
    rx: mpsc::UnboundedReceiver<Submission>,
}

/// Why a push got no answer from Redis.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the backlog writer stopped")]
    WriterGone,
}

impl Transient for PushError {
    fn transient(&self) -> bool {
        matches!(self, PushError::Store(_))
    }
    fn errors<'a>(&self, m: &'a hookpost_ops::Metrics) -> &'a prometheus::IntCounterVec {
        &m.redis_errors
    }
}

/// A writer and its loop.
pub fn backlog_writer() -> (BacklogWriter, WriterLoop) {
    let (tx, rx) = mpsc::unbounded_channel();
    (BacklogWriter { tx }, WriterLoop { rx })
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
    pub async fn push<'p>(
        &self,
        tenant: &str,
        pushes: impl Iterator<Item = (&'p str, &'p str, Option<u64>)>,
    ) -> Result<Vec<usize>, PushError> {
        let (reply, answer) = oneshot::channel();
        let submission = Submission::new(tenant, pushes, reply);
        if self.tx.send(submission).is_err() {
            return Err(PushError::WriterGone);
        }
        match answer.await {
            Ok(answer) => Ok(answer?),
            // The loop dropped the submission: it ended before it answered.
            Err(_) => Err(PushError::WriterGone),
        }
    }
}

impl WriterLoop {
    /// Writes until every [`BacklogWriter`] is gone.
    pub async fn run(self, store: Store) {
        self.run_with(|batch| write_batch(&store, batch)).await
    }

    async fn run_with<F, Fut>(mut self, mut write: F)
    where
        F: FnMut(Vec<Submission>) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let mut batch = Vec::new();
        while self.rx.recv_many(&mut batch, BATCH).await > 0 {
            write(std::mem::take(&mut batch)).await;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_writer_fails_its_pushes_instead_of_leaving_them_waiting() {
        let (writer, writer_loop) = backlog_writer();
        let mut calls = 0;
        let task = tokio::spawn(writer_loop.run_with(move |batch: Vec<Submission>| {
            calls += 1;
            let first = calls == 1;
            async move {
                if first {
                    for s in batch {
                        let _ = s.reply.send(Ok(vec![]));
                    }
                } else {
                    panic!("a bug in the backlog write");
                }
            }
        }));
        let one = [("h1", "evt_1 1", None)];
        let within = std::time::Duration::from_secs(5);
        let first = tokio::time::timeout(within, writer.push("t", one.into_iter())).await;
        assert!(matches!(first, Ok(Ok(ref refused)) if refused.is_empty()));
        // The second write panics: its caller hears of it, and so does every later one.
        let second = tokio::time::timeout(within, writer.push("t", one.into_iter())).await;
        assert!(matches!(second, Ok(Err(PushError::WriterGone))), "no hang");
        let err = task.await.expect_err("the panic reaches the task set");
        assert!(err.is_panic());
        let later = tokio::time::timeout(within, writer.push("t", one.into_iter())).await;
        assert!(matches!(later, Ok(Err(PushError::WriterGone))));
    }

    #[tokio::test]
    async fn pushes_that_come_during_a_write_go_out_together() {
        let (writer, writer_loop) = backlog_writer();
        let (sizes_tx, mut sizes) = mpsc::unbounded_channel();
        let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
        let g = gate.clone();
        tokio::spawn(writer_loop.run_with(move |batch: Vec<Submission>| {
            let (g, sizes_tx) = (g.clone(), sizes_tx.clone());
            async move {
                let _ = sizes_tx.send(batch.len());
                g.acquire().await.expect("open").forget();
                for s in batch {
                    let _ = s.reply.send(Ok(vec![]));
                }
            }
        }));
        let writer = std::sync::Arc::new(writer);
        let push = |w: std::sync::Arc<BacklogWriter>| async move {
            w.push("t", [("h", "evt 1", None)].into_iter()).await
        };
        let first = tokio::spawn(push(writer.clone()));
        assert_eq!(sizes.recv().await, Some(1));
        let rest: Vec<_> = (0..3).map(|_| tokio::spawn(push(writer.clone()))).collect();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        gate.add_permits(2);
        assert_eq!(sizes.recv().await, Some(3), "one write for the three");
        assert!(first.await.expect("joined").is_ok());
        for r in rest {
            assert!(r.await.expect("joined").is_ok());
        }
    }
}
