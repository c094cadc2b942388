//! The delivery log: one record per delivery (event × hook) with its attempts.
//! Every key expires after the retention; the index is trimmed on each write.

use std::collections::HashMap;

use hookpost_core::outcome::Attempt;
use redis::AsyncCommands;
use serde::Serialize;

use crate::durable::Durable;
use crate::{corrupt, Result, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not attempted yet (waiting for a slot at its hook).
    Pending,
    /// Failed; the next attempt is in the retry set.
    Retrying,
    Delivered,
    /// Failed after the whole schedule.
    Failed,
    /// Dropped because its hook was deleted or deactivated.
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Retrying => "retrying",
            Status::Delivered => "delivered",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "pending" => Status::Pending,
            "retrying" => Status::Retrying,
            "delivered" => Status::Delivered,
            "failed" => Status::Failed,
            "cancelled" => Status::Cancelled,
            _ => return None,
        })
    }

    /// Whether the delivery ended (no attempt will follow unless resent).
    pub fn is_final(self) -> bool {
        matches!(self, Status::Delivered | Status::Failed | Status::Cancelled)
    }
}

/// What [`Store::record`] wrote: the proof, and the hooks whose attempts have all
/// failed for longer than the span.
#[derive(Debug)]
pub struct Recorded {
    pub durable: Durable,
    pub failing: Vec<String>,
}

/// One delivery's new state, and the attempt that led to it if any.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    pub delivery_id: &'a str,
    pub hook_id: &'a str,
    pub kind: &'a str,
    /// The body's `hook` object, kept so every attempt sends the same body.
    pub hook_json: &'a str,
    pub status: Status,
    /// When the next attempt is due (ms), for `retrying` and `pending`.
    pub next_at: Option<i64>,
    pub attempt: Option<&'a Attempt>,
}

/// A delivery as the log shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub id: String,
    pub event_id: String,
    pub hook_id: String,
    #[serde(rename = "event")]
    pub kind: String,
    pub status: Status,
    /// Attempts made so far.
    pub attempt_count: u32,
    pub created_at: i64,
    pub updated_at: i64,
    pub next_attempt_at: Option<i64>,
    #[serde(skip)]
    pub hook_json: String,
    /// Failed for good, and its ordered hook holds the key until it is resent or skipped.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub blocking: bool,
    pub attempts: Vec<Attempt>,
}

/// One hook's deliveries over a span of the log ([`Store::hook_activity`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookActivity {
    pub attempts: u64,
    pub failed_attempts: u64,
    /// The newest delivery's status and when it last changed (ms).
    pub last: Option<(Status, i64)>,
}

impl Store {
    /// Records deliveries of one event, atomically; `event_done` also marks the event
    /// processed. Call only after everything these records promise is durable (a
    /// `retrying` record after its retry was stored, the event done after its slow hooks'
    /// deliveries were put in their backlogs).
    pub async fn record(
        &self,
        tenant: &str,
        event_id: &str,
        records: &[Record<'_>],
        event_done: bool,
        failing_span_ms: i64,
    ) -> Result<Recorded> {
        let mut inv = self.scripts.record.prepare_invoke();
        inv.key(self.keys.event(tenant, event_id))
            .key(self.keys.log(tenant))
            .key(self.keys.event_deliveries(tenant, event_id))
            .key(self.keys.hook_failing(tenant));
        inv.arg(if event_done { "1" } else { "0" })
            .arg(self.retention_secs)
            .arg(self.retention_secs * 1000)
            .arg(failing_span_ms);
        for r in records {
            inv.key(self.keys.delivery(tenant, r.delivery_id))
                .key(self.keys.attempts(tenant, r.delivery_id));
            let meta = serde_json::json!({
                "id": r.delivery_id,
                "event_id": event_id,
                "hook_id": r.hook_id,
                "type": r.kind,
                "status": r.status.as_str(),
                "next_at": r.next_at.map(|t| t.to_string()).unwrap_or_default(),
                "hook": r.hook_json,
                "attempt_no": r.attempt.map(|a| a.attempt).unwrap_or(0),
                "ok": r.attempt.is_some_and(|a| a.delivered()),
            });
            inv.arg(meta.to_string());
            inv.arg(
                r.attempt
                    .map(|a| serde_json::to_string(a).expect("attempt serialises"))
                    .unwrap_or_default(),
            );
        }
        // Lua turns an empty table into an empty array (or nil): both read as "none".
        let failing: Option<Vec<String>> = inv.invoke_async(&mut self.conn()).await?;
        Ok(Recorded {
            durable: Durable::written(),
            failing: failing.unwrap_or_default(),
        })
    }

    /// The statuses of some deliveries of a tenant (`None`: no record).
    pub async fn statuses(&self, tenant: &str, ids: &[String]) -> Result<Vec<Option<Status>>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.hget(self.keys.delivery(tenant, id), "status");
        }
        let raw: Vec<Option<String>> = pipe.query_async(&mut self.conn()).await?;
        Ok(raw
            .into_iter()
            .map(|s| s.and_then(|s| Status::parse(&s)))
            .collect())
    }

    /// One delivery with its attempts.
    pub async fn delivery(&self, tenant: &str, id: &str) -> Result<Option<Delivery>> {
        let (fields, attempts): (std::collections::HashMap<String, String>, Vec<String>) =
            redis::pipe()
                .hgetall(self.keys.delivery(tenant, id))
                .lrange(self.keys.attempts(tenant, id), 0, -1)
                .query_async(&mut self.conn())
                .await?;
        if fields.is_empty() {
            return Ok(None);
        }
        let get = |k: &str| fields.get(k).cloned().unwrap_or_default();
        let num = |k: &str| fields.get(k).and_then(|v| v.parse::<i64>().ok());
        let status = Status::parse(&get("status"))
            .ok_or_else(|| corrupt("delivery status", get("status")))?;
        let attempts = attempts
            .iter()
            .map(|a| serde_json::from_str(a).map_err(|e| corrupt("attempt", e)))
            .collect::<Result<Vec<Attempt>>>()?;
        Ok(Some(Delivery {
            id: get("id"),
            event_id: get("event_id"),
            hook_id: get("hook_id"),
            kind: get("type"),
            status,
            attempt_count: num("attempts").unwrap_or(0) as u32,
            created_at: num("created_at").unwrap_or(0),
            updated_at: num("updated_at").unwrap_or(0),
            next_attempt_at: num("next_at"),
            hook_json: get("hook"),
            blocking: get("blocking") == "1",
            attempts,
        }))
    }

    /// The hook snapshot and attempt count of a delivery, for the next attempt.
    pub async fn delivery_progress(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<Option<(String, u32, Status)>> {
        let (hook, attempts, status): (Option<String>, Option<u32>, Option<String>) =
            redis::cmd("HMGET")
                .arg(self.keys.delivery(tenant, id))
                .arg(&["hook", "attempts", "status"])
                .query_async(&mut self.conn())
                .await?;
        Ok(match (hook, status.as_deref().and_then(Status::parse)) {
            (Some(hook), Some(status)) => Some((hook, attempts.unwrap_or(0), status)),
            _ => None,
        })
    }

    /// The deliveries an event caused.
    pub async fn event_deliveries(&self, tenant: &str, event_id: &str) -> Result<Vec<Delivery>> {
        let mut ids: Vec<String> = self
            .conn()
            .smembers(self.keys.event_deliveries(tenant, event_id))
            .await?;
        ids.sort();
        let mut out = Vec::new();
        for id in ids {
            if let Some(d) = self.delivery(tenant, &id).await? {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// One page of a tenant's log, newest first: deliveries that pass `keep`, created in
    /// `range` (ms, inclusive), scanning at most 10,000 entries. `cursor` is
    /// `(created_ms, id)` of the last entry seen; the returned cursor continues after the
    /// page (None at the end of the log).
    pub async fn deliveries_page(
        &self,
        tenant: &str,
        cursor: Option<(i64, String)>,
        range: (Option<i64>, Option<i64>),
        limit: usize,
        keep: impl Fn(&Delivery) -> bool,
    ) -> Result<(Vec<Delivery>, Option<(i64, String)>)> {
        const BATCH: isize = 200;
        const SCAN_LIMIT: usize = 10_000;
        let max = match (&cursor, range.1) {
            (Some((score, _)), Some(to)) => (*score).min(to),
            (Some((score, _)), None) => *score,
            (None, Some(to)) => to,
            (None, None) => i64::MAX,
        };
        let min = range.0.unwrap_or(0);
        let mut page = Vec::new();
        let mut offset = 0isize;
        let mut scanned = 0usize;
        loop {
            let entries: Vec<(String, f64)> = redis::cmd("ZREVRANGEBYSCORE")
                .arg(self.keys.log(tenant))
                .arg(max)
                .arg(min)
                .arg("WITHSCORES")
                .arg("LIMIT")
                .arg(offset)
                .arg(BATCH)
                .query_async(&mut self.conn())
                .await?;
            if entries.is_empty() {
                return Ok((page, None));
            }
            offset += entries.len() as isize;
            for (id, score) in entries {
                let score = score as i64;
                // Entries at the cursor's own time up to the cursor were shown already
                // (equal scores come in descending id order).
                if let Some((cs, cid)) = &cursor {
                    if score == *cs && id.as_str() >= cid.as_str() {
                        continue;
                    }
                }
                scanned += 1;
                if let Some(d) = self.delivery(tenant, &id).await? {
                    if keep(&d) {
                        page.push(d);
                    }
                }
                if page.len() == limit || scanned >= SCAN_LIMIT {
                    return Ok((page, Some((score, id))));
                }
            }
        }
    }

    /// What each of a tenant's hooks saw among the deliveries created since `since_ms`,
    /// reading at most `cap` of the newest; `true` beside it when the cap cut the scan.
    pub async fn hook_activity(
        &self,
        tenant: &str,
        since_ms: i64,
        cap: usize,
    ) -> Result<(HashMap<String, HookActivity>, bool)> {
        const CHUNK: usize = 500;
        let ids: Vec<String> = redis::cmd("ZREVRANGEBYSCORE")
            .arg(self.keys.log(tenant))
            .arg("+inf")
            .arg(since_ms)
            .arg("LIMIT")
            .arg(0)
            .arg(cap + 1)
            .query_async(&mut self.conn())
            .await?;
        let truncated = ids.len() > cap;
        let mut out: HashMap<String, HookActivity> = HashMap::new();
        for chunk in ids[..ids.len().min(cap)].chunks(CHUNK) {
            let mut pipe = redis::pipe();
            for id in chunk {
                pipe.cmd("HMGET").arg(self.keys.delivery(tenant, id)).arg(&[
                    "hook_id",
                    "status",
                    "attempts",
                    "updated_at",
                ]);
            }
            type Fields = (Option<String>, Option<String>, Option<u64>, Option<i64>);
            let rows: Vec<Fields> = pipe.query_async(&mut self.conn()).await?;
            // Newest first: the first delivery seen of a hook is its latest.
            for (hook, status, attempts, updated) in rows {
                let (Some(hook), Some(status)) = (hook, status.as_deref().and_then(Status::parse))
                else {
                    continue; // expired since the index was read
                };
                let a = out.entry(hook).or_default();
                let attempts = attempts.unwrap_or(0);
                a.attempts += attempts;
                // Every attempt but a delivered delivery's last one failed.
                a.failed_attempts +=
                    attempts.saturating_sub(u64::from(status == Status::Delivered));
                a.last.get_or_insert((status, updated.unwrap_or(0)));
            }
        }
        Ok((out, truncated))
    }

    /// Newest deliveries of a tenant, newest first (ids only).
    pub async fn recent_deliveries(&self, tenant: &str, limit: usize) -> Result<Vec<String>> {
        let ids: Vec<String> = self
            .conn()
            .zrevrange(self.keys.log(tenant), 0, limit.saturating_sub(1) as isize)
            .await?;
        Ok(ids)
    }
}
