//! The retry set: tasks due later, spread over shards, claimed atomically by schedulers.

use hookpost_core::task::Task;
use redis::AsyncCommands;

use std::collections::BTreeMap;

use crate::durable::Durable;
use crate::keys::shard_of;
use crate::{corrupt, Result, Store};

/// A task and when it is due: ms since the epoch on the caller's clock, stored as the
/// delay from now (see [`Store::schedule`]).
#[derive(Debug, Clone)]
pub struct Due {
    pub at_ms: i64,
    pub task: Task,
}

impl Due {
    fn shard_key(&self) -> &str {
        match &self.task {
            Task::Attempt(a) => &a.delivery_id,
            Task::Resume(r) => &r.event_id,
            Task::Drain(d) => &d.hook_id,
        }
    }
}

/// Size and age of the retry set.
#[derive(Debug, Clone, Copy, Default)]
pub struct RetryStats {
    pub size: u64,
    /// Due now but not yet claimed.
    pub due_now: u64,
    /// How late (ms, on Redis's clock) the oldest unclaimed entry that is due is.
    pub oldest_late_ms: Option<i64>,
}

impl Store {
    /// Stores tasks in the retry set; the proof once Redis has them all. Each is stored
    /// due as far from now on Redis's clock as its `at_ms` is from now on this machine's.
    pub async fn schedule(&self, due: &[Due]) -> Result<Durable> {
        self.schedule_with(due, "").await?;
        Ok(Durable::written())
    }

    /// Stores one task, or keeps its earlier due time if the set holds it already (a
    /// task whose JSON is always the same, such as a hook's drain).
    pub async fn schedule_earliest(&self, due: &Due) -> Result<Durable> {
        self.schedule_with(std::slice::from_ref(due), "LT").await?;
        Ok(Durable::written())
    }

    async fn schedule_with(&self, due: &[Due], mode: &str) -> Result<()> {
        if due.is_empty() {
            return Ok(());
        }
        let now = hookpost_core::now_ms();
        // A script may touch one slot of a cluster: one call per shard there, one in
        // all on a single server.
        let cluster = self.conn.is_cluster();
        let mut groups: BTreeMap<u32, BTreeMap<u32, Vec<&Due>>> = BTreeMap::new();
        for d in due {
            let shard = shard_of(d.shard_key(), self.retry_shards);
            groups
                .entry(if cluster { shard } else { 0 })
                .or_default()
                .entry(shard)
                .or_default()
                .push(d);
        }
        for shards in groups.values() {
            let tasks: Vec<(usize, i64, String)> = shards
                .values()
                .enumerate()
                .flat_map(|(i, ds)| {
                    ds.iter()
                        .map(move |d| (i + 1, d.at_ms - now, d.task.to_json()))
                })
                .collect();
            let size = (
                shards.len() + 1 + 3 * tasks.len(),
                tasks.iter().map(|t| t.2.len() + 24).sum::<usize>() + 32 * shards.len(),
            );
            let build = |cmd: &mut redis::Cmd| {
                for shard in shards.keys() {
                    cmd.arg(self.keys.retries_due(*shard));
                }
                cmd.arg(mode);
                for (key, delay, member) in &tasks {
                    cmd.arg(key).arg(delay).arg(member);
                }
            };
            let _: i64 = self
                .eval(&self.scripts.retry_schedule, shards.len(), size, build)
                .await?;
        }
        Ok(())
    }

    /// Claims up to `limit` due entries of `shard`, the longest due first, leasing them
    /// for `lease_ms`; entries claimed before whose lease ran out are claimed again.
    pub async fn claim_due(&self, shard: u32, limit: usize, lease_ms: u64) -> Result<Vec<String>> {
        let claimed: Vec<String> = self
            .scripts
            .claim_retries
            .key(self.keys.retries_due(shard))
            .key(self.keys.retries_claimed(shard))
            .arg(limit)
            .arg(lease_ms)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(claimed)
    }

    /// Forgets claimed entries once their publish is confirmed.
    pub async fn release(&self, shard: u32, members: &[String]) -> Result<()> {
        if members.is_empty() {
            return Ok(());
        }
        let _: () = self
            .conn()
            .zrem(self.keys.retries_claimed(shard), members)
            .await?;
        Ok(())
    }

    /// Size of the retry set and how late its oldest due entry is.
    pub async fn retry_stats(&self) -> Result<RetryStats> {
        let mut stats = RetryStats::default();
        for shard in 0..self.retry_shards {
            let [due_size, claimed_size, late, due_now] = self.shard_stats(shard, &[0]).await?[..]
            else {
                return Err(corrupt("retry stats", "short answer"));
            };
            stats.size += (due_size + claimed_size) as u64;
            stats.due_now += due_now as u64;
            if late >= 0 {
                stats.oldest_late_ms = Some(stats.oldest_late_ms.map_or(late, |l| l.max(late)));
            }
        }
        Ok(stats)
    }

    /// How many retries are due within each of `windows_ms` from now (overdue included).
    pub async fn due_within(&self, windows_ms: &[i64]) -> Result<Vec<u64>> {
        let mut counts = vec![0u64; windows_ms.len()];
        for shard in 0..self.retry_shards {
            let answer = self.shard_stats(shard, windows_ms).await?;
            for (count, n) in counts.iter_mut().zip(answer.iter().skip(3)) {
                *count += *n as u64;
            }
        }
        Ok(counts)
    }

    /// retry_stats.lua's answer for one shard.
    async fn shard_stats(&self, shard: u32, windows_ms: &[i64]) -> Result<Vec<i64>> {
        let answer: Vec<i64> = self
            .scripts
            .retry_stats
            .key(self.keys.retries_due(shard))
            .key(self.keys.retries_claimed(shard))
            .arg(windows_ms)
            .invoke_async(&mut self.conn())
            .await?;
        if answer.len() != 3 + windows_ms.len() {
            return Err(corrupt("retry stats", format!("{answer:?}")));
        }
        Ok(answer)
    }

    /// Every entry of the retry set with its due time (tests and `retries stats`).
    pub async fn retry_entries(&self) -> Result<Vec<(String, i64)>> {
        let mut all = Vec::new();
        for shard in 0..self.retry_shards {
            for key in [
                self.keys.retries_due(shard),
                self.keys.retries_claimed(shard),
            ] {
                let entries: Vec<(String, f64)> = self.conn().zrange_withscores(key, 0, -1).await?;
                all.extend(entries.into_iter().map(|(m, s)| (m, s as i64)));
            }
        }
        Ok(all)
    }
}
