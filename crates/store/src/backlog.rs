//! A slow hook's backlog: the deliveries waiting for it, one list per hook. A hook that
//! hangs then costs one list entry per delivery, where a deferral through the retry set
//! costs a task and a log record; one drain task per hook works through the list.
//!
//! What keeps an entry from being stranded (in a backlog that no drain will look at):
//! - *armed* means a drain is on its way (in the retry set, in the queue, or running);
//! - a push into an armed backlog needs nothing more;
//! - to arm one, a pusher reads its disarm count, schedules a drain, then pushes with
//!   that count, and the push is refused when a drain has ended meanwhile (the retry set
//!   keeps one drain per hook, so the one that ended may have been the pusher's);
//! - a drain disarms only together with finding the backlog empty, and before it stops
//!   with entries left, it schedules the next drain.

use std::time::Duration;

use hookpost_core::task::{DrainTask, Task};
use redis::AsyncCommands;

use crate::durable::Durable;
use crate::retries::Due;
use crate::{Result, Store, StoreError};

/// A backlog entry: the delivery's event, the attempt it waits to make, and whether that
/// is a resend (made even if the delivery ended meanwhile).
pub fn entry(event_id: &str, attempt: u32, resend: bool) -> String {
    match resend {
        true => format!("{event_id} {attempt} resend"),
        false => format!("{event_id} {attempt}"),
    }
}

/// What [`entry`] made; `None` for a malformed entry.
pub fn parse_entry(entry: &str) -> Option<(&str, u32, bool)> {
    let mut parts = entry.split(' ');
    let event_id = parts.next().filter(|e| !e.is_empty())?;
    let attempt = parts.next()?.parse().ok()?;
    let resend = match parts.next() {
        None => false,
        Some("resend") => true,
        Some(_) => return None,
    };
    parts
        .next()
        .is_none()
        .then_some((event_id, attempt, resend))
}

/// Times a push that may arm a backlog is tried before giving up: each refusal means that
/// a drain ended meanwhile, which is rare even once.
pub const ARM_ROUNDS: usize = 3;

/// A parked delivery as a rebuild puts it back ([`Store::restore_backlogs`]).
#[derive(Debug, Clone, Copy)]
pub struct ParkedEntry<'a> {
    pub hook_id: &'a str,
    pub event_id: &'a str,
    /// When its hook's drain comes for it (ms).
    pub due_ms: i64,
}

/// Entries for one hook's backlog ([`Store::push_backlogs`]).
#[derive(Debug, Clone)]
pub struct BacklogPush<'a> {
    pub hook_id: &'a str,
    /// Backlog entries ([`entry`]), oldest first.
    pub entries: Vec<&'a str>,
    /// `None`: push only if the backlog is armed. `Some(n)`: arm it too, if its disarm
    /// count is still `n`, the count read before a drain was scheduled.
    pub may_arm: Option<u64>,
}

impl Store {
    /// Puts entries in hooks' backlogs, each hook's all or nothing. Returns the pushes
    /// refused (their indexes): backlogs that are not armed and may not be armed.
    pub async fn push_backlogs(
        &self,
        tenant: &str,
        pushes: &[BacklogPush<'_>],
    ) -> Result<Vec<usize>> {
        if pushes.is_empty() {
            return Ok(Vec::new());
        }
        let entries = pushes.iter().flat_map(|p| &p.entries);
        let size = (
            4 * pushes.len() + entries.clone().count(),
            entries.map(|e| e.len() + 16).sum::<usize>() + 64 * pushes.len(),
        );
        let mut key = String::new();
        let build = |cmd: &mut redis::Cmd| {
            for p in pushes {
                self.keys.backlog_into(&mut key, tenant, p.hook_id);
                cmd.arg(key.as_str());
                self.keys.backlog_state_into(&mut key, tenant, p.hook_id);
                cmd.arg(key.as_str());
            }
            for p in pushes {
                match p.may_arm {
                    Some(disarms) => cmd.arg(disarms),
                    None => cmd.arg(""),
                };
                cmd.arg(p.entries.len()).arg(&p.entries);
            }
        };
        // Lua turns an empty table into an empty array (or nil): both read as "none".
        let refused: Option<Vec<usize>> = self
            .eval(&self.scripts.backlog_push, 2 * pushes.len(), size, build)
            .await?;
        Ok(refused
            .unwrap_or_default()
            .into_iter()
            .map(|j| j - 1)
            .collect())
    }

    /// How often each hook's backlog has been disarmed (read before arming it).
    pub async fn backlog_disarms(&self, tenant: &str, hook_ids: &[&str]) -> Result<Vec<u64>> {
        let mut pipe = redis::pipe();
        for h in hook_ids {
            pipe.hget(self.keys.backlog_state(tenant, h), "disarms");
        }
        let counts: Vec<Option<u64>> = pipe.query_async(&mut self.conn()).await?;
        Ok(counts.into_iter().map(Option::unwrap_or_default).collect())
    }

    /// Schedules the hook's drain at `at_ms`, or keeps the one already due sooner.
    pub async fn schedule_drain(&self, tenant: &str, hook_id: &str, at_ms: i64) -> Result<Durable> {
        self.schedule_earliest(&Due {
            at_ms,
            task: Task::Drain(DrainTask {
                tenant: tenant.to_owned(),
                hook_id: hook_id.to_owned(),
            }),
        })
        .await
    }

    /// Takes (or renews) the lock on a hook's backlog for `lease`: `None` when `token`
    /// holds it now, else the ms until the other holder's lease ends.
    pub async fn lock_backlog(
        &self,
        tenant: &str,
        hook_id: &str,
        token: &str,
        lease: Duration,
    ) -> Result<Option<i64>> {
        let wait: i64 = self
            .scripts
            .backlog_lock
            .key(self.keys.backlog_lock(tenant, hook_id))
            .arg(token)
            .arg(lease.as_millis() as u64)
            .invoke_async(&mut self.conn())
            .await?;
        Ok((wait > 0).then_some(wait))
    }

    /// The first `n` entries of a hook's backlog.
    pub async fn backlog_head(&self, tenant: &str, hook_id: &str, n: usize) -> Result<Vec<String>> {
        let stop = n.max(1) as isize - 1;
        Ok(self
            .conn()
            .lrange(self.keys.backlog(tenant, hook_id), 0, stop)
            .await?)
    }

    /// Takes entries off a hook's backlog (each once, the oldest copy).
    pub async fn backlog_remove(
        &self,
        tenant: &str,
        hook_id: &str,
        entries: &[String],
    ) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let key = self.keys.backlog(tenant, hook_id);
        let mut pipe = redis::pipe();
        pipe.atomic();
        for e in entries {
            pipe.lrem(&key, 1, e).ignore();
        }
        let _: () = pipe.query_async(&mut self.conn()).await?;
        Ok(())
    }

    /// Ends a drain's turn: lets go of the lock, and disarms the backlog if it is empty.
    /// Returns the entries left (0: disarmed, the next push schedules a drain).
    pub async fn end_drain(&self, tenant: &str, hook_id: &str, token: &str) -> Result<u64> {
        Ok(self
            .scripts
            .backlog_end
            .key(self.keys.backlog(tenant, hook_id))
            .key(self.keys.backlog_state(tenant, hook_id))
            .key(self.keys.backlog_lock(tenant, hook_id))
            .arg(token)
            .arg(self.retention_secs)
            .invoke_async(&mut self.conn())
            .await?)
    }

    /// Puts parked deliveries back in their hooks' backlogs, in the order given, for a
    /// rebuild of Redis from the log: an entry each (their first attempts), each backlog
    /// armed with its drain scheduled at its earliest delivery's time, and their events
    /// marked done, so that a duplicate is not taken for a new event. Their payloads stay
    /// in the log, where the drain reads them, as at their first sight.
    pub async fn restore_backlogs(&self, tenant: &str, parked: &[ParkedEntry<'_>]) -> Result<()> {
        let mut hooks: Vec<(&str, Vec<String>, i64)> = Vec::new();
        let mut done = redis::pipe();
        let mut events = std::collections::HashSet::new();
        for p in parked {
            let e = entry(p.event_id, 1, false);
            match hooks.iter_mut().find(|(h, _, _)| *h == p.hook_id) {
                Some((_, entries, due)) => {
                    entries.push(e);
                    *due = (*due).min(p.due_ms);
                }
                None => hooks.push((p.hook_id, vec![e], p.due_ms)),
            }
            if events.insert(p.event_id) {
                self.restore_done(&mut done, tenant, p.event_id);
            }
        }
        if !events.is_empty() {
            let () = done.query_async(&mut self.conn()).await?;
        }
        for (hook_id, entries, due_ms) in &hooks {
            self.push_arming(tenant, hook_id, entries, *due_ms).await?;
        }
        Ok(())
    }

    /// Pushes `entries` into a hook's backlog, arming it (its drain scheduled at `due_ms`
    /// first) if it is not armed. A refusal means a drain ended meanwhile: tried again.
    async fn push_arming(
        &self,
        tenant: &str,
        hook_id: &str,
        entries: &[String],
        due_ms: i64,
    ) -> Result<()> {
        for _ in 0..ARM_ROUNDS {
            let disarms = self.backlog_disarms(tenant, &[hook_id]).await?;
            self.schedule_drain(tenant, hook_id, due_ms).await?;
            let push = BacklogPush {
                hook_id,
                entries: entries.iter().map(String::as_str).collect(),
                may_arm: disarms.first().copied(),
            };
            if self.push_backlogs(tenant, &[push]).await?.is_empty() {
                return Ok(());
            }
        }
        Err(StoreError::Corrupt(format!(
            "the backlog of hook `{hook_id}`: its drains kept ending while it was armed"
        )))
    }

    /// How many deliveries wait in a hook's backlog.
    pub async fn backlog_len(&self, tenant: &str, hook_id: &str) -> Result<u64> {
        Ok(self.conn().llen(self.keys.backlog(tenant, hook_id)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_malformed_ones_are_refused() {
        assert_eq!(
            parse_entry(&entry("evt_1", 3, false)),
            Some(("evt_1", 3, false))
        );
        assert_eq!(
            parse_entry(&entry("evt_1", 2, true)),
            Some(("evt_1", 2, true))
        );
        for bad in [
            "evt_1",
            "evt_1 x",
            " 1",
            "evt_1 1 again",
            "evt_1 1 resend x",
        ] {
            assert_eq!(parse_entry(bad), None, "{bad}");
        }
    }
}
