//! The retry set: tasks due later, spread over shards, claimed atomically by schedulers.

use hookpost_core::task::Task;
use redis::AsyncCommands;

use crate::durable::Durable;
use crate::keys::shard_of;
use crate::{Result, Store};

/// A task and when it is due.
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
    /// Due time (ms) of the oldest unclaimed entry that is due.
    pub oldest_due_ms: Option<i64>,
}

impl Store {
    /// Stores tasks in the retry set; the proof once Redis has them all.
    pub async fn schedule(&self, due: &[Due]) -> Result<Durable> {
        if due.is_empty() {
            return Ok(Durable::written());
        }
        // A pipeline may touch one slot of a cluster: one per shard there, one in all
        // on a single server.
        let cluster = self.conn.is_cluster();
        let mut pipes: std::collections::BTreeMap<u32, redis::Pipeline> = Default::default();
        for d in due {
            let shard = shard_of(d.shard_key(), self.retry_shards);
            pipes
                .entry(if cluster { shard } else { 0 })
                .or_default()
                .zadd(self.keys.retries_due(shard), d.task.to_json(), d.at_ms)
                .ignore();
        }
        for pipe in pipes.values() {
            let _: () = pipe.query_async(&mut self.conn()).await?;
        }
        Ok(Durable::written())
    }

    /// Stores one task, or keeps its earlier due time if the set holds it already (a
    /// task whose JSON is always the same, such as a hook's drain).
    pub async fn schedule_earliest(&self, due: &Due) -> Result<Durable> {
        let shard = shard_of(due.shard_key(), self.retry_shards);
        let _: () = redis::cmd("ZADD")
            .arg(self.keys.retries_due(shard))
            .arg("LT")
            .arg(due.at_ms)
            .arg(due.task.to_json())
            .query_async(&mut self.conn())
            .await?;
        Ok(Durable::written())
    }

    /// Claims up to `limit` due entries of `shard`, leasing them for `lease_ms`.
    pub async fn claim_due(&self, shard: u32, limit: usize, lease_ms: u64) -> Result<Vec<String>> {
        let claimed: Vec<String> = self
            .scripts
            .claim_retries
            .key(self.keys.retries_due(shard))
            .key(self.keys.retries_claimed(shard))
            .arg(hookpost_core::now_ms())
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
        let now = hookpost_core::now_ms();
        let mut stats = RetryStats::default();
        for shard in 0..self.retry_shards {
            let (due_size, claimed_size, due_now, oldest): (u64, u64, u64, Vec<(String, f64)>) =
                redis::pipe()
                    .zcard(self.keys.retries_due(shard))
                    .zcard(self.keys.retries_claimed(shard))
                    .zcount(self.keys.retries_due(shard), "-inf", now)
                    .zrange_withscores(self.keys.retries_due(shard), 0, 0)
                    .query_async(&mut self.conn())
                    .await?;
            stats.size += due_size + claimed_size;
            stats.due_now += due_now;
            if let Some((_, score)) = oldest.first() {
                let at = *score as i64;
                if at <= now {
                    stats.oldest_due_ms = Some(stats.oldest_due_ms.map_or(at, |o: i64| o.min(at)));
                }
            }
        }
        Ok(stats)
    }

    /// How many retries are due within each of `windows_ms` from now (overdue included).
    pub async fn due_within(&self, windows_ms: &[i64]) -> Result<Vec<u64>> {
        let now = hookpost_core::now_ms();
        let mut counts = vec![0u64; windows_ms.len()];
        for shard in 0..self.retry_shards {
            for (i, w) in windows_ms.iter().enumerate() {
                let n: u64 = self
                    .conn()
                    .zcount(self.keys.retries_due(shard), "-inf", now + w)
                    .await?;
                counts[i] += n;
            }
        }
        Ok(counts)
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
