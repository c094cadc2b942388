//! A slow hook's deliveries wait in its backlog ([`hookpost_store::backlog`]), so that a
//! hook that hangs costs the others almost nothing: one list entry per delivery, where a
//! deferral costs a retry task and a log record. Here: the push, which arms a backlog by
//! scheduling its drain first and goes to Redis with the pushes of the other events
//! handled at the same time ([`crate::backlog_writer`]). The drain, which works through
//! a backlog once the hook's slow spell ends, is the coordinator's ([`crate::drain`]).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use hookpost_ops::Metrics;
use hookpost_store::backlog::ARM_ROUNDS;
use hookpost_store::Store;

use crate::backlog_writer::{backlog_writer, BacklogWriter, PushError, WriterLoop};
use crate::disposition::Requeue;
use crate::persist::persist;

/// A push into its hook's backlog.
#[derive(Clone, Copy)]
pub(crate) struct Push<'a> {
    pub hook_id: &'a str,
    /// `<event id> <attempt>`: see [`hookpost_store::backlog::entry`].
    pub entry: &'a str,
    /// When the drain should come (ms).
    pub at_ms: i64,
}

/// Slow hooks' backlogs: which this worker saw armed, and the writer of the pushes.
pub struct Backlogs {
    store: Store,
    metrics: Arc<Metrics>,
    armed: ArmedBacklogs,
    writer: BacklogWriter,
    writer_loop: Mutex<Option<WriterLoop>>,
}

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

impl Backlogs {
    pub fn new(store: Store, metrics: Arc<Metrics>) -> Self {
        let (writer, writer_loop) = backlog_writer();
        Backlogs {
            store,
            metrics,
            armed: ArmedBacklogs::default(),
            writer,
            writer_loop: Mutex::new(Some(writer_loop)),
        }
    }

    /// The writer's loop, for the worker's task set (once).
    pub fn writer_loop(&self) -> Option<WriterLoop> {
        self.writer_loop.lock().expect("not poisoned").take()
    }

    /// Pushes into slow hooks' backlogs, arming those this worker has not seen armed.
    pub(crate) async fn push(&self, tenant: &str, pushes: &[Push<'_>]) -> Result<(), Requeue> {
        let hooks: Vec<&str> = pushes.iter().map(|p| p.hook_id).collect();
        let mut may_arm: Vec<Option<u64>> = vec![None; pushes.len()];
        let mut left: Vec<usize> = (0..pushes.len()).collect();
        let seen = self.armed.armed(tenant, &hooks);
        let mut to_arm: Vec<usize> = left.iter().copied().filter(|&i| !seen[i]).collect();
        for _ in 0..ARM_ROUNDS {
            if !to_arm.is_empty() {
                let hooks: Vec<&str> = to_arm.iter().map(|&i| pushes[i].hook_id).collect();
                let counts =
                    persist(&self.metrics, || self.store.backlog_disarms(tenant, &hooks)).await?;
                for (&i, count) in to_arm.iter().zip(counts) {
                    let Push { hook_id, at_ms, .. } = pushes[i];
                    persist(&self.metrics, || {
                        self.store.schedule_drain(tenant, hook_id, at_ms)
                    })
                    .await?;
                    may_arm[i] = Some(count);
                }
            }
            let batch = || {
                left.iter()
                    .map(|&i| (pushes[i].hook_id, pushes[i].entry, may_arm[i]))
            };
            let refused = persist(&self.metrics, || self.writer.push(tenant, batch()))
                .await
                .map_err(|e| match e {
                    PushError::Store(e) => Requeue::Store(e),
                    PushError::WriterGone => Requeue::BacklogWriterGone,
                })?;
            // Only what this worker did not know already changes its view.
            let found = left
                .iter()
                .enumerate()
                .map(|(j, &i)| (i, !refused.contains(&j)))
                .filter(|&(i, armed)| armed != seen[i] || may_arm[i].is_some())
                .map(|(i, armed)| (pushes[i].hook_id, armed));
            self.armed.update(tenant, found);
            if refused.is_empty() {
                return Ok(());
            }
            left = refused.iter().map(|&j| left[j]).collect();
            to_arm = left.clone();
        }
        Err(Requeue::BacklogDisarmed)
    }
}
